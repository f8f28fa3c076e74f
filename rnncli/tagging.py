"""Tagging a stream of lines: tokenise, tag in large batches, write in input order.

Lines are read and tagged a chunk at a time, so memory stays flat however long the input.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TextIO

from .corpus import format_sentence
from .tagger import Tagger

CHUNK_TOKENS = 65536  # tokens tagged together: big enough for fast matrix products, small enough for flat memory


def tag_stream(tagger: Tagger, lines: Iterable[tuple[str, int, str]], out: TextIO, fmt: str = "slash",
               pretokenized: bool = False, chunk_tokens: int = CHUNK_TOKENS) -> int:
    """Tag each (source, line number, text) and write one output sentence per line; returns tokens tagged.

    An empty or blank line gives an empty output sentence: a blank line (slash, tsv, conllu)
    or an object with empty lists (jsonl).
    """
    if pretokenized:
        split = str.split
    else:
        from .tokenize import tokenize as split
    column = tagger.info.get("tag_column", "upos")
    tags = tagger.tags
    total = 0
    chunk: list[list[str]] = []
    size = 0

    def flush() -> None:
        parts = []
        for words, probs in zip(chunk, tagger.predict(chunk)):
            best = probs.argmax(axis=1)
            if fmt == "jsonl":
                parts.append(json.dumps({"tokens": words, "tags": [tags[k] for k in best],
                                         "probs": [round(float(p), 4) for p in probs.max(axis=1)]},
                                        ensure_ascii=False) + "\n")
            elif not words:
                parts.append("\n")
            else:
                parts.append(format_sentence(words, [tags[k] for k in best], fmt, column))
        out.write("".join(parts))
        out.flush()

    try:
        for _, _, line in lines:
            words = split(line)
            chunk.append(words)
            size += len(words) + 1
            total += len(words)
            if size >= chunk_tokens:
                flush()
                chunk, size = [], 0
    finally:
        if chunk:  # also when reading failed part-way: what was read is written before the error
            flush()
    return total
