"""The project's errors: one base class, turned into a one-line message by the CLI."""

from __future__ import annotations


class RnncliError(Exception):
    """Something the user can fix: bad input, a bad model file, a bad option."""


class CorpusError(RnncliError):
    """A corpus that cannot be read; the message starts with ``file:line:``."""


class ModelFileError(RnncliError):
    """A model file that is missing, damaged, or of an unknown format."""


class TrainingError(RnncliError):
    """Training that cannot go on (for example, the loss became NaN)."""
