"""Bad input, damaged files, interrupted training and closed pipes, through the real CLI.

Every failure must be one line on stderr naming what is wrong and where, a non-zero exit
status, no traceback, and no model file lost.
"""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnncli import modelfile
from rnncli.cli import app
from rnncli.config import BLAS_VARIABLES
from rnncli.corpus import read_corpus
from rnncli.errors import CorpusError, ModelFileError
from rnncli.tagger import Tagger

from conftest import PREVIOUS_MODEL, RNNCLI, ROOT, damaged, examples, one_line_error

TUTORIAL = ROOT / "sample_corpora" / "tutorial.txt"


def fresh_checkpoint(path, config):
    """A sound checkpoint of a run not yet begun, for ``config`` (on made-up data)."""
    from rnncli import checkpoint, rnn
    from rnncli.optim import OPTIMIZERS

    shape = rnn.Shape(3, config.hidden, 2, config.bidirectional, config.layers)
    rng = np.random.default_rng(0)
    params = rnn.init_params(shape, rng)
    optimizer = OPTIMIZERS[config.optimizer](params)
    checkpoint.save(path, checkpoint.TrainState(0, params, optimizer.state(), rng.bit_generator.state), config, "x")
    return path


def train_args(corpus, out, *extra):
    return ["train", str(corpus), "-o", str(out), "--epochs", "1", "--hidden", "8", "-q", *extra]


# -- corpora ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, content, message", [
    ("missing.txt", None, "{p}: no such file"),
    ("empty.txt", b"", "{p}: no tagged sentence found (read as slash)"),
    ("blank.txt", b"\n  \n\t\n", "{p}: no tagged sentence found (read as slash)"),
    ("binary.txt", b"I/nn eat/v\n\x00\x01\x02PK\n", "{p}:2: binary data (a NUL byte), not text"),
    ("latin1.txt", "I/nn eat/v\ncaf\u00e9/nn\n".encode("latin-1"), "{p}:2: not valid UTF-8 (byte 0xe9 at column 4)"),
])
def test_unreadable_corpora_stop_training(runner, tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    err = one_line_error(runner.invoke(app, train_args(path, tmp_path / "m.npz")))
    assert err == f"rnncli: error: {message.format(p=path)}\n"
    assert not (tmp_path / "m.npz").exists()


def test_a_directory_is_not_a_corpus(runner, tmp_path):
    err = one_line_error(runner.invoke(app, train_args(tmp_path, tmp_path / "m.npz")))
    assert err == f"rnncli: error: {tmp_path}: is a directory, not a file\n"


@pytest.mark.parametrize("name, content, line, problem, tokens", [
    ("notag.txt", "I/nn eat/v apple/nn\nthe dog/nn\nI/nn fish/v\n", 2, "token 'the' has no tag (expected word/TAG)", 5),
    ("emptytag.txt", "I/nn eat/v apple/nn\nthe/det dog/\nI/nn fish/v\n", 2,
     "token 'dog/' has an empty tag (expected word/TAG)", 5),
    ("three.tsv", "I\tnn\neat\tv\n\ndog\tnn\textra\n\nfish\tnn\n", 4, "expected word<TAB>tag, got 3 columns", 3),
    ("short.conllu", "1\tI\tI\tPRON\tPRP\t_\t_\t_\t_\t_\n\n1\tdog\tNOUN\n\n"
                     "1\tfish\tfish\tNOUN\tNN\t_\t_\t_\t_\t_\n", 3, "CoNLL-U needs 10 tab-separated columns, got 3", 2),
])
def test_malformed_sentences_are_skipped_with_a_count_or_fatal_with_strict(runner, tmp_path, name, content, line,
                                                                            problem, tokens):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    out = tmp_path / "m.npz"
    r = runner.invoke(app, train_args(path, out))
    assert r.exit_code == 0, r.stderr
    assert r.stderr == (f"rnncli: warning: skipped 1 malformed training sentence; first: {path}:{line}: {problem} "
                        f"(--strict makes this an error)\n")
    assert Tagger.load(out).record.training.tokens == tokens  # the good sentences around it are kept
    out.unlink()
    err = one_line_error(runner.invoke(app, train_args(path, out, "--strict")))
    assert err == f"rnncli: error: {path}:{line}: {problem}\n"
    assert not out.exists()


def test_only_malformed_sentences_is_an_error_after_the_warning(runner, tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("dog\ncat\n")
    r = runner.invoke(app, train_args(path, tmp_path / "m.npz"))
    assert r.exit_code == 1
    assert r.stderr.splitlines() == [
        f"rnncli: warning: skipped 2 malformed training sentences; first: {path}:1: token 'dog' has no tag "
        f"(expected word/TAG) (--strict makes this an error)",
        f"rnncli: error: {path}: no tagged sentence found (read as slash)"]


def test_bom_and_crlf_are_read_as_text(runner, tmp_path):
    path = tmp_path / "win.txt"
    path.write_bytes(b"\xef\xbb\xbfI/nn eat/v apple/nn\r\nthey/nn fish/v\r\n")
    assert read_corpus(path)[0].words == ["I", "eat", "apple"]
    assert read_corpus(path)[1].tags == ["nn", "v"]
    r = runner.invoke(app, train_args(path, tmp_path / "m.npz"))
    assert r.exit_code == 0 and r.stderr == ""


def test_ten_thousand_token_sentence_trains_and_tags(runner, tmp_path):
    rng = np.random.default_rng(0)
    words = ["I", "eat", "apple", "they", "fish", "the", "river"]
    long = rng.choice(words, size=10_000)
    path = tmp_path / "long.txt"
    path.write_text(TUTORIAL.read_text() + " ".join(f"{w}/x" for w in long) + "\n")
    out = tmp_path / "m.npz"
    r = runner.invoke(app, train_args(path, out))
    assert r.exit_code == 0, r.stderr
    r = runner.invoke(app, ["tag", "--pretokenized", "--model", str(out)], input=" ".join(long) + "\n")
    assert r.exit_code == 0 and len(r.stdout.split()) == 10_000


def test_dev_tags_never_seen_in_training_are_reported_as_unlearnable(runner, tmp_path):
    dev = tmp_path / "dev.txt"
    dev.write_text("I/nn eat/v apple/nn\nhello/intj there/adv\n")
    r = runner.invoke(app, ["train", str(TUTORIAL), "--dev", str(dev), "-o", str(tmp_path / "m.npz"), "--epochs", "1"])
    assert r.exit_code == 0
    assert "dev tags never seen in training (unlearnable): intj" in r.stderr
    assert Tagger.load(tmp_path / "m.npz").record.training.unlearnable_dev_tags == ["intj"]


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=300), fmt=st.sampled_from(["slash", "tsv", "conllu", None]), lenient=st.booleans())
def test_readers_return_sentences_or_raise_the_project_error(tmp_path, text, fmt, lenient):
    path = tmp_path / "any.txt"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    try:
        sentences = read_corpus(path, fmt, problems=[] if lenient else None)
    except CorpusError:
        return
    assert sentences and all(s.words and len(s.words) == len(s.tags) for s in sentences)
    assert all(w and not any(c in w for c in "\r\n") for s in sentences for w in s.words)


