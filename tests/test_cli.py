"""Every subcommand through the real Typer app."""

import inspect
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import typer

from rnncli.cli import app
from rnncli.corpus import read_corpus
from rnncli.tagger import Tagger

from conftest import SAMPLES, SCRIPTS, read_terminal

# The app's own list: a command added to it is checked below without being named here.
COMMANDS = list(typer.main.get_command(app).commands)


OLDER_PICTURE = '<svg xmlns="http://www.w3.org/2000/svg"><text>an older picture</text></svg>\n'


def ok(result):
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result


def test_train_writes_a_model_and_reports_on_stderr(runner, tmp_path):
    out = tmp_path / "m.npz"
    r = ok(runner.invoke(app, ["train", str(SAMPLES / "tutorial.txt"), "--dev", str(SAMPLES / "tutorial.txt"),
                               "-o", str(out), "--epochs", "3", "--hidden", "16"]))
    assert r.stdout == ""
    assert "epoch 3/3" in r.stderr and f"wrote {out}" in r.stderr and "dev accuracy" in r.stderr
    tagger = Tagger.load(out)
    assert tagger.shape.n_hidden == 16
    assert tagger.record.corpus == [str(SAMPLES / "tutorial.txt")]
    assert [h["epoch"] for h in tagger.record.training.history] == [1, 2, 3]


def test_train_options_beyond_the_tutorial_reach_the_model(runner, tmp_path):
    out = tmp_path / "m.npz"
    ok(runner.invoke(app, ["train", str(SAMPLES / "tutorial.txt"), "-o", str(out), "--epochs", "2", "--hidden", "8",
                           "--features", "form", "--bidirectional", "--layers", "2", "--dropout", "0.1",
                           "--word-dropout", "0.5", "--average", "0.9", "--adversarial", "0.5", "-q"]))
    tagger = Tagger.load(out)
    assert tagger.shape.bidirectional and tagger.shape.n_layers == 2 and "suf3" in tagger.vocab.slots
    assert {k: v for k, v in tagger.record.training.hyper_parameters.items()
            if k in ("dropout", "word_dropout", "average", "adversarial")} == {
        "dropout": 0.1, "word_dropout": 0.5, "average": 0.9, "adversarial": 0.5}


def test_train_reads_conllu_and_tsv(runner, tmp_path):
    for name in ["tiny.conllu", "tiny.tsv"]:
        out = tmp_path / f"{name}.npz"
        ok(runner.invoke(app, ["train", str(SAMPLES / name), "-o", str(out), "--epochs", "2", "-q"]))
        assert "PRON" in Tagger.load(out).tags


def test_tag_arguments(runner, tutorial_model):
    r = ok(runner.invoke(app, ["tag", "I eat apple", "we fish", "--model", str(tutorial_model)]))
    assert r.stdout == "I/nn eat/v apple/nn\nwe/nn fish/v\n"
    assert r.stderr == ""


def test_tag_piped_stdin_keeps_blank_lines(runner, tutorial_model):
    r = ok(runner.invoke(app, ["tag", "--model", str(tutorial_model)], input="I eat apple\n\n   \nwe fish\n"))
    assert r.stdout == "I/nn eat/v apple/nn\n\n\nwe/nn fish/v\n"


def test_tag_files_and_dash(runner, tutorial_model, tmp_path):
    f = tmp_path / "in.txt"
    f.write_text("I eat apple\r\nwe fish", encoding="utf-8")
    r = ok(runner.invoke(app, ["tag", "-i", str(f), "-i", "-", "--model", str(tutorial_model)], input="I like fish\n"))
    assert r.stdout == "I/nn eat/v apple/nn\nwe/nn fish/v\nI/nn like/v fish/nn\n"


def test_tag_model_from_environment(runner, tutorial_model):
    r = ok(runner.invoke(app, ["tag", "I eat apple"], env={"RNNCLI_MODEL": str(tutorial_model)}))
    assert r.stdout == "I/nn eat/v apple/nn\n"


def test_tag_output_formats(runner, tutorial_model):
    args = ["tag", "I eat apple", "--model", str(tutorial_model), "--format"]
    assert ok(runner.invoke(app, args + ["tsv"])).stdout == "I\tnn\neat\tv\napple\tnn\n\n"
    conllu = ok(runner.invoke(app, args + ["conllu", "they  fish "])).stdout.splitlines()
    assert conllu[:2] == ["# sent_id = 1", "# text = I eat apple"] and conllu[3] == "2\teat\t_\tv\t_\t_\t_\t_\t_\t_"
    assert conllu[6:8] == ["# sent_id = 2", "# text = they  fish"]  # the line as given, less its outer spaces
    obj = json.loads(ok(runner.invoke(app, args + ["jsonl"])).stdout)
    assert obj["tokens"] == ["I", "eat", "apple"] and obj["tags"] == ["nn", "v", "nn"]
    assert all(0.0 < p <= 1.0 for p in obj["probs"])
    assert obj["offsets"] == [[0, 1], [2, 5], [6, 11]] and "top" not in obj


def test_tag_pretokenized_splits_on_whitespace_only(runner, tutorial_model):
    r = ok(runner.invoke(app, ["tag", "I eat apple.", "--pretokenized", "--model", str(tutorial_model)]))
    assert r.stdout.split() [2].startswith("apple./")
    r = ok(runner.invoke(app, ["tag", "I eat apple.", "--model", str(tutorial_model)]))
    assert [t.rsplit("/", 1)[0] for t in r.stdout.split()] == ["I", "eat", "apple", "."]


