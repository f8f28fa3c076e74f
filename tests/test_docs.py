"""The README and docs/*.md: every example on them is re-run and checked.

- A console block's `$ COMMAND` lines are run, each in a fresh folder laid out as the pages assume
  (``sample_corpora/``, ``tutorial.npz``, UD English EWT at ``../shared/data/en_ewt/``), and what
  they print is compared with the lines shown under them: words exactly, numbers as numbers
  (within a tolerance that another CPU's rounding stays inside; see ``close``), spaces and the
  seconds of training aside. Rich lays out tables for 100 columns. Where
  a page trims an output, a line `...` stands for lines left out and `...` within a line for
  text left out; everything else must be there, in that order.
- A console block without `$` holds commands whose output is not shown: rnncli commands are run
  and must succeed; the scripts' command lines must parse; the bundled model's recipe, which takes
  minutes, is parsed by the CLI and must be the package's (rnncli/recipes.py) and the model file's.
- Python blocks are run; the set-up commands are the ones CI runs; links lead somewhere.
"""

from __future__ import annotations

import functools
import os
import re
import shlex
import shutil
import subprocess
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from rnncli.cli import app
from rnncli.loader import default_model_path

from conftest import ROOT, in_scripts

README = ROOT / "README.md"
DOCS = ROOT / "docs"
PAGES = [README, *sorted(DOCS.glob("*.md"))]
README_LIMIT = 20_000  # bytes, about ten minutes of reading: the short path; long material belongs in docs/
EWT_PATH = "../shared/data/en_ewt"  # where the pages say the treebank is, beside the repository
SET_UP = ['pip install . && rnncli tag "I eat apple"', 'pip install ".[test]" && python -m pytest -q']
TUTORIAL_MODEL = "rnncli train sample_corpora/tutorial.txt -o tutorial.npz"  # how the pages make tutorial.npz


