"""Reading and writing tagged corpora: slash (``I/nn eat/v``), CoNLL-U and word<TAB>tag.

Readers yield ``Sentence``s and raise ``CorpusError`` with ``file:line:`` at the first
problem, or, given a ``problems`` list, skip the bad sentence and record the message there.
"""

from __future__ import annotations

import os
from sys import intern
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, NamedTuple

from .errors import CorpusError

FORMATS = ("slash", "conllu", "tsv")
TAG_COLUMNS = {"upos": 3, "xpos": 4}
_EXTENSIONS = {".conllu": "conllu", ".conll": "conllu", ".tsv": "tsv", ".tab": "tsv"}


class Sentence(NamedTuple):
    words: list[str]
    tags: list[str]
    line: int  # where the sentence starts in its file, 1-based


def _lines(path: Path, raw: Iterable[bytes]) -> Iterator[tuple[int, str]]:
    """Decoded lines without their line ending; a UTF-8 byte-order mark is dropped."""
    for n, b in enumerate(read_lines(path, raw), 1):
        if n == 1 and b.startswith(b"\xef\xbb\xbf"):
            b = b[3:]
        if b"\0" in b:
            raise CorpusError(f"{path}:{n}: binary data (a NUL byte), not a text corpus")
        try:
            line = b.decode("utf-8")
        except UnicodeDecodeError as e:
            raise CorpusError(f"{path}:{n}: not valid UTF-8 (byte 0x{b[e.start]:02x} at column {e.start + 1})") from None
        yield n, line.rstrip("\r\n")


class _Reader:
    """Shared bookkeeping: the file's name and what to do with a bad sentence."""

    def __init__(self, path: Path, problems: list[str] | None):
        self.path, self.problems = path, problems

    def fail(self, n: int, message: str) -> None:
        error = f"{self.path}:{n}: {message}"
        if self.problems is None:
            raise CorpusError(error)
        self.problems.append(error)


def _read_slash(r: _Reader, lines) -> Iterator[Sentence]:
    for n, line in lines:
        tokens = line.split()
        if not tokens:
            continue
        words, tags = [], []
        for tok in tokens:
            word, sep, tag = tok.rpartition("/")
            if not sep or not word or not tag:
                why = "has no tag" if not sep else "has an empty tag" if not tag else "has an empty word"
                r.fail(n, f"token {tok!r} {why} (expected word/TAG)")
                break
            words.append(intern(word))  # a big corpus repeats its words: one string object each
            tags.append(intern(tag))
        else:
            yield Sentence(words, tags, n)


def _blocks(lines) -> Iterator[list[tuple[int, str]]]:
    """Runs of non-blank lines: one sentence each in TSV and CoNLL-U."""
    block: list[tuple[int, str]] = []
    for n, line in lines:
        if line.strip():
            block.append((n, line))
        elif block:
            yield block
            block = []
    if block:
        yield block


def _read_tsv(r: _Reader, lines) -> Iterator[Sentence]:
    for block in _blocks(lines):
        words, tags = [], []
        for n, line in block:
            cols = line.split("\t")
            if len(cols) != 2 or not cols[0].strip() or not cols[1].strip():
                got = f"{len(cols)} columns" if len(cols) != 2 else "an empty column"
                r.fail(n, f"expected word<TAB>tag, got {got}")
                break
            words.append(intern(cols[0].strip()))
            tags.append(intern(cols[1].strip()))
        else:
            yield Sentence(words, tags, block[0][0])


def _read_conllu(r: _Reader, lines, tag_column: str) -> Iterator[Sentence]:
    col = TAG_COLUMNS[tag_column]
    for block in _blocks(lines):
        words, tags, start = [], [], 0
        for n, line in block:
            if line.startswith("#"):
                continue
            start = start or n
            cols = line.split("\t")
            if len(cols) != 10:
                r.fail(n, f"CoNLL-U needs 10 tab-separated columns, got {len(cols)}")
                break
            if "-" in cols[0] or "." in cols[0]:
                continue  # multiword-token range or empty node: not a word of the sentence
            if not cols[1] or cols[col] in ("", "_"):
                r.fail(n, f"token {cols[1]!r} has no {tag_column.upper()}")
                break
            words.append(intern(cols[1]))
            tags.append(intern(cols[col]))
        else:
            if words:
                yield Sentence(words, tags, start)


