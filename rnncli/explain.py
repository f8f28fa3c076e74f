"""Looking inside a tagger: the network unrolled over a sentence, and the model card.

Both return plain data (dicts, lists, arrays); ``render`` turns them into tables and
``--json`` prints them as they are.
"""

from __future__ import annotations

import numpy as np

from . import rnn
from .record import Training
from .tagger import Tagger
from .vocab import UNK


def layer_output(layer: int, shape: rnn.Shape) -> str:
    """The vector a layer hands upwards: s_t, or [s_t ; s_bwd_t] when bidirectional."""
    p = str(layer + 1) if layer else ""
    return f"[s{p}_t ; s{p}_bwd_t]" if shape.bidirectional else f"s{p}_t"


def formula(tagger: Tagger) -> list[str]:
    """The recurrence with this model's real dimensions: one line per chain, then the output."""
    shape = tagger.shape
    dims = shape.param_shapes()
    H = shape.n_hidden
    lines = []
    if shape.char_hidden:
        C = shape.char_hidden
        lines.append(f"h_j = tanh(Uc c_j + Wc h_{{j-1}} + bc), h = h_j at the word's last letter"
                     f"    Uc: {C} x {shape.n_chars}, Wc: {C} x {C}")
    for layer, d, sfx in shape.chains():
        x = "x_t" if layer == 0 else layer_output(layer - 1, shape)
        if layer == 0 and shape.char_hidden:
            x += f" + P{d} h"
        prev = "{t+1}" if d else "{t-1}"
        rows, cols = dims["U" + sfx]
        extra = f", P{d}: {H} x {shape.char_hidden}" if layer == 0 and shape.char_hidden else ""
        lines.append(f"s{sfx}_t = tanh(U{sfx} {x} + W{sfx} s{sfx}_{prev} + b{sfx})"
                     f"    U{sfx}: {rows} x {cols}, W{sfx}: {H} x {H}{extra}")
    lines.append(f"o_t = softmax(V {layer_output(shape.n_layers - 1, shape)} + c)"
                 f"    V: {shape.n_tags} x {shape.n_out}")
    return lines


def unroll(tagger: Tagger, words: list[str], top: int = 3, scale_w: float | None = None) -> dict:
    """Run the network over one sentence and keep every step: x_t, s_t, o_t.

    Each step also carries the tag the network would give if every recurrent term
    W s_{t-1} were dropped, so that o_t depended on x_t alone (``without_memory``).
    scale_w: run a copy of the network whose every W is multiplied by this factor.
    """
    params = tagger.params if scale_w is None else rnn.scale_recurrent(tagger.params, scale_w)
    trace = tagger.forward([words], params)
    alone = tagger.forward([words], rnn.without_memory(tagger.params))
    vocab = tagger.vocab
    steps = []
    for t, word in enumerate(words):
        active = [int(i) for i in trace.types.ids[trace.types.words[t, 0]]]
        features = [{"slot": slot, "value": value, "index": i}
                    for i in active for slot, value in [vocab.describe(i)]]
        probs = trace.probs[t, 0]
        best = np.argsort(-probs)[:top]
        read = features[0]["value"]  # the word slot's entry: the word as the network reads it
        p_alone = alone.probs[t, 0]
        steps.append({
            "t": t + 1,
            "word": word,
            "index": active[0],
            "known": vocab.is_known(word),
            "read_as": read if read not in (word, UNK) else None,  # an emoji as ':)', a word in NFC
            "x": active,
            "features": features,
            "s": {"s" + sfx: trace.hidden(sfx)[t, 0].tolist() for _, _, sfx in tagger.shape.chains()},
            "o": probs.tolist(),
            "top": [{"tag": tagger.tags[k], "p": float(probs[k])} for k in best],
            "tag": tagger.tags[int(best[0])],
            "without_memory": {"tag": tagger.tags[int(p_alone.argmax())], "p": float(p_alone.max())},
        })
    return {"words": words, "tags": tagger.tags, "formula": formula(tagger), "scale_w": scale_w,
            "n_hidden": tagger.shape.n_hidden, "steps": steps}


