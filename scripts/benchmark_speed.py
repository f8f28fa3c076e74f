"""Benchmark: speed and memory of rnncli on UD English EWT, beside PyTorch, NLTK and CRFsuite.

Everything is measured in the same run, on the same machine and data: UD English EWT train
(en_ewt-ud-train.conllu) and dev (en_ewt-ud-dev.conllu). The result is one Markdown table, ready
for the README, in five sections. Each timing is the median of ``--repeats`` runs (default 3);
runs of rnncli and its peer alternate, so that a change in the machine's load hits both alike.

1. Training (``training``): one epoch on EWT train, in tokens per second (real tokens, not
   padding) and seconds per epoch, for (a) the tutorial RNN (word one-hot, H=128, one direction,
   one layer, batch 32, word dropout 0.25: the first step of benchmark_accuracy.py's ladder) and
   (b) the default model's recipe, ``ENGLISH``. rnncli's time is the ``seconds`` that
   ``train(sentences, None, replace(config, epochs=1))`` reports with its 'epoch' progress event:
   the batch loop (padding, word dropout, forward, backward, clipping, Adam, weight averaging)
   plus the end-of-epoch averaging, without building the vocabulary, encoding the corpus or any
   dev scoring (there is no dev set). Beside each, a PyTorch model of the same shape, timed over
   the same loop: ``nn.Embedding(n_inputs, H)`` for (a), ``nn.EmbeddingBag(mode="sum")`` over the
   same K feature ids per token for (b); ``nn.RNN(H, H, layers, nonlinearity="tanh",
   bidirectional)``; ``nn.Linear``; cross-entropy that ignores padding; Adam with the same
   learning rate; gradient-norm clipping at the same value; the same length-sorted, padded
   batches (rnncli's own ``length_batches``) and the same word dropout, done in NumPy as rnncli
   does; float32; ``torch.set_num_threads(--threads)``. For (b) also dropout on the embedding
   output, between the layers (``nn.RNN``'s own) and before ``nn.Linear``, and an exponential
   moving average of the weights (``AveragedModel`` with ``get_ema_multi_avg_fn``), and the
   recipe's adversarial training: the gradient at the embedding output (``torch.autograd.grad``),
   scaled per sentence as rnncli scales it, added to that output for a second forward pass, and
   the mean of the two losses backpropagated. A
   bidirectional batch is packed (``pack_padded_sequence``) so that the backward direction starts
   at each sentence's last word, as rnncli's does. Differences that remain: PyTorch's RNN has an
   input matrix W_ih (H x H) behind the shared embedding, where rnncli has one input table per
   direction and no such matrix (so rnncli perturbs each direction's input, PyTorch the
   shared embedding); PyTorch's Adam updates the whole embedding table each step,
   rnncli's only the columns the batch used; rnncli's dropout masks each direction's input
   separately. Before the timed epochs, each side runs one uncounted epoch on 64 sentences, so
   that one-time costs of the process (thread pools, first allocations) stay out of the median.
   Ratio: rnncli tokens/s / PyTorch tokens/s (above 1: rnncli is faster).

2. Tagging end to end (``tagging``): ``python -m rnncli tag --pretokenized --model M -i IN``
   with standard output to a file, as a subprocess, on the dev words (gold tokens, one sentence
   a line) repeated to at least 1,000,000 tokens; tokens per second of wall time, start-up and
   model loading included. Models: the bundled default model (skipped with a note while
   rnncli/models/default.npz is not built) and a tutorial-size model (the tutorial RNN of
   section 1) that this script trains for one epoch on EWT train and saves to a temporary
   folder; tagging speed does not depend on how well a model was trained. Peers, in-process,
   timing only the tagging of the same token lists (the input file's lines split on
   whitespace): NLTK's averaged perceptron (``PerceptronTagger(load=False)`` trained on EWT
   train for 5 iterations) and a linear-chain CRF from python-crfsuite (lower-cased word,
   2- and 3-letter suffixes, all-caps/title/digit flags, previous and next lower-cased word;
   L-BFGS with c1=0.1, c2=0.01 and 50 iterations), whose time includes the feature extraction.
   Ratios: rnncli tokens/s / peer tokens/s. Extra rows: the same rnncli runs on raw text (no
   --pretokenized; the dev sentences' ``# text`` lines repeated to at least 1,000,000 tokens as
   rnncli's tokeniser splits them), so the tokeniser's cost is included. Before the timed runs,
   one uncounted ``rnncli tag`` per model writes Python's bytecode cache and puts the model file
   in the page cache. Every output is checked to have one line per input line. ``rnncli tag``
   runs as by default, in one process, and with ``--jobs N`` as well when the benchmark is given
   ``--jobs N``. The input repeats dev, so caches warm up
   after the first pass (rnncli caches each word's feature ids; real text repeats its frequent
   words too). Last in the section, each model's pretokenized speed beside its ceiling: the
   floating-point operations the network does per token (the recurrence, the upper layers' input
   products and the output layer; the first layer's input is a lookup) at the speed of a float32
   matrix product the size of one recurrence step (164 x H by H x H, one BLAS thread, measured
   in a fresh process), times the cores used. Ratio: the share of the ceiling reached.

3. Start-up (``startup``): wall time of ``rnncli tag "I eat apple"`` (the console script next
   to the Python that runs this benchmark, with the bundled model; with the tutorial-size model
   when that is not built) beside ``python -c "import numpy"`` and ``python -c pass``; ratios:
   rnncli's time / theirs. Each is the median of 5 x --repeats runs after one uncounted warm-up
   run, the three commands taking turns.

4. Memory (``memory``): peak resident set size of a subprocess that reads EWT train and trains
   one epoch of ``ENGLISH``, and of ``rnncli tag`` with the bundled model (else the tutorial-size
   one) on the 1x input of section 2 and on 10x that (the same text ten times as often). The
   peak is the kernel's own high-water mark, exact and without polling: a small Python wrapper
   runs the command and reports ``getrusage(RUSAGE_CHILDREN).ru_maxrss``. The wrapper is needed
   because a child's ru_maxrss also counts the process it was forked from, and this benchmark's
   process is large; the wrapper's own size (about 10 MiB, in the JSON as wrapper_floor_kib) is
   the least any figure can be. Ratio of 10x to 1x: about 1.0, since ``rnncli tag`` streams its
   input chunk by chunk (with --quick the 1x input is smaller than one chunk, so there the ratio
   is above 1). The 1x row sets it beside ``python -c "import numpy"``. A peak is a high-water
   mark, not a timing, so each is one run.

5. Scaling (``scaling``): one epoch of the tutorial RNN on the first 1/4, 1/2 and all of EWT
   train's sentences (time as in section 1), and ``rnncli tag`` with the tutorial-size model
   (end to end as in section 2, so start-up is included) on 1x, 2x and 4x the 1M-token input.
   Ratio: time per token / time per token at the smallest size (flat: about 1.0).

6. BLAS threads (``load``): ``rnncli tag --pretokenized`` with the bundled model (else the
   tutorial-size one) on the first 200,000 tokens of the 1x input, with OPENBLAS_NUM_THREADS=1
   (what ``rnncli tag`` sets when the environment does not say) and with one thread per core;
   first on idle cores, then while every core runs a busy loop in another process, as when the
   other programs of a pipeline compute too. Ratio: tokens/s with one thread / with one per core.

7. BLAS threads in training (``train-load``): one epoch of ``rnncli train --hidden 128
   --batch-size 32`` on the first 2,000 sentences of EWT train, with OPENBLAS_NUM_THREADS=1
   (what ``rnncli train`` sets when the environment does not say) and with one thread per core,
   on idle and on busy cores as in section 6; once with EWT's UPOS tags (a small output layer)
   and once with 10,001 tags (a large one). The time is the epoch's own seconds in the model's
   history. Ratio: seconds with one thread per core / seconds with one thread.

    python scripts/benchmark_speed.py                        # everything (about 15 minutes)
    python scripts/benchmark_speed.py --quick                # a smoke test of about a minute
    python scripts/benchmark_speed.py --only training,startup --repeats 5 --json speed.json

Peers are optional; a row whose peer is not installed says so. NLTK and python-crfsuite come with
``pip install -e ".[bench]"``; PyTorch, a large download, is installed by hand:
``pip install torch==2.13.0``. Child processes run with this environment less
PYTHONDONTWRITEBYTECODE (so that Python's bytecode cache works as on an ordinary install) and less
RNNCLI_MODEL. BLAS threads: this process's (training) follow OPENBLAS_NUM_THREADS / OMP_NUM_THREADS
(all cores when unset), and the header shows the count NumPy's OpenBLAS uses here beside PyTorch's
--threads; ``rnncli tag`` children use one unless one of those variables is set (section 6). Run it
on an otherwise idle machine: with other processes on the cores, PyTorch's thread pool waits for
descheduled threads at every operation and can be many times slower (the script warns when the
load average is 1 or more at the start).

The data is read from $RNNCLI_EWT_DIR, else ../shared/data/en_ewt beside the repository.
Progress goes to stderr, the table to stdout.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import math
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402  (first: it also puts the repository on sys.path)
import peers  # noqa: E402
from common import ATTRIBUTION, ENGLISH, ROOT, ewt_file, read_ewt, read_texts, finish  # noqa: E402

from rnncli.config import TrainConfig  # noqa: E402
from rnncli.corpus import Sentence  # noqa: E402
from rnncli import rnn  # noqa: E402
from rnncli.loader import default_model_path  # noqa: E402
from rnncli.tokenizer import line_tokens  # noqa: E402
from rnncli.train import train  # noqa: E402

SECTIONS = ("training", "tagging", "startup", "memory", "scaling", "load", "train-load")
TITLES = {
    "training": "1. Training: one epoch of EWT train",
    "tagging": "2. Tagging end to end",
    "startup": "3. Start-up",
    "memory": "4. Memory: peak resident set size",
    "scaling": "5. Scaling",
    "load": "6. BLAS threads, on idle and on busy cores",
    "train-load": "7. BLAS threads in training, on idle and on busy cores",
}
RATIOS = {
    "training": "ratio: rnncli tokens/s ÷ PyTorch tokens/s",
    "tagging": "ratio: rnncli tokens/s ÷ the peer's",
    "startup": "ratio: rnncli's time ÷ the other command's",
    "memory": "ratio: rnncli's peak ÷ the other one's",
    "scaling": "ratio: time per token ÷ that at the smallest size",
    "load": "ratio: tokens/s with one BLAS thread ÷ tokens/s with one per core",
    "train-load": "ratio: seconds per epoch with one per core ÷ with one BLAS thread",
}

# One epoch each of the two networks that benchmark_accuracy.py's ladder starts and ends with, over
# the training sentences as written: the recipe's recased copies (--recase) add a share of
# sentences to each epoch, which the peer would not train on.
TUTORIAL_RNN = replace(common.TUTORIAL_RNN, epochs=1)
RECIPE = replace(ENGLISH, epochs=1, recase=0.0)

TAG_TOKENS, QUICK_TAG_TOKENS = 1_000_000, 20_000
QUICK_SENTENCES = 1000
NLTK_ITERATIONS, QUICK_NLTK_ITERATIONS = 5, 1
CRF_ITERATIONS, QUICK_CRF_ITERATIONS = 50, 5
MEMORY_FACTOR = 10
SCALING_FRACTIONS = (0.25, 0.5, 1.0)
SCALING_FACTORS = (1, 2, 4)
LOAD_TOKENS, QUICK_LOAD_TOKENS = 200_000, 5_000  # one busy-core run with a thread per core is slow
TRAIN_LOAD_SENTENCES, QUICK_TRAIN_LOAD_SENTENCES = 2_000, 200
MANY_TAGS = 10_001  # the output layer of a large tag set, where BLAS threads matter most
STARTUP_RUNS_PER_REPEAT = 5  # each run is well under a second: more runs for a steady median
STARTUP_SENTENCE = "I eat apple"
WARM_UP_SENTENCES = 64
BLAS_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
CHILD_ENV = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "RNNCLI_MODEL")}

# ru_maxrss of a child counts the memory of the process it was forked from (before exec), so a child
# of this big benchmark process would report the benchmark's own size. This wrapper is the small
# parent instead: its RUSAGE_CHILDREN peak is max(its own size, about 10 MB; the command's peak).
PEAK_RSS = """\
import resource, subprocess, sys
status = subprocess.call(sys.argv[2:])
with open(sys.argv[1], "w") as f:
    f.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(status)