def test_unroll_table(runner, tutorial_model):
    r = ok(runner.invoke(app, ["unroll", "--model", str(tutorial_model)]))
    H = Tagger.load(tutorial_model).shape.n_hidden
    assert f"s_t = tanh(U x_t + W s_{{t-1}} + b)    U: {H} x " in r.stdout
    assert "o_t = softmax(V s_t + c)" in r.stdout
    assert "without memory" in r.stdout
    rows = [line for line in r.stdout.splitlines() if re.match(r"│\s+\d\s+│", line)]
    assert len(rows) == 3 and "apple" in rows[2] and "│ nn " in rows[2]


def test_unroll_show_hidden_draws_the_state(runner, tutorial_model):
    r = ok(runner.invoke(app, ["unroll", "we fish", "--show-hidden", "--model", str(tutorial_model)]))
    assert "|s|=" in r.stdout and any(ch in r.stdout for ch in "▁▂▃▄▅▆▇█")


def test_unroll_json_has_full_vectors(runner, tutorial_model):
    data = json.loads(ok(runner.invoke(app, ["unroll", "I eat zzz", "--json", "--model", str(tutorial_model)])).stdout)
    tagger = Tagger.load(tutorial_model)
    assert [s["word"] for s in data["steps"]] == ["I", "eat", "zzz"]
    last = data["steps"][2]
    assert last["known"] is False and last["index"] == 0
    assert len(last["s"]["s"]) == tagger.shape.n_hidden and len(last["o"]) == len(tagger.tags)
    assert sum(last["o"]) == pytest.approx(1.0, abs=1e-5)
    # The first step's state is the recurrence from s_0 = 0, computed here by hand.
    first = data["steps"][0]
    s1 = np.tanh(tagger.params["U"][:, first["index"]] + tagger.params["b"])
    np.testing.assert_allclose(first["s"]["s"], s1, rtol=1e-5, atol=1e-6)


def test_inspect_card(runner, tutorial_model):
    r = ok(runner.invoke(app, ["inspect", str(tutorial_model)]))
    tagger = Tagger.load(tutorial_model)
    H, n = tagger.shape.n_hidden, tagger.shape.n_inputs
    assert f"U: {H} x {n}" in r.stdout and f"{tagger.shape.n_params():,}" in r.stdout
    assert "spectral radius" in r.stdout.lower() and "training history" in r.stdout
    card = json.loads(ok(runner.invoke(app, ["inspect", "--model", str(tutorial_model), "--json"])).stdout)
    assert card["parameters"] == H * n + H * H + H + len(tagger.tags) * (H + 1)
    assert card["tags"] == tagger.tags and card["vocabulary"]["words"] == n - 1
    assert 0 < card["weights"]["W"]["spectral_radius"]


def test_eval_json_and_table(runner, tutorial_model):
    args = ["eval", str(SAMPLES / "tutorial.txt"), "--model", str(tutorial_model)]
    report = json.loads(ok(runner.invoke(app, args + ["--json"])).stdout)
    assert {"accuracy", "tokens", "known_accuracy", "unknown_accuracy", "per_tag"} <= report.keys()
    assert report["accuracy"] > 0.9 and report["tokens"] > 1500
    assert report["per_tag"]["nn"]["support"] > 0
    table = ok(runner.invoke(app, args)).stdout
    assert "per tag" in table and "most frequent confusions" in table


def test_errors_are_one_line_with_status_1(runner, tmp_path, tutorial_model):
    r = runner.invoke(app, ["tag", "x", "--model", str(tmp_path / "none.npz")])
    assert r.exit_code == 1 and r.stderr == f"rnncli: error: {tmp_path / 'none.npz'}: no such model file\n"
    bad = tmp_path / "bad.txt"
    bad.write_text("a/B\nbroken\n")
    r = runner.invoke(app, ["train", str(bad), "--strict", "-o", str(tmp_path / "m.npz")])
    assert r.exit_code == 1 and r.stderr == f"rnncli: error: {bad}:2: token 'broken' has no tag (expected word/TAG)\n"
    assert not (tmp_path / "m.npz").exists()


@pytest.mark.parametrize("command", COMMANDS)
def test_every_commands_summary_is_one_unbroken_paragraph(runner, command):
    """The command list shows a command's first paragraph with its line breaks as typed, so a
    summary that spans lines in the docstring comes out broken mid-sentence in `rnncli --help`."""
    summary = ok(runner.invoke(app, [command, "--help"])).stdout
    first = inspect.cleandoc(typer.main.get_command(app).commands[command].help).split("\n\n")[0]
    assert "\n" not in first and " ".join(first.split()) in " ".join(summary.split())


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example(runner, command):
    r = ok(runner.invoke(app, [command, "--help"]))
    assert "Example: rnncli " + command in r.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_a_section_and_an_example_in_the_readme(command):
    """A heading of its own and at least one `$ rnncli COMMAND` example, which test_docs.py
    re-runs and compares with what the README shows."""
    from test_docs import README, examples

    assert re.search(rf"^#+ rnncli {command}$", README.read_text(encoding="utf-8"), flags=re.M), command
    assert any(e.command.startswith(f"rnncli {command} ") or e.command == f"rnncli {command}"
               for e in examples(README) if e.shown is not None), command


def test_python_dash_m(tutorial_model):
    r = subprocess.run([sys.executable, "-m", "rnncli", "tag", "I eat apple", "--model", str(tutorial_model)],
                       capture_output=True, text=True, timeout=60)
    assert (r.returncode, r.stdout, r.stderr) == (0, "I/nn eat/v apple/nn\n", "")


