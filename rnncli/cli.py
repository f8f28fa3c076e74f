"""The command line: parse, call the library, render. Errors become one line on stderr."""

from __future__ import annotations

import errno
import gc
import io
import json
import math
import os
import re
import signal
import stat
import sys
from enum import Enum
from inspect import Parameter
from inspect import signature as signature_of
from pathlib import Path
from typing import Annotated, Optional

import typer
from typer.core import TyperGroup

try:  # newer Typer ships its own copy of Click
    from typer._click.exceptions import UsageError
except ImportError:
    from click.exceptions import UsageError

from .config import BLAS_VARIABLES, OPTIONS, RECASINGS, RESUMABLE, TrainConfig, check
from .corpus import (FORMATS, OUTPUT_FORMATS, TAG_COLUMNS, check_stdin_once, check_tag_column, corpus_name, open_corpus,
                     read_corpora, restore_stdin, text_lines)
from .errors import OptionError, RnncliError, printable, shown
from .output import Lines, raw_of, utf8_stream, widened


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
            result = super().invoke(ctx)
            sys.stdout.flush()  # here, so that a failing write is reported as every other error is
            return result
        except OptionError as e:  # found by the library: reported like Click's own usage errors
            _err(f"Invalid value for {e.option}: {e} (see '{ctx.command_path} {ctx.invoked_subcommand} --help')")
            raise typer.Exit(e.status) from None
        except RnncliError as e:
            _err(str(e))
            raise typer.Exit(e.status) from None
        except BrokenPipeError:
            _closed_pipe()
        except MemoryError as e:  # e.g. --hidden far too large for this machine
            _err(f"out of memory ({e or 'no details'})")
            raise typer.Exit(1) from None
        except OSError as e:  # the library wraps its own I/O errors: this is writing the results
            _err(f"cannot write the output: {e.strerror or e}")
            _discard_output()
            raise typer.Exit(1) from None
        except UsageError as e:
            # One line, like every other error; the command's --help has the details.
            path = e.ctx.command_path if e.ctx else ctx.command_path
            _err(f"{e.format_message().rstrip('.')} (see '{path} --help')")
            raise typer.Exit(2) from None


app = typer.Typer(
    cls=_Group, no_args_is_help=True, pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="An Elman recurrent network that tags parts of speech: s_t = tanh(U x_t + W s_{t-1} + b), "
         "o_t = softmax(V s_t + c).",
)


def _show_version(value: bool) -> None:
    if value:
        from . import __version__  # read from the package metadata: only --version needs it

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
    _discard_output()
    if hasattr(signal, "SIGPIPE"):
        restore_stdin()  # the signal ends rnncli before atexit would
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGPIPE)
    raise typer.Exit(141)


def _discard_output() -> None:
    """After standard output failed, what is still buffered for it goes nowhere: Python's last
    flush at exit would fail again, with a traceback-like warning and status 120."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def _err(message: str) -> None:
    try:  # a terminal that hung up (SIGHUP) cannot show the message; the status still says it
        sys.stderr.write(f"rnncli: error: {printable(message)}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def _choices(name: str, values) -> type[Enum]:
    """An Enum of the library's own list of choices, for Typer to offer and check."""
    return Enum(name, {v: v for v in values}, type=str)


CorpusFormat = _choices("CorpusFormat", FORMATS)
OutputFormat = _choices("OutputFormat", OUTPUT_FORMATS)
TagColumn = _choices("TagColumn", TAG_COLUMNS)
Case = _choices("Case", RECASINGS)


def _complete_model(incomplete: str) -> list[str]:
    """Shell completion of --model: the bundled models' names, then model files and folders."""
    from glob import escape, glob  # only completing --model needs these: not at start-up

    from .loader import BUNDLED  # the loader brings NumPy: only completing --model needs it

    paths = [p + "/" if os.path.isdir(p) else p for p in sorted(glob(escape(incomplete) + "*"))]
    return [name for name in BUNDLED if name.startswith(incomplete)] + [p for p in paths if p.endswith((".npz", "/"))]