def detect_format(path: Path, first_lines: list[str]) -> str:
    """By extension, else by the first line that is neither blank nor a comment."""
    ext = _EXTENSIONS.get(path.suffix.lower())
    if ext:
        return ext
    for line in first_lines:
        if not line.strip() or line.startswith("#"):
            continue
        n_cols = len(line.split("\t"))
        return "conllu" if n_cols == 10 else "tsv" if n_cols == 2 else "slash"
    return "slash"


def file_format(path: str | os.PathLike) -> str:
    """The format of a corpus file, from its extension or its first lines."""
    path = Path(path)
    with open_corpus(path) as f:
        return _sniff(path, f)


def _sniff(path: Path, f: IO[bytes]) -> str:
    """The format from the extension or the first lines of the open file, which is then
    rewound to its start."""
    if path.suffix.lower() in _EXTENSIONS:
        return _EXTENSIONS[path.suffix.lower()]
    if not f.seekable():  # a pipe cannot be read twice
        raise CorpusError(f"{path}: a stream, whose format cannot be told from its first lines; give --format")
    head = [b.decode("utf-8", "replace") for _, b in zip(range(20), read_lines(path, f))]
    f.seek(0)
    return detect_format(path, head)


def read_lines(path: str | os.PathLike, raw: Iterable[bytes]) -> Iterator[bytes]:
    """The lines of an open file; a failing read (a bad disk, a vanished network share) is
    an error naming the file and the line it stopped at."""
    n = 0
    try:
        for n, line in enumerate(raw, 1):
            yield line
    except OSError as e:  # only reading raises here: a consumer's errors never enter a generator
        raise CorpusError(f"{path}:{n + 1}: cannot read ({e.strerror or e})") from None


def open_corpus(path: str | os.PathLike) -> IO[bytes]:
    path = Path(path)
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise CorpusError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise CorpusError(f"{path}: is a directory, not a corpus file") from None
    except OSError as e:
        raise CorpusError(f"{path}: cannot read ({e.strerror})") from None


def read_corpus(path: str | os.PathLike, fmt: str | None = None, tag_column: str = "upos",
                problems: list[str] | None = None) -> list[Sentence]:
    """All sentences of a corpus file; an empty result is an error."""
    path = Path(path)
    with open_corpus(path) as f:
        fmt = fmt or _sniff(path, f)
        lines = _lines(path, f)
        reader = _Reader(path, problems)
        if fmt == "slash":
            sentences = list(_read_slash(reader, lines))
        elif fmt == "tsv":
            sentences = list(_read_tsv(reader, lines))
        elif fmt == "conllu":
            sentences = list(_read_conllu(reader, lines, tag_column))
        else:
            raise ValueError(f"unknown corpus format {fmt!r}")
    if not sentences:
        raise CorpusError(f"{path}: no tagged sentence found (read as {fmt})")
    return sentences


def format_sentence(words: list[str], tags: list[str], fmt: str, tag_column: str = "upos") -> str:
    """One sentence in a corpus format. TSV and CoNLL-U blocks end with their blank line."""
    if fmt == "slash":
        return " ".join(f"{w}/{t}" for w, t in zip(words, tags)) + "\n"
    if fmt == "tsv":
        return "".join(f"{w}\t{t}\n" for w, t in zip(words, tags)) + "\n"
    if fmt == "conllu":
        upos, xpos = ("{t}", "_") if tag_column == "upos" else ("_", "{t}")
        row = "{i}\t{w}\t_\t" + upos + "\t" + xpos + "\t_\t_\t_\t_\t_\n"
        return "".join(row.format(i=i, w=w, t=t) for i, (w, t) in enumerate(zip(words, tags), 1)) + "\n"
    raise ValueError(f"unknown corpus format {fmt!r}")
