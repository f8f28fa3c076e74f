"""Reading and writing tagged corpora: slash (``I/nn eat/v``), CoNLL-U and word<TAB>tag.

Readers yield ``Sentence``s and raise ``CorpusError`` with ``file:line:`` at the first
problem, or, given a ``problems`` list, skip the bad sentence and record the message there.
"""

from __future__ import annotations

import atexit
import gc
import os
import sys
from contextlib import contextmanager
from sys import intern
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, NamedTuple

from .errors import CorpusError, OptionError, shown

FORMATS = ("slash", "conllu", "tsv")
OUTPUT_FORMATS = ("slash", "tsv", "conllu", "jsonl")  # what tagging writes: the corpus formats, and JSON lines
TAG_COLUMNS = {"upos": 3, "xpos": 4}
_EXTENSIONS = {".conllu": "conllu", ".conll": "conllu", ".tsv": "tsv", ".tab": "tsv"}


class Sentence(NamedTuple):
    words: list[str]
    tags: list[str]
    line: int  # where the sentence starts in its file, 1-based


MAX_LINE = 10 * 2**20  # bytes in one line of text, its line ending aside; a longer line is refused


def text_lines(name: str | os.PathLike, stream: IO[bytes], inner_cr: bool = True) -> Iterator[tuple[int, str]]:
    """(line number, text without its line ending) of an open file or stream; a UTF-8
    byte-order mark is dropped. Binary data, a line of more than ``MAX_LINE`` bytes and bytes
    that are not UTF-8 stop it with a ``CorpusError`` naming ``name`` and the line; so does a
    carriage return that does not end the line, unless ``inner_cr`` (text to tag, where it is
    white space between words)."""
    name = shown(name)
    for n, b in _raw_lines(name, stream):
        if n == 1 and b.startswith(b"\xef\xbb\xbf"):
            b = b[3:]
        text = _decode(name, n, b).rstrip("\r\n")
        if not inner_cr and "\r" in text:  # a word or tag would carry it into every output format
            raise CorpusError(f"{name}:{n}: a carriage return inside the line (column "
                              f"{text.index(chr(13)) + 1}); lines end with \\n or \\r\\n")
        yield n, text


def _raw_lines(name: str, stream: IO[bytes]) -> Iterator[tuple[int, bytes]]:
    """(line number, bytes) with a bounded read per line, so that a file without line breaks
    (/dev/zero) is an error after MAX_LINE bytes, not a machine out of memory."""
    readline = stream.readline
    n = 0
    while True:
        try:
            b = readline(MAX_LINE + 2)  # room for the text and "\r\n"
        except OSError as e:  # a bad disk, a vanished network share
            raise CorpusError(f"{name}:{n + 1}: cannot read ({e.strerror or e})") from None
        if not b:
            return
        n += 1
        _check_bytes(name, n, b)
        yield n, b


def _decode(name: str, n: int, b: bytes) -> str:
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CorpusError(f"{name}:{n}: not valid UTF-8 (byte 0x{b[e.start]:02x} at column {e.start + 1})") from None


def _check_bytes(name: str, n: int, b: bytes) -> None:
    """A line of text holds no NUL byte and at most ``MAX_LINE`` bytes besides its line ending."""
    if b"\0" in b:
        raise CorpusError(f"{name}:{n}: binary data (a NUL byte), not text")
    if len(b) > MAX_LINE and len(b.rstrip(b"\r\n")) > MAX_LINE:
        raise CorpusError(f"{name}:{n}: line longer than {MAX_LINE:,} bytes; not read")