ModelOption = Annotated[Optional[str], typer.Option(
    "--model", "-m", metavar="MODEL", autocompletion=_complete_model,
    help="Model file, or a model bundled with rnncli by name: 'default' (English) or 'tutorial' (the "
         "tutorial's small network). Default: $RNNCLI_MODEL, else 'default'. A name never contains a "
         "path separator or ends in .npz: ./tutorial is a file.")]
FormatOption = Annotated[Optional[CorpusFormat], typer.Option(
    "--format", "-f", help="Corpus format. Default: from the extension (.conllu, .tsv), else from the content.")]
TagColumnOption = Annotated[TagColumn, typer.Option(help="CoNLL-U column to read tags from.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")]
FigureOption = Annotated[Optional[Path], typer.Option(
    "--svg", metavar="FILE", dir_okay=False,
    help="Also draw the tutorial's figure of the network unrolled over the sentence into an SVG file: "
         "x_t, s_t as a strip of units, o_t, and the arrows U, W, V. Example: --svg figure.svg")]
TerminalSvgOption = Annotated[Optional[Path], typer.Option(
    "--svg-terminal", metavar="FILE", dir_okay=False,
    help="Also save the view as the terminal draws it, as an SVG picture (with --json: only there).")]


def _load(model: str | None):
    from .loader import load  # NumPy and the model: only the commands that read one

    return load(model)


def _stdout_console(record: bool = False):
    from rich.console import Console  # Rich: only the views draw with it, `tag` never does

    class StdoutConsole(Console):
        def on_broken_pipe(self) -> None:
            raise BrokenPipeError  # ended as every command's closed pipe is (141), not by Rich's exit(1)

    return widened(StdoutConsole(highlight=False, markup=False, record=record))  # tags and paths are data, never markup


def _print_json(obj) -> None:
    try:  # NaN or infinity would make it JavaScript, not JSON
        text = json.dumps(obj, ensure_ascii=False, allow_nan=False)
    except ValueError:
        raise RnncliError("the result holds numbers that are not finite (NaN or infinity); no JSON written") from None
    sys.stdout.write(text + "\n")


def _step_size(value: float | None) -> float | None:
    if value is not None and not 0 < value < math.inf:
        raise typer.BadParameter(f"must be a finite number greater than 0, not {value}")
    return value


FLOAT32_MAX = 3.4028234663852886e38  # the weights are float32: a factor beyond this is infinite there


def _scale(value: float | None) -> float | None:
    if value is not None and not -FLOAT32_MAX <= value <= FLOAT32_MAX:
        raise typer.BadParameter(f"must be a number float32 can hold, from {-FLOAT32_MAX!r} to {FLOAT32_MAX!r}; "
                                 f"not {value!r}")
    return value


def _save_figure(path: Path, picture: str) -> None:
    from .modelfile import write_atomically  # it brings NumPy: only --svg needs it here

    data = picture.encode("utf-8")
    write_atomically(path, lambda f: f.write(data))


def _show(view, svg: Path | None, title: str, to_stdout: bool = True) -> None:
    """Print a Rich view and, with ``svg``, save the same view, recorded as it is drawn, as an
    SVG picture. With ``to_stdout`` False (``--json``) it is drawn into the picture only."""
    console = _stdout_console(record=svg is not None)
    if not to_stdout:
        from rich.console import Console  # Rich: only the views draw with it

        console = Console(file=io.StringIO(), width=console.width, highlight=False, markup=False, record=True)
    console.print(view)
    if svg is not None:
        from .modelfile import write_atomically  # it brings NumPy: only --svg-terminal needs it here

        picture = _xml_text(console.export_svg(title=title)).encode("utf-8")
        write_atomically(svg, lambda f: f.write(picture))


def _xml_text(text: str) -> str:
    """What XML cannot hold, made visible: a control character (from a word of the sentence,
    say) as its Unicode picture (ESC as U+241B), a lone surrogate as U+FFFD."""
    def safe(m: re.Match) -> str:
        n = ord(m.group())
        return chr(0x2400 + n) if n < 0x20 else "\ufffd"

    return re.sub("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]", safe, text)


