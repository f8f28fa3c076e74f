"""Build the model bundled with rnncli, or the tutorial-style sample model.

    python scripts/build_default_model.py            # UD English EWT -> rnncli/models/default.npz
    python scripts/build_default_model.py --sample   # sample_corpora/tutorial.txt -> rnncli/models/tutorial.npz

The English model reads UD English EWT from $RNNCLI_EWT_DIR, else ../shared/data/en_ewt
beside the repository, and its English lexicon from spacy-lookups-data (pip install
".[lexicon]"); it trains with a fixed seed, stores the file as the recipe says (float16, without
the entries of words seen once) and scores the stored file on dev, as written, all lower-case and
with Every Word Capitalised. The tutorial model (``--model tutorial``) is the tutorial's network
as it is, trained in about a second and stored as float16 too, so that the package carries it
in tens of kilobytes.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, read_ewt, scores_in_every_case  # noqa: E402  (also puts the repo on sys.path)
from harness import log  # noqa: E402

from rnncli.corpus import read_corpus  # noqa: E402
from rnncli.recipes import ATTRIBUTION, ENGLISH, TUTORIAL  # noqa: E402
from rnncli.tagger import Tagger  # noqa: E402
from rnncli.train import train  # noqa: E402


def progress(p) -> None:
    if p.kind == "epoch":
        dev = "" if p.dev_accuracy is None else f"  dev {100 * p.dev_accuracy:.2f}%"
        log(f"epoch {p.epoch + 1}/{p.epochs}  loss {p.loss:.4f}{dev}  {p.seconds:.1f}s")


def build_english(out: Path, tag_column: str) -> None:
    sentences, dev = read_ewt(tag_column)
    started = time.perf_counter()
    tagger = train(sentences, dev, ENGLISH, progress)
    minutes = (time.perf_counter() - started) / 60
    tagger.record.corpus = ["UD English EWT train (en_ewt-ud-train.conllu)"]
    lexicon = tagger.vocab.lexicon
    tagger.record.attribution = ATTRIBUTION + (f"; English lexicon: {lexicon.source}" if lexicon else "")
    tagger.record.tag_column = tag_column
    tagger.record.training.minutes = round(minutes, 2)
    tagger.save(out)  # as the recipe says: float16, without the words seen once
    stored = Tagger.load(out)
    reports = scores_in_every_case(stored.tag, dev, {w for s in sentences for w in s.words})
    print(f"wrote {out} ({out.stat().st_size / 2**20:.1f} MiB) in {minutes:.1f} min; stored model on dev: "
          f"{100 * reports['written']['accuracy']:.2f}% {tag_column.upper()}, words not in train "
          f"{100 * reports['written']['unknown_accuracy']:.2f}%, all lower-case "
          f"{100 * reports['lower']['accuracy']:.2f}%, Every Word Capitalised {100 * reports['title']['accuracy']:.2f}%")


def build_sample(out: Path) -> None:
    corpus = ROOT / "sample_corpora" / "tutorial.txt"
    tagger = train(read_corpus(corpus), None, replace(TUTORIAL, store="float16"), progress)
    tagger.record.corpus = ["sample_corpora/tutorial.txt"]
    tagger.save(out)
    print(f"wrote {out}: {' '.join(f'{w}/{t}' for w, t in zip(['I', 'eat', 'apple'], tagger.tag([['I', 'eat', 'apple']])[0]))}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sample", action="store_true", help="build the tutorial-style model from the sample corpus")
    parser.add_argument("--tag-column", choices=["upos", "xpos"], default="upos")
    parser.add_argument("-o", "--output", type=Path, help="where to write the model")
    return parser.parse_args(argv)


def main() -> None:
    args = parse_args()
    if args.sample:
        build_sample(args.output or ROOT / "rnncli" / "models" / "tutorial.npz")
    else:
        build_english(args.output or ROOT / "rnncli" / "models" / "default.npz", args.tag_column)


if __name__ == "__main__":
    main()
