"""Tagging a stream of lines: tokenise, tag in large batches, write in input order.

Lines are read and tagged a chunk at a time, so memory stays flat however long the input.
Input that can pause (a pipe, a terminal, a generator) is read by a thread of its own, so that
what has arrived is tagged as soon as no more comes for a moment (``PAUSE``): a line typed or
piped slowly is answered at once, and a file still goes in large chunks. With ``jobs`` > 1,
chunks are tagged by worker processes (a few in flight at a time) and written in input order.

The stream sits below the tagger, which tags lines through it (``Tagger.tag_lines``): it knows a
tagger only by the few things it asks of one, ``Tags``.
"""

from __future__ import annotations

import json
import numbers
import os
import signal
import threading
import time
import weakref
import warnings
from collections.abc import Callable, Iterable, Iterator
from itertools import chain
from typing import NamedTuple, Protocol, TextIO

import numpy as np

from .corpus import OUTPUT_FORMATS, format_sentence, given_line
from .errors import OptionError, RnncliError, TaggingError, shown
from .tokenizer import line_spans, line_tokens

CHUNK_CHARS = 1 << 19  # about 100,000 tokens of text: big batches for the matrix products, flat memory
PAUSE = 0.005  # seconds without a new line after which the lines that arrived are tagged
LATEST = 0.1  # seconds at most that a line waits for others while the input keeps trickling in


class Tags(Protocol):
    """What the stream asks of a tagger (``rnncli.tagger.Tagger`` is one)."""

    tags: list[str]
    record: object  # its ``tag_column`` and ``corpus``
    vocab: object  # its ``is_known(word)``

    def best(self, sentences: list[list[str]], probs: bool = True, inputs=None) -> list: ...

    def best_flat(self, sentences: list[list[str]], inputs=None, words: list[str] | None = None) -> tuple: ...

    def ranked(self, sentences: list[list[str]], k: int, inputs=None) -> list: ...

    def input_cache(self) -> object: ...

    def top_count(self, top) -> int: ...

    def widen_lookups(self, tokens: int | None = None) -> None: ...


# What a reader of the CoNLL-U written may take for the end of a line (rnncli's own refuses a
# carriage return inside one; Python's splitlines breaks at all of them): in `# text`, a space,
# as it is between the words it separates.
ONE_LINE = dict.fromkeys(map(ord, "\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"), " ")


class Chunk(NamedTuple):
    """Lines tagged together, the number of the first among all the input's lines, and whether
    it was cut because it was full (more input came at once), not where the input paused or ended."""

    lines: list[str]
    first: int = 1
    full: bool = False


class Tagged(NamedTuple):
    """A chunk tagged: its output, its tokens, and of those looked up for ``unknown_share``,
    how many and how many the model has no entry for."""

    text: str
    tokens: int
    looked: int = 0
    unknown: int = 0


LOOK = 1000  # tokens that a ChunkTagger checks against the vocabulary, at the start of its input


