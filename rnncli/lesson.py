"""The backward pass over one sentence, step by step: the data of ``rnncli backprop``.

Everything is computed in float64 from the model's stored weights by the same ``rnn.forward``
and ``rnn.backward`` that training uses, so that a number shown is the true one for the model
file, not a float32 approximation of it. ``render`` draws the result; ``record`` is the part
that ``--json`` prints.

The loss is the tutorial's total over the sentence, ``L = sum_t -log o_t[y_t]``, not the mean
per token that training minimises (the two differ by the factor 1/T).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import rnn
from .errors import RnncliError
from .explain import formula, layer_output, per_step, spectral_radius, verdict
from .optim import SGD  # the update rule that `train --optimizer sgd` applies
from .tagger import Tagger
from .tokenizer import line_tokens


def parse_sentence(text: str, tags: Sequence[str], pretokenized: bool = False,
                   owner: str = "the model") -> tuple[list[str], list[str] | None]:
    """Words and target tags of a sentence given as ``I/nn eat/v apple/nn`` (split at each
    token's last slash), or words and None for plain text (tokenised unless ``pretokenized``).

    A sentence is in slash format when every token is word/TAG; a token ``1/2`` in plain text
    stays a word unless all the others are tagged too. Raises RnncliError for a tag that is
    not among ``tags`` (those of ``owner``), and for a sentence where some words carry one of
    ``tags`` and others carry none.
    """
    tokens = text.split()
    parts = [tok.rpartition("/") for tok in tokens]
    tagged = [bool(sep and word and tag) for word, sep, tag in parts]
    known = set(tags)
    if tokens and all(tagged):
        for n, (word, _, tag) in enumerate(parts, 1):
            if tag not in known:
                raise RnncliError(f"word {n} ({word}/{tag}): {owner} has no tag {tag!r}; "
                                  f"its tags are {' '.join(tags)}")
        return [w for w, _, _ in parts], [t for _, _, t in parts]
    some = next((tok for tok, ok, (_, _, tag) in zip(tokens, tagged, parts) if ok and tag in known), None)
    if some is not None:
        bare = next(tok for tok, ok in zip(tokens, tagged) if not ok)
        raise RnncliError(f"{some!r} has a tag but {bare!r} has none: tag every word (word/TAG) or none")
    return (tokens if pretokenized else line_tokens(text)), None


def float64(params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The model's arrays widened to float64 (exactly), lookup tables kept column-major."""
    return {k: np.asfortranarray(v, np.float64) if k in rnn.LOOKUPS else np.ascontiguousarray(v, np.float64)
            for k, v in params.items()}


def _norm(a) -> float:
    a = a.rows if isinstance(a, rnn.SparseRows) else a  # distinct columns: the same norm as the dense array
    return float(np.linalg.norm(a))


def _run(tagger: Tagger, params: dict[str, np.ndarray], words: list[str], targets: np.ndarray | None):
    """Forward pass and loss: (trace, target ids (T,), per-step -log o_t[y_t] (T,), L, dL/dlogits)."""
    types, lengths = tagger.types([words])
    trace = rnn.forward(params, tagger.shape, None, lengths, types=types)
    probs = trace.probs[:, 0]  # (T, n_tags)
    y = probs.argmax(axis=1) if targets is None else targets  # (T,)
    loss, dlogits = rnn.cross_entropy(trace, y[:, None], total=True)
    terms = rnn.nll(trace.logits[:, 0], y)  # (T,)
    return trace, y, terms, loss, dlogits


def sentence_loss(tagger: Tagger, words: list[str], targets: list[str] | None = None) -> dict:
    """The network's tags for one sentence and its loss L against ``targets`` (None: its own tags)."""
    index = {t: i for i, t in enumerate(tagger.tags)}
    y = None if targets is None else np.array([index[t] for t in targets])
    trace, y, terms, loss, _ = _run(tagger, float64(tagger.params), words, y)
    predicted = trace.probs[:, 0].argmax(axis=1)
    return {"tags": [tagger.tags[k] for k in predicted], "loss": loss, "terms": terms.tolist(),
            "targets": [tagger.tags[k] for k in y]}


def _chain_name(sfx: str) -> str:
    return "s" + sfx


def chains(shape: rnn.Shape) -> list[dict]:
    """Every chain with what the two parts of its dL/ds_t are, in the tutorial's notation."""
    H = shape.n_hidden
    out = []
    for layer, d, sfx in shape.chains():
        j = shape.directions.index(d)
        cols = f"[:, {j * H}:{(j + 1) * H}]" if shape.bidirectional else ""
        if layer == shape.n_layers - 1:
            above = f"V{cols}^T (o_t - y_t)"
        else:
            above = " + ".join(f"U{up}{cols}^T dL/dz{up}_t" for _, _, up in shape.chains(layer + 1))
        step = "t-1" if d else "t+1"
        out.append({"name": _chain_name(sfx), "suffix": sfx, "layer": layer + 1, "top": layer == shape.n_layers - 1,
                    "direction": "backward" if d else "forward", "above": above,
                    "through": f"W{sfx}^T dL/dz{sfx}_{{{step}}}", "next": step})
    return out


def backward_formula(shape: rnn.Shape) -> dict[str, list[str]]:
    """The backward pass in the tutorial's notation with the real dimensions, in the order a
    learner builds it up: the loss, the error at the output, back to each chain's state, and
    the gradients of the arrays."""
    H, n_tags, n_out = shape.n_hidden, shape.n_tags, shape.n_out
    top = layer_output(shape.n_layers - 1, shape)
    out = {
        "loss": ["L_t = -log o_t[y_t]    L = sum_t L_t"],
        "output": [f"q_t = V {top} + c    ({n_tags}): the scores, so that o_t = softmax(q_t)",
                   "L_t = -q_t[y_t] + log sum_j exp(q_t[j])",
                   "dL_t/dq_t[j] = -y_t[j] + exp(q_t[j]) / sum_i exp(q_t[i]) = o_t[j] - y_t[j]"],
        "state": [], "params": [],
    }
    info = {c["suffix"]: c for c in chains(shape)}
    for _, _, sfx in reversed(shape.chains()):
        c = info[sfx]
        out["state"].append(f"dL/ds{sfx}_t = {c['above']}  +  {c['through']}    ({H})")
    out["state"].append(f"dL/dz_t = (1 - s_t^2) * dL/ds_t    ({H}), elementwise:")
    out["state"].append("    the tanh's slope, since tanh'(z) = 1 - tanh(z)^2")
    out["params"].append(f"dL/dV = sum_t (o_t - y_t) {top}^T    dL/dc = sum_t (o_t - y_t)    V: {n_tags} x {n_out}")
    dims = shape.param_shapes()
    for layer, d, sfx in shape.chains():
        prev = "t+1" if d else "t-1"
        if layer == 0:
            x, note = "x_t", " (only the columns x_t selects)"
        else:
            x, note = layer_output(layer - 1, shape), ""
        rows, cols = dims["U" + sfx]
        out["params"].append(f"dL/dW{sfx} = sum_t dL/dz{sfx}_t s{sfx}_{{{prev}}}^T    "
                             f"dL/db{sfx} = sum_t dL/dz{sfx}_t    W{sfx}: {H} x {H}")
        out["params"].append(f"dL/dU{sfx} = sum_t dL/dz{sfx}_t {x}^T{note}    U{sfx}: {rows} x {cols}")
    if shape.char_hidden:
        dirs = " + ".join(f"P{d}^T dL/dz{d}_t" for d in shape.directions)
        out["params"].append(f"dL/dP = sum_t dL/dz_t h_t^T (h_t: word t's spelling); a word's dL/dh = sum of "
                             f"{dirs} over its steps, then the same backward pass through its letters gives "
                             f"Uc, Wc, bc")
    return out


def backprop(tagger: Tagger, words: list[str], targets: list[str] | None = None, lr: float | None = None,
             steps: int = 1, scale_w: float | None = None) -> dict:
    """The loss of one sentence and its backward pass, every step and every chain.

    targets: one tag per word (gold); None uses the model's own predictions (with ``scale_w``,
    those of the model as it is, not of the scaled copy).
    lr: also take ``steps`` plain gradient steps of this size on a copy of the network and
    report the loss and o_t[y_t] after each.
    scale_w: work on a copy of the network whose every W is multiplied by this factor.
    """
    shape = tagger.shape
    params = float64(tagger.params)
    index = {t: i for i, t in enumerate(tagger.tags)}
    y = None if targets is None else np.array([index[t] for t in targets])
    if scale_w is not None:
        if y is None:  # the model's own tags, not the scaled copy's: the same targets at every scale
            y = _run(tagger, params, words, None)[1]
        params = rnn.scale_recurrent(params, scale_w)
    trace, y, terms, loss, dlogits = _run(tagger, params, words, y)
    grads = rnn.backward(params, trace, dlogits, with_steps=True)
    per_chain = _per_chain(shape, trace, grads.pop("steps"), grads)
    probs = trace.probs[:, 0]  # (T, n_tags)
    flow = rnn.flow_norms(params, trace, dlogits)  # suffix -> (T, T), [k, t] = ||dL_t/ds_k||
    data = {
        "words": words, "tags": tagger.tags, "targets_given": targets is not None, "scale_w": scale_w,
        "formula": formula(tagger), "backward": backward_formula(shape), "chains": chains(shape),
        "loss": float(loss), "steps": _steps(tagger, trace, words, y, terms, probs, per_chain),
        "grad_norms": {name: _norm(grads[name]) for name in shape.param_shapes()},
        "shapes": {name: list(dims) for name, dims in shape.param_shapes().items()},
        "flow": {_chain_name(sfx): f.tolist() for sfx, f in flow.items()},
        "memory": _memory(shape, params, trace, flow),
    }
    if lr is not None:
        data["lr_step"] = _descend(tagger, params, grads, words, y, lr, steps, loss, probs)
    return data


def _per_chain(shape: rnn.Shape, trace, steps_by_chain: dict, grads: dict) -> dict:
    """Each chain's dL/ds_t and dL/dz_t, the norms of dL/ds_t's two parts, and each step's share
    of dL/dW (None when dL/dW is 0: a one-word sentence never uses W)."""
    per_chain = {}
    for c in chains(shape):
        sfx = c["suffix"]
        st = steps_by_chain[sfx]
        dW = grads["W" + sfx]  # (H, H) = sum_t dL/dz_t s_{t-1}^T
        prev = trace.previous(sfx)[:, 0]  # (T, H): the state W multiplied at each step
        dz = st.dz[:, 0]  # (T, H)
        total_sq = float(np.vdot(dW, dW))
        # Step t's term of dL/dW is the outer product dz_t s_{t-1}^T; measured along dL/dW,
        # <dz_t s_{t-1}^T, dW> / ||dW||^2, the terms' shares add up to 1.
        share = np.einsum("ti,ij,tj->t", dz, dW, prev) / total_sq if total_sq else [None] * len(dz)
        per_chain[c["name"]] = {
            "ds": st.ds[:, 0], "dz": dz,
            "ds_norm": np.linalg.norm(st.ds[:, 0], axis=1), "above_norm": np.linalg.norm(st.above[:, 0], axis=1),
            "through_norm": np.linalg.norm(st.through[:, 0], axis=1), "dW_share": share,
        }
    return per_chain


def _steps(tagger: Tagger, trace, words, y, terms, probs, per_chain: dict) -> list[dict]:
    ids = trace.types.ids
    out = []
    for t, word in enumerate(words):
        k = int(y[t])
        out.append({
            "t": t + 1, "word": word, "known": tagger.vocab.is_known(word),
            "x": [int(i) for i in ids[trace.types.words[t, 0]]],
            "target": tagger.tags[k], "loss": float(terms[t]), "p_target": float(probs[t, k]),
            "predicted": tagger.tags[int(probs[t].argmax())], "p_predicted": float(probs[t].max()),
            "s": {n: trace.hidden(sfx)[t, 0].tolist() for _, _, sfx in tagger.shape.chains() for n in [_chain_name(sfx)]},
            "dL_ds": {n: v["ds"][t].tolist() for n, v in per_chain.items()},
            "dL_dz": {n: v["dz"][t].tolist() for n, v in per_chain.items()},
            "norms": {n: {key: None if v[key][t] is None else float(v[key][t])
                          for key in ("ds_norm", "above_norm", "through_norm", "dW_share")}
                      for n, v in per_chain.items()},
        })
    return out


def _memory(shape: rnn.Shape, params: dict, trace, flow: dict) -> dict:
    """For each chain: how the error of the loss at its last step (in its reading order) fades
    or grows on the way back, the actual ratio ||dL_t/ds_k|| / ||dL_t/ds_t|| at each step k,
    and, in the top layer, where L_t reaches s_k through s_t alone, the bound ||ds_t/ds_k||
    beside it; the fitted factor per step and the verdict; W's two sizes."""
    out = {}
    for layer, direction, sfx in shape.chains():
        f = flow[sfx]  # (T, T)
        T = f.shape[0]
        last = 0 if direction else T - 1  # the chain's last step, in sentence order
        own = f[last, last]
        bound = None
        if layer == shape.n_layers - 1:
            bound = rnn.jacobian_norms(trace.states[sfx][:, 0], params["W" + sfx])  # processing order
            bound = (bound[::-1] if direction else bound).tolist()
        rate = per_step(f, bool(direction))
        W = params["W" + sfx]
        out[_chain_name(sfx)] = {
            "last": last + 1, "ratio": (f[:, last] / own if own > 0 else np.zeros(T)).tolist(), "bound": bound,
            "per_step": rate, "verdict": verdict(rate, T),
            "spectral_radius": spectral_radius(W), "largest_singular_value": float(np.linalg.norm(W, 2)),
        }
    return out


def gradient_memory(tagger: Tagger, words: list[str]) -> dict:
    """Each chain's verdict on one sentence (targets: the network's own tags), as ``backprop``
    gives it: what ``inspect`` reports for W."""
    # The lookup tables stay as stored: the forward pass sums their columns in float64 anyway,
    # and a copy of the English model's in float64 would cost more than the whole pass.
    params = {k: v if k in rnn.LOOKUPS else np.asarray(v, np.float64) for k, v in tagger.params.items()}
    trace, _, _, _, dlogits = _run(tagger, params, words, None)
    flow = rnn.flow_norms(params, trace, dlogits)
    return {name: {k: m[k] for k in ("per_step", "verdict", "spectral_radius", "largest_singular_value")}
            for name, m in _memory(tagger.shape, params, trace, flow).items()}


def _descend(tagger, params, grads, words, y, lr, steps, loss, probs) -> dict:
    """``steps`` plain gradient steps p <- p - lr dL/dp on every array of a copy of the network,
    each with the gradient at the copy as it then is; the loss and o_t[y_t] after each."""
    rows = np.arange(len(y))
    after = {k: v.copy(order="K") for k, v in params.items()}
    sgd = SGD(after)
    history = []
    for n in range(1, steps + 1):
        sgd.step(after, {k: grads[k] for k in after}, lr)
        trace, _, _, loss_after, dlogits = _run(tagger, after, words, y)
        probs_after = trace.probs[:, 0]  # (T, n_tags)
        history.append({"step": n, "loss": float(loss_after), "p": probs_after[rows, y].tolist()})
        if n < steps:
            grads = rnn.backward(after, trace, dlogits)
    return {"lr": lr, "steps": steps, "loss_before": float(loss), "loss_after": history[-1]["loss"],
            "p_before": probs[rows, y].tolist(), "p_after": history[-1]["p"], "history": history,
            "predicted_after": [tagger.tags[k] for k in probs_after.argmax(axis=1)]}


def record(data: dict) -> dict:
    """What ``backprop --json`` prints: ``loss``, ``steps``, ``grad_norms`` and ``flow``,
    flow[chain][k-1][t-1] = ||dL_t/ds_k|| (and ``lr_step`` when steps were taken)."""
    keys = ("t", "word", "x", "target", "loss", "dL_ds", "dL_dz")
    out = {"loss": data["loss"], "steps": [{k: s[k] for k in keys} for s in data["steps"]],
           "grad_norms": data["grad_norms"], "flow": data["flow"]}
    if "lr_step" in data:
        out["lr_step"] = data["lr_step"]
    return out
