"""Benchmark: tagging on the Dask test's cluster, and what tagging 10^9 and 10^12 tokens in an hour takes.

    python scripts/benchmark_cluster.py [--tokens 1000000] [--files 8] [--repeats 5] [--spark]

The input is UD English EWT dev's raw sentences (``common.read_texts``), repeated to at least
``--tokens`` tokens as rnncli's tokeniser splits them and cut into ``--files`` files of equal
size, tagged with the bundled English model (``--model``). Every output is checked byte for byte
against ``tag_lines`` in this process.

Each set-up below is timed ``--repeats`` times, the set-ups taking turns (one round of each,
then the next round), so that a change in the machine's load hits them alike; the table gives the
median. A Dask set-up's cluster is started for its round and closed after it, so that no other
set-up's idle workers share the cores. In each round a set-up runs twice: the first run, in
which each worker reads the model, is not counted (the table gives its median as "first run"),
the second is timed. Two figures per set-up: tokens per second of wall time, and tokens per
CPU-second of the processes that tag (this one in section 1, the Dask workers in section 2, from
their own CPU times), which stays put when other programs share the cores and is what one worker
on a core of its own does.

1. One core, one process: ``Tagger.tag_lines`` over every file, one BLAS thread.
2. The Dask recipe of docs/python.md exactly as the page has it (its code is read from there), on
   its ``local_cluster(N)``: N = 1, and N = 2, the cluster of tests/test_distributed.py; timed from
   ``tag_files`` being called to the last output file written, reading and writing included. Two
   variations of N = 2: two BLAS threads per worker (the recipe's ``threadpool_limits(1)`` made
   2), what a worker gets on a two-core machine when nothing limits it; and Dask's own
   ``LocalCluster``, whose workers start with ``MALLOC_TRIM_THRESHOLD_=65536``.
3. Shipping the model: the model file's size, a pickled tagger's (its reference) and a freshly
   read tagger's pickled as its arrays; the time a fresh process takes to import rnncli and read
   the model (``rnncli.load()``), to compute the file's SHA-256, and to unpickle a tagger it has
   read already; how long the recipe's ``local_cluster(2)`` takes to start.
4. With ``--spark`` (pyspark and Java): the Spark recipe (``mapPartitions``) and ``RDD.pipe``
   through ``rnncli tag``, on ``local[2]`` over the same text as one file in 2 partitions, wall
   time from the job's start to its output written; the JVM's start-up apart.

Then the workers a billion and a trillion tokens an hour take, at section 2's tokens per
CPU-second of a worker (one single-threaded worker per core). The table goes to stdout, progress
to stderr. UD English EWT is where rnncli/recipes.py says; without it, the sample corpus's sentences stand in.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import pickle
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from common import ROOT, read_texts  # also puts the repository on sys.path
from harness import log

import rnncli  # noqa: E402
from rnncli.recipes import ewt_file  # noqa: E402
from rnncli.tagger import content  # noqa: E402
from rnncli.tagger import Tagger  # noqa: E402
from rnncli.tokenizer import line_tokens  # noqa: E402

TWO_WORKERS = "Dask recipe, 2 worker processes"


def recipe(name: str) -> dict:
    """The namespace of docs/python.md's code block for ``name``, as if it were that script."""
    text = (ROOT / "docs" / "python.md").read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```python\n(.*?)```", text, re.S) if b.startswith(f"# {name}:"))
    namespace = {"__name__": name.removesuffix(".py")}  # not importable: functions travel by value
    exec(compile(block, name, "exec"), namespace)
    return namespace


def texts(tokens: int) -> tuple[list[str], int]:
    """Raw sentences repeated to at least ``tokens`` tokens, and how many tokens they are."""
    dev = ewt_file("dev")
    if dev.is_file():
        sentences = [text for text, _ in read_texts(dev)]
    else:
        log(f"{dev} not found: the sample corpus's sentences stand in")
        sentences = [" ".join(t.rsplit("/", 1)[0] for t in line.split())
                     for line in (ROOT / "sample_corpora" / "tutorial.txt").read_text(encoding="utf-8").splitlines()]
    per_pass = sum(len(line_tokens(s)) for s in sentences)
    passes = math.ceil(tokens / per_pass)
    return sentences * passes, per_pass * passes


