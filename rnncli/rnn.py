"""The Elman RNN of the tutorial, with biases, in NumPy: forward pass, BPTT, loss.

One forward pass (``forward``) serves training, tagging and the views; its options choose what
it keeps (everything backpropagation needs, or only the scores) and how a batch comes (padded,
or sentences of one length). One recurrence (``recur``) serves every chain and the character RNN.

    s_t = tanh(U x_t + W s_{t-1} + b)          o_t = softmax(V s_t + c)

x_t is a 0/1 vector: the one-hot of the word, optionally plus indicator features of its
form. A token therefore arrives as the K indices where x_t is 1, and ``U x_t`` is the sum
of those K columns of U, computed as a lookup, never as a dense product.

Beyond the tutorial, all optional: a backward direction over the sentence (``U_bwd``,
``W_bwd``, ``b_bwd``) whose states are concatenated with the forward ones before V;
stacked layers whose input is the previous layer's states (``U2``, ``W2``, ``b2``, ...);
dropout on each layer's input and output; and a character-level Elman RNN over each word's
letters, ``h_j = tanh(Uc c_j + Wc h_{j-1} + bc)``, whose final state h enters the first
layer beside U x_t: ``s_t = tanh(U x_t + P h + W s_{t-1} + b)``. It is the tutorial's
network again, one level down, and it lets the spelling of a word never seen in training
count.

For adversarial training, ``forward`` can add a perturbation to the first layer's U x_t and
``backward`` can return the gradient there; ``adversarial_perturbation`` turns that gradient
into the small change of the inputs that hurts the loss most.

Arrays are time-major: (T, B, ...) for T steps of B sentences, right-padded, with
``lengths`` (B,) giving each sentence's real length. Padding never influences a real
position: the backward direction runs over each sentence reversed within its own length,
so in both directions the padding comes after the real steps.

This module is the math and nothing else: no I/O, no printing, no global state.
Randomness (initialisation, dropout) comes from a ``numpy.random.Generator`` passed in.
"""

from __future__ import annotations

import numbers
from dataclasses import asdict, dataclass, field
from typing import NamedTuple

import numpy as np

from .config import MAX_LAYERS  # plain data, no NumPy: the one bound on stacked layers


