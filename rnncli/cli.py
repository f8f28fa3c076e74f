"""The command line: parse, call the library, render. Errors become one line on stderr."""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from typer.core import TyperGroup

from .errors import RnncliError


class _Group(TyperGroup):
    """Turns the project's errors, from any command, into one line and exit status 1."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except RnncliError as e:
            _err(str(e))
            raise typer.Exit(1) from None


app = typer.Typer(
    cls=_Group, add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="An Elman recurrent network that tags parts of speech: s_t = tanh(U x_t + W s_{t-1} + b), "
         "o_t = softmax(V s_t + c).",
)


def _err(message: str) -> None:
    sys.stderr.write(f"rnncli: error: {message}\n")


class CorpusFormat(str, Enum):
    slash = "slash"
    conllu = "conllu"
    tsv = "tsv"


class OutputFormat(str, Enum):
    slash = "slash"
    tsv = "tsv"
    conllu = "conllu"
    jsonl = "jsonl"


class TagColumn(str, Enum):
    upos = "upos"
    xpos = "xpos"


class Features(str, Enum):
    word = "word"
    form = "form"


class Optimizer(str, Enum):
    adam = "adam"
    sgd = "sgd"


ModelOption = Annotated[Optional[Path], typer.Option(
    "--model", "-m", help="Model file. Default: $RNNCLI_MODEL, else the model bundled with rnncli.",
    dir_okay=False)]
FormatOption = Annotated[Optional[CorpusFormat], typer.Option(
    "--format", "-f", help="Corpus format. Default: from the extension (.conllu, .tsv), else from the content.")]
TagColumnOption = Annotated[TagColumn, typer.Option(help="CoNLL-U column to read tags from.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")]


def _positive(value: float) -> float:
    if not value > 0:
        raise typer.BadParameter(f"must be greater than 0, got {value}")
    return value


def _load(model: Path | None):
    from .tagger import Tagger, default_model_path, resolve_model_path

    path = resolve_model_path(model)
    if path == default_model_path() and not path.exists():
        raise RnncliError(f"{path}: the bundled model is missing; build it with scripts/build_default_model.py")
    return Tagger.load(path)


def _stdout_console():
    from rich.console import Console

    return Console(highlight=False)


def _print_json(obj) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")


@app.command()
def train(
    corpus: Annotated[list[Path], typer.Argument(help="Tagged corpus file(s) to train on.", dir_okay=True)],
    dev: Annotated[Optional[Path], typer.Option(help="Tagged corpus to pick the best epoch by.")] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="Model file to write.", dir_okay=False)] = Path("model.npz"),
    hidden: Annotated[int, typer.Option(min=1, help="Hidden units H (the size of s_t).")] = 64,
    epochs: Annotated[int, typer.Option(min=1, help="Passes over the corpus.")] = 10,
    lr: Annotated[float, typer.Option(callback=_positive, help="Learning rate.")] = 0.01,
    batch_size: Annotated[int, typer.Option(min=1, help="Sentences per update.")] = 16,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same model.")] = 0,
    fmt: FormatOption = None,
    tag_column: TagColumnOption = TagColumn.upos,
    bidirectional: Annotated[bool, typer.Option(help="Add a backward RNN over each sentence.")] = False,
    layers: Annotated[int, typer.Option(min=1, max=4, help="Stacked RNN layers.")] = 1,
    features: Annotated[Features, typer.Option(
        help="x_t: 'word' is the tutorial's one-hot word; 'form' adds suffixes, prefixes and shape.")] = Features.word,
    dropout: Annotated[float, typer.Option(min=0.0, max=0.9, help="Dropout on each layer's input and output.")] = 0.0,
    word_dropout: Annotated[float, typer.Option(
        min=0.0, help="A word seen n times is replaced by <unk> with probability a/(a+n) during training.")] = 0.25,
    optimizer: Annotated[Optimizer, typer.Option(help="Update rule.")] = Optimizer.adam,
    clip: Annotated[float, typer.Option(min=0.0, help="Largest gradient norm (0: no clipping).")] = 5.0,
    patience: Annotated[int, typer.Option(min=0, help="Stop after this many epochs without a better dev score (0: never).")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress on stderr.")] = False,
):
    """Train a tagger on tagged corpora and write one model file.

    Example: rnncli train sample_corpora/tutorial.txt -o tutorial.npz
    """
    from . import corpus as corpora
    from .train import TrainConfig
    from .train import train as run

    sentences = [s for path in corpus for s in corpora.read_corpus(path, fmt and fmt.value, tag_column.value)]
    dev_sentences = corpora.read_corpus(dev, fmt and fmt.value, tag_column.value) if dev else None
    config = TrainConfig(hidden=hidden, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed,
                         optimizer=optimizer.value, clip=clip, bidirectional=bidirectional, layers=layers,
                         features=features.value, word_dropout=word_dropout, dropout=dropout, patience=patience)
    from .progress import TrainingDisplay

    with TrainingDisplay(quiet=quiet) as display:
        tagger = run(sentences, dev_sentences, config, display.update)
    tagger.info["corpus"] = [str(p) for p in corpus]
    tagger.info["tag_column"] = tag_column.value
    tagger.save(output)
    display.summary(tagger, output)


def _read_lines(texts: list[str], inputs: list[Path]):
    """(source, line number, text) from the arguments, then the files ('-': stdin)."""
    for n, text in enumerate(texts, 1):
        for line in text.splitlines() or [""]:
            yield "argument", n, line
    for path in inputs:
        name = "<stdin>" if str(path) == "-" else str(path)
        if str(path) == "-":
            stream = sys.stdin.buffer
        else:
            from .corpus import open_corpus

            stream = open_corpus(path)
        try:
            for n, raw in enumerate(stream, 1):
                try:
                    yield name, n, raw.decode("utf-8").rstrip("\r\n")
                except UnicodeDecodeError as e:
                    raise RnncliError(f"{name}:{n}: not valid UTF-8 (byte 0x{raw[e.start]:02x})") from None
        finally:
            if stream is not sys.stdin.buffer:
                stream.close()


@app.command()
def tag(
    text: Annotated[Optional[list[str]], typer.Argument(help="Sentences to tag, one per argument.")] = None,
    inputs: Annotated[Optional[list[Path]], typer.Option(
        "--input", "-i", help="File to tag, one sentence per line; '-' for stdin. Repeatable.")] = None,
    model: ModelOption = None,
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")] = OutputFormat.slash,
    pretokenized: Annotated[bool, typer.Option(help="Split on whitespace only; no tokeniser.")] = False,
):
    """Tag text: arguments, files, or stdin, one output sentence per input line.

    Example: rnncli tag "I eat apple"    or    cat text.txt | rnncli tag --format jsonl
    """
    from .tagging import tag_stream

    texts, files = list(text or []), list(inputs or [])
    if not texts and not files:
        if sys.stdin.isatty():
            raise typer.BadParameter("nothing to tag: give TEXT, --input FILE, or pipe text in", param_hint="TEXT")
        files = [Path("-")]
    tagger = _load(model)
    tag_stream(tagger, _read_lines(texts, files), sys.stdout, fmt.value, pretokenized)


@app.command()
def unroll(
    sentence: Annotated[str, typer.Argument(help="Sentence to run the network over.")] = "I eat apple",
    model: ModelOption = None,
    show_hidden: Annotated[bool, typer.Option(help="Draw each hidden state s_t as a heat strip.")] = False,
    as_json: JsonOption = False,
    pretokenized: Annotated[bool, typer.Option(help="Split on whitespace only; no tokeniser.")] = False,
):
    """Unroll the network over a sentence: x_t, s_t and o_t at every time step.

    Example: rnncli unroll "I eat apple" --show-hidden
    """
    from .explain import unroll as run
    from .tokenize import tokenize

    words = sentence.split() if pretokenized else tokenize(sentence)
    if not words:
        raise typer.BadParameter("the sentence has no words", param_hint="SENTENCE")
    data = run(_load(model), words)
    if as_json:
        _print_json(data)
        return
    from .render import unroll_view

    _stdout_console().print(unroll_view(data, show_hidden))


@app.command()
def inspect(
    model_path: Annotated[Optional[Path], typer.Argument(metavar="[MODEL]", help="Model file (same as --model).")] = None,
    model: ModelOption = None,
    as_json: JsonOption = False,
):
    """Show what a model is: formula, shapes, vocabulary, tags, training record, weights.

    Example: rnncli inspect tutorial.npz
    """
    from .explain import model_card

    if model_path and model and model_path != model:
        raise typer.BadParameter("give the model either as MODEL or as --model, not both")
    card = model_card(_load(model_path or model))
    if as_json:
        _print_json(card)
        return
    from .render import card_view

    _stdout_console().print(card_view(card))


@app.command("eval")
def evaluate(
    corpus: Annotated[Path, typer.Argument(help="Gold-tagged corpus to score the model on.")],
    model: ModelOption = None,
    fmt: FormatOption = None,
    tag_column: TagColumnOption = TagColumn.upos,
    as_json: JsonOption = False,
):
    """Score a model on a gold corpus: accuracy, known/unknown words, per-tag F1, confusions.

    Example: rnncli eval sample_corpora/tutorial.txt --model tutorial.npz
    """
    from .corpus import read_corpus
    from .metrics import score

    tagger = _load(model)
    gold = read_corpus(corpus, fmt and fmt.value, tag_column.value)
    words = [s.words for s in gold]
    report = score([s.tags for s in gold], tagger.tag(words), words, tagger.vocab.is_known)
    if as_json:
        _print_json(report)
        return
    from .render import eval_view

    _stdout_console().print(eval_view(report, f"{corpus}: {len(gold):,} sentences"))


def main() -> None:
    app(prog_name="rnncli")
