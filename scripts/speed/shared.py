"""What the sections of benchmark_speed.py share, and benchmark_frontier.py with them.

A row of the table and the sizes of a run; ``Bench``, which makes the tagging inputs and the
tutorial-size model once for every section; ``rnncli tag`` timed on a file with its output
checked; one epoch's seconds as rnncli's loop reports them; the two networks compared and how a
row names a network (``describe``); the floating-point operations a network does per token.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from harness import log, peak_rss, plural, run  # first: through common.py, the repository is on sys.path

from rnncli import recipes, rnn
from rnncli.config import TrainConfig
from rnncli.corpus import Sentence
from rnncli.tokenizer import line_tokens
from rnncli.train import train

# One epoch each of the two networks that benchmark_accuracy.py's ladder starts and ends with, over
# the training sentences as written: the recipe's recased copies (--recase) add a share of
# sentences to each epoch, which the peer would not train on.
TUTORIAL_RNN = replace(recipes.TUTORIAL_RNN, epochs=1)
RECIPE = replace(recipes.ENGLISH, epochs=1, recase=0.0)

STARTUP_SENTENCE = "I eat apple"
WARM_UP_SENTENCES = 64


@dataclass
class Row:
    section: str
    what: str
    ours: str = ""
    peer: str = ""
    theirs: str = ""
    ratio: float | None = None
    data: dict = field(default_factory=dict)  # the raw numbers, for --json


@dataclass
class Sizes:
    train_sentences: int | None  # None: all of EWT train
    tag_tokens: int
    nltk_iterations: int
    crf_iterations: int
    rich_crf_iterations: int
    repeats: int
    load_tokens: int


def tag_command(model: Path, path: Path, pretokenized: bool, jobs: int = 1) -> list[str]:
    return [sys.executable, "-m", "rnncli", "tag", *(["--pretokenized"] if pretokenized else []),
            *(["--jobs", str(jobs)] if jobs > 1 else []), "--model", str(model), "-i", str(path)]


def count_lines(path: Path) -> int:
    with open(path, "rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))


def check_tagged(path: Path, out: Path) -> None:
    # A tagger that skipped or merged lines would look fast; one output line per input line is the contract.
    if count_lines(out) != count_lines(path):
        raise RuntimeError(f"rnncli tag wrote {count_lines(out)} lines for {count_lines(path)} input lines")


def tag_file(model: Path, path: Path, pretokenized: bool, out: Path, jobs: int = 1, env: dict | None = None) -> float:
    seconds = run(tag_command(model, path, pretokenized, jobs), out, env)
    check_tagged(path, out)
    return seconds


def tag_file_peak(model: Path, path: Path, pretokenized: bool, out: Path) -> int:
    kib = peak_rss(tag_command(model, path, pretokenized), out)
    check_tagged(path, out)
    return kib


def epoch_seconds(sentences: list[Sentence], config: TrainConfig) -> float:
    """The seconds rnncli's loop reports for one epoch without dev data."""
    reported = []
    train(sentences, None, replace(config, epochs=1),
          lambda p: reported.append(p.seconds) if p.kind == "epoch" else None)
    return reported[0]


def flops_per_token(shape: rnn.Shape) -> int:
    """Floating-point operations the network does per token: each chain's recurrence W s_{t-1}
    (2 H^2), each upper layer's input product (2 H n_out), and the output layer (2 n_out n_tags).
    The first layer's U x_t is a lookup, once per distinct word: no products per token."""
    H = shape.n_hidden
    per_chain = [2 * H * H + (2 * H * shape.n_out if layer else 0) for layer, _, _ in shape.chains()]
    return sum(per_chain) + 2 * shape.n_out * shape.n_tags


@dataclass
class Bench:
    sizes: Sizes
    tmp: Path
    train: list[Sentence]
    dev: list[Sentence]
    dev_texts: list[str]
    threads: int
    jobs: int = 1  # also time `rnncli tag --jobs N` when above 1
    inputs: dict = field(default_factory=dict)  # (pretokenized, factor) -> (path, tokens)
    tutorial: Path | None = None

    def tag_input(self, pretokenized: bool, factor: int = 1) -> tuple[Path, int]:
        """A file of dev repeated to at least sizes.tag_tokens tokens, times ``factor``; and its tokens."""
        key = (pretokenized, factor)
        if key not in self.inputs:
            if pretokenized:
                lines = [" ".join(s.words) for s in self.dev]
                block_tokens = sum(len(line.split()) for line in lines)
            else:
                lines = self.dev_texts
                block_tokens = sum(len(line_tokens(line)) for line in lines)
            repeats = math.ceil(self.sizes.tag_tokens / block_tokens) * factor
            block = "\n".join(lines) + "\n"
            path = self.tmp / f"{'words' if pretokenized else 'text'}-x{factor}.txt"
            with open(path, "w", encoding="utf-8") as f:
                for _ in range(repeats):
                    f.write(block)
            self.inputs[key] = (path, block_tokens * repeats)
        return self.inputs[key]

    def peer_sentences(self) -> tuple[list[list[str]], int]:
        """The token lists of the 1x pretokenized input, as the peers get them."""
        path, tokens = self.tag_input(True)
        with open(path, encoding="utf-8") as f:
            block = [line.split() for line in f.read().splitlines()]
        return block, tokens

    def tutorial_model(self) -> Path:
        if self.tutorial is None:
            log("training the tutorial-size model for one epoch ...")
            tagger = train(self.train, None, TUTORIAL_RNN)
            tagger.record.corpus = ["UD English EWT train (benchmark_speed.py)"]
            self.tutorial = self.tmp / "tutorial.npz"
            tagger.save(self.tutorial)
        return self.tutorial

    def warm_up(self, model: Path) -> None:
        """One uncounted run: Python's bytecode cache and the model file in the page cache."""
        run([sys.executable, "-m", "rnncli", "tag", "--model", str(model), STARTUP_SENTENCE])


# How describe() words a field of TrainConfig (None: not shown at that value), in this order. Any
# other field is shown as "name value" when it is not the default, after these, unless it is one
# of the run's own settings below, which are the same for rnncli and its peer.
WORDING = {
    "features": lambda v: "word one-hot" if v == "word" else f"{v} features",
    "hidden": lambda v: f"H={v}",
    "bidirectional": lambda v: "bidirectional" if v else "1 direction",
    "layers": lambda v: plural(v, "layer"),
    "batch_size": lambda v: f"batch {v}",
    "char_hidden": lambda v: f"character RNN of {v} units" if v else None,
    "dropout": lambda v: f"dropout {v}" if v else None,
    "average": lambda v: f"weight averaging {v}" if v else None,
    "word_dropout": lambda v: f"word dropout {v}",
    "adversarial": lambda v: f"adversarial training {v:g}" if v else None,
}
RUN_SETTINGS = ("epochs", "lr", "seed", "optimizer", "clip", "patience", "min_count", "min_feature_count",
                "store", "store_min_count")  # the last two: how the file keeps the network, not which network


def describe(config: TrainConfig) -> str:
    """The network and its training in a few words, from the fields of ``config``."""
    default = type(config)()
    named = [WORDING[name](getattr(config, name)) for name in WORDING]
    others = [f"{f.name.replace('_', ' ')} {getattr(config, f.name)}" for f in fields(config)
              if f.name not in WORDING and f.name not in RUN_SETTINGS
              and getattr(config, f.name) != getattr(default, f.name)]
    return ", ".join(part for part in [*named, *others] if part)
