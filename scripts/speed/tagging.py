"""Section 2 of benchmark_speed.py: tagging end to end, beside NLTK and CRFsuite, and the ceiling
that each model's arithmetic allows."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import peers
from common import ROOT
from harness import CHILD_ENV, log, plural, rate
from speed.shared import Bench, Row, flops_per_token, tag_file

from rnncli.config import BLAS_VARIABLES
from rnncli.loader import default_model_path
from rnncli.tagger import BATCH_TOKENS, Tagger


def nltk_peer(b: Bench):
    """A function that tags a list of token lists, and its description; or (None, why not)."""
    try:
        tagger, _ = peers.nltk_perceptron(b.train, b.sizes.nltk_iterations)
    except ImportError:
        return None, "NLTK: not installed (`pip install nltk`)"

    def tag_all(sentences):
        for words in sentences:
            tagger.tag(words)
    return tag_all, f"NLTK averaged perceptron ({plural(b.sizes.nltk_iterations, 'iteration')}), in-process"


def crf_peer(b: Bench, rich: bool = False):
    """The CRF with the few features, or with ``rich`` the richer one, each with its EWT dev accuracy."""
    iterations = b.sizes.rich_crf_iterations if rich else b.sizes.crf_iterations
    try:
        tagger = peers.crf_tagger(b.train, iterations, b.tmp / f"crf{'-rich' * rich}.model", rich)
    except ImportError:
        return None, "CRFsuite: not installed (`pip install python-crfsuite`)"

    def tag_all(sentences):
        for words in sentences:
            tagger.tag(peers.crf_features(words, rich))
    dev = peers.accuracy(lambda words: tagger.tag(peers.crf_features(words, rich)), b.dev)
    features = "rich features" if rich else "few features"
    return tag_all, (f"python-crfsuite CRF, {features} ({plural(iterations, 'L-BFGS iteration')}; "
                     f"{dev:.2%} on EWT dev), in-process, with features")


def rich_crf_peer(b: Bench):
    return crf_peer(b, rich=True)


def rnncli_models(b: Bench) -> list[tuple[str, Path | None]]:
    bundled = default_model_path()
    return [("bundled default model", bundled if bundled.exists() else None),
            ("tutorial-size model (H=128, 1 direction, word one-hot)", b.tutorial_model())]


def missing_model_note() -> str:
    path = default_model_path()
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    return f"{shown} is not built yet (python scripts/build_default_model.py)"


PEERS = (nltk_peer, crf_peer, rich_crf_peer)


def section(b: Bench) -> list[Row]:
    models = rnncli_models(b)
    peers = []
    for make in PEERS:
        log(f"[tagging] training the {make.__name__.removesuffix('_peer')} peer ...")
        started = time.perf_counter()
        function, name = make(b)
        peers.append((function, name, time.perf_counter() - started))
    sentences, peer_tokens = b.peer_sentences()
    out = b.tmp / "tagged.txt"

    timings: dict[tuple[str, bool, int], list[float]] = {}
    job_counts = sorted({1, b.jobs})
    peer_times: dict[str, list[float]] = {name: [] for f, name, _ in peers if f}
    for _, model in models:
        if model:
            b.warm_up(model)
    for r in range(b.sizes.repeats):
        for name, model in models:
            for pretokenized in (True, False):
                for jobs in job_counts:
                    if model is None:
                        continue
                    path, tokens = b.tag_input(pretokenized)
                    seconds = tag_file(model, path, pretokenized, out, jobs)
                    timings.setdefault((name, pretokenized, jobs), []).append(seconds)
                    log(f"  run {r + 1}: {name}, {'pretokenized' if pretokenized else 'raw text'}, "
                        f"jobs {jobs}: {rate(tokens, seconds)}")
        for function, name, _ in peers:
            if function:
                started = time.perf_counter()
                function(sentences)
                peer_times[name].append(time.perf_counter() - started)
                log(f"  run {r + 1}: {name}: {rate(peer_tokens, peer_times[name][-1])}")

    rows = []
    for pretokenized in (True, False):
        path, tokens = b.tag_input(pretokenized)
        kind = "pretokenized" if pretokenized else "raw text, rnncli's tokeniser"
        for (name, model), jobs in ((m, j) for m in models for j in job_counts):
            processes = f"--jobs {jobs}" if jobs > 1 else "one process"
            what = f"{name}, {kind}, {processes}, {tokens:,} tokens"
            if model is None:
                if jobs == 1:
                    rows.append(Row("tagging", what, f"skipped: {missing_model_note()}"))
                continue
            seconds = statistics.median(timings[(name, pretokenized, jobs)])
            ours = rate(tokens, seconds)
            data = {"model": str(model), "pretokenized": pretokenized, "tokens": tokens, "jobs": jobs,
                    "rnncli_seconds": timings[(name, pretokenized, jobs)]}
            if not pretokenized:
                rows.append(Row("tagging", what, ours, "(the peers take tokens, not text)", data=data))
                continue
            for function, peer, train_seconds in peers:
                if function is None:
                    rows.append(Row("tagging", what, ours, peer, data=data))
                    continue
                theirs = statistics.median(peer_times[peer])
                rows.append(Row("tagging", what, ours, peer, rate(peer_tokens, theirs),
                                (tokens / seconds) / (peer_tokens / theirs),
                                {**data, "peer_tokens": peer_tokens, "peer_seconds": peer_times[peer],
                                 "peer_train_seconds": train_seconds}))
    rows += ceiling_rows(models, timings, job_counts, b.tag_input(True)[1])
    return rows


MATMUL_CHILD = """
import sys, time, numpy as np
B, H, D = map(int, sys.argv[1:4])
rng = np.random.default_rng(0)
s, W = rng.normal(size=(B, D)).astype(np.float32), rng.normal(size=(D, H)).astype(np.float32)
out = np.empty((B, H), np.float32)
best = []
for _ in range(7):
    started = time.perf_counter()
    for _ in range(2000):
        np.matmul(s, W, out=out)
    best.append(time.perf_counter() - started)