@dataclass
class Setup:
    what: str
    # Opens what the set-up tags with (a cluster: started for this round and closed after it) and
    # gives its run and the CPU seconds used so far by the processes that tag.
    session: Callable[[], AbstractContextManager[tuple[Callable[[], None], Callable[[], float]]]]
    firsts: list[float] = field(default_factory=list)
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)

    def time_round(self) -> None:
        """One untimed run (each worker reads the model), then one timed run, wall and CPU."""
        with self.session() as (run, cpu):
            start = time.perf_counter()
            run()
            self.firsts.append(time.perf_counter() - start)
            used, start = cpu(), time.perf_counter()
            run()
            self.walls.append(time.perf_counter() - start)
            self.cpus.append(cpu() - used)

    def result(self, tokens: int) -> str:
        wall, cpu = statistics.median(self.walls), statistics.median(self.cpus)
        return (f"{tokens / wall:,.0f} tokens/s ({wall:.2f} s); {tokens / cpu:,.0f} per CPU-second; "
                f"first run {statistics.median(self.firsts):.2f} s")


def workers_cpu(client) -> float:
    def cpu() -> float:
        import psutil  # distributed's own dependency

        times = psutil.Process().cpu_times()
        return times.user + times.system

    return sum(client.run(cpu).values())


def dask_setups(files, expected, model) -> list[Setup]:
    """The Dask set-ups, each starting its cluster when its turn comes and closing it after, so
    that no other set-up's idle workers share the cores while one is timed."""
    setups = []
    # (workers, BLAS threads each, Dask's MALLOC_TRIM_THRESHOLD_): that one last in a round, as
    # its nanny sets the variable in this process too, for every process started after it.
    for workers, blas, trim in ((1, 1, False), (2, 1, False), (2, 2, False), (2, 1, True)):
        what = (f"{'Dask recipe, 1 worker process' if workers == 1 else TWO_WORKERS} x 1 thread, "
                f"{blas} BLAS thread{'s' * (blas > 1)} each" + (", Dask's MALLOC_TRIM_THRESHOLD_=65536" if trim else ""))
        setups.append(Setup(what, partial(dask_session, files, expected, model, workers, blas, trim)))
    return setups


@contextmanager
def dask_session(files, expected, model, workers: int, blas: int, trim: bool):
    """A cluster of the recipe (or Dask's own, with ``trim``) for one round: its run and CPU clock."""
    from dask.distributed import Client, LocalCluster
    from threadpoolctl import threadpool_limits

    namespace = recipe("tag_dask.py")
    if blas != 1:
        namespace["threadpool_limits"] = lambda n, api: threadpool_limits(blas, api)
    if trim:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                               silence_logs=logging.CRITICAL)
        os.environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    else:
        cluster = namespace["local_cluster"](workers)
    with cluster, Client(cluster, set_as_default=False) as client, tempfile.TemporaryDirectory() as out:
        def run():
            with client.as_current():
                namespace["tag_files"]([str(f) for f in files], out, model)
            for f in files:
                if (Path(out) / f.name).read_text(encoding="utf-8") != expected[f.name]:
                    raise SystemExit(f"the Dask recipe's output for {f.name} differs from tag_lines'")

        yield run, lambda: workers_cpu(client)


def spark_rows(path: Path, expected: str, tokens: int, model: str, repeats: int) -> list[tuple[str, str]]:
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    start = time.perf_counter()
    spark = SparkSession.builder.master("local[2]").getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    rows = [("4. Spark local[2]: starting the JVM and the session", f"{time.perf_counter() - start:.2f} s")]
    namespace = recipe("tag_spark.py")
    command = f"{shutil.which('rnncli', path=os.path.dirname(sys.executable)) or 'rnncli'} tag --model {model}"
    jobs = {"Spark recipe, mapPartitions, local[2], 2 partitions":
            lambda out: namespace["tag_text_file"](spark, str(path), out, 2, model),
            'Spark RDD.pipe("rnncli tag"), local[2], 2 partitions':
            lambda out: spark.sparkContext.textFile(str(path), 2).pipe(command).saveAsTextFile(out)}
    walls: dict[str, list[float]] = {what: [] for what in jobs}
    try:
        with tempfile.TemporaryDirectory() as folder:
            for n in range(repeats + 1):  # the first round: Python workers start and read the model
                for k, (what, job) in enumerate(jobs.items()):
                    out = os.path.join(folder, f"{n}-{k}")
                    start = time.perf_counter()
                    job(out)
                    seconds = time.perf_counter() - start
                    got = "".join(p.read_text(encoding="utf-8") for p in sorted(Path(out).glob("part-*")))
                    if got != expected:
                        raise SystemExit(f"{what}: the output differs from tag_lines'")
                    if n:
                        walls[what].append(seconds)
    finally:
        spark.stop()
    for what, seconds in walls.items():
        wall = statistics.median(seconds)
        log(f"{what}: {tokens / wall:,.0f} tokens/s")
        rows.append((f"4. {what}", f"{tokens / wall:,.0f} tokens/s ({wall:.2f} s)"))
    return rows


