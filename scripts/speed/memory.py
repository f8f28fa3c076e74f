"""Section 4 of benchmark_speed.py: the peak resident set size of training and of `rnncli tag`."""

from __future__ import annotations

import sys

from common import ROOT
from harness import log, mib, peak_rss
from speed.shared import Bench, Row, tag_file_peak

from rnncli.recipes import ewt_file
from rnncli.loader import default_model_path

FACTOR = 10  # the larger input: this many times the 1x one

TRAIN_ONE_EPOCH = """\
import sys
from dataclasses import replace
sys.path.insert(0, sys.argv[1])  # the repository: its rnncli, installed or not
from rnncli.corpus import read_corpus
from rnncli.recipes import ENGLISH
from rnncli.train import train
sentences = read_corpus(sys.argv[2], tag_column="upos")[:int(sys.argv[3])]
train(sentences, None, replace(ENGLISH, epochs=1))
"""


def section(b: Bench) -> list[Row]:
    floor = peak_rss(["true"])  # the wrapper's own size: no figure below can be smaller
    limit = len(b.train)
    log(f"[memory] one epoch of the default model's recipe on {limit:,} sentences ...")
    train_peak = peak_rss([sys.executable, "-c", TRAIN_ONE_EPOCH, str(ROOT),
                           str(ewt_file("train")), str(limit)])
    rows = [Row("memory", f"training one epoch of the default model's recipe on {limit:,} sentences, "
                          "reading the corpus included", mib(train_peak),
                data={"peak_kib": train_peak, "sentences": limit, "wrapper_floor_kib": floor})]

    bundled = default_model_path()
    model, name = (bundled, "bundled model") if bundled.exists() else (b.tutorial_model(), "tutorial-size model")
    note = "" if bundled.exists() else " (the bundled model is not built yet)"
    numpy_peak = peak_rss([sys.executable, "-c", "import numpy"])
    b.warm_up(model)
    peaks = {}
    for factor in (1, FACTOR):
        path, tokens = b.tag_input(True, factor)
        log(f"[memory] rnncli tag, {name}, {tokens:,} tokens ...")
        peaks[factor] = (tokens, tag_file_peak(model, path, True, b.tmp / "tagged.txt"))
    (t1, peak1), (t10, peak10) = peaks[1], peaks[FACTOR]
    rows.append(Row("memory", f"`rnncli tag --pretokenized`, {name}{note}, 1x input ({t1:,} tokens)",
                    mib(peak1), '`python -c "import numpy"`', mib(numpy_peak), peak1 / numpy_peak,
                    {"peak_kib": peak1, "tokens": t1, "numpy_peak_kib": numpy_peak}))
    rows.append(Row("memory", f"`rnncli tag --pretokenized`, {name}, {FACTOR}x input ({t10:,} tokens)",
                    mib(peak10), "the same at 1x", mib(peak1), peak10 / peak1, {"peak_kib": peak10, "tokens": t10}))
    return rows
