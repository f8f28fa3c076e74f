"""Benchmark: the frontier of accuracy against tagging speed, for models of the bundled recipe's kind.

A small grid of models that share the bundled model's recipe (``ENGLISH`` in rnncli/recipes.py: the
English lexicon's features, bidirectional, recased sentences, dropout, weight averaging, word
dropout, adversarial training, its seed) and differ only in depth and width: 1 or 2 layers of 64
or 128 units. The model of the recipe's depth and width is the recipe itself; its row is the
bundled model file rnncli/models/default.npz, scored and timed here but not retrained
(``--train-recipe`` trains it like the others). For each model:

- dev accuracy and accuracy on unknown words (dev tokens whose exact form is not in train), as
  scripts/benchmark_accuracy.py scores them, of the stored model file;
- tagging speed end to end: ``python -m rnncli tag --pretokenized --model M -i IN`` as a
  subprocess, on the dev words (one sentence a line) repeated to at least 1,000,000 tokens, as
  section 2 of scripts/benchmark_speed.py builds that input and times it (scripts/speed/) (start-up and model
  loading included, one uncounted warm-up run per model first, every output checked to have one
  line per input line), in one process and with ``--jobs N``; the median of ``--repeats`` runs,
  the models taking turns within each repeat. OPENBLAS_NUM_THREADS, OMP_NUM_THREADS and
  MKL_NUM_THREADS are removed from the children's environment, so that ``rnncli tag`` chooses its
  own (one BLAS thread per process);
- floating-point operations per token from the model's shape (``flops_per_token`` in
  scripts/speed/shared.py), for each chain (layer and direction): 2*H*inputs for the input product of
  every layer above the first (the first layer's input is a sum of looked-up columns, no
  product) and 2*H*H for the recurrence; plus 2*n_out*n_tags for the output layer. This is the
  arithmetic the speed follows.

FLOPs and speeds are also shown as a ratio to the recipe's row.

Each trained model is stored as the bundled one is (scripts/build_default_model.py): the epoch
with the best dev accuracy, the word columns of words seen once in train pruned, float16 arrays.
Trained models are kept in ``--models DIR`` (named by layers, units, epochs and seed), so that a
second run only measures; a file there whose recorded recipe differs is trained again.

    OPENBLAS_NUM_THREADS=1 python scripts/benchmark_frontier.py --models DIR          # about 30 minutes
    python scripts/benchmark_frontier.py --quick                                      # a smoke test
    python scripts/benchmark_frontier.py --models DIR --epochs 10 --json frontier.json

Training runs in this process with NumPy's BLAS threads as the environment says (set
OPENBLAS_NUM_THREADS=1 for one core, as ``rnncli train`` does by default). The data is read
from $RNNCLI_EWT_DIR, else ../shared/data/en_ewt beside the repository. Progress goes to stderr,
the table to stdout.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from common import ROOT, read_ewt, unknown_words  # first: it also puts the repository on sys.path
from harness import CHILD_ENV, blas_environment, facts, finish, load_average, log, markdown_table, rate, take_turns
from speed.shared import Bench, Sizes, flops_per_token, tag_file

from rnncli.config import BLAS_VARIABLES, TrainConfig
from rnncli.metrics import score
from rnncli.recipes import ATTRIBUTION, ENGLISH
from rnncli.loader import Tagger, default_model_path
from rnncli.train import train

GRID = ((1, 64), (1, 128), (2, 64), (2, 128))  # (layers, hidden units)
TAG_TOKENS, QUICK_TAG_TOKENS = 1_000_000, 20_000
QUICK_SENTENCES, QUICK_EPOCHS = 1000, 1
DEFAULT_MODELS = ROOT / "build" / "frontier-models"
# rnncli tag picks its own BLAS threads (one per process) when none of these is set.
TAG_ENV = {k: v for k, v in CHILD_ENV.items() if k not in BLAS_VARIABLES}


def grid(epochs: int, seed: int) -> list[tuple[str, TrainConfig]]:
    """(name, config) of each model, the recipe's regularisation throughout."""
    return [(f"{layers} layer{'s' * (layers > 1)}, H={hidden}",
             replace(ENGLISH, layers=layers, hidden=hidden, epochs=epochs, seed=seed)) for layers, hidden in GRID]


