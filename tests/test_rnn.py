"""The math: BPTT against central differences, the vectorised forward against a plain loop."""

import numpy as np
import pytest

from rnncli import rnn

SHAPES = {
    "tutorial": rnn.Shape(n_inputs=9, n_hidden=5, n_tags=4),
    "bidirectional": rnn.Shape(n_inputs=9, n_hidden=4, n_tags=3, bidirectional=True),
    "two layers": rnn.Shape(n_inputs=8, n_hidden=4, n_tags=3, n_layers=2),
    "two bidirectional layers": rnn.Shape(n_inputs=8, n_hidden=3, n_tags=3, bidirectional=True, n_layers=2),
    "characters": rnn.Shape(n_inputs=9, n_hidden=4, n_tags=3, n_chars=6, char_hidden=3),
    "characters, two bidirectional layers": rnn.Shape(n_inputs=8, n_hidden=3, n_tags=3, bidirectional=True,
                                                      n_layers=2, n_chars=5, char_hidden=2),
}


def random_problem(shape, lengths, seed, K=3, n_words=6):
    """Parameters, token ids (T, B, K), lengths, tags, the generator, and the word types of the
    n_words distinct words the tokens are drawn from (with letters for a character RNN)."""
    rng = np.random.default_rng(seed)
    params = rnn.init_params(shape, rng, dtype=np.float64)
    for p in params.values():  # biases and all: move away from the zero initialisation
        p += rng.normal(0.0, 0.3, p.shape)
    T, B = max(lengths), len(lengths)
    word_ids = rng.integers(0, shape.n_inputs, size=(n_words, K))
    words = rng.integers(0, n_words, size=(T, B))
    ids = word_ids[words]  # (T, B, K)
    tags = rng.integers(0, shape.n_tags, size=(T, B))
    letters = n_letters = None
    if shape.char_hidden:  # words of 1 to 4 letters
        n_letters = rng.integers(1, 5, size=n_words)
        letters = rng.integers(0, shape.n_chars, size=(int(n_letters.max()), n_words))
    types = rnn.WordTypes(words, word_ids, letters, n_letters)
    return params, ids, np.array(lengths), tags, rng, types


def by_token(types):
    """The same batch read token by token: the word types keep only what the letters need."""
    return types._replace(ids=None) if types.chars is not None else None


def numerical_gradient(f, x, h=1e-5):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        up = f()
        x[i] = old - h
        down = f()
        x[i] = old
        g[i] = (up - down) / (2 * h)
    return g


def relative_error(a, b):
    return np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300)


@pytest.mark.parametrize("name", SHAPES)
@pytest.mark.parametrize("lengths", [[5, 5, 5], [6, 2, 4, 1]], ids=["no padding", "padding"])
@pytest.mark.parametrize("with_s0", [False, True], ids=["s0=0", "s0 random"])
@pytest.mark.parametrize("per_word", [False, True], ids=["U x per token", "U x per word"])
def test_bptt_matches_central_differences(name, lengths, with_s0, per_word):
    shape = SHAPES[name]
    params, ids, lengths, tags, rng, types = random_problem(shape, lengths, seed=len(name) + len(lengths))
    s0 = rng.normal(0, 0.5, size=(len(lengths), shape.n_hidden)) if with_s0 else None
    ids, types = (None, types) if per_word else (ids, by_token(types))

    def loss():
        return rnn.cross_entropy(rnn.forward(params, shape, ids, lengths, types=types, s0=s0), tags)[0]

    _, grads = rnn.loss_and_grads(params, shape, ids, lengths, tags, types=types, s0=s0, with_s0=True)
    assert set(grads) == set(params) | {"s0"}
    for name_, p in params.items():
        g = grads[name_]
        analytic = g.to_dense(p.shape) if isinstance(g, rnn.SparseRows) else g
        assert relative_error(analytic, numerical_gradient(loss, p)) < 1e-6, name_
    if with_s0:
        assert relative_error(grads["s0"], numerical_gradient(loss, s0)) < 1e-6