@pytest.mark.parametrize("fmt", ["slash", "jsonl"])
def test_worker_processes_give_the_same_output_in_input_order(tutorial_model, fmt):
    import io

    from rnncli.tagger import Tagger
    from rnncli.stream import tag_stream

    tagger = Tagger.load(tutorial_model)
    text = [f"{n} I eat apple" if n % 7 else "" for n in range(3000)] + ["they fish in the river ."]
    lines = [("x", n, line) for n, line in enumerate(text, 1)]
    one, two = io.StringIO(), io.StringIO()
    n1 = tag_stream(tagger, lines, one, fmt, chunk_chars=997)
    n2 = tag_stream(tagger, lines, two, fmt, chunk_chars=997, jobs=2)
    assert n1 == n2 == sum(len(t.split()) for t in text)
    assert one.getvalue() == two.getvalue() and one.getvalue().count("\n") == len(text)


def _run_on_a_terminal(args, env):
    """Run rnncli with a pseudo-terminal as its stdout; returns what it printed."""
    import os
    import pty

    pid, fd = pty.fork()
    if pid == 0:  # the child
        os.execvpe(sys.executable, [sys.executable, "-m", "rnncli", *args], env)
    out = read_terminal(fd)
    os.waitpid(pid, 0)
    os.close(fd)
    return out.decode("utf-8", "replace")


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_colour_only_on_a_terminal_and_never_with_no_color(tutorial_model):
    import os

    args = ["unroll", "they fish", "--show-hidden", "--model", str(tutorial_model)]
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "TERM")}
    colour = re.compile(r"\x1b\[[0-9;]*(3[0-9]|9[0-7]|38;)")  # a foreground colour sequence
    piped = subprocess.run([sys.executable, "-m", "rnncli", *args], capture_output=True, text=True, env=env)
    assert piped.returncode == 0 and "\x1b[" not in piped.stdout
    assert colour.search(_run_on_a_terminal(args, {**env, "TERM": "xterm-256color"}))
    assert not colour.search(_run_on_a_terminal(args, {**env, "TERM": "xterm-256color", "NO_COLOR": "1"}))


def test_the_command_list_is_the_apps():
    assert COMMANDS == ["train", "tag", "unroll", "backprop", "inspect", "eval"]


@pytest.mark.parametrize("command, example", [
    ("unroll", "--svg fish.svg"), ("backprop", "--lr 0.05 --svg backprop.svg"),
    ("inspect", "--svg-terminal card.svg"), ("unroll", "--scale-w 2"), ("backprop", "--lr 0.05 --steps 5"),
    ("backprop", "--scale-w 0.5"),
    ("eval", "-m tutorial --without-memory"), ("train", '--watch "they fish"')])
def test_every_new_option_has_an_example_in_its_commands_help(runner, command, example):
    text = " ".join(ok(runner.invoke(app, [command, "--help"])).stdout.split())
    assert re.search(f"Example: rnncli {command} [^│]*{re.escape(example)}", text), text


@pytest.mark.parametrize("command", COMMANDS)
def test_every_example_in_help_fits_80_columns(command):
    """An example wrapped onto a second line is a command a reader cannot copy whole."""
    from rnncli import cli

    info = next(c for c in cli.app.registered_commands if (c.name or c.callback.__name__) == command)
    examples = [line.strip() for line in info.callback.__doc__.splitlines() if line.strip().startswith("Example: ")]
    assert examples and all(len(e) <= 78 for e in examples), [e for e in examples if len(e) > 78]


# -- the bundled models ------------------------------------------------------------------------

def test_a_bundled_models_name_is_a_name_and_a_path_is_a_path(tmp_path, monkeypatch):
    from rnncli.loader import bundled_model_path, default_model_path, resolve_model_path

    monkeypatch.chdir(tmp_path)
    (tmp_path / "tutorial").write_bytes(b"a file of that name")
    monkeypatch.delenv("RNNCLI_MODEL", raising=False)
    assert resolve_model_path("tutorial") == bundled_model_path("tutorial")
    assert resolve_model_path("default") == resolve_model_path(None) == default_model_path()
    assert resolve_model_path("./tutorial") == Path("tutorial")  # a path separator: the file
    assert resolve_model_path("tutorial.npz") == Path("tutorial.npz")
    monkeypatch.setenv("RNNCLI_MODEL", "tutorial")
    assert resolve_model_path(None) == bundled_model_path("tutorial")


def test_the_tutorial_model_works_straight_after_install(runner):
    assert ok(runner.invoke(app, ["tag", "I eat apple", "they fish", "the fish", "--model", "tutorial"])).stdout == (
        "I/nn eat/v apple/nn\nthey/nn fish/v\nthe/det fish/nn\n")
    card = json.loads(ok(runner.invoke(app, ["inspect", "tutorial", "--json"])).stdout)
    assert card["shape"]["n_layers"] == 1 and not card["shape"]["bidirectional"]
    assert card["vocabulary"]["slots"] == {"word": 453} and card["corpus"] == ["sample_corpora/tutorial.txt"]


