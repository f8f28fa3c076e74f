"""Streaming: how soon `rnncli tag` answers a line that comes alone, and what reading input that
can pause costs a large one.

1. Latency. `rnncli tag` reads a pipe that stays open; a line is written every --gap seconds and
   the time until its tagged line can be read is measured (the first line also pays start-up).
   The same for `Tagger.tag_lines` on a generator that sleeps between lines.
2. Throughput. UD English EWT dev's raw sentences repeated to about --tokens tokens, tagged end to
   end (the whole process, output to a file) three ways: `-i FILE` and `< FILE` (a regular file:
   read in large chunks, no thread), and `cat FILE |` (a pipe: read by a thread of its own that
   cuts a chunk when the input pauses). The runs take turns; the median of --repeats is shown.

Usage: python scripts/benchmark_streaming.py [--tokens N] [--repeats N] [--lines N] [--gap S]
"""

from __future__ import annotations

import argparse
import os
import select
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import common
from common import read_texts
from harness import log, markdown_table

from rnncli.recipes import ewt_file
from rnncli.tokenizer import line_tokens


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=1_000_000, help="tokens of the large input (default 1M)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each way of reading (default 3)")
    parser.add_argument("--lines", type=int, default=20, help="lines sent one at a time (default 20)")
    parser.add_argument("--gap", type=float, default=0.2, help="seconds between them (default 0.2)")
    parser.add_argument("--model", default="default", help="the model to tag with (default: the bundled one)")
    return parser.parse_args(argv)


def pipe_latencies(model: str, lines: list[str], gap: float) -> list[float]:
    """Seconds from writing each line into an open pipe to reading its answer."""
    env = {**os.environ, "PYTHONPATH": str(common.ROOT)}
    p = subprocess.Popen([sys.executable, "-m", "rnncli", "tag", "--model", model], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, env=env)
    seconds = []
    try:
        for line in lines:
            start = time.perf_counter()
            p.stdin.write(line.encode() + b"\n")
            p.stdin.flush()
            if not select.select([p.stdout], [], [], 60)[0]:
                raise SystemExit("no answer within 60 s")
            p.stdout.readline()
            seconds.append(time.perf_counter() - start)
            time.sleep(gap)
    finally:
        p.stdin.close()
        p.wait(60)
    return seconds


def generator_latencies(model: str, lines: list[str], gap: float) -> list[float]:
    """The same for Tagger.tag_lines on a generator that sleeps between its lines."""
    import rnncli

    tagger = rnncli.load(model)
    sent: list[float] = []

    def slowly():
        for line in lines:
            sent.append(time.perf_counter())
            yield line
            time.sleep(gap)

    return [time.perf_counter() - sent[n] for n, _ in enumerate(tagger.tag_lines(slowly()))]


def big_input(folder: Path, tokens: int) -> tuple[Path, int]:
    texts = [text for text, _ in read_texts(ewt_file("dev"))]
    per_copy = sum(len(line_tokens(t)) for t in texts)
    copies = -(-tokens // per_copy)
    path = folder / "big.txt"
    path.write_text(("\n".join(texts) + "\n") * copies, encoding="utf-8")
    return path, per_copy * copies


def throughput(model: str, path: Path, repeats: int, out: Path) -> dict[str, list[float]]:
    ways = {"-i FILE": f"rnncli tag --model {model} -i {path} > {out}",
            "< FILE": f"rnncli tag --model {model} < {path} > {out}",
            "cat FILE |": f"cat {path} | rnncli tag --model {model} > {out}"}
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    seconds: dict[str, list[float]] = {way: [] for way in ways}
    outputs = set()
    for k in range(repeats):
        for way, command in ways.items():  # taking turns: a busy spell hits every way alike
            start = time.perf_counter()
            subprocess.run(["bash", "-c", command], check=True, env=env)
            seconds[way].append(time.perf_counter() - start)
            outputs.add(out.read_bytes())
            log(f"run {k + 1}: {way} {seconds[way][-1]:.2f} s")
    if len(outputs) != 1:
        raise SystemExit("the three ways of reading gave different output")
    return seconds


def main() -> None:
    args = parse_args()
    lines = [text for text, _ in read_texts(ewt_file("dev"))[:args.lines]]
    log("latency: rnncli tag on an open pipe ...")
    cli = pipe_latencies(args.model, lines, args.gap)
    log("latency: Tagger.tag_lines on a generator ...")
    api = generator_latencies(args.model, lines, args.gap)
    print(f"Latency, {len(lines)} EWT dev sentences sent one at a time, {args.gap} s apart (model {args.model}):\n")
    print(markdown_table(["reader", "first line", "later lines, median", "later lines, max"], "lrrr",
                         [[name, f"{s[0] * 1000:.0f} ms", f"{statistics.median(s[1:]) * 1000:.1f} ms",
                           f"{max(s[1:]) * 1000:.1f} ms"]
                          for name, s in (("`rnncli tag` on a pipe", cli), ("`Tagger.tag_lines` on a generator", api))]))
    with tempfile.TemporaryDirectory() as tmp:
        path, tokens = big_input(Path(tmp), args.tokens)
        log(f"throughput: {tokens:,} tokens ...")
        seconds = throughput(args.model, path, args.repeats, Path(tmp) / "out.txt")
    print(f"\nThroughput, {tokens:,} tokens of raw text, whole process, median of {args.repeats}:\n")
    medians = {way: statistics.median(s) for way, s in seconds.items()}
    print(markdown_table(["input", "seconds", "tokens/s"], "lrr",
                         [[f"`{way}`", f"{m:.2f}", f"{tokens / m:,.0f}"] for way, m in medians.items()]))
    print(f"\n{threading.active_count()} thread(s) left at the end; python {sys.version.split()[0]}; "
          f"{os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