"""

TRAIN_ONE_EPOCH = """\
import sys
from dataclasses import replace
sys.path.insert(0, sys.argv[1])
from common import ENGLISH
from rnncli.corpus import read_corpus
from rnncli.train import train
sentences = read_corpus(sys.argv[2], tag_column="upos")[:int(sys.argv[3])]
train(sentences, None, replace(ENGLISH, epochs=1))
"""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


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
    repeats: int
    load_tokens: int


# -- measuring -------------------------------------------------------------------------------

def run(cmd: list[str], stdout: Path | None = None, env: dict | None = None) -> float:
    """Wall seconds of one child process; a failure stops the benchmark."""
    with open(stdout or os.devnull, "wb") as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        status = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env or CHILD_ENV,
                                cwd=ROOT).returncode
        seconds = time.perf_counter() - started
        if status:
            err.seek(0)
            tail = err.read().decode("utf-8", "replace")[-2000:]
            raise RuntimeError(f"{shlex.join(cmd)} exited with {status}:\n{tail}")
    return seconds


def peak_rss(cmd: list[str], stdout: Path | None = None) -> int:
    """Peak resident set size (KiB) of one child process, through the small PEAK_RSS wrapper."""
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as report:
        run([sys.executable, "-c", PEAK_RSS, report.name, *cmd], stdout)
        return int(report.read())


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


def rate(tokens: int, seconds: float) -> str:
    return f"{tokens / seconds:,.0f} tokens/s ({seconds:.2f} s)"


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


def mib(kib: int) -> str:
    return f"{kib / 1024:,.0f} MiB"


def epoch_seconds(sentences: list[Sentence], config: TrainConfig) -> float:
    """The seconds rnncli's loop reports for one epoch without dev data."""
    reported = []
    train(sentences, None, replace(config, epochs=1),
          lambda p: reported.append(p.seconds) if p.kind == "epoch" else None)
    return reported[0]


