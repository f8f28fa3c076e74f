"""Benchmark: part-of-speech accuracy of rnncli against simple baselines on UD English EWT.

Every tagger is trained in the same run, on the same machine and data: UD English EWT train
(en_ewt-ud-train.conllu), scored on dev (en_ewt-ud-dev.conllu), UPOS tags. The result is a
Markdown table, ready for the README, with one row per tagger:

- dev accuracy;
- accuracy on unknown words: dev tokens whose exact form never occurs in the training sentences
  (the share of such tokens is printed above the table);
- dev accuracy with every word lower-cased (chat, queries) and with Every Word Capitalised
  (headlines): the same tokens and gold tags, recased as ``rnncli eval --case`` does;
- training time: wall clock of training only (for rnncli this includes the dev scoring after each
  epoch that picks the best epoch, as ``train()`` does);
- for rnncli rows, the number of parameters.

Rows: a most-frequent-tag baseline; NLTK's averaged perceptron (5 iterations, when nltk is
installed); the rnncli ablation ladder, where each step adds one idea to the previous one up to
exactly the bundled model's recipe (``ENGLISH`` in rnncli/recipes.py), and a character RNN
added to the step before the recipe's last; and the bundled float16 model file, if it has been built.

    python scripts/benchmark_accuracy.py                  # the full benchmark (about 30 minutes)
    python scripts/benchmark_accuracy.py --quick          # a try: 2000 train sentences, 2 epochs
    python scripts/benchmark_accuracy.py --only baseline,nltk --json results.json

The data is read from $RNNCLI_EWT_DIR, else ../shared/data/en_ewt beside the repository.
Progress goes to stderr, the table to stdout.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import time
from collections import Counter, defaultdict
from dataclasses import asdict, replace
from datetime import datetime

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import read_ewt, scores_in_every_case, unknown_words  # noqa: E402  (first: it puts the repo on sys.path)
import peers  # noqa: E402
from harness import blas_environment, finish, log, markdown_table  # noqa: E402

from rnncli.config import BLAS_VARIABLES, TrainConfig  # noqa: E402
from rnncli.corpus import Sentence  # noqa: E402
from rnncli.recipes import AS_TRAINED, ATTRIBUTION, ENGLISH, TUTORIAL_RNN  # noqa: E402
from rnncli.loader import Tagger, default_model_path  # noqa: E402
from rnncli.train import train  # noqa: E402

QUICK_SENTENCES, QUICK_EPOCHS = 2000, 2
NLTK_ITERATIONS = 5
CHAR_HIDDEN = 64


def ladder(epochs: int, seed: int) -> list[tuple[str, str, TrainConfig]]:
    """(key, row name, config): each step changes the previous one only where its name says."""
    # The ladder scores networks as trained, every word kept; the bundled row, the file as stored.
    recipe = replace(ENGLISH, epochs=epochs, seed=seed, **AS_TRAINED)
    tutorial = replace(TUTORIAL_RNN, epochs=epochs, seed=seed)
    form = replace(tutorial, features="form")
    bidirectional = replace(form, bidirectional=ENGLISH.bidirectional)
    regularised = replace(bidirectional, dropout=ENGLISH.dropout, average=ENGLISH.average,
                          word_dropout=ENGLISH.word_dropout)
    stronger = (f", word dropout {tutorial.word_dropout} → {ENGLISH.word_dropout}"
                if ENGLISH.word_dropout != tutorial.word_dropout else "")
    layered = replace(regularised, layers=ENGLISH.layers)
    adversarial = replace(layered, adversarial=ENGLISH.adversarial)
    lexicon = replace(adversarial, features=ENGLISH.features)
    assert replace(lexicon, recase=ENGLISH.recase) == recipe, "the ladder must end at the recipe"
    # A one-layer recipe has no layer step: the ladder goes from the regularised network on.
    layer_step = [("layers", f"rnncli: + layer {ENGLISH.layers}", layered)] if ENGLISH.layers > 1 else []
    characters_base = f"layer-{ENGLISH.layers}" if ENGLISH.layers > 1 else "dropout"
    return [
        ("tutorial", f"rnncli: tutorial RNN (word one-hot, 1 direction, 1 layer, H={ENGLISH.hidden})", tutorial),
        ("form", "rnncli: + form features", form),
        ("bidirectional", "rnncli: + bidirectional", bidirectional),
        ("regularised", f"rnncli: + dropout {ENGLISH.dropout}, weight averaging {ENGLISH.average}{stronger}",
         regularised),
        *layer_step,
        ("adversarial", f"rnncli: + adversarial training, size {ENGLISH.adversarial:g}", adversarial),
        ("lexicon", "rnncli: + English lexicon (word clusters, frequencies, capitalisation, word classes)", lexicon),
        ("recipe", f"rnncli: + recased sentences, {ENGLISH.recase:g} lower-cased and {ENGLISH.recase:g} capitalised "
                   f"= the default model's recipe", recipe),
        ("characters", f"rnncli: {characters_base} row + character RNN (C={CHAR_HIDDEN}; not in the default model)",
         replace(layered, char_hidden=CHAR_HIDDEN)),
    ]


# -- one function per kind of tagger: (train, dev, config) -> {"predicted": ..., "train_seconds": ...}
# or {"note": why it did not run}.

def most_frequent_tag(sentences: list[Sentence], dev: list[Sentence], _config) -> dict:
    """Each word's most frequent train tag (ties: the tag seen first); an unseen word gets the
    most frequent tag among the words seen only once in train."""
    started = time.perf_counter()
    counts: dict[str, Counter] = defaultdict(Counter)
    for s in sentences:
        for word, tag in zip(s.words, s.tags):
            counts[word][tag] += 1
    best = {word: c.most_common(1)[0][0] for word, c in counts.items()}
    unseen = Counter(best[w] for w, c in counts.items() if c.total() == 1).most_common(1)[0][0]
    seconds = time.perf_counter() - started
    return {"tag": lambda sents: [[best.get(w, unseen) for w in s] for s in sents], "train_seconds": seconds,
            "unseen_tag": unseen}


def nltk_perceptron(sentences: list[Sentence], dev: list[Sentence], _config) -> dict:
    try:
        tagger, seconds = peers.nltk_perceptron(sentences, NLTK_ITERATIONS)
    except ImportError:
        return {"note": "skipped: nltk is not installed (`pip install nltk`)"}
    return {"tag": lambda sents: [[t for _, t in tagger.tag(s)] for s in sents], "train_seconds": seconds}


def rnncli(sentences: list[Sentence], dev: list[Sentence], config: TrainConfig) -> dict:
    def progress(p) -> None:
        if p.kind == "epoch":
            log(f"  epoch {p.epoch + 1}/{p.epochs}  loss {p.loss:.4f}  dev {100 * p.dev_accuracy:.2f}%"
                f"{'  (best)' if p.best else ''}  {p.seconds:.1f}s")

    started = time.perf_counter()
    tagger = train(sentences, dev, config, progress)
    seconds = time.perf_counter() - started
    return {"tag": tagger.tag, "train_seconds": seconds,
            "parameters": tagger.shape.n_params(), "best_epoch": tagger.record.training.best_epoch,
            "config": asdict(config)}


def bundled_model(_sentences, dev: list[Sentence], _config) -> dict:
    path = default_model_path()
    if not path.exists():
        return {"note": f"missing: {path.name} not built (python scripts/build_default_model.py)"}
    tagger = Tagger.load(path)
    return {"tag": tagger.tag, "train_seconds": None, "parameters": tagger.shape.n_params()}


def all_rows(epochs: int, seed: int) -> list[tuple[str, str, object, TrainConfig | None]]:
    """(key, row name, function, config) in table order."""
    return [("baseline", "most frequent tag (baseline)", most_frequent_tag, None),
            ("nltk", f"NLTK averaged perceptron, {NLTK_ITERATIONS} iterations", nltk_perceptron, None),
            *[(key, name, rnncli, config) for key, name, config in ladder(epochs, seed)],
            ("bundled", "bundled model (float16 file)", bundled_model, None)]


# -- running and reporting ------------------------------------------------------------------

def run_row(key: str, name: str, function, config, sentences, dev, train_forms: set[str]) -> dict:
    log(f"[{key}] {name} ...")
    result = {"key": key, "name": name, **function(sentences, dev, config)}
    tag = result.pop("tag", None)
    if tag is None:
        log(f"[{key}] {result['note']}")
        return result
    reports = scores_in_every_case(tag, dev, train_forms)
    result.update(accuracy=reports["written"]["accuracy"], unknown_accuracy=reports["written"]["unknown_accuracy"],
                  lower_accuracy=reports["lower"]["accuracy"], title_accuracy=reports["title"]["accuracy"])
    trained = "" if result["train_seconds"] is None else f", trained in {result['train_seconds']:.1f}s"
    best = f", best epoch {result['best_epoch']}/{config.epochs}" if "best_epoch" in result else ""
    log(f"[{key}] dev {pct(result['accuracy'])}, unknown words {pct(result['unknown_accuracy'])}, lower-case "
        f"{pct(result['lower_accuracy'])}, capitalised {pct(result['title_accuracy'])}{trained}{best}")
    return result


def pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.2f}%"


def table(results: list[dict]) -> str:
    lines = []
    for r in results:
        if "note" in r:
            lines.append([r["name"], r["note"], "", "", "", "", ""])
            continue
        seconds = "–" if r["train_seconds"] is None else f"{r['train_seconds']:.1f}"
        params = f"{r['parameters']:,}" if r.get("parameters") else "–"
        lines.append([r["name"], pct(r["accuracy"]), pct(r["unknown_accuracy"]), pct(r["lower_accuracy"]),
                      pct(r["title_accuracy"]), seconds, params])
    return markdown_table(["Tagger", "Dev accuracy", "Unknown words", "All lower-case", "Every Word Capitalised",
                           "Training time (s)", "Parameters"], "lrrrrrr", lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line, with ``only`` as a set of row keys and ``epochs`` filled in."""
    keys = [key for key, *_ in all_rows(ENGLISH.epochs, ENGLISH.seed)]
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help=f"a try: the first {QUICK_SENTENCES} train sentences, {QUICK_EPOCHS} epochs")
    parser.add_argument("--only", metavar="NAME[,NAME]", help=f"run only these rows: {', '.join(keys)}")
    parser.add_argument("--epochs", type=int, help=f"epochs of every rnncli step (default {ENGLISH.epochs}, "
                                                   f"{QUICK_EPOCHS} with --quick)")
    parser.add_argument("--seed", type=int, default=ENGLISH.seed,
                        help=f"seed of every rnncli step (default {ENGLISH.seed}, the bundled model's)")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE")
    args = parser.parse_args(argv)
    only = set(args.only.split(",")) if args.only else set(keys)
    if only - set(keys):
        parser.error(f"unknown row(s) {', '.join(sorted(only - set(keys)))}; choose from {', '.join(keys)}")
    args.only, args.epochs = only, args.epochs or (QUICK_EPOCHS if args.quick else ENGLISH.epochs)
    return args


