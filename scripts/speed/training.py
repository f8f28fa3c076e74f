"""Section 1 of benchmark_speed.py: one epoch of EWT train, rnncli beside PyTorch."""

from __future__ import annotations

import statistics

import peers
from harness import log, plural
from speed.shared import RECIPE, TUTORIAL_RNN, WARM_UP_SENTENCES, Bench, Row, describe, epoch_seconds


def section(b: Bench) -> list[Row]:
    torch = peers.import_torch(b.threads)
    tokens = sum(len(s.words) for s in b.train)
    rows = []
    for key, name, config in (("tutorial", "tutorial RNN", TUTORIAL_RNN), ("recipe", "default model's recipe", RECIPE)):
        what = f"{name} ({describe(config)})"
        log(f"[training] {what} ...")
        # nn.RNN has no counterpart of rnncli's character RNN here: compare only what is the same network.
        peer = peers.TorchEpoch(torch, b.train, config) if torch and not config.char_hidden else None
        # Uncounted: the first steps of a process pay one-time costs (thread pools, allocator, kernels).
        epoch_seconds(b.train[:WARM_UP_SENTENCES], config)
        if peer:
            peers.TorchEpoch(torch, b.train[:WARM_UP_SENTENCES], config).seconds()
        ours, theirs = [], []
        for r in range(b.sizes.repeats):
            ours.append(epoch_seconds(b.train, config))
            if peer:
                theirs.append(peer.seconds())
            log(f"  run {r + 1}: rnncli {ours[-1]:.2f} s" + (f", PyTorch {theirs[-1]:.2f} s" if peer else ""))
        ours_s = statistics.median(ours)
        row = Row("training", what, f"{tokens / ours_s:,.0f} tokens/s ({ours_s:.2f} s/epoch)",
                  data={"config": key, "tokens": tokens, "rnncli_seconds": ours})
        if peer:
            theirs_s = statistics.median(theirs)
            layer = "nn.Embedding" if config.features == "word" else "nn.EmbeddingBag (sum)"
            row.peer = (f"PyTorch {torch.__version__}: {layer} → nn.RNN → nn.Linear, "
                        f"{plural(torch.get_num_threads(), 'thread')}")
            row.theirs = f"{tokens / theirs_s:,.0f} tokens/s ({theirs_s:.2f} s/epoch)"
            row.ratio = theirs_s / ours_s
            row.data["pytorch_seconds"] = theirs
        elif torch:
            row.peer = "PyTorch: skipped, this script has no PyTorch character RNN"
        else:
            row.peer = "PyTorch: not installed (`pip install torch==2.13.0`)"
        rows.append(row)
    return rows