@pytest.mark.parametrize("name", ["two bidirectional layers", "characters, two bidirectional layers"])
def test_padding_does_not_change_real_steps(name):
    shape = SHAPES[name]
    params, ids, lengths, tags, _, types = random_problem(shape, [4, 2], seed=3)
    types = by_token(types)
    alone_lexicon = types and types._replace(words=types.words[:2, 1:])
    alone = rnn.forward(params, shape, ids[:2, 1:], np.array([2]), types=alone_lexicon).probs[:, 0]
    ids_padded = ids.copy()
    ids_padded[2:, 1] = 7  # change what sits in the padding
    if types:
        words = types.words.copy()
        words[2:, 1] = 4
        letters = types.chars.copy()
        for w in range(letters.shape[1]):
            letters[types.lengths[w]:, w] = 1  # and after each word's last letter
        types = types._replace(words=words, chars=letters)
    batch = rnn.forward(params, shape, ids_padded, lengths, types=types).probs[:2, 1]
    np.testing.assert_allclose(batch, alone, rtol=0, atol=1e-14)


def char_loop_reference(params, types, w):
    """h of word w: h_j = tanh(Uc c_j + Wc h_{j-1} + bc) over its letters, one-hot c_j."""
    h = np.zeros(params["Wc"].shape[0])
    for j in range(types.lengths[w]):
        c = np.zeros(params["Uc"].shape[1])
        c[types.chars[j, w]] = 1.0
        h = np.tanh(params["Uc"] @ c + params["Wc"] @ h + params["bc"])
    return h


def loop_reference(params, shape, ids, lengths, types):
    """The tutorial's formula, one sentence and one step at a time, with dense x_t."""
    H = shape.n_hidden
    out = []
    for b, L in enumerate(lengths):
        x = np.zeros((L, shape.n_inputs))
        for t in range(L):
            for i in ids[t, b]:
                x[t, i] += 1.0  # x_t: one 1 per active word or feature
        inputs = x
        h = [char_loop_reference(params, types, types.words[t, b]) for t in range(L)] if shape.char_hidden else None
        for layer in range(shape.n_layers):
            states = []
            for d in shape.directions:
                sfx = (str(layer + 1) if layer else "") + d
                U, W, bias = params["U" + sfx], params["W" + sfx], params["b" + sfx]
                s = np.zeros(H)
                chain = np.zeros((L, H))
                steps = range(L - 1, -1, -1) if d == "_bwd" else range(L)
                for t in steps:
                    z = U @ inputs[t] + W @ s + bias
                    if h and layer == 0:
                        z += params["P" + d] @ h[t]  # the word's spelling, from the character RNN
                    s = np.tanh(z)
                    chain[t] = s
                states.append(chain)
            inputs = np.concatenate(states, axis=1)
        logits = inputs @ params["V"].T + params["c"]
        o = np.exp(logits - logits.max(axis=1, keepdims=True))
        out.append(o / o.sum(axis=1, keepdims=True))
    return out


