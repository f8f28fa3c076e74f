"""One model file: named arrays plus JSON metadata in a NumPy ``.npz`` archive.

Any tool reads it without rnncli::

    with numpy.load("model.npz", allow_pickle=False) as f:
        U = f["U"]
        meta = json.loads(f["metadata"].tobytes())

Files are written to a temporary file beside the target, flushed to disk, then renamed over
it, so an interrupted or failed write leaves the previous file as it was. Loading never
unpickles: an array of Python objects is refused, not run. A model's large arrays, of which a
sentence reads a little, may be mapped from the file instead of read (``load_mapped``): what
loading checks of the others is checked of them when they are read whole (``Unverified``).
"""

from __future__ import annotations

import errno
import json
import math
import mmap
import os
import re
import stat
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Collection
from pathlib import Path
from tokenize import TokenError
from typing import IO

import numpy as np

from .errors import ModelFileError, OptionError, RnncliError, shown

FORMAT = "rnncli-model"
FORMAT_VERSION = 1
METADATA_KEY = "metadata"


def save(path: str | os.PathLike, arrays: dict[str, np.ndarray], metadata: dict,
         check: Callable[[Path], object] | None = None) -> None:
    """Write ``arrays`` and ``metadata`` atomically to ``path``; ``check(written)`` reads the
    file written before it replaces the old one (``write_atomically``)."""
    path = Path(path)
    if METADATA_KEY in arrays:
        raise ValueError(f"{METADATA_KEY!r} is reserved")
    meta = json.dumps({"format": FORMAT, "format_version": FORMAT_VERSION, **metadata},
                      ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    payload = dict(arrays)
    payload[METADATA_KEY] = np.frombuffer(meta, dtype=np.uint8)
    write_atomically(path, lambda f: np.savez(f, **payload), ModelFileError, check)


def write_atomically(path: str | os.PathLike, write: Callable[[IO[bytes]], object],
                     error: type[RnncliError] = RnncliError, check: Callable[[Path], object] | None = None) -> None:
    """Write a file through ``write(f)`` into a temporary file beside it, flushed to disk, then
    renamed over it: an interrupted or failed write leaves the previous file, if any, as it
    was. A failure is ``error`` naming the file. ``check(temporary file)``, if given, reads
    what was written before the rename: a file it refuses (raising ``RnncliError``) never
    replaces the old one. A symbolic link is followed (the file it names is replaced, the link
    stays); a device, a FIFO or a directory there is refused, never replaced by a file."""
    named, path = path, _target(path, error)
    directory = path.parent if str(path.parent) else Path(".")
    _remove_stale(directory, path.name)
    tmp_name = None
    try:
        # The writer's process id in the name: a file left by a writer that was killed (SIGKILL,
        # a power cut) is known for stale by the next write to the same target.
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=directory)
        os.chmod(tmp_name, _mode(path))  # mkstemp makes it private; ours are ordinary files
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        if check is not None:
            try:
                check(Path(tmp_name))
            except RnncliError as e:
                raise error(f"{e}; not written, the previous file, if any, is unchanged") from None
        os.replace(tmp_name, path)
        tmp_name = None
    except OSError as e:
        if e.errno == errno.ENOSPC:
            raise error(f"{shown(named)}: disk full; the previous file, if any, is unchanged") from None
        raise error(f"{shown(named)}: cannot write ({e.strerror or e})") from None
    finally:
        if tmp_name is not None:
            try:
                os.unlink(tmp_name)
            except OSError:
                pass


def _target(path: str | os.PathLike, error: type[RnncliError] = RnncliError) -> Path:
    """Where a write to ``path`` lands: through a symbolic link; only a regular file is replaced."""
    path = Path(path)
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    try:
        mode = os.stat(target).st_mode
    except OSError:
        return target  # nothing there yet (or unreadable: the write says why)
    if not stat.S_ISREG(mode):
        kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file"
        raise error(f"{shown(path)}: {kind}; refusing to replace it with a file")
    return target


