"""What every benchmark repeats: timing, peak memory, the machine's facts, progress, tables, JSON.

Timing: the wall seconds of a child process (``run``), and rounds in which the things compared
take turns (``take_turns``), so that a change in the machine's load hits them alike; a benchmark
reports the median of each one's times. Memory: the peak resident set size of a child process
(``peak_rss``). The machine: the CPU, the cores, the load, the versions and the BLAS threads
NumPy uses (``facts``, ``openblas_threads``). Progress goes to stderr (``log``), the table to
stdout (``markdown_table``); ``finish`` ends every benchmark alike. How each benchmark measures
is in docs/benchmarks.md.
"""

from __future__ import annotations

import ctypes
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Hashable, Sequence
from datetime import datetime
from pathlib import Path

from common import ROOT  # first: it also puts the repository on sys.path

from rnncli.config import BLAS_VARIABLES  # noqa: E402

# Child processes run as on an ordinary install: with Python's bytecode cache, and with the
# model a command names rather than the one $RNNCLI_MODEL would choose.
CHILD_ENV = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "RNNCLI_MODEL")}
# Shown in a header: the thread variables, and the two that choose OpenBLAS's kernel.
BLAS_SETTINGS = (*BLAS_VARIABLES, "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def log(message: str) -> None:
    """Progress, on stderr: the table goes to stdout."""
    print(message, file=sys.stderr, flush=True)


# -- timing ---------------------------------------------------------------------------------

def run(cmd: list[str], stdout: Path | None = None, env: dict | None = None) -> float:
    """Wall seconds of one child process; a failure stops the benchmark."""
    with open(stdout or os.devnull, "wb") as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        status = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env or CHILD_ENV,
                                cwd=ROOT).returncode
        seconds = time.perf_counter() - started
        if status:
            err.seek(0)
            tail = err.read().decode("utf-8", "replace")[-2000:]
            raise RuntimeError(f"{shlex.join(cmd)} exited with {status}:\n{tail}")
    return seconds


def take_turns(measures: dict[Hashable, Callable[[], float]], rounds: int,
               report: Callable[[int, Hashable, float], None] | None = None) -> dict[Hashable, list[float]]:
    """Each measure's seconds over ``rounds`` rounds, every measure once a round, in their order;
    ``report(round, key, seconds)`` after each."""
    times: dict[Hashable, list[float]] = {key: [] for key in measures}
    for r in range(rounds):
        for key, measure in measures.items():
            times[key].append(measure())
            if report:
                report(r, key, times[key][-1])
    return times


# -- memory ---------------------------------------------------------------------------------

# ru_maxrss of a child counts the memory of the process it was forked from (before exec), so a child
# of a big benchmark process would report the benchmark's own size. This wrapper is the small
# parent instead: its RUSAGE_CHILDREN peak is max(its own size, about 10 MB; the command's peak).
PEAK_RSS = """\
import resource, subprocess, sys
status = subprocess.call(sys.argv[2:])
with open(sys.argv[1], "w") as f:
    f.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(status)
"""


def peak_rss(cmd: list[str], stdout: Path | None = None) -> int:
    """Peak resident set size (KiB) of one child process, through the small PEAK_RSS wrapper."""
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as report:
        run([sys.executable, "-c", PEAK_RSS, report.name, *cmd], stdout)
        return int(report.read())


# -- the machine ----------------------------------------------------------------------------

def facts() -> dict:
    """The command, the date, the CPU, the load and the versions: how every header begins."""
    import numpy as np

    return {"command": shlex.join(["python", *sys.argv]),
            "date": datetime.now().astimezone().isoformat(timespec="seconds"),
            "cpu": cpu_name(), "cpus": os.cpu_count(), "load_average": load_average(),
            "python": platform.python_version(), "numpy": np.__version__}


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def blas_environment(variables: Sequence[str] = BLAS_SETTINGS, unset: str = "none set") -> str:
    """The BLAS settings the environment gives, as NAME=value, or ``unset``."""
    return ", ".join(f"{v}={os.environ[v]}" for v in variables if v in os.environ) or unset


def openblas_threads() -> int | None:
    """Threads NumPy's OpenBLAS uses, asked of the library itself (threadpoolctl's way, without it)."""
    try:
        from threadpoolctl import threadpool_info

        counts = [i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas"]
        return max(counts) if counts else None
    except ImportError:
        pass
    try:
        with open("/proc/self/maps") as f:
            libraries = {line.split()[-1] for line in f if "openblas" in line.lower() and "/" in line}
    except OSError:
        return None
    for path in sorted(libraries):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for symbol in ("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads",
                       "openblas_get_num_threads64_", "openblas_get_num_threads"):
            getter = getattr(lib, symbol, None)
            if getter is not None:
                return int(getter())
    return None


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def package_version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


# -- reporting ------------------------------------------------------------------------------

def plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


def rate(tokens: int, seconds: float) -> str:
    return f"{tokens / seconds:,.0f} tokens/s ({seconds:.2f} s)"


def mib(kib: int) -> str:
    return f"{kib / 1024:,.0f} MiB"


def markdown_table(head: Sequence[str], align: str, rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table: ``align`` has an 'l' or an 'r' for each column. A '|' in a cell is
    escaped, as a table needs it to be even inside a code span (`cat FILE |`)."""
    def line(cells) -> str:
        return "|" + "|".join(f" {cell.replace('|', chr(92) + '|')} " if cell != "" else " " for cell in cells) + "|"

    return "\n".join([line(head), line("---:" if a == "r" else "---" for a in align), *map(line, rows)])


def finish(quick: bool, json_path: str | None, header: dict, rows: list) -> None:
    """The end every benchmark shares: the quick run's warning after the table, and the JSON."""
    if quick:
        print("\n**QUICK run: these numbers are not the benchmark's.**")
    if json_path:
        with open(json_path, "w", encoding="utf-8") as f:
            json.dump({**header, "rows": rows}, f, indent=2, ensure_ascii=False)
        log(f"wrote {json_path}")
