"""Benchmark: tagging on the Dask test's cluster, and what tagging 10^9 and 10^12 tokens in an hour takes.

    python scripts/benchmark_cluster.py [--tokens 1000000] [--files 8] [--repeats 3] [--spark]

The input is UD English EWT dev's raw sentences (``common.read_texts``), repeated to at least
``--tokens`` tokens as rnncli's tokeniser splits them and cut into ``--files`` files of equal
size, tagged with the bundled English model (``--model``). Each time is the median of
``--repeats`` runs; the first run of each set-up is not counted (it reads the model into each
worker, measured apart). Every output is checked byte for byte against ``tag_lines`` in this
process. Sections:

1. One core, one process: ``Tagger.tag_lines`` over every line here, one BLAS thread.
2. The Dask recipe of docs/python.md, exactly as the page has it (its code is read from there),
   on ``LocalCluster(n_workers=N, threads_per_worker=1, processes=True)``, N = 1 and 2 (2 is the
   cluster of tests/test_distributed.py): from ``tag_files`` being called to the last output file
   written, reading and writing included; and with N = 2 and two BLAS threads per worker (the
   recipe's ``threadpool_limits(1)`` made 2), which is what a worker gets on a two-core machine
   when nothing limits it; and with N = 2 on Dask's own ``LocalCluster``, whose workers start with
   ``MALLOC_TRIM_THRESHOLD_=65536`` (the recipe's ``local_cluster`` leaves it unset).
3. Shipping the model: the model file's size, a pickled tagger's (its reference) and a tagger
   pickled as its arrays; the time a fresh process takes to import rnncli and read the model
   (``rnncli.load()``, in a child process), to compute the file's SHA-256, and to unpickle a
   tagger it has already read; how long a LocalCluster of two workers takes to start.
4. With ``--spark`` (pyspark and Java): the Spark recipe (``mapPartitions``) and ``RDD.pipe``
   through ``rnncli tag``, on ``local[2]`` over the same text as one file in 2 partitions, timed
   from the job's start to its output written, the JVM's start-up apart.

Then the workers a billion and a trillion tokens an hour take, at the per-worker rate of section 2.
The table goes to stdout, progress to stderr. UD English EWT is where common.py says; without it,
the sample corpus's sentences stand in.
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
from pathlib import Path

from common import ROOT, ewt_file, read_texts  # also puts the repository on sys.path

import rnncli  # noqa: E402
from rnncli.shipping import content  # noqa: E402
from rnncli.tokenize import tokenize  # noqa: E402


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


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
    per_pass = sum(len(tokenize(s)) for s in sentences)
    passes = math.ceil(tokens / per_pass)
    return sentences * passes, per_pass * passes


def median_time(run, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def rate(tokens: int, seconds: float) -> str:
    return f"{tokens / seconds:,.0f} tokens/s ({seconds:.2f} s)"


def dask_runs(files, expected, tokens, model, repeats) -> list[tuple[str, float, float]]:
    """(set-up, first run's seconds, median seconds) for each cluster."""
    from dask.distributed import Client, LocalCluster
    from threadpoolctl import threadpool_limits

    rows = []
    # (workers, BLAS threads each, with Dask's default MALLOC_TRIM_THRESHOLD_): the last one last,
    # as its nanny sets the variable in this process too, for every process started after it.
    for workers, blas, trim in ((1, 1, False), (2, 1, False), (2, 2, False), (2, 1, True)):
        namespace = recipe("tag_dask.py")
        if blas != 1:
            namespace["threadpool_limits"] = lambda n, api, blas=blas: threadpool_limits(blas, api)
        cluster = (LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                                silence_logs=logging.CRITICAL) if trim else namespace["local_cluster"](workers))
        with tempfile.TemporaryDirectory() as out, cluster, Client(cluster):
            def run():
                namespace["tag_files"]([str(f) for f in files], out, model)
                for f in files:
                    if (Path(out) / f.name).read_text(encoding="utf-8") != expected[f.name]:
                        raise SystemExit(f"the Dask recipe's output for {f.name} differs from tag_lines'")
            first = median_time(run, 1)
            seconds = median_time(run, repeats)
        os.environ.pop("MALLOC_TRIM_THRESHOLD_", None)
        what = (f"Dask recipe, {workers} worker process{'es' * (workers > 1)} x 1 thread, "
                f"{blas} BLAS thread{'s' * (blas > 1)} each" + (", Dask's MALLOC_TRIM_THRESHOLD_=65536" if trim else ""))
        log(f"{what}: {rate(tokens, seconds)}, first run {first:.2f} s")
        rows.append((what, first, seconds))
    return rows