class ChunkTagger:
    """Turns a chunk of raw lines into the text of their tagged sentences."""

    def __init__(self, tagger: Tags, fmt: str = "slash", pretokenized: bool = False, top: int | None = None):
        self.tagger, self.fmt, self.pretokenized = tagger, fmt, pretokenized
        self.top = None if top is None else tagger.top_count(top)
        self.split = str.split if pretokenized else line_tokens
        self.column = tagger.record.tag_column
        # "/TAG " within a sentence, "/TAG\n" at its end: tag k's is ends[k], or ends[k + n_tags]
        self.ends = np.array(["/" + t + " " for t in tagger.tags] + ["/" + t + "\n" for t in tagger.tags], object)
        self.inputs = tagger.input_cache()  # each word's first-layer input, kept from chunk to chunk
        self.looked = 0
        if fmt == "slash":
            _check_slash_tags(tagger.tags)

    def __call__(self, chunk: Chunk) -> Tagged:
        if self.fmt == "jsonl":
            return self._jsonl(chunk.lines)
        sentences = list(map(self.split, chunk.lines))
        words = list(chain.from_iterable(sentences))  # every token, end to end
        self.tagger.widen_lookups(len(words))  # once: a stream this long pays for it
        best, _ = self.tagger.best_flat(sentences, inputs=self.inputs, words=words)  # (N,)
        lengths = np.fromiter(map(len, sentences), np.int64, count=len(sentences))
        if self.fmt == "slash":  # the common case, kept lean: the whole chunk at once
            return self._tagged(self._slash(words, best, lengths), words)
        names = list(map(self.tagger.tags.__getitem__, best.tolist()))
        ends = np.cumsum(lengths).tolist()
        tags = [names[end - len(sentence):end] for sentence, end in zip(sentences, ends)]
        if self.fmt == "conllu":  # each sentence with its number (the input line's) and its text
            parts = [f"# sent_id = {n}\n# text = {line.strip().translate(ONE_LINE)}\n" + format_sentence(
                     words, these, "conllu", self.column) if words else "\n"
                     for n, (line, words, these) in enumerate(zip(chunk.lines, sentences, tags), chunk.first)]
        else:
            parts = [format_sentence(words, these, self.fmt, self.column) if words else "\n"
                     for words, these in zip(sentences, tags)]
        return self._tagged("".join(parts), words)

    def _slash(self, words: list[str], best: np.ndarray, lengths: np.ndarray) -> str:
        """"word/TAG" for every token, a space between tokens and a line break after each
        sentence's last (a line break alone for an empty one), built for all sentences at once."""
        last = np.cumsum(lengths) - 1  # (n,) each sentence's last token; of an empty one, the one before
        code = best.copy()  # (N,)
        code[last[lengths > 0]] += len(self.tagger.tags)
        ends = self.ends[code].tolist()  # (N,) strings, gathered in C
        head = ""
        for i in np.flatnonzero(lengths == 0).tolist():  # an empty line: one more line break
            if last[i] < 0:
                head += "\n"
            else:
                ends[last[i]] += "\n"
        parts = [head] * (2 * len(words) + 1)
        parts[1::2], parts[2::2] = words, ends
        return "".join(parts)

    def _tagged(self, text: str, words: list[str]) -> Tagged:
        """The output, with the first ``LOOK`` tokens' count of words the model has no entry for."""
        if self.looked >= LOOK:
            return Tagged(text, len(words))
        looked = words[:LOOK - self.looked]
        self.looked += len(looked)
        known = self.tagger.vocab.is_known
        return Tagged(text, len(words), len(looked), sum(not known(w) for w in looked))

    def _jsonl(self, lines: list[str]) -> Tagged:
        """One JSON object per line: tokens, tags, o_t of each tag (rounded to 4 places), each
        token's (start, end) in its line, and with ``top`` the best (tag, o_t) pairs of each."""
        spans = [line_spans(line, self.pretokenized) for line in lines]
        sentences = [[line[s:e] for s, e in where] for line, where in zip(lines, spans)]
        self.tagger.widen_lookups(sum(map(len, sentences)))
        tags = self.tagger.tags
        parts = []
        if self.top is None:
            for words, where, (best, p) in zip(sentences, spans, self.tagger.best(sentences, inputs=self.inputs)):
                parts.append({"tokens": words, "tags": [tags[k] for k in best],
                              "probs": [round(x, 4) for x in p.tolist()], "offsets": where})
        else:
            ranked_all = self.tagger.ranked(sentences, self.top, inputs=self.inputs)
            for words, where, (order, p) in zip(sentences, spans, ranked_all):
                ranked = [[[tags[k], round(x, 4)] for k, x in zip(row, q)] for row, q in zip(order.tolist(), p.tolist())]
                parts.append({"tokens": words, "tags": [r[0][0] for r in ranked], "probs": [r[0][1] for r in ranked],
                              "offsets": where, "top": ranked})
        return self._tagged("".join(json.dumps(part, ensure_ascii=False) + "\n" for part in parts),
                            list(chain.from_iterable(sentences)))


def _check_slash_tags(tags: list[str]) -> None:
    """Slash output is read back split at each token's last slash (``1/2/NUM`` is the word
    ``1/2``): a tag holding a slash would read back as part of its word, so it is refused."""
    bad = next((t for t in tags if "/" in t), None)
    if bad is not None:
        raise OptionError("--format", f"the model's tag {bad!r} holds a '/', which slash output cannot "
                                      f"show so that it reads back; use tsv, conllu or jsonl")