def test_the_shipped_tutorial_model_is_what_the_build_script_makes(tmp_path):
    from rnncli.loader import bundled_model_path

    shipped_path = bundled_model_path("tutorial")
    assert shipped_path.stat().st_size < 100_000
    subprocess.run([sys.executable, str(SCRIPTS / "build_default_model.py"), "--sample", "-o", str(tmp_path / "t.npz")],
                   check=True, capture_output=True, timeout=300)
    shipped, rebuilt = Tagger.load(shipped_path), Tagger.load(tmp_path / "t.npz")
    assert (shipped.shape, shipped.tags, shipped.vocab.tables) == (rebuilt.shape, rebuilt.tags, rebuilt.vocab.tables)
    # Rebuilt on another CPU, BLAS sums in another order, and ten epochs of training carry that
    # difference into the last digits of the weights: here the two are compared within tolerances
    # that such rounding stays far inside (measured: weights within 5e-4, o_t within 4e-5, where
    # the closest call on the corpus is 0.059 between the top two tags), and the tags exactly.
    history = [(shipped.record.training.history, rebuilt.record.training.history)]
    for record in (shipped.record, rebuilt.record):
        record.training.history = []
    # The shipped record predates the options of what the file keeps; its stored_dtype says it.
    shipped_hyper, rebuilt_hyper = shipped.record.training.hyper_parameters, rebuilt.record.training.hyper_parameters
    assert set(rebuilt_hyper) - set(shipped_hyper) <= {"store", "store_min_count"}
    assert rebuilt_hyper.get("store", "float16") == shipped.record.stored_dtype
    rebuilt.record.training.hyper_parameters = {k: v for k, v in rebuilt_hyper.items() if k in shipped_hyper}
    assert shipped.record == rebuilt.record  # hyper-parameters, corpus, tags, attribution...
    (old, new), = history
    assert [e["epoch"] for e in old] == [e["epoch"] for e in new]
    np.testing.assert_allclose([e["loss"] for e in old], [e["loss"] for e in new], rtol=1e-3)
    for name, p in shipped.params.items():
        np.testing.assert_allclose(p, rebuilt.params[name], atol=1e-2, err_msg=name)
    sentences = [s.words for s in read_corpus(SAMPLES / "tutorial.txt")]
    assert shipped.tag(sentences) == rebuilt.tag(sentences)
    for o_shipped, o_rebuilt in zip(shipped.predict(sentences), rebuilt.predict(sentences)):
        np.testing.assert_allclose(o_shipped, o_rebuilt, atol=1e-3)


# -- backprop -----------------------------------------------------------------------------------

def test_backprop_on_the_tutorial_model(runner):
    r = ok(runner.invoke(app, ["backprop", "I/nn eat/v apple/nn", "--model", "tutorial"]))
    out = r.stdout
    assert "dL/ds_t = V^T (o_t - y_t)  +  W^T dL/dz_{t+1}    (64)" in out
    assert "dL_t/dq_t[j] = -y_t[j] + exp(q_t[j]) / sum_i exp(q_t[i]) = o_t[j] - y_t[j]" in out
    assert "dL/dW = sum_t dL/dz_t s_{t-1}^T    dL/db = sum_t dL/dz_t    W: 64 x 64" in out
    assert "Targets y_t: the tags given with the sentence." in out
    data = json.loads(ok(runner.invoke(app, ["backprop", "I/nn eat/v apple/nn", "-m", "tutorial", "--json"])).stdout)
    terms = " + ".join(f"{s['loss']:.4g}" for s in data["steps"])
    assert f"L = {terms} = {data['loss']:.6g}" in out
    loss_rows = [line.split("│")[1:3] for line in out.splitlines() if re.match(r"│ \d │ \w+ +│ (nn|v) ", line)]
    state_rows = [line.split("│")[1:3] for line in out.splitlines() if re.match(r"│ \d │ \w+ +(│ +[\d.e+-]+ ){3}│ +[\d.]+% │", line)]
    assert [(t.strip(), w.strip()) for t, w in loss_rows] == [("1", "I"), ("2", "eat"), ("3", "apple")]
    assert [(t.strip(), w.strip()) for t, w in state_rows] == [("3", "apple"), ("2", "eat"), ("1", "I")]  # t = T down
    assert "Where each loss sends its error" in out and "5. The gradients of the arrays" in out


def test_backprop_of_plain_text_says_whose_targets(runner):
    out = ok(runner.invoke(app, ["backprop", "they fish", "--model", "tutorial", "--lr", "0.1"])).stdout
    assert "no tags were given (word/TAG gives them), so the network's own tags are the targets" in " ".join(out.split())
    assert "One plain step on a copy of the network: every array p <- p - 0.1 dL/dp" in " ".join(out.split())


@pytest.fixture(scope="module")
def deep_model(tmp_path_factory):
    from rnncli.corpus import read_corpus
    from rnncli.train import TrainConfig, train

    path = tmp_path_factory.mktemp("models") / "deep.npz"
    config = TrainConfig(hidden=4, epochs=1, bidirectional=True, layers=2, features="form", char_hidden=3)
    train(read_corpus(SAMPLES / "tutorial.txt"), None, config).save(path)
    return path


