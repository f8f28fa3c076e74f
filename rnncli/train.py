"""The training loop: batches, word dropout, optimiser, clipping, model selection, callbacks.

It knows the network only through ``rnn.loss_and_grads`` and reports progress through a
callback; the caller decides what to print. The loop is deterministic: one
``numpy.random.Generator`` seeded from the config drives initialisation, batch order,
word dropout and dropout, so the same seed gives the same model, to the bit.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace

import numpy as np

from . import modelfile, rnn
from .corpus import Sentence
from .errors import ModelFileError, TrainingError, shown
from .tagger import Tagger, check_history
from .vocab import IDENTITY_SLOTS, Vocab


@dataclass(frozen=True)
class TrainConfig:
    hidden: int = 64
    epochs: int = 10
    lr: float = 0.01
    batch_size: int = 16
    seed: int = 0
    optimizer: str = "adam"  # or "sgd"
    clip: float = 5.0  # largest gradient norm; 0 turns clipping off
    bidirectional: bool = False
    layers: int = 1
    features: str = "word"  # "word": the tutorial's one-hot; "form": plus suffixes, shape...
    min_count: int = 1  # a word needs this many occurrences for its own entry
    min_feature_count: int = 2  # likewise for a suffix, prefix or shape
    word_dropout: float = 0.25  # alpha: a word seen n times becomes <unk> with probability alpha/(alpha+n)
    dropout: float = 0.0  # on each layer's input projection and output
    patience: int = 0  # stop after this many epochs without a better dev accuracy; 0: never
    average: float = 0.0  # decay of an exponential moving average of the weights (e.g. 0.999); 0: off
    char_hidden: int = 0  # units of a character-level RNN over each word's letters; 0: none
    adversarial: float = 0.0  # size of the adversarial perturbation of U x_t per token; 0: off

    @classmethod
    def from_dict(cls, d: dict, strict: bool = False) -> TrainConfig:
        """The config in ``d`` (other keys ignored); ``strict``: every field must be there,
        of its type and in its range (a checkpoint's record), else ValueError or TypeError."""
        names = {f.name: f.type for f in fields(cls)}
        if not isinstance(d, dict):
            raise TypeError("the config is not an object")
        values = {k: v for k, v in d.items() if k in names}
        if strict:
            for name, kind in names.items():
                if name not in values:  # written before this field existed: its default
                    continue
                value = values[name]
                ok = {"int": isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**31,
                      "float": isinstance(value, (int, float)) and not isinstance(value, bool)
                      and math.isfinite(value) and value >= 0,
                      "bool": isinstance(value, bool),
                      "str": isinstance(value, str)}[kind]
                if not ok:
                    raise ValueError(f"config {name} is {value!r:.40}, not a {kind} of the allowed range")
        config = cls(**values)
        if strict and (config.optimizer not in OPTIMIZERS or config.features not in ("word", "form")
                       or min(config.hidden, config.layers, config.batch_size, config.epochs) < 1):
            raise ValueError("config: unknown optimizer or features, or a size below 1")
        return config


@dataclass
class Progress:
    """What the loop reports: ``kind`` is 'start', 'batch' or 'epoch'."""

    kind: str
    epoch: int
    epochs: int
    batch: int = 0
    batches: int = 0
    loss: float = math.nan
    dev_accuracy: float | None = None
    seconds: float = 0.0
    best: bool = False


class Diverged(TrainingError):
    """The loss stopped being a finite number; ``best`` is the best model so far, if any."""

    def __init__(self, message: str, best: Tagger | None):
        super().__init__(message)
        self.best = best


class Interrupted(TrainingError):
    """Ctrl-C: ``state`` is where the interrupted epoch began, ready to resume."""

    def __init__(self, state: TrainState):
        super().__init__(f"interrupted during epoch {state.epoch + 1}")
        self.state = state


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
        out = {f"adam.m.{k}": v for k, v in self.m.items()}
        out.update({f"adam.v.{k}": v for k, v in self.v.items()})
        return out


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
        return {}


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
        out = {f"average.sum.{k}": v for k, v in self.sum.items()}
        out.update({f"average.last.{k}": v for k, v in self.last.items()})
        out["average.t"] = np.array(self.t, np.int64)
        return out

    def restore(self, state: dict[str, np.ndarray]) -> None:
        self.t = int(state["average.t"])
        for k, v in state.items():
            if k != "average.t":
                _, part, name = k.split(".", 2)
                getattr(self, part)[name][...] = v


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


@dataclass
class TrainState:
    """Everything needed to continue training from the start of ``epoch`` (0-based)."""

    epoch: int
    params: dict[str, np.ndarray]
    optimizer_state: dict[str, np.ndarray]
    optimizer_t: int
    rng_state: dict
    history: list[dict] = field(default_factory=list)
    best_params: dict[str, np.ndarray] | None = None
    best_epoch: int = 0
    average_state: dict[str, np.ndarray] | None = None

    def copy(self) -> TrainState:
        return TrainState(self.epoch, _copied(self.params), _copied(self.optimizer_state), self.optimizer_t,
                          dict(self.rng_state), [dict(h) for h in self.history], _copied(self.best_params),
                          self.best_epoch, _copied(self.average_state))


def _copied(arrays: dict[str, np.ndarray] | None) -> dict[str, np.ndarray] | None:
    return None if arrays is None else {k: v.copy(order="K") for k, v in arrays.items()}


@dataclass
class Data:
    """A corpus turned into arrays once: (L, K) input indices and (L,) tag ids per sentence;
    for a character RNN also each token's word type and each type's letters."""

    ids: list[np.ndarray]
    tags: list[np.ndarray]
    lengths: np.ndarray
    types: list[np.ndarray] | None = None  # (L,) word type of each token
    letters: list[np.ndarray] | None = None  # type -> (l,) letter ids

    @classmethod
    def encode(cls, sentences: list[Sentence], vocab: Vocab, tag_index: dict[str, int]) -> Data:
        ids = [vocab.encode_sentence(s.words) for s in sentences]
        tags = [np.array([tag_index.get(t, -1) for t in s.tags], dtype=np.int64) for s in sentences]
        data = cls(ids, tags, np.array([len(s.words) for s in sentences]))
        if vocab.chars is not None:
            index: dict[str, int] = {}
            data.types = [np.array([index.setdefault(w, len(index)) for w in s.words], np.int64) for s in sentences]
            data.letters = [vocab.encode_chars(w) for w in index]
        return data

    def batch(self, which) -> tuple[np.ndarray, np.ndarray, np.ndarray, rnn.Lexicon | None]:
        """(T, B, K) ids, (B,) lengths, (T, B) tags, padded; and the batch's words letter by letter."""
        ids, lengths = rnn.pad([self.ids[i] for i in which])
        tags, _ = rnn.pad([self.tags[i] for i in which])
        lexicon = None
        if self.types is not None:
            # Token-level ids stay (word dropout changes tokens, not words); the lexicon brings the letters.
            types, _ = rnn.pad([self.types[i] for i in which])  # (T, B)
            distinct, words = np.unique(types, return_inverse=True)
            letters, n_letters = rnn.pad([self.letters[t] for t in distinct])
            lexicon = rnn.Lexicon(words.reshape(types.shape), None, letters, n_letters)
        return ids, lengths, tags, lexicon


def length_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator | None) -> list[np.ndarray]:
    """Sentences of similar length together, so that padding stays small; batches shuffled when rng is given."""
    keys = lengths + (rng.uniform(0.0, 2.0, size=len(lengths)) if rng is not None else 0.0)
    order = np.argsort(keys, kind="stable")
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    if rng is not None:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