def _chunks(lines: Iterable[tuple[str, int, str]], chunk_chars: int, paced: bool = False,
            first: int = 1) -> Iterator[tuple[Chunk, str]]:
    """Chunks of about ``chunk_chars`` characters of lines, numbered from ``first``, each with
    where its last line came from. ``paced``: the input can pause, and a chunk is also cut
    where it does (``_paced``)."""
    if paced:
        yield from _paced(lines, chunk_chars, first)
        return
    chunk: list[str] = []
    size = 0
    source, n = "", 0  # where the last line read came from: "source:n", written out only for a chunk
    try:
        for source, n, line in lines:
            chunk.append(line)
            size += len(line) + 1
            if size >= chunk_chars:
                done, chunk, size = chunk, [], 0  # emptied first: a consumer that stops gets nothing twice
                yield Chunk(done, first, True), f"{source}:{n}"
                first += len(done)
    finally:
        # Also when reading failed part-way (invalid UTF-8): what was read is still tagged
        # and written before the error surfaces.
        if chunk:
            yield Chunk(chunk, first), f"{source}:{n}"


def _paced(lines: Iterable[tuple[str, int, str]], chunk_chars: int, first: int) -> Iterator[tuple[Chunk, str]]:
    """``_chunks`` of an input that can pause: a thread reads it, at most two chunks ahead,
    and a chunk is cut when it is full, when the input ends, or when lines have arrived and no
    more comes for ``PAUSE`` seconds (or the first of them has waited ``LATEST``). A failure
    to read comes after the chunks of every line read before it."""
    ready = threading.Condition(threading.Lock())
    pending: list[tuple[str, str]] = []  # (line, where) read and not yet taken
    state = {"size": 0, "ended": False, "error": None, "stop": False}

    def read() -> None:
        try:
            for source, n, line in lines:
                with ready:
                    while state["size"] >= 2 * chunk_chars and not state["stop"]:
                        ready.wait()  # the tagging side is behind: memory stays flat
                    if state["stop"]:
                        return
                    pending.append((line, f"{source}:{n}"))
                    state["size"] += len(line) + 1
                    if len(pending) == 1 or state["size"] >= chunk_chars:
                        ready.notify_all()
        except BaseException as e:  # raised on the tagging side, after what came before it
            state["error"] = e
        finally:
            with ready:
                state["ended"] = True
                ready.notify_all()

    reader = threading.Thread(target=read, name="rnncli-reader", daemon=True)
    _BLOCKING.add(reader)  # until its input ends, it may wait for a line: ``stuck``
    reader.start()
    try:
        while True:
            with ready:
                _wait_for_a_chunk(ready, pending, state, chunk_chars)
                taken, full = pending[:], state["size"] >= chunk_chars
                pending.clear()
                state["size"] = 0
                ready.notify_all()
            if taken:
                yield Chunk([line for line, _ in taken], first, full), taken[-1][1]
                first += len(taken)
            elif state["ended"]:
                if state["error"] is not None:
                    raise state["error"]
                return
    finally:
        with ready:  # the consumer stopped: so does the reader, at its next line
            state["stop"] = True
            ready.notify_all()


# Threads that may stay blocked where Python's exit would wait for them for ever, or abort on
# their lock: readers of an input that can pause (waiting for its next line), and pool threads
# that ``abandon`` could not end (waiting for the rest of a result from a worker that was killed).
_BLOCKING: weakref.WeakSet = weakref.WeakSet()


def stuck() -> bool:
    """Whether a thread of the stream's is still blocked (``_BLOCKING``)."""
    return any(t.is_alive() for t in list(_BLOCKING))


def _wait_for_a_chunk(ready: threading.Condition, pending: list, state: dict, chunk_chars: int) -> None:
    """Holding ``ready``: wait until a chunk is full, the input ended, or it paused with lines
    pending (no new line for ``PAUSE``, or the first pending one older than ``LATEST``)."""
    since = time.monotonic()
    while not state["ended"] and state["size"] < chunk_chars:
        if not pending:
            ready.wait()
            since = time.monotonic()
            continue
        count = len(pending)
        ready.wait(PAUSE)
        if len(pending) == count or time.monotonic() - since > LATEST:
            return


