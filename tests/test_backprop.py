"""The backward pass step by step: dL/ds_t and dL/dz_t of every chain against central
differences and against a plain loop of the formula, the Jacobian norms, and the lesson's data."""

import numpy as np
import pytest

from rnncli import lesson as backprop, rnn
from rnncli.errors import RnncliError
from rnncli.tokenizer import line_tokens

from test_rnn import SHAPES, char_loop_reference, numerical_gradient, random_problem, relative_error


def dense_inputs(shape, ids, L):
    x = np.zeros((L, shape.n_inputs))
    for t in range(L):
        for i in ids[t, 0]:
            x[t, i] += 1.0
    return x


def loop_forward(params, shape, x, h=None, ds=None, dz=None):
    """The formula, one step at a time, for one sentence: each chain's states in sentence order
    (L, H) and o_t (L, n_tags). ds / dz: {(suffix, t): vector} added to s_t after the tanh /
    to z_t before it, so that central differences can be taken there."""
    ds, dz = ds or {}, dz or {}
    L, H = len(x), shape.n_hidden
    states, inputs = {}, x
    for layer in range(shape.n_layers):
        outs = []
        for d in shape.directions:
            sfx = (str(layer + 1) if layer else "") + d
            s = np.zeros(H)
            chain = np.zeros((L, H))
            for t in (range(L - 1, -1, -1) if d else range(L)):
                z = params["U" + sfx] @ inputs[t] + params["W" + sfx] @ s + params["b" + sfx]
                if h is not None and layer == 0:
                    z = z + params["P" + d] @ h[t]
                s = np.tanh(z + dz.get((sfx, t), 0.0)) + ds.get((sfx, t), 0.0)
                chain[t] = s
            states[sfx] = chain
            outs.append(chain)
        inputs = np.concatenate(outs, axis=1)
    logits = inputs @ params["V"].T + params["c"]
    o = np.exp(logits - logits.max(axis=1, keepdims=True))
    return states, o / o.sum(axis=1, keepdims=True)


def problem(name, L=5, seed=0):
    shape = SHAPES[name]
    params, ids, lengths, tags, _, types = random_problem(shape, [L], seed=seed + len(name))
    h = [char_loop_reference(params, types, types.words[t, 0]) for t in range(L)] if shape.char_hidden else None
    return shape, params, ids, lengths, tags, types, dense_inputs(shape, ids, L), h


def steps_of(shape, params, lengths, tags, types):
    trace = rnn.forward(params, shape, None, lengths, types=types)
    loss, dlogits = rnn.cross_entropy(trace, tags, total=True)
    return trace, loss, rnn.backward(params, trace, dlogits, with_steps=True)


@pytest.mark.parametrize("name", SHAPES)
def test_dL_ds_and_dL_dz_of_every_chain_match_central_differences(name):
    shape, params, ids, lengths, tags, types, x, h = problem(name)
    L = len(x)
    _, loss, grads = steps_of(shape, params, lengths, tags, types)

    def total_loss(**delta):
        _, o = loop_forward(params, shape, x, h, **delta)
        return -np.log(o[np.arange(L), tags[:, 0]]).sum()

    assert loss == pytest.approx(total_loss(), rel=1e-12)  # L is the sum over steps, not the mean
    assert list(grads["steps"]) == [sfx for _, _, sfx in shape.chains()]
    for sfx, st in grads["steps"].items():
        for where, analytic in (("ds", st.ds), ("dz", st.dz)):
            numeric = np.zeros((L, shape.n_hidden))
            for t in range(L):
                v = np.zeros(shape.n_hidden)
                numeric[t] = numerical_gradient(lambda: total_loss(**{where: {(sfx, t): v}}), v)
            assert relative_error(analytic[:, 0], numeric) < 1e-7, (sfx, where)