# A sentence of the tutorial's words, long enough for the error to fade or grow on its way back:
# the lesson's sentence for `backprop --scale-w`, and what `inspect` judges each W by.
LONG_SENTENCE = "we like to watch the fish in the park"
VANISHING, EXPLODING = 0.85, 1.15  # per step back, fitted over a sentence: below, above
SHORTEST = 4  # words a chain must read for a verdict: three steps back at least


def per_step(flow: np.ndarray, backward: bool = False) -> float | None:
    """How much the error is multiplied by per step back, fitted over a sentence: the factor r
    with ||dL_t/ds_k|| / ||dL_t/ds_t|| ~ r^d, d = |t - k| steps back, for every loss t and every
    earlier step k in the chain's reading order (later in the sentence for a backward chain).
    A least-squares fit of the logarithms through 0, so that far pairs count most. None when
    the chain has no step back to measure.

    flow: (T, T), entry [k, t] = ||dL_t/ds_k||.
    """
    T = flow.shape[0]
    k, t = np.meshgrid(np.arange(T), np.arange(T), indexing="ij")
    d = (k - t) if backward else (t - k)  # (T, T) steps back from t to k, in reading order
    own = np.diag(flow)[None, :]  # (1, T): ||dL_t/ds_t||
    use = (d > 0) & (flow > 0) & (own > 0)
    if not use.any():
        return None
    logs = np.log(flow[use] / np.broadcast_to(own, flow.shape)[use])
    return float(np.exp((d[use] * logs).sum() / (d[use] ** 2).sum()))


def verdict(rate: float | None, n_steps: int) -> str:
    """The one judgement of a chain's gradient over a sentence, from ``per_step``: 'vanishing',
    'exploding' or 'neither'; 'too short to tell' for a sentence of fewer than SHORTEST words, and
    'no error to carry' where no loss sends any error back (a model with one tag: every L_t is 0).
    ``backprop`` and ``inspect`` both judge by it, so that they never disagree."""
    if n_steps < SHORTEST:
        return "too short to tell"
    if rate is None:
        return "no error to carry"
    return "vanishing" if rate < VANISHING else "exploding" if rate > EXPLODING else "neither"


def spectral_radius(W: np.ndarray) -> float:
    return float(np.abs(np.linalg.eigvals(W.astype(np.float64))).max())


def model_card(tagger: Tagger) -> dict:
    """What a model is: its shape, size, vocabulary, tags, training record and weights."""
    shape = tagger.shape
    vocab = tagger.vocab
    record = tagger.record
    training = record.training or Training()
    weights = {}
    for name, p in tagger.params.items():
        p = p.astype(np.float64)  # a float16 table would overflow its own sum of squares
        stats = {"shape": list(p.shape), "norm": float(np.linalg.norm(p)), "mean_abs": float(np.abs(p).mean())}
        if name.startswith("W"):
            stats["spectral_radius"] = spectral_radius(p)
        weights[name] = stats
    return {
        "formula": formula(tagger),
        "shape": shape.to_dict(),
        "parameters": shape.n_params(),
        "arrays": {name: list(dims) for name, dims in shape.param_shapes().items()},
        "vocabulary": {
            "inputs": vocab.n_inputs,
            "words": len(vocab.tables["word"]) - 1,
            "slots": {slot: len(values) - 1 for slot, values in vocab.tables.items()},
            "unknown_entry": UNK,
            "examples": vocab.tables["word"][1:11],
            **({"lexicon": vocab.lexicon.to_json()} if vocab.lexicon is not None else {}),
        },
        "tags": tagger.tags,
        "tag_counts": training.tag_counts,
        "corpus": record.corpus,
        "attribution": record.attribution,
        "stored_dtype": record.stored_dtype,
        "hyper_parameters": training.hyper_parameters,
        "history": training.history,
        "best_epoch": training.best_epoch,
        "dev_accuracy": training.dev_accuracy,
        "unlearnable_dev_tags": training.unlearnable_dev_tags,
        "weights": weights,
    }
