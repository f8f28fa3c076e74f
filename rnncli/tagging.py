"""Tagging a stream of lines: tokenise, tag in large batches, write in input order.

Lines are read and tagged a chunk at a time, so memory stays flat however long the input.
With ``jobs`` > 1, chunks are tagged by worker processes (a few in flight at a time) and
written in input order.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import TextIO

from .corpus import format_sentence
from .errors import RnncliError, TaggingError
from .tagger import LARGE_INPUT, Tagger

CHUNK_CHARS = 1 << 19  # about 100,000 tokens of text: big batches for the matrix products, flat memory


class ChunkTagger:
    """Turns a list of raw lines into the text of their tagged sentences."""

    def __init__(self, tagger: Tagger, fmt: str = "slash", pretokenized: bool = False):
        self.tagger, self.fmt = tagger, fmt
        if pretokenized:
            self.split = str.split
        else:
            from .tokenize import tokenize

            self.split = tokenize
        self.column = tagger.record.tag_column
        self.slash = ["/" + t for t in tagger.tags]
        if fmt == "slash":
            _check_slash_tags(tagger.tags)

    def __call__(self, lines: list[str]) -> tuple[str, int]:
        sentences = [self.split(line) for line in lines]
        if sum(map(len, sentences)) >= LARGE_INPUT:
            self.tagger.widen_lookups()  # once: a stream this long pays for it
        results = self.tagger.best(sentences, probs=self.fmt == "jsonl")
        tags = self.tagger.tags
        if self.fmt == "slash":  # the common case, kept lean: "word" + "/TAG" per token
            slash = self.slash
            parts = [" ".join(map(str.__add__, words, [slash[k] for k in best])) + "\n"
                     for words, (best, _) in zip(sentences, results)]
        elif self.fmt == "jsonl":
            parts = [json.dumps({"tokens": words, "tags": [tags[k] for k in best],
                                 "probs": [round(float(x), 4) for x in p]}, ensure_ascii=False) + "\n"
                     for words, (best, p) in zip(sentences, results)]
        else:
            parts = [format_sentence(words, [tags[k] for k in best], self.fmt, self.column) if words else "\n"
                     for words, (best, _) in zip(sentences, results)]
        return "".join(parts), sum(map(len, sentences))


def _check_slash_tags(tags: list[str]) -> None:
    """Slash output is read back split at each token's last slash (``1/2/NUM`` is the word
    ``1/2``): a tag holding a slash would read back as part of its word, so it is refused."""
    bad = next((t for t in tags if "/" in t), None)
    if bad is not None:
        from .errors import OptionError

        raise OptionError("--format", f"the model's tag {bad!r} holds a '/', which slash output cannot "
                                      f"show so that it reads back; use tsv, conllu or jsonl")


def _chunks(lines: Iterable[tuple[str, int, str]], chunk_chars: int) -> Iterator[tuple[list[str], str]]:
    """Lists of lines of about ``chunk_chars`` characters, each with where its last line came from."""
    chunk: list[str] = []
    size = 0
    where = ""
    try:
        for source, n, line in lines:
            chunk.append(line)
            size += len(line) + 1
            if size >= chunk_chars:
                full, chunk, size = chunk, [], 0  # emptied first: a consumer that stops gets nothing twice
                yield full, f"{source}:{n}"
            where = f"{source}:{n}"
    finally:
        # Also when reading failed part-way (invalid UTF-8): what was read is still tagged
        # and written before the error surfaces.
        if chunk:
            yield chunk, where


def tag_stream(tagger: Tagger, lines: Iterable[tuple[str, int, str]], out: TextIO, fmt: str = "slash",
               pretokenized: bool = False, chunk_chars: int = CHUNK_CHARS, jobs: int = 1) -> int:
    """Tag each (source, line number, text) and write one output sentence per line; returns tokens tagged.

    An empty or blank line gives an empty output sentence: a blank line (slash, tsv, conllu)
    or an object with empty lists (jsonl). With ``jobs`` > 1, a worker that fails or dies ends
    the stream with ``TaggingError`` once every chunk before its own is written.
    """
    tag_chunk = ChunkTagger(tagger, fmt, pretokenized)
    chunks = _chunks(lines, chunk_chars)
    if jobs > 1:
        results = _in_workers(tag_chunk, chunks, jobs)
    else:
        results = (tag_chunk(chunk) for chunk, _ in chunks)
    total = 0
    for text, n in results:
        out.write(text)
        out.flush()
        total += n
    return total


_worker: ChunkTagger | None = None  # each worker process's own copy, set once when it starts


def _start_worker(tag_chunk: ChunkTagger, parent: int) -> None:
    import os
    import signal
    import threading
    import time

    global _worker
    _worker = tag_chunk
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: no worker tracebacks

    def exit_with_parent() -> None:
        # A parent that died (killed, or ended by SIGPIPE) cannot shut the pool down: leave with it.
        while os.getppid() == parent:
            time.sleep(0.2)
        os._exit(0)

    threading.Thread(target=exit_with_parent, daemon=True).start()


def _work(lines: list[str]) -> tuple[str, int]:
    return _worker(lines)


def _in_workers(tag_chunk: ChunkTagger, chunks: Iterator[tuple[list[str], str]],
                jobs: int) -> Iterator[tuple[str, int]]:
    """``map(tag_chunk, chunks)`` in worker processes, results in input order. A worker that
    raises or dies ends the results with ``TaggingError`` after the chunks before its own."""
    import multiprocessing
    import os
    from collections import deque
    from concurrent.futures import ProcessPoolExecutor

    # fork shares the loaded model with the workers at no cost; elsewhere it is pickled once per worker.
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    pending: deque = deque()
    written = "the start"  # where the output stops if the next chunk fails
    failed = False

    from concurrent.futures.process import BrokenProcessPool  # here: a one-process run never needs it

    def result(future, where: str) -> tuple[str, int]:
        nonlocal written, failed
        try:
            out = future.result()
        except BaseException as e:
            failed = True
            if isinstance(e, (RnncliError, MemoryError, KeyboardInterrupt, SystemExit)):
                raise  # Ctrl-C is this process's own: status 130, as without --jobs
            why = ("ended abruptly (killed, or out of memory)" if isinstance(e, BrokenProcessPool)
                   else f"failed ({type(e).__name__}: {e})")
            raise TaggingError(f"a worker process {why}; the output stops after {written}") from None
        written = where
        return out

    with ProcessPoolExecutor(jobs, mp_context=context, initializer=_start_worker,
                             initargs=(tag_chunk, os.getpid())) as pool:
        try:
            for chunk, where in chunks:
                pending.append((pool.submit(_work, chunk), where))
                if len(pending) >= 2 * jobs:  # bounded: memory stays flat however long the input
                    yield result(*pending.popleft())
        except GeneratorExit:  # the consumer stopped (its output failed): nothing more to deliver
            pending.clear()
            raise
        finally:
            # Reading failed part-way: the chunks already read are still written. A worker
            # failed: nothing after its chunk is, so the output is a prefix of the whole.
            while pending and not failed:
                yield result(*pending.popleft())
            for future, _ in pending:
                future.cancel()


def tag_lines(tagger: Tagger, lines: Iterable[str | bytes], fmt: str = "slash", pretokenized: bool = False,
              source: str | None = None, first_line: int = 1, chunk_chars: int = CHUNK_CHARS) -> Iterator[str]:
    """The text that ``rnncli tag`` writes for each line, one item per line, in order: a line
    of output for slash and jsonl, a block of rows with its blank line for tsv and conllu (a
    lone newline for an empty line). Joined, the items are what ``rnncli tag`` prints.

    Each line is checked as a line of a file is (``corpus.given_line``); the first bad one
    raises ``CorpusError``, named ``source:n`` (``<lines>:n`` without a source, n counted
    from ``first_line``), once the items of every line before it are out.
    """
    from .corpus import OUTPUT_FORMATS
    from .errors import OptionError, shown

    if fmt not in OUTPUT_FORMATS:  # said at the call, not at the first item
        raise OptionError("--format", f"unknown output format {fmt!r}; one of {', '.join(OUTPUT_FORMATS)}")
    name = "<lines>" if source is None else shown(source)
    return _tagged_lines(ChunkTagger(tagger, fmt, pretokenized), lines, fmt, name, first_line, chunk_chars)


def _tagged_lines(tag_chunk: ChunkTagger, lines: Iterable[str | bytes], fmt: str, name: str, first_line: int,
                  chunk_chars: int) -> Iterator[str]:
    from .corpus import given_line

    split = _slash_items if fmt in ("slash", "jsonl") else _block_items
    chunk: list[str] = []
    size = 0
    numbered = enumerate(lines, first_line)
    while True:
        try:
            n, line = next(numbered)
            text = given_line(name, n, line, first=n == 1)
        except StopIteration:
            break
        except Exception:
            if chunk:  # the lines before the bad one are out before the error, as from rnncli tag
                yield from split(tag_chunk(chunk)[0], len(chunk))
            raise
        chunk.append(text)
        size += len(text) + 1
        if size >= chunk_chars:
            yield from split(tag_chunk(chunk)[0], len(chunk))
            chunk, size = [], 0
    if chunk:
        yield from split(tag_chunk(chunk)[0], len(chunk))


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