@dataclass(frozen=True)
class Shape:
    """Everything that fixes the parameter arrays' names and shapes."""

    n_inputs: int  # length of x_t: word entries plus form features
    n_hidden: int  # H
    n_tags: int  # length of o_t
    bidirectional: bool = False
    n_layers: int = 1
    n_chars: int = 0  # characters known to the character RNN (0: no character RNN)
    char_hidden: int = 0  # C, the size of its state h

    def __post_init__(self):
        for name, least in (("n_inputs", 1), ("n_hidden", 1), ("n_tags", 1), ("n_layers", 1),
                            ("n_chars", 0), ("char_hidden", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not least <= value < 2**31:
                raise ValueError(f"{name} must be an integer from {least} to 2**31 - 1, not {value!r:.40}")
        if self.n_layers > MAX_LAYERS:  # a file's claim of more would list billions of arrays to look for
            raise ValueError(f"n_layers must be at most {MAX_LAYERS}, not {self.n_layers}")
        if not isinstance(self.bidirectional, (bool, np.bool_)):
            raise ValueError(f"bidirectional must be true or false, not {self.bidirectional!r}")
        if (self.n_chars == 0) != (self.char_hidden == 0):
            raise ValueError("a character RNN needs both letters and units")

    @property
    def directions(self) -> tuple[str, ...]:
        return ("", "_bwd") if self.bidirectional else ("",)

    @property
    def n_out(self) -> int:
        """Width of a layer's output: H, or 2H when bidirectional."""
        return self.n_hidden * len(self.directions)

    def chains(self, layer: int | None = None) -> list[tuple[int, str, str]]:
        """(layer, direction, name suffix) of every recurrent chain (of one layer), bottom-up.

        Layer 0 forward is the tutorial's network: U, W, b. The backward direction adds
        ``_bwd``; layer l > 0 adds its number: U2, W2_bwd, ...
        """
        layers = range(self.n_layers) if layer is None else (layer,)
        return [(n, d, (str(n + 1) if n else "") + d) for n in layers for d in self.directions]

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        H = self.n_hidden
        shapes: dict[str, tuple[int, ...]] = {}
        for layer, _, sfx in self.chains():
            shapes["U" + sfx] = (H, self.n_inputs if layer == 0 else self.n_out)
            shapes["W" + sfx] = (H, H)
            shapes["b" + sfx] = (H,)
        shapes["V"] = (self.n_tags, self.n_out)
        shapes["c"] = (self.n_tags,)
        if self.char_hidden:
            C = self.char_hidden
            shapes.update(Uc=(C, self.n_chars), Wc=(C, C), bc=(C,))
            shapes.update({"P" + d: (H, C) for d in self.directions})
        return shapes

    def n_params(self) -> int:
        return sum(int(np.prod(s)) for s in self.param_shapes().values())

    def to_dict(self) -> dict:
        return asdict(self)


LOOKUPS = ("U", "U_bwd", "Uc")  # tables indexed by input ids: column-major, sparse gradients


class WordTypes(NamedTuple):
    """The distinct words of a batch and which of them each token is.

    A word's first-layer input, ``U x + P h``, depends on the word alone, so with ``ids`` it
    is computed once per distinct word instead of once per token (tagging: text repeats its
    words). ``chars`` and ``lengths`` feed the character RNN.
    """

    words: np.ndarray  # (T, B) which of the N words each token is (anything at padding)
    ids: np.ndarray | None = None  # (N, K) active input indices of each word
    chars: np.ndarray | None = None  # (L, N) character ids, time-major, right-padded
    lengths: np.ndarray | None = None  # (N,) letters per word (at least 1)


class SparseRows(NamedTuple):
    """Gradient of a lookup table U for the columns a batch used: ``rows[i] = dL/dU[:, index[i]]``."""

    index: np.ndarray  # (n,) distinct column numbers, ascending
    rows: np.ndarray  # (n, H)

    def to_dense(self, shape: tuple[int, int]) -> np.ndarray:
        dense = np.zeros(shape, self.rows.dtype)
        dense[:, self.index] = self.rows.T
        return dense


def init_params(shape: Shape, rng: np.random.Generator, dtype=np.float32) -> dict[str, np.ndarray]:
    """Fresh parameters. W starts orthogonal (spectral radius 1), biases at zero."""
    params = {}
    H = shape.n_hidden
    for name, dims in shape.param_shapes().items():
        if name in LOOKUPS:
            # Input table: each column is a word's or feature's vector; stored column-major
            # so that a column is contiguous and the lookup U[:, ids] is a fast row gather.
            p = np.asfortranarray(rng.normal(0.0, 1.0 / np.sqrt(H), size=dims))
        elif name.startswith("W"):
            q, r = np.linalg.qr(rng.normal(size=dims))
            p = q * np.sign(np.diag(r))  # Haar-random orthogonal matrix
        elif name[0] in "bc":
            p = np.zeros(dims)
        else:  # dense U of a stacked layer, and V: Glorot uniform
            limit = np.sqrt(6.0 / (dims[0] + dims[1]))
            p = rng.uniform(-limit, limit, size=dims)
        params[name] = p.astype(dtype, order="K")
    return params


@dataclass
class Trace:
    """What the forward pass keeps: enough for backward, and for ``unroll`` to show (with
    ``keep=False``, the scores alone)."""

    shape: Shape
    ids: np.ndarray | None  # (T, B, K) active input indices, or None when ``types`` gives them once per word type
    lengths: np.ndarray  # (B,)
    mask: np.ndarray  # (T, B) True at real steps
    rev: np.ndarray | None  # (T, B) time index reversing each sentence within its length
    states: dict[str, np.ndarray] = field(default_factory=dict)  # suffix -> S (T+1, B, H), processing order, S[0] = s_0
    inputs: list[np.ndarray] = field(default_factory=list)  # layer -> its dense input (T, B, D), layers > 0
    input_masks: dict[str, np.ndarray] = field(default_factory=dict)  # suffix -> dropout mask on U x_t
    output_masks: list[np.ndarray] = field(default_factory=list)  # layer -> dropout mask on its output
    top: np.ndarray | None = None  # (T, B, n_out) what V sees
    logits: np.ndarray | None = None  # (T, B, n_tags) V s_t + c, the scores
    probs: np.ndarray | None = None  # (T, B, n_tags) o_t
    types: WordTypes | None = None
    char_states: np.ndarray | None = None  # (L+1, N, C) the character RNN's states
    char_final: np.ndarray | None = None  # (N, C) h: each word's state after its last letter

    def hidden(self, suffix: str = "") -> np.ndarray:
        """s_t of one chain in sentence order: (T, B, H)."""
        S = self.states[suffix][1:]
        return S if not suffix.endswith("_bwd") else _reorder(S, self.rev)

    def previous(self, suffix: str = "") -> np.ndarray:
        """The state each step's W multiplies, in sentence order: s_{t-1} for a forward chain,
        s_{t+1} for a backward one (s_0 at the chain's first step): (T, B, H)."""
        S = self.states[suffix][:-1]
        return S if not suffix.endswith("_bwd") else _reorder(S, self.rev)


def reverse_index(lengths: np.ndarray, T: int) -> np.ndarray:
    """(T, B) index that reverses each sentence within its length and leaves padding in place."""
    t = np.arange(T)[:, None]  # (T, 1)
    L = np.asarray(lengths)[None, :]  # (1, B)
    return np.where(t < L, L - 1 - t, t)


def _reorder(x: np.ndarray, rev: np.ndarray) -> np.ndarray:
    """Apply the per-sentence reversal to a (T, B, ...) array; it is its own inverse."""
    return x[rev, np.arange(x.shape[1])[None, :]]


def _dropout_mask(rng, p: float, shape, dtype) -> np.ndarray:
    keep = rng.random(shape, dtype=np.float32) >= p
    return keep.astype(dtype) / dtype.type(1.0 - p)


def recur(a: np.ndarray, W: np.ndarray, s0: np.ndarray | None = None, *,
          out: np.ndarray | None = None, reverse: bool = False) -> np.ndarray:
    """Run s_t = tanh(a_t + W s_{t-1}) over t, where a_t already holds U x_t + b.

    a: (T, B, H). Returns S: (T+1, B, H) with S[0] = s_0 (zeros unless given): what
    backpropagation needs. For tagging, ``out`` (T, B, H), which may be a slice of a wider
    array or ``a`` itself (overwritten), receives s_t at each sentence position t instead (it
    is returned), and ``reverse`` runs the chain from the last position to the first, as a
    backward chain reads a batch of sentences of one length.
    """
    T, B, H = a.shape
    if out is a:  # tagging in place: W s_{t-1} + a_t, the same sum as below, into a_t itself
        previous, product = s0, np.empty((B, H), a.dtype)
        for t in range(T - 1, -1, -1) if reverse else range(T):
            s = a[t]
            if previous is not None:  # s_0 = 0: W s_0 adds nothing, and is not computed
                s += np.matmul(previous, W.T, out=product)  # (B, H)
            np.tanh(s, out=s)
            previous = s
        return a
    if out is None:
        S = np.empty((T + 1, B, H), a.dtype)
        S[0] = 0.0 if s0 is None else s0
        states, previous = S[1:], S[0]
    else:
        S, states = out, out
        previous = np.zeros((B, H), a.dtype) if s0 is None else s0
    WT = W.T
    for t in range(T - 1, -1, -1) if reverse else range(T):
        s = states[t]
        np.matmul(previous, WT, out=s)  # (B, H): W s_{t-1} for each sentence
        s += a[t]
        np.tanh(s, out=s)
        previous = s
    return S


def recur_backward(dS: np.ndarray, S: np.ndarray, W: np.ndarray, through: np.ndarray | None = None):
    """Backpropagation through time for one chain.

    dS: (T, B, H) dL/ds_t arriving from above (the output layer or the next layer).
    Returns dZ (T, B, H), the gradient at the pre-activation U x_t + W s_{t-1} + b, and
    ds0 (B, H). dW is then one product over all steps: see ``backward``.
    through: if given, (T, B, H) receives the other part of dL/ds_t, the one that comes back
    through W from step t+1 (W^T dL/dz_{t+1}); dL/ds_t is ``dS[t] + through[t]``.
    """
    T = dS.shape[0]
    dZ = np.empty_like(dS)
    slope = 1.0 - S[1:] * S[1:]  # (T, B, H): tanh'(z_t) = 1 - s_t^2
    carry = np.zeros_like(dS[0])  # (B, H): dL/ds_t through s_{t+1}
    for t in range(T - 1, -1, -1):
        if through is not None:
            through[t] = carry
        g = dS[t] + carry
        np.multiply(g, slope[t], out=dZ[t])
        carry = dZ[t] @ W  # (B, H)
    return dZ, carry


class ChainSteps(NamedTuple):
    """One chain's backward pass step by step, in sentence order, each (T, B, H).

    ``ds = above + through`` is dL/ds_t, the sum the backward pass formed. ``above`` came down
    at step t from what s_t feeds directly: V^T (o_t - y_t) in the top layer, the next layer's
    U^T dL/dz_t below it. ``through`` came back through W from the chain's next step (t+1 for a
    forward chain, t-1 for a backward one). ``dz`` is dL/dz_t at the pre-activation.
    """

    above: np.ndarray
    through: np.ndarray
    ds: np.ndarray
    dz: np.ndarray


def jacobian_norms(S: np.ndarray, W: np.ndarray) -> np.ndarray:
    """||ds_T/ds_k|| for every step k of one chain over one sentence: the largest singular
    value of the Jacobian product ds_T/ds_k = diag(1 - s_T^2) W ... diag(1 - s_{k+1}^2) W, the
    most that the way back from the last step T to step k can stretch any vector.

    S: (T+1, H) the chain's states in its processing order, S[0] = s_0. Returns (T,): entry
    k-1 for step k (1 at k = T). One product per step, built from T down.
    """
    T, H = S.shape[0] - 1, S.shape[1]
    slope = 1.0 - S[1:] * S[1:]  # (T, H): tanh'(z_t) = 1 - s_t^2
    out = np.ones(T)
    J = np.eye(H, dtype=S.dtype)  # (H, H): ds_T/ds_T
    for k in range(T - 2, -1, -1):
        J = J @ (slope[k + 1][:, None] * W)  # (H, H): ds_T/ds_k = ds_T/ds_{k+1} ds_{k+1}/ds_k
        out[k] = np.linalg.norm(J, 2)
    return out


def loss_flow(params: dict[str, np.ndarray], trace: Trace, dlogits: np.ndarray,
              losses: range | None = None) -> dict[str, np.ndarray]:
    """dL_t/ds_k for one sentence, each loss term L_t = -log o_t[y_t] on its own: what each
    step's loss sends back to the state of every step, in every chain.

    trace: a forward pass over one sentence (B = 1, no dropout); dlogits: (T, 1, n_tags), the
    gradient of the sum of the terms at the scores, o_t - y_t. losses: which terms t (0-based;
    all by default). Returns, by chain suffix, (T, n, H) in sentence order: entry [k, i] is
    dL_t/ds_k for the i-th t of ``losses``, 0 where L_t cannot depend on s_k. Summed over all
    t it is dL/ds_k, because L is the sum of its terms and the gradient is linear.

    The terms are the batch dimension of one backward pass: term i's copy of the sentence sees
    the output error of its own step only, so the recurrence runs once for all of them.
    """
    shape, H = trace.shape, trace.shape.n_hidden
    T = dlogits.shape[0]
    losses = range(T) if losses is None else losses
    n = len(losses)
    one = np.zeros((T, n, shape.n_tags), dlogits.dtype)  # (T, n, n_tags)
    one[list(losses), np.arange(n)] = dlogits[list(losses), 0]
    dx = one @ params["V"]  # (T, n, n_out)
    flow: dict[str, np.ndarray] = {}
    for layer in range(shape.n_layers - 1, -1, -1):
        dx_in = 0.0
        for j, (_, direction, sfx) in enumerate(shape.chains(layer)):
            dS = dx[:, :, j * H:(j + 1) * H]  # (T, n, H)
            if direction:
                dS = _reorder(dS, trace.rev)  # the same reversal for every copy: rev (T, 1)
            through = np.empty_like(dS)
            # S (T+1, 1, H) broadcasts over the copies: they all ran the same forward pass.
            dZ, _ = recur_backward(dS, trace.states[sfx], params["W" + sfx], through)
            ds = dS + through
            flow[sfx] = _reorder(ds, trace.rev) if direction else ds
            if layer:
                dZ = _reorder(dZ, trace.rev) if direction else dZ
                dx_in = dx_in + dZ @ params["U" + sfx]  # (T, n, n_out) of the layer below
        dx = dx_in
    return {sfx: flow[sfx] for _, _, sfx in shape.chains()}


def flow_norms(params: dict[str, np.ndarray], trace: Trace, dlogits: np.ndarray,
               block: int = 64) -> dict[str, np.ndarray]:
    """||dL_t/ds_k|| for every pair of steps, by chain suffix: (T, T), entry [k, t] (0-based).
    The terms are taken ``block`` at a time, so that memory stays at T * block * H numbers."""
    T = dlogits.shape[0]
    out = {sfx: np.zeros((T, T)) for _, _, sfx in trace.shape.chains()}
    for start in range(0, T, block):
        losses = range(start, min(T, start + block))
        for sfx, ds in loss_flow(params, trace, dlogits, losses).items():
            out[sfx][:, losses.start:losses.stop] = np.linalg.norm(ds, axis=2)
    return out


def scale_recurrent(params: dict[str, np.ndarray], factor: float) -> dict[str, np.ndarray]:
    """A copy of the network with every W of the word RNN multiplied by ``factor`` (the
    character RNN's Wc, which reads within a word, is kept): to watch the error that flows back
    through W vanish (a small factor) or explode (a large one)."""
    if not all(abs(factor) <= float(np.finfo(v.dtype).max) for k, v in params.items() if k.startswith("W")):
        raise ValueError(f"a factor of {factor:g} is not a finite number in the weights' precision")
    return {k: (v * v.dtype.type(factor) if k.startswith("W") and k != "Wc" else v.copy())
            for k, v in params.items()}


def char_forward(params: dict[str, np.ndarray], types: WordTypes) -> tuple[np.ndarray, np.ndarray]:
    """The character RNN over each word: states (L+1, N, C) and final states h (N, C)."""
    # Uc c_j for a one-hot letter c_j: one column of Uc, looked up.
    a = params["Uc"].T[types.chars] + params["bc"]  # (L, N, C), in the dtype of bc
    S = recur(a, params["Wc"])  # (L+1, N, C)
    final = S[types.lengths, np.arange(len(types.lengths))]  # (N, C): the state after the last letter
    return S, final


def lookup_sum(U: np.ndarray, ids: np.ndarray, dtype) -> np.ndarray:
    """U x for N 0/1 vectors x given as their K active indices (N, K): (N, H), summed in
    ``dtype`` slot by slot (the same sums, to the bit, for a float16 or float32 table)."""
    UT = U.T  # (n_inputs, H): a column of U is a contiguous row here
    out = UT[ids[:, 0]].astype(dtype)  # (N, H), a new array
    for k in range(1, ids.shape[1]):
        out += UT[ids[:, k]]
    return out


def forward(params: dict[str, np.ndarray], shape: Shape, ids: np.ndarray | None, lengths: np.ndarray | None,
            *, types: WordTypes | None = None, s0: np.ndarray | None = None, dropout: float = 0.0,
            rng: np.random.Generator | None = None, perturb: dict[str, np.ndarray] | None = None,
            keep: bool = True, per_word: dict[str, np.ndarray] | None = None) -> Trace:
    """The network's one forward pass, for training, tagging and the views: ``trace.logits``
    holds V s_t + c (T, B, n_tags).

    keep (the default): a right-padded batch of sentences of any lengths, ``lengths`` (B,), and
    the trace keeps what ``backward`` and the views need: every chain's states in its
    processing order, each layer's input, the dropout masks, ``top`` and o_t in ``probs``.
    keep=False: tagging's lean way, for a batch of sentences that all have the same length
    (``lengths`` may be None): no padding, so a backward chain runs over the batch in reverse
    instead of over a reordered copy, each layer writes its states straight into its output,
    and nothing is kept but the scores (no softmax either).

    ids: (T, B, K) integer indices of the active entries of x_t (any valid index at padding),
    or None when ``types.ids`` gives them once per distinct word.
    types: the batch's distinct words; its letters are required when the model has a
    character RNN and ``per_word`` is not given.
    per_word: ``word_inputs`` of ``types``' words, computed once for many batches (tagging).
    dropout: probability of zeroing each unit of every layer's input projection U x_t and of
    every layer's output (training only; needs ``rng``).
    perturb: chain suffix -> (T, B, H) added to the first layer's U x_t of that chain, in the
    chain's processing order, before dropout (adversarial training; see ``adversarial_perturbation``).
    """
    T, B = types.words.shape if ids is None else ids.shape[:2]
    lengths = np.full(B, T, np.int64) if lengths is None else np.asarray(lengths)
    mask = np.arange(T)[:, None] < lengths[None, :]  # (T, B)
    rev = reverse_index(lengths, T) if shape.bidirectional and keep else None
    trace = Trace(shape, ids, lengths, mask, rev, types=types)
    if shape.char_hidden and per_word is None:
        if types is None or types.chars is None:
            raise ValueError("this network reads letters: pass word types with chars")
        trace.char_states, trace.char_final = char_forward(params, types)
    biased = per_word is not None  # b is already in a word's input when tagging computed it once
    if per_word is None and types is not None and types.ids is not None:
        per_word = word_inputs(params, shape, types, trace.char_final, bias=False)
    x = None  # dense input of the current layer, (T, B, D), sentence order
    for layer in range(shape.n_layers):
        if layer and keep:
            trace.inputs.append(x)
        x = _layer(params, trace, layer, x, per_word, biased, s0, keep, dropout, rng, perturb)
    if keep:
        logits = x @ params["V"].T + params["c"]  # (T, B, n_tags)
    else:  # the same sums, without a second array
        logits = x @ params["V"].T  # (T, B, n_tags)
        logits += params["c"]
    trace.logits = logits
    if keep:
        trace.top = x
        trace.probs = softmax(logits)
    return trace


def _layer(params, trace: Trace, layer: int, x: np.ndarray | None, per_word: dict[str, np.ndarray] | None,
           biased: bool, s0, keep: bool, dropout: float, rng, perturb) -> np.ndarray:
    """One layer's chains over the batch: its output [s_t ; s_bwd_t] in sentence order (T, B, n_out)."""
    shape, H = trace.shape, trace.shape.n_hidden
    T, B = trace.mask.shape
    dtype = params["V"].dtype
    outs = []
    for j, (_, direction, sfx) in enumerate(shape.chains(layer)):
        if layer == 0:
            a = _first_input(params, trace, direction, per_word)  # (T, B, H)
            if perturb is not None:
                a += perturb[sfx]
        else:
            a = x @ params["U" + sfx].T  # (T, B, H)
            if direction and trace.rev is not None:
                a = _reorder(a, trace.rev)
        if dropout:
            m = _dropout_mask(rng, dropout, a.shape, dtype)
            trace.input_masks[sfx] = m
            a *= m
        if not (layer == 0 and biased):
            a += params["b" + sfx]
        if keep:
            S = recur(a, params["W" + sfx], s0)  # (T+1, B, H)
            trace.states[sfx] = S
            outs.append(S[1:] if not direction else _reorder(S[1:], trace.rev))
        else:  # lean: s_t in sentence order, in place of a (contiguous: faster than slices of one array)
            outs.append(recur(a, params["W" + sfx], out=a, reverse=bool(direction)))
    x = outs[0] if len(outs) == 1 else np.concatenate(outs, axis=2)  # (T, B, n_out)
    if dropout:
        m = _dropout_mask(rng, dropout, x.shape, dtype)
        trace.output_masks.append(m)
        x = x * m
    return x


def _first_input(params, trace: Trace, direction: str, per_word: dict[str, np.ndarray] | None) -> np.ndarray:
    """U x_t (+ P h) of every token for one first-layer chain, in its processing order: (T, B, H).

    Two ways in, kept because neither is faster for every model: per word (``per_word``, looked
    up per token) and per token (``trace.ids``). Training per word, finding a batch's distinct
    rows with np.unique, took 1.09 times as long for the tutorial RNN and 0.92 times for the
    recipe's shape (scripts/time_input_paths.py), and would change the order of U's gradient sums.
    """
    types, rev = trace.types, trace.rev
    words = None if types is None else types.words if not direction or rev is None else _reorder(types.words, rev)
    if per_word is not None:
        return np.take(per_word[direction], words, axis=0)  # (T, B, H); a first-layer chain's suffix is its direction
    chain_ids = trace.ids if not direction else _reorder(trace.ids, rev)  # (T, B, K)
    # U x_t for a 0/1 vector x_t = the sum of the columns of U it selects.
    ux = params["U" + direction].T[chain_ids].sum(axis=2, dtype=params["V"].dtype)  # (T, B, H)
    if trace.shape.char_hidden:
        ux += spelling(params, trace.char_final, direction)[words]  # (T, B, H): P h of each token's word
    return ux


def spelling(params: dict[str, np.ndarray], final: np.ndarray, direction: str) -> np.ndarray:
    """P h of each word, its spelling's part of the first layer's input: (N, H) from h (N, C)."""
    return final @ params["P" + direction].T


def word_inputs(params: dict[str, np.ndarray], shape: Shape, types: WordTypes, final: np.ndarray | None = None,
                *, bias: bool = True) -> dict[str, np.ndarray]:
    """U x + P h (+ b with ``bias``) of each distinct word of ``types``, for each first-layer
    chain: (N, H) by chain suffix. What the first layer adds up per token, added up once per
    word. ``final``: the character RNN's h of each word, if already run."""
    dtype = params["V"].dtype
    if shape.char_hidden and final is None:
        final = char_forward(params, types)[1]
    inputs = {}
    for _, direction, sfx in shape.chains(0):
        uw = lookup_sum(params["U" + sfx], types.ids, dtype)  # (N, H)
        if shape.char_hidden:
            uw += spelling(params, final, direction)
        if bias:
            uw += params["b" + sfx]
        inputs[sfx] = uw
    return inputs


def softmax(z: np.ndarray) -> np.ndarray:
    # Shifted by the largest score (log-sum-exp), so exp never overflows. Of scores far apart
    # (3e38 and -3e38) the difference may round to -inf, whose exp is 0: the right limit.
    with np.errstate(over="ignore"):
        e = np.exp(z - z.max(axis=-1, keepdims=True))
    e /= e.sum(axis=-1, keepdims=True)
    return e


def nll(logits: np.ndarray, tags: np.ndarray) -> np.ndarray:
    """-log o_t[y_t] for every step, from the scores: log sum_j exp(q_t[j]) - q_t[y_t]. Exact
    where o_t[y_t] itself is too small for a float (below 1e-308 a loss of 708 and more): a
    large step of --lr, a run that diverges. logits: (..., n_tags); tags: (...)."""
    top = logits.max(axis=-1)
    with np.errstate(over="ignore", invalid="ignore"):
        log_sum = top + np.log(np.exp(logits - top[..., None]).sum(axis=-1))
    return log_sum - np.take_along_axis(logits, tags[..., None], axis=-1)[..., 0]


def cross_entropy(trace: Trace, tags: np.ndarray, *, total: bool = False) -> tuple[float, np.ndarray]:
    """Mean -log o_t[gold] over real steps, and its gradient at the logits (T, B, n_tags).

    tags: (T, B) gold tag indices (anything at padding).
    total: the sum over real steps instead, the tutorial's L = sum_t -log o_t[y_t], whose
    gradient at the logits is o_t - y_t.
    """
    probs, mask = trace.probs, trace.mask
    n = 1 if total else max(int(mask.sum()), 1)
    gold = np.take_along_axis(probs, tags[..., None], axis=2)[..., 0]  # (T, B)
    loss = float(nll(trace.logits, tags)[mask].sum() / n)
    dlogits = probs.copy()
    np.put_along_axis(dlogits, tags[..., None], gold[..., None] - 1.0, axis=2)
    dlogits *= (mask / probs.dtype.type(n))[..., None].astype(probs.dtype)
    return loss, dlogits


def sparse_rows(ids: np.ndarray, g: np.ndarray) -> SparseRows:
    """Sum g (N, H) into the columns named by ids (N, K): the gradient of a K-hot lookup."""
    N, K = ids.shape
    flat = ids.ravel()  # (N*K,)
    order = np.argsort(flat, kind="stable")
    sorted_ids = flat[order]
    if sorted_ids.size == 0:
        return SparseRows(sorted_ids, np.zeros((0, g.shape[1]), g.dtype))
    starts = np.flatnonzero(np.concatenate(([True], sorted_ids[1:] != sorted_ids[:-1])))
    rows = np.add.reduceat(g[order // K], starts, axis=0)  # (n, H)
    return SparseRows(sorted_ids[starts], rows)


def backward(params: dict[str, np.ndarray], trace: Trace, dlogits: np.ndarray,
             *, with_s0: bool = False, with_inputs: bool = False, with_steps: bool = False) -> dict:
    """Backpropagation through time: gradients under the parameters' own names.

    ``grads["U"]`` (and ``U_bwd``) are ``SparseRows``: only the columns the batch used.
    With ``with_s0``, ``grads["s0"]`` is the gradient at the initial state, summed over chains.
    With ``with_inputs``, ``grads["Ux" + suffix]`` is the gradient at each first-layer chain's
    U x_t (T, B, H), in that chain's processing order.
    With ``with_steps``, ``grads["steps"]`` maps each chain's suffix to its ``ChainSteps``:
    dL/ds_t in its two parts and dL/dz_t, as this pass computed them (to show, not to train on).
    """
    shape = trace.shape
    H = shape.n_hidden
    top = trace.top
    grads: dict = {
        "V": dlogits.reshape(-1, shape.n_tags).T @ top.reshape(-1, shape.n_out),
        "c": dlogits.sum(axis=(0, 1)),
    }
    dx = dlogits @ params["V"]  # (T, B, n_out): dL/d(layer output)
    ds0 = 0.0
    dfinal = np.zeros_like(trace.char_final) if shape.char_hidden else None  # (N, C) dL/dh
    steps: dict[str, ChainSteps] = {}
    for layer in range(shape.n_layers - 1, -1, -1):
        if trace.output_masks:
            dx = dx * trace.output_masks[layer]
        x_in = trace.inputs[layer - 1] if layer else None  # (T, B, D)
        dx_in = np.zeros_like(x_in) if layer else None
        for j, (_, direction, sfx) in enumerate(shape.chains(layer)):
            dS = dx[:, :, j * H:(j + 1) * H]
            if direction:
                dS = _reorder(dS, trace.rev)
            S, W = trace.states[sfx], params["W" + sfx]
            through = np.empty_like(dS) if with_steps else None
            dZ, ds0_chain = recur_backward(dS, S, W, through)  # processing order
            if with_steps:
                parts = [dS, through, dS + through, dZ]  # the sum is the loop's own, to the bit
                steps[sfx] = ChainSteps(*(_reorder(a, trace.rev) if direction else a for a in parts))
            ds0 = ds0 + ds0_chain
            grads["W" + sfx] = dZ.reshape(-1, H).T @ S[:-1].reshape(-1, H)
            grads["b" + sfx] = dZ.sum(axis=(0, 1))
            dux = dZ * trace.input_masks[sfx] if trace.input_masks else dZ
            if layer == 0:
                if with_inputs:
                    grads["Ux" + sfx] = dux
                _first_layer_grads(params, trace, direction, dux, grads, dfinal)
            else:
                if direction:
                    dux = _reorder(dux, trace.rev)  # back to sentence order
                U = params["U" + sfx]
                grads["U" + sfx] = dux.reshape(-1, H).T @ x_in.reshape(-1, x_in.shape[2])
                dx_in += dux @ U
        dx = dx_in
    if shape.char_hidden:
        grads.update(char_backward(params, trace, dfinal))
    if with_s0:
        grads["s0"] = ds0
    if with_steps:
        grads["steps"] = {sfx: steps[sfx] for _, _, sfx in shape.chains()}  # bottom-up
    return grads


def _first_layer_grads(params: dict[str, np.ndarray], trace: Trace, direction: str, dux: np.ndarray,
                       grads: dict, dfinal: np.ndarray | None) -> None:
    """The gradients of a first-layer chain's U (and P) into ``grads``, from dL/d(U x_t) ``dux``
    (T, B, H) in its processing order; dL/dh of each word is added into ``dfinal`` (N, C)."""
    H = trace.shape.n_hidden
    real = trace.mask.ravel()  # (T*B,)
    types = trace.types
    dux_real = dux.reshape(-1, H)[real]  # (n, H)
    per_word = None
    if types is not None:
        words = types.words if not direction else _reorder(types.words, trace.rev)
        per_word = sparse_rows(words.reshape(-1, 1)[real], dux_real)  # (m, H) summed per word
    if types is not None and types.ids is not None:
        grads["U" + direction] = sparse_rows(types.ids[per_word.index], per_word.rows)
    else:
        chain_ids = trace.ids if not direction else _reorder(trace.ids, trace.rev)
        K = chain_ids.shape[2]
        grads["U" + direction] = sparse_rows(chain_ids.reshape(-1, K)[real], dux_real)
    if trace.shape.char_hidden:
        h = trace.char_final[per_word.index]  # (m, C)
        grads["P" + direction] = per_word.rows.T @ h  # (H, C)
        dfinal[per_word.index] += per_word.rows @ params["P" + direction]  # (m, C) dL/dh


def char_backward(params: dict[str, np.ndarray], trace: Trace, dfinal: np.ndarray) -> dict:
    """BPTT through the character RNN, from dL/dh at each word's last letter."""
    types, S = trace.types, trace.char_states
    L, N = types.chars.shape
    C = S.shape[2]
    dS = np.zeros((L, N, C), S.dtype)
    dS[types.lengths - 1, np.arange(N)] = dfinal  # only the final state feeds the word RNN
    dZ, _ = recur_backward(dS, S, params["Wc"])  # (L, N, C); zero after each word's end
    real = (np.arange(L)[:, None] < types.lengths[None, :]).ravel()  # (L*N,)
    return {
        "Uc": sparse_rows(types.chars.reshape(-1, 1)[real], dZ.reshape(-1, C)[real]),
        "Wc": dZ.reshape(-1, C).T @ S[:-1].reshape(-1, C),
        "bc": dZ.sum(axis=(0, 1)),
    }


def loss_and_grads(params, shape: Shape, ids, lengths, tags, *, types: WordTypes | None = None, s0=None,
                   dropout: float = 0.0, rng=None, with_s0: bool = False, perturb=None,
                   with_inputs: bool = False) -> tuple[float, dict]:
    trace = forward(params, shape, ids, lengths, types=types, s0=s0, dropout=dropout, rng=rng,
                    perturb=perturb)
    loss, dlogits = cross_entropy(trace, tags)
    return loss, backward(params, trace, dlogits, with_s0=with_s0, with_inputs=with_inputs)


def adversarial_perturbation(grads: dict, shape: Shape, lengths: np.ndarray, epsilon: float) -> dict[str, np.ndarray]:
    """The perturbation of the first layer's inputs U x_t (+ P h) that raises the loss of the
    pass that gave ``grads`` fastest, for a given size: along the gradient, normalised per
    sentence over all its steps and chains, and scaled so that a sentence's perturbation has
    norm ``epsilon * sqrt(length)``, a root mean square of ``epsilon`` per token (Miyato et al. 2017).

    grads: from ``backward(..., with_inputs=True)``; the ``Ux`` entries are removed from it.
    """
    g = {sfx: grads.pop("Ux" + sfx) for _, _, sfx in shape.chains(0)}
    sq = sum((v * v).sum(axis=(0, 2), dtype=np.float64) for v in g.values())  # (B,)
    scale = epsilon * np.sqrt(np.asarray(lengths, np.float64)) / np.maximum(np.sqrt(sq), 1e-12)
    return {sfx: v * scale.astype(v.dtype)[None, :, None] for sfx, v in g.items()}


def without_memory(params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The same network with every W of the word RNN set to zero: o_t then depends on x_t
    alone (the character RNN, which reads within the word, keeps its Wc)."""
    return {k: (np.zeros_like(v) if k.startswith("W") and k != "Wc" else v) for k, v in params.items()}


def pad(seqs: list[np.ndarray], fill: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Stack sequences of shape (L_i, ...) into a time-major (T, B, ...) array and lengths (B,)."""
    lengths = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
    T = int(lengths.max()) if len(seqs) else 0
    first = seqs[0] if seqs else np.zeros((0,), np.int32)
    out = np.full((T, len(seqs)) + first.shape[1:], fill, dtype=first.dtype)
    for i, s in enumerate(seqs):
        out[: len(s), i] = s
    return out, lengths