def tag_stream(tagger: Tags, lines: Iterable[tuple[str, int, str]], out: TextIO, fmt: str = "slash",
               pretokenized: bool = False, chunk_chars: int = CHUNK_CHARS, jobs: int = 1, paced: bool = False,
               top: int | None = None, warn: Callable[[str], None] | None = None) -> int:
    """Tag each (source, line number, text) and write one output sentence per line; returns tokens tagged.

    An empty or blank line gives an empty output sentence: a blank line (slash, tsv, conllu)
    or an object with empty lists (jsonl). ``paced``: the input can pause (a pipe, a terminal),
    and what has arrived is tagged and written when it does. With ``jobs`` > 1, a worker that
    fails or dies ends the stream with ``TaggingError`` once every chunk before its own is
    written. ``warn`` is told once if most words are unknown to the model (``Unknown``).
    """
    tag_chunk = ChunkTagger(tagger, fmt, pretokenized, top)
    chunks = _chunks(lines, chunk_chars, paced)
    if jobs > 1:
        results = _in_workers(tag_chunk, chunks, jobs)
    else:
        results = (tag_chunk(chunk) for chunk, _ in chunks)
    total = 0
    unknown = Unknown(tagger, warn)
    for tagged in results:
        out.write(tagged.text)
        out.flush()
        total += tagged.tokens
        unknown.add(tagged)
    unknown.end()
    return total


class Unknown:
    """Says once, through ``warn``, when most of the words of an input's start are unknown to
    the model: text in another language (or of another kind than the model was trained on) is
    tagged all the same, with confidence it has not earned. The model's vocabulary decides, not
    its lexicon: drawn from English web text, that knows many French and German words too."""

    DECIDE = 100  # tokens after which it is decided; a shorter input is decided at its end,
    FEWEST = 8  # if it has this many: a short sentence full of names is English all the same

    def __init__(self, tagger: Tags, warn: Callable[[str], None] | None):
        self.tagger, self.warn = tagger, warn
        self.looked = self.unknown = 0
        self.decided = warn is None

    def add(self, tagged: Tagged) -> None:
        self.looked += tagged.looked
        self.unknown += tagged.unknown
        if not self.decided and self.looked >= self.DECIDE:
            self.end()

    def end(self) -> None:
        if not self.decided and self.looked >= self.FEWEST and 2 * self.unknown > self.looked:
            corpus = ", ".join(self.tagger.record.corpus) or "a corpus it does not name"
            self.warn(f"{self.unknown / self.looked:.0%} of the words are unknown to the model, trained on "
                      f"{corpus}: text in another language is tagged all the same, and badly")
        self.decided = True


_worker: ChunkTagger | None = None  # each worker process's own copy, set once when it starts
ABANDON_GRACE = 30.0  # seconds an abandoned pool's workers get to finish the chunks they hold
WORKER_DIED_GRACE = 2.0  # the same, once a worker has died: the pool is broken, its work is lost anyway
POLL_WORKERS = 1.0  # seconds between looks at whether a worker died while a chunk's result is awaited


def _start_worker(tag_chunk: ChunkTagger, parent: int) -> None:
    global _worker
    _worker = tag_chunk
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: no worker tracebacks
    if hasattr(signal, "pthread_sigmask"):  # held back while forked (``_fork_workers``): now ignored
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})

    def exit_with_parent() -> None:
        # A parent that died (killed, or ended by SIGPIPE) cannot shut the pool down: leave with it.
        while os.getppid() == parent:
            time.sleep(0.2)
        os._exit(0)

    threading.Thread(target=exit_with_parent, daemon=True).start()


def _work(chunk: Chunk) -> Tagged:
    return _worker(chunk)


