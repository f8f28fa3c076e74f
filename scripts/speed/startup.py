"""Section 3 of benchmark_speed.py: the start-up of `rnncli tag` beside Python's and NumPy's, with
the model file in the page cache (warm) and evicted from it before each run (cold), wall and CPU
time, and how many bytes of the model file a cold start-up reads (pages resident after it)."""

from __future__ import annotations

import ctypes
import mmap
import os
import resource
import statistics
import sys
from pathlib import Path

from harness import log, run, take_turns
from speed.shared import STARTUP_SENTENCE, Bench, Row

from rnncli.loader import default_model_path

RUNS_PER_REPEAT = 5  # each run is well under a second: more runs for a steady median


def section(b: Bench) -> list[Row]:
    script = Path(sys.executable).parent / "rnncli"
    rnncli_cmd = [str(script)] if script.exists() else [sys.executable, "-m", "rnncli"]
    bundled = default_model_path()
    model = [] if bundled.exists() else ["--model", str(b.tutorial_model())]
    model_file = bundled if bundled.exists() else b.tutorial_model()
    ours_cmd = [*rnncli_cmd, "tag", *model, STARTUP_SENTENCE]
    shown = " ".join(["rnncli tag", *(["--model tutorial.npz"] if model else []), f'"{STARTUP_SENTENCE}"'])
    which = "bundled model" if not model else "tutorial-size model: the bundled one is not built yet"
    if not script.exists():
        which += f"; no console script at {script}, so `python -m rnncli`"
    commands = {"rnncli": ours_cmd, "numpy": [sys.executable, "-c", "import numpy"],
                "pass": [sys.executable, "-c", "pass"]}
    for cmd in commands.values():
        run(cmd)
    cold = Cold(model_file)
    measures = {key: Timed(cmd) for key, cmd in commands.items()}
    if cold.possible():
        measures["cold"] = Timed(ours_cmd, before=cold.evict, after=cold.read)
    else:
        log(f"[startup] cannot evict {model_file.name} from the page cache here: no cold start-up")
    runs = RUNS_PER_REPEAT * b.sizes.repeats
    log(f"[startup] {runs} runs of each command, the model file warm and{'' if 'cold' in measures else ' not'} cold ...")
    take_turns(measures, runs)
    return rows(measures, cold, f"`{shown}` ({which})", runs)


def rows(measures: dict[str, Timed], cold: Cold, what: str, runs: int) -> list[Row]:
    numpy, ours = measures["numpy"], measures["rnncli"]
    data = {"runs": runs, **{f"{k}_seconds": m.wall for k, m in measures.items()},
            **{f"{k}_cpu_seconds": m.cpu for k, m in measures.items()}}
    out = [Row("startup", what, ours.shown(), '`python -c "import numpy"`', numpy.shown(),
               ours.median() / numpy.median(), data),
           Row("startup", what, ours.shown(), "`python -c pass`", measures["pass"].shown(),
               ours.median() / measures["pass"].median())]
    if "cold" in measures:
        first = f"{what}, cold: the model file's pages evicted before each run"
        read = statistics.median(cold.read_bytes)
        out += [Row("startup", first, measures["cold"].shown(), '`python -c "import numpy"`', numpy.shown(),
                    measures["cold"].median() / numpy.median(),
                    {"resident_after_eviction_max": max(cold.left), "read_bytes": cold.read_bytes}),
                Row("startup", f"{what}: bytes of the model file a cold start-up reads (pages resident after it)",
                    f"{read / 1e6:.1f} MB", "the whole file", f"{cold.size / 1e6:.1f} MB", read / cold.size)]
    return out


class Timed:
    """A command's wall and CPU (user + system) seconds, one run a call; ``before`` and ``after``
    each run, untimed."""

    def __init__(self, cmd: list[str], before=None, after=None):
        self.cmd, self.before, self.after = cmd, before, after
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def __call__(self) -> float:
        if self.before:
            self.before()
        started = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.wall.append(run(self.cmd))
        ended = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.cpu.append(ended.ru_utime - started.ru_utime + ended.ru_stime - started.ru_stime)
        if self.after:
            self.after()
        return self.wall[-1]

    def median(self) -> float:
        return statistics.median(self.wall)

    def shown(self) -> str:
        return f"{self.median():.3f} s (CPU {statistics.median(self.cpu):.3f} s)"


class Cold:
    """The model file's pages evicted from the page cache (POSIX_FADV_DONTNEED: clean pages, no
    root needed), checked with mincore; after a run, the bytes of it resident: what the run read."""

    def __init__(self, path: Path):
        self.path, self.size = path, path.stat().st_size
        self.left: list[int] = []  # bytes still resident right after each eviction
        self.read_bytes: list[int] = []

    def possible(self) -> bool:
        if not hasattr(os, "posix_fadvise") or resident(self.path) is None:
            return False
        self.evict()
        return self.left.pop() == 0

    def evict(self) -> None:
        fd = os.open(self.path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
        self.left.append(resident(self.path) or 0)

    def read(self) -> None:
        self.read_bytes.append(resident(self.path) or 0)


def resident(path: Path) -> int | None:
    """Bytes of the file in the page cache (mincore of a private mapping of it); None where it cannot tell."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        mincore = libc.mincore
    except (OSError, AttributeError):
        return None
    mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_ubyte)]
    size = path.stat().st_size
    with open(path, "rb") as f:
        # ACCESS_COPY: a private mapping, writable for ctypes to take its address, never written.
        whole = mmap.mmap(f.fileno(), size, access=mmap.ACCESS_COPY)
    try:
        start = ctypes.c_char.from_buffer(whole)
        pages = (ctypes.c_ubyte * ((size + mmap.PAGESIZE - 1) // mmap.PAGESIZE))()
        failed = mincore(ctypes.addressof(start), size, pages)
        del start
    finally:
        whole.close()
    return None if failed else min(size, sum(p & 1 for p in pages) * mmap.PAGESIZE)