def spark_runs(path: Path, expected: str, tokens: int, model: str, repeats: int) -> list[tuple[str, float]]:
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    start = time.perf_counter()
    spark = SparkSession.builder.master("local[2]").getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    rows = [("Spark local[2]: starting the JVM and the session", time.perf_counter() - start)]
    namespace = recipe("tag_spark.py")
    command = f"{shutil.which('rnncli', path=os.path.dirname(sys.executable)) or 'rnncli'} tag --model {model}"
    try:
        for what, job in (
                ("Spark recipe, mapPartitions, local[2], 2 partitions",
                 lambda out: namespace["tag_text_file"](spark, str(path), out, 2, model)),
                ("Spark RDD.pipe(\"rnncli tag\"), local[2], 2 partitions",
                 lambda out: spark.sparkContext.textFile(str(path), 2).pipe(command).saveAsTextFile(out))):
            with tempfile.TemporaryDirectory() as folder:
                runs = iter(range(repeats + 1))

                def run():
                    out = os.path.join(folder, str(next(runs)))
                    job(out)
                    got = "".join(p.read_text(encoding="utf-8") for p in sorted(Path(out).glob("part-*")))
                    if got != expected:
                        raise SystemExit(f"{what}: the output differs from tag_lines'")
                run()  # the first: Python workers start, each reads the model
                seconds = median_time(run, repeats)
            log(f"{what}: {rate(tokens, seconds)}")
            rows.append((what, seconds))
    finally:
        spark.stop()
    return rows


def child_seconds(code: str) -> float:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return float(out)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=1_000_000, help="tokens to tag (at least)")
    parser.add_argument("--files", type=int, default=8, help="files to cut them into: Dask's partitions")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each; the median is shown")
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
    with tempfile.TemporaryDirectory() as folder:
        files, expected = [], {}
        for i in range(args.files):
            part = lines[i * per_file:(i + 1) * per_file]
            path = Path(folder) / f"part{i:02d}.txt"
            path.write_text("".join(line + "\n" for line in part), encoding="utf-8")
            files.append(path)
        log(f"{tokens:,} tokens in {len(lines):,} lines, {args.files} files; load average {os.getloadavg()[0]:.2f}")

        def in_process():
            for path in files:
                with open(path, encoding="utf-8") as f:
                    expected[path.name] = "".join(tagger.tag_lines(f))
        in_process()  # the first run widens the lookup tables, once
        one = median_time(in_process, args.repeats)
        log(f"one core, in-process: {rate(tokens, one)}")
        rows.append(("1. One core: `Tagger.tag_lines` in one process, one BLAS thread", rate(tokens, one)))

        dask = dask_runs(files, expected, tokens, args.model, args.repeats)
        for what, first, seconds in dask:
            rows.append((f"2. {what}", f"{rate(tokens, seconds)}; the first run {first:.2f} s"))
        two = dict((what, seconds) for what, _, seconds in dask)
        per_worker = tokens / two["Dask recipe, 2 worker processes x 1 thread, 1 BLAS thread each"] / 2

        model_file = Path(tagger._origin.path)
        load_seconds = child_seconds("import time; t = time.perf_counter(); import rnncli; "
                                     f"rnncli.load({args.model!r}); print(time.perf_counter() - t)")
        digest_seconds = child_seconds(f"import time, rnncli; o = rnncli.load({args.model!r})._origin; "
                                       "t = time.perf_counter(); o.digest(); print(time.perf_counter() - t)")
        data = pickle.dumps(tagger)
        unpickle = median_time(lambda: [pickle.loads(data) for _ in range(1000)], args.repeats) / 1000
        start = time.perf_counter()
        from dask.distributed import Client

        with recipe("tag_dask.py")["local_cluster"](2) as cluster, Client(cluster):
            started = time.perf_counter() - start
        rows += [
            ("3. The model file", f"{model_file.stat().st_size:,} bytes ({model_file.name})"),
            ("3. A pickled tagger: its file's path and SHA-256", f"{len(data):,} bytes"),
            ("3. A tagger pickled as its arrays and metadata (one without a file)",
             f"{len(pickle.dumps(content(tagger))):,} bytes"),
            ("3. A fresh process: import rnncli and read the model (`rnncli.load()`)", f"{load_seconds:.3f} s"),
            ("3. SHA-256 of the model file (once per process, for pickling and checking)", f"{digest_seconds:.3f} s"),
            ("3. Unpickling a tagger the process has read already", f"{unpickle * 1e6:.0f} µs"),
            ("3. Starting a LocalCluster of 2 worker processes (imports included)", f"{started:.2f} s"),
        ]

        if args.spark:
            whole = Path(folder) / "corpus.txt"
            whole.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
            expected_whole = "".join(expected[f.name] for f in files)
            for what, seconds in spark_runs(whole, expected_whole, tokens, args.model, args.repeats):
                rows.append((f"4. {what}", f"{seconds:.2f} s" if "JVM" in what else rate(tokens, seconds)))

    for target, name in ((10**9, "a billion"), (10**12, "a trillion")):
        needed = math.ceil(target / (per_worker * 3600))
        rows.append((f"Workers to tag {name} tokens in an hour at {per_worker:,.0f} tokens/s per worker",
                     f"{needed:,}"))
    print(f"{tokens:,} tokens ({args.files} files), model {args.model!r}, {os.cpu_count()} cores, "
          f"median of {args.repeats}\n")
    print("| Measure | Result |\n| --- | ---: |")
    for what, result in rows:
        print(f"| {what} | {result} |")


if __name__ == "__main__":
    main()
