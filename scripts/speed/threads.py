"""Sections 6 and 7 of benchmark_speed.py: one BLAS thread against one per core, for `rnncli tag`
and for `rnncli train`, on idle cores and on cores busy with other processes."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from harness import CHILD_ENV, log, rate, run
from speed.shared import Bench, Row, tag_file

from rnncli.config import BLAS_VARIABLES
from rnncli.loader import default_model_path

MANY_TAGS = 10_001  # the output layer of a large tag set, where BLAS threads matter most
TRAIN_LOAD_SENTENCES, QUICK_TRAIN_LOAD_SENTENCES = 2_000, 200


@contextmanager
def busy_loops(n: int):
    """``n`` other processes, each keeping a core busy, for as long as the block runs."""
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        yield
    finally:
        for p in burners:
            p.kill()
            p.wait()


def section_tagging(b: Bench) -> list[Row]:
    """`rnncli tag` with one BLAS thread (its default) and with one per core, first on idle cores,
    then with every core running a busy loop in another process, as in a pipeline whose other
    programs compute too."""
    bundled = default_model_path()
    model, name = (bundled, "bundled model") if bundled.exists() else (b.tutorial_model(), "tutorial-size model")
    source, _ = b.tag_input(True)
    path, tokens = b.tmp / "load-words.txt", 0
    with open(source, encoding="utf-8") as f, open(path, "w", encoding="utf-8") as out:
        for line in f:
            if tokens >= b.sizes.load_tokens:
                break
            out.write(line)
            tokens += len(line.split())
    cores = os.cpu_count() or 1
    threads = {"one BLAS thread (the default)": 1, f"{cores} BLAS threads": cores}
    b.warm_up(model)
    rows = []
    for busy in (False, True):
        with busy_loops(cores if busy else 0):
            times = {}
            for label, n in threads.items():
                env = {**CHILD_ENV, **dict.fromkeys(BLAS_VARIABLES, str(n))}
                times[label] = [tag_file(model, path, True, b.tmp / "tagged.txt", env=env)
                                for _ in range(b.sizes.repeats)]
                log(f"[load] {'busy' if busy else 'idle'} cores, {label}: "
                    f"{rate(tokens, statistics.median(times[label]))}")
        (ours_label, ours), (theirs_label, theirs) = [(k, statistics.median(v)) for k, v in times.items()]
        where = f"every core busy with another process ({cores} busy loops)" if busy else "idle cores"
        rows.append(Row("load", f"`rnncli tag --pretokenized`, {name}, {tokens:,} tokens, {where}, {ours_label}",
                        rate(tokens, ours), theirs_label, rate(tokens, theirs), theirs / ours,
                        {"tokens": tokens, "busy_loops": cores if busy else 0,
                         **{f"seconds_{n}_threads": times[k] for k, n in threads.items()}}))
    return rows


def section_training(b: Bench) -> list[Row]:
    """One epoch of `rnncli train` with one BLAS thread (its default) and with one per core, on
    idle cores and with every core running a busy loop in another process; for a small output
    layer (EWT's 17 UPOS tags) and a large one (10,001 tags: each word type's number modulo
    10,001 as its tag). The time is the epoch's own ``seconds`` in the model's history."""
    n = QUICK_TRAIN_LOAD_SENTENCES if b.sizes.train_sentences else TRAIN_LOAD_SENTENCES
    sentences = b.train[:n]
    types: dict[str, int] = {}
    corpora = {}
    for label, tag_of in (("17 tags (UPOS)", None), (f"{MANY_TAGS:,} tags", lambda w: f"T{types.setdefault(w, len(types)) % MANY_TAGS}")):
        path = b.tmp / f"train-load-{len(corpora)}.tsv"
        with open(path, "w", encoding="utf-8") as f:
            for s in sentences:
                f.write("".join(f"{w}\t{t if tag_of is None else tag_of(w)}\n" for w, t in zip(s.words, s.tags)) + "\n")
        corpora[label] = path
    tokens = sum(len(s.words) for s in sentences)
    cores = os.cpu_count() or 1
    threads = {"one BLAS thread (the default)": 1, f"{cores} BLAS threads": cores}
    out = b.tmp / "train-load.npz"

    def epoch(corpus: Path, n_threads: int) -> float:
        env = {**CHILD_ENV, **dict.fromkeys(BLAS_VARIABLES, str(n_threads))}
        run([sys.executable, "-m", "rnncli", "train", str(corpus), "-o", str(out), "--epochs", "1",
             "--hidden", "128", "--batch-size", "32", "-q"], env=env)
        with np.load(out, allow_pickle=False) as f:
            return json.loads(f["metadata"].tobytes())["training"]["history"][0]["seconds"]

    rows = []
    for busy in (False, True):
        with busy_loops(cores if busy else 0):
            for corpus_label, corpus in corpora.items():
                times = {label: [epoch(corpus, k) for _ in range(b.sizes.repeats)] for label, k in threads.items()}
                (ours_label, ours), (theirs_label, theirs) = [(k, statistics.median(v)) for k, v in times.items()]
                where = f"every core busy with another process ({cores} busy loops)" if busy else "idle cores"
                log(f"[train-load] {corpus_label}, {where}: {ours:.2f} s with 1 thread, {theirs:.2f} s with {cores}")
                rows.append(Row("train-load", f"one epoch of `rnncli train --hidden 128`, {n:,} EWT train sentences "
                                f"({tokens:,} tokens), {corpus_label}, {where}, {ours_label}",
                                f"{ours:.2f} s", theirs_label, f"{theirs:.2f} s", theirs / ours,
                                {"tokens": tokens, "busy_loops": cores if busy else 0, "corpus": corpus_label,
                                 **{f"seconds_{k}_threads": times[label] for label, k in threads.items()}}))
    return rows