def check_writable(path: str | os.PathLike) -> None:
    """A file that cannot be written is found before the work whose result it would hold."""
    path = _target(path)
    directory = path.parent
    if not directory.is_dir():
        raise RnncliError(f"{shown(path)}: cannot write (no directory {shown(directory)})")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise RnncliError(f"{shown(path)}: cannot write (permission denied in {shown(directory)})")


def check_replaceable(path: str | os.PathLike, option: str, looks_right: Callable[[bytes], bool], what: str,
                      head_size: int) -> os.stat_result | None:
    """A file a write would replace, found before the work: new, not a regular file (the write
    says why it cannot replace that), empty, or one whose first ``head_size`` bytes ``looks_right``
    (a file of the kind written). Anything else holds something else (notes, a corpus, the model
    shown): an ``OptionError`` for ``option``, "not ``what``". Returns the file's stat, if any."""
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            return None
        with open(path, "rb") as f:
            head = f.read(head_size)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise RnncliError(f"{shown(path)}: cannot read ({e.strerror})") from None
    if head and not looks_right(head):
        raise OptionError(option, f"{shown(path)} exists and is not {what}; refusing to overwrite it")
    return info


def _remove_stale(directory: Path, name: str) -> None:
    """Remove temporary files of earlier writes to ``name`` whose writer is no longer running."""
    # Exactly what write_atomically makes for this name (mkstemp adds 8 characters), so that the
    # temporary file of another target whose name starts like this one's is never taken.
    pattern = re.compile(rf"\.{re.escape(name)}\.(\d+)\.[a-z0-9_]{{8}}\.tmp")
    try:
        entries = [(e, m) for e in os.listdir(directory) if (m := pattern.fullmatch(e))]
    except OSError:
        return
    for entry, match in entries:
        if _running(int(match.group(1))):
            continue
        try:
            os.unlink(directory / entry)
        except OSError:
            pass