def model_file(folder: Path, config: TrainConfig, quick: bool) -> Path:
    return folder / (f"L{config.layers}-H{config.hidden}-e{config.epochs}-s{config.seed}"
                     f"{'-quick' if quick else ''}.npz")


def recorded_config(path: Path) -> dict | None:
    try:
        with np.load(path, allow_pickle=False) as f:
            return json.loads(f["metadata"].tobytes())["training"]["hyper_parameters"]
    except (OSError, KeyError, ValueError):
        return None


def trained_model(path: Path, config: TrainConfig, sentences, dev) -> dict:
    """The model file for ``config``: from the cache when its record says the same recipe, else trained."""
    if path.exists() and recorded_config(path) == asdict(config):
        log(f"  cached: {path}")
        return {"source": "cache"}
    started = time.perf_counter()

    def progress(p) -> None:
        if p.kind == "epoch":
            log(f"  epoch {p.epoch + 1}/{p.epochs}  loss {p.loss:.4f}  dev {100 * p.dev_accuracy:.2f}%"
                f"{'  (best)' if p.best else ''}  {p.seconds:.1f}s")

    tagger = train(sentences, dev, config, progress)
    minutes = (time.perf_counter() - started) / 60
    tagger.record.corpus = ["UD English EWT train (benchmark_frontier.py)"]
    tagger.record.attribution = ATTRIBUTION
    tagger.record.training.minutes = round(minutes, 2)
    path.parent.mkdir(parents=True, exist_ok=True)
    tagger.save(path)  # as the recipe stores it (float16, without the words seen once)
    return {"source": "trained"}


def evaluate(path: Path, dev, train_forms: set[str]) -> dict:
    """Dev accuracy and accuracy on unknown words of a stored model, and its shape and record."""
    tagger = Tagger.load(path)
    words = [s.words for s in dev]
    report = score([s.tags for s in dev], tagger.tag(words), words, train_forms.__contains__)
    training = tagger.record.training
    return {"accuracy": report["accuracy"], "unknown_accuracy": report["unknown_accuracy"],
            "parameters": tagger.shape.n_params(), "flops": flops_per_token(tagger.shape),
            "shape": tagger.shape.to_dict(), "best_epoch": training.best_epoch,
            "minutes": sum(e["seconds"] for e in training.history) / 60 if training.history else None,
            "recorded_dev_accuracy": training.dev_accuracy}


def pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.2f}%"


def speed(row: dict, jobs: int) -> float:
    """Median tokens per second of a model's tagging runs with ``jobs`` processes."""
    return row["tokens"] / statistics.median(row["seconds"][jobs])