print(2 * B * H * D * 2000 / sorted(best)[3] / 1e9)
"""


def matmul_gflops(batch: int, hidden: int, inputs: int) -> float:
    """GFLOP/s of a float32 (batch x inputs) by (inputs x hidden) product on one core, one BLAS
    thread (as rnncli tags), in a fresh process: the median of 7 runs of 2,000 products."""
    env = {**CHILD_ENV, **dict.fromkeys(BLAS_VARIABLES, "1")}
    out = subprocess.run([sys.executable, "-c", MATMUL_CHILD, str(batch), str(hidden), str(inputs)],
                         capture_output=True, text=True, env=env, check=True)
    return float(out.stdout)


def ceiling_rows(models, timings, job_counts, tokens: int) -> list[Row]:
    """Each model's one-process and --jobs speed (pretokenized) beside the ceiling its arithmetic
    allows: its floating-point operations per token at the speed of a matrix product the size of
    one recurrence step (4,096-token batches of 25-word sentences: 164 rows), per core used."""
    rows = []
    cores = os.cpu_count() or 1
    for name, model in models:
        if model is None:
            continue
        shape = Tagger.load(model).shape
        flops = flops_per_token(shape)
        gflops = matmul_gflops(BATCH_TOKENS // 25, shape.n_hidden, shape.n_hidden)
        ceiling = gflops * 1e9 / flops  # tokens/s on one core
        for jobs in job_counts:
            seconds = statistics.median(timings[(name, True, jobs)])
            workers = min(jobs, cores)
            processes = f"--jobs {jobs}" if jobs > 1 else "one process"
            rows.append(Row("tagging", f"{name}, pretokenized, {processes}: share of the ceiling ({flops:,} "
                            f"floating-point operations per token at {gflops:.1f} GFLOP/s per core, "
                            f"{workers} core{'s' * (workers > 1)})",
                            rate(tokens, seconds), "the ceiling", f"{workers * ceiling:,.0f} tokens/s",
                            (tokens / seconds) / (workers * ceiling),
                            {"flops_per_token": flops, "gflops_per_core": gflops, "cores_used": workers}))
    return rows