def accuracy(params, shape: rnn.Shape, data: Data, batches: list[np.ndarray]) -> float:
    right = total = 0
    for which in batches:
        ids, lengths, tags, lexicon = data.batch(which)
        trace = rnn.forward(params, shape, ids, lengths, lexicon=lexicon)
        pred = trace.probs.argmax(axis=2)  # (T, B)
        right += int(((pred == tags) & trace.mask).sum())
        total += int(trace.mask.sum())
    return right / max(total, 1)


def build_vocab(sentences: list[Sentence], config: TrainConfig) -> tuple[Vocab, np.ndarray, list[str], Counter]:
    vocab, counts = Vocab.build((w for s in sentences for w in s.words), config.features,
                                config.min_count, config.min_feature_count, chars=config.char_hidden > 0)
    tag_counts = Counter(t for s in sentences for t in s.tags)
    tags = sorted(tag_counts, key=lambda t: (-tag_counts[t], t))
    return vocab, counts, tags, tag_counts


def train(sentences: list[Sentence], dev: list[Sentence] | None, config: TrainConfig,
          callback: Callable[[Progress], None] | None = None,
          resume: TrainState | None = None) -> Tagger:
    """Train a tagger. With ``dev``, the epoch with the best dev accuracy is the one returned."""
    if not sentences:
        raise TrainingError("no training sentences")
    report = callback or (lambda p: None)
    vocab, counts, tags, tag_counts = build_vocab(sentences, config)
    tag_index = {t: i for i, t in enumerate(tags)}
    shape = rnn.Shape(vocab.n_inputs, config.hidden, len(tags), config.bidirectional, config.layers,
                      vocab.n_chars, config.char_hidden)
    data = Data.encode(sentences, vocab, tag_index)
    dev_data = Data.encode(dev, vocab, tag_index) if dev else None
    dev_batches = length_batches(dev_data.lengths, 256, None) if dev_data else []
    unlearnable = sorted({t for s in dev or () for t in s.tags} - set(tag_index))

    rng = np.random.default_rng(config.seed)
    if resume is None:
        params = rnn.init_params(shape, rng)
        optimizer = OPTIMIZERS[config.optimizer](params)
        state = TrainState(0, params, optimizer.state(), 0, rng.bit_generator.state)
    else:
        _check_resume(resume, shape, config)
        state = resume.copy()
        params = state.params
        optimizer = OPTIMIZERS[config.optimizer](params)
        for k, v in state.optimizer_state.items():
            _, moment, name = k.split(".", 2)
            getattr(optimizer, moment)[name][...] = v
        optimizer.t = state.optimizer_t
        rng.bit_generator.state = state.rng_state

    average = WeightAverage(params, config.average) if config.average else None
    if average and resume is not None and resume.average_state:
        average.restore(resume.average_state)

    # Word dropout: identity slots only, so a rare word still keeps its suffixes and shape.
    drop_slots = [(k, vocab.offsets[k]) for k, s in enumerate(vocab.slots) if s in IDENTITY_SLOTS]
    keep_prob = (counts / (counts + config.word_dropout)) if config.word_dropout else None
    run = _Run(config, shape, vocab, tags, tag_counts, unlearnable, data, dev_data, dev_batches,
               params, optimizer, average, rng, drop_slots, keep_prob, report, state)

    report(Progress("start", state.epoch, config.epochs))
    snapshot = None
    while state.epoch < config.epochs:
        try:
            # Interrupted while this snapshot is taken, the previous one (an epoch earlier) is
            # still a valid place to resume from.
            snapshot = run.snapshot()
            stop = run.epoch()
        except KeyboardInterrupt:
            if snapshot is None:  # not one step taken yet: nothing to keep
                raise
            # Wherever it lands, resuming from the start of this epoch replays it exactly.
            raise Interrupted(snapshot) from None
        if stop:
            break
    return run.best_tagger()