def _check_pictures(**options: Path | None) -> None:
    """Each picture to be written (option name -> path, None: none), checked before any work is
    done: its directory writable, and the path not a file that holds something else (the
    model being read, a corpus): an SVG picture or an empty file is replaced, nothing else."""
    from .modelfile import check_replaceable, check_writable  # NumPy: only commands that write a file check one

    given = {name: path for name, path in options.items() if path}
    for name, path in given.items():
        check_writable(path)
        check_replaceable(path, "--" + name.replace("_", "-"), _is_svg, "an SVG picture", 1 << 16)
    if len(given) == 2 and len({os.path.realpath(p) for p in given.values()}) == 1:
        raise OptionError("--svg-terminal", "the same file as --svg: give each picture its own file")


def _is_svg(head: bytes) -> bool:
    """Whether a file's first bytes are those of an SVG picture: XML (a declaration, a comment,
    a doctype or the element itself first) with an <svg element."""
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith((b"<?xml", b"<!--", b"<!DOCTYPE", b"<svg")) \
        and b"<svg" in head


def _warn(message: str) -> None:
    try:  # a stderr that cannot be written (a full disk) loses the warning, not the command's work
        sys.stderr.write(f"rnncli: warning: {printable(message)}\n")
    except (OSError, ValueError):
        pass


_HYPER_PANEL = f"Hyper-parameters (fixed by a checkpoint but {', '.join('--' + n.replace('_', '-') for n in RESUMABLE)})"


def _plain(help: str) -> str:
    """Help text shown as written: Typer draws help with Rich, which would take "[lexicon]" in
    "rnncli[lexicon]" for a style and drop it."""
    return help.replace("[", "\\[")


def _hyper_parameters(command):
    """Adds to ``command`` an option for each hyper-parameter of ``TrainConfig``, with the help,
    range and choices its field declares: the dataclass is the one list of them."""
    signature = signature_of(command, eval_str=True)
    params = [p for p in signature.parameters.values() if p.kind is not p.VAR_KEYWORD]
    for f in OPTIONS:
        kind, default = {"int": int, "float": float, "bool": bool, "str": str}[f.type], f.default
        if "choices" in f.metadata:
            kind = _choices(f.name.title(), f.metadata["choices"])
            default = kind(default)

        option = typer.Option("--" + f.name.replace("_", "-"), help=_plain(f.metadata["help"]), callback=_validator(f),
                              rich_help_panel=_HYPER_PANEL)
        params.append(Parameter(f.name, Parameter.KEYWORD_ONLY, default=default,
                                        annotation=Annotated[kind, option]))
    command.__signature__ = signature.replace(parameters=params)
    return command


def _sentence(text: Optional[str]) -> Optional[str]:
    if text is not None:
        text = _text_argument(text, "--watch")
        if not text.split():
            raise typer.BadParameter("the sentence has no words")
    return text


def _validator(f):
    def validate(value):
        plain = value.value if isinstance(value, Enum) else value
        problem = check(f, plain)
        if problem:
            raise typer.BadParameter(problem)
        return plain  # Typer turns a choice into its Enum after the callback, whatever it was given
    return validate