def openblas_threads() -> int | None:
    """Threads NumPy's OpenBLAS uses, asked of the library itself (threadpoolctl's way, without it)."""
    try:
        from threadpoolctl import threadpool_info

        counts = [i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas"]
        return max(counts) if counts else None
    except ImportError:
        pass
    try:
        with open("/proc/self/maps") as f:
            libraries = {line.split()[-1] for line in f if "openblas" in line.lower() and "/" in line}
    except OSError:
        return None
    for path in sorted(libraries):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for symbol in ("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads",
                       "openblas_get_num_threads64_", "openblas_get_num_threads"):
            getter = getattr(lib, symbol, None)
            if getter is not None:
                return int(getter())
    return None


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def package_version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


# -- the shared material: data, inputs, the tutorial-size model -------------------------------

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


# -- 1. training ------------------------------------------------------------------------------

def section_training(b: Bench) -> list[Row]:
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


# -- 2. tagging -------------------------------------------------------------------------------

def nltk_peer(b: Bench):
    """A function that tags a list of token lists, and its description; or (None, why not)."""
    try:
        tagger, _ = peers.nltk_perceptron(b.train, b.sizes.nltk_iterations)
    except ImportError:
        return None, "NLTK: not installed (`pip install nltk`)"

    def tag_all(sentences):
        for words in sentences:
            tagger.tag(words)
    return tag_all, f"NLTK averaged perceptron ({plural(b.sizes.nltk_iterations, 'iteration')}), in-process"


def crf_peer(b: Bench):
    try:
        tagger = peers.crf_tagger(b.train, b.sizes.crf_iterations, b.tmp / "crf.model")
    except ImportError:
        return None, "CRFsuite: not installed (`pip install python-crfsuite`)"

    def tag_all(sentences):
        for words in sentences:
            tagger.tag(peers.crf_features(words))
    iterations = plural(b.sizes.crf_iterations, "L-BFGS iteration")
    return tag_all, f"python-crfsuite CRF ({iterations}), in-process, with features"


def rnncli_models(b: Bench) -> list[tuple[str, Path | None]]:
    bundled = default_model_path()
    return [("bundled default model", bundled if bundled.exists() else None),
            ("tutorial-size model (H=128, 1 direction, word one-hot)", b.tutorial_model())]


def missing_model_note() -> str:
    path = default_model_path()
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    return f"{shown} is not built yet (python scripts/build_default_model.py)"


def section_tagging(b: Bench) -> list[Row]:
    models = rnncli_models(b)
    peers = []
    for make in (nltk_peer, crf_peer):
        log(f"[tagging] training the {make.__name__.removesuffix('_peer')} peer ...")
        started = time.perf_counter()
        function, name = make(b)
        peers.append((function, name, time.perf_counter() - started))
    sentences, peer_tokens = b.peer_sentences()
    out = b.tmp / "tagged.txt"

    timings: dict[tuple[str, bool, int], list[float]] = {}
    job_counts = sorted({1, b.jobs})
    peer_times: dict[str, list[float]] = {name: [] for f, name, _ in peers if f}
    for _, model in models:
        if model:
            b.warm_up(model)
    for r in range(b.sizes.repeats):
        for name, model in models:
            for pretokenized in (True, False):
                for jobs in job_counts:
                    if model is None:
                        continue
                    path, tokens = b.tag_input(pretokenized)
                    seconds = tag_file(model, path, pretokenized, out, jobs)
                    timings.setdefault((name, pretokenized, jobs), []).append(seconds)
                    log(f"  run {r + 1}: {name}, {'pretokenized' if pretokenized else 'raw text'}, "
                        f"jobs {jobs}: {rate(tokens, seconds)}")
        for function, name, _ in peers:
            if function:
                started = time.perf_counter()
                function(sentences)
                peer_times[name].append(time.perf_counter() - started)
                log(f"  run {r + 1}: {name}: {rate(peer_tokens, peer_times[name][-1])}")

    rows = []
    for pretokenized in (True, False):
        path, tokens = b.tag_input(pretokenized)
        kind = "pretokenized" if pretokenized else "raw text, rnncli's tokeniser"
        for (name, model), jobs in ((m, j) for m in models for j in job_counts):
            processes = f"--jobs {jobs}" if jobs > 1 else "one process"
            what = f"{name}, {kind}, {processes}, {tokens:,} tokens"
            if model is None:
                if jobs == 1:
                    rows.append(Row("tagging", what, f"skipped: {missing_model_note()}"))
                continue
            seconds = statistics.median(timings[(name, pretokenized, jobs)])
            ours = rate(tokens, seconds)
            data = {"model": str(model), "pretokenized": pretokenized, "tokens": tokens, "jobs": jobs,
                    "rnncli_seconds": timings[(name, pretokenized, jobs)]}
            if not pretokenized:
                rows.append(Row("tagging", what, ours, "(the peers take tokens, not text)", data=data))
                continue
            for function, peer, train_seconds in peers:
                if function is None:
                    rows.append(Row("tagging", what, ours, peer, data=data))
                    continue
                theirs = statistics.median(peer_times[peer])
                rows.append(Row("tagging", what, ours, peer, rate(peer_tokens, theirs),
                                (tokens / seconds) / (peer_tokens / theirs),
                                {**data, "peer_tokens": peer_tokens, "peer_seconds": peer_times[peer],
                                 "peer_train_seconds": train_seconds}))
    rows += ceiling_rows(models, timings, job_counts, b.tag_input(True)[1])
    return rows


def flops_per_token(shape: rnn.Shape) -> int:
    """Floating-point operations the network does per token: each chain's recurrence W s_{t-1}
    (2 H^2), each upper layer's input product (2 H n_out), and the output layer (2 n_out n_tags).
    The first layer's U x_t is a lookup, once per distinct word: no products per token."""
    H = shape.n_hidden
    per_chain = [2 * H * H + (2 * H * shape.n_out if layer else 0) for layer, _, _ in shape.chains()]
    return sum(per_chain) + 2 * shape.n_out * shape.n_tags


MATMUL_CHILD = """
import sys, time, numpy as np
B, H, D = map(int, sys.argv[1:4])
rng = np.random.default_rng(0)
s, W = rng.normal(size=(B, D)).astype(np.float32), rng.normal(size=(D, H)).astype(np.float32)
out = np.empty((B, H), np.float32)
best = []
for _ in range(7):
    started = time.perf_counter()
    for _ in range(2000):
        np.matmul(s, W, out=out)
    best.append(time.perf_counter() - started)
print(2 * B * H * D * 2000 / sorted(best)[3] / 1e9)
"""


def matmul_gflops(batch: int, hidden: int, inputs: int) -> float:
    """GFLOP/s of a float32 (batch x inputs) by (inputs x hidden) product on one core, one BLAS
    thread (as rnncli tags), in a fresh process: the median of 7 runs of 2,000 products."""
    env = {**CHILD_ENV, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", MATMUL_CHILD, str(batch), str(hidden), str(inputs)],
                         capture_output=True, text=True, env=env, check=True)
    return float(out.stdout)


def ceiling_rows(models, timings, job_counts, tokens: int) -> list[Row]:
    """Each model's one-process and --jobs speed (pretokenized) beside the ceiling its arithmetic
    allows: its floating-point operations per token at the speed of a matrix product the size of
    one recurrence step (4,096-token batches of 25-word sentences: 164 rows), per core used."""
    from rnncli.tagger import BATCH_TOKENS, Tagger

    rows = []
    cores = os.cpu_count() or 1
    for name, model in models:
        if model is None:
            continue
        shape = Tagger.load(model).shape
        flops = flops_per_token(shape)
        gflops = matmul_gflops(BATCH_TOKENS // 25, shape.n_hidden, shape.n_hidden)
        ceiling = gflops * 1e9 / flops  # tokens/s on one core
        for jobs in job_counts:
            seconds = statistics.median(timings[(name, True, jobs)])
            workers = min(jobs, cores)
            processes = f"--jobs {jobs}" if jobs > 1 else "one process"
            rows.append(Row("tagging", f"{name}, pretokenized, {processes}: share of the ceiling ({flops:,} "
                            f"floating-point operations per token at {gflops:.1f} GFLOP/s per core, "
                            f"{workers} core{'s' * (workers > 1)})",
                            rate(tokens, seconds), "the ceiling", f"{workers * ceiling:,.0f} tokens/s",
                            (tokens / seconds) / (workers * ceiling),
                            {"flops_per_token": flops, "gflops_per_core": gflops, "cores_used": workers}))
    return rows


# -- 3. start-up ------------------------------------------------------------------------------

def section_startup(b: Bench) -> list[Row]:
    script = Path(sys.executable).parent / "rnncli"
    rnncli_cmd = [str(script)] if script.exists() else [sys.executable, "-m", "rnncli"]
    bundled = default_model_path()
    model = [] if bundled.exists() else ["--model", str(b.tutorial_model())]
    ours_cmd = [*rnncli_cmd, "tag", *model, STARTUP_SENTENCE]
    shown = " ".join(["rnncli tag", *(["--model tutorial.npz"] if model else []), f'"{STARTUP_SENTENCE}"'])
    which = "bundled model" if not model else "tutorial-size model: the bundled one is not built yet"
    if not script.exists():
        which += f"; no console script at {script}, so `python -m rnncli`"
    commands = {"rnncli": ours_cmd, "numpy": [sys.executable, "-c", "import numpy"],
                "pass": [sys.executable, "-c", "pass"]}
    times: dict[str, list[float]] = {k: [] for k in commands}
    for cmd in commands.values():
        run(cmd)
    runs = STARTUP_RUNS_PER_REPEAT * b.sizes.repeats
    log(f"[startup] {runs} runs of each command ...")
    for _ in range(runs):
        for key, cmd in commands.items():
            times[key].append(run(cmd))
    median = {k: statistics.median(v) for k, v in times.items()}
    what = f"`{shown}` ({which})"
    data = {"runs": runs, **{f"{k}_seconds": v for k, v in times.items()}}
    return [Row("startup", what, f"{median['rnncli']:.3f} s", '`python -c "import numpy"`',
                f"{median['numpy']:.3f} s", median["rnncli"] / median["numpy"], data),
            Row("startup", what, f"{median['rnncli']:.3f} s", "`python -c pass`",
                f"{median['pass']:.3f} s", median["rnncli"] / median["pass"])]


# -- 4. memory --------------------------------------------------------------------------------

def section_memory(b: Bench) -> list[Row]:
    floor = peak_rss(["true"])  # the wrapper's own size: no figure below can be smaller
    limit = len(b.train)
    log(f"[memory] one epoch of the default model's recipe on {limit:,} sentences ...")
    train_peak = peak_rss([sys.executable, "-c", TRAIN_ONE_EPOCH, str(Path(__file__).resolve().parent),
                           str(ewt_file("train")), str(limit)])
    rows = [Row("memory", f"training one epoch of the default model's recipe on {limit:,} sentences, "
                          "reading the corpus included", mib(train_peak),
                data={"peak_kib": train_peak, "sentences": limit, "wrapper_floor_kib": floor})]

    bundled = default_model_path()
    model, name = (bundled, "bundled model") if bundled.exists() else (b.tutorial_model(), "tutorial-size model")
    note = "" if bundled.exists() else " (the bundled model is not built yet)"
    numpy_peak = peak_rss([sys.executable, "-c", "import numpy"])
    b.warm_up(model)
    peaks = {}
    for factor in (1, MEMORY_FACTOR):
        path, tokens = b.tag_input(True, factor)
        log(f"[memory] rnncli tag, {name}, {tokens:,} tokens ...")
        peaks[factor] = (tokens, tag_file_peak(model, path, True, b.tmp / "tagged.txt"))
    (t1, peak1), (t10, peak10) = peaks[1], peaks[MEMORY_FACTOR]
    rows.append(Row("memory", f"`rnncli tag --pretokenized`, {name}{note}, 1x input ({t1:,} tokens)",
                    mib(peak1), '`python -c "import numpy"`', mib(numpy_peak), peak1 / numpy_peak,
                    {"peak_kib": peak1, "tokens": t1, "numpy_peak_kib": numpy_peak}))
    rows.append(Row("memory", f"`rnncli tag --pretokenized`, {name}, {MEMORY_FACTOR}x input ({t10:,} tokens)",
                    mib(peak10), "the same at 1x", mib(peak1), peak10 / peak1, {"peak_kib": peak10, "tokens": t10}))
    return rows


# -- 5. scaling -------------------------------------------------------------------------------

def section_scaling(b: Bench) -> list[Row]:
    rows = []
    reference = None
    epoch_seconds(b.train[:WARM_UP_SENTENCES], TUTORIAL_RNN)
    for fraction in SCALING_FRACTIONS:
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
    inputs = [b.tag_input(True, factor) for factor in SCALING_FACTORS]
    times = {factor: [] for factor in SCALING_FACTORS}
    for r in range(b.sizes.repeats):
        for factor, (path, tokens) in zip(SCALING_FACTORS, inputs):
            times[factor].append(tag_file(model, path, True, b.tmp / "tagged.txt"))
            log(f"  run {r + 1}: rnncli tag, tutorial-size model, {factor}x: {rate(tokens, times[factor][-1])}")
    reference = None
    for factor, (_, tokens) in zip(SCALING_FACTORS, inputs):
        seconds = statistics.median(times[factor])
        per_token = seconds / tokens
        reference = reference or per_token
        rows.append(Row("scaling", f"`rnncli tag --pretokenized`, tutorial-size model, {factor}x input "
                                   f"({tokens:,} tokens)",
                        f"{seconds:.2f} s, {1e6 * per_token:.2f} µs/token", ratio=per_token / reference,
                        data={"tokens": tokens, "seconds": times[factor]}))
    return rows


# -- 6. BLAS threads under load ----------------------------------------------------------------

def section_load(b: Bench) -> list[Row]:
    """`rnncli tag` with one BLAS thread (its default) and with one per core, first on idle cores,
    then with every core running a busy loop in another process, as in a pipeline whose other
    programs compute too."""
    bundled = default_model_path()
    model, name = (bundled, "bundled model") if bundled.exists() else (b.tutorial_model(), "tutorial-size model")
    source, _ = b.tag_input(True)
    path, tokens = b.tmp / "load-words.txt", 0
    with open(source, encoding="utf-8") as f, open(path, "w", encoding="utf-8") as out:
        for line in f:
            if tokens >= b.sizes.load_tokens:
                break
            out.write(line)
            tokens += len(line.split())
    cores = os.cpu_count() or 1
    threads = {"one BLAS thread (the default)": 1, f"{cores} BLAS threads": cores}
    b.warm_up(model)
    rows = []
    for busy in (False, True):
        burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(cores if busy else 0)]
        try:
            times = {}
            for label, n in threads.items():
                env = {**CHILD_ENV, "OPENBLAS_NUM_THREADS": str(n), "OMP_NUM_THREADS": str(n)}
                times[label] = [tag_file(model, path, True, b.tmp / "tagged.txt", env=env)
                                for _ in range(b.sizes.repeats)]
                log(f"[load] {'busy' if busy else 'idle'} cores, {label}: "
                    f"{rate(tokens, statistics.median(times[label]))}")
        finally:
            for p in burners:
                p.kill()
                p.wait()
        (ours_label, ours), (theirs_label, theirs) = [(k, statistics.median(v)) for k, v in times.items()]
        where = f"every core busy with another process ({cores} busy loops)" if busy else "idle cores"
        rows.append(Row("load", f"`rnncli tag --pretokenized`, {name}, {tokens:,} tokens, {where}, {ours_label}",
                        rate(tokens, ours), theirs_label, rate(tokens, theirs), theirs / ours,
                        {"tokens": tokens, "busy_loops": cores if busy else 0,
                         **{f"seconds_{n}_threads": times[k] for k, n in threads.items()}}))
    return rows


def section_train_load(b: Bench) -> list[Row]:
    """One epoch of `rnncli train` with one BLAS thread (its default) and with one per core, on
    idle cores and with every core running a busy loop in another process; for a small output
    layer (EWT's 17 UPOS tags) and a large one (10,001 tags: each word type's number modulo
    10,001 as its tag). The time is the epoch's own ``seconds`` in the model's history."""
    n = QUICK_TRAIN_LOAD_SENTENCES if b.sizes.train_sentences else TRAIN_LOAD_SENTENCES
    sentences = b.train[:n]
    types: dict[str, int] = {}
    corpora = {}
    for label, tag_of in (("17 tags (UPOS)", None), (f"{MANY_TAGS:,} tags", lambda w: f"T{types.setdefault(w, len(types)) % MANY_TAGS}")):
        path = b.tmp / f"train-load-{len(corpora)}.tsv"
        with open(path, "w", encoding="utf-8") as f:
            for s in sentences:
                f.write("".join(f"{w}\t{t if tag_of is None else tag_of(w)}\n" for w, t in zip(s.words, s.tags)) + "\n")
        corpora[label] = path
    tokens = sum(len(s.words) for s in sentences)
    cores = os.cpu_count() or 1
    threads = {"one BLAS thread (the default)": 1, f"{cores} BLAS threads": cores}
    out = b.tmp / "train-load.npz"

    def epoch(corpus: Path, n_threads: int) -> float:
        env = {**CHILD_ENV, "OPENBLAS_NUM_THREADS": str(n_threads), "OMP_NUM_THREADS": str(n_threads)}
        run([sys.executable, "-m", "rnncli", "train", str(corpus), "-o", str(out), "--epochs", "1",
             "--hidden", "128", "--batch-size", "32", "-q"], env=env)
        with np.load(out, allow_pickle=False) as f:
            return json.loads(f["metadata"].tobytes())["training"]["history"][0]["seconds"]

    rows = []
    for busy in (False, True):
        burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(cores if busy else 0)]
        try:
            for corpus_label, corpus in corpora.items():
                times = {label: [epoch(corpus, k) for _ in range(b.sizes.repeats)] for label, k in threads.items()}
                (ours_label, ours), (theirs_label, theirs) = [(k, statistics.median(v)) for k, v in times.items()]
                where = f"every core busy with another process ({cores} busy loops)" if busy else "idle cores"
                log(f"[train-load] {corpus_label}, {where}: {ours:.2f} s with 1 thread, {theirs:.2f} s with {cores}")
                rows.append(Row("train-load", f"one epoch of `rnncli train --hidden 128`, {n:,} EWT train sentences "
                                f"({tokens:,} tokens), {corpus_label}, {where}, {ours_label}",
                                f"{ours:.2f} s", theirs_label, f"{theirs:.2f} s", theirs / ours,
                                {"tokens": tokens, "busy_loops": cores if busy else 0, "corpus": corpus_label,
                                 **{f"seconds_{k}_threads": times[label] for label, k in threads.items()}}))
        finally:
            for p in burners:
                p.kill()
                p.wait()
    return rows