@dataclass
class _Run:
    """One training run's working parts, so that an epoch is one method."""

    config: TrainConfig
    shape: rnn.Shape
    vocab: Vocab
    tags: list[str]
    tag_counts: Counter
    unlearnable: list[str]
    data: Data
    dev_data: Data | None
    dev_batches: list[np.ndarray]
    params: dict[str, np.ndarray]
    optimizer: Adam | SGD
    average: WeightAverage | None
    rng: np.random.Generator
    drop_slots: list[tuple[int, int]]  # (slot number, its <unk> index) for word dropout
    keep_prob: np.ndarray | None  # (n_inputs,) chance that an entry survives word dropout
    report: Callable[[Progress], None]
    state: TrainState

    def best_tagger(self) -> Tagger | None:
        state = self.state
        if state.best_params is None:
            return None
        return Tagger(self.shape, state.best_params, self.vocab, self.tags,
                      _info(self.config, state, self.tag_counts, self.unlearnable))

    def snapshot(self) -> TrainState:
        """Where training stands now, copied: the optimiser, averaging and random state live in
        their own objects, not in ``self.state``."""
        return replace(self.state, optimizer_state=self.optimizer.state(), optimizer_t=self.optimizer.t,
                       rng_state=self.rng.bit_generator.state,
                       average_state=self.average.state() if self.average else None).copy()

    def epoch(self) -> bool:
        """One pass over the training data, then the dev score; True when patience has run out."""
        # Overflow shows up as a non-finite loss, reported as divergence; no NumPy warnings on the way.
        with np.errstate(over="ignore", invalid="ignore"):
            return self._epoch()

    def _epoch(self) -> bool:
        config, state, rng, params, average = self.config, self.state, self.rng, self.params, self.average
        epoch = state.epoch
        started = time.perf_counter()
        batches = length_batches(self.data.lengths, config.batch_size, rng)
        total_loss = 0.0
        for b, which in enumerate(batches):
            ids, lengths, gold, lexicon = self.data.batch(which)
            if self.keep_prob is not None:
                for k, unk in self.drop_slots:
                    col = ids[:, :, k]
                    col[rng.random(col.shape) >= self.keep_prob[col]] = unk
            loss, grads = rnn.loss_and_grads(params, self.shape, ids, lengths, gold, lexicon=lexicon,
                                             dropout=config.dropout, rng=rng,
                                             with_inputs=bool(config.adversarial))
            if config.adversarial:
                # Adversarial training: the loss again with U x_t pushed the way that hurt the first
                # pass most (with dropout masks of its own); the step follows the mean of the two gradients.
                perturb = rnn.adversarial_perturbation(grads, self.shape, lengths, config.adversarial)
                adv_loss, adv = rnn.loss_and_grads(params, self.shape, ids, lengths, gold, lexicon=lexicon,
                                                   dropout=config.dropout, rng=rng, perturb=perturb)
                grads = mean_gradients(grads, adv)
                if not math.isfinite(adv_loss):
                    loss = adv_loss  # reported as the divergence it is
            if not math.isfinite(loss):
                raise Diverged(f"training diverged: loss is {loss} at epoch {epoch + 1}, batch {b + 1} "
                               f"(try a smaller --lr)", self.best_tagger())
            clip_gradients(grads, config.clip)
            if average:
                average.before_step(params, grads)
            self.optimizer.step(params, grads, config.lr)
            if average:
                average.after_step(params, grads)
            total_loss += loss
            self.report(Progress("batch", epoch, config.epochs, b + 1, len(batches), loss))
        weights = average.averaged(params) if average else params
        dev_acc = accuracy(weights, self.shape, self.dev_data, self.dev_batches) if self.dev_data else None
        seconds = time.perf_counter() - started
        mean_loss = total_loss / len(batches)
        best_so_far = state.history[state.best_epoch - 1]["dev_accuracy"] if state.best_params else None
        better = dev_acc is None or best_so_far is None or dev_acc > best_so_far
        if better:
            state.best_params = _copied(weights)
            state.best_epoch = epoch + 1
        state.history.append({"epoch": epoch + 1, "loss": round(mean_loss, 6),
                              "dev_accuracy": None if dev_acc is None else round(dev_acc, 6),
                              "seconds": round(seconds, 3)})
        state.epoch += 1
        self.report(Progress("epoch", epoch, config.epochs, len(batches), len(batches), mean_loss, dev_acc,
                             seconds, better))
        return bool(config.patience and dev_acc is not None and state.epoch - state.best_epoch >= config.patience)