def given_line(name: str, n: int, line: str | bytes, first: bool = False) -> str:
    """A line handed over by a program, as text or as UTF-8 bytes, checked as ``text_lines``
    checks a line of a file, with the same messages: its text without its line ending. The
    ``first`` line of a file loses its byte-order mark, as there.

    Text decoded with ``errors="surrogateescape"`` keeps each byte that is not UTF-8 as a lone
    surrogate; it is refused as that byte, at its column in bytes, as in a file. Two lines
    given as one (a line break before the end) are refused too."""
    if isinstance(line, str):
        try:
            b, text = line.encode("utf-8"), line
        except UnicodeEncodeError:
            text = None
            try:
                b = line.encode("utf-8", "surrogateescape")
            except UnicodeEncodeError as e:
                raise _lone_surrogate(name, n, line, e.start) from None
    elif isinstance(line, (bytes, bytearray, memoryview)):
        b, text = bytes(line), None
    else:  # bytes(10**9) would be a gigabyte of zeros, refused only as a NUL byte
        raise TypeError(f"{name}:{n}: lines are str or bytes, not {type(line).__name__}")
    _check_bytes(name, n, b)
    if first and b.startswith(b"\xef\xbb\xbf"):
        b, text = b[3:], text and text[1:]
    if text is None:
        text = _decode(name, n, b)
        if isinstance(line, str):  # escaped bytes that spell valid UTF-8: no decoder leaves those
            raise _lone_surrogate(name, n, line, next(i for i, c in enumerate(line) if "\ud800" <= c <= "\udfff"))
    end = len(text) - 1 if text.endswith("\n") else len(text)
    if text.find("\n", 0, end) >= 0:
        raise CorpusError(f"{name}:{n}: a line break inside the line; give one line per item")
    return text.rstrip("\r\n")


def _lone_surrogate(name: str, n: int, line: str, i: int) -> CorpusError:
    return CorpusError(f"{name}:{n}: not valid Unicode (a lone surrogate, U+{ord(line[i]):04X}, at character {i + 1})")


def plain_tag(tag: str) -> bool:
    """A tag is written after a word, one token per line or per space: it must be one
    non-empty word of printable characters (no format character such as U+200D or U+202E)."""
    return bool(tag) and tag.isprintable() and not any(c.isspace() for c in tag)


class _Reader:
    """Shared bookkeeping: the file's name and what to do with a bad sentence."""

    def __init__(self, path: str | os.PathLike, problems: list[str] | None):
        self.path, self.problems = corpus_name(path), problems
        self.plain: set[str] = set()  # the tags found plain so far: each distinct tag is checked once

    def fail(self, n: int, message: str) -> None:
        error = f"{self.path}:{n}: {message}"
        if self.problems is None:
            raise CorpusError(error)
        self.problems.append(error)

    def bad_tag(self, n: int, tag: str) -> bool:
        """A tag that no model file may hold (``plain_tag``) makes its sentence malformed: a
        model trained on it would be refused by its own loader."""
        if tag in self.plain:
            return False
        if plain_tag(tag):
            self.plain.add(tag)
            return False
        shorter = tag if len(tag) <= 40 else tag[:40] + "..."
        self.fail(n, f"tag {shorter!r} is not one word of printable text (white space, a control or "
                     f"format character in it)")
        return True


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
            if r.bad_tag(n, tag):
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
            if r.bad_tag(n, cols[1].strip()):
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
            if cols[0] != str(len(words) + 1):  # words are numbered 1, 2, 3 ... in each sentence
                hint = " (a blank line missing between two sentences?)" if cols[0] == "1" else ""
                r.fail(n, f"word ID {cols[0]!r} where {len(words) + 1} should be{hint}")
                break
            if not cols[1] or cols[col] in ("", "_"):
                r.fail(n, f"token {cols[1]!r} has no {tag_column.upper()}")
                break
            if r.bad_tag(n, cols[col]):
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
    with open_corpus(path) as f:  # the path as given: Path("./-") would be "-", stdin
        return _sniff(path, f)


def _sniff(path: str | os.PathLike, f: IO[bytes]) -> str:
    """The format from the extension or the first lines of the open file, which is then
    rewound to its start. ``path`` as given, for messages ("./-" is no stdin)."""
    suffix = Path(path).suffix.lower()
    if suffix in _EXTENSIONS:
        return _EXTENSIONS[suffix]
    if not f.seekable():  # a pipe cannot be read twice
        raise CorpusError(f"{corpus_name(path)}: a stream, whose format cannot be told from its first lines; "
                          f"give --format")
    start = f.tell()  # 0 for a file; for stdin redirected from one, where it was left
    head = [b.decode("utf-8", "replace") for _, (_, b) in zip(range(20), _raw_lines(corpus_name(path), f))]
    f.seek(start)
    return detect_format(Path(path), head)


STDIN = "-"  # the corpus "file" that is standard input


def check_stdin_once(paths, option: str) -> None:
    """Standard input can be read once: ``paths`` naming it ('-') twice is an ``OptionError``."""
    if sum(os.fspath(p) == STDIN for p in paths) > 1:
        raise OptionError(option, "standard input ('-') is named twice; it can be read once")


