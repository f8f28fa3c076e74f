"""The command line: parse, call the library, render. Errors become one line on stderr."""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import signal
import sys
import threading
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from typer.core import TyperGroup

try:  # newer Typer ships its own copy of Click
    from typer._click.exceptions import UsageError
except ImportError:
    from click.exceptions import UsageError

from .errors import RnncliError, shown


class _Group(TyperGroup):
    """Turns the project's errors, from any command, into one line and exit status 1."""

    def make_context(self, info_name, args, parent=None, **extra):
        # Errors in rnncli's own options (before any command) are one line too.
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except UsageError as e:
            if type(e).__name__ == "NoArgsIsHelpError":  # plain `rnncli` shows the help
                raise
            _err(f"{e.format_message().rstrip('.')} (see '{info_name} --help')")
            raise typer.Exit(2) from None

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except RnncliError as e:
            _err(str(e))
            raise typer.Exit(1) from None
        except BrokenPipeError:
            _closed_pipe()
        except MemoryError as e:  # e.g. --hidden far too large for this machine
            _err(f"out of memory ({e or 'no details'})")
            raise typer.Exit(1) from None
        except OSError as e:  # the library wraps its own I/O errors: this is writing the results
            _err(f"cannot write the output: {e.strerror or e}")
            raise typer.Exit(1) from None
        except UsageError as e:
            # One line, like every other error; the command's --help has the details.
            path = e.ctx.command_path if e.ctx else ctx.command_path
            _err(f"{e.format_message().rstrip('.')} (see '{path} --help')")
            raise typer.Exit(2) from None


app = typer.Typer(
    cls=_Group, add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="An Elman recurrent network that tags parts of speech: s_t = tanh(U x_t + W s_{t-1} + b), "
         "o_t = softmax(V s_t + c).",
)


def _show_version(value: bool) -> None:
    if value:
        from . import __version__

        sys.stdout.write(f"rnncli {__version__}\n")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[bool, typer.Option("--version", callback=_show_version, is_eager=True,
                                          help="Print rnncli's version and exit.")] = False,
) -> None:
    pass


def _closed_pipe() -> None:
    """The reader of standard output went away (`rnncli tag ... | head`): end quietly, killed by
    SIGPIPE as a Unix filter is, so that the shell sees status 141. SIGPIPE is ignored until
    now (Python's default) so that a broken pipe between rnncli's own processes is an error that
    the code sees, not a silent death."""
    try:  # nothing more reaches the closed pipe, not even Python's last flush
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGPIPE)
    raise typer.Exit(141)


def _err(message: str) -> None:
    sys.stderr.write(f"rnncli: error: {_one_line(message)}\n")


def _one_line(message: str) -> str:
    """The last guard of "one line": a control character that reached a message (in a name
    that Click quotes its own way, say) is written as an escape, never as itself."""
    return message if message.isprintable() else "".join(c if c.isprintable() else shown(c)[2:-1] for c in message)


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
    if not 0 < value < float("inf"):
        raise typer.BadParameter(f"must be a finite number greater than 0, got {value}")
    return value


def _finite(value: float) -> float:
    if not math.isfinite(value):  # the model's metadata is JSON, which has no infinity
        raise typer.BadParameter(f"must be a finite number, got {value}")
    return value


def _load(model: Path | None):
    from .tagger import Tagger, default_model_path, resolve_model_path

    path = resolve_model_path(model)
    if path == default_model_path() and not path.exists():
        raise RnncliError(f"{shown(path)}: the bundled model is missing; build it with scripts/build_default_model.py")
    from_env = not model and os.environ.get("RNNCLI_MODEL")  # an error must say where the name came from
    return Tagger.load(path, shown(path) + " (from $RNNCLI_MODEL)" if from_env else None)


def _stdout_console():
    from rich.console import Console

    return Console(highlight=False, markup=False)  # tags and paths are data, never markup


def _print_json(obj) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")


# Hyper-parameters that a checkpoint fixes: giving another value with --resume is a usage error.
_CHECKPOINTED = ("hidden", "lr", "batch_size", "seed", "optimizer", "clip", "bidirectional", "layers",
                 "features", "dropout", "word_dropout", "average", "char_hidden", "adversarial")