@pytest.mark.parametrize("name", SHAPES)
def test_the_parts_of_dL_ds_match_a_plain_loop_of_the_formula(name):
    """From above: V^T (o_t - y_t) in the top layer, the next layer's U^T dL/dz_t below it;
    through W: W^T dL/dz of the chain's next step (t+1 forward, t-1 backward)."""
    shape, params, ids, lengths, tags, types, x, h = problem(name, L=6, seed=3)
    L, H = len(x), shape.n_hidden
    states, o = loop_forward(params, shape, x, h)
    y = np.eye(shape.n_tags)[tags[:, 0]]  # (L, n_tags) one-hot targets
    expected = {}
    for layer in range(shape.n_layers - 1, -1, -1):
        for j, d in enumerate(shape.directions):
            sfx = (str(layer + 1) if layer else "") + d
            cols = slice(j * H, (j + 1) * H)
            above, through, dz = np.zeros((L, H)), np.zeros((L, H)), np.zeros((L, H))
            for t in (range(L) if d else range(L - 1, -1, -1)):  # the chain's steps, last first
                if layer == shape.n_layers - 1:
                    above[t] = params["V"][:, cols].T @ (o[t] - y[t])
                else:
                    for _, _, up in shape.chains(layer + 1):
                        above[t] += params["U" + up][:, cols].T @ expected[up][3][t]
                nxt = t - 1 if d else t + 1
                if 0 <= nxt < L:
                    through[t] = params["W" + sfx].T @ dz[nxt]
                dz[t] = (1.0 - states[sfx][t] ** 2) * (above[t] + through[t])
            expected[sfx] = (above, through, above + through, dz)
    _, _, grads = steps_of(shape, params, lengths, tags, types)
    for sfx, st in grads["steps"].items():
        for part, got, want in zip(rnn.ChainSteps._fields, st, expected[sfx]):
            np.testing.assert_allclose(got[:, 0], want, rtol=1e-10, atol=1e-14, err_msg=f"{sfx} {part}")


def test_asking_for_the_steps_leaves_the_gradients_as_training_computes_them():
    shape = SHAPES["two bidirectional layers"]
    params, ids, lengths, tags, _, _ = random_problem(shape, [6, 2, 4], seed=5)
    params = {k: v.astype(np.float32) for k, v in params.items()}
    trace = rnn.forward(params, shape, ids, lengths)
    _, dlogits = rnn.cross_entropy(trace, tags)
    plain = rnn.backward(params, trace, dlogits)
    with_steps = rnn.backward(params, trace, dlogits, with_steps=True)
    assert set(with_steps) == set(plain) | {"steps"}
    for name, g in plain.items():
        a, b = (g.rows, with_steps[name].rows) if isinstance(g, rnn.SparseRows) else (g, with_steps[name])
        assert np.array_equal(a, b), name


def test_total_cross_entropy_is_the_sum_and_its_gradient_is_o_minus_y():
    shape = SHAPES["tutorial"]
    params, ids, lengths, tags, _, _ = random_problem(shape, [4], seed=2)
    trace = rnn.forward(params, shape, ids, lengths)
    mean, _ = rnn.cross_entropy(trace, tags)
    total, dlogits = rnn.cross_entropy(trace, tags, total=True)
    assert total == pytest.approx(4 * mean, rel=1e-12)
    np.testing.assert_allclose(dlogits[:, 0], trace.probs[:, 0] - np.eye(shape.n_tags)[tags[:, 0]], atol=1e-15)


def test_the_loss_is_exact_where_the_probability_is_too_small_for_a_float():
    """-log o_t[y_t] from the scores: a tag 1000 below the best has o_t = e^-1000, which no
    float holds; its loss is 1000 all the same, not the 708 of the smallest float."""
    logits = np.array([[0.0, -1000.0, -3.0], [2.0, 1.0, 0.5]])
    tags = np.array([1, 2])
    exact = [1000 + np.log1p(np.exp(-1000) + np.exp(-3)), np.log(np.exp(2) + np.exp(1) + np.exp(0.5)) - 0.5]
    np.testing.assert_allclose(rnn.nll(logits, tags), exact, rtol=1e-13)  # exp and log differ by a few ulps between libms
    shape = SHAPES["tutorial"]
    params, ids, lengths, tags, _, _ = random_problem(shape, [4, 2], seed=3)
    trace = rnn.forward(params, shape, ids, lengths)
    gold = np.take_along_axis(trace.probs, tags[..., None], axis=2)[..., 0]
    np.testing.assert_allclose(rnn.nll(trace.logits, tags)[trace.mask], -np.log(gold[trace.mask]), rtol=1e-12)