def corpus_name(path: str | os.PathLike) -> str:
    """How messages name a corpus: its path, or <stdin>."""
    return "<stdin>" if os.fspath(path) == STDIN else shown(path)


class _KeepOpen:
    """Standard input's bytes, read as a corpus file is; closing it leaves stdin open."""

    def __init__(self, stream: IO[bytes]):
        self.stream = stream

    def __getattr__(self, name: str):
        return getattr(self.stream, name)

    def __enter__(self) -> _KeepOpen:
        return self

    def __exit__(self, *_) -> None:
        pass

    def close(self) -> None:
        pass


_MADE_BLOCKING: list[int] = []  # stdin's descriptor, if rnncli made it blocking: made non-blocking again


def stdin_bytes() -> IO[bytes]:
    """Standard input's bytes, to be read. One left non-blocking by whatever started rnncli fails
    a read that finds no data yet, and Python's reader takes that for the end of the input: the
    rest would be lost in silence. It is made blocking while rnncli reads, and left as it was
    found when rnncli ends (``restore_stdin``): the flag belongs to the pipe, which others share."""
    try:
        fd = sys.stdin.fileno()
        if not os.get_blocking(fd):
            os.set_blocking(fd, True)
            if not _MADE_BLOCKING:
                _MADE_BLOCKING.append(fd)
                atexit.register(restore_stdin)
    except (OSError, ValueError, AttributeError):  # no descriptor (closed, a harness's stream)
        pass
    return sys.stdin.buffer


def restore_stdin() -> None:
    """Standard input non-blocking again if ``stdin_bytes`` made it blocking."""
    while _MADE_BLOCKING:
        try:
            os.set_blocking(_MADE_BLOCKING.pop(), False)
        except OSError:
            pass


def open_corpus(path: str | os.PathLike) -> IO[bytes]:
    """A corpus file opened for reading ('-': standard input), or one line saying why it cannot be."""
    if os.fspath(path) == STDIN:
        return _KeepOpen(stdin_bytes())  # type: ignore[return-value]
    if not os.fspath(path):  # Path("") would be ".", a directory the user never named
        raise CorpusError("'': an empty file name; give a file")
    name = shown(os.fspath(path))  # as given: Path("./-") would be "-"
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise CorpusError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise CorpusError(f"{name}: is a directory, not a file") from None
    except OSError as e:
        raise CorpusError(f"{name}: cannot read ({e.strerror})") from None


@contextmanager
def _no_cycles_made():
    """A corpus is millions of small lists in tuples, none in a reference cycle. Python's cyclic
    collector would still walk all of them again and again while they are made, as the heap
    grows: 6 of the 14 seconds of reading 100 MB. It waits until they are made."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def read_corpus(path: str | os.PathLike, fmt: str | None = None, tag_column: str = "upos",
                problems: list[str] | None = None) -> list[Sentence]:
    """All sentences of a corpus file; an empty result is an error."""
    with open_corpus(path) as f, _no_cycles_made():  # as given: Path("./-") would be "-", stdin
        fmt = fmt or _sniff(path, f)
        lines = text_lines(corpus_name(path), f, inner_cr=False)
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
        raise CorpusError(f"{corpus_name(path)}: no tagged sentence found (read as {fmt})")
    return sentences


def check_tag_column(paths: list, fmt: str | None, tag_column: str) -> None:
    """A tag column other than UPOS names a CoNLL-U column: every corpus must be CoNLL-U."""
    if tag_column == "upos":
        return
    for path in paths:
        found = fmt or file_format(path)
        if found != "conllu":
            raise OptionError("--tag-column", f"applies to CoNLL-U corpora; {corpus_name(path)} is read as {found}")


def read_corpora(paths: list, fmt: str | None, tag_column: str, strict: bool, what: str,
                 warn: Callable[[str], None] | None = None) -> list[Sentence]:
    """The sentences of every file. Malformed sentences are skipped and counted in one warning
    per file (``warn``), or, with ``strict``, the first one is an error."""
    sentences = []
    for path in paths:
        problems: list[str] | None = None if strict else []
        try:
            sentences += read_corpus(path, fmt, tag_column, problems)
        finally:
            if problems and warn:
                n = len(problems)
                warn(f"skipped {n} malformed {what} sentence{'s' * (n != 1)}; first: {problems[0]} "
                     f"(--strict makes this an error)")
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