@app.command()
@_hyper_parameters
def train(
    ctx: typer.Context,
    corpus: Annotated[list[str], typer.Argument(  # str, not Path: Path("./-") is "-", stdin
        metavar="CORPUS...", help="Tagged corpus file(s) to train on; '-' for stdin (with --format).")],
    dev: Annotated[Optional[str], typer.Option(metavar="PATH", help="Tagged corpus to pick the best epoch by.")] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="Model file to write.", dir_okay=False)] = Path("model.npz"),
    fmt: FormatOption = None,
    tag_column: TagColumnOption = TagColumn.upos,
    strict: Annotated[bool, typer.Option(help="Stop at the first malformed sentence instead of skipping it.")] = False,
    checkpoint: Annotated[Optional[Path], typer.Option(
        help="Where Ctrl-C, SIGTERM, SIGHUP or SIGQUIT, or a model that cannot be written, saves a checkpoint. "
             "Default: the output file with .ckpt.npz.", dir_okay=False)] = None,
    resume: Annotated[Optional[Path], typer.Option(
        help="Continue from a checkpoint written when training was interrupted.", dir_okay=False)] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress on stderr.")] = False,
    watch: Annotated[Optional[str], typer.Option(
        metavar="SENTENCE", callback=_sentence,
        help="After each epoch, show this sentence's tags and its loss L = sum_t -log o_t\\[y_t], against the "
             "tags given as word/TAG, else against the network's own. Example: --watch \"they fish\"")] = None,
    **hyper,
):
    """Train a tagger on tagged corpora and write one model file.

    Malformed sentences are skipped with a warning (--strict: an error). Ctrl-C, SIGTERM, SIGHUP or SIGQUIT stops at once, leaves the output file as it was and saves a checkpoint for --resume; so does a model that cannot be written (a full disk).

    Example: rnncli train sample_corpora/tutorial.txt -o tutorial.npz

    Example: rnncli train sample_corpora/tutorial.txt -o t.npz --watch "they fish"
    """
    _one_blas_thread()
    # NumPy, after the BLAS thread count is set, and the trainer's display: `train` alone needs them.
    from .progress import TrainingDisplay
    from .train import Trainer

    config = TrainConfig(**{k: v.value if isinstance(v, Enum) else v for k, v in hyper.items()})
    given = [k for k in hyper if ctx.get_parameter_source(k).name == "COMMANDLINE"]
    trainer = Trainer(config, corpus, output, dev, fmt and fmt.value, tag_column.value, strict, checkpoint,
                      resume, given, warn=_warn)
    with TrainingDisplay(quiet=quiet, watch=watch, warn=_warn) as display:
        trainer.callback = display.update
        tagger = trainer.run()
    display.summary(tagger, output)
    from .loader import BUNDLED  # loaded by training already

    if str(output) in BUNDLED:
        _warn(f"{output} is also the name of a bundled model: --model {output} reads that one; "
              f"read this file as --model ./{output}")


def _text_argument(text: str, what: str) -> str:
    """An argument's text, read as UTF-8 whatever the locale. Python decodes arguments with the
    locale's encoding and keeps each byte it cannot decode as a lone surrogate: under LC_ALL=C
    (ASCII) that is every byte of "café"'s é, which the same bytes read as UTF-8 give back.
    Bytes that are not UTF-8 either are refused, as a file's invalid bytes are. A byte-order
    mark that starts it (pasted from a file) is dropped, as a file's is."""
    try:
        text.encode("utf-8")
        return text.removeprefix("\ufeff")
    except UnicodeEncodeError:
        pass
    raw = os.fsencode(text)  # the argument's bytes as they were given
    try:
        return raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as e:
        raise RnncliError(f"{what}: not valid UTF-8 (byte 0x{raw[e.start]:02x})") from None


def _one_blas_thread() -> None:
    """Tagging and training multiply small matrices, where a second BLAS thread gains little on
    idle cores and, with the cores busy (the other programs of a pipeline, --jobs workers, a
    shared cluster node), costs several times over, up to tens of times for a large output
    layer: each thread waits for the others at every product. So one, unless the environment
    says otherwise (scripts/benchmark_speed.py, sections 'load' and 'train-load', measure both)."""
    if "numpy" not in sys.modules and not any(v in os.environ for v in BLAS_VARIABLES):
        os.environ.update(dict.fromkeys(BLAS_VARIABLES, "1"))


def _read_lines(texts: list[str], inputs: list[Path], read=None):
    """(source, line number, text) from the arguments, then the files ('-': stdin). ``read``,
    if given, is told now and then how many bytes of the files have been read."""
    for n, text in enumerate(texts, 1):
        text = _text_argument(text, f"argument {n}")
        for line in text.removesuffix("\n").split("\n"):  # as in files: no other Unicode line breaks
            yield "argument", n, line.removesuffix("\r")
    before = 0  # bytes of the files already read
    for path in inputs:
        name = corpus_name(path)
        with open_corpus(path) as stream:  # stdin: kept open, made blocking while read (corpus.stdin_bytes)
            for n, line in text_lines(name, stream):
                yield name, n, line
                if read is not None and not n % 1024:  # tell() is cheap, not free: not every line
                    read(before + stream.tell())
            if read is not None:
                before += stream.tell()
                read(before)


