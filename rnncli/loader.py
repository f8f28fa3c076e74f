"""Taggers by name: ``--model`` and ``rnncli.load``, a cache of the taggers read, and pickling
a tagger as a reference to its model file, for other processes (Dask and Spark workers,
``--jobs`` where processes are spawned).

A model is named by a path, or by a bundled model's name ('default', 'tutorial'); without one,
$RNNCLI_MODEL, else 'default'. The CLI and ``rnncli.load`` both load through ``load``.

A tagger read from a file (its ``origin``) pickles as that file and a SHA-256 of its bytes: about
150 bytes, whatever the model's size. This module registers that with ``copyreg``, which pickle
consults before ``Tagger.__reduce__``: whatever reads a tagger from a file by name imports it.
Unpickling loads the file the first time in a process and keeps the tagger; every later
unpickling there is a look-up. The digest makes sure that a worker tags with the model that was
pickled: a file changed since, or another model at the same path on another machine, is an
error, never a quiet difference. A bundled model travels by its name, so each machine loads its
own installed copy. A tagger without a file, or whose file changed after it was read, pickles
as its content (``Tagger.__reduce__``).

The cache below is the one place where rnncli keeps a model in a global: what "loaded once per
process" takes. It holds the last tagger read from each path and hands it out while the file is
unchanged, so a tagger from ``load`` or from unpickling is shared within a process: treat it as
read-only (tagging never changes it).
"""

from __future__ import annotations

import copyreg
import os
import threading
from importlib import resources
from pathlib import Path

from .errors import ModelFileError, OptionError, shown
from .modelfile import Origin, signature
from .tagger import Tagger

BUNDLED = {"default": "default.npz", "tutorial": "tutorial.npz"}  # --model NAME: files in the package's models/

_lock = threading.Lock()  # one load at a time: worker threads that unpickle together load once
_loaded: dict[str, Tagger] = {}  # absolute path -> the Tagger last read from it


def bundled_model_path(name: str = "default") -> Path:
    return Path(str(resources.files("rnncli") / "models" / BUNDLED[name]))


def default_model_path() -> Path:
    return bundled_model_path("default")


def resolve_model_path(path: str | os.PathLike | None) -> Path:
    """--model, else $RNNCLI_MODEL, else the English model bundled in the package.

    A bundled model's name ('default', 'tutorial') means that model, even where a file of that
    name exists: a name never contains a path separator and never ends in .npz, so
    ``./tutorial`` is the file.
    """
    value = _model_value(path)
    return bundled_model_path(value) if value in BUNDLED else Path(value)


def _model_value(path: str | os.PathLike | None) -> str:
    if path is None:  # an empty $RNNCLI_MODEL is unset, as the shell's variables are
        return os.environ.get("RNNCLI_MODEL") or "default"
    value = os.fspath(path)
    if not value:  # `--model "$MODEL"` with the variable unset: not the default in silence
        raise OptionError("--model", "an empty model name; give a file or a bundled model's name")
    return value


def open_model(model: str | os.PathLike | None = None) -> Tagger:
    """The tagger that ``--model MODEL`` names (``resolve_model_path``), read from its file; a
    bundled model that was never built, and a name from $RNNCLI_MODEL, are said so in errors."""
    path = resolve_model_path(model)
    for name in BUNDLED:
        if path == bundled_model_path(name) and not path.exists():
            how = " --sample" if name == "tutorial" else ""
            raise ModelFileError(f"{shown(path)}: the bundled model is missing; build it with "
                                 f"scripts/build_default_model.py{how}")
    from_env = not model and os.environ.get("RNNCLI_MODEL")  # an error must say where the name came from
    label = shown(path) + " (from $RNNCLI_MODEL)" if from_env else shown(path)
    value = _model_value(model)
    if value not in BUNDLED and os.sep not in value and not value.endswith(".npz") and not os.path.lexists(value):
        # A name, as the bundled models are named, and no such file: most likely a misspelt name.
        from difflib import get_close_matches  # only a misspelt name needs it: not at start-up

        close = get_close_matches(value, BUNDLED, n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise ModelFileError(f"{label}: no such model file or bundled model ({hint}bundled: {', '.join(BUNDLED)})")
    return Tagger.load(path, label if from_env else None)


def _cached(path: str) -> Tagger | None:
    tagger = _loaded.get(path)
    if tagger is not None and tagger.origin.current():
        return tagger
    return None


def _keep(tagger: Tagger) -> None:
    if tagger.origin is not None:
        _loaded[tagger.origin.path] = tagger


def load(model: str | os.PathLike | None = None) -> Tagger:
    """The tagger that ``rnncli tag --model MODEL`` uses: ``model`` is a model file's path or a
    bundled model's name ('default', 'tutorial'); without one, $RNNCLI_MODEL, else 'default'. A
    model that cannot be read raises the error ``--model`` gives (``ModelFileError``, one line
    naming the file).

    The file is read once per process while it is unchanged: a second call returns the same
    tagger. The tagger pickles as a reference to its file (``reduce``)."""
    path = os.path.abspath(resolve_model_path(model))
    with _lock:
        tagger = _cached(path)
        if tagger is None:
            tagger = open_model(model)
            _keep(tagger)
    return tagger


# -- pickling ----------------------------------------------------------------------------------

def reduce(tagger: Tagger) -> tuple:
    """How pickle writes a tagger: a reference to its file, else its content (``Tagger.__reduce__``)."""
    found = tagger.origin
    digest = found.digest() if found is not None and found.current() else None
    if digest is None:
        return tagger.__reduce__()
    return restore, (_reference(found.path), digest)


copyreg.pickle(Tagger, reduce)  # consulted by pickle before Tagger.__reduce__


def _reference(path: str) -> str | tuple[str]:
    """A bundled model by its name (a 1-tuple), any other by its absolute path."""
    for name in BUNDLED:
        if path == os.path.abspath(bundled_model_path(name)):
            return (name,)
    return path


def restore(reference: str | tuple[str], digest: str) -> Tagger:
    """The tagger of a pickled reference: from this process's cache, else read from the file,
    which must be the one pickled (the same SHA-256)."""
    path = bundled_model_path(reference[0]) if isinstance(reference, tuple) else Path(reference)
    key = os.path.abspath(path)
    with _lock:
        tagger = _cached(key)
        if tagger is not None and tagger.origin.digest() == digest:
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
        if tagger.origin is None or tagger.origin.signature != before:
            raise ModelFileError(f"{shown(path)}: changed while it was read; try again")
        tagger.origin = found  # the same file, its digest already computed
        _keep(tagger)
        return tagger