def _check_resume(resume: TrainState, shape: rnn.Shape, config: TrainConfig) -> None:
    """A checkpoint's arrays must be the ones this run would have: same names, same shapes."""
    expected = shape.param_shapes()
    groups = [("params", resume.params, expected)]
    if config.optimizer == "adam":
        groups.append(("optimizer", resume.optimizer_state,
                       {f"adam.{m}.{k}": v for m in "mv" for k, v in expected.items()}))
    if resume.best_params is not None:
        groups.append(("best", resume.best_params, expected))
    for group, arrays, shapes in groups:
        missing = sorted(set(shapes) - set(arrays))
        if missing:
            raise TrainingError(f"the checkpoint does not fit this run: {group}.{missing[0]} is missing")
        for name, dims in shapes.items():
            if arrays[name].shape != tuple(dims):
                raise TrainingError(f"the checkpoint does not fit this run: {group}.{name} has shape "
                                    f"{arrays[name].shape}, not {tuple(dims)}")
    if config.average and not resume.average_state:
        raise TrainingError("the checkpoint does not fit this run: it has no weight average")


def _info(config: TrainConfig, state: TrainState, tag_counts: Counter, unlearnable: list[str]) -> dict:
    best = state.history[state.best_epoch - 1] if state.history else {}
    return {
        "training": {
            "hyper_parameters": asdict(config),
            "history": state.history,
            "best_epoch": state.best_epoch,
            "dev_accuracy": best.get("dev_accuracy"),
            "tag_counts": dict(sorted(tag_counts.items(), key=lambda kv: (-kv[1], kv[0]))),
            "tokens": int(sum(tag_counts.values())),
            "unlearnable_dev_tags": unlearnable,
        }
    }