def _bytes_to_show(inputs: list[Path]) -> int | None:
    """The size of the files to read, if a bar of it is worth drawing: where a person watches
    stderr (a terminal, not TERM=dumb, not a CI log) and stdout goes elsewhere (tagged text
    on the same screen would tear the bar). None too for an input of no known size (a pipe)."""
    ci = os.environ.get("CI", "").lower() not in ("", "0", "false")
    if ci or os.environ.get("TERM") == "dumb" or sys.stderr is None or not sys.stderr.isatty() \
            or sys.stdout.isatty():
        return None
    total = 0
    for path in inputs:
        try:
            st = os.fstat(sys.stdin.fileno()) if str(path) == "-" else os.stat(path)
        except (OSError, ValueError):
            return None  # reading it names the problem
        if not stat.S_ISREG(st.st_mode):
            return None
        total += st.st_size
    return total or None


@app.command()
def tag(
    text: Annotated[Optional[list[str]], typer.Argument(help="Sentences to tag, one per argument.")] = None,
    inputs: Annotated[Optional[list[str]], typer.Option(  # str, not Path: Path("./-") is "-", stdin
        "--input", "-i", metavar="FILE", help="File to tag, one sentence per line; '-' for stdin. Repeatable.")] = None,
    model: ModelOption = None,
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")] = OutputFormat.slash,
    pretokenized: Annotated[bool, typer.Option(help="Split on whitespace only; no tokeniser.")] = False,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, max=256, help="Worker processes for large inputs.")] = 1,
    top: Annotated[Optional[int], typer.Option(
        min=1, metavar="K", help="With --format jsonl: each token's K most probable tags and their "
                                 "probabilities, best first (\"top\").")] = None,
):
    """Tag text: arguments, files, or stdin, one output sentence per input line.

    Input that can pause (a pipe, a terminal) is tagged as it comes: each line is answered as soon
    as no more follows it at once.

    Example: rnncli tag "I eat apple"

    Example: cat text.txt | rnncli tag --format jsonl --top 3
    """
    if top is not None and fmt is not OutputFormat.jsonl:
        raise typer.BadParameter("needs --format jsonl, where each token has room for its best tags",
                                 param_hint="--top")
    _one_blas_thread()
    from .stream import tag_stream  # the tokeniser's rules: not for the other commands' start-up

    texts, files = list(text or []), list(inputs or [])
    check_stdin_once(files, "--input")
    if not texts and not files:
        if sys.stdin.isatty():
            raise typer.BadParameter("nothing to tag: give TEXT, --input FILE, or pipe text in", param_hint="TEXT")
        files = [Path("-")]
    tagger = _load(model)
    raw = raw_of(sys.stdout)  # rnncli's own standard output (main), else one given in its place (tests)
    out = Lines(raw) if raw is not None else sys.stdout
    options = {"jobs": jobs, "paced": any(map(_can_pause, files)), "top": top, "warn": _warn}
    total = _bytes_to_show(files)
    if total is None:
        tag_stream(tagger, _read_lines(texts, files), out, fmt.value, pretokenized, **options)
        return
    from .progress import ReadingBar  # Rich: only a bar on a terminal needs it

    with ReadingBar(total) as bar:
        tag_stream(tagger, _read_lines(texts, files, bar.read), out, fmt.value, pretokenized, **options)


def _can_pause(path: Path) -> bool:
    """Whether an input can keep rnncli waiting for its next line (a pipe, a terminal, a
    socket), so that what came before is worth tagging meanwhile. A regular file never does."""
    try:
        mode = os.fstat(sys.stdin.fileno()).st_mode if str(path) == "-" else os.stat(path).st_mode
    except (OSError, ValueError):  # no descriptor (a test's stdin), or a file that reading will name
        return str(path) == "-"
    return not stat.S_ISREG(mode)