def main() -> None:
    args = parse_args()
    only, epochs = args.only, args.epochs
    sentences, dev = read_ewt()
    if args.quick:
        sentences = sentences[:QUICK_SENTENCES]
    train_forms, dev_tokens, unknown = unknown_words(sentences, dev)

    blas = blas_environment(BLAS_VARIABLES, "default")
    header = {
        "command": shlex.join(["python", *sys.argv]),
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
        "numpy": np.__version__, "blas_threads": blas, "quick": args.quick, "epochs": epochs, "seed": args.seed,
        "train_sentences": len(sentences), "train_tokens": sum(len(s.words) for s in sentences),
        "dev_sentences": len(dev), "dev_tokens": dev_tokens, "unknown_dev_tokens": unknown,
    }
    quick = (f"**QUICK run: first {QUICK_SENTENCES} train sentences, {epochs} epochs. "
             "For trying the script only; not for the README.**\n\n" if args.quick else "")
    log(quick.strip().replace("*", "") or f"full benchmark, {epochs} epochs per rnncli step")

    results = [run_row(key, name, function, config, sentences, dev, train_forms)
               for key, name, function, config in all_rows(epochs, args.seed) if key in only]

    print(f"{quick}- Command: `{header['command']}`\n"
          f"- Date: {header['date']}; machine: {header['machine']}, {header['cpus']} CPUs; "
          f"numpy {header['numpy']}; BLAS threads: {blas}\n"
          f"- Data: UD English EWT, UPOS; train {len(sentences):,} sentences ({header['train_tokens']:,} tokens), "
          f"dev {len(dev):,} sentences ({dev_tokens:,} tokens), of which {unknown:,} ({100 * unknown / dev_tokens:.2f}%) "
          f"are unknown words (exact form never in train)\n")
    print(table(results))
    print(f"\nrnncli rows: {epochs} epochs each, the one with the best dev accuracy kept; seed {args.seed}, "
          f"batch size {ENGLISH.batch_size}, Adam (lr {ENGLISH.lr}). Training time includes rnncli's per-epoch "
          "dev scoring. Baseline: each word's most frequent train tag; an unseen word gets the most frequent "
          "tag among words seen once in train."
          f"\nData: {ATTRIBUTION}.")
    finish(args.quick, args.json, header, results)


if __name__ == "__main__":
    main()