def _warn(message: str) -> None:
    sys.stderr.write(f"rnncli: warning: {_one_line(message)}\n")


def _read_corpora(paths: list[Path], fmt, tag_column: str, strict: bool, what: str):
    """Sentences of every file. Malformed sentences are skipped with a warning that counts
    them, or, with ``strict``, stop everything at the first one."""
    from .corpus import read_corpus

    sentences = []
    for path in paths:
        problems: list[str] | None = None if strict else []
        try:
            sentences += read_corpus(path, fmt and fmt.value, tag_column, problems)
        finally:
            if problems:
                n = len(problems)
                _warn(f"skipped {n} malformed {what} sentence{'s' * (n != 1)}; first: {problems[0]} "
                      f"(--strict makes this an error)")
    return sentences


@app.command()
def train(
    ctx: typer.Context,
    corpus: Annotated[list[Path], typer.Argument(help="Tagged corpus file(s) to train on.", dir_okay=True)],
    dev: Annotated[Optional[Path], typer.Option(help="Tagged corpus to pick the best epoch by.")] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="Model file to write.", dir_okay=False)] = Path("model.npz"),
    hidden: Annotated[int, typer.Option(min=1, help="Hidden units H (the size of s_t).")] = 64,
    epochs: Annotated[int, typer.Option(min=1, help="Passes over the corpus.")] = 10,
    lr: Annotated[float, typer.Option(callback=_positive, help="Learning rate.")] = 0.01,
    batch_size: Annotated[int, typer.Option(min=1, help="Sentences per update.")] = 16,
    seed: Annotated[int, typer.Option(min=0, help="Random seed: the same seed gives the same model.")] = 0,
    fmt: FormatOption = None,
    tag_column: TagColumnOption = TagColumn.upos,
    bidirectional: Annotated[bool, typer.Option(help="Add a backward RNN over each sentence.")] = False,
    layers: Annotated[int, typer.Option(min=1, max=4, help="Stacked RNN layers.")] = 1,
    features: Annotated[Features, typer.Option(
        help="x_t: 'word' is the tutorial's one-hot word; 'form' adds suffixes, prefixes and shape.")] = Features.word,
    dropout: Annotated[float, typer.Option(min=0.0, max=0.9, help="Dropout on each layer's input and output.")] = 0.0,
    word_dropout: Annotated[float, typer.Option(
        min=0.0, callback=_finite,
        help="A word seen n times is replaced by <unk> with probability a/(a+n) during training.")] = 0.25,
    char_hidden: Annotated[int, typer.Option(
        min=0, help="Units of a character-level Elman RNN that reads each word's letters into x_t (0: none).")] = 0,
    adversarial: Annotated[float, typer.Option(
        min=0.0, callback=_finite,
        help="Adversarial training: run each batch again with the first layer's inputs U x_t pushed "
             "along the gradient of the loss, by this much per token (root mean square; a trained "
             "U x_t in the bundled model has a norm of about 11). 0: off.")] = 0.0,
    average: Annotated[float, typer.Option(
        min=0.0, max=0.99999, help="Keep an exponential moving average of the weights with this decay "
                                   "(e.g. 0.999) and save it (0: off).")] = 0.0,
    optimizer: Annotated[Optimizer, typer.Option(help="Update rule.")] = Optimizer.adam,
    clip: Annotated[float, typer.Option(min=0.0, callback=_finite, help="Largest gradient norm (0: no clipping).")] = 5.0,
    patience: Annotated[int, typer.Option(min=0, help="Stop after this many epochs without a better dev score (0: never).")] = 0,
    strict: Annotated[bool, typer.Option(help="Stop at the first malformed sentence instead of skipping it.")] = False,
    checkpoint: Annotated[Optional[Path], typer.Option(
        help="Where Ctrl-C or SIGTERM saves a checkpoint. Default: the output file with .ckpt.npz.", dir_okay=False)] = None,
    resume: Annotated[Optional[Path], typer.Option(
        help="Continue from a checkpoint written when training was interrupted.", dir_okay=False)] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress on stderr.")] = False,
):
    """Train a tagger on tagged corpora and write one model file.

    Malformed sentences are skipped with a warning (--strict: an error). Ctrl-C or SIGTERM stops at once, leaves the output file as it was and saves a checkpoint for --resume.

    Example: rnncli train sample_corpora/tutorial.txt -o tutorial.npz
    """
    _one_blas_thread()
    from .train import Diverged, Interrupted, TrainConfig, fingerprint, save_checkpoint
    from .train import train as run

    if patience and dev is None:
        raise typer.BadParameter("--patience needs --dev to measure progress", param_hint="--patience")
    if tag_column is not TagColumn.upos:
        _check_tag_column([*corpus, *([dev] if dev else [])], fmt)
    inputs = {p.resolve() for p in [*corpus, *([dev] if dev else [])]}
    if output.resolve() in inputs:
        raise typer.BadParameter(f"{shown(output)} is an input corpus; refusing to overwrite it", param_hint="--output")
    checkpoint = checkpoint or output.with_name(output.name.removesuffix(".npz") + ".ckpt.npz")
    if checkpoint.resolve() in inputs | {output.resolve()}:
        raise typer.BadParameter(f"{shown(checkpoint)} is an input corpus or the output; refusing to overwrite it",
                                 param_hint="--checkpoint")
    for path in (output, checkpoint):  # found out now, not after the training it would lose
        _check_writable(path)
    config = TrainConfig(hidden=hidden, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed,
                         optimizer=optimizer.value, clip=clip, bidirectional=bidirectional, layers=layers,
                         features=features.value, word_dropout=word_dropout, dropout=dropout, patience=patience,
                         average=average, char_hidden=char_hidden, adversarial=adversarial)
    state = data_id = None
    if resume:
        state, config, data_id = _resumed(ctx, resume, config)

    with _stop_signals() as stopped:
        try:
            sentences = _read_corpora(corpus, fmt, tag_column.value, strict, "training")
            dev_sentences = _read_corpora([dev], fmt, tag_column.value, strict, "dev") if dev else None
            data_id_now = f"{fingerprint(sentences)}/{fingerprint(dev_sentences) if dev_sentences else 'no dev'}"
            if resume and data_id != data_id_now:
                raise RnncliError(f"{shown(resume)}: this checkpoint was made from other training or dev data")
            from .progress import TrainingDisplay

            with TrainingDisplay(quiet=quiet) as display:
                tagger = run(sentences, dev_sentences, config, display.update, resume=state)
            stopped.phase = "writing"
            _finish(tagger, corpus, tag_column, output)
        except Interrupted as e:
            stopped.hold()  # a second Ctrl-C must not cut the checkpoint short
            what = f"{stopped.word} in epoch {e.state.epoch + 1}; {shown(output)} not written"
            try:
                save_checkpoint(checkpoint, e.state, config, data_id_now)
            except RnncliError as failed:
                _err(f"{what}; no checkpoint: {failed}")
                raise typer.Exit(stopped.status) from None
            _err(f"{what}; checkpoint saved to {shown(checkpoint)}; "
                 f"continue with the same command and --resume {shown(checkpoint)}")
            raise typer.Exit(stopped.status) from None
        except KeyboardInterrupt:
            if stopped.phase == "writing":
                _err(f"{stopped.word} while writing {shown(output)}; it is unchanged")
            else:
                _err(f"{stopped.word} before training began; {shown(output)} not written")
            raise typer.Exit(stopped.status) from None
        except Diverged as e:
            if e.best is None:
                raise
            stopped.phase = "writing"
            _finish(e.best, corpus, tag_column, output)
            raise RnncliError(f"{e}; kept the best model so far (epoch {e.best.info['training']['best_epoch']}) "
                              f"in {shown(output)}") from None
    display.summary(tagger, output)
    if resume and checkpoint.resolve() == resume.resolve():
        checkpoint.unlink(missing_ok=True)