# -- text to tag ------------------------------------------------------------------------------------

def test_empty_input_gives_empty_output(runner, tutorial_model):
    r = runner.invoke(app, ["tag", "--model", str(tutorial_model)], input="")
    assert (r.exit_code, r.stdout, r.stderr) == (0, "", "")


def test_blank_and_whitespace_lines_stay_blank(runner, tutorial_model):
    r = runner.invoke(app, ["tag", "--model", str(tutorial_model)], input="I eat apple\n\n   \t \nthey fish\n")
    assert r.exit_code == 0
    assert r.stdout.split("\n") == ["I/nn eat/v apple/nn", "", "", "they/nn fish/v", ""]


@pytest.mark.parametrize("fmt", ["slash", "jsonl", "tsv", "conllu"])
def test_any_unicode_and_control_characters_round_trip(runner, tutorial_model, fmt):
    import json

    text = "I eat 🍎 苹果 cafe\u0301 שלום \u0007bell \u200bzero"
    r = runner.invoke(app, ["tag", "--pretokenized", "--format", fmt, "--model", str(tutorial_model)], input=text + "\n")
    assert r.exit_code == 0, r.stderr
    if fmt == "jsonl":
        assert json.loads(r.stdout)["tokens"] == text.split()
    elif fmt == "slash":
        assert [t.rpartition("/")[0] for t in r.stdout.split()] == text.split()
    else:
        col = 0 if fmt == "tsv" else 1
        assert [row.split("\t")[col] for row in r.stdout.splitlines() if row and row[0] != "#"] == text.split()


def test_very_long_line(runner, tutorial_model):
    line = "I eat apple and " * 25_000
    r = runner.invoke(app, ["tag", "--model", str(tutorial_model)], input=line + "\n")
    assert r.exit_code == 0 and r.stdout.count("\n") == 1 and len(r.stdout.split()) == 100_000


def test_invalid_utf8_on_stdin_names_the_line(tutorial_model):
    r = subprocess.run([*RNNCLI, "tag", "--model", str(tutorial_model)], input=b"I eat apple\nfish \xff\xfe\n",
                       capture_output=True, timeout=60)
    assert r.returncode == 1
    assert r.stderr == b"rnncli: error: <stdin>:2: not valid UTF-8 (byte 0xff at column 6)\n"
    assert r.stdout == b"I/nn eat/v apple/nn\n"  # what came before the bad line is kept


@pytest.mark.skipif(not hasattr(signal, "SIGPIPE"), reason="no SIGPIPE on this platform")
@pytest.mark.parametrize("jobs", [1, 2])
def test_closed_stdout_ends_quietly_like_a_unix_filter(tutorial_model, tmp_path, jobs):
    big = tmp_path / "big.txt"
    big.write_text("I eat apple\nthey fish in the river\n" * 200_000)
    shell = f"{' '.join(RNNCLI)} tag -j {jobs} -i {big} --model {tutorial_model} | head -1; echo ${{PIPESTATUS[0]}} >&2"
    r = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, timeout=120)
    assert r.stdout == "I/nn eat/v apple/nn\n"
    assert r.stderr == f"{128 + signal.SIGPIPE}\n"  # killed by SIGPIPE, as `cat big | head -1` would be
    deadline = time.monotonic() + 10  # and no worker process is left behind
    while subprocess.run(["pgrep", "-f", str(big)], capture_output=True).returncode == 0:
        assert time.monotonic() < deadline, "worker processes outlived rnncli"
        time.sleep(0.1)


# -- model files -------------------------------------------------------------------------------------