def child_seconds(code: str) -> float:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return float(out)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=1_000_000, help="tokens to tag (at least)")
    parser.add_argument("--files", type=int, default=8, help="files to cut them into: Dask's partitions")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of each; the median is shown")
    parser.add_argument("--model", default="default", help="the model, as --model takes it")
    parser.add_argument("--spark", action="store_true", help="also the Spark recipes (pyspark and Java)")
    return parser.parse_args(argv)


def main() -> None:
    args = parse_args()
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, "blas")
    lines, tokens = texts(args.tokens)
    tagger = rnncli.load(args.model)
    per_file = math.ceil(len(lines) / args.files)
    rows: list[tuple[str, str]] = []
    loads = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory() as folder:
        files, expected = [], {}
        for i in range(args.files):
            path = Path(folder) / f"part{i:02d}.txt"
            path.write_text("".join(line + "\n" for line in lines[i * per_file:(i + 1) * per_file]), encoding="utf-8")
            files.append(path)
        log(f"{tokens:,} tokens in {len(lines):,} lines, {args.files} files; load average {loads[0]:.2f}")

        def in_process():
            for path in files:
                with open(path, encoding="utf-8") as f:
                    expected[path.name] = "".join(tagger.tag_lines(f))

        setups = [Setup("One core: `Tagger.tag_lines` in one process, one BLAS thread",
                        lambda: nullcontext((in_process, time.process_time)))]
        setups += dask_setups(files, expected, args.model)
        for n in range(args.repeats):
            for setup in setups:  # the first's untimed run fills `expected` before any cluster's check
                setup.time_round()
            log(f"round {n + 1} of {args.repeats}: " + ", ".join(f"{tokens / s.walls[-1]:,.0f}" for s in setups))
        loads.append(os.getloadavg()[0])
        rows += [(f"{1 + (i > 0)}. {s.what}", s.result(tokens)) for i, s in enumerate(setups)]
        two = next(s for s in setups if s.what.startswith(TWO_WORKERS))
        per_core = tokens / statistics.median(two.cpus)
        per_worker_wall = tokens / statistics.median(two.walls) / 2

        model_file = Path(tagger.origin.path)
        fresh = Tagger.load(model_file)  # as read: lookup tables as stored (tagging widens them)
        load_seconds = child_seconds("import time; t = time.perf_counter(); import rnncli; "
                                     f"rnncli.load({args.model!r}); print(time.perf_counter() - t)")
        digest_seconds = child_seconds(f"import time, rnncli; o = rnncli.load({args.model!r}).origin; "
                                       "t = time.perf_counter(); o.digest(); print(time.perf_counter() - t)")
        data = pickle.dumps(tagger)
        start = time.perf_counter()
        for _ in range(1000):
            pickle.loads(data)
        unpickle = (time.perf_counter() - start) / 1000
        from dask.distributed import Client

        start = time.perf_counter()
        with recipe("tag_dask.py")["local_cluster"](2) as cluster, Client(cluster):
            started = time.perf_counter() - start
        rows += [
            ("3. The model file", f"{model_file.stat().st_size:,} bytes ({model_file.name})"),
            ("3. A pickled tagger: its file's path and SHA-256", f"{len(data):,} bytes"),
            ("3. The same tagger pickled as its arrays and metadata, as one without a file would be",
             f"{len(pickle.dumps(content(fresh))):,} bytes"),
            ("3. A fresh process: import rnncli and read the model (`rnncli.load()`)", f"{load_seconds:.3f} s"),
            ("3. SHA-256 of the model file (once per process, for pickling and checking)", f"{digest_seconds:.3f} s"),
            ("3. Unpickling a tagger the process has read already", f"{unpickle * 1e6:.0f} µs"),
            ("3. Starting the recipe's `local_cluster(2)` (imports included)", f"{started:.2f} s"),
        ]
        if args.spark:
            whole = Path(folder) / "corpus.txt"
            whole.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
            rows += spark_rows(whole, "".join(expected[f.name] for f in files), tokens, args.model, args.repeats)
            loads.append(os.getloadavg()[0])

    for target, name in ((10**9, "a billion"), (10**12, "a trillion")):
        rows.append((f"Workers to tag {name} tokens in an hour, at {per_core:,.0f} tokens per CPU-second "
                     f"(at the {per_worker_wall:,.0f} tokens/s of wall time per worker measured here)",
                     f"{math.ceil(target / (per_core * 3600)):,} ({math.ceil(target / (per_worker_wall * 3600)):,})"))
    print(f"{tokens:,} tokens ({args.files} files), model {args.model!r}, {os.cpu_count()} cores, median of "
          f"{args.repeats}; load average {' then '.join(f'{x:.2f}' for x in loads)}\n")
    print("| Measure | Result |\n| --- | ---: |")
    for what, result in rows:
        print(f"| {what} | {result} |")


if __name__ == "__main__":
    main()
