"""Updating the weights: Adam and plain SGD, an exponential moving average of the weights,
and the gradient arithmetic around a step (clipping, the mean of two gradients).

Every stateful object has ``state()``, its arrays by name, and ``load_state(state)``, which
continues from them: a checkpoint stores the one and a resumed run calls the other.
"""

from __future__ import annotations

import math

import numpy as np

from . import rnn


class Adam:
    """Adam; a ``SparseRows`` gradient updates only the columns it names (lazy Adam)."""

    def __init__(self, params: dict[str, np.ndarray], b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8):
        self.b1, self.b2, self.eps, self.t = b1, b2, eps, 0
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}

    def step(self, params: dict[str, np.ndarray], grads: dict, lr: float) -> None:
        self.t += 1
        b1, b2 = self.b1, self.b2
        step = lr * math.sqrt(1.0 - b2 ** self.t) / (1.0 - b1 ** self.t)
        for name, g in grads.items():
            p, m, v = params[name], self.m[name], self.v[name]
            if isinstance(g, rnn.SparseRows):
                idx, rows = g
                mT, vT = m.T, v.T  # (N, H) views: a column of U is a contiguous row here
                mr = b1 * mT[idx] + (1.0 - b1) * rows  # (n, H)
                vr = b2 * vT[idx] + (1.0 - b2) * (rows * rows)
                mT[idx], vT[idx] = mr, vr
                p.T[idx] -= step * mr / (np.sqrt(vr) + self.eps)
            else:
                m *= b1
                m += (1.0 - b1) * g
                v *= b2
                v += (1.0 - b2) * (g * g)
                p -= step * m / (np.sqrt(v) + self.eps)

    def state(self) -> dict[str, np.ndarray]:
        """The moments and the step count, by name (the live arrays, not copies)."""
        return {"t": np.array(self.t, np.int64), **{f"m.{k}": v for k, v in self.m.items()},
                **{f"v.{k}": v for k, v in self.v.items()}}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        """Continue from ``state()`` of an optimiser over arrays of the same names and shapes."""
        self.t = int(state["t"])
        for k in self.m:
            self.m[k][...] = state[f"m.{k}"]
            self.v[k][...] = state[f"v.{k}"]


class SGD:
    def __init__(self, params: dict[str, np.ndarray]):
        self.t = 0

    def step(self, params: dict[str, np.ndarray], grads: dict, lr: float) -> None:
        self.t += 1
        for name, g in grads.items():
            if isinstance(g, rnn.SparseRows):
                params[name].T[g.index] -= lr * g.rows
            else:
                params[name] -= lr * g

    def state(self) -> dict[str, np.ndarray]:
        return {"t": np.array(self.t, np.int64)}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        self.t = int(state["t"])


OPTIMIZERS = {"adam": Adam, "sgd": SGD}


class WeightAverage:
    """Exponential moving average of the weights over the steps, bias-corrected as in Adam.

    Exact, and lazy for lookup tables: a column of U that no batch touched has not changed,
    so its average is brought up to date in one step when it is next touched or read.
    """

    def __init__(self, params: dict[str, np.ndarray], decay: float):
        self.decay, self.t = decay, 0
        self.sum = {k: np.zeros_like(v) for k, v in params.items()}  # sum_i decay^(t-i) (1-decay) p_i
        self.last = {k: np.zeros(v.shape[1], np.int64) for k, v in params.items() if k in rnn.LOOKUPS}

    def _catch_up(self, name: str, params, idx) -> None:
        """Bring columns idx of a table to step t: they kept their value since ``last``."""
        w = self.decay ** (self.t - self.last[name][idx]).astype(np.float64)  # (n,)
        S, P = self.sum[name].T, params[name].T  # (N, H) views
        S[idx] = (w[:, None] * S[idx] + (1.0 - w)[:, None] * P[idx]).astype(S.dtype)
        self.last[name][idx] = self.t

    def before_step(self, params, grads) -> None:
        for name, g in grads.items():
            if isinstance(g, rnn.SparseRows):
                self._catch_up(name, params, g.index)

    def after_step(self, params, grads) -> None:
        self.t += 1
        d = self.decay
        for name, g in grads.items():
            S, P = self.sum[name], params[name]
            if isinstance(g, rnn.SparseRows):
                S.T[g.index] = d * S.T[g.index] + (1.0 - d) * P.T[g.index]
                self.last[name][g.index] = self.t
            else:
                S *= d
                S += (1.0 - d) * P

    def averaged(self, params) -> dict[str, np.ndarray]:
        for name in self.last:
            self._catch_up(name, params, np.arange(params[name].shape[1]))
        correction = 1.0 / (1.0 - self.decay ** self.t) if self.t else 1.0
        return {k: (v * correction).astype(v.dtype, order="K") if self.t else params[k].copy(order="K")
                for k, v in self.sum.items()}

    def state(self) -> dict[str, np.ndarray]:
        """The running sums, when each table column was last brought up to date, and the step count."""
        return {"t": np.array(self.t, np.int64), **{f"sum.{k}": v for k, v in self.sum.items()},
                **{f"last.{k}": v for k, v in self.last.items()}}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        self.t = int(state["t"])
        for k in self.sum:
            self.sum[k][...] = state[f"sum.{k}"]
        for k in self.last:
            self.last[k][...] = state[f"last.{k}"]


def mean_gradients(a: dict, b: dict) -> dict:
    """(a + b) / 2 for two gradient dicts with the same names; sparse rows are merged by column."""
    out = {}
    for name, ga in a.items():
        gb = b[name]
        if isinstance(ga, rnn.SparseRows) and np.array_equal(ga.index, gb.index):
            out[name] = rnn.SparseRows(ga.index, (ga.rows + gb.rows) * ga.rows.dtype.type(0.5))
        elif isinstance(ga, rnn.SparseRows):
            index, where = np.unique(np.concatenate([ga.index, gb.index]), return_inverse=True)
            rows = np.zeros((len(index), ga.rows.shape[1]), ga.rows.dtype)
            np.add.at(rows, where, np.concatenate([ga.rows, gb.rows]))
            out[name] = rnn.SparseRows(index, rows * rows.dtype.type(0.5))
        else:
            out[name] = (ga + gb) * 0.5
    return out


def clip_gradients(grads: dict, max_norm: float) -> float:
    """Scale all gradients together so that their joint norm is at most ``max_norm``; returns the norm."""
    sq = 0.0
    for g in grads.values():
        a = g.rows if isinstance(g, rnn.SparseRows) else g
        sq += float(np.vdot(a, a))
    norm = math.sqrt(sq)
    if max_norm and norm > max_norm:
        scale = max_norm / norm
        for g in grads.values():
            (g.rows if isinstance(g, rnn.SparseRows) else g)[...] *= scale
    return norm