@app.command()
def unroll(
    sentence: Annotated[str, typer.Argument(help="Sentence to run the network over.")] = "I eat apple",
    model: ModelOption = None,
    show_hidden: Annotated[bool, typer.Option(help="Draw each hidden state s_t as a heat strip.")] = False,
    as_json: JsonOption = False,
    svg: FigureOption = None,
    svg_terminal: TerminalSvgOption = None,
    scale_w: Annotated[Optional[float], typer.Option(
        "--scale-w", metavar="X", callback=_scale,
        help="Run a copy of the network whose every recurrent matrix W is multiplied by X.")] = None,
    pretokenized: Annotated[bool, typer.Option(help="Split on whitespace only; no tokeniser.")] = False,
):
    """Unroll the network over a sentence: x_t, s_t and o_t at every time step.

    Example: rnncli unroll "I eat apple" --show-hidden

    Example: rnncli unroll "they fish" -m tutorial --show-hidden --svg fish.svg

    Example: rnncli unroll "they fish" -m tutorial --scale-w 2
    """
    _one_blas_thread()
    # NumPy, after the BLAS thread count is set, and the tokeniser's rules: for this command alone.
    from .explain import unroll as run
    from .tokenizer import line_tokens

    sentence = _text_argument(sentence, "SENTENCE")
    words = sentence.split() if pretokenized else line_tokens(sentence)
    if not words:
        raise typer.BadParameter("the sentence has no words", param_hint="SENTENCE")
    _check_pictures(svg=svg, svg_terminal=svg_terminal)
    data = run(_load(model), words, scale_w=scale_w)
    if svg:
        from .figure import unroll_figure  # only --svg draws the figure

        _save_figure(svg, unroll_figure(data))
    if as_json:
        _print_json(data)
        if not svg_terminal:
            return
    from .render import unroll_view  # Rich: only the views draw with it

    _show(unroll_view(data, show_hidden), svg_terminal, "rnncli unroll", to_stdout=not as_json)


@app.command()
def backprop(
    sentence: Annotated[str, typer.Argument(
        help="Sentence with its gold tags, word/TAG (\"I/nn eat/v apple/nn\"), or plain text, whose targets "
             "are then the network's own tags.")],
    model: ModelOption = None,
    as_json: JsonOption = False,
    svg: FigureOption = None,
    svg_terminal: TerminalSvgOption = None,
    lr: Annotated[Optional[float], typer.Option(
        callback=_step_size,
        help="Take a plain gradient step of this size on a copy of the network, p <- p - LR dL/dp, and "
             "show o_t of each target and the loss before and after. Example: --lr 0.05")] = None,
    steps: Annotated[int, typer.Option(
        "--steps", metavar="N", min=1, max=10_000,
        help="With --lr: take N such steps, showing the loss and each o_t\\[y_t] after each.")] = 1,
    scale_w: Annotated[Optional[float], typer.Option(
        "--scale-w", metavar="X", callback=_scale,
        help="Work on a copy of the network whose every recurrent matrix W is multiplied by X, to watch "
             "the error through W vanish (0.5) or explode (2). Example: --scale-w 0.5")] = None,
    pretokenized: Annotated[bool, typer.Option(help="Plain text: split on whitespace only; no tokeniser.")] = False,
):
    """Backpropagation through time over one sentence, as a lesson.

    Shows the loss, the error at the output, dL/ds_t of every chain (the part from this step's
    output and the part through W from the next step), where each step's loss sends its error
    (||dL_t/ds_k||), whether it vanishes or explodes, and the gradient of every array.

    Example: rnncli backprop "I/nn eat/v apple/nn" --model tutorial

    Example: rnncli backprop "fish/nn" -m tutorial --lr 0.05 --svg backprop.svg

    Example: rnncli backprop "they/nn fish/nn" -m tutorial --lr 0.05 --steps 5

    Example: rnncli backprop "we like to watch the fish" -m tutorial --scale-w 0.5
    """
    _one_blas_thread()
    from .lesson import backprop as run, parse_sentence, record  # NumPy, after the BLAS thread count is set

    sentence = _text_argument(sentence, "SENTENCE")
    if not sentence.split():
        raise typer.BadParameter("the sentence has no words", param_hint="SENTENCE")
    if steps != 1 and lr is None:
        raise typer.BadParameter("--steps needs --lr, the size of each step", param_hint="'--steps'")
    _check_pictures(svg=svg, svg_terminal=svg_terminal)
    tagger = _load(model)
    words, targets = parse_sentence(sentence, tagger.tags, pretokenized)
    if not words:
        raise typer.BadParameter("the sentence has no words", param_hint="SENTENCE")
    data = run(tagger, words, targets, lr, steps, scale_w)
    if svg:
        from .figure import backprop_figure  # only --svg draws the figure

        _save_figure(svg, backprop_figure(data))
    if as_json:
        _print_json(record(data))
        if not svg_terminal:
            return
    from .render_backprop import backprop_view  # Rich: only the views draw with it

    _show(backprop_view(data), svg_terminal, "rnncli backprop", to_stdout=not as_json)