def test_metadata_that_disagrees_with_the_arrays_is_refused(tutorial_model, tmp_path):
    arrays, meta = modelfile.load(tutorial_model)
    meta["tags"] = meta["tags"][:-1]
    path = tmp_path / "bad.npz"
    modelfile.save(path, arrays, meta)
    with pytest.raises(ModelFileError, match="metadata disagrees with itself"):
        Tagger.load(path)


def test_missing_array_is_refused(runner, tutorial_model, tmp_path):
    arrays, meta = modelfile.load(tutorial_model)
    del arrays["V"]
    path = tmp_path / "nov.npz"
    modelfile.save(path, arrays, meta)
    err = one_line_error(runner.invoke(app, ["tag", "x", "--model", str(path)]))
    assert err == f"rnncli: error: {path}: missing array(s) V\n"


def test_model_truncated_at_every_kind_of_offset_is_refused(runner, tutorial_model, tmp_path):
    data = tutorial_model.read_bytes()
    path = tmp_path / "cut.npz"
    for cut in [0, 1, 10, 100, len(data) // 3, len(data) // 2, len(data) - 100, len(data) - 1]:
        path.write_bytes(data[:cut])
        err = one_line_error(runner.invoke(app, ["tag", "x", "--model", str(path)]))
        assert err.startswith(f"rnncli: error: {path}: ")


def test_loader_fuzz_mutations_load_the_same_or_are_refused(tutorial_model, tmp_path):
    rng = np.random.default_rng(7)
    data = tutorial_model.read_bytes()
    reference = Tagger.load(tutorial_model).tag([["I", "eat", "apple"], ["they", "fish"]])
    path = tmp_path / "fuzz.npz"
    outcomes = {"same": 0, "refused": 0}
    for i in range(300):
        path.write_bytes(damaged(data, rng, ("cut", "flip", "overwrite")[i % 3]))
        try:
            tagger = Tagger.load(path)
        except ModelFileError:
            outcomes["refused"] += 1
            continue
        assert tagger.tag([["I", "eat", "apple"], ["they", "fish"]]) == reference
        outcomes["same"] += 1
    assert outcomes["refused"] > 200


def test_checkpoint_is_not_taken_for_a_model(runner, tmp_path):
    from rnncli.train import TrainConfig

    path = fresh_checkpoint(tmp_path / "c.ckpt.npz", TrainConfig())
    err = one_line_error(runner.invoke(app, ["inspect", str(path)]))
    assert "a training checkpoint, not a model" in err


# -- options ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("args, hint", [
    (["--hidden", "0"], "--hidden"),
    (["--epochs", "-1"], "--epochs"),
    (["--batch-size", "0"], "--batch-size"),
    (["--lr", "0"], "--lr"),
    (["--lr", "nan"], "--lr"),
    (["--format", "xml"], "--format"),
    (["--patience", "2"], "--patience"),  # no --dev to measure by
    (["--format", "slash", "--tag-column", "xpos"], "--tag-column"),
    (["--dropout", "1.5"], "--dropout"),
    (["--clip", "inf"], "--clip"),  # the model's metadata is JSON, which has no infinity
    (["--word-dropout", "inf"], "--word-dropout"),
    (["--word-dropout", "nan"], "--word-dropout"),
    (["--adversarial", "-1"], "--adversarial"),
    (["--adversarial", "inf"], "--adversarial"),
])
def test_bad_options_are_usage_errors_before_any_work(runner, tmp_path, args, hint):
    out = tmp_path / "m.npz"
    r = runner.invoke(app, ["train", str(TUTORIAL), "-o", str(out), *args])
    assert r.exit_code == 2 and hint in r.stderr and "Traceback" not in r.stderr
    assert not out.exists()