# -- reporting --------------------------------------------------------------------------------

def table(rows: list[Row], sections: list[str]) -> str:
    lines = ["| Benchmark | rnncli | Compared with | Their figure | Ratio |", "| --- | ---: | --- | ---: | ---: |"]
    for section in sections:
        lines.append(f"| **{TITLES[section]}** ({RATIOS[section]}) | | | | |")
        for r in (r for r in rows if r.section == section):
            ratio = "" if r.ratio is None else f"{r.ratio:.2f}"
            lines.append(f"| {r.what} | {r.ours} | {r.peer} | {r.theirs} | {ratio} |")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line, with ``sections`` (in table order) and ``repeats`` filled in."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help=f"a smoke test: {QUICK_SENTENCES} train sentences, {QUICK_TAG_TOKENS:,}-token tagging "
                             "input, 1 repeat (about a minute)")
    parser.add_argument("--only", metavar="SECTION[,SECTION]", help=f"run only these sections: {', '.join(SECTIONS)}")
    parser.add_argument("--repeats", type=int, metavar="N",
                        help="runs per timing, the median reported (default 3, 1 with --quick)")
    parser.add_argument("--threads", type=int, default=2, metavar="N",
                        help="PyTorch's intra-op threads (default 2); NumPy's BLAS follows OPENBLAS_NUM_THREADS")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE")
    parser.add_argument("--jobs", type=int, default=1, metavar="N",
                        help="in the tagging section, also time `rnncli tag --jobs N` (default: one process only)")
    args = parser.parse_args(argv)
    only = args.only.split(",") if args.only else list(SECTIONS)
    if set(only) - set(SECTIONS):
        unknown = ", ".join(sorted(set(only) - set(SECTIONS)))
        parser.error(f"unknown section(s) {unknown}; choose from {', '.join(SECTIONS)}")
    args.sections = [s for s in SECTIONS if s in only]
    if args.repeats is None:
        args.repeats = 1 if args.quick else 3
    if args.repeats < 1 or args.threads < 1:
        parser.error("--repeats and --threads need a number of at least 1")
    return args