@app.command()
def inspect(
    model_path: Annotated[Optional[str], typer.Argument(
        metavar="[MODEL]", help="Model file or bundled model's name (same as --model).")] = None,
    model: ModelOption = None,
    as_json: JsonOption = False,
    svg: Annotated[Optional[Path], typer.Option(
        "--svg-terminal", "--svg", metavar="FILE", dir_okay=False,
        help="Also save the card as the terminal draws it, as an SVG picture (with --json: only there).")] = None,
):
    """Show what a model is: formula, shapes, vocabulary, tags, training record and weights.

    Also whether the error through each W vanishes or explodes over a long sentence.

    Example: rnncli inspect tutorial

    Example: rnncli inspect tutorial --svg-terminal card.svg
    """
    _one_blas_thread()
    # NumPy, after the BLAS thread count is set: for this command alone.
    from .explain import LONG_SENTENCE, model_card
    from .lesson import gradient_memory

    if model_path and model and model_path != model:
        raise typer.BadParameter("give the model either as MODEL or as --model, not both")
    if svg:
        _check_pictures(svg_terminal=svg)
    tagger = _load(model_path if model_path is not None else model)
    tagger.verify()  # all of it, as tagging checks only what it reads: a damaged file is said so here
    card = model_card(tagger)
    card["memory"] = {"sentence": LONG_SENTENCE, "chains": gradient_memory(tagger, LONG_SENTENCE.split())}
    if as_json:
        _print_json(card)
        if not svg:
            return
    from .render import card_view  # Rich: only the views draw with it

    _show(card_view(card), svg, "rnncli inspect", to_stdout=not as_json)


@app.command("eval")
def evaluate(
    corpus: Annotated[str, typer.Argument(  # str, not Path: Path("./-") is "-", stdin
        metavar="CORPUS", help="Gold-tagged corpus to score the model on; '-' for stdin (with --format).")],
    model: ModelOption = None,
    fmt: FormatOption = None,
    tag_column: Annotated[Optional[TagColumn], typer.Option(
        help="CoNLL-U column to read gold tags from. Default: the one the model was trained on.")] = None,
    strict: Annotated[bool, typer.Option(help="Stop at the first malformed sentence instead of skipping it.")] = False,
    without_memory: Annotated[bool, typer.Option(
        "--without-memory",
        help="Also score the network with W s_{t-1} dropped in every chain at every step (each word tagged "
             "from its own x_t), beside the normal score: what the memory is worth.")] = False,
    case: Annotated[Optional[Case], typer.Option(
        help="Score the corpus recased: 'lower' puts every word in lower case, 'title' capitalises every "
             "word's first letter (headline style). Known and unknown words are counted as recased.")] = None,
    as_json: JsonOption = False,
):
    """Score a model on a gold corpus: accuracy, known/unknown words, per-tag F1, confusions.

    Example: rnncli eval sample_corpora/tutorial.txt --model tutorial

    Example: rnncli eval sample_corpora/tutorial.txt -m tutorial --without-memory

    Example: rnncli eval sample_corpora/tutorial.txt -m tutorial --case title
    """
    _one_blas_thread()
    from .metrics import evaluate  # NumPy, after the BLAS thread count is set: for this command alone

    tagger = _load(model)
    column = tag_column.value if tag_column else tagger.record.tag_column
    if tag_column is TagColumn.xpos:  # given by the user: it must name a column of the file
        check_tag_column([corpus], fmt and fmt.value, "xpos")
    gold = read_corpora([corpus], fmt and fmt.value, column, strict, "gold", _warn)
    report = evaluate(tagger, gold, corpus, case and case.value, without_memory)
    if report["unseen_tags"]:
        unseen = report["unseen_tags"]
        _warn(f"{len(unseen)} gold tag(s) the model does not have, so never predicts: "
              f"{' '.join(sorted(unseen)[:8])}{' ...' if len(unseen) > 8 else ''}")
    if as_json:
        _print_json(report)
        return
    from .render import eval_view  # Rich: only the views draw with it

    recased = {"lower": ", every word lower-cased", "title": ", Every Word Capitalised"}.get(case and case.value, "")
    _stdout_console().print(eval_view(report, f"{corpus_name(corpus)}: {len(gold):,} sentence"
                                              f"{'s' * (len(gold) != 1)}{recased}"))


