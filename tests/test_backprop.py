"""The backward pass step by step: dL/ds_t and dL/dz_t of every chain against central
differences and against a plain loop of the formula, the Jacobian norms, and the lesson's data."""

import numpy as np
import pytest

from rnncli import rnn

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
    params, ids, lengths, tags, _, lexicon = random_problem(shape, [L], seed=seed + len(name))
    h = [char_loop_reference(params, lexicon, lexicon.words[t, 0]) for t in range(L)] if shape.char_hidden else None
    return shape, params, ids, lengths, tags, lexicon, dense_inputs(shape, ids, L), h


def steps_of(shape, params, lengths, tags, lexicon):
    trace = rnn.forward(params, shape, None, lengths, lexicon=lexicon)
    loss, dlogits = rnn.cross_entropy(trace, tags, total=True)
    return trace, loss, rnn.backward(params, trace, dlogits, with_steps=True)


@pytest.mark.parametrize("name", SHAPES)
def test_dL_ds_and_dL_dz_of_every_chain_match_central_differences(name):
    shape, params, ids, lengths, tags, lexicon, x, h = problem(name)
    L = len(x)
    _, loss, grads = steps_of(shape, params, lengths, tags, lexicon)

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
    shape, params, ids, lengths, tags, lexicon, x, h = problem(name, L=6, seed=3)
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
    _, _, grads = steps_of(shape, params, lengths, tags, lexicon)
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


def test_jacobian_norms_match_central_differences_of_the_states():
    shape, params, ids, lengths, tags, lexicon, x, h = problem("tutorial", L=5, seed=1)
    trace = rnn.forward(params, shape, None, lengths, lexicon=lexicon)
    norms = rnn.jacobian_norms(trace.states[""][:, 0], params["W"])
    H = shape.n_hidden
    for k in range(5):
        for t in range(5):
            if t < k:
                assert np.isnan(norms[t, k])
                continue
            J = np.zeros((H, H))  # ds_t/ds_k, column by column
            for i in range(H):
                e = np.zeros(H)
                e[i] = 1e-6
                up = loop_forward(params, shape, x, ds={("", k): e})[0][""][t]
                down = loop_forward(params, shape, x, ds={("", k): -e})[0][""][t]
                J[:, i] = (up - down) / 2e-6
            assert norms[t, k] == pytest.approx(np.linalg.norm(J, 2), rel=1e-7), (t, k)