def _in_workers(tag_chunk: ChunkTagger, chunks: Iterator[tuple[Chunk, str]], jobs: int) -> Iterator[Tagged]:
    """``map(tag_chunk, chunks)`` in worker processes, results in input order. A worker that
    raises or dies ends the results with ``TaggingError`` after the chunks before its own.
    A few full chunks are kept in flight; one cut where the input paused or ended is waited
    for, with those before it, so that a line typed or sent slowly is answered at once."""
    # Here: a one-process run, the common one, never needs the pool's modules at start-up.
    import multiprocessing
    from collections import deque
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    # fork shares the loaded model with the workers at no cost; elsewhere it is pickled once per worker.
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    pending: deque = deque()
    written = "the start"  # where the output stops if the next chunk fails
    failed = False

    def result(future, where: str) -> Tagged:
        nonlocal written, failed
        try:
            out = _awaited(future, pool)
        except BaseException as e:
            failed = True
            if isinstance(e, (RnncliError, MemoryError, KeyboardInterrupt, SystemExit)):
                raise  # Ctrl-C is this process's own: status 130, as without --jobs
            why = ("ended abruptly (killed, or out of memory)" if isinstance(e, BrokenProcessPool)
                   else f"failed ({type(e).__name__}: {e})")
            raise TaggingError(f"a worker process {why}; the output stops after {written}") from None
        written = where
        return out

    pool = ProcessPoolExecutor(jobs, mp_context=context, initializer=_start_worker, initargs=(tag_chunk, os.getpid()))
    try:
        _fork_workers(pool)
        try:
            for chunk, where in chunks:
                pending.append((pool.submit(_work, chunk), where))
                while pending and (len(pending) >= 2 * jobs or not chunk.full):  # bounded: memory stays flat
                    yield result(*pending.popleft())
        except GeneratorExit:  # the consumer stopped (its output failed): nothing more to deliver
            pending.clear()
            raise
        finally:
            # Reading failed part-way: the chunks already read are still written. A worker
            # failed: nothing after its chunk is, so the output is a prefix of the whole.
            while pending and not failed:
                yield result(*pending.popleft())
    except BaseException:
        abandon(pool, WORKER_DIED_GRACE if failed else ABANDON_GRACE)
        raise
    pool.shutdown(wait=True)


def _fork_workers(pool) -> None:
    """Start the pool's workers (at its first submit) now, before the first line is read: a pipe is
    read by a thread (``_paced``) that holds stdin's lock while it waits, and a worker forked then
    would hang for ever closing its copy of stdin, as each new worker process does. Ctrl-C is held
    back meanwhile: a worker forked with the parent's handler would die of it before ignoring it
    (a traceback, a pool broken), and the parent could lose it. Let through after, it stops the
    run here, or the worker ignores it (``_start_worker``)."""
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT}) if hasattr(signal, "pthread_sigmask") else None
    try:
        pool.submit(int)
    except OSError as e:  # fork refused: too many processes, too little memory
        raise TaggingError(f"cannot start the worker processes ({e.strerror or e}); try fewer --jobs") from None
    finally:
        if held is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)


def _awaited(future, pool):
    """``future.result()``, or ``BrokenProcessPool`` if a worker dies where the pool cannot see
    it: killed while it sent a result, it leaves the pool's thread waiting for the rest of that
    message, and any other worker waiting for the lock the dead one held, for ever."""
    # Here, as in _in_workers: only --jobs needs the pool's modules.
    from concurrent.futures import TimeoutError
    from concurrent.futures.process import BrokenProcessPool

    while True:
        try:
            return future.result(timeout=POLL_WORKERS)
        except TimeoutError:
            try:
                workers = list((pool._processes or {}).values())
            except RuntimeError:  # changed while read (a worker being started): look again later
                continue
            if any(w.exitcode is not None for w in workers):
                raise BrokenProcessPool("a worker process died") from None


def abandon(pool, grace: float = ABANDON_GRACE) -> None:
    """Ends a pool that failed, or whose results are no longer wanted, without ``shutdown(wait=True)``,
    which can deadlock while the pool's own threads handle a worker that died (CPython gh-125451,
    fixed in 3.12.8 and 3.13.1). The chunks not yet handed to a worker are dropped and the workers
    end after the few they hold, so that none is killed in the middle of sending its result: the
    pool's thread would then wait for the rest of that message forever, and Python's exit with
    it. A worker that does not end within ``grace`` seconds (stuck, or the pool broken in a way
    its thread does not see) is killed; a pool thread still stuck then is left to ``stuck``."""
    workers = list((getattr(pool, "_processes", None) or {}).values())
    manager = pool._executor_manager_thread  # started by the first submit, which _in_workers makes at once
    pool.shutdown(wait=False, cancel_futures=True)
    if manager is None:  # the first submit failed (fork refused, Ctrl-C): no thread, workers to end
        for worker in workers:
            worker.kill()
        return
    manager.join(timeout=grace)
    if manager.is_alive():
        for worker in workers:
            worker.kill()
        manager.join(timeout=1)
        if manager.is_alive():  # waiting for the rest of a message no one will send
            _BLOCKING.add(manager)


