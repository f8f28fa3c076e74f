"""Section 5 of benchmark_speed.py: the time per token of training and tagging as the input grows."""

from __future__ import annotations

import statistics

from harness import log, rate
from speed.shared import TUTORIAL_RNN, WARM_UP_SENTENCES, Bench, Row, epoch_seconds, tag_file

FRACTIONS = (0.25, 0.5, 1.0)  # of EWT train's sentences, for training
FACTORS = (1, 2, 4)  # times the 1x input, for tagging


def section(b: Bench) -> list[Row]:
    rows = []
    reference = None
    epoch_seconds(b.train[:WARM_UP_SENTENCES], TUTORIAL_RNN)
    for fraction in FRACTIONS:
        subset = b.train[:round(len(b.train) * fraction)]
        tokens = sum(len(s.words) for s in subset)
        log(f"[scaling] one epoch of the tutorial RNN on {len(subset):,} sentences ...")
        times = [epoch_seconds(subset, TUTORIAL_RNN) for _ in range(b.sizes.repeats)]
        per_token = statistics.median(times) / tokens
        reference = reference or per_token
        part = {0.25: "1/4", 0.5: "1/2", 1.0: "all"}.get(fraction, f"{fraction:g}")
        rows.append(Row("scaling", f"training, tutorial RNN, one epoch on {part} of the train sentences "
                                   f"({tokens:,} tokens)",
                        f"{statistics.median(times):.2f} s, {1e6 * per_token:.2f} µs/token",
                        ratio=per_token / reference, data={"tokens": tokens, "seconds": times}))
    model = b.tutorial_model()
    b.warm_up(model)
    inputs = [b.tag_input(True, factor) for factor in FACTORS]
    times = {factor: [] for factor in FACTORS}
    for r in range(b.sizes.repeats):
        for factor, (path, tokens) in zip(FACTORS, inputs):
            times[factor].append(tag_file(model, path, True, b.tmp / "tagged.txt"))
            log(f"  run {r + 1}: rnncli tag, tutorial-size model, {factor}x: {rate(tokens, times[factor][-1])}")
    reference = None
    for factor, (_, tokens) in zip(FACTORS, inputs):
        seconds = statistics.median(times[factor])
        per_token = seconds / tokens
        reference = reference or per_token
        rows.append(Row("scaling", f"`rnncli tag --pretokenized`, tutorial-size model, {factor}x input "
                                   f"({tokens:,} tokens)",
                        f"{seconds:.2f} s, {1e6 * per_token:.2f} µs/token", ratio=per_token / reference,
                        data={"tokens": tokens, "seconds": times[factor]}))
    return rows