def test_a_large_step_of_lr_shows_the_true_loss_after_it(tutorial):
    from rnncli.optim import SGD
    from rnncli.tagger import Tagger

    tagger = Tagger.load(tutorial)
    words, y = ["they", "fish"], np.array([tagger.tags.index("nn")] * 2)
    shown = backprop.backprop(tagger, words, ["nn", "nn"], lr=1000.0)["lr_step"]["loss_after"]
    params = backprop.float64(tagger.params)  # the same step by hand, p <- p - 1000 dL/dp
    types, lengths = tagger.types([words])
    trace = rnn.forward(params, tagger.shape, None, lengths, types=types)
    SGD(params).step(params, rnn.backward(params, trace, rnn.cross_entropy(trace, y[:, None], total=True)[1]), 1000.0)
    q = rnn.forward(params, tagger.shape, None, lengths, types=types).logits[:, 0]
    true = sum(np.logaddexp.reduce(q[t]) - q[t, y[t]] for t in range(len(words)))
    assert true > 2 * 709  # o_t[y_t] below the smallest float at both words
    assert shown == pytest.approx(true, rel=1e-12)


def test_jacobian_norms_match_central_differences_of_the_states():
    shape, params, ids, lengths, tags, types, x, h = problem("tutorial", L=5, seed=1)
    trace = rnn.forward(params, shape, None, lengths, types=types)
    norms = rnn.jacobian_norms(trace.states[""][:, 0], params["W"])  # ||ds_5/ds_k||
    H, last = shape.n_hidden, 4
    assert norms.shape == (5,) and norms[last] == 1.0
    for k in range(last):
        J = np.zeros((H, H))  # ds_5/ds_k, column by column
        for i in range(H):
            e = np.zeros(H)
            e[i] = 1e-6
            up = loop_forward(params, shape, x, ds={("", k): e})[0][""][last]
            down = loop_forward(params, shape, x, ds={("", k): -e})[0][""][last]
            J[:, i] = (up - down) / 2e-6
        assert norms[k] == pytest.approx(np.linalg.norm(J, 2), rel=1e-7), k


