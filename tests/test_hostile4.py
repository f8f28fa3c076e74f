"""Hard to break, part four: worker processes fed by a pipe, pictures that would overwrite what
they were drawn from, empty paths from unset variables, corpora whose sentence numbering is
wrong, standard input for every command that reads a corpus, and the Python API given raw text
as files give it.

Each case ends in one line on stderr and a non-zero status, or in every byte written; never in
a traceback, a hang, or a file replaced that was not the command's to replace.
"""

import os
import signal
import subprocess
import threading
import time

import pytest

from rnncli.cli import app

from conftest import RNNCLI, SAMPLES, one_line_error

TINY = SAMPLES / "tiny.conllu"


def run(args, timeout=60, **kwargs):
    return subprocess.run([*RNNCLI, *args], capture_output=True, timeout=timeout, **kwargs)


# -- worker processes and a pipe -------------------------------------------------------------------

@pytest.mark.parametrize("extra", [[], ["-i", "-", "--pretokenized", "-f", "jsonl"]])
def test_jobs_tag_a_pipe_that_pauses_after_a_chunk(tutorial_model, extra):
    # A pipe is read by a thread that holds stdin's lock while it waits for more; workers forked
    # then (at the first chunk) hung for ever closing their copy of stdin.
    line = "they fish in the river and we like to watch the fish in the park .\n"
    text = (line * 10_000).encode()  # about 670 KB: more than one chunk (512 KiB)
    proc = subprocess.Popen([*RNNCLI, "tag", "-j", "2", *extra, "--model", str(tutorial_model)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)  # its workers too are killed if it hangs

    def feed():  # a chunk, then a pause while the reader waits on the empty pipe, then the rest
        proc.stdin.write(text[:600_000])
        proc.stdin.flush()
        time.sleep(1.0)
        proc.stdin.write(text[600_000:])
        proc.stdin.close()

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    hung = threading.Timer(60, os.killpg, (proc.pid, signal.SIGKILL))  # a hang fails the test, not the run
    hung.start()
    try:
        out, err = proc.stdout.read(), proc.stderr.read()  # stderr stays small: read after
        proc.wait(timeout=60)
    finally:
        hung.cancel()
        proc.kill()
        feeder.join(timeout=5)
    assert (proc.returncode, err) == (0, b"")
    alone = subprocess.run([*RNNCLI, "tag", *extra, "--model", str(tutorial_model)], input=text,
                           capture_output=True, timeout=120)
    assert out.count(b"\n") == 10_000 and out == alone.stdout  # the text one process writes


# -- pictures never replace what they were drawn from ----------------------------------------------

@pytest.mark.parametrize("command", [
    ["unroll", "they fish", "--svg"], ["unroll", "they fish", "--svg-terminal"],
    ["backprop", "they/nn fish/nn", "--svg"], ["inspect", "--svg-terminal"],
])
def test_a_picture_is_never_written_over_the_model_it_shows(runner, tutorial_model, tmp_path, command):
    model = tmp_path / "m.npz"
    model.write_bytes(tutorial_model.read_bytes())
    before = model.read_bytes()
    r = runner.invoke(app, [*command, str(model), "--model", str(model)])
    assert "not an SVG picture; refusing to overwrite it" in one_line_error(r, 2)
    assert model.read_bytes() == before


def test_a_picture_is_never_written_over_a_corpus_but_replaces_an_older_picture(runner, tutorial_model, tmp_path):
    corpus = tmp_path / "gold.conllu"
    corpus.write_bytes(TINY.read_bytes())
    r = runner.invoke(app, ["unroll", "they fish", "--svg", str(corpus), "--model", str(tutorial_model)])
    assert str(corpus) in one_line_error(r, 2) and corpus.read_bytes() == TINY.read_bytes()
    picture = tmp_path / "they.svg"
    for _ in range(2):  # written, then replaced by the same command
        r = runner.invoke(app, ["unroll", "they fish", "--svg", str(picture), "--model", str(tutorial_model)])
        assert r.exit_code == 0, r.stderr
    assert picture.read_text().lstrip().startswith("<svg") or "<svg" in picture.read_text()[:1024]


def test_two_pictures_into_one_file_are_refused(runner, tutorial_model, tmp_path):
    same = tmp_path / "both.svg"
    r = runner.invoke(app, ["unroll", "they fish", "--svg", str(same), "--svg-terminal", str(same),
                            "--model", str(tutorial_model)])
    assert "its own file" in one_line_error(r, 2) and not same.exists()


# -- empty paths (a variable unset) ----------------------------------------------------------------

@pytest.mark.parametrize("option", ["--output", "--checkpoint"])
def test_an_empty_output_path_is_one_line_not_a_traceback(runner, tmp_path, option, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["train", str(TINY), "--epochs", "1", "-q"] + ([option, ""] if option == "--output"
                                                          else ["-o", "m.npz", option, ""])
    r = runner.invoke(app, args)
    assert f"Invalid value for {option}: . names no file" in one_line_error(r, 2)
    assert not (tmp_path / "m.npz").exists()


def test_an_empty_model_name_is_refused_and_an_empty_variable_is_unset(tutorial_model, monkeypatch):
    from rnncli import load
    from rnncli.errors import OptionError

    r = run(["tag", "-m", "", "they fish"])
    assert (r.returncode, r.stdout) == (2, b"") and b"an empty model name" in r.stderr
    with pytest.raises(OptionError, match="an empty model name"):
        load("")
    monkeypatch.setenv("RNNCLI_MODEL", "")
    assert load() is load("default")
