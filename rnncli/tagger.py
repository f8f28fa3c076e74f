"""A trained tagger: the network's arrays, its vocabulary and tag set, and what it knows of
its own training. Tags batches of sentences with the forward pass of ``rnn``."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from copy import deepcopy
from dataclasses import dataclass, field, fields, replace
from itertools import chain, repeat

import numpy as np

from . import modelfile, rnn, stream
from .corpus import given_line, plain_tag
from .errors import ModelFileError, shown
from .lexicon import ALL_ARRAYS as LEXICON_ARRAYS
from .lexicon import Lexicon
from .record import Record
from .tokenizer import Token, tokenize
from .vocab import Vocab

LARGE_INPUT = 20_000  # tokens from which float16 lookup tables are widened to float32 for speed
# What a sentence reads a little of (a few columns, a binary search): mapped from the file, not read.
MAPPED = (*rnn.LOOKUPS, "lexicon_keys")
BATCH_TOKENS = 4096  # tokens in a tagging batch: enough for fast products, few enough to stay in cache
CACHED_WORDS = 1 << 15  # distinct words whose first-layer input a stream keeps: 16 MB a chain at H = 128
# A "sentence" longer than WINDOW tokens (a document on one line) is run in windows of WINDOW
# tokens that overlap by 2 * MARGIN, each token's scores taken from a window where it has at
# least MARGIN tokens of context on each side (or its sentence's edge), so that memory stays
# flat however long the line. That gives what one run over the line gives only if the network
# forgets what lies MARGIN tokens back, which is checked as the windows go: neighbouring windows
# must agree within AGREE on each probability of the tokens around their seam, each seeing them
# with at least MARGIN // 2 tokens of context on each side. If they do not (a network whose
# memory is longer), the line is run whole.
WINDOW = 1000
MARGIN = 100
AGREE = 1e-3


@dataclass
class Tagger:
    shape: rnn.Shape
    params: dict[str, np.ndarray]
    vocab: Vocab
    tags: list[str]
    record: Record = field(default_factory=Record)  # how it was trained, on what, whose data
    # The file it was read from, as it was then (``load``); None for a tagger made in memory.
    origin: modelfile.Origin | None = field(default=None, compare=False, repr=False)
    label: str | None = field(default=None, compare=False, repr=False)  # how messages call that file
    # What was mapped from that file but not checked yet (``load``, ``verify``); None: nothing.
    unverified: modelfile.Unverified | None = field(default=None, compare=False, repr=False)

    # -- tagging ---------------------------------------------------------------------------

    def forward(self, sentences: list[list[str]], params: dict[str, np.ndarray] | None = None) -> rnn.Trace:
        """One padded batch through the network (all sentences non-empty)."""
        types, lengths = self.types(sentences)
        with np.errstate(over="ignore", invalid="ignore"):  # said once, below, not as NumPy's warnings
            trace = rnn.forward(self.params if params is None else params, self.shape, None, lengths, types=types)
        self._check_finite(trace.probs)
        return trace

    def _check_finite(self, out: np.ndarray) -> None:
        """The loader refuses NaN and infinity in the weights, but finite weights can still be too
        large to compute with (V = 3e38 overflows V s_t + c): such a model is refused here, before
        its meaningless tags or a NaN probability are written. A lookup table mapped from the file
        is checked only now, when the outputs are not finite (a NaN in a column a word looks up
        reaches them), so that the message names the table that holds it (``verify``)."""
        if not np.isfinite(out).all():
            self.verify()
            raise ModelFileError(f"{self.label or 'the model'}: weights too large to compute with: the "
                                 f"network's outputs overflow to infinity or NaN")

    def types(self, sentences: list[list[str]]) -> tuple[rnn.WordTypes, np.ndarray]:
        """The batch's distinct words with their input ids (and letters), and the sentence lengths."""
        distinct, flat = _numbered(map(self.vocab.keyed, sentences))
        lengths = np.fromiter(map(len, sentences), np.int64, count=len(sentences))  # (B,)
        words = np.zeros((len(sentences), int(lengths.max())), np.int64)  # (B, T), 0 at padding
        words[np.arange(words.shape[1]) < lengths[:, None]] = flat  # row by row: sentence order
        return self._inputs_of(distinct, words.T), lengths

    def _inputs_of(self, distinct: list, words: np.ndarray | None) -> rnn.WordTypes:
        """The input ids (and letters) of each distinct word (``vocab.keyed``); ``words`` says which each token is."""
        ids = np.array(self.vocab.encode_all(distinct), dtype=np.int32).reshape(len(distinct), -1)
        chars = n_letters = None
        if self.shape.char_hidden:
            chars, n_letters = rnn.pad([self.vocab.encode_chars(w) for w in distinct])
        return rnn.WordTypes(words, ids, chars, n_letters)

    def input_cache(self, cap: int | None = None) -> InputCache:
        """A cache of each distinct word's first-layer input, for tagging a stream in chunks (``InputCache``)."""
        return InputCache(self, CACHED_WORDS if cap is None else cap)

    def _scores(self, sentences: list[list[str]], batch_tokens: int, inputs: InputCache | None = None,
                words: list[str] | None = None):
        """(sentence numbers (B,), token positions (T, B), V s_t + c (T, B, n_tags)) for batches of
        about ``batch_tokens`` tokens, each of sentences of one length; a token's position counts
        the tokens of all the sentences end to end. Each distinct word's first-layer input is
        computed once (``inputs``, by default for this call alone), then looked up by the forward
        pass's lean way (``keep=False``). ``words``: the sentences' tokens end to end, if at hand."""
        self.check_file()  # a tagger kept by a long-lived program or a stream may outlive its file as it was
        lengths = np.fromiter(map(len, sentences), np.int64, count=len(sentences))  # (n,)
        if not lengths.any():
            return
        inputs = self.input_cache() if inputs is None else inputs
        if self.vocab.by_case or words is None:
            words = list(chain.from_iterable(map(self.vocab.keyed, sentences) if self.vocab.by_case else sentences))
        flat = inputs.rows_of(words)  # (N,)
        starts = np.cumsum(lengths) - lengths  # where each sentence's words begin in ``flat``
        order = np.argsort(lengths, kind="stable")
        order = order[np.count_nonzero(lengths == 0):]  # the empty sentences, sorted first, dropped
        long = order[lengths[order] > WINDOW]  # sorted last
        order = order[:len(order) - len(long)]
        for group in np.split(order, np.flatnonzero(np.diff(lengths[order])) + 1) if len(order) else ():
            length = int(lengths[group[0]])  # one length in each group
            size = max(1, batch_tokens // length)
            for k in range(0, len(group), size):
                batch = group[k:k + size]
                where = starts[batch][None, :] + np.arange(length)[:, None]  # (T, B)
                yield batch, where, self._logits(flat[where], inputs)
        for i in long.tolist():
            where = starts[i] + np.arange(lengths[i])[:, None]  # (T, 1)
            scores = self._windowed(flat[where[:, 0]], inputs, batch_tokens)
            yield np.array([i]), where, self._logits(flat[where], inputs) if scores is None else scores

    def _logits(self, rows: np.ndarray, inputs: InputCache) -> np.ndarray:
        """V s_t + c (T, B, n_tags) for a batch of sentences of one length, given as the input
        cache's rows of their words (T, B)."""
        with np.errstate(over="ignore", invalid="ignore"):
            scores = rnn.forward(self.params, self.shape, None, None, types=rnn.WordTypes(rows),
                                 per_word=inputs.tables, keep=False).logits
        self._check_finite(scores)
        return scores

    def _windowed(self, rows: np.ndarray, inputs: InputCache, batch_tokens: int) -> np.ndarray | None:
        """The scores (T, 1, n_tags) of one sentence longer than ``WINDOW`` tokens, given as its
        words' rows (T,), run in windows (a batch of them at a time); None if two neighbouring
        windows disagree by more than ``AGREE`` around their seam (see ``WINDOW``)."""
        T, core, half = len(rows), WINDOW - 2 * MARGIN, MARGIN // 2
        cores = np.arange(0, T, core)  # each window keeps the scores of tokens [a, a + core)
        firsts = np.clip(cores - MARGIN, 0, T - WINDOW)  # where each window starts: inside the sentence
        out = np.empty((T, 1, len(self.tags)), np.float32)
        size = max(1, batch_tokens // WINDOW)
        seen = None  # o_t of the tokens around the next seam, as the window before it saw them
        for k in range(0, len(cores), size):
            a, first = cores[k:k + size], firsts[k:k + size]
            scores = self._logits(rows[first[None, :] + np.arange(WINDOW)[:, None]], inputs)  # (WINDOW, B, n)
            for j, (a_j, first_j) in enumerate(zip(a.tolist(), first.tolist())):
                b_j = min(a_j + core, T)
                out[a_j:b_j, 0] = scores[a_j - first_j:b_j - first_j, j]
                if seen is not None:  # the seam at a_j: tokens [a_j - half, a_j + half)
                    view = rnn.softmax(scores[a_j - half - first_j:min(a_j + half, T) - first_j, j])
                    if np.abs(view - seen).max() > AGREE:
                        return None
                if b_j < T:
                    seen = rnn.softmax(scores[b_j - half - first_j:min(b_j + half, T) - first_j, j])
        return out

    def predict(self, sentences: list[list[str]], batch_tokens: int = BATCH_TOKENS) -> list[np.ndarray]:
        """o_t for every word: one (L, n_tags) array per sentence, in input order."""
        out: list[np.ndarray] = [np.zeros((0, len(self.tags)), np.float32)] * len(sentences)
        for batch, _, scores in self._scores(sentences, batch_tokens):
            probs = rnn.softmax(scores)  # (T, B, n_tags)
            for j, i in enumerate(batch.tolist()):
                out[i] = probs[:, j]
        return out

    def best_flat(self, sentences: list[list[str]], batch_tokens: int = BATCH_TOKENS, probs: bool = False,
                  inputs: InputCache | None = None,
                  words: list[str] | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """The most probable tag of every token, all sentences end to end: (N,) tag numbers, and
        with ``probs`` (N,) their probabilities, else None. ``inputs``: a stream's cache;
        ``words``: the tokens end to end, if at hand."""
        n = sum(map(len, sentences))
        best = np.zeros(n, np.intp)  # (N,)
        p = np.zeros(n, np.float32) if probs else None  # (N,)
        for _, where, scores in self._scores(sentences, batch_tokens, inputs, words):
            best[where] = scores.argmax(axis=2)  # read from the scores, before the softmax
            if probs:
                p[where] = rnn.softmax(scores).max(axis=2)
        return best, p

    def best(self, sentences: list[list[str]], batch_tokens: int = BATCH_TOKENS, probs: bool = True,
             inputs: InputCache | None = None) -> list[tuple[list[int], np.ndarray | None]]:
        """The most probable tag of every word, and with ``probs`` its probability: (tag numbers,
        (L,) p or None) per sentence. The best tag is read from the scores, before the softmax."""
        best, p = self.best_flat(sentences, batch_tokens, probs, inputs)
        numbers = best.tolist()
        ends = np.cumsum(np.fromiter(map(len, sentences), np.int64, count=len(sentences))).tolist()
        return [(numbers[start:end], None if p is None else p[start:end])
                for start, end in zip([0] + ends[:-1], ends)]

    def ranked(self, sentences: list[list[str]], k: int, batch_tokens: int = BATCH_TOKENS,
               inputs: InputCache | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
        """The ``k`` most probable tags of every word, best first, and their probabilities:
        ((L, k) tag numbers, (L, k) o_t) per sentence. Ranked by the scores, as ``best`` is,
        so the first is the tag ``best`` chooses."""
        out = [(np.zeros((0, k), np.int64), np.zeros((0, k), np.float32))] * len(sentences)
        for batch, _, scores in self._scores(sentences, batch_tokens, inputs):
            order = np.argsort(-scores, axis=2, kind="stable")[..., :k]  # (T, B, k); ties: lower number first
            p = np.take_along_axis(rnn.softmax(scores), order, axis=2)  # (T, B, k)
            for j, i in enumerate(batch.tolist()):
                out[i] = order[:, j], p[:, j]
        return out

    def tag(self, sentences: list[list[str]], probs: bool = False, top: int | None = None):
        """The tag of every token, one list per sentence (a list or tuple of tokens); with
        ``probs``, (tag, probability) pairs, the probability being o_t of the tag chosen; with
        ``top=K``, for every token a list of the K most probable (tag, probability) pairs, best
        first (its first is the tag chosen)."""
        if isinstance(sentences, (str, bytes)) or not hasattr(sentences, "__iter__"):
            raise TypeError(f"tag() takes a list of sentences, each a list of tokens; got {type(sentences).__name__}"
                            f" (text: tag_text or tag_lines)")
        if not isinstance(sentences, list):
            sentences = list(sentences)
        if any(isinstance(s, str) for s in sentences):
            raise TypeError("tag() takes sentences as lists of tokens; tag_lines() takes lines of text")
        _check_tokens(sentences)
        tags = self.tags
        if top is not None:
            k = self.top_count(top)
            return [[list(zip([tags[j] for j in row], p)) for row, p in zip(order.tolist(), probs.tolist())]
                    for order, probs in self.ranked(sentences, k)]
        if probs:
            return [[(tags[k], x) for k, x in zip(best, p.tolist())] for best, p in self.best(sentences)]
        return [[tags[k] for k in best] for best, _ in self.best(sentences, probs=False)]

    def top_count(self, top) -> int:
        """``top`` checked: a whole number of tags from 1; more than the model has means all."""
        if isinstance(top, bool) or not isinstance(top, (int, np.integer)) or top < 1:
            raise ValueError(f"top must be a whole number of tags, 1 or more; got {top!r}")
        return min(int(top), len(self.tags))

    def tag_text(self, text: str, pretokenized: bool = False, top: int | None = None) -> list[list[Token]]:
        """Raw text tagged as ``rnncli tag`` tags it: for each line of ``text`` (a line is a
        sentence) a list of ``Token``s with ``.text``, ``.start`` and ``.end`` (offsets into
        ``text``: ``text[t.start:t.end] == t.text``), ``.tag`` and ``.prob`` (o_t of the tag),
        and with ``top=K`` ``.top``, the K most probable (tag, probability) pairs, best first.
        ``pretokenized``: split on white space only."""
        if not isinstance(text, str):
            raise TypeError(f"tag_text() takes a str; got {type(text).__name__} (bytes: decode them first)")
        for n, line in enumerate(text.split("\n"), 1):  # what a file may not hold (a NUL), refused as there
            given_line("<text>", n, line)
        lines = tokenize(text, pretokenized)
        sentences = [[t.text for t in line] for line in lines]
        tags = self.tags
        if top is None:
            return [[t._replace(tag=tags[k], prob=p) for t, k, p in zip(line, best, probs.tolist())]
                    for line, (best, probs) in zip(lines, self.best(sentences))]
        k = self.top_count(top)
        return [[t._replace(tag=tags[row[0]], prob=p[0], top=tuple(zip([tags[j] for j in row], p)))
                 for t, row, p in zip(line, order.tolist(), probs.tolist())]
                for line, (order, probs) in zip(lines, self.ranked(sentences, k))]

    def tag_lines(self, lines: Iterable[str | bytes], format: str = "slash", pretokenized: bool = False, *,
                  source: str | os.PathLike | None = None, first_line: int = 1,
                  top: int | None = None) -> Iterator[str]:
        """What ``rnncli tag`` prints for each line (text, or UTF-8 bytes), one item per line, in
        order: a line of output for slash and jsonl, the sentence's rows and its blank line for tsv
        and conllu. ``"".join`` of the items is byte for byte what ``rnncli tag`` writes for the
        same lines. A bad line (bytes that are not UTF-8, a NUL) raises ``CorpusError`` with the
        message ``rnncli tag`` gives, naming ``source`` and the line (numbered from ``first_line``),
        after the items of the lines before it. A file opened in text mode also ends a line at a
        lone carriage return, where ``rnncli tag`` ends lines at line feeds alone: open it in
        binary mode ("rb"). Lines that are not a list or a tuple (a file, a generator, a queue)
        are tagged as they come: what has arrived is tagged when no more comes for a moment.
        ``top=K`` with ``format="jsonl"``: each token's K best tags, as ``rnncli tag --top K``."""
        if isinstance(lines, (str, bytes)):  # one string would be tagged a character at a time
            raise TypeError("tag_lines takes an iterable of lines, not one str or bytes: [text] or text.splitlines()")
        return stream.tag_lines(self, lines, format, pretokenized, source, first_line, top=top)

    # -- other processes -------------------------------------------------------------------

    def __reduce__(self):
        """Pickled as its arrays and metadata (``content``). A tagger read from a file pickles
        as a reference to it instead, where ``rnncli.loader`` (which reads taggers by name) is
        imported: it registers that with ``copyreg``, which pickle consults first."""
        return from_content, content(self)  # verified first, the file checked with it

    def __copy__(self) -> Tagger:
        return replace(self, origin=None, label=None)  # a copy has no file behind it

    def __deepcopy__(self, memo) -> Tagger:
        self.check_file()
        copied = {f.name: deepcopy(getattr(self, f.name), memo) for f in fields(self)
                  if f.name not in ("origin", "label")}  # what the tagger is, without its file
        return replace(self, **copied, origin=None, label=None)

    def without_memory(self) -> Tagger:
        """The same tagger with W s_{t-1} dropped in every chain: each word tagged from its own x_t."""
        self.check_file()
        return Tagger(self.shape, rnn.without_memory(self.params), self.vocab, self.tags, self.record,
                      unverified=self.unverified)  # it shares the lookup tables

    def check_file(self) -> None:
        """Before whatever reads the arrays mapped from the model file (every batch tagged,
        ``verify``, copying): the file was not written over in place since
        (``Origin.check_in_place``); a tagger with no file behind it has nothing to check."""
        if self.origin is not None:
            self.origin.check_in_place(self.label or shown(self.origin.path))

    def widen_lookups(self, tokens: int | None = None) -> None:
        """Float16 lookup tables to float32, for a large input (``LARGE_INPUT`` tokens or more),
        where it pays: a few tens of milliseconds here save more on every batch. Results are the
        same to the bit (the columns are summed in float32 either way). A model is loaded with
        its tables as stored, so that a short input starts quickly. Given the ``tokens`` to come,
        it widens them only if that many pay for it. What ``load`` mapped from the file is checked
        first (``verify``): read whole here anyway, or in a moment beside so large an input."""
        if tokens is not None and tokens < LARGE_INPUT:
            return
        self.verify()
        for name in rnn.LOOKUPS:
            if name in self.params and self.params[name].dtype == np.float16:
                self.params[name] = np.asfortranarray(self.params[name].astype(np.float32))
                if self.unverified is not None:
                    self.unverified.release(name)  # mapped, read whole twice: not kept beside its copy

    def verify(self) -> None:
        """Check now what ``load`` left to check until it is used: the checksums of the arrays
        it mapped from the file (``MAPPED``), the finiteness of the lookup tables among them and
        the order of the lexicon's keys, raising the ``ModelFileError`` that ``load`` would
        have raised. ``rnncli inspect``, ``save`` and pickling call it; tagging calls it for a
        large input (``widen_lookups``) and when the outputs are not finite."""
        self.check_file()
        if self.unverified:
            self.unverified.verify()

    def pruned(self, keep: np.ndarray) -> Tagger:
        """The same network without the columns of U (and U_bwd) where ``keep`` (n_inputs,) is False.

        A word whose entry is dropped maps to its slot's <unk>, which is always kept. The tables
        are read whole: checked first (``verify``).
        """
        self.verify()
        keep = np.asarray(keep, dtype=bool).copy()
        keep[self.vocab.offsets] = True
        tables = {slot: [v for v, k in zip(values, keep[off:off + len(values)]) if k]
                  for (slot, values), off in zip(self.vocab.tables.items(), self.vocab.offsets)}
        params = {name: np.asfortranarray(p[:, keep]) if name in ("U", "U_bwd") else p
                  for name, p in self.params.items()}
        shape = rnn.Shape(**{**self.shape.to_dict(), "n_inputs": int(keep.sum())})
        return Tagger(shape, params, Vocab(tables, self.vocab.chars, self.vocab.lexicon, self.vocab.case_blind), self.tags,
                      replace(self.record))

    # -- files -----------------------------------------------------------------------------

    def metadata(self) -> dict:
        return {"shape": self.shape.to_dict(), "vocab": self.vocab.to_json(), "tags": self.tags,
                **self.record.to_json()}

    def arrays(self) -> dict[str, np.ndarray]:
        """Every array a model file holds: the weights, and the lexicon's table if it has one."""
        lexicon = self.vocab.lexicon
        return {**self.params, **(lexicon.arrays() if lexicon is not None else {})}

    def save(self, path: str | os.PathLike, dtype=None) -> None:
        """Write the model file, its arrays as ``dtype``, by default as the record says (float32,
        unless trained with ``store="float16"`` or loaded from such a file); float16 halves the
        file (the arrays are float32 again on load, but for lookup tables)."""
        dtype = self.record.stored_dtype if dtype is None else dtype
        self.verify()  # a damaged table is refused, not written to a new file with a good checksum
        if np.dtype(dtype) == np.float16:
            for name, p in self.params.items():
                largest = float(np.abs(p).max(initial=0.0))
                with np.errstate(over="ignore"):
                    beyond = bool(np.isinf(np.float16(largest)))  # what rounds past 65,504 becomes infinity
                if beyond:
                    raise ModelFileError(f"{shown(path)}: array {name} holds {largest:.6g}, beyond float16's range "
                                         f"(65,504): store the model as float32 (--store float32); not written, "
                                         f"the previous file, if any, is unchanged")
        arrays = {name: p.astype(dtype) if name in self.params else p for name, p in self.arrays().items()}
        self.record.stored_dtype = np.dtype(dtype).name
        # Read back before it replaces the file there: a good model is never replaced by one that
        # rnncli would refuse (NaN weights, a tag no file may hold).
        modelfile.save(path, arrays, self.metadata(), check=lambda written: Tagger.load(written, shown(path)).verify())

    @classmethod
    def load(cls, path: str | os.PathLike, name: str | None = None) -> Tagger:
        """The tagger in a model file; ``name`` is how messages call the file (default: its path).

        The large arrays of which a sentence reads a little (``MAPPED``: U, U_bwd, the lexicon's
        keys, when stored as they are in members of ``modelfile.MAP_MIN_BYTES`` or more) are
        mapped from the file, not read: their pages are read when first used. What the loader
        checks of every other array, it checks of them when they are read whole (``verify``)."""
        label = name or shown(path)
        before = modelfile.signature(path)  # the file read, for pickling the tagger as a reference to it
        parts = {}

        def expected(meta: dict) -> dict[str, tuple[int, ...]]:
            if meta.get("kind", "model") != "model":
                raise ModelFileError(f"{label}: a training checkpoint, not a model; "
                                     f"continue training with: rnncli train ... --resume {label}")
            parts.update(_parts(meta, label))
            return parts["arrays"]

        arrays, meta, unverified = modelfile.load_mapped(path, expected, label, mapped=MAPPED)
        params = {}
        for key, a in _with_lexicon(parts, arrays, label, unverified).items():
            if key in rnn.LOOKUPS:
                # Lookup tables stay as stored (float16 halves memory and load time); the
                # columns a batch looks up are summed in float32 by the forward pass.
                native = a.dtype == np.float16 or a.dtype == np.float32
                params[key] = np.asfortranarray(a if a.dtype == np.float16 else a.astype(np.float32, copy=not native))
            else:
                params[key] = np.array(a, dtype=np.float32, order="C")
            if key in unverified and params[key] is not a:
                unverified.verify(key)  # copied, so read whole: checked now
        return cls(parts["shape"], params, parts["vocab"], parts["tags"], parts["record"],
                   origin=modelfile.origin(path, before), label=label, unverified=unverified or None)


class InputCache:
    """The first layer's input, U x + b (+ P h), of each distinct word a stream has met, by
    chain, kept from one chunk to the next: a word is looked up and summed once per stream, not
    once per chunk. At most ``cap`` words are kept (more only while one chunk needs them): past
    that, it starts again from the words of the chunk at hand. A row is a lookup and a sum of
    its own (``rnn.word_inputs``), the same to the bit however the words are grouped; only a
    character RNN's products may round differently for a group of another size. For one tagger
    whose weights do not change: a stream's, or one call's."""

    def __init__(self, tagger: Tagger, cap: int):
        self.tagger, self.cap = tagger, cap
        self.rows: dict = {}  # a word as ``vocab.keyed`` gives it -> its row in the tables
        self.tables: dict[str, np.ndarray] = {}  # chain suffix -> (capacity, H), rows past len(rows) unused

    def rows_of(self, keys: list) -> np.ndarray:
        """The row of each of ``keys`` (N,), computing the inputs of those not met yet."""
        rows = self.rows
        flat = np.fromiter(map(rows.get, keys, repeat(-1)), np.int64, count=len(keys))  # (N,) -1: not met yet
        missing = np.flatnonzero(flat < 0).tolist()
        if not missing:
            return flat
        new = list(dict.fromkeys(keys[i] for i in missing))
        if len(rows) + len(new) > self.cap:
            rows.clear()
            new, missing = list(dict.fromkeys(keys)), range(len(keys))
        self._add(new)
        flat[missing] = list(map(rows.__getitem__, (keys[i] for i in missing)))
        return flat

    def _add(self, new: list) -> None:
        tagger, rows = self.tagger, self.rows
        start, end = len(rows), len(rows) + len(new)
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is found in the scores
            inputs = rnn.word_inputs(tagger.params, tagger.shape, tagger._inputs_of(new, None))  # (n, H) by chain
        for sfx, x in inputs.items():
            table = self.tables.get(sfx)
            if table is None or len(table) < end:  # grown by doubling, to the cap unless a chunk needs more
                grown = np.empty((max(end, min(2 * len(x if table is None else table), self.cap)), x.shape[1]), x.dtype)
                if start:
                    grown[:start] = table[:start]
                table = self.tables[sfx] = grown
            table[start:end] = x
        rows.update(zip(new, range(start, end)))


def _check_tokens(sentences: list) -> None:
    """Every sentence a list or tuple of str: an int, None or bytes would otherwise be looked up
    as an unknown word and tagged, silently. TypeError names the first other thing by its
    sentence and position (from 0)."""
    for i, sentence in enumerate(sentences):
        if not isinstance(sentence, (list, tuple)):
            raise TypeError(f"sentence {i} is {type(sentence).__name__}: a sentence is a list or tuple of str tokens")
        kinds = set(map(type, sentence))  # at C speed: one pass, a set of one type as a rule
        if kinds - {str} and not all(issubclass(k, str) for k in kinds):
            j, w = next((j, w) for j, w in enumerate(sentence) if not isinstance(w, str))
            raise TypeError(f"sentence {i}, token {j} is {type(w).__name__} ({w!r:.40}): tokens are str")


def _numbered(sentences: Iterable[list]) -> tuple[list, np.ndarray]:
    """The distinct words of the sentences, in order of appearance, and each token's number
    among them, all tokens end to end (numbered per distinct word, so tokens are looked up in C)."""
    tokens = list(chain.from_iterable(sentences))
    number = dict.fromkeys(tokens)
    for n, w in enumerate(number):
        number[w] = n
    return list(number), np.fromiter(map(number.__getitem__, tokens), np.int64, count=len(tokens))


def _parts(meta: dict, label: str) -> dict:
    """The shape, vocabulary, tags and record in a model's metadata, checked against each other
    (KeyError, TypeError or ValueError for a field that is missing or of the wrong type), and
    the arrays the model has: the weights with their shapes, the lexicon's (checked when read,
    ``_with_lexicon``) with None. Until then the vocabulary's lexicon is an empty one."""
    shape = rnn.Shape(**meta["shape"])
    lexicon = meta["vocab"].get("lexicon")
    vocab = Vocab.from_json(meta["vocab"], None if lexicon is None else Lexicon.empty())
    tags = [str(t) for t in meta["tags"]]
    record = Record.from_json(meta)
    if (vocab.n_inputs != shape.n_inputs or len(tags) != shape.n_tags or len(set(tags)) != len(tags)
            or vocab.n_chars != shape.n_chars):
        raise ModelFileError(f"{label}: metadata disagrees with itself (vocabulary or tag set size)")
    bad = next((t for t in tags if not plain_tag(t)), None)
    if bad is not None:
        raise ModelFileError(f"{label}: tag {_shorter(bad)} is not one word of printable text "
                             f"(empty, or white space or a control character in it)")
    arrays = {**shape.param_shapes(), **dict.fromkeys(Lexicon.shapes(lexicon) if lexicon is not None else ())}
    return {"shape": shape, "vocab": vocab, "tags": tags, "record": record, "arrays": arrays, "lexicon": lexicon}


def _with_lexicon(parts: dict, arrays: dict[str, np.ndarray], label: str,
                  unverified: modelfile.Unverified | None = None) -> dict[str, np.ndarray]:
    """The weights among a model's ``arrays``; the lexicon's table, checked, goes to the vocabulary
    (the order of its keys when they are verified, if they were mapped from the file)."""
    if parts["lexicon"] is not None:
        mapped = unverified is not None and "lexicon_keys" in unverified
        lexicon = Lexicon.from_arrays(arrays, parts["lexicon"], label, ordered=not mapped)
        if mapped:
            unverified.then("lexicon_keys", lambda: lexicon.check_order(label))
        parts["vocab"].lexicon = lexicon
    return {name: a for name, a in arrays.items() if name not in LEXICON_ARRAYS}


def _shorter(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")



def content(tagger: Tagger) -> tuple[dict, str]:
    """A tagger's arrays as (dtype, shape, order, raw bytes) and its metadata as JSON text: what
    it pickles as without a file. No code travels beyond the name of ``from_content``. Arrays
    mapped from a file are checked first (``verify``): their bytes travel, as read whole."""
    tagger.verify()
    arrays = {}
    for name, a in tagger.arrays().items():
        order = "F" if a.flags.f_contiguous and not a.flags.c_contiguous else "C"
        arrays[name] = (a.dtype.str, a.shape, order, a.tobytes(order=order))
    return arrays, json.dumps(tagger.metadata(), ensure_ascii=False)


def from_content(arrays: dict, metadata: str) -> Tagger:
    """The tagger that ``content`` describes, its metadata checked as a model file's is."""
    meta = json.loads(metadata)
    arrays = {name: np.frombuffer(bytearray(data), dtype).reshape(shape, order=order)
              for name, (dtype, shape, order, data) in arrays.items()}
    parts = _parts(meta, "a pickled tagger")
    params = _with_lexicon(parts, arrays, "a pickled tagger")
    return Tagger(parts["shape"], params, parts["vocab"], parts["tags"], parts["record"])