# -- checkpoints -------------------------------------------------------------------------------

CHECKPOINT_KIND = "rnncli-checkpoint"


def fingerprint(sentences: list[Sentence]) -> str:
    """A digest of the training data, so that a checkpoint resumes only on the same corpus."""
    h = hashlib.sha256()
    for s in sentences:
        h.update("\x1f".join(s.words).encode("utf-8", "surrogatepass") + b"\x1e")
        h.update("\x1f".join(s.tags).encode("utf-8", "surrogatepass") + b"\x1d")
    return h.hexdigest()[:16]


def save_checkpoint(path, state: TrainState, config: TrainConfig, data_fingerprint: str) -> None:
    """Write where training stands (start of ``state.epoch``) to one file, atomically."""
    arrays = {f"params.{k}": v for k, v in state.params.items()}
    arrays.update({f"optimizer.{k}": v for k, v in state.optimizer_state.items()})
    arrays.update({f"best.{k}": v for k, v in (state.best_params or {}).items()})
    arrays.update({f"ema.{k}": v for k, v in (state.average_state or {}).items()})
    modelfile.save(path, arrays, {
        "kind": CHECKPOINT_KIND, "config": asdict(config), "data": data_fingerprint, "epoch": state.epoch,
        "optimizer_t": state.optimizer_t, "rng_state": state.rng_state, "history": state.history,
        "best_epoch": state.best_epoch})


def load_checkpoint(path, name: str | None = None) -> tuple[TrainState, TrainConfig, str]:
    """(state, config, data fingerprint) from a checkpoint file, its record checked like a model's."""
    label = name or shown(path)
    record = {}

    def expected(meta: dict) -> dict[str, None]:
        if meta.get("kind") != CHECKPOINT_KIND:
            raise ModelFileError(f"{label}: not a training checkpoint")
        config = TrainConfig.from_dict(meta["config"], strict=True)
        epoch, t, best_epoch = (_count(meta[k], k) for k in ("epoch", "optimizer_t", "best_epoch"))
        history = meta["history"]
        check_history(history)
        if len(history) != epoch or best_epoch > epoch:
            raise ValueError(f"{len(history)} epochs of history, epoch {epoch}, best epoch {best_epoch}")
        rng_state = meta["rng_state"]
        if not isinstance(rng_state, dict):
            raise TypeError("rng_state is not an object")
        np.random.default_rng().bit_generator.state = rng_state  # raises if it is not a generator's state
        data = meta["data"]
        if not isinstance(data, str):
            raise TypeError("data is not a fingerprint")
        record.update(config=config, epoch=epoch, t=t, best_epoch=best_epoch, history=history,
                      rng_state=rng_state, data=data)
        names = list(rnn.Shape(1, 1, 1, config.bidirectional, config.layers, int(config.char_hidden > 0),
                               config.char_hidden).param_shapes())
        members = [f"params.{k}" for k in names]
        if config.optimizer == "adam":
            members += [f"optimizer.adam.{m}.{k}" for m in "mv" for k in names]
        if best_epoch:
            members += [f"best.{k}" for k in names]
        if config.average:
            members += [f"ema.average.sum.{k}" for k in names]
            members += [f"ema.average.last.{k}" for k in names if k in rnn.LOOKUPS] + ["ema.average.t"]
        return dict.fromkeys(members)

    arrays, _ = modelfile.load(path, "checkpoint", expected, label)
    for key, a in arrays.items():
        if a.dtype.kind != ("i" if key.startswith("ema.average.last.") or key == "ema.average.t" else "f"):
            raise ModelFileError(f"{label}: damaged checkpoint (array {key} is {a.dtype})")
    arrays = {key: np.array(a) for key, a in arrays.items()}  # writable: training goes on in them

    def part(prefix):
        return {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
    params = {k: np.asfortranarray(v) if k in rnn.LOOKUPS else v for k, v in part("params.").items()}
    state = TrainState(record["epoch"], params, part("optimizer."), record["t"], record["rng_state"],
                       record["history"], part("best.") or None, record["best_epoch"], part("ema.") or None)
    return state, record["config"], record["data"]


def _count(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
        raise ValueError(f"{what} is not a count: {value!r:.40}")
    return value