def _running(pid: int) -> bool:
    if not 0 < pid < 2**31:
        return False
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _mode(path: Path) -> int:
    """The permissions of the file being replaced, else those the umask gives a new file."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


MAX_INFLATION = 100  # a member may unpack to at most this many times the archive's size
MAP_MIN_BYTES = 1 << 20  # load_mapped maps a stored member this large; a smaller one is read
_LOCAL_HEADER = struct.Struct("<IHHHHHIIIHH")  # a zip member's local header: 30 bytes before its name


def load(path: str | os.PathLike, what: str = "model file",
         expected: Callable[[dict], dict[str, tuple[int, ...]]] | None = None,
         name: str | None = None) -> tuple[dict[str, np.ndarray], dict]:
    """Read a model file (or another file of this layout, ``what``): (arrays, metadata).

    The metadata is read first; ``expected(metadata)`` names the arrays to read, each with
    its shape (a floating-point array of exactly that shape) or None (any array of numbers).
    Only those members are read, each checked from its header before its data is, then for
    NaN and infinity; other members are never unpacked, so a file cannot make the loader
    read more than the metadata declares. Without ``expected`` every array is read (for
    tools, on files they trust). ``name`` is how the file is named in messages.
    Raises ``ModelFileError`` on anything amiss.
    """
    arrays, meta, _ = _load(path, what, expected, name, ())
    return arrays, meta


def load_mapped(path: str | os.PathLike, expected: Callable[[dict], dict[str, tuple[int, ...]]],
                name: str | None = None, mapped: Collection[str] = ()) -> tuple[dict[str, np.ndarray], dict, Unverified]:
    """``load`` a model file, but of the arrays named in ``mapped``, those stored uncompressed
    (as ``numpy.savez`` stores them) in a member of ``MAP_MIN_BYTES`` or more are mapped into
    memory, not read: read-only views of the file whose pages are read when first used, so that
    a sentence reads the few columns of U it looks up. Their headers are checked as ``load``
    checks them; their checksums and, for floating point, their finiteness are checked by the
    ``Unverified`` returned third, when asked (``Unverified.verify``). Any other member, and a
    mapped one that is unusual in any way, is read as ``load`` reads it.

    The file must not be cut short in place while an array is mapped (the process would be
    killed by SIGBUS); rnncli itself replaces a file by renaming a new one over it."""
    return _load(path, "model file", expected, name, mapped)


def _load(path, what: str, expected, name: str | None, mapped: Collection[str]) -> tuple[dict, dict, Unverified]:
    label = name or shown(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO must not block us
    except FileNotFoundError:
        raise ModelFileError(f"{label}: no such {what}") from None
    except IsADirectoryError:
        raise ModelFileError(f"{label}: is a directory, not a {what}") from None
    except OSError as e:
        raise ModelFileError(f"{label}: cannot read ({e.strerror or e})") from None
    info = os.fstat(fd)
    if stat.S_ISDIR(info.st_mode):  # opened, where Linux lets a directory be: no file object for it
        os.close(fd)
        raise ModelFileError(f"{label}: is a directory, not a {what}")
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(info.st_mode):
            raise ModelFileError(f"{label}: not a regular file (a {what} is read from a file)")
        try:
            magic = f.read(4)
        except OSError as e:
            raise ModelFileError(f"{label}: cannot read ({e.strerror or e})") from None
        if magic != b"PK\x03\x04":  # anything else NumPy would try as .npy or as a pickle
            raise ModelFileError(f"{label}: not an rnncli model file (not a .npz archive)")
        unverified = Unverified(label)
        mapping = _Mapping(_map(f, info.st_size), mapped, unverified) if mapped else None
        try:
            f.seek(0)
            with zipfile.ZipFile(f) as archive:
                return (*_read(archive, label, info.st_size, expected, mapping), unverified)
        except ModelFileError:
            raise
        except (OSError, EOFError, zipfile.BadZipFile, zipfile.LargeZipFile, KeyError, ValueError,
                RuntimeError, NotImplementedError, OverflowError) as e:
            raise ModelFileError(f"{label}: damaged or not an rnncli model file ({type(e).__name__})") from None


def _map(f: IO[bytes], size: int) -> mmap.mmap | None:
    """The whole file mapped read-only, or None where it is too small to be worth it or cannot be."""
    if size < MAP_MIN_BYTES:
        return None
    try:
        whole = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError, OverflowError):  # a file system that cannot map: read it instead
        return None
    # A page is read when first used, and only it: without this, Linux reads megabytes around
    # it (read_ahead_kb), most of a table a sentence looks up a few columns of. The members
    # read are read whole, each in one request: nothing to read ahead for them either.
    try:
        if hasattr(mmap, "MADV_RANDOM"):
            whole.madvise(mmap.MADV_RANDOM)
        if hasattr(os, "posix_fadvise"):
            os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_RANDOM)
    except OSError:  # advice only: without it, the same bytes, read ahead
        pass
    return whole


def _read(archive: zipfile.ZipFile, label: str, size: int, expected,
          mapping: _Mapping | None) -> tuple[dict[str, np.ndarray], dict]:
    members = {info.filename.removesuffix(".npy"): info for info in archive.infolist()
               if info.filename.endswith(".npy")}
    if METADATA_KEY not in members:
        raise ModelFileError(f"{label}: not an rnncli model file (no metadata)")
    raw = _member(archive, members[METADATA_KEY], METADATA_KEY, label, size, None, False)
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise ModelFileError(f"{label}: not an rnncli model file (no metadata)")
    try:
        text = str(raw.data, "utf-8")  # no copy of the bytes on the way
        del raw
        meta = json.loads(text)
    except RecursionError:
        raise ModelFileError(f"{label}: damaged metadata (nested too deeply)") from None
    except (UnicodeDecodeError, ValueError) as e:  # ValueError: not JSON, or an integer of thousands of digits
        why = "not JSON" if isinstance(e, (UnicodeDecodeError, json.JSONDecodeError)) else str(e).split(";")[0]
        raise ModelFileError(f"{label}: damaged metadata ({why})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"{label}: not an rnncli model file")
    version = meta.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ModelFileError(f"{label}: damaged metadata (format_version {_short(version)})")
    if version > FORMAT_VERSION:
        raise ModelFileError(f"{label}: model format version {version} is newer than this rnncli "
                             f"reads ({FORMAT_VERSION}); upgrade rnncli")
    try:
        shapes = ({key: None for key in members if key != METADATA_KEY} if expected is None
                  else expected(meta))
    except ModelFileError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
        raise ModelFileError(f"{label}: damaged metadata ({type(e).__name__}: {_short(e)})") from None
    missing = sorted(set(shapes) - set(members))
    if missing:
        listed = ", ".join(missing[:8]) + (f" and {len(missing) - 8:,} more" if len(missing) > 8 else "")
        raise ModelFileError(f"{label}: missing array(s) {listed}")
    arrays = {}
    for key, dims in shapes.items():
        a = mapping.array(members[key], key, label, dims) if mapping is not None else None
        arrays[key] = a if a is not None else _member(archive, members[key], key, label, size, dims,
                                                      expected is not None)
    return arrays, meta


def _member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, key: str, label: str, size: int,
            dims: tuple[int, ...] | None, finite: bool) -> np.ndarray:
    """One ``.npy`` member, its header checked before any of its data is read; with ``finite``
    an array of floating point is refused if it holds NaN or infinity."""
    if info.file_size > MAX_INFLATION * max(size, 1 << 20):
        raise ModelFileError(f"{label}: damaged (member {key} would unpack to {info.file_size:,} bytes)")
    with archive.open(info) as f:
        shape, fortran, dtype = _header(f, key, label, dims)
        n_bytes = math.prod(shape) * dtype.itemsize  # Python integers: a header cannot overflow them
        if f.tell() + n_bytes != info.file_size:
            raise ModelFileError(f"{label}: damaged (array {key}: its header does not match its size)")
        data = bytearray(n_bytes)
        view, got = memoryview(data), 0
        try:
            while got < n_bytes:
                n = f.readinto(view[got:])
                if not n:
                    raise ModelFileError(f"{label}: damaged (array {key} is cut short)")
                got += n
            f.read(1)  # at the end: the archive checks the member's checksum
        except zipfile.BadZipFile:  # all of it read: what is left to fail is the checksum
            raise ModelFileError(_damaged(label, key)) from None
    a = np.frombuffer(data, dtype).reshape(shape, order="F" if fortran else "C")
    if finite and a.dtype.kind == "f" and not _finite(a):
        raise ModelFileError(_not_finite(label, key))
    return a


def _header(f: IO[bytes], key: str, label: str, dims: tuple[int, ...] | None) -> tuple[tuple, bool, np.dtype]:
    """A ``.npy`` header, read from ``f``: (shape, Fortran order, dtype), checked against ``dims``."""
    try:
        version = np.lib.format.read_magic(f)
        header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                  else np.lib.format.read_array_header_2_0)(f)
    except (ValueError, SyntaxError, TokenError):  # NumPy parses a garbled header as Python source
        raise ModelFileError(f"{label}: damaged (not a NumPy array: {key})") from None
    shape, fortran, dtype = header
    if dtype.hasobject:
        raise ModelFileError(f"{label}: holds Python objects, which are never loaded")
    if dtype.kind not in "biuf" or dtype.fields is not None or dtype.subdtype is not None:
        raise ModelFileError(f"{label}: array {key} is {dtype}, not an array of numbers")
    if dims is not None:
        if tuple(shape) != tuple(dims):
            raise ModelFileError(f"{label}: array {key} has shape {_short(tuple(shape))}, metadata says {dims}")
        if dtype.kind != "f":
            raise ModelFileError(f"{label}: array {key} is {dtype}, not floating point")
    return shape, fortran, dtype


def _damaged(label: str, key: str) -> str:
    return f"{label}: damaged (array {key} fails its checksum)"


def _not_finite(label: str, key: str) -> str:
    return f"{label}: array {key} holds NaN or infinite values"


class _Mapping:
    """The members ``load_mapped`` maps, in the mapped file ``whole``."""

    def __init__(self, whole: mmap.mmap | None, keys: Collection[str], unverified: Unverified):
        self.whole, self.keys, self.unverified = whole, frozenset(keys), unverified

    def array(self, info: zipfile.ZipInfo, key: str, label: str, dims: tuple[int, ...] | None) -> np.ndarray | None:
        """The member's array as a view of the mapped file, its header checked; None where it is
        not mapped (compressed, small, or anything unusual, left to ``_member`` to read and judge)."""
        whole = self.whole
        begin = None if whole is None or key not in self.keys else _data_offset(whole, info)
        if begin is None:
            return None
        whole.seek(begin)  # the map is a file too: its header is read from it as from any file
        shape, fortran, dtype = _header(whole, key, label, dims)
        count, start = math.prod(shape), whole.tell()
        if start - begin + count * dtype.itemsize != info.file_size:
            raise ModelFileError(f"{label}: damaged (array {key}: its header does not match its size)")
        a = np.frombuffer(whole, dtype, count=count, offset=start).reshape(shape, order="F" if fortran else "C")
        self.unverified.add(key, whole, begin, info.file_size, info.CRC, a)  # read-only, as mapped
        return a


def _data_offset(whole: mmap.mmap, info: zipfile.ZipInfo) -> int | None:
    """Where a member's data begins in the file, if it is stored as is, large enough to be worth
    mapping, and its local header agrees with the archive's directory (as ``ZipFile.open`` asks);
    else None."""
    if (info.compress_type != zipfile.ZIP_STORED or info.compress_size != info.file_size
            or info.file_size < MAP_MIN_BYTES or info.flag_bits & 0x61):  # encrypted, patched, strong encryption
        return None
    start = info.header_offset
    local = whole[start:start + _LOCAL_HEADER.size]
    if len(local) < _LOCAL_HEADER.size:
        return None
    magic, _, flags, method, *_, n_name, n_extra = _LOCAL_HEADER.unpack(local)
    name = whole[start + _LOCAL_HEADER.size:start + _LOCAL_HEADER.size + n_name]
    try:
        same = name == info.orig_filename.encode("utf-8" if flags & 0x800 else "cp437")
    except UnicodeEncodeError:
        return None
    begin = start + _LOCAL_HEADER.size + n_name + n_extra
    if magic != 0x04034B50 or method != zipfile.ZIP_STORED or flags & 0x61 or not same \
            or begin + info.file_size > len(whole):
        return None
    return begin


class Unverified:
    """The arrays of a model file that ``load_mapped`` mapped instead of reading: what was not
    checked of them yet, each member's checksum and, for floating point, that it holds no NaN
    or infinity, checked by ``verify`` with the messages ``load`` gives. What it checks is the
    file's bytes, as mapped: the same whichever copy of an array was made from them since."""

    def __init__(self, label: str):
        self.label = label
        # key -> (the mapped file, where the member begins, its size, its CRC-32, the array)
        self._members: dict[str, tuple[mmap.mmap, int, int, int, np.ndarray]] = {}
        self._then: dict[str, Callable[[], object]] = {}  # key -> what its reader checks of it then
        self._mapped: dict[str, tuple[mmap.mmap, int, int]] = {}  # key -> the file, where, how long: checked or not

    def then(self, key: str, check: Callable[[], object]) -> None:
        """After the member's own checks, ``verify(key)`` runs ``check()`` (one left to that time
        by the array's reader, such as the lexicon's key order)."""
        self._then[key] = check

    def add(self, key: str, whole: mmap.mmap, begin: int, size: int, crc: int, array: np.ndarray) -> None:
        self._members[key] = whole, begin, size, crc, array
        self._mapped[key] = whole, begin, size

    def release(self, key: str) -> None:
        """An array mapped, now replaced by a copy (a table widened): its pages leave this process's
        resident memory (should it still be used, they are read again, from the page cache or the file)."""
        if key in self._mapped:
            _advise(*self._mapped[key], "MADV_DONTNEED")

    def __bool__(self) -> bool:
        return bool(self._members)

    def __contains__(self, key: str) -> bool:
        return key in self._members

    def __deepcopy__(self, memo) -> Unverified:
        return self  # a view of a file, not state: copies of a tagger share it

    def keys(self) -> list[str]:
        """The arrays not checked yet, in the file's order."""
        return list(self._members)

    def verify(self, *keys: str) -> None:
        """Check the arrays named (all without names) that were not checked yet: the member's
        checksum, then for floating point its finiteness. ``ModelFileError`` naming the array."""
        for key in keys or self.keys():
            entry = self._members.get(key)
            if entry is None:
                continue
            whole, begin, size, crc, a = entry
            _advise(whole, begin, size, "MADV_WILLNEED")  # read whole: ahead of the reading, not page by page
            with memoryview(whole) as view:
                if zlib.crc32(view[begin:begin + size]) != crc:
                    raise ModelFileError(_damaged(self.label, key))
            if a.dtype.kind == "f" and not _finite(a):
                raise ModelFileError(_not_finite(self.label, key))
            if key in self._then:
                self._then[key]()
            self._members.pop(key, None)