@dataclass
class Example:
    page: Path
    line: int
    kind: str  # "console" or "python"
    command: str  # a command line, or the Python code
    shown: str | None = None  # the output shown under a `$ ` command; None: not shown

    def __str__(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def examples(page: Path) -> list[Example]:
    """The console and Python examples of a Markdown page, in page order."""
    text = page.read_text(encoding="utf-8")
    found = []
    for block in re.finditer(r"^```(\w*)\n(.*?)^```$", text, flags=re.M | re.S):
        language, body = block.groups()
        line = text.count("\n", 0, block.start(2)) + 1
        if language == "python":
            found.append(Example(page, line, "python", body))
        elif language == "console" and body.startswith("$ "):
            for part in re.split(r"^(?=\$ )", body, flags=re.M):
                if part:
                    command, _, shown = part[2:].partition("\n")
                    found.append(Example(page, line, "console", command, shown))
                    line += part.count("\n")
        elif language == "console":
            for command in body.replace("\\\n", " ").splitlines():
                found.append(Example(page, line, "console", " ".join(command.split())))
                line += 1
        else:
            assert not re.search(r"^(\$ |rnncli |python |pip )", body, flags=re.M), (
                f"{page.relative_to(ROOT)}:{line}: a command in a ```{language} block is never checked; "
                "use ```console")
    return found


ALL = [e for page in PAGES for e in examples(page)]
SHOWN = [e for e in ALL if e.kind == "console" and e.shown is not None]
UNSHOWN = [e for e in ALL if e.kind == "console" and e.shown is None and e.command not in SET_UP]
PYTHON = [e for e in ALL if e.kind == "python"]


def is_recipe(command: str) -> bool:
    """The bundled model's own training run: minutes, so it is parsed and compared, not run."""
    return command.startswith(f"rnncli train {EWT_PATH}/en_ewt-ud-train.conllu")


# -- running a command as the pages show it ------------------------------------------------------

@pytest.fixture(scope="module")
def tutorial_npz(tmp_path_factory) -> Path:
    """tutorial.npz as the pages make it (a second of training)."""
    folder = tmp_path_factory.mktemp("tutorial")
    (folder / "sample_corpora").symlink_to(ROOT / "sample_corpora")
    r = run_rnncli(shlex.split(TUTORIAL_MODEL)[1:], folder)
    assert r.exit_code == 0, r.stderr
    return folder / "tutorial.npz"


@pytest.fixture
def folder(tmp_path, tutorial_npz, request) -> Path:
    """A fresh working folder: the repository's sample corpora, tutorial.npz, and UD English EWT
    at ../shared/data/en_ewt when the example names it."""
    cwd = tmp_path / "rnncli"
    cwd.mkdir()
    (cwd / "sample_corpora").symlink_to(ROOT / "sample_corpora")
    shutil.copy(tutorial_npz, cwd / "tutorial.npz")
    command = request.node.callspec.params["example"].command
    if EWT_PATH in command and not is_recipe(command):  # the recipe is only parsed
        ewt = request.getfixturevalue("ewt")
        (tmp_path / "shared" / "data").mkdir(parents=True)
        (tmp_path / "shared" / "data" / "en_ewt").symlink_to(ewt)
    return cwd


def run_rnncli(args: list[str], cwd: Path, stdin: str | None = None):
    old = Path.cwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(app, args, input=stdin, env={"COLUMNS": "100", "RNNCLI_MODEL": None})
    finally:
        os.chdir(old)


def shown_output(command: str, cwd: Path) -> str:
    """What a console command shows on a terminal: rnncli, perhaps fed by `printf '...' |`,
    perhaps through `| head -n N` or `| tail -n N`, which see stderr too only after `2>&1`. The
    terminal shows both streams; to leave no doubt about their order, one of them must be empty."""
    stages = [s.strip() for s in command.split(" | ")]
    stdin = None
    if stages[0].startswith("printf "):
        (text,) = shlex.split(stages.pop(0))[1:]
        assert "%" not in text and "\\" not in text.replace("\\n", ""), "only \\n is understood here"
        stdin = text.replace("\\n", "\n")
    args = shell_words(stages.pop(0))
    assert args[0] == "rnncli", command
    both = args[-1] == "2>&1" or not stages
    r = run_rnncli(args[1:len(args) - (args[-1] == "2>&1")], cwd, stdin)
    assert r.exit_code == 0, (command, r.stderr)
    assert not (r.stdout and r.stderr) if both else not r.stderr, (command, r.stderr)
    lines = (r.stdout + (r.stderr if both else "")).splitlines()
    for stage in stages:
        tool, option, n = shlex.split(stage)
        assert tool in ("head", "tail") and option == "-n", stage
        lines = lines[:int(n)] if tool == "head" else lines[-int(n):]
    return "".join(line + "\n" for line in lines)


def shell_words(text: str) -> list[str]:
    """The words a shell makes of a command line; bash itself where it would run a command."""
    if "$(" not in text and "`" not in text:
        return shlex.split(text)
    r = subprocess.run(["bash", "-c", f"printf '%s\\0' {text}"], capture_output=True, text=True, check=True)
    return r.stdout.split("\0")[:-1]


# A number as the pages show one: 7, -0.21, 2,001, 95.62 (of 95.62%), 1.89e-08. Not the digits of
# a name (s_2, en_ewt, #22 is the number 22) nor of a version (0.1.0).
NUMBER = r"(?<![\w.\-])-?\d+(?:,\d{3})*(?:\.\d+)?(?:e[-+]?\d+)?(?!\w|\.\d)"
RELATIVE = 1e-3  # how far a computed number may move between CPUs, as a share of its size


def close(shown: str, printed: str) -> bool:
    """A number printed agrees with the one shown: a count (no decimal point) exactly, else within
    one unit of the last digit shown (a rounding that fell the other way) or RELATIVE of its size.
    Floating point is exact on one machine, not across CPUs: BLAS picks its kernels at run time
    and sums in another order, and training carries that into the last digits of what it shows."""
    if "." not in shown and "e" not in shown:
        return shown == printed
    a, b = float(shown.replace(",", "")), float(printed.replace(",", ""))
    mantissa = shown.replace(",", "").split("e")[0]
    last = 10.0 ** -len(mantissa.partition(".")[2]) * 10.0 ** int(shown.split("e")[1] if "e" in shown else 0)
    return abs(a - b) <= 1.000001 * last + RELATIVE * abs(a)


def same_output(shown: str, printed: str) -> bool:
    """``printed`` is ``shown`` with what its `...` marks leave out filled in (a line `...` is any
    lines, `...` within a line any text), and its numbers close to the ones shown. A number's
    digits may change the width of a table's column, so runs of spaces and of a border's rule
    may differ in length too; every other character is as shown. Matched line by line, so that
    output unlike the page fails at once rather than after a long search."""

    def text(part: str) -> str:
        pattern = ""
        for piece in re.split(r"( +|([─━═])\2*)", part):
            if piece is None or piece == "":
                continue
            if piece.startswith(" "):
                pattern += " +"
            elif piece[0] in "─━═":
                pattern += re.escape(piece[0]) + "+"
            else:
                pattern += re.escape(piece)
        return pattern

    def line(shown_line: str) -> tuple[re.Pattern, list[str]]:
        pieces, numbers = [], []
        for chunk in shown_line.split("..."):
            pattern, last = "", 0
            for m in re.finditer(NUMBER, chunk):
                pattern += text(chunk[last:m.start()]) + f"({NUMBER})"
                numbers.append(m.group())
                last = m.end()
            pieces.append(pattern + text(chunk[last:]))
        return re.compile(".*?".join(pieces)), numbers

    wanted = [None if x == "..." else line(x) for x in shown.split("\n")]
    got = printed.split("\n")

    @functools.lru_cache(maxsize=None)
    def matches(i: int, j: int) -> bool:  # shown lines i.. against printed lines j..
        if i == len(wanted):
            return j == len(got)
        if wanted[i] is None:  # a line `...`: any number of lines
            return any(matches(i + 1, k) for k in range(j, len(got) + 1))
        if j == len(got):
            return False
        pattern, numbers = wanted[i]
        m = pattern.fullmatch(got[j])
        return (m is not None and all(close(s, p) for s, p in zip(numbers, m.groups()))
                and matches(i + 1, j + 1))

    return matches(0, 0)


def comparable(text: str, command: str) -> str:
    lines = [line.rstrip() for line in text.splitlines()]
    if command.startswith("rnncli train"):  # how long an epoch took is the one thing that varies
        lines = [re.sub(r"  \d+\.\ds$", "  (seconds)", re.sub(r"│ +\d+\.\d │$", "│ (seconds) │", line))
                 for line in lines]
    return "\n".join(lines)


# -- the tests ---------------------------------------------------------------------------------

def test_the_pages_are_there_and_hold_examples():
    assert {p.name for p in PAGES} >= {"README.md", "benchmarks.md", "training.md", "model-file.md"}
    assert len(SHOWN) >= 8 and UNSHOWN and PYTHON


def test_the_readme_is_the_short_path():
    size = len(README.read_bytes())
    assert size <= README_LIMIT, f"README.md is {size:,} bytes; move long material to docs/"


def test_shown_and_printed_numbers_are_compared_as_numbers():
    table = "│ 2 │ fish │ nn 0.01591   │     4.14 │\n└───┴──────┘"
    assert same_output(table, table)
    assert same_output(table, table.replace("0.01591  ", "0.015914 ").replace("4.14", "4.15"))  # last digits
    assert same_output(table, table.replace(" 4.14", "10.14").replace("──┘", "───┘")) is False  # far
    assert not same_output(table, table.replace("fish", "fist"))  # words exactly
    assert not same_output(table, table.replace("│ 2 │", "│ 3 │"))  # counts exactly
    assert same_output('{"g": -0.21014516592071789}', '{"g": -0.2101451659207179}')
    assert not same_output('{"g": -0.21014516592071789}', '{"g": -0.2201451659207179}')
    assert same_output("accuracy 95.62% (2,001)\n...\nend", "accuracy 95.63% (2,001)\nmore\nlines\nend")
    assert not same_output("accuracy 95.62% (2,001)", "accuracy 95.62% (2,002)")
    assert not same_output("rnncli 0.1.0", "rnncli 0.1.1")  # a version is text, not a number


@pytest.mark.parametrize("example", SHOWN, ids=str)
def test_shown_output_is_what_the_command_prints(example, folder):
    printed = comparable(shown_output(example.command, folder), example.command)
    shown = comparable(example.shown, example.command)
    assert same_output(shown, printed), f"{example}: prints\n{printed}"


@pytest.mark.parametrize("example", UNSHOWN, ids=str)
def test_commands_without_output_run_or_parse(example, folder):
    words = shlex.split(example.command)
    while re.fullmatch(r"[A-Z_]+=\S*", words[0]):  # an environment setting before the command
        words.pop(0)
    if words[0] == "python" and words[1].startswith("scripts/"):
        in_scripts("import importlib, sys; importlib.import_module(sys.argv[1]).parse_args(sys.argv[2:])",
                   Path(words[1]).stem, *["0" if w == "N" else w for w in words[2:]])  # N: a number left open
    elif words[0] == "rnncli" and is_recipe(example.command):
        train = typer.main.get_command(app).commands["train"]
        train.make_context("train", words[2:])  # every option exists and takes its value
    elif words[0] == "rnncli":
        r = run_rnncli(words[1:], folder)
        assert r.exit_code == 0, (example, r.stderr)
    else:
        pytest.fail(f"{example}: no way to check {example.command!r}")


@pytest.mark.parametrize("example", PYTHON, ids=str)
def test_python_examples_run(example, folder, monkeypatch):
    monkeypatch.chdir(folder)
    exec(compile(example.command, str(example), "exec"), {})


def test_set_up_commands_are_the_ones_ci_runs(runner):
    readme = README.read_text(encoding="utf-8")
    install_and_tag, install_and_test = SET_UP
    for command in SET_UP:
        assert f"```console\n{command}\n```" in readme, command
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").replace("pip install -q ", "pip install ")
    assert install_and_test in ci.splitlines()
    r = runner.invoke(app, shlex.split(install_and_tag.split(" && ")[1])[1:])
    assert (r.exit_code, r.stdout) == (0, "I/PRON eat/VERB apple/NOUN\n")


def test_the_recipe_on_the_pages_is_the_package_s_and_the_bundled_models():
    from rnncli.recipes import ENGLISH
    from rnncli.train import TrainConfig

    (recipe,) = [e.command for e in UNSHOWN if is_recipe(e.command)]
    params = typer.main.get_command(app).commands["train"].make_context("train", shlex.split(recipe)[2:]).params
    assert str(params["dev"]) == f"{EWT_PATH}/en_ewt-ud-dev.conllu"
    for f in fields(TrainConfig):
        if f.name in params:  # the option's value on the page, or its default
            assert getattr(params[f.name], "value", params[f.name]) == getattr(ENGLISH, f.name), f.name
        else:  # no option sets it: the recipe must leave the default
            assert getattr(ENGLISH, f.name) == getattr(TrainConfig(), f.name), f.name
    import json

    with np.load(default_model_path(), allow_pickle=False) as model:
        meta = json.loads(model["metadata"].tobytes())
    record = meta["training"]["hyper_parameters"]
    # The options of what the file keeps came after the bundled model, which the build script
    # stored so by hand: its record lacks them, and its file says what they say.
    assert set(asdict(ENGLISH)) - set(record) <= {"store", "store_min_count"}
    assert record == {k: v for k, v in asdict(ENGLISH).items() if k in record}
    assert meta["stored_dtype"] == ENGLISH.store


def test_links_between_the_pages_lead_somewhere():
    def anchors(page: Path) -> set[str]:
        headings = re.findall(r"^#+ (.+)$", page.read_text(encoding="utf-8"), flags=re.M)
        return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}

    linked = set()
    for page in PAGES:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text(encoding="utf-8")):
            if re.match(r"\w+://", target):
                continue
            file, _, anchor = target.partition("#")
            path = (page.parent / file).resolve() if file else page
            assert path.exists(), f"{page.name}: {target}"
            linked.add(path)
            if anchor:
                assert anchor in anchors(path), f"{page.name}: {target}"
    assert set(PAGES[1:]) <= linked, "a page in docs/ that nothing links to"
