"""Checkpoints: where an interrupted training run stood, in one file, to resume it exactly.

A checkpoint is a model file of its own kind (``modelfile``): named arrays (the weights, the
optimiser's and the weight average's ``state()``, the best weights so far) and JSON metadata
(the hyper-parameters, the epoch, the history, the random generator's state, a fingerprint
of the data). Its record is checked on load like a model's.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass, field

import numpy as np

from . import modelfile
from .config import TrainConfig
from .corpus import Sentence
from .errors import ModelFileError, TrainingError, shown
from .record import check_history

KIND = "rnncli-checkpoint"
VERSION = 2  # 1: before optimiser and average states were stored under their own names
GROUPS = ("params", "optimizer", "best", "average")


@dataclass
class TrainState:
    """Everything needed to continue training from the start of ``epoch`` (0-based)."""

    epoch: int
    params: dict[str, np.ndarray]
    optimizer: dict[str, np.ndarray]  # the optimiser's state()
    rng_state: dict
    history: list[dict] = field(default_factory=list)
    best_params: dict[str, np.ndarray] | None = None
    best_epoch: int = 0
    average: dict[str, np.ndarray] | None = None  # the weight average's state(), if one is kept
    source: str = field(default="the checkpoint", compare=False)  # how messages name the file it came from

    def copy(self) -> TrainState:
        return TrainState(self.epoch, copied(self.params), copied(self.optimizer), dict(self.rng_state),
                          [dict(h) for h in self.history], copied(self.best_params), self.best_epoch,
                          copied(self.average))

    def groups(self) -> dict[str, dict[str, np.ndarray]]:
        return {"params": self.params, "optimizer": self.optimizer, "best": self.best_params or {},
                "average": self.average or {}}

    def check_fits(self, fresh: TrainState) -> None:
        """A saved state's arrays must be those of ``fresh``, a new run's, by name and shape:
        ``TrainingError`` names the first that is not."""
        for group, arrays in fresh.groups().items():
            given = self.groups()[group]
            wanted = arrays if group != "best" or self.best_params is None else fresh.params
            extra = sorted(set(given) - set(wanted))
            if extra:
                raise TrainingError(f"{self.source}: does not fit this run: it has {group}.{extra[0]}, "
                                    f"which this run has not")
            for name, a in wanted.items():
                if name not in given:
                    raise TrainingError(f"{self.source}: does not fit this run: {group}.{name} is missing")
                if given[name].shape != a.shape:
                    raise TrainingError(f"{self.source}: does not fit this run: {group}.{name} has shape "
                                        f"{given[name].shape}, not {a.shape}")


def copied(arrays: dict[str, np.ndarray] | None) -> dict[str, np.ndarray] | None:
    """Each array copied, in its own memory order (a column-major lookup table stays one)."""
    return None if arrays is None else {k: v.copy(order="K") for k, v in arrays.items()}


def fingerprint(sentences: list[Sentence]) -> str:
    """A digest of the training data, so that a checkpoint resumes only on the same corpus."""
    h = hashlib.sha256()
    for s in sentences:
        h.update("\x1f".join(s.words).encode("utf-8", "surrogatepass") + b"\x1e")
        h.update("\x1f".join(s.tags).encode("utf-8", "surrogatepass") + b"\x1d")
    return h.hexdigest()[:16]


def save(path: str | os.PathLike, state: TrainState, config, data_fingerprint: str) -> None:
    """Write where training stands (start of ``state.epoch``) to one file, atomically."""
    arrays = {f"{group}.{k}": v for group, arrays in state.groups().items() for k, v in arrays.items()}
    modelfile.save(path, arrays, {
        "kind": KIND, "checkpoint_version": VERSION, "config": asdict(config), "data": data_fingerprint,
        "epoch": state.epoch, "rng_state": state.rng_state, "history": state.history,
        "best_epoch": state.best_epoch, "arrays": sorted(arrays)},
        check=lambda written: load(written, shown(path)))  # never one that --resume would refuse


def load(path: str | os.PathLike, name: str | None = None):
    """(state, config, data fingerprint) from a checkpoint file, its record checked like a model's."""
    label = name or shown(path)
    record = {}

    def expected(meta: dict) -> dict[str, None]:
        if meta.get("kind") != KIND:
            raise ModelFileError(f"{label}: not a training checkpoint")
        if meta.get("checkpoint_version") != VERSION:
            raise ModelFileError(f"{label}: a checkpoint of another version of rnncli, which this one cannot "
                                 f"resume; train again without --resume")
        config = TrainConfig.from_dict(meta["config"])
        epoch, best_epoch = _count(meta["epoch"], "epoch"), _count(meta["best_epoch"], "best_epoch")
        history = meta["history"]
        check_history(history)
        if len(history) != epoch or best_epoch > epoch:
            raise ValueError(f"{len(history)} epochs of history, epoch {epoch}, best epoch {best_epoch}")
        rng_state = meta["rng_state"]
        if not isinstance(rng_state, dict):
            raise TypeError("rng_state is not an object")
        np.random.default_rng().bit_generator.state = rng_state  # raises if it is not a generator's state
        if not isinstance(meta["data"], str):
            raise TypeError("data is not a fingerprint")
        names = meta["arrays"]
        if not isinstance(names, list) or not all(isinstance(n, str) and n.split(".", 1)[0] in GROUPS
                                                   for n in names):
            raise ValueError("arrays is not a list of array names")
        record.update(config=config, epoch=epoch, best_epoch=best_epoch, history=history, rng_state=rng_state,
                      data=meta["data"])
        return dict.fromkeys(names)

    arrays, _ = modelfile.load(path, "checkpoint", expected, label)
    groups: dict[str, dict[str, np.ndarray]] = {g: {} for g in GROUPS}
    for key, a in arrays.items():
        group, name = key.split(".", 1)
        counter = name == "t" or name.startswith("last.")  # step counts and the average's step numbers
        if a.dtype.kind != ("i" if counter and group in ("optimizer", "average") else "f"):
            raise ModelFileError(f"{label}: damaged checkpoint (array {key} is {a.dtype})")
        groups[group][name] = np.array(a)  # writable, as saved (lookup tables column-major): training goes on in them
    state = TrainState(record["epoch"], groups["params"], groups["optimizer"], record["rng_state"],
                       record["history"], groups["best"] or None, record["best_epoch"], groups["average"] or None,
                       label)
    return state, record["config"], record["data"]


def _count(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
        raise ValueError(f"{what} is not a count: {value!r:.40}")
    return value