def table(rows: list[dict], jobs: int) -> str:
    reference = next((r for r in rows if r["recipe"]), rows[-1])
    head = ["Model", "FLOPs/token", "Parameters", "Dev accuracy", "Unknown words", "Tagging, one process",
            *([f"Tagging, --jobs {jobs}"] if jobs > 1 else []), "Training (min)"]
    lines = []
    for r in rows:
        name = r["name"] + (" = the recipe (bundled model)" if r["recipe"] and r["source"] == "bundled" else
                            " = the recipe" if r["recipe"] else "")
        flops = f"{r['flops']:,} ({r['flops'] / reference['flops']:.2f}x)"
        speeds = [f"{speed(r, j):,.0f} tokens/s ({speed(r, j) / speed(reference, j):.2f}x)" for j in r["seconds"]]
        minutes = "–" if r["minutes"] is None else f"{r['minutes']:.1f}" + ("*" if r["source"] == "bundled" else "")
        lines.append([name, flops, f"{r['parameters']:,}", pct(r["accuracy"]), pct(r["unknown_accuracy"]), *speeds,
                      minutes])
    return markdown_table(head, "l" + "r" * (len(head) - 1), lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help=f"a smoke test: the first {QUICK_SENTENCES} train sentences, {QUICK_EPOCHS} epoch, "
                             f"a {QUICK_TAG_TOKENS:,}-token tagging input, 1 repeat, the recipe trained too")
    parser.add_argument("--models", type=Path, metavar="DIR", default=None,
                        help=f"where trained models are kept and found again (default {DEFAULT_MODELS.relative_to(ROOT)}"
                             "/ in the repository)")
    parser.add_argument("--epochs", type=int, metavar="N",
                        help=f"epochs of every trained model (default the recipe's {ENGLISH.epochs}, "
                             f"{QUICK_EPOCHS} with --quick)")
    parser.add_argument("--seed", type=int, default=ENGLISH.seed, help=f"seed of every model (default {ENGLISH.seed})")
    parser.add_argument("--train-recipe", action="store_true",
                        help="train the recipe's model too instead of using the bundled one")
    parser.add_argument("--repeats", type=int, metavar="N", help="tagging runs per timing, the median reported "
                                                                 "(default 3, 1 with --quick)")
    parser.add_argument("--jobs", type=int, default=2, metavar="N",
                        help="also time `rnncli tag --jobs N` (default 2; 1: one process only)")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE")
    args = parser.parse_args(argv)
    args.epochs = args.epochs or (QUICK_EPOCHS if args.quick else ENGLISH.epochs)
    args.repeats = args.repeats or (1 if args.quick else 3)
    args.models = args.models or DEFAULT_MODELS
    if min(args.epochs, args.repeats, args.jobs) < 1:
        parser.error("--epochs, --repeats and --jobs need a number of at least 1")
    return args


