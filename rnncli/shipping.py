"""A tagger in other processes (Dask and Spark workers, ``--jobs`` where processes are spawned):
pickled as a reference to its model file, loaded once per process.

A tagger read from a file pickles as that file and a SHA-256 of its bytes: about 150 bytes,
whatever the model's size. Unpickling loads the file the first time in a process and keeps the
tagger; every later unpickling there is a look-up. The digest makes sure that a worker tags with
the model that was pickled: a file changed since, or another model at the same path on another
machine, is an error, never a quiet difference. A bundled model travels by its name, so each
machine loads its own installed copy.

A tagger without a file (built in memory, ``pruned``, ``without_memory``), or whose file changed
after it was read, pickles as what a model file holds: each array's raw bytes, type and shape,
and the metadata as JSON text. No code travels beyond the names of two functions of this module.

The cache below is the one place where rnncli keeps a model in a global: what "loaded once per
process" takes. It holds the last tagger read from each path and hands it out while the file is
unchanged, so a tagger from ``load`` or from unpickling is shared within a process: treat it as
read-only (tagging never changes it).
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from .errors import ModelFileError, shown

_lock = threading.Lock()  # one load at a time: worker threads that unpickle together load once
_loaded: dict[str, object] = {}  # absolute path -> the Tagger last read from it


class Origin:
    """The file a tagger was read from, as it was then."""

    __slots__ = ("path", "signature", "_digest")

    def __init__(self, path: str, signature: tuple):
        self.path, self.signature, self._digest = path, signature, None

    def current(self) -> bool:
        """Whether the file at the path is still the one that was read."""
        return signature(self.path) == self.signature

    def digest(self) -> str | None:
        """SHA-256 of the file's bytes, computed once; None if the file is no longer the one read."""
        if self._digest is None:
            import hashlib  # only a tagger that is pickled needs it: not at start-up

            try:
                with open(self.path, "rb") as f:
                    h = hashlib.sha256()
                    while block := f.read(1 << 20):
                        h.update(block)
                    same = _signature(os.fstat(f.fileno())) == self.signature
            except OSError:
                return None
            if same:
                self._digest = h.hexdigest()
        return self._digest


def _signature(st: os.stat_result) -> tuple:
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def signature(path: str | os.PathLike) -> tuple | None:
    """What tells one file from another at the same path, for a look-up as cheap as a stat:
    device, inode, size and modification time (a model file is written to a new file and renamed,
    so a new model is a new inode)."""
    try:
        return _signature(os.stat(path))
    except (OSError, ValueError):
        return None


def origin(path: str | os.PathLike, before: tuple | None) -> Origin | None:
    """The origin of a tagger just read from ``path``, whose signature was ``before`` the read;
    None if the file changed meanwhile (it then pickles as its arrays)."""
    if before is None or signature(path) != before:
        return None
    return Origin(os.path.abspath(path), before)


def _cached(path: str):
    tagger = _loaded.get(path)
    if tagger is not None and tagger._origin.current():
        return tagger
    return None


def _keep(tagger) -> None:
    found = getattr(tagger, "_origin", None)
    if found is not None:
        _loaded[found.path] = tagger


def load(model: str | os.PathLike | None = None):
    """The tagger that ``rnncli tag --model MODEL`` uses: ``model`` is a model file's path or a
    bundled model's name ('default', 'tutorial'); without one, $RNNCLI_MODEL, else 'default'. A
    model that cannot be read raises the error ``--model`` gives (``ModelFileError``, one line
    naming the file).

    The file is read once per process while it is unchanged: a second call returns the same
    tagger. The tagger pickles as a reference to its file (``Tagger.__reduce__``)."""
    from .tagger import open_model, resolve_model_path

    path = os.path.abspath(resolve_model_path(model))
    with _lock:
        tagger = _cached(path)
        if tagger is None:
            tagger = open_model(model)
            _keep(tagger)
    return tagger


# -- pickling ----------------------------------------------------------------------------------

def reduce(tagger) -> tuple:
    """What ``Tagger.__reduce__`` returns: a reference to its file, else its content."""
    found = getattr(tagger, "_origin", None)
    digest = found.digest() if found is not None and found.current() else None
    if digest is None:
        return from_content, content(tagger)
    return restore, (_reference(found.path), digest)


def _reference(path: str) -> str | tuple[str]:
    """A bundled model by its name (a 1-tuple), any other by its absolute path."""
    from .tagger import BUNDLED, bundled_model_path

    for name in BUNDLED:
        if path == os.path.abspath(bundled_model_path(name)):
            return (name,)
    return path


def restore(reference: str | tuple[str], digest: str):
    """The tagger of a pickled reference: from this process's cache, else read from the file,
    which must be the one pickled (the same SHA-256)."""
    from .tagger import Tagger, bundled_model_path

    path = bundled_model_path(reference[0]) if isinstance(reference, tuple) else Path(reference)
    key = os.path.abspath(path)
    with _lock:
        tagger = _cached(key)
        if tagger is not None and tagger._origin.digest() == digest:
            return tagger
        before = signature(path)
        if before is None:
            raise ModelFileError(f"{shown(path)}: no such model file in this process's file system (a pickled "
                                 f"tagger is read from its path wherever it is unpickled)")
        found = Origin(key, before)
        if found.digest() != digest:
            raise ModelFileError(f"{shown(path)}: not the model file the tagger was pickled from "
                                 f"(it changed since, or this machine has another)")
        tagger = Tagger.load(path)
        if tagger._origin is None or tagger._origin.signature != before:
            raise ModelFileError(f"{shown(path)}: changed while it was read; try again")
        tagger._origin = found
        _keep(tagger)
        return tagger


def content(tagger) -> tuple[dict, str]:
    """A tagger's arrays as (dtype, shape, order, raw bytes) and its metadata as JSON text."""
    arrays = {}
    for name, a in tagger.arrays().items():
        order = "F" if a.flags.f_contiguous and not a.flags.c_contiguous else "C"
        arrays[name] = (a.dtype.str, a.shape, order, a.tobytes(order=order))
    return arrays, json.dumps(tagger.metadata(), ensure_ascii=False)


def from_content(arrays: dict, metadata: str):
    """The tagger that ``content`` describes, its metadata checked as a model file's is."""
    import numpy as np

    from .tagger import Tagger, _parts, _with_lexicon

    meta = json.loads(metadata)
    arrays = {name: np.frombuffer(bytearray(data), dtype).reshape(shape, order=order)
              for name, (dtype, shape, order, data) in arrays.items()}
    parts = _parts(meta, "a pickled tagger")
    params = _with_lexicon(parts, arrays, "a pickled tagger")
    return Tagger(parts["shape"], params, parts["vocab"], parts["tags"], parts["record"])