def tag_lines(tagger: Tags, lines: Iterable[str | bytes], fmt: str = "slash", pretokenized: bool = False,
              source: str | None = None, first_line: int = 1, chunk_chars: int = CHUNK_CHARS,
              top: int | None = None) -> Iterator[str]:
    """The text that ``rnncli tag`` writes for each line, one item per line, in order: a line
    of output for slash and jsonl, a block of rows with its blank line for tsv and conllu (a
    lone newline for an empty line). Joined, the items are what ``rnncli tag`` prints.

    Each line is checked as a line of a file is (``corpus.given_line``); the first bad one
    raises ``CorpusError``, named ``source:n`` (``<lines>:n`` without a source, n counted
    from ``first_line``), once the items of every line before it are out. Lines that are not a
    list or a tuple (a file, a generator, a queue) are read as they come: what has arrived is
    tagged when no more comes for a moment.
    """
    if fmt not in OUTPUT_FORMATS:  # said at the call, not at the first item
        raise OptionError("--format", f"unknown output format {fmt!r}; one of {', '.join(OUTPUT_FORMATS)}")
    if top is not None and fmt != "jsonl":  # only jsonl has room for them, as rnncli tag --top says
        raise ValueError(f"top needs format='jsonl', where each token has room for its best tags; got {fmt!r}")
    if isinstance(first_line, bool) or not isinstance(first_line, numbers.Integral) or first_line < 1:
        raise ValueError(f"first_line is the number of the first line, 1 or more; got {first_line!r}")
    name = "<lines>" if source is None else shown(source)
    tag_chunk = ChunkTagger(tagger, fmt, pretokenized, top)  # a bad top is said at the call too
    return _tagged_lines(tag_chunk, lines, fmt, name, first_line, chunk_chars)


def _tagged_lines(tag_chunk: ChunkTagger, lines: Iterable[str | bytes], fmt: str, name: str, first_line: int,
                  chunk_chars: int) -> Iterator[str]:
    split = _slash_items if fmt in ("slash", "jsonl") else _block_items
    checked = ((name, n, given_line(name, n, line, first=n == 1)) for n, line in enumerate(lines, first_line))
    paced = not isinstance(lines, (list, tuple))
    unknown = Unknown(tag_chunk.tagger, _warning)
    for chunk, _ in _chunks(checked, chunk_chars, paced, first_line):
        tagged = tag_chunk(chunk)
        unknown.add(tagged)
        yield from split(tagged.text, len(chunk.lines))
    unknown.end()


class UnknownWordsWarning(UserWarning):
    """Most words of the text are unknown to the model (another language?)."""


def _warning(message: str) -> None:
    warnings.warn(message, UnknownWordsWarning, stacklevel=4)


def _slash_items(text: str, n: int) -> list[str]:
    """One line of output per input line: a word never holds a line break (it is split off as
    white space) and JSON writes one as an escape."""
    items = [line + "\n" for line in text.split("\n")[:-1]]
    return _counted(items, n)


def _block_items(text: str, n: int) -> list[str]:
    """A block of rows per input line, ended by its blank line: rows are never blank (a word
    is never empty), so each blank line closes one input line's block."""
    items, rows = [], []
    for row in text.split("\n")[:-1]:
        rows.append(row)
        if not row:
            items.append("\n".join(rows) + "\n")
            rows = []
    return _counted(items, n)


def _counted(items: list[str], n: int) -> list[str]:
    if len(items) != n:  # the formats above promise otherwise; never silently misalign
        raise TaggingError(f"tagging gave {len(items)} output sentences for {n} lines")
    return items
