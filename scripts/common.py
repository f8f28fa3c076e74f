"""What the scripts share of the data: UD English EWT read, its raw texts, scoring in every case.

The recipes and where EWT is are in the package (rnncli/recipes.py), the taggers the benchmarks
compare rnncli with in peers.py, timing and reporting in harness.py. The scripts are run as files
(``python scripts/NAME.py``), so their own folder is on ``sys.path`` and ``import common``
works; importing this module also makes ``rnncli`` importable from the repository without
installing it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from rnncli.corpus import Sentence, open_corpus, read_corpus, text_lines  # noqa: E402
from rnncli.errors import CorpusError  # noqa: E402
from rnncli.recipes import EWT_VARIABLE, ewt_file  # noqa: E402


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