def main() -> None:
    if sys.stdin is None:  # started with stdin closed: reading it is the error it would be
        sys.stdin = _closed_input()
    if sys.stdout is None:  # started with stdout closed: writing to it is the error it would be
        sys.stdout = _Closed()
    else:  # UTF-8 whatever the locale or PYTHONIOENCODING, every byte written (output.py)
        sys.stdout = _own(sys.stdout)
    if sys.stderr is None:  # started with stderr closed: messages go nowhere, the work goes on
        sys.stderr = open(os.devnull, "w", encoding="utf-8")
    else:  # messages too; a character the terminal cannot take is escaped
        sys.stderr = _own(sys.stderr, "backslashreplace", interactive=True)
    status = 1
    try:
        app(prog_name="rnncli")
        status = 0
    except SystemExit as e:
        raw = raw_of(sys.stdout)
        if e.code != 0 and raw is not None and raw.broken:  # help written by Click or Rich, which exit 1
            _closed_pipe()
        status = e.code if isinstance(e.code, int) else int(e.code is not None)
        raise
    except KeyboardInterrupt:  # Ctrl-C before a command took charge of it (reading its options)
        status = 130
        raise SystemExit(130) from None  # quietly, as a command stopped by Ctrl-C ends
    finally:
        # Help and --version are written outside the commands: a failing write is one line here.
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            _closed_pipe()
        except OSError as e:
            _err(f"cannot write the output: {e.strerror or e}")
            _discard_output()
            raise SystemExit(1) from None
        if _threads_stuck():
            # Stopped (an error, Ctrl-C) while a thread waits for stdin's next line, or for a
            # killed worker's result: Python's exit would abort on that thread's lock on stdin
            # ("Fatal Python error"), or wait for it for ever. What is written is out; end now,
            # with the status the command ended with.
            _flush(sys.stderr)
            restore_stdin()  # os._exit runs no atexit
            os._exit(status)
        # The process ends here. Python's exit would walk every object left (NumPy's, Typer's,
        # the model's) looking for cycles to collect: a third of a short command's time beyond
        # NumPy's import, for memory the system takes back anyway. Objects still freed as their
        # last reference goes; files and the standard streams flushed as ever.
        gc.freeze()


def _threads_stuck() -> bool:
    """Whether a thread of tag's is still blocked (``stream.stuck``)."""
    stream = sys.modules.get("rnncli.stream")  # imported only by the commands that tag a stream
    return stream is not None and stream.stuck()


def _flush(stream) -> None:
    try:
        stream.flush()
    except (OSError, ValueError, AttributeError):
        pass


def _own(stream, errors: str = "strict", interactive: bool = False):
    """rnncli's own stream on the descriptor of ``stream``; ``stream`` itself if it has none
    (a harness that put a stream of its own in place)."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return stream
    return utf8_stream(fd, errors, interactive)


class _ClosedRaw(io.RawIOBase):
    """A closed standard input's bytes: a read fails as a read of a closed descriptor does."""

    def readable(self) -> bool:
        return True

    def readinto(self, _buffer) -> int:
        raise OSError(errno.EBADF, "standard input is closed")


def _closed_input():
    """Stands in for a closed standard input, with every method of a real one (a worker process
    closes it, format detection asks whether it can seek): so that `rnncli tag <&-` is an error
    when it reads, not an empty input, and a command that never reads it runs as ever."""
    return io.TextIOWrapper(io.BufferedReader(_ClosedRaw()), encoding="utf-8")


class _Closed:
    """Stands in for a closed standard output: any write fails like a write to a closed descriptor."""

    def write(self, _text: str) -> int:
        raise OSError(errno.EBADF, "standard output is closed")

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False