class _Stopped:
    """Which signal stopped training, and what it was doing then."""

    def __init__(self):
        self.signal, self.phase = None, "training"

    @property
    def word(self) -> str:
        return "terminated (SIGTERM)" if self.signal == signal.SIGTERM else "interrupted"

    @property
    def status(self) -> int:
        return 128 + (self.signal or 2)  # 130 for Ctrl-C, 143 for SIGTERM, as the shell reports them

    def hold(self) -> None:
        for number in (signal.SIGINT, signal.SIGTERM):
            signal.signal(number, signal.SIG_IGN)


@contextlib.contextmanager
def _stop_signals():
    """Ctrl-C and SIGTERM (what timeout, kill, systemd and batch schedulers send) stop training
    the same way: a KeyboardInterrupt where it stands, so that the loop saves a checkpoint and
    a file being written is left as it was."""
    stopped = _Stopped()

    def stop(number, _frame):
        stopped.signal = number
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
        yield stopped
        return
    previous = {number: signal.signal(number, stop) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stopped
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _resumed(ctx: typer.Context, resume: Path, config):
    """(state, config, data fingerprint) from a checkpoint. Its hyper-parameters stand; one given
    on the command line must agree, except --epochs (not fewer than done) and --patience."""
    from .train import TrainConfig, load_checkpoint

    state, saved, data_id = load_checkpoint(resume)

    def given(name: str) -> bool:
        return ctx.get_parameter_source(name).name == "COMMANDLINE"

    for name in _CHECKPOINTED:
        if given(name) and getattr(config, name) != getattr(saved, name):
            raise typer.BadParameter(f"{getattr(config, name)} conflicts with the checkpoint's {getattr(saved, name)}",
                                     param_hint="--" + name.replace("_", "-"))
    epochs = config.epochs if given("epochs") else saved.epochs
    if epochs < state.epoch:
        raise typer.BadParameter(f"{epochs} is fewer than the {state.epoch} epochs the checkpoint has done",
                                 param_hint="--epochs")
    patience = config.patience if given("patience") else saved.patience
    return state, TrainConfig.from_dict({**vars(saved), "epochs": epochs, "patience": patience}), data_id


def _check_writable(path: Path) -> None:
    directory = path.parent
    if not directory.is_dir():
        raise RnncliError(f"{shown(path)}: cannot write (no directory {shown(directory)})")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise RnncliError(f"{shown(path)}: cannot write (permission denied in {shown(directory)})")


def _check_tag_column(paths: list[Path], fmt) -> None:
    """--tag-column xpos names a CoNLL-U column: every corpus must be CoNLL-U."""
    from .corpus import file_format

    for path in paths:
        found = fmt.value if fmt else file_format(path)
        if found != "conllu":
            raise typer.BadParameter(f"applies to CoNLL-U corpora; {shown(path)} is read as {found}",
                                     param_hint="--tag-column")


def _finish(tagger, corpus: list[Path], tag_column: TagColumn, output: Path) -> None:
    # A file name need not be UTF-8; the metadata is: other bytes are kept as \x escapes.
    tagger.info["corpus"] = [os.fsencode(p).decode("utf-8", "backslashreplace") for p in corpus]
    tagger.info["tag_column"] = tag_column.value
    tagger.save(output)


def _check_argument(text: str, what: str) -> None:
    """Python hands on bytes of an argument that are not UTF-8 as lone surrogates; refuse them
    as a file's invalid bytes are refused, rather than write them out."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise RnncliError(f"{what}: not valid UTF-8 (byte 0x{ord(text[e.start]) & 0xFF:02x})") from None


def _one_blas_thread() -> None:
    """Tagging and training multiply small matrices, where a second BLAS thread gains little on
    idle cores and, with the cores busy (the other programs of a pipeline, --jobs workers, a
    shared cluster node), costs several times over, up to tens of times for a large output
    layer: each thread waits for the others at every product. So one, unless the environment
    says otherwise (scripts/benchmark_speed.py, sections 'load' and 'train-load', measure both)."""
    variables = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
    if "numpy" not in sys.modules and not any(v in os.environ for v in variables):
        os.environ.update(dict.fromkeys(variables, "1"))


def _read_lines(texts: list[str], inputs: list[Path]):
    """(source, line number, text) from the arguments, then the files ('-': stdin)."""
    for n, text in enumerate(texts, 1):
        _check_argument(text, f"argument {n}")
        for line in text.removesuffix("\n").split("\n"):  # as in files: no other Unicode line breaks
            yield "argument", n, line.removesuffix("\r")
    from .corpus import open_corpus, text_lines

    for path in inputs:
        stdin = str(path) == "-"
        name = "<stdin>" if stdin else shown(path)
        stream = sys.stdin.buffer if stdin else open_corpus(path)
        try:
            for n, line in text_lines(name, stream):
                yield name, n, line
        finally:
            if not stdin:
                stream.close()


@app.command()
def tag(
    text: Annotated[Optional[list[str]], typer.Argument(help="Sentences to tag, one per argument.")] = None,
    inputs: Annotated[Optional[list[Path]], typer.Option(
        "--input", "-i", help="File to tag, one sentence per line; '-' for stdin. Repeatable.")] = None,
    model: ModelOption = None,
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")] = OutputFormat.slash,
    pretokenized: Annotated[bool, typer.Option(help="Split on whitespace only; no tokeniser.")] = False,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, max=256, help="Worker processes for large inputs.")] = 1,
):
    """Tag text: arguments, files, or stdin, one output sentence per input line.

    Example: rnncli tag "I eat apple"    or    cat text.txt | rnncli tag --format jsonl
    """
    _one_blas_thread()
    from .tagging import tag_stream

    texts, files = list(text or []), list(inputs or [])
    if not texts and not files:
        if sys.stdin.isatty():
            raise typer.BadParameter("nothing to tag: give TEXT, --input FILE, or pipe text in", param_hint="TEXT")
        files = [Path("-")]
    tagger = _load(model)
    tag_stream(tagger, _read_lines(texts, files), sys.stdout, fmt.value, pretokenized, jobs=jobs)


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

    _check_argument(sentence, "SENTENCE")
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
    tag_column: Annotated[Optional[TagColumn], typer.Option(
        help="CoNLL-U column to read gold tags from. Default: the one the model was trained on.")] = None,
    strict: Annotated[bool, typer.Option(help="Stop at the first malformed sentence instead of skipping it.")] = False,
    as_json: JsonOption = False,
):
    """Score a model on a gold corpus: accuracy, known/unknown words, per-tag F1, confusions.

    Example: rnncli eval sample_corpora/tutorial.txt --model tutorial.npz
    """
    _one_blas_thread()
    from .metrics import score

    tagger = _load(model)
    column = tag_column.value if tag_column else tagger.info.get("tag_column", "upos")
    if tag_column is TagColumn.xpos:  # given by the user: it must name a column of the file
        _check_tag_column([corpus], fmt)
    gold = _read_corpora([corpus], fmt, column, strict, "gold")
    unseen = {t for s in gold for t in s.tags} - set(tagger.tags)
    if unseen:
        _warn(f"{len(unseen)} gold tag(s) the model does not have, so never predicts: "
              f"{' '.join(sorted(unseen)[:8])}{' ...' if len(unseen) > 8 else ''}")
    words = [s.words for s in gold]
    report = score([s.tags for s in gold], tagger.tag(words), words, tagger.vocab.is_known)
    if as_json:
        _print_json(report)
        return
    from .render import eval_view

    _stdout_console().print(eval_view(report, f"{shown(corpus)}: {len(gold):,} sentences"))


def main() -> None:
    if sys.stdin is None:  # started with stdin closed: reading it finds nothing, as from /dev/null
        sys.stdin = open(os.devnull)
    if sys.stdout is None:  # started with stdout closed: writing to it is the error it would be
        sys.stdout = _Closed()
    app(prog_name="rnncli")


class _Closed:
    """Stands in for a closed standard output: any write fails like a write to a closed descriptor."""

    def write(self, _text: str) -> int:
        raise OSError(errno.EBADF, "standard output is closed")

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False