@pytest.mark.parametrize("name", SHAPES)
@pytest.mark.parametrize("L", [1, 4])
def test_the_flow_of_each_loss_matches_central_differences(name, L):
    """dL_t/ds_k, each loss term L_t = -log o_t[y_t] on its own, in every chain; they add up
    over t to dL/ds_k, the vector, as the backward pass computes it."""
    shape, params, ids, lengths, tags, types, x, h = problem(name, L=L, seed=7)
    trace, _, grads = steps_of(shape, params, lengths, tags, types)
    _, dlogits = rnn.cross_entropy(trace, tags, total=True)
    flow = rnn.loss_flow(params, trace, dlogits)
    norms = rnn.flow_norms(params, trace, dlogits, block=3)  # blocks of terms: the same numbers
    assert list(flow) == [sfx for _, _, sfx in shape.chains()]

    def term(t, **delta):
        _, o = loop_forward(params, shape, x, h, **delta)
        return -np.log(o[t, tags[t, 0]])

    for sfx, ds in flow.items():
        assert ds.shape == (L, L, shape.n_hidden)
        np.testing.assert_allclose(ds.sum(axis=1), grads["steps"][sfx].ds[:, 0], rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(norms[sfx], np.linalg.norm(ds, axis=2), rtol=1e-12, atol=1e-300)
        for t in range(L):
            for k in range(L):
                v = np.zeros(shape.n_hidden)
                numeric = numerical_gradient(lambda: term(t, ds={(sfx, k): v}), v)
                assert relative_error(ds[k, t], numeric) < 1e-7 or np.abs(numeric).max() < 1e-10, (sfx, k, t)
                if shape.n_layers == 1 and (k > t if not sfx.endswith("_bwd") else k < t):
                    assert not ds[k, t].any()  # one layer: L_t cannot depend on a later state


def test_scaling_w_is_the_network_with_every_w_scaled_by_hand():
    shape = SHAPES["characters, two bidirectional layers"]
    params, ids, lengths, tags, _, types = random_problem(shape, [5], seed=4)
    scaled = rnn.scale_recurrent(params, 0.5)
    by_hand = {k: v * 0.5 if k in ("W", "W_bwd", "W2", "W2_bwd") else v for k, v in params.items()}
    assert set(scaled) == set(by_hand)
    for k in params:
        np.testing.assert_array_equal(scaled[k], by_hand[k])
        assert scaled[k] is not params[k]  # a copy: the network itself is left as it was
    a = rnn.forward(scaled, shape, None, lengths, types=types).probs
    b = rnn.forward(by_hand, shape, None, lengths, types=types).probs
    np.testing.assert_array_equal(a, b)


# -- the lesson's data: rnncli backprop ------------------------------------------------------

def plain_backprop(path, x_ids, targets, only=None):
    """From the model file alone, with NumPy: the tutorial network's loss, dL/ds_t, dL/dz_t and
    gradient norms for one sentence, the formula written out one step at a time in float64.
    only: the loss term L_t of that step (0-based) alone instead of L."""
    import json

    with np.load(path, allow_pickle=False) as f:
        p = {k: f[k].astype(np.float64) for k in f.files if k != "metadata"}
        meta = json.loads(f["metadata"].tobytes())
    y = [meta["tags"].index(tag) for tag in targets]
    U, W, b, V, c = p["U"], p["W"], p["b"], p["V"], p["c"]
    T, H = len(x_ids), W.shape[0]
    s, o = [np.zeros(H)], []
    for t in range(T):
        x = np.zeros(U.shape[1])
        x[x_ids[t]] = 1.0
        s.append(np.tanh(U @ x + W @ s[-1] + b))
        e = np.exp(V @ s[-1] + c - (V @ s[-1] + c).max())
        o.append(e / e.sum())
    loss = [-np.log(o[t][y[t]]) for t in range(T)]
    ds, dz = [None] * T, [None] * T
    grads = {k: np.zeros_like(v) for k, v in p.items()}
    after = np.zeros(H)  # dL/dz_{t+1}
    for t in range(T - 1, -1, -1):
        err = o[t] - np.eye(len(c))[y[t]] if only in (None, t) else np.zeros(len(c))
        ds[t] = V.T @ err + W.T @ after
        dz[t] = (1 - s[t + 1] ** 2) * ds[t]
        after = dz[t]
        grads["V"] += np.outer(err, s[t + 1])
        grads["c"] += err
        grads["W"] += np.outer(dz[t], s[t])
        grads["b"] += dz[t]
        grads["U"][:, x_ids[t]] += dz[t][:, None]
    return sum(loss), loss, ds, dz, grads, p


@pytest.fixture(scope="module")
def tutorial():
    from rnncli.loader import bundled_model_path

    return bundled_model_path("tutorial")


def test_json_contract_recomputed_from_the_model_file(runner, tutorial):
    import json

    from rnncli.cli import app

    r = runner.invoke(app, ["backprop", "they/nn fish/nn", "--model", "tutorial", "--json"])
    assert r.exit_code == 0, r.stderr
    data = json.loads(r.stdout)
    assert set(data) == {"loss", "steps", "grad_norms", "flow"}
    assert [set(s) for s in data["steps"]] == [{"t", "word", "x", "target", "loss", "dL_ds", "dL_dz"}] * 2
    assert [(s["t"], s["word"], s["target"]) for s in data["steps"]] == [(1, "they", "nn"), (2, "fish", "nn")]
    loss, terms, ds, dz, grads, _ = plain_backprop(tutorial, [s["x"] for s in data["steps"]], ["nn", "nn"])
    assert data["loss"] == pytest.approx(loss, rel=1e-12) and loss > 1  # 'fish' after 'they' is a verb
    for t, step in enumerate(data["steps"]):
        assert step["loss"] == pytest.approx(terms[t], rel=1e-12)
        assert list(step["dL_ds"]) == list(step["dL_dz"]) == ["s"]
        np.testing.assert_allclose(step["dL_ds"]["s"], ds[t], rtol=1e-10, atol=1e-15)
        np.testing.assert_allclose(step["dL_dz"]["s"], dz[t], rtol=1e-10, atol=1e-15)
    assert data["grad_norms"] == pytest.approx({k: np.linalg.norm(g) for k, g in grads.items()}, rel=1e-10)
    ids = [s["x"] for s in data["steps"]]
    for t in range(2):  # flow[chain][k-1][t-1] = ||dL_t/ds_k||
        ds_t = plain_backprop(tutorial, ids, ["nn", "nn"], only=t)[2]
        assert [row[t] for row in data["flow"]["s"]] == pytest.approx([np.linalg.norm(v) for v in ds_t], rel=1e-10)
    assert data["flow"]["s"][1][0] == 0.0  # L_1 cannot depend on s_2


def test_one_gradient_step_is_p_minus_lr_times_the_gradient(tutorial):
    from rnncli.tagger import Tagger

    tagger = Tagger.load(tutorial)
    data = backprop.backprop(tagger, ["they", "fish"], ["nn", "nn"], lr=0.05)
    ids = [s["x"] for s in data["steps"]]
    step = data["lr_step"]
    # The same step by hand: every array moved against its gradient, then the loss again.
    *_, grads, p = plain_backprop(tutorial, ids, ["nn", "nn"])
    moved = {k: p[k] - 0.05 * grads[k] for k in p}
    nn = tagger.tags.index("nn")
    s, loss = np.zeros(p["W"].shape[0]), 0.0
    for t, x_ids in enumerate(ids):
        x = np.zeros(p["U"].shape[1])
        x[x_ids] = 1.0
        s = np.tanh(moved["U"] @ x + moved["W"] @ s + moved["b"])
        z = moved["V"] @ s + moved["c"]
        logp = z - z.max() - np.log(np.exp(z - z.max()).sum())
        loss -= logp[nn]
        assert step["p_after"][t] == pytest.approx(np.exp(logp[nn]), rel=1e-10)
    assert step["loss_after"] == pytest.approx(loss, rel=1e-10)
    assert step["loss_before"] == data["loss"] and step["loss_after"] < step["loss_before"]


def test_shares_of_dW_add_up_and_the_first_step_adds_nothing(tutorial):
    from rnncli.tagger import Tagger

    data = backprop.backprop(Tagger.load(tutorial), ["the", "dog", "eats", "fish"])
    assert not data["targets_given"] and [s["target"] for s in data["steps"]] == ["det", "nn", "v", "nn"]
    shares = [s["norms"]["s"]["dW_share"] for s in data["steps"]]
    assert sum(shares) == pytest.approx(1.0, rel=1e-12) and shares[0] == 0.0
    last = data["steps"][-1]["norms"]["s"]
    assert last["through_norm"] == 0.0 and last["ds_norm"] == last["above_norm"]  # nothing after the last word
    memory = data["memory"]["s"]
    assert memory["bound"][-1] == memory["ratio"][-1] == 1.0
    # The actual ratio of what reaches s_k to what left s_T never exceeds the bound ||ds_T/ds_k||.
    assert all(r <= b * (1 + 1e-12) for r, b in zip(memory["ratio"], memory["bound"]))
    assert memory["verdict"] == "neither" and memory["verdict"] == backprop.gradient_memory(
        Tagger.load(tutorial), ["the", "dog", "eats", "fish"])["s"]["verdict"]
    one = backprop.backprop(Tagger.load(tutorial), ["fish"])
    assert one["steps"][0]["norms"]["s"]["dW_share"] is None  # one word never uses W: no share to give
    assert one["memory"]["s"]["verdict"] == "too short to tell"


def test_steps_of_sgd_lower_the_loss_of_the_lessons_sentence(tutorial):
    from rnncli.tagger import Tagger

    data = backprop.backprop(Tagger.load(tutorial), ["they", "fish"], ["nn", "nn"], lr=0.05, steps=4)
    history = data["lr_step"]["history"]
    losses = [data["loss"]] + [h["loss"] for h in history]
    assert [h["step"] for h in history] == [1, 2, 3, 4]
    assert all(b < a for a, b in zip(losses, losses[1:])), losses
    assert history[-1]["p"][1] > 0.99 and data["lr_step"]["loss_after"] == history[-1]["loss"]
    first = backprop.backprop(Tagger.load(tutorial), ["they", "fish"], ["nn", "nn"], lr=0.05)["lr_step"]
    assert first["history"][0] == history[0]  # the first of N steps is the one step


def test_scale_w_in_backprop_and_unroll_is_a_network_scaled_by_hand(tutorial):
    from rnncli import explain
    from rnncli.tagger import Tagger

    words = explain.LONG_SENTENCE.split()
    tagger = Tagger.load(tutorial)
    by_hand = Tagger.load(tutorial)
    by_hand.params["W"] = by_hand.params["W"] * np.float32(2.0)
    own = backprop.sentence_loss(tagger, words)["tags"]  # the targets of plain text: the model's own tags
    assert own != backprop.sentence_loss(by_hand, words)["tags"]  # not the scaled copy's
    scaled, direct = backprop.backprop(tagger, words, scale_w=2.0), backprop.backprop(by_hand, words, own)
    assert [s["target"] for s in scaled["steps"]] == own
    assert scaled["loss"] == pytest.approx(direct["loss"], rel=1e-6)
    np.testing.assert_allclose(scaled["flow"]["s"], direct["flow"]["s"], rtol=1e-5, atol=1e-12)
    np.testing.assert_allclose([s["s"]["s"] for s in explain.unroll(tagger, words, scale_w=2.0)["steps"]],
                               [s["s"]["s"] for s in explain.unroll(by_hand, words)["steps"]], rtol=1e-6, atol=1e-7)
    # The lesson's sentence: the error fades at 0.5 and grows at 2; the network as trained is in between.
    verdicts = [backprop.backprop(tagger, words, scale_w=x)["memory"]["s"]["verdict"] for x in (0.5, None, 2.0)]
    assert verdicts == ["vanishing", "neither", "exploding"]


def test_sentence_parsing():
    tags = ["nn", "v", "det"]
    assert backprop.parse_sentence("I/nn eat/v", tags) == (["I", "eat"], ["nn", "v"])
    assert backprop.parse_sentence("a/b/nn", tags) == (["a/b"], ["nn"])  # split at the last slash
    assert backprop.parse_sentence("I eat 1/2 apples.", tags) == (line_tokens("I eat 1/2 apples."), None)
    assert backprop.parse_sentence("I eat apples.", tags, pretokenized=True) == (["I", "eat", "apples."], None)
    with pytest.raises(RnncliError) as e:
        backprop.parse_sentence("I/nn eat/VERB", tags)
    assert str(e.value) == "word 2 (eat/VERB): the model has no tag 'VERB'; its tags are nn v det"
    with pytest.raises(RnncliError) as e:
        backprop.parse_sentence("I/nn eat", tags)
    assert str(e.value) == "'I/nn' has a tag but 'eat' has none: tag every word (word/TAG) or none"
