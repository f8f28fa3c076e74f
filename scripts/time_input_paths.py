"""Time the two ways the first layer can read a training batch's inputs, on UD English EWT.

``rnn.forward`` and ``rnn.backward`` take a batch's inputs either per token (``ids``, (T, B, K))
or per distinct word (a ``WordTypes``: each distinct row of ``ids`` once, and which row each token
is). Tagging uses the second, since text repeats its words. This script asks whether training
could use it too: for the first 3,000 sentences of EWT train, batches of 32 after word dropout,
it times ``rnn.loss_and_grads`` both ways (the per-word way including ``np.unique`` to find the
distinct rows), for the tutorial RNN (word one-hot, H=128) and the recipe's shape (form
features, H=128, bidirectional, 2 layers), and checks that the losses agree.

    OPENBLAS_NUM_THREADS=1 python scripts/time_input_paths.py
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ewt_file  # noqa: E402  (also puts the repo on sys.path)

from rnncli import rnn  # noqa: E402
from rnncli.config import TrainConfig  # noqa: E402
from rnncli.corpus import read_corpus  # noqa: E402
from rnncli.train import Run as _Run, length_batches, word_dropout  # noqa: E402

CONFIGS = {"tutorial RNN": TrainConfig(hidden=128, batch_size=32),
           "recipe's shape": TrainConfig(hidden=128, features="form", bidirectional=True, layers=2, batch_size=32,
                                         word_dropout=1.0)}


def by_word(ids: np.ndarray) -> rnn.WordTypes:
    """The batch's distinct input rows and which of them each token is."""
    T, B, K = ids.shape
    if K == 1:
        distinct, inverse = np.unique(ids.ravel(), return_inverse=True)
        distinct = distinct[:, None]
    else:
        distinct, inverse = np.unique(ids.reshape(-1, K), axis=0, return_inverse=True)
    return rnn.WordTypes(inverse.reshape(T, B), distinct)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """No options: the command line gives --help."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    return parser.parse_args(argv)


def main() -> None:
    parse_args()
    sentences = read_corpus(ewt_file("train"))[:3000]
    for name, config in CONFIGS.items():
        run = _Run(sentences, None, config, lambda p: None, None)
        rng = np.random.default_rng(0)
        batches = []
        for which in length_batches(run.data.lengths, config.batch_size, rng):
            ids, lengths, gold, _ = run.data.batch(which)
            word_dropout(ids, run.drop_slots, run.keep_prob, rng)
            batches.append((ids, lengths, gold))
        seconds = {"per token": [], "per word": []}
        for _ in range(3):
            token = word = 0.0
            for ids, lengths, gold in batches:
                started = time.perf_counter()
                a, _ = rnn.loss_and_grads(run.params, run.shape, ids, lengths, gold)
                middle = time.perf_counter()
                b, _ = rnn.loss_and_grads(run.params, run.shape, None, lengths, gold, types=by_word(ids))
                token, word = token + middle - started, word + time.perf_counter() - middle
                if a != b:
                    raise SystemExit(f"{name}: the two paths disagree ({a} and {b})")
            seconds["per token"].append(token)
            seconds["per word"].append(word)
        t, w = (float(np.median(v)) for v in seconds.values())
        print(f"{name}: per token {t:.3f} s, per word {w:.3f} s (np.unique included): per word / per token = {w / t:.2f}")


if __name__ == "__main__":
    main()