def test_output_that_is_an_input_is_refused(runner, tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text(TUTORIAL.read_text())
    r = runner.invoke(app, ["train", str(corpus), "-o", str(corpus)])
    assert r.exit_code == 2 and "is an input corpus; refusing to overwrite it" in r.stderr
    assert corpus.read_text() == TUTORIAL.read_text()


def test_tag_format_must_be_known(runner, tutorial_model):
    r = runner.invoke(app, ["tag", "x", "--format", "html", "--model", str(tutorial_model)])
    assert r.exit_code == 2 and "--format" in r.stderr


# -- nothing lost -----------------------------------------------------------------------------------

def test_divergence_is_reported_with_epoch_and_batch(runner, tmp_path):
    out = tmp_path / "m.npz"
    err = one_line_error(runner.invoke(app, train_args(TUTORIAL, out, "--lr", "1e38")))
    assert err.startswith("rnncli: error: training diverged: loss is nan at epoch 1, batch ")
    assert err.endswith("(try a smaller --lr)\n")
    assert not out.exists()


def test_a_loss_blown_up_but_still_a_number_is_divergence_too(runner, tmp_path, tutorial_model):
    """At --lr 1e30 the weights jump to 1e30 and the loss with them, yet stays finite: such a
    run wrote a model that tags every word alike, with status 0, over the file that was there."""
    out = tmp_path / "m.npz"
    out.write_bytes(tutorial_model.read_bytes())
    err = one_line_error(runner.invoke(app, train_args(TUTORIAL, out, "--lr", "1e30")))
    assert re.match(r"rnncli: error: training diverged: loss is \d\.\d+e\+\d+ at epoch 1, batch \d+ "
                    r"\(try a smaller --lr\)\n$", err), err
    assert out.read_bytes() == tutorial_model.read_bytes()  # the model that was there


def test_divergence_keeps_the_best_model_so_far(runner, tmp_path, monkeypatch):
    from rnncli import rnn

    real, calls = rnn.loss_and_grads, []

    def failing_in_epoch_three(*args, **kwargs):
        calls.append(1)
        loss, grads = real(*args, **kwargs)
        return (float("nan") if len(calls) > 2 * 27 else loss), grads  # 430 sentences / 16: 27 batches an epoch

    monkeypatch.setattr(rnn, "loss_and_grads", failing_in_epoch_three)
    out = tmp_path / "m.npz"
    err = one_line_error(runner.invoke(app, ["train", str(TUTORIAL), "--dev", str(TUTORIAL), "-o", str(out), "-q",
                                             "--epochs", "5"]))
    assert err == ("rnncli: error: training diverged: loss is nan at epoch 3, batch 1 (try a smaller --lr); "
                   f"kept the best model so far (epoch 2) in {out}\n")
    assert [h["epoch"] for h in Tagger.load(out).record.training.history] == [1, 2]


def test_resume_must_not_contradict_the_checkpoint(runner, tmp_path):
    from rnncli.train import TrainConfig

    ckpt = fresh_checkpoint(tmp_path / "c.ckpt.npz", TrainConfig(hidden=64))
    r = runner.invoke(app, ["train", str(TUTORIAL), "--resume", str(ckpt), "--hidden", "32", "-o", str(tmp_path / "m.npz")])
    assert r.exit_code == 2 and "32 conflicts with the checkpoint's 64" in r.stderr

    r = runner.invoke(app, ["train", str(TUTORIAL), "--resume", str(ckpt), "-o", str(tmp_path / "m.npz")])
    assert one_line_error(r) == (f"rnncli: error: {ckpt}: this checkpoint was made with other training data; "
                                 f"resume with the corpora it was made from\n")


def test_every_hyper_parameter_but_the_length_of_training_is_fixed_by_a_checkpoint(runner, tmp_path):
    """Read from the one definition of the hyper-parameters: each option but the length of
    training and what the file keeps, given another value than a checkpoint's, is refused
    naming the option."""
    from rnncli.config import CHECKPOINTED, OPTIONS, RESUMABLE, TrainConfig

    assert {f.name for f in OPTIONS} - set(CHECKPOINTED) == set(RESUMABLE) == {
        "epochs", "patience", "store", "store_min_count"}
    ckpt = fresh_checkpoint(tmp_path / "c.ckpt.npz", TrainConfig())
    for f in OPTIONS:
        if f.name in RESUMABLE:
            continue
        option = "--" + f.name.replace("_", "-")
        if f.type == "bool":
            given = [option if not f.default else "--no-" + option[2:]]
        elif "choices" in f.metadata:
            given = [option, next(c for c in f.metadata["choices"] if c != f.default)]
        else:
            given = [option, str(f.default + (1 if f.type == "int" else 0.05))]
        r = runner.invoke(app, ["train", str(TUTORIAL), "-o", str(tmp_path / "m.npz"), "--resume", str(ckpt), *given])
        assert r.exit_code == 2, (given, r.stderr)
        assert f"Invalid value for {option}: " in r.stderr and "conflicts with the checkpoint's" in r.stderr


def _wait_for(proc, text, timeout=60):
    """Read the process's stderr until a line containing ``text``; returns what was read."""
    seen, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        seen.append(line)
        if text in line:
            return seen
    raise AssertionError(f"{text!r} never appeared in: {seen}")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def signalled_training(tmp_path, number, epoch: int, *extra) -> tuple[int, str, list[str]]:
    """`rnncli train` in a real process, over a previous model file, sent signal ``number`` once
    epoch ``epoch`` of 200 is reported: (status, what it wrote to stderr then, its arguments)."""
    out = tmp_path / "m.npz"
    out.write_bytes(PREVIOUS_MODEL)
    args = ["train", str(TUTORIAL), "--epochs", "200", "--hidden", "128", *extra, "-o", str(out)]
    proc = subprocess.Popen([*RNNCLI, *args], stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "COLUMNS": "200"})
    try:
        _wait_for(proc, f"epoch {epoch}/200  loss", timeout=120)
        proc.send_signal(number)
        _, rest = proc.communicate(timeout=60)
    finally:
        proc.kill()
    return proc.returncode, rest, args


def test_sigint_keeps_the_old_model_and_saves_a_checkpoint(tmp_path):
    """The real signal, in a real process: status, message, the old file untouched."""
    status, rest, _ = signalled_training(tmp_path, signal.SIGINT, 3)
    out, ckpt = tmp_path / "m.npz", tmp_path / "m.ckpt.npz"
    assert status == 130, rest
    assert f"not written; checkpoint saved to {ckpt}" in rest and "Traceback" not in rest
    assert out.read_bytes() == PREVIOUS_MODEL and ckpt.exists()


