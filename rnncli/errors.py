"""The project's errors: one base class, turned into a one-line message by the CLI."""

from __future__ import annotations

import os


class RnncliError(Exception):
    """Something the user can fix: bad input, a bad model file, a bad option.

    Every one pickles, so that an error raised in a worker process (Dask, Spark, ``--jobs``)
    reaches the process that started the work as itself, with its message."""

    status = 1  # the exit status it ends rnncli with


class CorpusError(RnncliError):
    """A corpus that cannot be read; the message starts with ``file:line:``."""


class ModelFileError(RnncliError):
    """A model file that is missing, damaged, or of an unknown format."""


class TrainingError(RnncliError):
    """Training that cannot go on (for example, the loss became NaN)."""


class OptionError(RnncliError):
    """An option's value that cannot work (``option`` names it, as on the command line)."""

    status = 2

    def __init__(self, option: str, message: str):
        super().__init__(message)
        self.option = option

    def __reduce__(self):
        return type(self), (self.option, str(self))


class Stopped(RnncliError):
    """Stopped by a signal (Ctrl-C, SIGTERM); ``status`` is what a shell reports: 128 + its number."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status

    def __reduce__(self):
        return type(self), (str(self), self.status)


class TaggingError(RnncliError):
    """Tagging that cannot go on, such as a worker process that died."""


def shown(path: str | os.PathLike) -> str:
    """A file name as messages print it: as it is when it is plain text, else quoted as a
    shell would read it ($'...'), so that a newline or a terminal escape in a name can
    neither split a message in two nor reach the terminal."""
    text = os.fsdecode(path)
    if text.isprintable():
        return text
    out = []
    for c in text:
        if c.isprintable() and c not in "\\'":
            out.append(c)
        elif c in "\\'":
            out.append("\\" + c)
        elif c in _ESCAPES:
            out.append(_ESCAPES[c])
        elif 0xDC80 <= ord(c) <= 0xDCFF:  # a byte that is not UTF-8, as os.fsdecode keeps it
            out.append(f"\\x{ord(c) - 0xDC00:02x}")
        elif ord(c) < 0x100:
            out.append(f"\\x{ord(c):02x}")
        else:
            out.append(f"\\u{ord(c):04x}" if ord(c) < 0x10000 else f"\\U{ord(c):08x}")
    return "$'" + "".join(out) + "'"


_ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r", "\x1b": "\\e"}


def printable(text: str) -> str:
    """``text`` with each character that is not printable (a newline, a terminal escape) written
    as its escape, for a table or a message that must stay what it looks like."""
    return text if text.isprintable() else "".join(c if c.isprintable() else shown(c)[2:-1] for c in text)