@pytest.mark.parametrize("name", SHAPES)
@pytest.mark.parametrize("per_word", [False, True], ids=["U x per token", "U x per word"])
def test_vectorised_forward_matches_step_by_step_loop(name, per_word):
    shape = SHAPES[name]
    params, ids, lengths, _, _, types = random_problem(shape, [7, 3, 5, 1], seed=11)
    if per_word:
        probs = rnn.forward(params, shape, None, lengths, types=types).probs
    else:
        probs = rnn.forward(params, shape, ids, lengths, types=by_token(types)).probs
    for b, expected in enumerate(loop_reference(params, shape, ids, lengths, types)):
        np.testing.assert_allclose(probs[: lengths[b], b], expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", SHAPES)
def test_tagging_path_matches_step_by_step_loop(name):
    """rnn.forward's lean way, tagging's (keep=False: sentences of one length, backward chains
    run in reverse, inputs once per word), against the plain loop of the formula."""
    shape = SHAPES[name]
    params, ids, lengths, _, _, types = random_problem(shape, [6, 6, 6], seed=12)
    scores = rnn.forward(params, shape, None, None, types=rnn.WordTypes(types.words),
                         per_word=rnn.word_inputs(params, shape, types), keep=False).logits  # (T, B, n_tags)
    for b, expected in enumerate(loop_reference(params, shape, ids, lengths, types)):
        np.testing.assert_allclose(rnn.softmax(scores[:, b]), expected, rtol=1e-12, atol=1e-14)


def test_float32_by_default_and_float64_on_request():
    shape = SHAPES["tutorial"]
    p32 = rnn.init_params(shape, np.random.default_rng(0))
    p64 = rnn.init_params(shape, np.random.default_rng(0), dtype=np.float64)
    assert all(p.dtype == np.float32 for p in p32.values())
    assert all(p.dtype == np.float64 for p in p64.values())
    ids = np.zeros((2, 1, 1), dtype=np.int64)
    assert rnn.forward(p32, shape, ids, [2]).probs.dtype == np.float32
    # Same draws: float32 is the float64 initialisation rounded.
    np.testing.assert_allclose(p32["W"], p64["W"], rtol=1e-6)


def test_input_table_is_column_major_so_a_column_is_contiguous():
    U = rnn.init_params(SHAPES["tutorial"], np.random.default_rng(0))["U"]
    assert U.flags.f_contiguous and U.T[3].flags.c_contiguous


def test_without_memory_is_a_feedforward_net_of_x_t():
    shape = SHAPES["tutorial"]
    params, ids, lengths, _, _, chars = random_problem(shape, [4], seed=5)
    probs = rnn.forward(rnn.without_memory(params), shape, ids, lengths).probs[:, 0]
    for t in range(4):
        x = np.zeros(shape.n_inputs)
        np.add.at(x, ids[t, 0], 1.0)
        logits = params["V"] @ np.tanh(params["U"] @ x + params["b"]) + params["c"]
        expected = np.exp(logits - logits.max())
        np.testing.assert_allclose(probs[t], expected / expected.sum(), rtol=1e-12)


def test_sparse_rows_sums_repeated_indices():
    ids = np.array([[2, 0], [2, 5]])
    g = np.array([[1.0, 2.0], [10.0, 20.0]])
    rows = rnn.sparse_rows(ids, g)
    assert rows.index.tolist() == [0, 2, 5]
    np.testing.assert_array_equal(rows.rows, [[1, 2], [11, 22], [10, 20]])


def test_cross_entropy_ignores_padding():
    shape = SHAPES["tutorial"]
    params, ids, lengths, tags, _, chars = random_problem(shape, [3, 1], seed=2)
    trace = rnn.forward(params, shape, ids, lengths)
    loss, dlogits = rnn.cross_entropy(trace, tags)
    real = [(t, 0) for t in range(3)] + [(0, 1)]
    expected = -np.mean([np.log(trace.probs[t, b, tags[t, b]]) for t, b in real])
    assert loss == pytest.approx(expected, rel=1e-12)
    assert not dlogits[1:, 1].any()


@pytest.mark.parametrize("name", SHAPES)
@pytest.mark.parametrize("per_word", [False, True], ids=["U x per token", "U x per word"])
def test_gradient_at_the_inputs_matches_central_differences(name, per_word):
    """Adversarial training needs dL/d(U x_t); check it, with a perturbation already applied."""
    shape = SHAPES[name]
    params, ids, lengths, tags, rng, types = random_problem(shape, [5, 2, 4], seed=7 + len(name))
    ids, types = (None, types) if per_word else (ids, by_token(types))
    perturb = {sfx: rng.normal(0.0, 0.3, (5, 3, shape.n_hidden)) for _, _, sfx in shape.chains(0)}

    def loss():
        trace = rnn.forward(params, shape, ids, lengths, types=types, perturb=perturb)
        return rnn.cross_entropy(trace, tags)[0]

    _, grads = rnn.loss_and_grads(params, shape, ids, lengths, tags, types=types, perturb=perturb,
                                  with_inputs=True)
    for sfx, r in perturb.items():
        assert relative_error(grads["Ux" + sfx], numerical_gradient(loss, r)) < 1e-6, sfx
    for name_, p in params.items():  # the parameters' gradients are those of the perturbed loss
        g = grads[name_]
        analytic = g.to_dense(p.shape) if isinstance(g, rnn.SparseRows) else g
        assert relative_error(analytic, numerical_gradient(loss, p)) < 1e-6, name_


def test_adversarial_perturbation_has_the_promised_size_and_direction():
    shape = SHAPES["two bidirectional layers"]
    params, ids, lengths, tags, _, _ = random_problem(shape, [6, 2, 4, 1], seed=3)
    _, grads = rnn.loss_and_grads(params, shape, ids, lengths, tags, with_inputs=True)
    g = {sfx: grads["Ux" + sfx].copy() for _, _, sfx in shape.chains(0)}
    r = rnn.adversarial_perturbation(grads, shape, lengths, epsilon=0.5)
    assert not any(k.startswith("Ux") for k in grads)  # taken out, so the optimiser never sees them
    sq = sum((v ** 2).sum(axis=(0, 2)) for v in r.values())  # (B,) squared norm per sentence
    np.testing.assert_allclose(sq, 0.5 ** 2 * lengths)  # a token's share: epsilon on average
    gnorm = np.sqrt(sum((v ** 2).sum(axis=(0, 2)) for v in g.values()))  # (B,)
    for sfx in r:
        assert np.all(r[sfx][~(np.arange(6)[:, None] < lengths)] == 0)  # nothing at padding
        # Each sentence's perturbation is its gradient, scaled by one positive number.
        np.testing.assert_allclose(r[sfx] * gnorm[:, None], g[sfx] * (0.5 * np.sqrt(lengths))[:, None])
    # Along the gradient, a small step raises the loss by about the step times the gradient norm.
    base = rnn.cross_entropy(rnn.forward(params, shape, ids, lengths), tags)[0]
    tiny = {k: v * 1e-4 for k, v in r.items()}
    up = rnn.cross_entropy(rnn.forward(params, shape, ids, lengths, perturb=tiny), tags)[0]
    expected = sum(np.vdot(tiny[k], g[k]) for k in g)
    assert up > base and abs((up - base) - expected) < 1e-3 * expected


def test_gradient_at_the_inputs_with_dropout_is_taken_before_the_mask():
    """The perturbation is added before dropout, so its gradient is dZ times the mask."""
    shape = SHAPES["two bidirectional layers"]
    params, ids, lengths, tags, rng, _ = random_problem(shape, [5, 2, 4], seed=11)
    perturb = {sfx: rng.normal(0.0, 0.3, (5, 3, shape.n_hidden)) for _, _, sfx in shape.chains(0)}

    def loss():  # the same masks at every call: a fresh generator with the same seed
        trace = rnn.forward(params, shape, ids, lengths, perturb=perturb, dropout=0.3,
                            rng=np.random.default_rng(5))
        return rnn.cross_entropy(trace, tags)[0]

    _, grads = rnn.loss_and_grads(params, shape, ids, lengths, tags, perturb=perturb, dropout=0.3,
                                  rng=np.random.default_rng(5), with_inputs=True)
    for sfx, r in perturb.items():
        g = grads["Ux" + sfx]
        assert np.count_nonzero(g[:, 0]) < g[:, 0].size  # some units dropped: the mask is at work
        assert relative_error(g, numerical_gradient(loss, r)) < 1e-6, sfx
