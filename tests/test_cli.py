"""Every subcommand through the real Typer app."""

import json
import re
import subprocess
import sys

import numpy as np
import pytest
import typer

from rnncli.cli import app
from rnncli.tagger import Tagger

from conftest import SAMPLES

# The app's own list: a command added to it is checked below without being named here.
COMMANDS = list(typer.main.get_command(app).commands)


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
    assert tagger.info["corpus"] == [str(SAMPLES / "tutorial.txt")]
    assert [h["epoch"] for h in tagger.info["training"]["history"]] == [1, 2, 3]


def test_train_options_beyond_the_tutorial_reach_the_model(runner, tmp_path):
    out = tmp_path / "m.npz"
    ok(runner.invoke(app, ["train", str(SAMPLES / "tutorial.txt"), "-o", str(out), "--epochs", "2", "--hidden", "8",
                           "--features", "form", "--bidirectional", "--layers", "2", "--dropout", "0.1",
                           "--word-dropout", "0.5", "--average", "0.9", "--adversarial", "0.5", "-q"]))
    tagger = Tagger.load(out)
    assert tagger.shape.bidirectional and tagger.shape.n_layers == 2 and "suf3" in tagger.vocab.slots
    assert {k: v for k, v in tagger.info["training"]["hyper_parameters"].items()
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
    conllu = ok(runner.invoke(app, args + ["conllu"])).stdout
    assert conllu.splitlines()[1] == "2\teat\t_\tv\t_\t_\t_\t_\t_\t_"
    obj = json.loads(ok(runner.invoke(app, args + ["jsonl"])).stdout)
    assert obj["tokens"] == ["I", "eat", "apple"] and obj["tags"] == ["nn", "v", "nn"]
    assert all(0.0 < p <= 1.0 for p in obj["probs"])


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


def test_the_commands_are_read_from_the_app():
    assert len(COMMANDS) == len(app.registered_commands) >= 5
    assert {"train", "tag", "unroll", "inspect", "eval"} <= set(COMMANDS)


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
    from rnncli.tagging import tag_stream

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
    out = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the child has closed the terminal
            break
        if not chunk:
            break
        out += chunk
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
