"""Hard to break, part three: output never lost in silence, a good model never spoiled, any
terminal and locale, numbers that are not numbers, the Python API given the wrong things.

Each case ends in one line on stderr and a non-zero status, or in every byte written; never in
a traceback, a status of 0 with output missing, or a model file that rnncli would refuse.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from rnncli import modelfile
from rnncli.cli import app
from rnncli.errors import ModelFileError, OptionError
from rnncli.tagger import Tagger

from conftest import PREVIOUS_MODEL, RNNCLI, ROOT, SAMPLES, one_line_error, run

TUTORIAL = SAMPLES / "tutorial.txt"
HAS_DEV_FULL = Path("/dev/full").exists()


def long_sentence(words=700):
    return " ".join(["they fish"] * (words // 2))


# -- output that fails, blocks or is cut short ---------------------------------------------------

@pytest.mark.skipif(not HAS_DEV_FULL, reason="needs /dev/full")
@pytest.mark.parametrize("args", [
    ["tag", "they fish"], ["tag", "they fish", "-f", "jsonl"], ["tag", "they fish", "-f", "conllu"],
    ["unroll", "they fish"], ["unroll", "they fish", "--json"],
    ["backprop", "they/nn fish/nn"], ["backprop", "they/nn fish/nn", "--json"],
    ["inspect"], ["inspect", "--json"],
    ["eval", str(TUTORIAL)], ["eval", str(TUTORIAL), "--json"],
    ["--version"], ["tag", "--help"],
])
def test_a_standard_output_that_fails_is_one_line_and_status_1_for_every_command(tutorial_model, args):
    model = ["--model", str(tutorial_model)] if args[0] not in ("--version",) and "--help" not in args else []
    with open("/dev/full", "w") as full:
        r = subprocess.run([*RNNCLI, *args, *model], stdout=full, stderr=subprocess.PIPE, text=True, timeout=60)
    assert (r.returncode, r.stderr) == (1, "rnncli: error: cannot write the output: No space left on device\n")


@pytest.mark.skipif(not HAS_DEV_FULL, reason="needs /dev/full")
def test_an_error_that_cannot_be_written_still_ends_with_its_status(tmp_path):
    with open("/dev/full", "w") as full:  # stderr too is written once, never again at exit (status 120)
        r = subprocess.run([*RNNCLI, "tag", "x", "--model", str(tmp_path / "none.npz")], stdout=subprocess.PIPE,
                           stderr=full, timeout=60)
    assert (r.returncode, r.stdout) == (1, b"")


def _nonblocking_pipe():
    fcntl = pytest.importorskip("fcntl")  # O_NONBLOCK on a pipe: POSIX
    read_end, write_end = os.pipe()
    fcntl.fcntl(write_end, fcntl.F_SETFL, fcntl.fcntl(write_end, fcntl.F_GETFL) | os.O_NONBLOCK)
    return read_end, write_end


def _read_slowly(fd, proc, nap=0.003, interrupt_after=None):
    """Everything from ``fd``, 4 KiB at a time with a nap between reads: a reader slower than
    rnncli, so that its pipe fills. With ``interrupt_after`` bytes read, SIGINT goes to rnncli."""
    got = bytearray()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(nap)
        block = os.read(fd, 4096)
        if not block:
            break
        got += block
        if interrupt_after is not None and len(got) >= interrupt_after:
            proc.send_signal(signal.SIGINT)
            interrupt_after = None
    os.close(fd)
    return bytes(got)


@pytest.mark.parametrize("unbuffered", ["1", None])
def test_a_non_blocking_pipe_with_a_slow_reader_gets_every_line(tutorial_model, tmp_path, unbuffered):
    lines = 20_000  # about 600 KB, ten times a pipe's buffer
    text = tmp_path / "in.txt"
    text.write_text("I eat apple\nthey fish in the river\n" * (lines // 2))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    if unbuffered:
        env["PYTHONUNBUFFERED"] = unbuffered  # Python's stdout then writes straight through, short writes lost
    read_end, write_end = _nonblocking_pipe()
    proc = subprocess.Popen([*RNNCLI, "tag", "-i", str(text), "--model", str(tutorial_model)], stdout=write_end,
                            stderr=subprocess.PIPE, env=env)
    os.close(write_end)
    try:
        got = _read_slowly(read_end, proc)
        err = proc.communicate(timeout=60)[1]
    finally:
        proc.kill()
    assert (proc.returncode, err) == (0, b"")
    assert got == b"I/nn eat/v apple/nn\nthey/nn fish/v in/prep the/det river/nn\n" * (lines // 2)


def test_a_table_view_into_a_non_blocking_pipe_is_written_whole(tutorial_model):
    args = ["unroll", long_sentence(), "--model", str(tutorial_model)]
    whole = run(args).stdout
    assert len(whole) > 100_000  # twice a pipe's buffer
    read_end, write_end = _nonblocking_pipe()
    proc = subprocess.Popen([*RNNCLI, *args], stdout=write_end, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    os.close(write_end)
    try:
        got = _read_slowly(read_end, proc, nap=0.001)
        err = proc.communicate(timeout=60)[1]
    finally:
        proc.kill()
    assert (proc.returncode, err, got) == (0, b"", whole)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_ctrl_c_while_tagging_into_a_pipe_ends_on_a_whole_line(tutorial_model, tmp_path, jobs):
    text = tmp_path / "in.txt"
    text.write_text("I eat apple\nthey fish in the river and duck\n" * 20_000)
    read_end, write_end = os.pipe()
    proc = subprocess.Popen([*RNNCLI, "tag", "-j", jobs, "-i", str(text), "--model", str(tutorial_model)],
                            stdout=write_end, stderr=subprocess.PIPE)
    os.close(write_end)
    try:
        got = _read_slowly(read_end, proc, interrupt_after=100_000)  # inside the first chunk's write
        proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert 100_000 <= len(got) < 1_000_000 and got.endswith(b"\n")
    lines = got.split(b"\n")[:-1]  # the two sentences in turn, each whole, the last one too
    assert all(line == lines[n % 2] for n, line in enumerate(lines)) and lines[0].endswith(b"apple/nn")


@pytest.mark.skipif(not hasattr(signal, "SIGPIPE"), reason="no SIGPIPE on this platform")
@pytest.mark.parametrize("command", ["unroll", "backprop"])
def test_a_closed_pipe_ends_a_table_view_with_status_141(tutorial_model, command):
    sentence = long_sentence(300 if command == "backprop" else 700)  # well over a pipe's buffer (64 KB)
    shell = f'"$@" | head -n 1; echo ${{PIPESTATUS[0]}} >&2'
    r = subprocess.run(["bash", "-c", shell, "rnncli", *RNNCLI, command, sentence, "--model", str(tutorial_model)],
                       capture_output=True, text=True, timeout=60)
    assert r.stdout.startswith("s_t = tanh(") and r.stdout.count("\n") == 1
    assert r.stderr == f"{128 + signal.SIGPIPE}\n"


def test_every_table_view_ends_a_closed_pipe_as_other_commands_do():
    from rnncli.cli import _stdout_console

    with pytest.raises(BrokenPipeError):  # not Rich's own handler, which exits with status 1
        _stdout_console().on_broken_pipe()


# -- terminals and locales ---------------------------------------------------------------------

@pytest.mark.parametrize("columns", ["0", "20"])
@pytest.mark.parametrize("command", [["unroll", "they fish"], ["inspect"]])
def test_a_terminal_too_narrow_gets_tables_of_a_minimum_width(tutorial_model, columns, command):
    r = run([*command, "--model", str(tutorial_model)], text=True, env={**os.environ, "COLUMNS": columns})
    assert (r.returncode, r.stderr) == (0, "")
    wide = run([*command, "--model", str(tutorial_model)], text=True, env={**os.environ, "COLUMNS": "200"}).stdout
    width = max(map(len, r.stdout.splitlines()))
    assert 60 <= width <= 80
    for word in ("they", "fish") if command[0] == "unroll" else ("parameters", "arrays"):
        assert word in r.stdout and word in wide


def test_training_progress_on_a_terminal_too_narrow_is_still_shown(runner, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "0")
    r = runner.invoke(app, ["train", str(TUTORIAL), "-o", str(tmp_path / "m.npz"), "--hidden", "8", "--epochs", "2"])
    assert r.exit_code == 0 and "epoch 2/2" in r.stderr and "training history" in r.stderr


@pytest.mark.parametrize("env", [{"LC_ALL": "C", "PYTHONUTF8": "0"}, {"PYTHONIOENCODING": "ascii"},
                                 {"LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONIOENCODING": "latin-1"}])
def test_input_and_output_are_utf8_whatever_the_locale(tutorial_model, tmp_path, env):
    text = tmp_path / "café.txt"
    text.write_text("café crème\n", encoding="utf-8")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("LC_")}, **env}
    for args in (["tag", "café crème"], ["tag", "-i", str(text)], ["tag", "-f", "jsonl", "café crème"]):
        r = run([*args, "--model", str(tutorial_model)], env=env)
        assert (r.returncode, r.stderr) == (0, b""), args
        assert "café" in r.stdout.decode("utf-8") and "crème" in r.stdout.decode("utf-8")
    r = run(["unroll", "café", "--model", str(tutorial_model)], env=env)
    assert r.returncode == 0 and "café" in r.stdout.decode("utf-8") and "━" in r.stdout.decode("utf-8")
    r = run(["tag", b"caf\xe9", "--model", str(tutorial_model)], env=env)  # Latin-1 bytes: not UTF-8 whatever the locale
    assert (r.returncode, r.stderr) == (1, b"rnncli: error: argument 1: not valid UTF-8 (byte 0xe9)\n")


# -- a good model never spoiled --------------------------------------------------------------------

def test_a_checkpoint_holding_nan_is_refused_and_the_model_is_kept(runner, tutorial_model, tmp_path, monkeypatch):
    from test_robustness import _interrupted_checkpoint

    ckpt = _interrupted_checkpoint(runner, tmp_path, monkeypatch)
    keep = tmp_path / "keep.npz"
    before = tutorial_model.read_bytes()
    keep.write_bytes(before)
    arrays, meta = modelfile.load(ckpt)
    for name, value in (("params.W", np.nan), ("optimizer.m.V", np.inf)):
        spoiled = {k: a.copy() for k, a in arrays.items()}
        spoiled[name].flat[3] = value
        path = tmp_path / "nan.ckpt.npz"
        np.savez(path, metadata=np.frombuffer(json.dumps(meta).encode(), np.uint8), **spoiled)
        r = runner.invoke(app, ["train", str(TUTORIAL), "-o", str(keep), "--hidden", "8", "-q", "--resume", str(path)])
        assert one_line_error(r) == f"rnncli: error: {path}: array {name} holds NaN or infinite values\n"
        assert keep.read_bytes() == before


@pytest.mark.parametrize("spoil, message", [
    (lambda t: t.params["V"].__setitem__((0, 0), np.nan), "array V holds NaN or infinite values"),
    (lambda t: t.params["V"].__setitem__((0, 0), 1e6), "array V holds 1e+06, beyond float16's range"),
    (lambda t: t.tags.__setitem__(0, "N\u200dN"), "tag 'N\\u200dN' is not one word of printable text"),
])
def test_a_model_rnncli_would_refuse_never_replaces_a_good_one(tutorial_model, tmp_path, spoil, message):
    target = tmp_path / "good.npz"
    target.write_bytes(tutorial_model.read_bytes())
    tagger = Tagger.load(tutorial_model)
    spoil(tagger)
    with pytest.raises(ModelFileError) as e:
        tagger.save(target, dtype=np.float16)
    assert str(e.value).startswith(f"{target}: {message}")
    assert str(e.value).endswith("; not written, the previous file, if any, is unchanged")
    assert target.read_bytes() == tutorial_model.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.npz"]  # no temporary file left


@pytest.mark.parametrize("tag", ["\U0001F469\u200d\U0001F4BB", "N\u202eN", "NO\u2028UN"])
def test_a_tag_no_model_may_hold_is_refused_by_training_naming_file_and_line(runner, tmp_path, tag):
    corpus = tmp_path / "c.tsv"
    corpus.write_text(f"They\tPRON\nfish\tVERB\n\nI\tPRON\neat\t{tag}\n\nwe\tPRON\nswim\tVERB\n", encoding="utf-8")
    out = tmp_path / "m.npz"
    r = runner.invoke(app, ["train", str(corpus), "-o", str(out), "--hidden", "8", "--epochs", "1", "-q", "--strict"])
    err = one_line_error(r)
    assert err.startswith(f"rnncli: error: {corpus}:5: tag ") and "is not one word of printable text" in err
    assert err.isprintable() or err[:-1].isprintable()  # the format character is shown escaped
    assert not out.exists()
    r = runner.invoke(app, ["train", str(corpus), "-o", str(out), "--hidden", "8", "--epochs", "1", "-q"])
    assert r.exit_code == 0 and f"skipped 1 malformed training sentence; first: {corpus}:5: tag" in r.stderr
    assert Tagger.load(out).tags == ["PRON", "VERB"]  # what training writes, the loader reads


def test_a_tag_holding_a_slash_is_refused_for_slash_output_and_written_in_the_others(runner, tmp_path):
    corpus = tmp_path / "c.tsv"
    corpus.write_text("They\tPRON\nfish\tVERB/N\n\nI\tPRON\neat\tVERB/N\n", encoding="utf-8")
    model = tmp_path / "m.npz"
    assert runner.invoke(app, ["train", str(corpus), "-o", str(model), "--hidden", "8", "--epochs", "2", "-q"]).exit_code == 0
    err = one_line_error(runner.invoke(app, ["tag", "they fish", "--model", str(model)]), status=2)
    assert "tag 'VERB/N' holds a '/', which slash output cannot show" in err
    with pytest.raises(OptionError):
        Tagger.load(model).tag_lines(["they fish"])
    r = runner.invoke(app, ["tag", "they fish", "--model", str(model), "-f", "tsv"])
    assert r.exit_code == 0 and "VERB/N" in r.stdout


def test_eval_of_rnncli_s_own_slash_output_reads_back_what_was_written(runner, tutorial_model, tmp_path):
    text = "I eat 1/2 apple and/or fish\nthey fish in the river //\n"
    r = runner.invoke(app, ["tag", "--pretokenized", "--model", str(tutorial_model)], input=text)
    own = tmp_path / "own.txt"
    own.write_text(r.stdout, encoding="utf-8")
    r = runner.invoke(app, ["eval", str(own), "--model", str(tutorial_model), "--json"])
    report = json.loads(r.stdout)
    assert report["accuracy"] == 1.0 and report["tokens"] == len(text.split())


# -- numbers that are not numbers -----------------------------------------------------------------

def _with_weights(tutorial_model, tmp_path, name, change):
    arrays, meta = modelfile.load(tutorial_model)
    arrays = {k: a.astype(np.float32) for k, a in arrays.items()}
    change(arrays)
    meta["stored_dtype"] = "float32"
    path = tmp_path / name
    np.savez(path, metadata=np.frombuffer(json.dumps(meta).encode(), np.uint8), **arrays)
    return path


def _huge_v(arrays):
    arrays["V"][...] = 3e38  # finite, passes the loader; V s_t + c overflows
    arrays["V"][1::2] *= -1


@pytest.mark.parametrize("args", [["tag", "they fish", "-f", "jsonl"], ["tag", "they fish"], ["unroll", "they fish"],
                                  ["unroll", "they fish", "--json"], ["eval", str(TUTORIAL)],
                                  ["eval", str(TUTORIAL), "--json", "--without-memory"]])
def test_weights_too_large_to_compute_with_are_one_line(tutorial_model, tmp_path, args):
    path = _with_weights(tutorial_model, tmp_path, "huge.npz", _huge_v)
    r = run([*args, "--model", str(path)], text=True)
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr == (f"rnncli: error: {path}: weights too large to compute with: the network's outputs "
                        f"overflow to infinity or NaN\n")  # and no NumPy warning


def test_scores_far_apart_give_probabilities_and_valid_json(tutorial_model, tmp_path):
    def far_apart(arrays):
        arrays["V"][...] = 0
        arrays["c"][...] = 3e38
        arrays["c"][0] = -3e38  # the difference overflows float32: its exp is 0, not a NaN

    path = _with_weights(tutorial_model, tmp_path, "far.npz", far_apart)
    r = run(["tag", "they fish", "-f", "jsonl", "--model", str(path)], text=True)
    assert (r.returncode, r.stderr) == (0, "")

    def no_constants(name):
        raise AssertionError(f"{name} in JSON output")

    record = json.loads(r.stdout, parse_constant=no_constants)
    n = len(record["tags"])
    assert record["probs"] == pytest.approx([1 / 8] * n, abs=1e-4)  # eight tags tie, the ninth has none
    assert record["tags"][0] != Tagger.load(path).tags[0]
    tagger = Tagger.load(path)
    probs = tagger.predict([["they", "fish"]])[0]
    assert np.isfinite(probs).all() and probs.sum(axis=1) == pytest.approx([1, 1], abs=1e-6)


def test_a_result_that_is_not_finite_is_never_written_as_json(monkeypatch, capsys):
    from rnncli.cli import _print_json
    from rnncli.errors import RnncliError

    with pytest.raises(RnncliError, match="not finite"):
        _print_json({"loss": float("nan")})
    assert capsys.readouterr().out == ""


# -- the Python API given the wrong things --------------------------------------------------------

@pytest.mark.parametrize("sentences, where", [
    ([[1, 2, 3]], "sentence 0, token 0 is int"),
    ([["they", "fish"], ["I", None]], "sentence 1, token 1 is NoneType"),
    ([["they", b"fish"]], "sentence 0, token 1 is bytes"),
    ([["they", 1.5]], "sentence 0, token 1 is float"),
    ([["they"], None], "sentence 1 is NoneType"),
])
def test_tokens_that_are_not_str_are_a_type_error_naming_sentence_and_position(tutorial_model, sentences, where):
    tagger = Tagger.load(tutorial_model)
    with pytest.raises(TypeError, match=where):
        tagger.tag(sentences)
    assert tagger.tag([["they", "fish"], ("the", "fish"), []]) == [["nn", "v"], ["det", "nn"], []]


@pytest.mark.parametrize("line", [10**9, None, 1.5, ["they", "fish"]])
def test_lines_that_are_neither_str_nor_bytes_are_a_type_error(tutorial_model, line):
    lines = Tagger.load(tutorial_model).tag_lines(["they fish", line])
    assert next(lines) == "they/nn fish/v\n"  # the lines before it are out first, as with a bad line
    with pytest.raises(TypeError, match="<lines>:2: lines are str or bytes, not "):
        next(lines)


# -- signals and a final write that fails ----------------------------------------------------------

@pytest.mark.parametrize("name, word", [("SIGHUP", "hung up (SIGHUP)"), ("SIGQUIT", "quit (SIGQUIT)")])
def test_sighup_and_sigquit_during_training_save_a_checkpoint_as_sigterm_does(tmp_path, name, word):
    from test_robustness import signalled_training

    if not hasattr(signal, name):
        pytest.skip(f"no {name} on this platform")
    number = getattr(signal, name)
    status, rest, _ = signalled_training(tmp_path, number, 2)
    ckpt = tmp_path / "m.ckpt.npz"
    assert status == 128 + number, rest
    assert f"rnncli: error: {word} in epoch " in rest and "Traceback" not in rest
    assert f"not written; checkpoint saved to {ckpt}; continue with the same command and --resume {ckpt}" in rest
    assert (tmp_path / "m.npz").read_bytes() == PREVIOUS_MODEL and ckpt.exists()


@pytest.mark.parametrize("extra", [[], ["--dev", str(TUTORIAL), "--patience", "1", "--epochs", "30"]])
def test_a_model_that_cannot_be_written_leaves_a_checkpoint_that_resume_writes(runner, tmp_path, monkeypatch, extra):
    args = ["train", str(TUTORIAL), "--hidden", "8", "--epochs", "3", "-q", *extra]
    reference = tmp_path / "reference.npz"
    assert runner.invoke(app, [*args, "-o", str(reference)]).exit_code == 0
    out, ckpt = tmp_path / "m.npz", tmp_path / "m.ckpt.npz"
    real = Tagger.save

    def disk_full(self, path, dtype=np.float32):
        if Path(path) == out:
            raise ModelFileError(f"{path}: disk full; the previous file, if any, is unchanged")
        return real(self, path, dtype)

    monkeypatch.setattr(Tagger, "save", disk_full)
    r = runner.invoke(app, [*args, "-o", str(out)])
    assert one_line_error(r) == (f"rnncli: error: {out}: disk full; the previous file, if any, is unchanged; the "
                                 f"trained run is kept in {ckpt}: write the model with the same command and "
                                 f"--resume {ckpt}\n")
    assert not out.exists() and ckpt.exists()
    monkeypatch.setattr(Tagger, "save", real)
    r = runner.invoke(app, [*args, "-o", str(out), "--resume", str(ckpt)])
    assert r.exit_code == 0, r.stderr
    assert not ckpt.exists()  # used up
    written, expected = Tagger.load(out), Tagger.load(reference)
    assert written.record.training.best_epoch == expected.record.training.best_epoch
    assert len(written.record.training.history) == len(expected.record.training.history)
    for name, a in expected.params.items():  # computed twice in this process: the same bits
        assert np.array_equal(written.params[name], a), name
