"""Training: the loop (batches, word dropout, optimiser, clipping, model selection) and the
``Trainer`` that owns a run's whole life, from reading the corpora to the model file.

The loop knows the network only through ``rnn.loss_and_grads`` and reports progress through a
callback; the caller decides what to print. It is deterministic: one ``numpy.random.Generator``
seeded from the config drives initialisation, batch order, word dropout and dropout, so the
same seed gives the same model, to the bit (with the same number of BLAS threads).
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import threading
import time
from collections import Counter
from itertools import chain, count, repeat
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from . import checkpoint, modelfile, rnn
from .checkpoint import TrainState, copied
from .config import CHECKPOINTED, FEATURE_SETS, RESUMABLE, TrainConfig
from .corpus import Sentence, check_stdin_once, check_tag_column, read_corpora
from .errors import ModelFileError, OptionError, RnncliError, Stopped, TrainingError, shown
from .metrics import check_tag_set
from .record import Record, Training
from .optim import OPTIMIZERS, WeightAverage, clip_gradients, mean_gradients
from .tagger import Tagger
from .lexicon import Lexicon, english
from .vocab import CASE_SLOT, CASES, IDENTITY_SLOTS, Vocab, keyed, needs_lexicon, recased


@dataclass
class Progress:
    """What the loop reports: ``kind`` is 'start' (once, before the first step), 'batch' or 'epoch'."""

    kind: str
    epoch: int
    epochs: int
    batch: int = 0
    batches: int = 0
    loss: float = math.nan
    dev_accuracy: float | None = None
    seconds: float = 0.0
    best: bool = False
    model: Tagger | None = None  # 'start', 'epoch': the network as it stands ('epoch': as it would be saved)


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


@dataclass
class Data:
    """A corpus turned into arrays once, its sentences one after another: each token's columns of
    U (x_t's K slots) and tag; for a character RNN also each token's word type and each type's
    letters. A batch is gathered from them in one indexing step, not sentence by sentence, and a
    corpus of millions of sentences is a few arrays, not millions of them."""

    ids: np.ndarray  # (N, K) int32: every token's columns of U
    tags: np.ndarray  # (N,) int64: every token's tag number, -1 for a tag the model has not
    lengths: np.ndarray  # (S,) int64: the sentences' lengths; they follow one another in ids
    words: np.ndarray | None = None  # (N,) which distinct word of the corpus each token is
    letters: list[np.ndarray] | None = None  # type -> (l,) letter ids

    def __post_init__(self):
        self.starts = np.cumsum(self.lengths) - self.lengths  # (S,) each sentence's first token

    @classmethod
    def encode(cls, sentences: list[Sentence], vocab: Vocab, tag_index: dict[str, int]) -> Data:
        # A corpus repeats its words: each distinct one is encoded once, and the tokens are
        # numbered by dict look-ups that map() runs in C, not by a Python step per token.
        lengths = np.fromiter(map(len, (s.words for s in sentences)), np.int64, len(sentences))
        n = int(lengths.sum())

        def keys():  # every token as vocab.encode takes it, sentence after sentence
            return chain.from_iterable(map(vocab.keyed, (s.words for s in sentences)))

        distinct = list(set(keys()))
        row = {key: i for i, key in enumerate(distinct)}
        table = np.array(vocab.encode_all(distinct), np.int32).reshape(len(distinct), vocab.n_slots)
        ids = table[np.fromiter(map(row.__getitem__, keys()), np.int64, n)]  # (N, K)
        tags = np.fromiter(map(tag_index.get, chain.from_iterable(s.tags for s in sentences), repeat(-1)), np.int64, n)
        data = cls(ids, tags, lengths)
        if vocab.chars is not None:
            # Each distinct word's number, in order of appearance: setdefault keeps the count of
            # the token where a word first appears, and np.unique makes those counts 0, 1, 2...
            first: dict[str, int] = {}
            seen = np.fromiter(map(first.setdefault, chain.from_iterable(s.words for s in sentences), count()),
                               np.int64, n)
            _, data.words = np.unique(seen, return_inverse=True)
            data.letters = [vocab.encode_chars(w) for w in first]
        return data

    def gather(self, column: np.ndarray, which) -> tuple[np.ndarray, np.ndarray]:
        """The rows of ``column`` (ids, tags or words) of sentences ``which``, time-major and
        padded with 0, as ``rnn.pad`` lays them out: (T, B, ...), and (B,) lengths."""
        lengths = self.lengths[which]
        steps = np.arange(lengths.max() if len(lengths) else 0)[:, None]  # (T, 1)
        inside = steps < lengths  # (T, B)
        out = column[np.where(inside, self.starts[which] + steps, 0)]  # (T, B, ...)
        out[~inside] = 0
        return out, lengths

    def batch(self, which) -> tuple[np.ndarray, np.ndarray, np.ndarray, rnn.WordTypes | None]:
        """(T, B, K) ids, (B,) lengths, (T, B) tags, padded; and the batch's words letter by letter."""
        ids, lengths = self.gather(self.ids, which)
        tags, _ = self.gather(self.tags, which)
        types = None
        if self.words is not None:
            # Token-level ids stay (word dropout changes tokens, not words); the word types bring the letters.
            corpus_words, _ = self.gather(self.words, which)  # (T, B)
            distinct, words = np.unique(corpus_words, return_inverse=True)
            letters, n_letters = rnn.pad([self.letters[t] for t in distinct])
            types = rnn.WordTypes(words.reshape(corpus_words.shape), None, letters, n_letters)
        return ids, lengths, tags, types


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
        ids, lengths, tags, types = data.batch(which)
        trace = rnn.forward(params, shape, ids, lengths, types=types)
        pred = trace.probs.argmax(axis=2)  # (T, B)
        right += int(((pred == tags) & trace.mask).sum())
        total += int(trace.mask.sum())
    return right / max(total, 1)


def build_vocab(sentences: list[Sentence], config: TrainConfig,
                lexicon: Lexicon | None = None) -> tuple[Vocab, np.ndarray, list[str], Counter]:
    """The vocabulary of the training sentences; the 'lexicon' features read ``lexicon``, by
    default the English one from spacy-lookups-data."""
    if lexicon is None and needs_lexicon(FEATURE_SETS[config.features]):
        lexicon = english()
    by_case = CASE_SLOT in FEATURE_SETS[config.features]  # words keyed with their sentence's case
    words = (w for s in sentences for w in (keyed(s.words) if by_case else s.words))
    # New models read the lexicon case-blind for a sentence all in one case (Lexicon.values); a
    # model file says which way its vocabulary reads (vocab.case_blind), so older files keep theirs.
    vocab, counts = Vocab.build(words, config.features, config.min_count, config.min_feature_count,
                                chars=config.char_hidden > 0, lexicon=lexicon, case_blind=True)
    tag_counts = Counter(t for s in sentences for t in s.tags)
    tags = sorted(tag_counts, key=lambda t: (-tag_counts[t], t))
    return vocab, counts, tags, tag_counts


def word_dropout(ids: np.ndarray, slots: list[tuple[int, int]], keep_prob: np.ndarray,
                 rng: np.random.Generator) -> None:
    """Replace, in place, entries of ``ids`` (T, B, K) in the given (slot number, <unk> index)
    slots by their slot's <unk>, each with probability 1 - keep_prob[entry]."""
    for k, unk in slots:
        col = ids[:, :, k]  # (T, B) view
        col[rng.random(col.shape) >= keep_prob[col]] = unk


def dropout_slots(vocab: Vocab) -> list[tuple[int, int]]:
    """Word dropout touches the identity slots only, so that a rare word keeps its suffixes and shape."""
    return [(k, vocab.offsets[k]) for k, s in enumerate(vocab.slots) if s in IDENTITY_SLOTS]


def train(sentences: list[Sentence], dev: list[Sentence] | None, config: TrainConfig,
          callback: Callable[[Progress], None] | None = None,
          resume: TrainState | None = None, lexicon: Lexicon | None = None) -> Tagger:
    """Train a tagger in memory. With ``dev``, the epoch with the best dev accuracy is the one
    returned. Ctrl-C raises ``Interrupted`` with a state to resume from, a loss that is not a
    number ``Diverged`` with the best tagger so far. ``lexicon``: the table the 'lexicon'
    features read (default: ``lexicon.english()``)."""
    return _train(sentences, dev, config, callback, resume, lexicon).best_tagger()


def _train(sentences: list[Sentence], dev: list[Sentence] | None, config: TrainConfig,
           callback: Callable[[Progress], None] | None, resume: TrainState | None, lexicon: Lexicon | None) -> Run:
    """``train``, returning the run itself: its state is the checkpoint of a finished run."""
    if not sentences:
        raise TrainingError("no training sentences")
    run = Run(sentences, dev, config, callback or (lambda p: None), resume, lexicon)
    taught = run.corpus  # the network before its first step here: what it tags, for a display to check against
    run.report(Progress("start", run.state.epoch, config.epochs,
                        model=Tagger(taught.shape, run.params, taught.vocab, taught.tags)))
    snapshot = None
    while run.state.epoch < config.epochs and not run.out_of_patience():  # resumed: it may be done
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
    return run


class TrainingSet:
    """What a run trains on, encoded once: the vocabulary and tag set, the network's shape, the
    training sentences (with --recase, their recased copies too) and the dev set."""

    def __init__(self, sentences: list[Sentence], dev: list[Sentence] | None, config: TrainConfig,
                 lexicon: Lexicon | None):
        self.recase = config.recase
        # counts: (n_inputs,) each entry's occurrences in training, for store_min_count
        self.vocab, self.counts, self.tags, self.tag_counts = build_vocab(sentences, config, lexicon)
        tag_index = {t: i for i, t in enumerate(self.tags)}
        self.shape = rnn.Shape(self.vocab.n_inputs, config.hidden, len(self.tags), config.bidirectional,
                               config.layers, self.vocab.n_chars, config.char_hidden)
        # With --recase, every sentence is encoded three times: as written, then lower-cased, then
        # capitalised; each epoch draws its share of the other two (``epoch_sentences``).
        self.n_sentences = len(sentences)
        copies = [s._replace(words=words) for case in CASES for s, words in
                  zip(sentences, recased([s.words for s in sentences], case))] if config.recase else []
        self.data = Data.encode(sentences + copies, self.vocab, tag_index)
        self.dev_data = Data.encode(dev, self.vocab, tag_index) if dev else None
        self.dev_batches = length_batches(self.dev_data.lengths, 256, None) if dev else []
        self.unlearnable = sorted({t for s in dev or () for t in s.tags} - set(tag_index))
        self.drop_slots = dropout_slots(self.vocab)
        counts = self.counts
        self.keep_prob = counts / (counts + config.word_dropout) if config.word_dropout else None  # (n_inputs,)

    def epoch_sentences(self, rng: np.random.Generator) -> np.ndarray:
        """The sentences of an epoch: all as written, and with --recase a share drawn afresh
        of each recased copy."""
        n = self.n_sentences
        chosen = [np.arange(n)]
        if self.recase:
            k = round(self.recase * n)
            chosen += [n * (1 + c) + rng.choice(n, k, replace=False) for c in range(len(CASES))]
        return np.concatenate(chosen)


def gradients(params: dict[str, np.ndarray], shape: rnn.Shape, batch: tuple, config: TrainConfig,
              rng: np.random.Generator) -> tuple[float, dict]:
    """The loss of one batch (``Data.batch``) and its gradients, with dropout and, with
    --adversarial, the mean of the plain and the adversarial pass."""
    ids, lengths, gold, types = batch
    loss, grads = rnn.loss_and_grads(params, shape, ids, lengths, gold, types=types, dropout=config.dropout,
                                     rng=rng, with_inputs=bool(config.adversarial))
    if config.adversarial:
        # Adversarial training: the loss again with U x_t pushed the way that hurt the first
        # pass most (with dropout masks of its own); the step follows the mean of the two gradients.
        perturb = rnn.adversarial_perturbation(grads, shape, lengths, config.adversarial)
        adv_loss, adv = rnn.loss_and_grads(params, shape, ids, lengths, gold, types=types,
                                           dropout=config.dropout, rng=rng, perturb=perturb)
        grads = mean_gradients(grads, adv)
        if not adv_loss <= DIVERGED:
            loss = adv_loss  # reported as the divergence it is
    return loss, grads


class Run:
    """One training run's moving parts: the weights, the optimiser, the weight average and the
    random state, over a ``TrainingSet``; an epoch is one method."""

    def __init__(self, sentences: list[Sentence], dev: list[Sentence] | None, config: TrainConfig,
                 report: Callable[[Progress], None], resume: TrainState | None, lexicon: Lexicon | None):
        self.config, self.report = config, report
        self.corpus = TrainingSet(sentences, dev, config, lexicon)
        self.rng = np.random.default_rng(config.seed)
        self.params = rnn.init_params(self.corpus.shape, self.rng)
        self.optimizer = OPTIMIZERS[config.optimizer](self.params)
        self.average = WeightAverage(self.params, config.average) if config.average else None
        self.state = TrainState(0, self.params, self.optimizer.state(), self.rng.bit_generator.state)
        if resume is not None:
            self._resume(resume)

    def _resume(self, saved: TrainState) -> None:
        """Continue from a checkpoint's state: its arrays must be those this run has, by name and shape."""
        saved.check_fits(replace(self.state, average=self.average.state() if self.average else None))
        state = saved.copy()
        for name, a in state.params.items():
            self.params[name][...] = a  # the live arrays: the optimiser and the average hold them
        state.params = self.params
        self.optimizer.load_state(state.optimizer)
        if self.average:
            self.average.load_state(state.average)
        self.rng.bit_generator.state = state.rng_state
        self.state = state

    def best_tagger(self) -> Tagger | None:
        state = self.state
        if state.best_params is None:
            return None
        taught = self.corpus
        tagger = Tagger(taught.shape, state.best_params, taught.vocab, taught.tags,
                        Record(_training_record(self.config, state, taught.tag_counts, taught.unlearnable)))
        return as_stored(tagger, taught.counts, self.config)

    def snapshot(self) -> TrainState:
        """Where training stands now, copied: the optimiser, averaging and random state live in
        their own objects, not in ``self.state``."""
        return replace(self.state, optimizer=self.optimizer.state(), rng_state=self.rng.bit_generator.state,
                       average=self.average.state() if self.average else None).copy()

    def epoch(self) -> bool:
        """One pass over the training data, then the dev score; True when patience has run out."""
        # Overflow shows up as a non-finite loss, reported as divergence; no NumPy warnings on the way.
        with np.errstate(over="ignore", invalid="ignore"):
            return self._epoch()

    def _epoch(self) -> bool:
        config, state, rng, params, average = self.config, self.state, self.rng, self.params, self.average
        taught = self.corpus
        epoch = state.epoch
        started = time.perf_counter()
        chosen = taught.epoch_sentences(rng)
        batches = [chosen[b] for b in length_batches(taught.data.lengths[chosen], config.batch_size, rng)]
        total_loss = 0.0
        for b, which in enumerate(batches):
            batch = taught.data.batch(which)
            if taught.keep_prob is not None:
                word_dropout(batch[0], taught.drop_slots, taught.keep_prob, rng)
            loss, grads = gradients(params, taught.shape, batch, config, rng)
            if not loss <= DIVERGED:  # NaN too
                raise Diverged(f"training diverged: loss is {loss:.4g} at epoch {epoch + 1}, batch {b + 1} "
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
        dev_acc = accuracy(weights, taught.shape, taught.dev_data, taught.dev_batches) if taught.dev_data else None
        seconds = time.perf_counter() - started
        mean_loss = total_loss / len(batches)
        best_so_far = state.history[state.best_epoch - 1]["dev_accuracy"] if state.best_params else None
        better = dev_acc is None or best_so_far is None or dev_acc > best_so_far
        if better:
            state.best_params = copied(weights)
            state.best_epoch = epoch + 1
        state.history.append({"epoch": epoch + 1, "loss": round(mean_loss, 6),
                              "dev_accuracy": None if dev_acc is None else round(dev_acc, 6),
                              "seconds": round(seconds, 3)})
        state.epoch += 1
        self.report(Progress("epoch", epoch, config.epochs, len(batches), len(batches), mean_loss, dev_acc,
                             seconds, better, Tagger(taught.shape, weights, taught.vocab, taught.tags)))
        return self.out_of_patience()

    def out_of_patience(self) -> bool:
        """--patience epochs without a better dev score: training is over."""
        state, patience = self.state, self.config.patience
        return bool(patience and self.corpus.dev_data is not None and state.epoch - state.best_epoch >= patience)


# A mean loss per word beyond which training has diverged, though the loss is still a number:
# o_t[y_t] = e^-1000, a probability no float holds, is what weights blown up by a step give.
DIVERGED = 1000.0


def as_stored(tagger: Tagger, counts: np.ndarray, config: TrainConfig) -> Tagger:
    """The tagger as its model file keeps it (``store``, ``store_min_count``): without the word
    entries seen fewer than ``store_min_count`` times (``counts``: (n_inputs,) occurrences of each
    entry), its record naming how ``save`` stores the arrays."""
    if config.store_min_count > 1:
        # Rare words' columns are half of U in EWT; their other slots stay, so little is lost.
        keep = np.ones(tagger.shape.n_inputs, bool)
        start = tagger.vocab.offsets[tagger.vocab.slots.index("word")]
        end = start + len(tagger.vocab.tables["word"])
        keep[start:end] = counts[start:end] >= config.store_min_count
        tagger = tagger.pruned(keep)
    tagger.record.stored_dtype = config.store
    return tagger


def _training_record(config: TrainConfig, state: TrainState, tag_counts: Counter, unlearnable: list[str]) -> Training:
    best = state.history[state.best_epoch - 1] if state.history else {}
    return Training(hyper_parameters=config.to_dict(), history=state.history, best_epoch=state.best_epoch,
                    dev_accuracy=best.get("dev_accuracy"),
                    tag_counts=dict(sorted(tag_counts.items(), key=lambda kv: (-kv[1], kv[0]))),
                    tokens=int(sum(tag_counts.values())), unlearnable_dev_tags=unlearnable)


# -- a whole run ------------------------------------------------------------------------------------

@dataclass
class Trainer:
    """One training run to a model file, through its whole life: it checks that the outputs
    can be written, resumes from a checkpoint, reads the corpora, trains, and writes the model.
    Ctrl-C, SIGTERM, SIGHUP or SIGQUIT stops it with a checkpoint and the output untouched; a
    model that cannot be written (a full disk) leaves the finished run in a checkpoint; a loss
    that is not a number, or is past ``DIVERGED``, stops it with the best model so far written.
    Each ends in an ``RnncliError`` whose message says what happened (``Stopped`` for a signal,
    with the shell's status).

    ``given`` names the hyper-parameters the user chose: resuming, those must agree with the
    checkpoint (the rest are taken from it). ``callback`` sees the loop's progress, ``warn``
    each warning (malformed sentences skipped).
    """

    config: TrainConfig
    corpora: list[Path]
    output: Path
    dev: Path | None = None
    fmt: str | None = None
    tag_column: str = "upos"
    strict: bool = False
    checkpoint: Path | None = None  # default: the output's name with .ckpt.npz
    resume: Path | None = None
    given: Collection[str] = ()
    callback: Callable[[Progress], None] | None = None
    warn: Callable[[str], None] | None = None

    def run(self) -> Tagger:
        output, inputs = Path(self.output), [*self.corpora, *([self.dev] if self.dev else [])]
        self._check_names(inputs)
        ckpt = Path(self.checkpoint or output.with_name(output.name.removesuffix(".npz") + ".ckpt.npz"))
        self._check_outputs(inputs, ckpt)
        config, state, data_id, run = self.config, None, None, None
        resumed = modelfile.signature(self.resume) if self.resume else None  # as it was: removed at the end
        if self.resume:
            state, saved, data_id = checkpoint.load(self.resume)
            config = self._resumed_config(saved, state.epoch)
        with _stop_signals() as stopped:
            try:
                sentences, dev = self._read()
                data_now = f"{checkpoint.fingerprint(sentences)}/{checkpoint.fingerprint(dev) if dev else 'no dev'}"
                self._check_data(data_id, data_now)
                run = _train(sentences, dev, config, self.callback, state, None)
                stopped.phase = "trained"  # from here, a stop keeps the finished run as a checkpoint
                tagger = run.best_tagger()
                before = modelfile.signature(output)  # what is there now: the old model, or nothing
                stopped.phase = "writing"
                self._write(tagger)
            except Interrupted as e:
                stopped.hold()  # a second Ctrl-C must not cut the checkpoint short
                what = f"{stopped.word} in epoch {e.state.epoch + 1}; {shown(output)} not written"
                try:
                    checkpoint.save(ckpt, e.state, config, data_now)
                except RnncliError as failed:
                    raise Stopped(f"{what}; no checkpoint: {failed}", stopped.status) from None
                raise Stopped(f"{what}; checkpoint saved to {shown(ckpt)}; continue with the same command and "
                              f"--resume {shown(ckpt)}", stopped.status) from None
            except KeyboardInterrupt:
                if stopped.phase == "writing" and modelfile.signature(output) != before:  # renamed into place
                    raise Stopped(f"{stopped.word} just after writing {shown(output)}; it holds the trained model",
                                  stopped.status) from None
                if stopped.phase in ("trained", "writing"):
                    stopped.hold()
                    when = f"while writing {shown(output)}; it is unchanged" if stopped.phase == "writing" \
                        else f"after training, before writing {shown(output)}"
                    raise Stopped(self._kept(f"{stopped.word} {when}", run, ckpt, config, data_now),
                                  stopped.status) from None
                raise Stopped(f"{stopped.word} before training began; {shown(output)} not written",
                              stopped.status) from None
            except ModelFileError as e:
                if stopped.phase != "writing":
                    raise
                stopped.hold()
                raise TrainingError(self._kept(str(e), run, ckpt, config, data_now)) from None
            except Diverged as e:
                if e.best is None:
                    raise
                stopped.hold()  # the best model so far is written whole: a second or so
                self._write(e.best)
                raise TrainingError(f"{e}; kept the best model so far (epoch "
                                    f"{e.best.record.training.best_epoch}) in {shown(output)}") from None
        if self.resume and ckpt.resolve() == Path(self.resume).resolve() and modelfile.signature(ckpt) == resumed:
            ckpt.unlink(missing_ok=True)  # used up (unless another run saved its own there meanwhile)
        return tagger

    def _read(self) -> tuple[list[Sentence], list[Sentence] | None]:
        """The training corpora and the dev set, which must be in their tag set."""
        sentences = read_corpora(self.corpora, self.fmt, self.tag_column, self.strict, "training", self.warn)
        if not self.dev:
            return sentences, None
        dev = read_corpora([self.dev], self.fmt, self.tag_column, self.strict, "dev", self.warn)
        check_tag_set(dev, sorted({t for s in sentences for t in s.tags}), str(self.dev), "the training corpora")
        return sentences, dev

    @staticmethod
    def _kept(what: str, run: Run, ckpt: Path, config: TrainConfig, data: str) -> str:
        """The trained model could not be written (``what``): the finished run is saved as a
        checkpoint, so that --resume writes the model without training again. The message."""
        try:
            checkpoint.save(ckpt, run.snapshot(), config, data)
        except RnncliError as failed:
            return f"{what}; no checkpoint either: {failed}"
        return f"{what}; the trained run is kept in {shown(ckpt)}: write the model with the same command and " \
               f"--resume {shown(ckpt)}"

    def _check_data(self, saved: str | None, now: str) -> None:
        """A resumed run reads the corpora its checkpoint was made from: said which differs."""
        if not self.resume or saved == now:
            return
        (train_then, _, dev_then), (train_now, _, dev_now) = str(saved).partition("/"), now.partition("/")
        which = "other training data" if train_then != train_now else \
            "--dev, which this run does not give" if dev_now == "no dev" else \
            "no --dev, which this run gives" if dev_then == "no dev" else "another --dev corpus"
        raise RnncliError(f"{shown(self.resume)}: this checkpoint was made with {which}; resume with the "
                          f"corpora it was made from")

    def _check_names(self, inputs: list[Path]) -> None:
        """Paths that name no file, and stdin named twice: before a checkpoint's name is made of them."""
        for option, path in (("--output", self.output), ("--checkpoint", self.checkpoint)):
            if path is not None and not Path(path).name:  # "" (a variable unset, read as "."), "." or "/"
                hint = " (an empty path is read as '.')" if str(path) == "." else ""
                raise OptionError(option, f"{shown(path)} names no file{hint}; give a file name")
        check_stdin_once(inputs, "CORPUS")

    def _check_outputs(self, inputs: list[Path], ckpt: Path) -> None:
        """Found out now, not after the training it would lose."""
        if self.config.patience and self.dev is None:
            raise OptionError("--patience", "--patience needs --dev to measure progress")
        check_tag_column(inputs, self.fmt, self.tag_column)
        resolved = {Path(p).resolve() for p in inputs}
        if Path(self.output).resolve() in resolved:
            raise OptionError("--output", f"{shown(self.output)} is an input corpus; refusing to overwrite it")
        if ckpt.resolve() in resolved | {Path(self.output).resolve()}:
            raise OptionError("--checkpoint", f"{shown(ckpt)} is an input corpus or the output; "
                                              f"refusing to overwrite it")
        for option, path in (("--output", Path(self.output)), ("--checkpoint", ckpt)):
            modelfile.check_writable(path)
            _check_replaceable(option, path)

    def _resumed_config(self, saved: TrainConfig, done: int) -> TrainConfig:
        """The checkpoint's hyper-parameters stand; one the user gave must agree, except the
        length of training (--epochs, not fewer than done; --patience) and what the file keeps
        (--store, --store-min-count)."""
        for name in CHECKPOINTED:
            if name in self.given and getattr(self.config, name) != getattr(saved, name):
                raise OptionError("--" + name.replace("_", "-"), f"{getattr(self.config, name)} conflicts with "
                                                                 f"the checkpoint's {getattr(saved, name)}")
        lengths = {name: getattr(self.config if name in self.given else saved, name) for name in RESUMABLE}
        if lengths["epochs"] < done:
            raise OptionError("--epochs", f"{lengths['epochs']} is fewer than the {done} epochs the checkpoint has done")
        return replace(saved, **lengths)

    def _write(self, tagger: Tagger) -> None:
        # A file name need not be UTF-8; the metadata is: other bytes are kept as \x escapes.
        tagger.record.corpus = [os.fsencode(p).decode("utf-8", "backslashreplace") for p in self.corpora]
        tagger.record.tag_column = self.tag_column
        tagger.save(self.output)


def _check_replaceable(option: str, path: Path) -> None:
    """A file the run would replace is one a run could have written (a model or a checkpoint:
    an .npz), or an empty one: not notes, a corpus or a file made read-only to keep it."""
    info = modelfile.check_replaceable(path, option, _npz, "a model file (an .npz)", 128)
    if info is not None and not info.st_mode & 0o222:  # by its mode, not os.access: root may write anything
        raise OptionError(option, f"{shown(path)} is read-only; refusing to replace it (make it writable first)")


def _npz(head: bytes) -> bool:
    """Whether a file's first bytes are those of an .npz: a zip archive whose first member is an
    array (a name ending .npy), not any zip (a .docx, a .jar)."""
    if len(head) < 30 or head[:4] != b"PK\x03\x04":
        return False
    length = int.from_bytes(head[26:28], "little")
    return head[30:30 + length].endswith(b".npy")


# The signals that stop training with a checkpoint, as said in messages: Ctrl-C; SIGTERM (timeout,
# kill, systemd, batch schedulers); SIGHUP (the terminal closed, an ssh session lost); SIGQUIT
# (Ctrl-\, whose core dump would be of no use to anyone). Not every platform has all four.
STOP_SIGNALS = {name: word for name, word in (("SIGINT", "interrupted"), ("SIGTERM", "terminated (SIGTERM)"),
                                              ("SIGHUP", "hung up (SIGHUP)"), ("SIGQUIT", "quit (SIGQUIT)"))
                if hasattr(signal, name)}


class _Signals:
    """Which signal stopped training, and what it was doing then."""

    def __init__(self):
        self.signal, self.phase = None, "training"

    @property
    def word(self) -> str:
        return STOP_SIGNALS[signal.Signals(self.signal or signal.SIGINT).name]

    @property
    def status(self) -> int:
        return 128 + (self.signal or signal.SIGINT)  # 130 for Ctrl-C, 143 for SIGTERM, as a shell reports them

    def hold(self) -> None:
        for name in STOP_SIGNALS:
            signal.signal(getattr(signal, name), signal.SIG_IGN)


@contextlib.contextmanager
def _stop_signals():
    """Every one of ``STOP_SIGNALS`` stops training the same way: a KeyboardInterrupt where it
    stands, so that the loop saves a checkpoint and a file being written is left as it was. The
    handlers before are put back after."""
    stopped = _Signals()

    def stop(number, _frame):
        stopped.signal = number
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
        yield stopped
        return
    previous = {number: signal.signal(number, stop) for number in (getattr(signal, name) for name in STOP_SIGNALS)}
    try:
        yield stopped
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
