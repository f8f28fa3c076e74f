"""Benchmark: speed and memory of rnncli on UD English EWT, beside PyTorch, NLTK and CRFsuite.

Seven sections, one table, all measured in one run on the same machine and data: training one
epoch, tagging end to end, start-up, peak memory, scaling, and BLAS threads for tagging and for
training on idle and busy cores. Each timing is the median of ``--repeats`` runs, rnncli and its
peer taking turns. Each section is a module of scripts/speed/; how each one measures, and what
its ratio means, is in docs/benchmarks.md ("How each section is measured").

    python scripts/benchmark_speed.py                        # everything (about 15 minutes)
    python scripts/benchmark_speed.py --quick                # a smoke test of about a minute
    python scripts/benchmark_speed.py --only training,startup --repeats 5 --json speed.json

Peers are optional; a row whose peer is not installed says so. NLTK and python-crfsuite come with
``pip install -e ".[bench]"``; PyTorch, a large download, is installed by hand:
``pip install torch==2.13.0``. Run it on an otherwise idle machine (it warns when the load
average is 1 or more at the start). The data is read from $RNNCLI_EWT_DIR, else
../shared/data/en_ewt beside the repository. Progress goes to stderr, the table to stdout.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from common import read_ewt, read_texts  # first: it also puts the repository on sys.path
import peers
from harness import blas_environment, facts, finish, log, markdown_table, openblas_threads, package_version, plural
from speed import memory, scaling, startup, tagging, threads, training
from speed.shared import Bench, Row, Sizes

from rnncli.recipes import ATTRIBUTION, ewt_file

SECTIONS = ("training", "tagging", "startup", "memory", "scaling", "load", "train-load")
TITLES = {
    "training": "1. Training: one epoch of EWT train",
    "tagging": "2. Tagging end to end",
    "startup": "3. Start-up",
    "memory": "4. Memory: peak resident set size",
    "scaling": "5. Scaling",
    "load": "6. BLAS threads, on idle and on busy cores",
    "train-load": "7. BLAS threads in training, on idle and on busy cores",
}
RATIOS = {
    "training": "ratio: rnncli tokens/s ÷ PyTorch tokens/s",
    "tagging": "ratio: rnncli tokens/s ÷ the peer's",
    "startup": "ratio: rnncli's time ÷ the other command's",
    "memory": "ratio: rnncli's peak ÷ the other one's",
    "scaling": "ratio: time per token ÷ that at the smallest size",
    "load": "ratio: tokens/s with one BLAS thread ÷ tokens/s with one per core",
    "train-load": "ratio: seconds per epoch with one per core ÷ with one BLAS thread",
}

TAG_TOKENS, QUICK_TAG_TOKENS = 1_000_000, 20_000
QUICK_SENTENCES = 1000
NLTK_ITERATIONS, QUICK_NLTK_ITERATIONS = 5, 1
CRF_ITERATIONS, QUICK_CRF_ITERATIONS = 50, 5
RICH_CRF_ITERATIONS, QUICK_RICH_CRF_ITERATIONS = 100, 5
LOAD_TOKENS, QUICK_LOAD_TOKENS = 200_000, 5_000  # one busy-core run with a thread per core is slow
FUNCTIONS = {"training": training.section, "tagging": tagging.section, "startup": startup.section,
             "memory": memory.section, "scaling": scaling.section, "load": threads.section_tagging,
             "train-load": threads.section_training}


def table(rows: list[Row], sections: list[str]) -> str:
    lines = []
    for section in sections:
        lines.append([f"**{TITLES[section]}** ({RATIOS[section]})", "", "", "", ""])
        lines += [[r.what, r.ours, r.peer, r.theirs, "" if r.ratio is None else f"{r.ratio:.2f}"]
                  for r in rows if r.section == section]
    return markdown_table(["Benchmark", "rnncli", "Compared with", "Their figure", "Ratio"], "lrlrr", lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line, with ``sections`` (in table order) and ``repeats`` filled in."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help=f"a smoke test: {QUICK_SENTENCES} train sentences, {QUICK_TAG_TOKENS:,}-token tagging "
                             "input, 1 repeat (about a minute)")
    parser.add_argument("--only", metavar="SECTION[,SECTION]", help=f"run only these sections: {', '.join(SECTIONS)}")
    parser.add_argument("--repeats", type=int, metavar="N",
                        help="runs per timing, the median reported (default 3, 1 with --quick)")
    parser.add_argument("--threads", type=int, default=2, metavar="N",
                        help="PyTorch's intra-op threads (default 2); NumPy's BLAS follows OPENBLAS_NUM_THREADS")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE")
    parser.add_argument("--jobs", type=int, default=1, metavar="N",
                        help="in the tagging section, also time `rnncli tag --jobs N` (default: one process only)")
    args = parser.parse_args(argv)
    only = args.only.split(",") if args.only else list(SECTIONS)
    if set(only) - set(SECTIONS):
        unknown = ", ".join(sorted(set(only) - set(SECTIONS)))
        parser.error(f"unknown section(s) {unknown}; choose from {', '.join(SECTIONS)}")
    args.sections = [s for s in SECTIONS if s in only]
    if args.repeats is None:
        args.repeats = 1 if args.quick else 3
    if args.repeats < 1 or args.threads < 1:
        parser.error("--repeats and --threads need a number of at least 1")
    return args


def main() -> None:
    args = parse_args()
    sections, repeats = args.sections, args.repeats
    sizes = Sizes(QUICK_SENTENCES if args.quick else None, QUICK_TAG_TOKENS if args.quick else TAG_TOKENS,
                  QUICK_NLTK_ITERATIONS if args.quick else NLTK_ITERATIONS,
                  QUICK_CRF_ITERATIONS if args.quick else CRF_ITERATIONS,
                  QUICK_RICH_CRF_ITERATIONS if args.quick else RICH_CRF_ITERATIONS, repeats,
                  QUICK_LOAD_TOKENS if args.quick else LOAD_TOKENS)

    sentences, dev = read_ewt()
    sentences = sentences[:sizes.train_sentences]

    torch = peers.import_torch(args.threads)
    blas_env = blas_environment()
    blas = openblas_threads()
    header = {
        **facts(), "numpy_blas_threads": blas, "blas_environment": blas_env, "torch": torch.__version__ if torch else None,
        "torch_threads": torch.get_num_threads() if torch else None, "nltk": package_version("nltk"),
        "python_crfsuite": package_version("python-crfsuite"), "quick": args.quick, "repeats": repeats,
        "train_sentences": len(sentences), "train_tokens": sum(len(s.words) for s in sentences),
        "dev_sentences": len(dev), "tag_tokens_target": sizes.tag_tokens,
    }
    if header["load_average"][0] >= 1.0:
        log(f"note: load average {header['load_average'][0]} at start: other processes are running, so timings "
            "are noisy, and PyTorch with more threads than idle cores can be many times slower (oversubscription)")
    if torch and blas and blas != torch.get_num_threads():
        log(f"note: NumPy's BLAS uses {blas} thread(s), PyTorch {torch.get_num_threads()}: "
            "set OPENBLAS_NUM_THREADS and --threads alike for an even comparison")
    quick = ("**QUICK run: tiny sizes, 1 repeat. For trying the script only; not for the README.**\n\n"
             if args.quick else "")
    log(quick.strip().replace("*", "") or f"full benchmark, {repeats} repeats per timing")

    with tempfile.TemporaryDirectory(prefix="rnncli-speed-") as tmp:
        bench = Bench(sizes, Path(tmp), sentences, dev, [text for text, _ in read_texts(ewt_file("dev"))], args.threads,
                      args.jobs)
        rows = []
        for section in sections:
            started = time.perf_counter()
            rows += FUNCTIONS[section](bench)
            log(f"[{section}] done in {time.perf_counter() - started:.0f} s")

    torch_text = f"{header['torch']}, {header['torch_threads']} threads" if torch else "not installed"
    print(f"{quick}- Command: `{header['command']}`\n"
          f"- Date: {header['date']}; {header['cpu']}, {header['cpus']} CPUs, load average at start "
          f"{' '.join(map(str, header['load_average']))}\n"
          f"- Python {header['python']}; numpy {header['numpy']}, BLAS threads for training {blas or '?'} ({blas_env}); "
          f"PyTorch {torch_text}; NLTK {header['nltk'] or 'not installed'}; "
          f"python-crfsuite {header['python_crfsuite'] or 'not installed'}\n"
          f"- Data: UD English EWT; train {len(sentences):,} sentences ({header['train_tokens']:,} tokens); "
          f"tagging input: dev ({len(dev):,} sentences) repeated to at least {sizes.tag_tokens:,} tokens\n"
          f"- Each time is the median of {plural(repeats, 'run')} (start-up: {startup.RUNS_PER_REPEAT * repeats}); "
          "each peak memory is one run\n")
    print(table(rows, sections))
    print(f"\nData: {ATTRIBUTION}.")
    finish(args.quick, args.json, header, [asdict(r) for r in rows])


if __name__ == "__main__":
    main()