def test_resume_ends_with_the_same_arrays_as_a_run_never_interrupted(runner, tmp_path, monkeypatch):
    """Bit for bit, with dev scoring, weight averaging and dropout (in one process, so that the
    BLAS thread count, which can change the last bit of a sum, is the same throughout)."""
    extra = ["--dev", str(TUTORIAL), "--average", "0.99", "--dropout", "0.1", "--seed", "3"]
    reference = tmp_path / "reference.npz"
    r = runner.invoke(app, ["train", str(TUTORIAL), "-o", str(reference), "--epochs", "4", "--hidden", "8", "-q",
                            *extra])
    assert r.exit_code == 0, r.stderr
    ckpt = _interrupted_checkpoint(runner, tmp_path, monkeypatch, *extra)  # Ctrl-C in epoch 3 of 4
    out = tmp_path / "m.npz"
    r = runner.invoke(app, ["train", str(TUTORIAL), "-o", str(out), "--hidden", "8", "-q", "--resume", str(ckpt),
                            *extra])
    assert r.exit_code == 0, r.stderr
    resumed, uninterrupted = modelfile.load(out), modelfile.load(reference)
    assert resumed[0].keys() == uninterrupted[0].keys()
    for name in uninterrupted[0]:
        np.testing.assert_array_equal(resumed[0][name], uninterrupted[0][name])
    assert [h["dev_accuracy"] for h in resumed[1]["training"]["history"]] == \
           [h["dev_accuracy"] for h in uninterrupted[1]["training"]["history"]]
    assert not ckpt.exists()  # used up by a run that finished


