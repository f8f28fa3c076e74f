"""One model file: named arrays plus JSON metadata in a NumPy ``.npz`` archive.

Any tool reads it without rnncli::

    with numpy.load("model.npz", allow_pickle=False) as f:
        U = f["U"]
        meta = json.loads(f["metadata"].tobytes())

Files are written to a temporary file beside the target, flushed to disk, then renamed over
it, so an interrupted or failed write leaves the previous file as it was. Loading never
unpickles: an array of Python objects is refused, not run.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from .errors import ModelFileError

FORMAT = "rnncli-model"
FORMAT_VERSION = 1
METADATA_KEY = "metadata"


def save(path: str | os.PathLike, arrays: dict[str, np.ndarray], metadata: dict) -> None:
    """Write ``arrays`` and ``metadata`` atomically to ``path``."""
    path = Path(path)
    if METADATA_KEY in arrays:
        raise ValueError(f"{METADATA_KEY!r} is reserved")
    meta = json.dumps({"format": FORMAT, "format_version": FORMAT_VERSION, **metadata},
                      ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    payload = dict(arrays)
    payload[METADATA_KEY] = np.frombuffer(meta, dtype=np.uint8)
    directory = path.parent if str(path.parent) else Path(".")
    tmp_name = None
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
        os.chmod(tmp_name, _mode(path))  # mkstemp makes it private; a model file is an ordinary file
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_name, path)
        tmp_name = None
    except OSError as e:
        if e.errno == errno.ENOSPC:
            raise ModelFileError(f"{path}: disk full; the previous file, if any, is unchanged") from None
        raise ModelFileError(f"{path}: cannot write ({e.strerror or e})") from None
    finally:
        if tmp_name is not None:
            try:
                os.unlink(tmp_name)
            except OSError:
                pass


def _mode(path: Path) -> int:
    """The permissions of the file being replaced, else those the umask gives a new file."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def load(path: str | os.PathLike, what: str = "model file") -> tuple[dict[str, np.ndarray], dict]:
    """Read a model file (or another file of this layout, ``what``): (arrays, metadata).
    Raises ``ModelFileError`` on anything amiss."""
    path = Path(path)
    if path.is_dir():
        raise ModelFileError(f"{path}: is a directory, not a {what}")
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such {what}") from None
    except OSError as e:
        raise ModelFileError(f"{path}: cannot read ({e.strerror or e})") from None
    if magic != b"PK\x03\x04":  # anything else NumPy would try as .npy or as a pickle
        raise ModelFileError(f"{path}: not an rnncli model file (not a .npz archive)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except ValueError as e:
        if "pickle" in str(e):
            raise ModelFileError(f"{path}: holds Python objects, which are never loaded") from None
        raise ModelFileError(f"{path}: damaged or not an rnncli model file ({e})") from None
    except (OSError, EOFError, zipfile.BadZipFile, KeyError, RuntimeError, MemoryError) as e:
        raise ModelFileError(f"{path}: damaged or not an rnncli model file ({type(e).__name__})") from None
    strays = sorted(name for name, a in arrays.items() if not isinstance(a, np.ndarray))
    if strays:  # NumPy hands over a member that is not in .npy format as raw bytes
        raise ModelFileError(f"{path}: damaged (not a NumPy array: {', '.join(strays)})")
    raw = arrays.pop(METADATA_KEY, None)
    if raw is None or raw.dtype != np.uint8 or raw.ndim != 1:
        raise ModelFileError(f"{path}: not an rnncli model file (no metadata)")
    try:
        meta = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ModelFileError(f"{path}: damaged metadata (not JSON)") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not an rnncli model file")
    version = meta.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise ModelFileError(f"{path}: damaged metadata (format_version {version!r})")
    if version > FORMAT_VERSION:
        raise ModelFileError(f"{path}: model format version {version} is newer than this rnncli "
                             f"reads ({FORMAT_VERSION}); upgrade rnncli")
    return arrays, meta