def _advise(whole: mmap.mmap, begin: int, size: int, advice: str) -> None:
    """Advice to the system about bytes of a mapped file: MADV_WILLNEED, read them ahead, all at
    once; MADV_DONTNEED, drop their pages from this process (a later use reads them again)."""
    if hasattr(mmap, advice):
        first = begin - begin % mmap.PAGESIZE
        try:
            whole.madvise(getattr(mmap, advice), first, begin + size - first)
        except OSError:  # advice only
            pass


def _finite(a: np.ndarray) -> bool:
    if a.dtype.itemsize == 2:  # NumPy's float16 arithmetic is slow: look at the bits
        bits = a.view(a.dtype.newbyteorder("=")).view(np.uint16) if a.dtype.isnative else a.byteswap().view(np.uint16)
        return a.size == 0 or int((bits & 0x7FFF).max()) < 0x7C00  # exponent all ones: NaN or inf
    return bool(np.isfinite(a).all())


def _short(value, limit: int = 80) -> str:
    text = repr(value) if not isinstance(value, (str, BaseException)) else str(value)
    return text if len(text) <= limit else text[:limit] + "..."


# -- which file, as it was when read ------------------------------------------------------------

class Origin:
    """The file a model was read from, as it was then: what a tagger pickles as, and what tells
    a cached tagger from a changed file."""

    __slots__ = ("path", "signature", "_digest", "directory")

    def __init__(self, path: str, signature: tuple, directory: bytes | None = None):
        self.path, self.signature, self._digest = path, signature, None
        self.directory = directory  # the archive's list of members with their checksums, as read

    def current(self) -> bool:
        """Whether the file at the path is still the one that was read."""
        return signature(self.path) == self.signature

    def check_in_place(self, label: str) -> None:
        """Raises ``ModelFileError`` if the file read was written over in place since (the same
        file, another size or time: ``cp new.npz model.npz``), which changes the pages mapped from
        it under the tagger, or ends the process with SIGBUS if it shrank. A file renamed over
        the path (``mv``, ``rnncli train -o``) leaves the one read as it was: no concern. Nor
        does a new time alone, when the archive lists the same members with the same CRC-32s."""
        now = signature(self.path)
        if now is None or now[:2] != self.signature[:2] or now == self.signature:
            return
        if now[2] == self.signature[2] and self.directory is not None and _directory(self.path) == self.directory:
            self.signature = now  # touched (touch, a backup restoring the time): every member as it was
            return
        raise ModelFileError(f"{label}: the model file was written over while in use (as cp does); "
                             f"stopped. Replace a model file by renaming a new one over it (mv), as "
                             f"rnncli train does")

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
    """The origin of a model just read from ``path``, whose signature was ``before`` the read;
    None if the file changed meanwhile."""
    if before is None or signature(path) != before:
        return None
    return Origin(os.path.abspath(path), before, _directory(path))


def _directory(path: str | os.PathLike) -> bytes | None:
    """A zip archive's central directory: each member's name, size and CRC-32, a few hundred
    bytes at the end of the file. None if it cannot be read (or the archive has a comment or is
    of the 64-bit kind, which rnncli does not write)."""
    try:
        with open(path, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(0, size - 22))
            end = f.read(22)
            if len(end) != 22 or end[:4] != b"PK\x05\x06":
                return None
            length, offset = struct.unpack("<II", end[12:20])
            if offset + length > size - 22:
                return None
            f.seek(offset)
            return f.read(length)
    except OSError:
        return None
