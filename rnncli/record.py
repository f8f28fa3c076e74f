"""What a model file says of itself beyond the network: how it was trained, on what, and whose
data it carries. One definition, read (and checked) on load and written on save.

In the file it is part of the JSON metadata, beside ``shape``, ``vocab`` and ``tags``::

    {"training": {"hyper_parameters": {...}, "history": [{"epoch": 1, "loss": 0.9,
                  "dev_accuracy": 0.91, "seconds": 1.2}, ...], "best_epoch": 7,
                  "dev_accuracy": 0.95, "tag_counts": {"NOUN": 34000, ...}, "tokens": 204577,
                  "unlearnable_dev_tags": []},
     "corpus": ["en_ewt-ud-train.conllu"], "tag_column": "upos",
     "attribution": "...", "stored_dtype": "float16"}

Every field may be missing (a model built by hand has no training record); a field of the
wrong type is a ``ValueError`` naming it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .config import STORES
from .corpus import TAG_COLUMNS


def _number(x) -> bool:
    """A finite number: what training records (JSON itself has no NaN; Python's reader takes it)."""
    return isinstance(x, int) and not isinstance(x, bool) or isinstance(x, float) and math.isfinite(x)


def check_history(history) -> list[dict]:
    """A training history (of a model or a checkpoint) is a list of epochs with their numbers."""
    if not isinstance(history, list) or not all(
            isinstance(h, dict) and all(_number(h.get(k)) for k in ("epoch", "loss", "seconds"))
            and (h.get("dev_accuracy") is None or _number(h["dev_accuracy"])) for h in history):
        raise ValueError("training history is not a list of epochs")
    return history


@dataclass
class Training:
    """How the network was trained: its hyper-parameters, each epoch, and what it saw."""

    hyper_parameters: dict = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)  # one {"epoch", "loss", "dev_accuracy", "seconds"} each
    best_epoch: int | None = None  # the epoch whose weights were kept (1-based)
    dev_accuracy: float | None = None  # that epoch's, when there was dev data
    tag_counts: dict[str, int] = field(default_factory=dict)  # training tokens per tag, most frequent first
    tokens: int | None = None
    unlearnable_dev_tags: list[str] = field(default_factory=list)  # in dev, never in training
    minutes: float | None = None  # how long the whole training took, where the builder noted it

    @classmethod
    def from_json(cls, d) -> Training:
        if not isinstance(d, dict):
            raise ValueError("training is not an object")
        for key in ("hyper_parameters", "tag_counts"):
            if not isinstance(d.get(key, {}), dict):
                raise ValueError(f"training {key} is not an object")
        if not all(v is None or isinstance(v, (str, int, float)) for v in d.get("hyper_parameters", {}).values()):
            raise ValueError("training hyper_parameters are not plain values")
        if not all(_number(n) for n in d.get("tag_counts", {}).values()):
            raise ValueError("training tag_counts are not numbers")
        for key in ("best_epoch", "dev_accuracy", "tokens", "minutes"):
            if d.get(key) is not None and not _number(d[key]):
                raise ValueError(f"training {key} is not a number")
        unlearnable = d.get("unlearnable_dev_tags", [])
        if not isinstance(unlearnable, list) or not all(isinstance(t, str) for t in unlearnable):
            raise ValueError("training unlearnable_dev_tags is not a list of tags")
        return cls(dict(d.get("hyper_parameters", {})), check_history(d.get("history", [])), d.get("best_epoch"),
                   d.get("dev_accuracy"), dict(d.get("tag_counts", {})), d.get("tokens"), list(unlearnable),
                   d.get("minutes"))

    def to_json(self) -> dict:
        return {"hyper_parameters": self.hyper_parameters, "history": self.history, "best_epoch": self.best_epoch,
                "dev_accuracy": self.dev_accuracy, "tag_counts": self.tag_counts, "tokens": self.tokens,
                "unlearnable_dev_tags": self.unlearnable_dev_tags,
                **({} if self.minutes is None else {"minutes": self.minutes})}


@dataclass
class Record:
    training: Training | None = None
    corpus: list[str] = field(default_factory=list)  # the training files' names
    tag_column: str = "upos"  # the CoNLL-U column the tags came from
    attribution: str | None = None  # whose data the model carries, and its licence
    stored_dtype: str = "float32"  # how the arrays are stored (float16 halves the file)

    KEYS = ("training", "corpus", "tag_column", "attribution", "stored_dtype")

    @classmethod
    def from_json(cls, meta: dict) -> Record:
        """The record in a model's metadata (other keys are not its business)."""
        training = None if meta.get("training") is None else Training.from_json(meta["training"])
        corpus = meta.get("corpus", [])
        if isinstance(corpus, str):
            corpus = [corpus]
        if not isinstance(corpus, list) or not all(isinstance(c, str) for c in corpus):
            raise ValueError("corpus is not a list of file names")
        for key in ("attribution", "stored_dtype"):
            if meta.get(key) is not None and not isinstance(meta[key], str):
                raise ValueError(f"{key} is not a string")
        if meta.get("stored_dtype") not in (None, *STORES):  # ``save`` writes the arrays so again
            raise ValueError(f"stored_dtype {meta['stored_dtype']!r:.40} is neither {' nor '.join(STORES)}")
        if meta.get("tag_column", "upos") not in TAG_COLUMNS:
            raise ValueError(f"tag_column {meta['tag_column']!r:.40} is neither upos nor xpos")
        return cls(training, list(corpus), meta.get("tag_column", "upos"), meta.get("attribution"),
                   meta.get("stored_dtype") or "float32")

    def to_json(self) -> dict:
        out = {"corpus": self.corpus, "tag_column": self.tag_column, "stored_dtype": self.stored_dtype}
        if self.training is not None:
            out["training"] = self.training.to_json()
        if self.attribution is not None:
            out["attribution"] = self.attribution
        return out