def test_backprop_names_chains_as_unroll_does(runner, deep_model):
    args = ["I eat apple", "--model", str(deep_model), "--json"]
    steps = json.loads(ok(runner.invoke(app, ["backprop", *args])).stdout)["steps"]
    unrolled = json.loads(ok(runner.invoke(app, ["unroll", *args])).stdout)["steps"]
    assert [list(s["dL_ds"]) for s in steps] == [list(s["dL_dz"]) for s in steps] == [list(u["s"]) for u in unrolled]
    assert list(steps[0]["dL_ds"]) == ["s", "s_bwd", "s2", "s2_bwd"]
    assert [s["x"] for s in steps] == [u["x"] for u in unrolled]
    out = " ".join(ok(runner.invoke(app, ["backprop", "I eat apple", "--model", str(deep_model)])).stdout.split())
    assert "dL/ds_t = U2[:, 0:4]^T dL/dz2_t + U2_bwd[:, 0:4]^T dL/dz2_bwd_t + W^T dL/dz_{t+1}" in out
    assert "dL/ds2_bwd_t = V[:, 4:8]^T (o_t - y_t) + W2_bwd^T dL/dz2_bwd_{t-1}" in out
    grads = json.loads(ok(runner.invoke(app, ["backprop", *args])).stdout)["grad_norms"]
    assert list(grads) == list(Tagger.load(deep_model).params)  # every array, the character RNN's too


@pytest.mark.parametrize("sentence, status, message", [
    ("", 2, "Invalid value for SENTENCE: the sentence has no words (see 'root backprop --help')"),  # root: CliRunner's name
    ("I/nn eat/VERB", 1, "word 2 (eat/VERB): the model has no tag 'VERB'; its tags are nn v det punct adj prep adv num conj"),
    ("I/nn eat apple", 1, "'I/nn' has a tag but 'eat' has none: tag every word (word/TAG) or none"),
    ("I eat \udcff", 1, "SENTENCE: not valid UTF-8 (byte 0xff)"),  # how Python hands on a byte that is not UTF-8
])
def test_backprop_refuses_bad_input_in_one_line(runner, sentence, status, message):
    r = runner.invoke(app, ["backprop", sentence, "--model", "tutorial"])
    assert (r.exit_code, r.stderr, r.stdout) == (status, f"rnncli: error: {message}\n", "")


# -- pictures -----------------------------------------------------------------------------------

def svg_text(path):
    import xml.etree.ElementTree as ET

    root = ET.parse(path).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return "".join(e.text or "" for e in root.iter() if e.tag.endswith("}text")).replace("\xa0", " ")


@pytest.mark.parametrize("args, seen", [
    (["unroll", "they fish", "--show-hidden"], "without memory"),
    (["backprop", "they/nn fish/v"], "Where each loss sends its error"),
    (["inspect"], "spectral radius"),
])
def test_svg_terminal_is_the_same_view_as_a_picture(runner, tmp_path, args, seen):
    picture = tmp_path / "view.svg"
    picture.write_text(OLDER_PICTURE)
    plain = ok(runner.invoke(app, [*args, "--model", "tutorial"])).stdout
    r = ok(runner.invoke(app, [*args, "--model", "tutorial", "--svg-terminal", str(picture)]))
    assert r.stdout == plain
    text = svg_text(picture)
    assert seen in text and "s_t = tanh(U x_t + W s_{t-1} + b)" in text
    assert 'fill="#' in picture.read_text() or "fill: #" in picture.read_text()  # colours kept
    assert [p.name for p in tmp_path.iterdir()] == ["view.svg"]  # no temporary file left behind
    r = ok(runner.invoke(app, [*args, "--model", "tutorial", "--json", "--svg-terminal", str(picture)]))
    json.loads(r.stdout)  # --json still prints JSON; the picture is of the view
    assert seen in svg_text(picture)


def test_a_picture_is_well_formed_whatever_the_sentence_holds(runner, tmp_path):
    picture = tmp_path / "view.svg"
    ok(runner.invoke(app, ["backprop", "I eat \x1b[31mred x", "--model", "tutorial", "--svg", str(picture)]))
    text = svg_text(picture)  # parsed: well-formed XML
    assert "\x1b" not in text and "\\e" in text and "31mred" in text  # shown as its escape (table cells wrap)


def test_a_picture_that_cannot_be_written_leaves_the_old_one(runner, tmp_path, monkeypatch):
    import errno
    import os

    picture = tmp_path / "view.svg"
    picture.write_text(OLDER_PICTURE)

    def full(*_):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    r = runner.invoke(app, ["unroll", "they fish", "--model", "tutorial", "--svg", str(picture)])
    assert (r.exit_code, r.stderr) == (1, f"rnncli: error: {picture}: disk full; the previous file, if any, is unchanged\n")
    assert picture.read_text() == OLDER_PICTURE and [p.name for p in tmp_path.iterdir()] == ["view.svg"]


# -- eval --without-memory, train --watch ------------------------------------------------------

def test_eval_without_memory_beside_the_normal_score(runner):
    from rnncli.corpus import read_corpus
    from rnncli.metrics import score
    from rnncli.loader import bundled_model_path

    args = ["eval", str(SAMPLES / "tutorial.txt"), "--model", "tutorial", "--without-memory"]
    report = json.loads(ok(runner.invoke(app, [*args, "--json"])).stdout)
    gold = read_corpus(SAMPLES / "tutorial.txt")
    words = [s.words for s in gold]
    alone = Tagger.load(bundled_model_path("tutorial")).without_memory()
    expected = score([s.tags for s in gold], alone.tag(words), words, alone.vocab.is_known)
    assert report["without_memory"] == expected
    assert report["accuracy"] - report["without_memory"]["accuracy"] > 0.05  # the corpus needs memory
    assert report["without_memory"]["per_tag"]["v"]["f1"] < report["per_tag"]["v"]["f1"]
    table = " ".join(ok(runner.invoke(app, args)).stdout.split())
    points = 100 * (report["accuracy"] - expected["accuracy"])
    assert f"the memory is worth {points:+.2f} points" in table and "memory adds" in table