def main() -> None:
    args = parse_args()
    sentences, dev = read_ewt()
    if args.quick:
        sentences = sentences[:QUICK_SENTENCES]
    train_forms, dev_tokens, unknown = unknown_words(sentences, dev)
    bundled = default_model_path()
    recipe = replace(ENGLISH, seed=args.seed)
    bundled_ok = (not args.quick and not args.train_recipe and bundled.exists()
                  and recorded_config(bundled) == asdict(recipe))
    if not args.quick and not args.train_recipe and not bundled_ok:
        log(f"note: {bundled} is missing or not the recipe with seed {args.seed}: training the recipe too")
    blas = blas_environment(BLAS_VARIABLES)
    header = {**facts(), "blas_environment": blas,
              "quick": args.quick, "epochs": args.epochs, "seed": args.seed, "repeats": args.repeats,
              "jobs": args.jobs, "train_sentences": len(sentences),
              "train_tokens": sum(len(s.words) for s in sentences), "dev_sentences": len(dev),
              "dev_tokens": dev_tokens, "unknown_dev_tokens": unknown}
    quick = (f"**QUICK run: first {QUICK_SENTENCES} train sentences, {args.epochs} epoch{'s' * (args.epochs > 1)}, "
             f"{QUICK_TAG_TOKENS:,}-token input. For trying the script only; not for the docs.**\n\n"
             if args.quick else "")

    rows = []
    for name, config in grid(args.epochs, args.seed):
        is_recipe = (config.layers, config.hidden) == (ENGLISH.layers, ENGLISH.hidden)
        log(f"[{name}] ...")
        if is_recipe and bundled_ok:
            path, found = bundled, {"source": "bundled"}
        else:
            path = model_file(args.models, config, args.quick)
            found = trained_model(path, config, sentences, dev)
        row = {"name": name, "recipe": is_recipe, "path": str(path), "config": asdict(config), **found,
               **evaluate(path, dev, train_forms)}
        log(f"[{name}] dev {pct(row['accuracy'])}, unknown words {pct(row['unknown_accuracy'])}, "
            f"{row['flops']:,} FLOPs/token")
        rows.append(row)

    sizes = Sizes(None, QUICK_TAG_TOKENS if args.quick else TAG_TOKENS, 0, 0, 0, args.repeats, 0)
    job_counts = sorted({1, args.jobs})
    with tempfile.TemporaryDirectory(prefix="rnncli-frontier-") as tmp:
        bench = Bench(sizes, Path(tmp), sentences, dev, [], threads=1)
        path, tokens = bench.tag_input(True)
        out = Path(tmp) / "tagged.txt"
        for row in rows:
            bench.warm_up(Path(row["path"]))
        runs = {(n, jobs): lambda row=row, jobs=jobs: tag_file(Path(row["path"]), path, True, out, jobs, env=TAG_ENV)
                for n, row in enumerate(rows) for jobs in job_counts}
        times = take_turns(runs, args.repeats, lambda r, key, seconds: log(
            f"  run {r + 1}: {rows[key[0]]['name']}, jobs {key[1]}: {rate(tokens, seconds)}"))
        for n, row in enumerate(rows):
            row["tokens"], row["seconds"] = tokens, {jobs: times[(n, jobs)] for jobs in job_counts}
    header["load_average_at_end"] = load_average()

    bundled_row = next((r for r in rows if r["source"] == "bundled"), None)
    epochs = f"{args.epochs} epoch{'s' * (args.epochs > 1)}"
    trained_note = (f"{epochs} (the recipe's)" if args.epochs == ENGLISH.epochs
                    else f"**{epochs}, not the recipe's {ENGLISH.epochs}**")
    print(f"{quick}- Command: `{header['command']}`\n"
          f"- Date: {header['date']}; {header['cpu']}, {header['cpus']} CPUs, load average "
          f"{' '.join(map(str, header['load_average']))} at start, "
          f"{' '.join(map(str, header['load_average_at_end']))} at end\n"
          f"- Python {header['python']}; numpy {header['numpy']}; BLAS variables for training: {blas}; "
          f"`rnncli tag` with none set (one BLAS thread per process)\n"
          f"- Data: UD English EWT, UPOS; train {len(sentences):,} sentences ({header['train_tokens']:,} tokens); "
          f"dev {len(dev):,} sentences ({dev_tokens:,} tokens), of which {unknown:,} "
          f"({100 * unknown / dev_tokens:.2f}%) are unknown words; tagging input: dev's words repeated to "
          f"{tokens:,} tokens, `python -m rnncli tag --pretokenized`, end to end, median of "
          f"{args.repeats} run{'s' * (args.repeats > 1)}\n")
    print(table(rows, args.jobs))
    recipe_words = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in (
        ("features", ENGLISH.features), ("dropout", ENGLISH.dropout), ("average", ENGLISH.average),
        ("word_dropout", ENGLISH.word_dropout), ("adversarial", ENGLISH.adversarial)))
    print(f"\nEvery model: the recipe ({recipe_words}, bidirectional, batch {ENGLISH.batch_size}, "
          f"Adam lr {ENGLISH.lr}), one seed ({args.seed}); trained ones {trained_note}, the best dev epoch kept, "
          "words seen once in train pruned, float16 file, as the bundled model is built. FLOPs/token: the "
          "forward pass's products (2·H·inputs per chain above the first layer, 2·H·H per chain for the "
          "recurrence, 2·n_out·n_tags for the output), beside the recipe's. Training (min): the sum of "
          "the epochs' seconds in the model's record (the training loop with its per-epoch dev scoring). "
          "Beside FLOPs and speeds: the ratio to the recipe's row.")
    cached = [r["name"] for r in rows if r["source"] == "cache"]
    if cached:
        print(f"Found in {args.models} (trained by an earlier run with the same recipe, epochs and seed, "
              f"not retrained): {'; '.join(cached)}.")
    if bundled_row:
        print(f"The recipe's row is the bundled model file ({bundled.relative_to(ROOT)}), not retrained here: "
              f"its record says {ENGLISH.epochs} epochs, seed {ENGLISH.seed}, best epoch {bundled_row['best_epoch']}, "
              f"dev {pct(bundled_row['recorded_dev_accuracy'])} before pruning and float16; the figures above are "
              f"its stored file's. *Its training minutes are from when it was built, not from this run.")
    print(f"Data: {ATTRIBUTION}.")
    finish(args.quick, args.json, header, rows)


if __name__ == "__main__":
    main()