def main() -> None:
    args = parse_args()
    sections, repeats = args.sections, args.repeats
    sizes = Sizes(QUICK_SENTENCES if args.quick else None, QUICK_TAG_TOKENS if args.quick else TAG_TOKENS,
                  QUICK_NLTK_ITERATIONS if args.quick else NLTK_ITERATIONS,
                  QUICK_CRF_ITERATIONS if args.quick else CRF_ITERATIONS, repeats,
                  QUICK_LOAD_TOKENS if args.quick else LOAD_TOKENS)

    sentences, dev = read_ewt()
    sentences = sentences[:sizes.train_sentences]

    torch = peers.import_torch(args.threads)
    blas_env = ", ".join(f"{v}={os.environ[v]}" for v in BLAS_VARIABLES if v in os.environ) or "none set"
    blas = openblas_threads()
    header = {
        "command": shlex.join(["python", *sys.argv]),
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu": cpu_name(), "cpus": os.cpu_count(), "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(), "numpy": np.__version__, "numpy_blas_threads": blas,
        "blas_environment": blas_env, "torch": torch.__version__ if torch else None,
        "torch_threads": torch.get_num_threads() if torch else None, "nltk": package_version("nltk"),
        "python_crfsuite": package_version("python-crfsuite"), "quick": args.quick, "repeats": repeats,
        "train_sentences": len(sentences), "train_tokens": sum(len(s.words) for s in sentences),
        "dev_sentences": len(dev), "tag_tokens_target": sizes.tag_tokens,
    }
    if header["load_average"][0] >= 1.0:
        log(f"note: load average {header['load_average'][0]} at start: other processes are running, so timings "
            "are noisy, and PyTorch with more threads than idle cores can be many times slower (oversubscription)")
    if torch and blas and blas != torch.get_num_threads():
        log(f"note: NumPy's BLAS uses {blas} thread(s), PyTorch {torch.get_num_threads()}: "
            "set OPENBLAS_NUM_THREADS and --threads alike for an even comparison")
    quick = ("**QUICK run: tiny sizes, 1 repeat. For trying the script only; not for the README.**\n\n"
             if args.quick else "")
    log(quick.strip().replace("*", "") or f"full benchmark, {repeats} repeats per timing")

    with tempfile.TemporaryDirectory(prefix="rnncli-speed-") as tmp:
        bench = Bench(sizes, Path(tmp), sentences, dev, [text for text, _ in read_texts(ewt_file("dev"))], args.threads,
                      args.jobs)
        functions = {"training": section_training, "tagging": section_tagging, "startup": section_startup,
                     "memory": section_memory, "scaling": section_scaling, "load": section_load,
                     "train-load": section_train_load}
        rows = []
        for section in sections:
            started = time.perf_counter()
            rows += functions[section](bench)
            log(f"[{section}] done in {time.perf_counter() - started:.0f} s")

    torch_text = f"{header['torch']}, {header['torch_threads']} threads" if torch else "not installed"
    print(f"{quick}- Command: `{header['command']}`\n"
          f"- Date: {header['date']}; {header['cpu']}, {header['cpus']} CPUs, load average at start "
          f"{' '.join(map(str, header['load_average']))}\n"
          f"- Python {header['python']}; numpy {header['numpy']}, BLAS threads for training {blas or '?'} ({blas_env}); "
          f"PyTorch {torch_text}; NLTK {header['nltk'] or 'not installed'}; "
          f"python-crfsuite {header['python_crfsuite'] or 'not installed'}\n"
          f"- Data: UD English EWT; train {len(sentences):,} sentences ({header['train_tokens']:,} tokens); "
          f"tagging input: dev ({len(dev):,} sentences) repeated to at least {sizes.tag_tokens:,} tokens\n"
          f"- Each time is the median of {plural(repeats, 'run')} (start-up: {STARTUP_RUNS_PER_REPEAT * repeats}); "
          "each peak memory is one run\n")
    print(table(rows, sections))
    print(f"\nData: {ATTRIBUTION}.")
    finish(args.quick, args.json, header, [asdict(r) for r in rows])


if __name__ == "__main__":
    main()