def test_train_watch_prints_the_sentence_after_every_epoch(runner, tmp_path):
    from rnncli.lesson import sentence_loss

    out = tmp_path / "m.npz"
    r = ok(runner.invoke(app, ["train", str(SAMPLES / "tutorial.txt"), "-o", str(out), "--epochs", "3",
                               "--hidden", "16", "--watch", "they fish"]))
    lines = r.stderr.splitlines()
    epochs = [i for i, line in enumerate(lines) if line.startswith("epoch ")]
    assert len(epochs) == 3 and all(lines[i + 1].startswith("  watch: they/") for i in epochs)
    final = sentence_loss(Tagger.load(out), ["they", "fish"])
    assert lines[epochs[-1] + 1] == (f"  watch: they/{final['tags'][0]} fish/{final['tags'][1]}  "
                                      f"L {final['loss']:.4f} (against its own tags)")
    # A tag the training data lacks is found at the first epoch, when the tags are known, and
    # costs the watch, not the training.
    r = ok(runner.invoke(app, ["train", str(SAMPLES / "tutorial.txt"), "-o", str(out), "--epochs", "2",
                               "--hidden", "8", "--watch", "they/nn fish/V"]))
    assert "rnncli: warning: --watch: word 2 (fish/V): the training data has no tag 'V'; its tags are " \
           "nn v det punct adj prep adv num conj; not watched\n" in r.stderr
    assert "watch: they" not in r.stderr
    assert sum(line.startswith("epoch ") for line in r.stderr.splitlines()) == 2  # training went on


# -- model names -------------------------------------------------------------------------------

@pytest.mark.parametrize("given, said", [
    ("defualt", "defualt: no such model file or bundled model (did you mean 'default'? bundled: default, tutorial)"),
    ("tutoral", "tutoral: no such model file or bundled model (did you mean 'tutorial'? bundled: default, tutorial)"),
    ("english", "english: no such model file or bundled model (bundled: default, tutorial)"),
])
def test_a_misspelt_model_name_is_answered_with_the_bundled_names(runner, tmp_path, monkeypatch, given, said):
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, ["tag", "I eat apple", "--model", given])
    assert (r.exit_code, r.stderr) == (1, f"rnncli: error: {said}\n")
    import rnncli

    with pytest.raises(rnncli.ModelFileError, match="bundled: default, tutorial"):
        rnncli.load(given)
    (tmp_path / given).write_bytes(b"")  # a file of that name is a file, however it is named
    assert "no such" not in runner.invoke(app, ["tag", "x", "--model", given]).stderr