@pytest.mark.slow
def test_a_100_mb_corpus_trains(runner, tmp_path):
    """Read, encode and train one epoch on 100 MB of text (about 14 million tokens). Nearly all
    of its time is rnncli's own reading, encoding and training: the size is the point."""
    block = TUTORIAL.read_bytes()
    path = tmp_path / "big.txt"
    with open(path, "wb") as f:
        for _ in range(100 * 2**20 // len(block) + 1):
            f.write(block)
    assert path.stat().st_size >= 100 * 2**20
    out = tmp_path / "m.npz"
    r = runner.invoke(app, ["train", str(path), "-o", str(out), "--epochs", "1", "--hidden", "16",
                            "--batch-size", "2048", "-q"])
    assert r.exit_code == 0, r.stderr
    tagger = Tagger.load(out)
    copies = 100 * 2**20 // len(block) + 1
    assert tagger.record.training.tokens == sum(len(s.words) for s in read_corpus(TUTORIAL)) * copies
    assert tagger.tag([["I", "eat", "apple"]]) == [["nn", "v", "nn"]]


def test_eval_skips_malformed_gold_sentences_with_a_warning(runner, tutorial_model, tmp_path):
    gold = tmp_path / "gold.txt"
    gold.write_text("I/nn eat/v apple/nn\nbroken line\nthey/nn fish/v\n")
    r = runner.invoke(app, ["eval", str(gold), "--model", str(tutorial_model), "--json"])
    assert r.exit_code == 0
    assert r.stderr.startswith(f"rnncli: warning: skipped 1 malformed gold sentence; first: {gold}:2: ")
    assert '"tokens": 5' in r.stdout
    err = one_line_error(runner.invoke(app, ["eval", str(gold), "--model", str(tutorial_model), "--strict"]))
    assert err == f"rnncli: error: {gold}:2: token 'broken' has no tag (expected word/TAG)\n"


# -- found in review ---------------------------------------------------------------------------------

def _interrupted_checkpoint(runner, tmp_path, monkeypatch, *args):
    """Run `rnncli train` until epoch 3 ends, then Ctrl-C (the checkpoint holds 2 epochs): its path."""
    from rnncli.progress import TrainingDisplay

    real = TrainingDisplay.update

    def ctrl_c_after_epoch_two(self, p):
        real(self, p)
        if p.kind == "epoch" and p.epoch == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(TrainingDisplay, "update", ctrl_c_after_epoch_two)
    out = tmp_path / "m.npz"
    r = runner.invoke(app, ["train", str(TUTORIAL), "-o", str(out), "--epochs", "4", "--hidden", "8", "-q", *args])
    monkeypatch.setattr(TrainingDisplay, "update", real)
    assert r.exit_code == 130, r.stderr
    return tmp_path / "m.ckpt.npz"


def test_resume_refuses_other_dev_data_and_fewer_epochs(runner, tmp_path, monkeypatch):
    ckpt = _interrupted_checkpoint(runner, tmp_path, monkeypatch)  # trained without --dev
    base = ["train", str(TUTORIAL), "-o", str(tmp_path / "m.npz"), "--hidden", "8", "-q", "--resume", str(ckpt)]
    err = one_line_error(runner.invoke(app, [*base, "--dev", str(TUTORIAL)]))
    assert err == (f"rnncli: error: {ckpt}: this checkpoint was made with no --dev, which this run gives; "
                   f"resume with the corpora it was made from\n")
    r = runner.invoke(app, [*base, "--epochs", "1"])
    assert r.exit_code == 2 and "1 is fewer than the 2 epochs the checkpoint has done" in r.stderr
    r = runner.invoke(app, base)  # --epochs not given: the checkpoint's 4
    assert r.exit_code == 0, r.stderr
    assert len(Tagger.load(tmp_path / "m.npz").record.training.history) == 4


def test_damaged_checkpoint_is_one_line(runner, tmp_path, monkeypatch):
    ckpt = _interrupted_checkpoint(runner, tmp_path, monkeypatch)
    arrays, meta = modelfile.load(ckpt)
    del arrays["params.W"]
    modelfile.save(ckpt, arrays, meta)
    r = runner.invoke(app, ["train", str(TUTORIAL), "-o", str(tmp_path / "m.npz"), "--hidden", "8", "-q",
                            "--resume", str(ckpt)])
    assert one_line_error(r) == f"rnncli: error: {ckpt}: missing array(s) params.W\n"


def test_checkpoint_may_not_overwrite_an_input_or_the_output(runner, tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text(TUTORIAL.read_text())
    for target in (corpus, tmp_path / "m.npz"):
        r = runner.invoke(app, ["train", str(corpus), "-o", str(tmp_path / "m.npz"), "--checkpoint", str(target)])
        assert r.exit_code == 2 and "--checkpoint" in r.stderr


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("command", [["tag", "I eat"], ["inspect"], ["unroll", "I eat"]])
def test_a_full_disk_on_stdout_is_one_line(tutorial_model, command):
    with open("/dev/full", "w") as full:
        r = subprocess.run([*RNNCLI, *command, "--model", str(tutorial_model)], stdout=full, stderr=subprocess.PIPE,
                           text=True, timeout=60)
    assert (r.returncode, r.stderr) == (1, "rnncli: error: cannot write the output: No space left on device\n")


def test_closed_standard_streams(tutorial_model):
    cmd = f"{' '.join(RNNCLI)} tag 'I eat' --model {tutorial_model}"
    r = subprocess.run(["bash", "-c", cmd + " >&-"], capture_output=True, text=True, timeout=60)
    assert (r.returncode, r.stderr) == (1, "rnncli: error: cannot write the output: standard output is closed\n")
    r = subprocess.run(["bash", "-c", f"{' '.join(RNNCLI)} tag --model {tutorial_model} <&-"],
                       capture_output=True, text=True, timeout=60)
    assert (r.returncode, r.stdout, r.stderr) == (  # an error, as cat's: not an empty input
        1, "", "rnncli: error: <stdin>:1: cannot read (standard input is closed)\n")


@pytest.mark.parametrize("content, why", [
    (None, "not an rnncli model file (not a .npz archive)"),  # a bare .npy array
    (b"# a README, say\n", "not an rnncli model file (not a .npz archive)"),
])
def test_files_that_are_not_archives(runner, tmp_path, content, why):
    path = tmp_path / "x.npy"
    if content is None:
        np.save(path, np.zeros(3))
    else:
        path.write_bytes(content)
    assert one_line_error(runner.invoke(app, ["inspect", str(path)])) == f"rnncli: error: {path}: {why}\n"


def test_xpos_models_are_scored_on_xpos_and_trained_only_on_conllu(runner, tmp_path):
    tiny = ROOT / "sample_corpora" / "tiny.conllu"
    model = tmp_path / "x.npz"
    assert runner.invoke(app, ["train", str(tiny), "--tag-column", "xpos", "-o", str(model), "-q"]).exit_code == 0
    r = runner.invoke(app, ["eval", str(tiny), "--model", str(model), "--json"])
    assert r.exit_code == 0 and r.stderr == ""
    import json
    assert json.loads(r.stdout)["accuracy"] > 0.5  # gold read from XPOS, as the model was trained
    r = runner.invoke(app, ["train", str(TUTORIAL), "--tag-column", "xpos", "-o", str(tmp_path / "o.npz")])
    assert r.exit_code == 2 and "is read as slash" in r.stderr and not (tmp_path / "o.npz").exists()
    # Gold in a format with one tag per word: the model's column does not apply, the file is scored.
    ptb = tmp_path / "ptb.tsv"
    ptb.write_text("".join(f"{w}\t{t}\n" for w, t in [("I", "PRP"), ("eat", "VBP"), ("apples", "NNS")]))
    r = runner.invoke(app, ["eval", str(ptb), "--model", str(model), "--json"])
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["tokens"] == 3
    r = runner.invoke(app, ["eval", str(ptb), "--model", str(model), "--tag-column", "xpos"])
    assert r.exit_code == 2 and "is read as tsv" in r.stderr  # asked for by the user: refused


def test_tags_and_paths_are_shown_as_they_are_never_as_markup(runner, tmp_path):
    corpus = tmp_path / "d[red]x.tsv"
    corpus.write_text("I\t[/]\neat\t[bold]v\n\nthey\t[/]\nfish\t[bold]v\n")
    model = tmp_path / "m.npz"
    assert runner.invoke(app, ["train", str(corpus), "-o", str(model), "-q"]).exit_code == 0
    for command in (["unroll", "I eat"], ["inspect"], ["eval", str(corpus)]):
        r = runner.invoke(app, [*command, "--model", str(model)])
        assert r.exit_code == 0, (command, r.stderr)
        assert "[bold]v" in r.stdout
    assert corpus.name in "".join(runner.invoke(app, ["inspect", str(model)]).stdout.split())  # however wrapped


def test_model_files_get_the_usual_permissions(runner, tmp_path):
    old = os.umask(0o022)
    try:
        out = tmp_path / "m.npz"
        assert runner.invoke(app, train_args(TUTORIAL, out)).exit_code == 0
        assert out.stat().st_mode & 0o777 == 0o644
        out.chmod(0o640)
        assert runner.invoke(app, train_args(TUTORIAL, out)).exit_code == 0
        assert out.stat().st_mode & 0o777 == 0o640  # replacing a file keeps its permissions
    finally:
        os.umask(old)


def test_byte_order_mark_and_unicode_line_separators_in_text_to_tag(runner, tutorial_model):
    r = runner.invoke(app, ["tag", "--model", str(tutorial_model)], input="\ufeffI eat apple\n")
    assert r.stdout == "I/nn eat/v apple/nn\n"
    r = runner.invoke(app, ["tag", "--pretokenized", "--model", str(tutorial_model), "I eat\u2028apple"])
    assert r.stdout.count("\n") == 1  # one argument, one sentence: only \n ends a line


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_full_disk_stops_a_long_stream_with_one_line(tutorial_model, tmp_path, jobs):
    big = tmp_path / "big.txt"
    big.write_text("I eat apple\nthey fish in the river\n" * 100_000)  # several chunks
    with open("/dev/full", "w") as full:
        r = subprocess.run([*RNNCLI, "tag", "-j", jobs, "-i", str(big), "--model", str(tutorial_model)],
                           stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
    assert (r.returncode, r.stderr) == (1, "rnncli: error: cannot write the output: No space left on device\n")



def _megabytes(n: int) -> bytes:
    return bytes(4 << 20)  # a result long enough that sending it back takes a while


def test_an_abandoned_pool_leaves_no_thread_waiting_for_half_a_result():
    # A worker killed while it sends its result leaves half a message in the pipe: the pool's
    # thread then waits for the rest forever, and Python's exit waits for that thread (a full
    # disk under `tag --jobs 2` hung about one run in twelve so). abandon lets held work finish.
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from rnncli.stream import abandon

    pool = ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork"))
    futures = [pool.submit(_megabytes, n) for n in range(16)]
    futures[0].result()  # results are on their way back
    workers = list(pool._processes.values())
    manager = pool._executor_manager_thread
    started = time.monotonic()
    abandon(pool)
    assert not manager.is_alive() and not any(w.is_alive() for w in workers)
    assert time.monotonic() - started < 20


# -- found by review: reading, writing and metadata -----------------------------------------------

@pytest.mark.skipif(not Path("/proc/self/mem").exists(), reason="needs Linux's /proc/self/mem, whose reads fail")
@pytest.mark.parametrize("args", [["tag", "-i"], ["eval"], ["train", "-o", "m.npz"]])
def test_a_file_that_fails_while_being_read_is_named(runner, tutorial_model, args):
    # /proc/self/mem opens but every read fails with EIO, like a failing disk
    r = runner.invoke(app, [*args, "/proc/self/mem", "--model", str(tutorial_model)] if args[0] != "train"
                      else [args[0], "/proc/self/mem", *args[1:]])
    assert one_line_error(r) == "rnncli: error: /proc/self/mem:1: cannot read (Input/output error)\n"


@pytest.mark.parametrize("option", ["-o", "--checkpoint"])
def test_an_output_that_cannot_be_written_is_found_before_training(runner, tmp_path, monkeypatch, option):
    import rnncli.train

    monkeypatch.setattr(rnncli.train, "_train", lambda *a, **k: pytest.fail("trained before checking the output"))
    target = tmp_path / "missing" / "x.npz"
    r = runner.invoke(app, [*train_args(TUTORIAL, tmp_path / "m.npz"), option, str(target)])
    assert one_line_error(r) == f"rnncli: error: {target}: cannot write (no directory {target.parent})\n"


def test_interrupted_with_an_unwritable_checkpoint_says_so(runner, tmp_path, monkeypatch):
    import rnncli.checkpoint
    import rnncli.train
    from rnncli.train import Interrupted, TrainState

    def interrupted(*args, **kwargs):
        raise Interrupted(TrainState(0, {}, {}, {}))

    def full(*args, **kwargs):
        raise ModelFileError("c.npz: disk full; the previous file, if any, is unchanged")

    monkeypatch.setattr(rnncli.train, "_train", interrupted)  # what Trainer runs
    monkeypatch.setattr(rnncli.checkpoint, "save", full)
    r = runner.invoke(app, train_args(TUTORIAL, tmp_path / "m.npz"))
    assert one_line_error(r, 130) == ("rnncli: error: interrupted in epoch 1; " + str(tmp_path / "m.npz")
                                      + " not written; no checkpoint: c.npz: disk full; the previous file, "
                                      "if any, is unchanged\n")


def test_a_missing_checkpoint_is_called_one(runner, tmp_path):
    r = runner.invoke(app, [*train_args(TUTORIAL, tmp_path / "m.npz"), "--resume", str(tmp_path / "no.npz")])
    assert one_line_error(r) == f"rnncli: error: {tmp_path / 'no.npz'}: no such checkpoint\n"


def test_arguments_that_are_not_utf8_are_refused(tutorial_model):
    env = {**os.environ, "RNNCLI_MODEL": str(tutorial_model)}
    for args, what, lines in [(["tag", "--format", "jsonl", b"I eat", b"caf\xe9"], "argument 2", 1),
                              (["unroll", b"caf\xe9"], "SENTENCE", 0)]:
        r = subprocess.run([*RNNCLI, *args], capture_output=True, env=env)
        # as with a file: what comes before the bad argument is tagged, nothing after
        assert r.returncode == 1 and r.stdout.count(b"\n") == lines and b"caf" not in r.stdout
        assert r.stderr == f"rnncli: error: {what}: not valid UTF-8 (byte 0xe9)\n".encode()


def test_member_that_is_not_an_array_is_refused(runner, tutorial_model, tmp_path):
    import zipfile

    path = tmp_path / "bytes.npz"
    with zipfile.ZipFile(tutorial_model) as src, zipfile.ZipFile(path, "w") as dst:
        for item in src.infolist():
            dst.writestr(item, b"not an array" if item.filename == "W.npy" else src.read(item))
    err = one_line_error(runner.invoke(app, ["tag", "x", "--model", str(path)]))
    assert err == f"rnncli: error: {path}: damaged (not a NumPy array: W)\n"


@pytest.mark.parametrize("where, value", [
    (("shape", "n_layers"), 0), (("shape", "n_layers"), 1.5), (("shape", "n_hidden"), "64"),
    (("shape", "bidirectional"), "yes"), (("training",), []), (("training", "history"), [{"epoch": 1}]),
    (("training", "tag_counts"), {"NOUN": "many"}), (("training", "best_epoch"), "last"),
    (("corpus",), 3), (("tag_column",), "lemma"), (("training", "unlearnable_dev_tags"), [1]),
])
@pytest.mark.parametrize("command", [["inspect"], ["tag", "I eat"], ["unroll", "I eat"]])
def test_metadata_of_the_wrong_type_is_one_line(runner, tutorial_model, tmp_path, where, value, command):
    arrays, meta = modelfile.load(tutorial_model)
    node = meta
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value
    path = tmp_path / "typed.npz"
    modelfile.save(path, arrays, meta)
    err = one_line_error(runner.invoke(app, [*command, "--model", str(path)]))
    assert err.startswith(f"rnncli: error: {path}: damaged metadata (")


def test_numbers_beyond_the_machine_are_one_line(runner, tutorial_model, tmp_path, monkeypatch):
    r = runner.invoke(app, ["tag", "x", "-j", "2147483648", "--model", str(tutorial_model)])
    assert r.exit_code == 2 and "--jobs" in r.stderr and r.stderr.count("\n") == 1
    # What `--hidden 1000000` does here (NumPy refuses 7.28 TiB for W). Simulated, because where
    # the kernel overcommits memory the allocation succeeds and filling it gets the process killed.
    import rnncli.rnn

    def too_big(*args, **kwargs):
        raise MemoryError("Unable to allocate 7.28 TiB for an array with shape (1000000, 1000000)")

    monkeypatch.setattr(rnncli.rnn, "init_params", too_big)
    r = runner.invoke(app, ["train", str(ROOT / "sample_corpora" / "tiny.tsv"), "--hidden", "1000000",
                            "-o", str(tmp_path / "h.npz"), "-q"])
    assert one_line_error(r) == ("rnncli: error: out of memory (Unable to allocate 7.28 TiB for an array "
                                 "with shape (1000000, 1000000))\n")
    assert not (tmp_path / "h.npz").exists()


def test_version_and_unknown_top_level_options(runner):
    from rnncli import __version__

    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0 and r.stdout == f"rnncli {__version__}\n"
    r = runner.invoke(app, ["--bogus", "tag", "x"])
    assert r.exit_code == 2 and r.stderr.startswith("rnncli: error: No such option: --bogus (see '")
    assert r.stderr.count("\n") == 1


@pytest.mark.parametrize("command", ["tag", "eval", "train", "unroll", "backprop", "inspect"])
@pytest.mark.parametrize("given, used", [({}, "1"), ({"OPENBLAS_NUM_THREADS": "2"}, "2"),
                                         ({"OMP_NUM_THREADS": "2"}, "unset")])
def test_every_command_uses_one_blas_thread_unless_told(tutorial_model, tmp_path, command, given, used):
    """What OpenBLAS reads when NumPy loads: '1' from rnncli, else the user's own setting."""
    env = {k: v for k, v in os.environ.items()
           if k not in BLAS_VARIABLES}
    env.update(given)
    args = {"tag": ["tag", "I eat", "--model", str(tutorial_model)],
            "eval": ["eval", str(TUTORIAL), "--model", str(tutorial_model)],
            "train": train_args(TUTORIAL, tmp_path / "m.npz"),
            "unroll": ["unroll", "I eat", "--model", str(tutorial_model)],
            "backprop": ["backprop", "I eat", "--model", str(tutorial_model)],
            "inspect": ["inspect", str(tutorial_model)]}[command]
    code = ("import atexit, os, sys; from rnncli.cli import main; "
            "atexit.register(lambda: print('threads', os.environ.get('OPENBLAS_NUM_THREADS', 'unset'))); "
            f"sys.argv = ['rnncli', *{args!r}]; main()")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1] == f"threads {used}"


def test_a_corpus_name_that_is_not_utf8_is_kept_escaped(runner, tmp_path):
    odd = tmp_path / os.fsdecode(b"caf\xe9.txt")
    odd.write_bytes(TUTORIAL.read_bytes())
    out = tmp_path / "m.npz"
    r = runner.invoke(app, train_args(odd, out))
    assert r.exit_code == 0, r.stderr
    assert Tagger.load(out).record.corpus == [str(tmp_path / "caf\\xe9.txt")]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_pipe_is_read_once_with_format_given_or_refused_without(runner, tmp_path):
    import threading

    slash = (ROOT / "sample_corpora" / "tutorial.txt").read_bytes()
    for fmt, status in [([], 1), (["--format", "slash"], 0)]:
        fifo = tmp_path / f"corpus{len(fmt)}"
        os.mkfifo(fifo)

        def feed(path=fifo):
            with open(path, "wb") as f:
                try:
                    f.write(slash)
                except BrokenPipeError:  # refused before reading it all
                    pass

        writer = threading.Thread(target=feed, daemon=True)  # never holds up the test run
        writer.start()
        r = runner.invoke(app, train_args(fifo, tmp_path / "m.npz", *fmt))
        writer.join(timeout=30)
        if status:
            assert one_line_error(r) == (f"rnncli: error: {fifo}: a stream, whose format cannot be told from "
                                         "its first lines; give --format\n")
        else:
            assert r.exit_code == 0, r.stderr
            assert Tagger.load(tmp_path / "m.npz").record.training.history
