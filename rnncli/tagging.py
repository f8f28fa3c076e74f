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
from .tagger import Tagger

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
        self.column = tagger.info.get("tag_column", "upos")

    def __call__(self, lines: list[str]) -> tuple[str, int]:
        sentences = [self.split(line) for line in lines]
        results = self.tagger.best(sentences)
        tags = self.tagger.tags
        if self.fmt == "slash":  # the common case, kept lean: "word" + "/TAG" per token
            slash = ["/" + t for t in tags]
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


def _chunks(lines: Iterable[tuple[str, int, str]], chunk_chars: int) -> Iterator[list[str]]:
    chunk: list[str] = []
    size = 0
    try:
        for _, _, line in lines:
            chunk.append(line)
            size += len(line) + 1
            if size >= chunk_chars:
                full, chunk, size = chunk, [], 0  # emptied first: a consumer that stops gets nothing twice
                yield full
    finally:
        # Also when reading failed part-way (invalid UTF-8): what was read is still tagged
        # and written before the error surfaces.
        if chunk:
            yield chunk


def tag_stream(tagger: Tagger, lines: Iterable[tuple[str, int, str]], out: TextIO, fmt: str = "slash",
               pretokenized: bool = False, chunk_chars: int = CHUNK_CHARS, jobs: int = 1) -> int:
    """Tag each (source, line number, text) and write one output sentence per line; returns tokens tagged.

    An empty or blank line gives an empty output sentence: a blank line (slash, tsv, conllu)
    or an object with empty lists (jsonl).
    """
    tag_chunk = ChunkTagger(tagger, fmt, pretokenized)
    chunks = _chunks(lines, chunk_chars)
    total = 0
    for text, n in _in_workers(tag_chunk, chunks, jobs) if jobs > 1 else map(tag_chunk, chunks):
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
        # A parent ended by SIGPIPE (`| head`) cannot shut the pool down: leave with it.
        while os.getppid() == parent:
            time.sleep(0.2)
        os._exit(0)

    threading.Thread(target=exit_with_parent, daemon=True).start()


def _work(lines: list[str]) -> tuple[str, int]:
    return _worker(lines)


def _in_workers(tag_chunk: ChunkTagger, chunks: Iterator[list[str]], jobs: int) -> Iterator[tuple[str, int]]:
    """``map(tag_chunk, chunks)`` in worker processes, results in input order."""
    import multiprocessing
    import os
    from collections import deque
    from concurrent.futures import ProcessPoolExecutor

    # fork shares the loaded model with the workers at no cost; elsewhere it is pickled once per worker.
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    pending: deque = deque()
    with ProcessPoolExecutor(jobs, mp_context=context, initializer=_start_worker,
                             initargs=(tag_chunk, os.getpid())) as pool:
        try:
            for chunk in chunks:
                pending.append(pool.submit(_work, chunk))
                if len(pending) >= 2 * jobs:  # bounded: memory stays flat however long the input
                    yield pending.popleft().result()
        except GeneratorExit:  # the consumer stopped (its output failed): nothing more to deliver
            pending.clear()
            raise
        finally:
            # Also when reading failed part-way: the chunks already read are still written.
            while pending:
                yield pending.popleft().result()