def test_shell_completion_offers_the_bundled_models_and_model_files(tmp_path):
    (tmp_path / "mine.npz").write_bytes(b"")
    (tmp_path / "models").mkdir()
    (tmp_path / "notes.txt").write_text("")
    env = {**os.environ, "_RNNCLI_COMPLETE": "complete_bash", "COMP_CWORD": "3"}

    def complete(word: str) -> list[str]:
        r = subprocess.run([sys.executable, "-m", "rnncli"], env={**env, "COMP_WORDS": f"rnncli tag --model {word}"},
                           cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        return r.stdout.split()

    assert complete("") == ["default", "tutorial", "mine.npz", "models/"]
    assert complete("t") == ["tutorial"]
    assert complete("mi") == ["mine.npz"]
    help_text = subprocess.run([sys.executable, "-m", "rnncli", "--help"], capture_output=True, text=True).stdout
    assert "--install-completion" in help_text


def test_eval_of_gold_in_another_tag_set_is_an_error_naming_the_tags(runner, tmp_path):
    gold = tmp_path / "gold.conllu"
    gold.write_text("".join(f"{i}\t{w}\t_\t{u}\t{x}\t_\t_\t_\t_\t_\n" for i, (w, u, x) in enumerate(
        [("I", "nn", "PRP"), ("eat", "v", "VBP"), ("fish", "nn", "NN")], 1)) + "\n")
    r = runner.invoke(app, ["eval", str(gold), "--model", "tutorial", "--tag-column", "xpos"])
    assert r.exit_code == 1 and r.stdout == ""
    assert r.stderr == (f"rnncli: error: {gold}: 100% of the gold tags are not tags of the model (NN PRP VBP; "
                        "the model's: nn v det punct adj prep adv num ...): another tag set?\n")
    gold.write_text(gold.read_text().replace("\tv\t", "\tVERB\t"))  # one tag in three: a warning, and a score
    r = runner.invoke(app, ["eval", str(gold), "--model", "tutorial", "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["unseen_tags"] == ["VERB"]
    assert r.stderr == "rnncli: warning: 1 gold tag(s) the model does not have, so never predicts: VERB\n"
# -- every view at 80 columns ------------------------------------------------------------------

NUMBER = re.compile(r"\d[\d.,]*(?:e[+-]\d+)?")


def split_numbers(narrow: str, wide: str) -> list[str]:
    """Numbers a narrow view broke across lines ('1.89e-0' over '8'): the numbers of the same
    view drawn wide, where nothing needs to wrap, that the narrow one does not show whole."""
    from collections import Counter

    missing = Counter(NUMBER.findall(wide)) - Counter(NUMBER.findall(narrow))
    return sorted(missing)


@pytest.mark.parametrize("args", [
    ["unroll", "they fish", "--model", "tutorial", "--show-hidden"],
    ["unroll", "I eat apple"], ["unroll", "I eat apple", "--show-hidden"],
    ["backprop", "they/nn fish/nn", "--model", "tutorial", "--lr", "0.05", "--steps", "3"],
    ["backprop", "we like to watch the fish in the park and they love to play in the water", "--model", "tutorial",
     "--scale-w", "2"],
    ["backprop", "I/PRON eat/VERB the/DET qwertyuiop/NOUN ./PUNCT", "--lr", "0.01"],
    ["backprop", "fish", "--model", "tutorial"],
    ["inspect", "tutorial"], ["inspect", "default"],
    ["eval", str(SAMPLES / "tutorial.txt"), "--model", "tutorial", "--without-memory"],
], ids=lambda a: " ".join(a[:2])[:40])
def test_every_view_reads_at_80_columns(runner, args):
    out = ok(runner.invoke(app, args, env={"COLUMNS": "80"})).stdout
    too_long = [line for line in out.splitlines() if len(line) > 80]
    assert not too_long, too_long[:3]
    wide = ok(runner.invoke(app, args, env={"COLUMNS": "400"})).stdout
    assert not split_numbers(out, wide), split_numbers(out, wide)[:5]
    assert "…" not in out  # nothing cut short: a strip that does not fit folds


def test_the_split_number_finder_finds_one():
    broken = "│ 1 │ I    │ 1.89e-0 │\n│   │      │ 8       │\n"
    assert split_numbers(broken, "│ 1 │ I │ 1.89e-08 │\n") == ["1.89e-08"]
    assert split_numbers("│ 1 │ nn 0.99 v │\n│   │ 0.00      │\n", "│ 1 │ nn 0.99 v 0.00 │\n") == []


def test_backprop_marks_unknown_words_as_unroll_does(runner):
    out = ok(runner.invoke(app, ["backprop", "they qwertyuiop", "--model", "tutorial"], env={"COLUMNS": "80"})).stdout
    assert re.search(r"│ 2 │ qwertyuiop +unknown", out)
    assert "-0.0%" not in out


# -- the tutorial's figure ----------------------------------------------------------------------

def figure(path):
    import xml.etree.ElementTree as ET

    root = ET.parse(path).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    texts = [("".join(e.itertext())) for e in root.iter("{http://www.w3.org/2000/svg}text")]
    polygons = list(root.iter("{http://www.w3.org/2000/svg}polygon"))
    return root, texts, polygons


@pytest.mark.parametrize("command, sentence", [("unroll", "they fish"), ("backprop", "they/nn fish/nn")])
def test_the_figure_is_the_unrolled_network(runner, tmp_path, command, sentence):
    picture = tmp_path / "figure.svg"
    r = ok(runner.invoke(app, [command, sentence, "--model", "tutorial", "--svg", str(picture)]))
    assert r.stdout == ok(runner.invoke(app, [command, sentence, "--model", "tutorial"])).stdout
    root, texts, arrows = figure(picture)
    assert {"they", "fish"} <= set(texts)  # x_t
    assert texts.count("U") == 2 and texts.count("V") == 2 and texts.count("W") == 1  # each label its own element
    assert {"s_1", "s_2", "o_1", "o_2", "x_1", "x_2"} <= set(texts)
    assert "v 0.98" in texts or any(t.startswith("v 0.98") for t in texts)  # o_2's top tag
    assert len([a for a in arrows if a.get("class") == "arrow"]) == 5  # 2 U, 2 V, 1 W
    assert len(root.findall(".//{http://www.w3.org/2000/svg}g[@class='state']")) == 2
    assert 'font-family="DejaVu Sans, Helvetica, Arial, sans-serif"' in picture.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["figure.svg"]  # written whole, no temporary file left


def test_the_error_arrows_are_as_wide_as_the_error_they_carry(runner, tmp_path):
    picture = tmp_path / "flow.svg"
    sentence = "we like to watch the fish in the park"
    ok(runner.invoke(app, ["backprop", sentence, "--model", "tutorial", "--scale-w", "2", "--svg", str(picture)]))
    data = json.loads(ok(runner.invoke(app, ["backprop", sentence, "--model", "tutorial", "--scale-w", "2",
                                              "--json"])).stdout)
    _, _, arrows = figure(picture)
    errors = [a for a in arrows if "error" in a.get("class", "").split()]
    through = [a for a in errors if "through-w" in a.get("class")]
    assert len(through) == 8 and len([a for a in errors if "from-output" in a.get("class")]) == 9

    def width(arrow):  # the shaft: the distance between the polygon's first and last points
        (x1, y1), *_, (x2, y2) = [tuple(map(float, p.split(","))) for p in arrow.get("points").split()]
        return math.hypot(x2 - x1, y2 - y1)

    pairs = sorted((float(a.get("data-norm")), width(a), float(a.get("fill-opacity"))) for a in errors)
    assert all(w1 <= w2 + 1e-9 and o1 <= o2 + 0.011 for (_, w1, o1), (_, w2, o2) in zip(pairs, pairs[1:]))
    assert pairs[-1][1] > 5 * pairs[0][1]  # the error grows on its way back at 2: the widths show it
    # The arrow back along W into s_k carries the part of dL/ds_k that came from step k+1.
    ds = [np.linalg.norm(s["dL_ds"]["s"]) for s in data["steps"]]
    assert max(float(a.get("data-norm")) for a in through) >= max(ds[:-1]) * 0.5


def test_a_two_direction_figure_joins_both_chains_to_x_and_o_and_splits_the_error(runner, tmp_path):
    """V reads [s_t ; s_bwd_t] and U_bwd reads x_t: an arrow for each; the error o_t sends down is
    drawn into each chain as that chain's own part of V^T (o_t - y_t), not as their joint norm."""
    sentence = ["I/PRON", "eat/VERB", "apple/NOUN"]
    picture = tmp_path / "bi.svg"
    ok(runner.invoke(app, ["unroll", "I eat apple", "--svg", str(picture)]))
    _, texts, arrows = figure(picture)
    assert [texts.count(label) for label in ("U", "U_bwd", "V", "W", "W_bwd")] == [3, 3, 3, 2, 2]
    assert len([a for a in arrows if a.get("class") == "arrow"]) == 3 * 4 + 2 * 2  # U, U_bwd, 2 V a step; W, W_bwd
    ok(runner.invoke(app, ["backprop", " ".join(sentence), "--svg", str(picture)]))
    data = json.loads(ok(runner.invoke(app, ["backprop", " ".join(sentence), "--json"])).stdout)
    down = [float(a.get("data-norm")) for a in figure(picture)[2] if "from-output" in a.get("class", "")]
    assert len(down) == 6  # into s_t and into s_bwd_t at each of 3 steps
    # Each step's two arrows are the two halves of V^T (o_t - y_t), one per chain ...
    import rnncli

    V = rnncli.load().params["V"].astype(np.float64)  # (n_tags, 2H): [s_t ; s_bwd_t]
    probs = [s["o"] for s in json.loads(ok(runner.invoke(app, ["unroll", "I eat apple", "--json"])).stdout)["steps"]]
    tags = rnncli.load().tags
    for t, (word, p) in enumerate(zip(sentence, probs)):
        error = V.T @ (np.array(p) - np.eye(len(tags))[tags.index(word.split("/")[1])])
        H = len(error) // 2
        if np.linalg.norm(error) < 1e-3:
            continue  # o_t = y_t within float32, which unroll's o_t is: a difference it cannot show
        assert down[2 * t:2 * t + 2] == pytest.approx([np.linalg.norm(error[:H]), np.linalg.norm(error[H:])], rel=1e-3)
    # ... and where nothing comes from the next step, dL/ds is that part alone: s at the last step
    assert down[-2] == pytest.approx(np.linalg.norm(data["steps"][-1]["dL_ds"]["s"]), rel=1e-5)


def test_the_caption_fits_the_figure_and_a_long_word_its_box(runner, tmp_path):
    picture = tmp_path / "f.svg"
    ok(runner.invoke(app, ["backprop", "fish/nn", "--model", "tutorial", "--scale-w", "0.5", "--svg", str(picture)]))
    root, texts, _ = figure(picture)
    caption = next(t for t in texts if t.startswith("red: "))
    assert caption.endswith("every W multiplied by 0.5") and float(root.get("width")) >= 30 + 6.2 * len(caption)
    ok(runner.invoke(app, ["unroll", "supercalifragilisticexpialidocious", "--model", "tutorial", "--svg",
                           str(picture)]))
    assert "supercalifra\u2026" in figure(picture)[1]


def test_a_figure_shows_any_word_safely(runner, tmp_path):
    picture = tmp_path / "figure.svg"
    ok(runner.invoke(app, ["unroll", "a <b> & \x1b[31m\"q\" \x07", "--pretokenized", "--model", "tutorial",
                           "--svg", str(picture)]))
    _, texts, _ = figure(picture)  # parsed: well-formed XML
    assert {"<b>", "&", '\\e[31m"q"', "\\x07"} <= set(texts)  # control characters as their escapes
    assert "\x1b" not in picture.read_text() and "unknown" in texts


def test_inspect_and_backprop_give_one_verdict(runner):
    from rnncli.explain import LONG_SENTENCE

    for model, expected in (("tutorial", {"s": "neither"}), ("default", dict.fromkeys(
            ["s", "s_bwd"], "vanishing"))):
        card = json.loads(ok(runner.invoke(app, ["inspect", model, "--json"])).stdout)
        assert card["memory"]["sentence"] == LONG_SENTENCE
        assert {name: m["verdict"] for name, m in card["memory"]["chains"].items()} == expected
        out = " ".join(ok(runner.invoke(app, ["backprop", LONG_SENTENCE, "--model", model])).stdout.split())
        for name, verdict in expected.items():
            rate = card["memory"]["chains"][name]["per_step"]
            assert f"The verdict on chain {name}, fitted over every pair of steps: per step back the error is " \
                   f"multiplied by about {rate:.2f}" in out
        assert out.count({"neither": "neither vanishes nor explodes", "vanishing": "vanishes on its way back"}[
            next(iter(expected.values()))]) == len(expected)


def test_steps_need_a_step_size(runner):
    r = runner.invoke(app, ["backprop", "they fish", "--model", "tutorial", "--steps", "3"])
    assert r.exit_code == 2 and r.stderr.startswith("rnncli: error: Invalid value for '--steps': --steps needs --lr")
    r = runner.invoke(app, ["unroll", "they fish", "--model", "tutorial", "--scale-w", "nan"])
    assert r.exit_code == 2 and "must be a number float32 can hold" in r.stderr


def test_training_s_log_lines_stay_whole_however_long_the_path(runner, tmp_path):
    out = tmp_path / ("a-folder-with-a-long-name-" * 4) / "model.npz"
    out.parent.mkdir()
    r = ok(runner.invoke(app, ["train", str(SAMPLES / "tutorial.txt"), "-o", str(out), "--epochs", "1", "--hidden", "8"],
                         env={"COLUMNS": "60"}))
    assert any(line.startswith(f"wrote {out}: ") and line.endswith(", best epoch 1") for line in r.stderr.splitlines())
