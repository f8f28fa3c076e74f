"""What the scripts share: the bundled model's recipe, where UD English EWT is, and how it is read.

The taggers the benchmarks compare rnncli with are in peers.py. The scripts are run as files
(``python scripts/NAME.py``), so their own folder is on ``sys.path`` and ``import common``
works; importing this module also makes ``rnncli`` importable from the repository without
installing it.
"""

from __future__ import annotations

import json

import os
import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from rnncli.config import TrainConfig  # noqa: E402
from rnncli.corpus import Sentence, open_corpus, read_corpus, text_lines  # noqa: E402
from rnncli.errors import CorpusError  # noqa: E402

ATTRIBUTION = ("UD English EWT, (c) The Board of Trustees of the Leland Stanford Junior University, "
               "CC BY-SA 4.0")

# The bundled model's recipe (docs/benchmarks.md's accuracy ladder shows what each part adds).
ENGLISH = TrainConfig(hidden=128, epochs=35, lr=0.002, batch_size=32, seed=0, features="lexicon",
                      bidirectional=True, layers=2, dropout=0.4, average=0.999, word_dropout=1.0,
                      adversarial=1.0, recase=0.1, store="float16", store_min_count=2)
TUTORIAL = TrainConfig()  # the same as `rnncli train sample_corpora/tutorial.txt` with no options
# The tutorial's network at the recipe's size and learning schedule: word one-hot, one direction,
# one layer, no regularisation beyond the default word dropout, every word kept in float32. The
# first step of benchmark_accuracy.py's ladder and the small model of benchmark_speed.py, so that
# both tables mean the same network.
TUTORIAL_RNN = replace(ENGLISH, features="word", bidirectional=False, layers=1, dropout=0.0, average=0.0,
                       word_dropout=TUTORIAL.word_dropout, adversarial=0.0, recase=0.0,
                       store=TUTORIAL.store, store_min_count=TUTORIAL.store_min_count)
AS_TRAINED = {"store": TUTORIAL.store, "store_min_count": TUTORIAL.store_min_count}  # the file keeps everything

# -- UD English EWT ---------------------------------------------------------------------------
# The one definition of where the treebank is; tests/conftest.py imports it too.

EWT_VARIABLE = "RNNCLI_EWT_DIR"
EWT_FILES = ("en_ewt-ud-train.conllu", "en_ewt-ud-dev.conllu")


def ewt_dir() -> Path:
    """The folder of UD English EWT: $RNNCLI_EWT_DIR, else ../shared/data/en_ewt beside the repository."""
    return Path(os.environ.get(EWT_VARIABLE) or ROOT.parent / "shared" / "data" / "en_ewt")


def ewt_file(split: str) -> Path:
    """The CoNLL-U file of one split: 'train', 'dev' or 'test'."""
    return ewt_dir() / f"en_ewt-ud-{split}.conllu"


def read_ewt(tag_column: str = "upos") -> tuple[list[Sentence], list[Sentence]]:
    """(train, dev) sentences of UD English EWT; exits with a hint when the files are missing."""
    try:
        return read_corpus(ewt_file("train"), tag_column=tag_column), read_corpus(ewt_file("dev"), tag_column=tag_column)
    except CorpusError as e:
        sys.exit(f"{e}\n(set ${EWT_VARIABLE} to the folder that holds UD English EWT)")


def read_texts(path: str | os.PathLike) -> list[tuple[str, Sentence]]:
    """(raw text, sentence) for every sentence of a CoNLL-U file that has a ``# text =`` comment.

    The sentences are rnncli's own reading of the file (``read_corpus``: FORM and UPOS, without
    multiword-token ranges and empty nodes); the text is the last ``# text =`` comment between
    the previous sentence and this one's first word, stripped of surrounding whitespace.
    """
    sentences = read_corpus(path, "conllu")
    with open_corpus(path) as f:
        texts = [(n, line.partition("=")[2].strip()) for n, line in text_lines(path, f)
                 if line.startswith("# text =")]
    paired, k, text = [], 0, None
    for sentence in sentences:
        while k < len(texts) and texts[k][0] < sentence.line:
            text = texts[k][1]
            k += 1
        if text is not None:
            paired.append((text, sentence))
        text = None
    return paired


def log(message: str) -> None:
    """Progress, on stderr: the table goes to stdout."""
    print(message, file=sys.stderr, flush=True)


def finish(quick: bool, json_path: str | None, header: dict, rows: list) -> None:
    """The end every benchmark shares: the quick run's warning after the table, and the JSON."""
    if quick:
        print("\n**QUICK run: these numbers are not the benchmark's.**")
    if json_path:
        with open(json_path, "w", encoding="utf-8") as f:
            json.dump({**header, "rows": rows}, f, indent=2, ensure_ascii=False)
        log(f"wrote {json_path}")


def unknown_words(sentences, dev) -> tuple[set[str], int, int]:
    """The training sentences' word forms, dev's tokens, and how many of those are unknown
    words (forms never in the training sentences)."""
    train_forms = {w for s in sentences for w in s.words}
    return train_forms, sum(len(s.words) for s in dev), sum(w not in train_forms for s in dev for w in s.words)


def scores_in_every_case(tag, dev, train_forms: set[str]) -> dict:
    """``score`` of ``tag`` (sentences of words -> their tags) on dev as written ("written"), all
    lower-case ("lower") and with Every Word Capitalised ("title"): the same gold tags, and
    unknown words counted as written (forms not in ``train_forms``)."""
    from rnncli.metrics import score
    from rnncli.vocab import CASES, recased

    words, gold = [s.words for s in dev], [s.tags for s in dev]
    given = {"written": words, **{case: recased(words, case) for case in CASES}}
    return {case: score(gold, tag(ws), words, train_forms.__contains__) for case, ws in given.items()}
