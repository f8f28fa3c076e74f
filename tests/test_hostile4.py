"""Hard to break, part four: worker processes fed by a pipe, pictures that would overwrite what
they were drawn from, empty paths from unset variables, a document on one line, corpora whose
sentence numbering is wrong, standard input for every command that reads a corpus, the Python
API given raw text as files give it, help into a closed pipe, a stderr that fails, and words in
decomposed Unicode.

Each case ends in one line on stderr and a non-zero status, or in every byte written; never in
a traceback, a hang, or a file replaced that was not the command's to replace.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
import weakref

import pytest

from rnncli.cli import app

from conftest import PREVIOUS_MODEL, RNNCLI, SAMPLES, one_line_error, run

TINY = SAMPLES / "tiny.conllu"


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


# -- a document on one line ------------------------------------------------------------------------

def _long_line(tokens):
    words = " ".join((SAMPLES / "everyday.txt").read_text().split()).split()
    return (words * (tokens // len(words) + 1))[:tokens]


def test_a_line_longer_than_a_window_is_tagged_in_windows_as_a_whole_run_tags_it(monkeypatch):
    import numpy as np

    from rnncli import load, rnn
    from rnncli import tagger as tagger_module

    tagger = load("default")
    line = _long_line(3 * tagger_module.WINDOW + 123)
    inputs = tagger.input_cache()
    whole = rnn.softmax(tagger._logits(inputs.rows_of(line)[:, None], inputs))[:, 0]  # one run over all of it
    longest = []
    forward = rnn.forward

    def spy(params, shape, ids, lengths, **kwargs):
        longest.append(kwargs["types"].words.shape[0])
        return forward(params, shape, ids, lengths, **kwargs)

    monkeypatch.setattr(rnn, "forward", spy)
    windowed = tagger.predict([line, ["a", "short", "one"]])
    assert max(longest) == tagger_module.WINDOW  # memory bounded by the window, not the line
    assert windowed[0].shape == whole.shape and windowed[1].shape == (3, len(tagger.tags))
    # The windows see every token with 100 tokens of context each side: the bundled model's
    # probabilities agree with the whole run's to float32 rounding (7.7e-7 measured on EWT dev).
    np.testing.assert_allclose(windowed[0], whole, atol=1e-4)
    top2 = np.sort(whole, axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > 1e-3  # tags a rounding cannot swap
    assert clear.mean() > 0.9
    assert (tagger.best_flat([line])[0][clear] == whole.argmax(axis=1)[clear]).all()


def test_a_network_that_remembers_longer_than_the_windows_runs_the_line_whole(tutorial_model, monkeypatch):
    # The tutorial's network (W with spectral radius above 1) keeps what it read hundreds of
    # tokens back: its windows disagree at their seams (by 0.92 on EWT dev as one line), and
    # the line is run whole, as `unroll` runs it.
    import numpy as np

    from rnncli import rnn
    from rnncli import tagger as tagger_module
    from rnncli.tagger import Tagger

    tagger = Tagger.load(tutorial_model)
    line = _long_line(2 * tagger_module.WINDOW + 7)
    inputs = tagger.input_cache()
    whole = rnn.softmax(tagger._logits(inputs.rows_of(line)[:, None], inputs))[:, 0]
    assert tagger._windowed(inputs.rows_of(line), inputs, 4096) is None
    np.testing.assert_allclose(tagger.predict([line])[0], whole, rtol=0, atol=1e-6)
    assert tagger.tag([line])[0] == [tagger.tags[k] for k in whole.argmax(axis=1)]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ru_maxrss in KiB: Linux")
def test_a_million_tokens_on_one_line_are_tagged_in_bounded_memory(tmp_path):
    pytest.importorskip("resource")
    text = tmp_path / "one-line.txt"
    text.write_text("ab " * 1_000_000 + "\n")
    # The peak memory of that one process, measured by a parent of its own.
    measure = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, "
               "stderr=subprocess.DEVNULL); print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    r = subprocess.run([sys.executable, "-c", measure, *RNNCLI, "tag", "-i", str(text)], capture_output=True,
                       text=True, timeout=300)
    status, peak_kib = map(int, r.stdout.split())
    assert status == 0
    assert peak_kib < 1_000_000  # 335 MB measured; 2.3 GB when the whole line was one run


# -- corpora: sentence numbering, standard input ---------------------------------------------------

def _without_blank_lines(tmp_path):
    merged = tmp_path / "merged.conllu"
    merged.write_text(TINY.read_text().replace("\n\n# sent_id", "\n# sent_id"))
    return merged


def test_sentences_run_together_by_a_missing_blank_line_are_malformed_not_merged(runner, tutorial_model, tmp_path):
    merged = _without_blank_lines(tmp_path)
    r = runner.invoke(app, ["eval", "--strict", str(merged), "--model", str(tutorial_model)])
    assert f"{merged}:9: word ID '1' where 5 should be (a blank line missing" in one_line_error(r)
    from rnncli.corpus import read_corpus

    problems = []
    with pytest.raises(Exception, match="no tagged sentence found"):  # every sentence but none is merged
        read_corpus(merged, problems=problems)
    assert problems and all("word ID" in p for p in problems)


@pytest.mark.parametrize("ids, message", [(["1", "1"], "word ID '1' where 2 should be"),
                                          (["1", "3"], "word ID '3' where 2 should be"),
                                          (["x1", "2"], "word ID 'x1' where 1 should be")])
def test_word_ids_out_of_order_are_malformed(tmp_path, ids, message):
    from rnncli.corpus import read_corpus
    from rnncli.errors import CorpusError

    rows = [f"{i}\tword\tword\tNOUN\tNN\t_\t0\troot\t_\t_" for i in ids]
    path = tmp_path / "bad.conllu"
    path.write_text("1-2\tdon't\t_\t_\t_\t_\t_\t_\t_\t_\n" + "\n".join(rows) + "\n1.1\tx\t_\t_\t_\t_\t_\t_\t_\t_\n\n")
    with pytest.raises(CorpusError, match=message):
        read_corpus(path)
    path.write_text("\n".join(f"{i}\tword\tword\tNOUN\tNN\t_\t0\troot\t_\t_" for i in ("1", "2")) + "\n")
    assert read_corpus(path)[0].words == ["word", "word"]  # ranges and empty nodes aside, 1, 2, ...


def test_eval_and_train_read_a_corpus_from_stdin(tmp_path):
    gold = TINY.read_bytes()
    from_file = run(["eval", str(TINY), "--json"])  # the English model: UPOS, as the file
    from_stdin = run(["eval", "--format", "conllu", "-", "--json"], input=gold)
    assert from_stdin.returncode == 0 and from_stdin.stdout == from_file.stdout
    r = run(["eval", "-"], input=gold)  # a stream's format cannot be sniffed
    assert r.returncode == 1 and r.stderr == (b"rnncli: error: <stdin>: a stream, whose format cannot be told from "
                                              b"its first lines; give --format\n")
    out = tmp_path / "m.npz"
    r = run(["train", "--format", "conllu", "-", "-o", str(out), "--epochs", "1", "-q"], input=gold)
    assert r.returncode == 0 and out.exists()


# -- the Python API and arguments given what files give --------------------------------------------

def test_tokenize_and_tag_text_refuse_what_is_not_text_and_drop_a_byte_order_mark():
    from rnncli import load, tokenize
    from rnncli.errors import CorpusError

    for bad in (None, b"I eat"):
        with pytest.raises(TypeError, match="tokenize\\(\\) takes a str"):
            tokenize(bad)
    tagger = load("tutorial")
    for bad, message in (("a\x00b", "<text>:1: binary data"), ("I eat\nyou \ud800", "<text>:2: not valid Unicode")):
        with pytest.raises(CorpusError, match=message):
            tagger.tag_text(bad)
    text = "\ufeffI eat apple\nthey fish"
    tokens = tagger.tag_text(text)
    assert [t.text for t in tokens[0]] == ["I", "eat", "apple"]
    assert all(text[t.start:t.end] == t.text for line in tokens for t in line)
    assert [t.tag for t in tokens[0]] == [t.tag for t in tagger.tag_text("I eat apple")[0]]


def test_an_argument_starting_with_a_byte_order_mark_is_tagged_as_without_it():
    with_mark, without = run(["tag", "\ufeffI eat apple"]), run(["tag", "I eat apple"])
    assert with_mark.returncode == 0 and with_mark.stdout == without.stdout


# -- help, options, and a stderr that fails --------------------------------------------------------

@pytest.mark.parametrize("args", [["--help"], ["tag", "--help"], ["train", "--help"]])
def test_help_into_a_closed_pipe_ends_with_status_141_as_every_command_does(args):
    import shlex

    shell = f"{shlex.join([*RNNCLI, *args])} | true; echo ${{PIPESTATUS[0]}}"
    for _ in range(3):  # `true` may exit before or after the help is written
        status = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, timeout=60).stdout.split()
        assert status[-1] in ("0", "141")


def test_help_shows_square_brackets_as_written():
    text = run(["train", "--help"], env={**os.environ, "COLUMNS": "200"}).stdout.decode()
    assert "pip install 'rnncli[lexicon]'" in text and "o_t[y_t]" in text


@pytest.mark.parametrize("command", [["unroll", "they fish"], ["backprop", "they/nn fish/v"]])
def test_a_scale_beyond_float32_is_an_option_error_not_the_model_s(runner, command):
    r = runner.invoke(app, [*command, "--model", "tutorial", "--scale-w", "1e39"])
    assert "Invalid value for '--scale-w': must be a number float32 can hold" in one_line_error(r, 2)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_training_whose_stderr_fails_still_writes_its_model(tmp_path):
    out = tmp_path / "m.npz"
    with open("/dev/full", "w") as full:
        r = subprocess.run([*RNNCLI, "train", str(TINY), "-o", str(out), "--epochs", "2"], stdout=subprocess.PIPE,
                           stderr=full, timeout=120)
    assert r.returncode == 0 and out.exists()


# -- Unicode normalisation -------------------------------------------------------------------------

def test_a_word_is_read_in_composed_form_and_written_as_given():
    import unicodedata

    from rnncli import load

    tagger = load("default")
    composed_text = "Der Bäcker öffnet früh . the café and a naïve résumé"
    decomposed = unicodedata.normalize("NFD", composed_text)
    assert decomposed != composed_text
    assert tagger.tag([decomposed.split()], probs=True) == tagger.tag([composed_text.split()], probs=True)
    tokens = tagger.tag_text(decomposed)[0]
    assert [t.text for t in tokens] == decomposed.split()  # the words as given, offsets into the text given
    assert all(decomposed[t.start:t.end] == t.text for t in tokens)
    assert tagger.vocab.is_known(unicodedata.normalize("NFD", "résumé")) == tagger.vocab.is_known("résumé")


def test_a_model_trained_on_decomposed_text_reads_composed_text_alike(tmp_path):
    import unicodedata

    from rnncli.corpus import read_corpus
    from rnncli.train import TrainConfig, train

    corpus = tmp_path / "nfd.txt"
    corpus.write_text(unicodedata.normalize("NFD", "le/det café/nn est/v ouvert/adj\nun/det résumé/nn clair/adj\n") * 5)
    tagger = train(read_corpus(corpus), None, TrainConfig(epochs=2, seed=1, features="form"))
    words = ["le", "café", "résumé"]
    assert tagger.vocab.is_known("café") and tagger.vocab.is_known(unicodedata.normalize("NFD", "café"))
    assert tagger.tag([words], probs=True) == tagger.tag([[unicodedata.normalize("NFD", w) for w in words]], probs=True)


# -- emoji -----------------------------------------------------------------------------------------

EMOJI = ["😂", "👍🏽", "🇺🇸", "👨\u200d👩\u200d👧", "❤️", "©", "°", "1\ufe0f\u20e3"]


def test_what_counts_as_a_pictograph():
    from rnncli.vocab import pictographic

    assert [pictographic(w) for w in EMOJI] == [True] * 7 + [False]  # a keycap holds a digit
    assert not any(map(pictographic, [":)", "$", "^_^", "café", "😂a", "\u200d", "", "£", "→"]))


def test_an_emoji_the_model_has_no_entry_for_is_read_as_the_emoticon_and_tagged_sym():
    from rnncli import load

    tagger = load("default")
    for emoji in EMOJI[:-1]:
        assert not tagger.vocab.is_known(emoji)  # for eval, still a word without an entry of its own
        assert tagger.vocab.encode(emoji) == tagger.vocab.encode(":)"), emoji
    assert [t.tag for t in tagger.tag_text("lol that was so funny 😂😂")[0]][-2:] == ["SYM", "SYM"]
    assert tagger.tag([["see", "you", "soon", "👍🏽"], ["go", "🇺🇸"]]) == [["VERB", "PRON", "ADV", "SYM"], ["VERB", "SYM"]]


def test_an_emoji_a_model_was_trained_on_keeps_its_own_entry(tmp_path, runner):
    from rnncli.corpus import read_corpus
    from rnncli.train import TrainConfig, train

    corpus = tmp_path / "chat.txt"
    corpus.write_text("i/PRON ❤️/VERB it/PRON\nso/ADV good/ADJ :)/SYM\n" * 20)
    tagger = train(read_corpus(corpus), None, TrainConfig(epochs=30, seed=1, features="form", word_dropout=0.0))
    assert tagger.vocab.is_known("❤️") and tagger.vocab.encode("❤️") != tagger.vocab.encode(":)")
    assert tagger.vocab.encode("😂") == tagger.vocab.encode(":)")
    assert tagger.tag([["i", "❤️", "it"], ["so", "good", "😂"]]) == [["PRON", "VERB", "PRON"], ["ADV", "ADJ", "SYM"]]
    model = tmp_path / "chat.npz"
    tagger.save(model)
    r = runner.invoke(app, ["unroll", "so good 😂", "--model", str(model), "--json"])
    assert r.exit_code == 0 and [s["read_as"] for s in json.loads(r.stdout)["steps"]] == [None, None, ":)"]


def test_a_picture_goes_nowhere_but_a_file_and_never_over_a_look_alike(runner, tutorial_model, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("see <svg> tags/NN\n")  # mentions an SVG element, but is no picture
    r = runner.invoke(app, ["unroll", "they fish", "--svg", str(notes), "--model", str(tutorial_model)])
    assert "not an SVG picture" in one_line_error(r, 2) and notes.read_text() == "see <svg> tags/NN\n"
    first, link = tmp_path / "a.svg", tmp_path / "link.svg"
    link.symlink_to(first)
    r = runner.invoke(app, ["unroll", "they fish", "--svg", str(first), "--svg-terminal", str(link),
                            "--model", str(tutorial_model)])
    assert "its own file" in one_line_error(r, 2)
    proc = subprocess.run(["bash", "-c", f"{' '.join(RNNCLI)} unroll 'they fish' -m {tutorial_model} --svg /dev/stdout"
                                         " | cat > /dev/null; echo ${PIPESTATUS[0]}"],
                          capture_output=True, text=True, timeout=60)  # a pipe: refused at once, never read
    assert proc.stdout.strip() == "1" and proc.stderr.count("\n") == 1


def test_stdin_named_twice_is_refused_before_training(runner, tmp_path):
    r = runner.invoke(app, ["train", "--format", "conllu", "-", "--dev", "-", "-o", str(tmp_path / "m.npz")],
                      input=TINY.read_text())
    assert "standard input ('-') is named twice" in one_line_error(r, 2)


def test_an_empty_model_argument_to_inspect_is_refused(runner):
    assert "an empty model name" in one_line_error(runner.invoke(app, ["inspect", ""]), 2)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_warning_that_cannot_be_written_does_not_stop_training(tmp_path):
    corpus = tmp_path / "one-bad.conllu"
    corpus.write_text(TINY.read_text() + "1\tx\tx\t_\t_\t_\t0\troot\t_\t_\n\n")  # a sentence without UPOS
    out = tmp_path / "m.npz"
    with open("/dev/full", "w") as full:
        r = subprocess.run([*RNNCLI, "train", str(corpus), "-o", str(out), "--epochs", "2", "-q"], stderr=full,
                           timeout=120)
    assert r.returncode == 0 and out.exists()


# -- a stream from a pipe that stays open ----------------------------------------------------------

def _open_pipe_into(args):
    """rnncli reading a pipe that this test holds open (a producer that has not ended)."""
    read_end, write_end = os.pipe()
    proc = subprocess.Popen([*RNNCLI, *args], stdin=read_end, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    os.close(read_end)
    return proc, write_end


def _line_through(proc, write_end, line: bytes) -> bytes:
    os.write(write_end, line)
    return proc.stdout.readline()  # answered at once: the stream is paced


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_each_line_of_an_open_pipe_is_answered_at_once_also_with_jobs(tutorial_model, jobs):
    # With --jobs, a chunk's result waited until four chunks were in flight: `tail -f log |
    # rnncli tag -j 2` wrote nothing until then. A chunk cut where the input paused is waited for.
    proc, write_end = _open_pipe_into(["tag", "-j", jobs, "--model", str(tutorial_model)])
    hung = threading.Timer(60, proc.kill)  # an unanswered line fails the test, not the run
    hung.start()
    try:
        for _ in range(3):
            assert _line_through(proc, write_end, b"they fish\n") == b"they/nn fish/v\n"
    finally:
        hung.cancel()
        os.close(write_end)
    assert proc.communicate(timeout=60) == (b"", b"") and proc.returncode == 0


def test_ctrl_c_while_waiting_for_a_pipe_ends_with_130_and_nothing_on_stderr(tutorial_model):
    # The thread reading stdin holds its lock while it waits: Python's own exit aborted on it
    # ("Fatal Python error: _enter_buffered_busy", status 134).
    proc, write_end = _open_pipe_into(["tag", "--model", str(tutorial_model)])
    try:
        assert _line_through(proc, write_end, b"they fish\n") == b"they/nn fish/v\n"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        os.close(write_end)
        proc.kill()
    assert (proc.returncode, err) == (130, b"")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_output_that_fails_while_a_pipe_stays_open_is_one_line_and_status_1(tutorial_model):
    read_end, write_end = os.pipe()
    with open("/dev/full", "w") as full:
        proc = subprocess.Popen([*RNNCLI, "tag", "--model", str(tutorial_model)], stdin=read_end, stdout=full,
                                stderr=subprocess.PIPE)
    os.close(read_end)
    try:
        os.write(write_end, b"they fish\n")
        _, err = proc.communicate(timeout=60)
    finally:
        os.close(write_end)
        proc.kill()
    assert (proc.returncode, err) == (1, b"rnncli: error: cannot write the output: No space left on device\n")


def test_a_model_written_over_in_place_stops_a_stream_with_one_line_and_one_renamed_over_does_not(tmp_path):
    from rnncli.loader import bundled_model_path

    model = tmp_path / "m.npz"
    model.write_bytes(bundled_model_path("tutorial").read_bytes())
    proc, write_end = _open_pipe_into(["tag", "--model", str(model)])
    try:  # renamed over (mv, rnncli train -o): the file read stays as it was
        assert _line_through(proc, write_end, b"they fish\n") == b"they/nn fish/v\n"
        fresh = tmp_path / "fresh.npz"
        fresh.write_bytes(model.read_bytes())
        os.replace(fresh, model)
        assert _line_through(proc, write_end, b"they fish\n") == b"they/nn fish/v\n"
    finally:
        os.close(write_end)
    assert proc.communicate(timeout=60) == (b"", b"") and proc.returncode == 0

    proc, write_end = _open_pipe_into(["tag", "--model", str(model)])
    try:  # written over in place, as cp does: the pages read change under the tagger
        assert _line_through(proc, write_end, b"they fish\n") == b"they/nn fish/v\n"
        with open(model, "r+b") as f:
            f.truncate(1000)
        os.write(write_end, b"they fish\n")
        out, err = proc.communicate(timeout=60)
    finally:
        os.close(write_end)
        proc.kill()
    assert proc.returncode == 1 and out == b""
    assert err.decode() == (f"rnncli: error: {model}: the model file was written over while in use (as cp does); "
                            f"stopped. Replace a model file by renaming a new one over it (mv), as rnncli train does\n")


# -- a signal between the last epoch and the model written -----------------------------------------

TUTORIAL_CORPUS = SAMPLES / "tutorial.txt"


def test_a_signal_after_training_before_writing_keeps_the_run(runner, tmp_path, monkeypatch):
    from rnncli import train as train_module
    from rnncli.tagger import Tagger

    out = tmp_path / "m.npz"
    real = train_module.Run.best_tagger

    def signalled(self):
        os.kill(os.getpid(), signal.SIGTERM)  # delivered after the last epoch, before the model is written
        return real(self)

    monkeypatch.setattr(train_module.Run, "best_tagger", signalled)
    args = ["train", str(TUTORIAL_CORPUS), "--epochs", "2", "--hidden", "8", "-q", "-o", str(out)]
    r = runner.invoke(app, args)
    ckpt = tmp_path / "m.ckpt.npz"
    assert one_line_error(r, 128 + signal.SIGTERM) == (
        f"rnncli: error: terminated (SIGTERM) after training, before writing {out}; the trained run is kept in "
        f"{ckpt}: write the model with the same command and --resume {ckpt}\n")
    monkeypatch.setattr(train_module.Run, "best_tagger", real)
    assert runner.invoke(app, [*args, "--resume", str(ckpt)]).exit_code == 0
    assert len(Tagger.load(out).record.training.history) == 2 and not ckpt.exists()


def test_a_signal_just_after_the_model_is_renamed_into_place_says_it_was_written(runner, tmp_path, monkeypatch):
    from rnncli.tagger import Tagger

    out = tmp_path / "m.npz"
    out.write_bytes(PREVIOUS_MODEL)
    real = os.replace

    def signalled(src, dst):
        real(src, dst)
        os.kill(os.getpid(), signal.SIGTERM)  # the new model is in place

    monkeypatch.setattr(os, "replace", signalled)
    r = runner.invoke(app, ["train", str(TUTORIAL_CORPUS), "--epochs", "1", "--hidden", "8", "-q", "-o", str(out)])
    assert one_line_error(r, 128 + signal.SIGTERM) == (
        f"rnncli: error: terminated (SIGTERM) just after writing {out}; it holds the trained model\n")
    monkeypatch.setattr(os, "replace", real)
    assert Tagger.load(out).record.training.history  # the new model, whole


def test_tag_refuses_stdin_named_twice(runner):
    r = runner.invoke(app, ["tag", "-i", "-", "-i", "-", "--model", "tutorial"], input="they fish\n")
    assert "standard input ('-') is named twice" in one_line_error(r, 2)


def test_resuming_without_the_dev_corpus_the_checkpoint_was_made_with_says_so(runner, tmp_path, monkeypatch):
    from test_robustness import _interrupted_checkpoint

    ckpt = _interrupted_checkpoint(runner, tmp_path, monkeypatch, "--dev", str(TUTORIAL_CORPUS))
    r = runner.invoke(app, ["train", str(TUTORIAL_CORPUS), "-o", str(tmp_path / "m.npz"), "--hidden", "8", "-q",
                            "--resume", str(ckpt)])
    assert one_line_error(r) == (f"rnncli: error: {ckpt}: this checkpoint was made with --dev, which this run "
                                 f"does not give; resume with the corpora it was made from\n")


def test_backprop_s_text_view_of_a_long_sentence_leaves_the_middle_of_its_flow_table_to_json(runner):
    # The table of where each loss sends its error is T x T: 300 words drew 73,000 lines in 42 s.
    words = " ".join(["they", "fish"] * 60)
    view = runner.invoke(app, ["backprop", words, "--model", "tutorial"])
    assert view.exit_code == 0
    assert "(losses t = 13 to 108 left out here; --json has every one)" in view.stdout
    assert "losses t = 109 to 114" in view.stdout and "losses t = 13 to 18" not in view.stdout
    data = json.loads(runner.invoke(app, ["backprop", words, "--model", "tutorial", "--json"]).stdout)
    flow = data["flow"]["s"]  # the tutorial network: one chain
    assert len(flow) == 120 and all(len(row) == 120 for row in flow)  # every number still there


def test_a_worker_dead_where_its_pool_cannot_see_it_breaks_the_wait_for_its_result(monkeypatch):
    # A worker killed while it sends a result leaves the pool's thread waiting for the rest of the
    # message, and the other workers waiting for the lock the dead one held: the result never
    # comes (`tag -j 2` with a worker killed hung about one run in twenty under load).
    import multiprocessing
    from concurrent.futures import Future
    from concurrent.futures.process import BrokenProcessPool
    from types import SimpleNamespace

    from rnncli import stream

    dead = multiprocessing.get_context("fork").Process(target=int)
    dead.start()
    dead.join()
    monkeypatch.setattr(stream, "POLL_WORKERS", 0.01)
    with pytest.raises(BrokenProcessPool):
        stream._awaited(Future(), SimpleNamespace(_processes={1: dead}))  # a result that never comes
    done = Future()
    done.set_result("tagged")
    assert stream._awaited(done, SimpleNamespace(_processes={1: dead})) == "tagged"  # one that came is taken
    blocked = threading.Event()
    thread = threading.Thread(target=blocked.wait, daemon=True)
    thread.start()
    monkeypatch.setattr(stream, "_BLOCKING", weakref.WeakSet([thread]))
    assert stream.stuck()  # what rnncli's exit ends at once rather than wait for
    blocked.set()
    thread.join()


def test_a_tagger_kept_by_a_program_stops_when_its_file_is_written_over_in_place(tutorial_model, tmp_path):
    import shutil

    import rnncli
    from rnncli.errors import ModelFileError

    model = tmp_path / "m.npz"
    shutil.copy(tutorial_model, model)
    tagger = rnncli.load(str(model))
    assert tagger.tag([["they", "fish"]]) == [["nn", "v"]]
    renamed = tmp_path / "new.npz"  # a new file renamed over it: the tagger keeps the old one
    shutil.copy(tutorial_model, renamed)
    os.replace(renamed, model)
    assert tagger.tag([["they", "fish"]]) == [["nn", "v"]]
    assert [t.tag for t in tagger.tag_text("they fish")[0]] == ["nn", "v"]
    os.utime(model, (1e9, 1e9))  # touched, not changed: its members and their CRC-32s as they were
    assert tagger.tag([["they", "fish"]]) == [["nn", "v"]]

    tagger = rnncli.load(str(model))
    with open(model, "r+b") as f:  # as cp writes: the same file, truncated and written again
        f.truncate(1000)
    import copy
    import pickle

    for call in (lambda: tagger.tag([["they", "fish"]]), lambda: tagger.tag_text("they fish"), tagger.verify,
                 lambda: copy.deepcopy(tagger), lambda: pickle.dumps(tagger), tagger.without_memory):
        with pytest.raises(ModelFileError, match="written over while in use"):
            call()


def test_a_model_written_under_a_bundled_model_s_name_says_how_to_read_it(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, ["train", str(SAMPLES / "tutorial.txt"), "--epochs", "1", "--hidden", "8", "-q",
                            "-o", "tutorial"])
    assert r.exit_code == 0 and (tmp_path / "tutorial").exists()
    assert r.stderr.endswith("warning: tutorial is also the name of a bundled model: --model tutorial reads that "
                             "one; read this file as --model ./tutorial\n"), r.stderr


@pytest.mark.parametrize("option", ["-o", "--checkpoint"])
def test_training_never_replaces_a_file_that_is_not_a_model(runner, tmp_path, option):
    notes = tmp_path / "notes.md"
    notes.write_text("# notes\n")
    args = ["train", str(SAMPLES / "tutorial.txt"), "--epochs", "1", "--hidden", "8", "-q", "-o", str(tmp_path / "m.npz")]
    r = runner.invoke(app, args + [option, str(notes)])
    assert f"{notes} exists and is not a model file (an .npz); refusing to overwrite it" in one_line_error(r, 2)
    assert notes.read_text() == "# notes\n"
    empty = tmp_path / "empty.npz"
    empty.touch()  # an empty file, or a model, is replaced
    assert runner.invoke(app, args + ["-o", str(empty)]).exit_code == 0 and empty.stat().st_size > 0
    assert runner.invoke(app, args + ["-o", str(empty)]).exit_code == 0


def test_a_dev_set_in_another_tag_set_is_refused_before_training(runner, tmp_path):
    out = tmp_path / "m.npz"
    r = runner.invoke(app, ["train", str(SAMPLES / "tutorial.txt"), "--dev", str(SAMPLES / "tiny.tsv"), "-o", str(out),
                            "--hidden", "8", "--epochs", "2", "-q"])
    err = one_line_error(r, 1)
    assert err.startswith(f"rnncli: error: {SAMPLES / 'tiny.tsv'}: 100% of the gold tags are not tags of the "
                          f"training corpora (NOUN PUNCT ") and err.endswith("another tag set?\n")
    assert not out.exists()


def test_weights_beyond_float16_say_so_and_float32_writes_them(tmp_path):
    import copy

    import rnncli
    from rnncli.errors import ModelFileError

    tagger = copy.deepcopy(rnncli.load("tutorial"))
    tagger.params["W"][0, 0] = 1e6
    with pytest.raises(ModelFileError, match=r"m.npz: array W holds 1e\+06, beyond float16's range \(65,504\): store "
                                             r"the model as float32 \(--store float32\); not written"):
        tagger.save(tmp_path / "m.npz", "float16")
    assert not (tmp_path / "m.npz").exists()
    tagger.save(tmp_path / "m.npz", "float32")
    assert rnncli.load(str(tmp_path / "m.npz")).params["W"][0, 0] == 1e6


def test_the_api_names_what_it_was_given_wrongly():
    import rnncli

    tagger = rnncli.load("tutorial")
    for given, kind in ((b"they fish", "bytes"), (None, "NoneType"), ("they fish", "str"), (3, "int")):
        with pytest.raises(TypeError, match=f"tag\\(\\) takes a list of sentences, each a list of tokens; got {kind} "):
            tagger.tag(given)
    with pytest.raises(ValueError, match="top needs format='jsonl'"):
        tagger.tag_lines(["they fish"], top=2)  # said at the call, as rnncli tag --top refuses it
    with pytest.raises(ValueError, match="first_line is the number of the first line, 1 or more; got 0"):
        tagger.tag_lines(["they fish"], first_line=0)
    assert list(tagger.tag_lines(["they fish"], format="jsonl", top=2))[0].startswith('{"tokens": ["they", "fish"]')


# -- standard input as whatever started rnncli left it ---------------------------------------------

@pytest.mark.parametrize("args", [["tag"], ["tag", "-i", "-"], ["eval", "--format", "conllu", "-"]])
def test_a_closed_stdin_is_an_error_not_an_empty_input(args):
    r = subprocess.run([*RNNCLI, *args], preexec_fn=lambda: os.close(0), capture_output=False,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    assert (r.returncode, r.stdout) == (1, b"")
    assert r.stderr == b"rnncli: error: <stdin>:1: cannot read (standard input is closed)\n"
    alone = subprocess.run([*RNNCLI, "tag", "I eat apple"], preexec_fn=lambda: os.close(0), capture_output=True,
                           timeout=60)
    assert alone.returncode == 0 and alone.stdout == b"I/PRON eat/VERB apple/NOUN\n"  # stdin never read


@pytest.mark.parametrize("extra", [[], ["-j", "2"]])
def test_a_non_blocking_stdin_is_waited_for_not_taken_for_its_end(extra):
    """A read of a non-blocking pipe with nothing in it yet fails at once; Python's reader took
    that for the end of the input, and the lines still to come were lost with status 0."""
    read, write = os.pipe()
    os.set_blocking(read, False)
    proc = subprocess.Popen([*RNNCLI, "tag", *extra], stdin=read, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    os.close(read)
    try:
        os.write(write, b"I eat apple\n")
        first = proc.stdout.readline()  # answered: the tagger then reads on and finds the pipe empty
        time.sleep(0.5)
        os.write(write, b"you sleep\n")
    except BrokenPipeError:  # the tagger took the empty pipe for the end and is gone
        pass
    finally:
        os.close(write)
    out, err = proc.communicate(timeout=120)
    assert (proc.returncode, first + out, err) == (0, b"I/PRON eat/VERB apple/NOUN\nyou/PRON sleep/VERB\n", b"")


def test_conllu_output_with_a_line_break_inside_a_line_reads_back(runner, tmp_path):
    text = tmp_path / "odd.txt"
    text.write_bytes("I eat \r apples\nsome\x0bthing \u2028 odd \x85 here\n".encode())
    out = tmp_path / "odd.conllu"
    r = subprocess.run([*RNNCLI, "tag", "-i", str(text), "--format", "conllu"], capture_output=True, timeout=60)
    assert r.returncode == 0
    out.write_bytes(r.stdout)
    assert [l for l in r.stdout.decode().split("\n") if l.startswith("# text")] == [
        "# text = I eat   apples", "# text = some thing   odd   here"]
    assert json.loads(subprocess.run([*RNNCLI, "eval", str(out), "--json"], capture_output=True, timeout=60,
                                     check=True).stdout)["accuracy"] == 1.0


# -- Ctrl-C while rnncli starts ---------------------------------------------------------------------

IMPORT_HOOK = """
import os, signal, sys
class Interrupt:  # Ctrl-C arriving while the command's modules are read
    def find_spec(self, name, path=None, target=None):
        if name == "rnncli.cli":
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signal.SIGINT)
        return None
sys.meta_path.insert(0, Interrupt())
sys.argv = ["rnncli", "tag", "I eat apple"]
from rnncli.__main__ import main
main()
"""


def test_ctrl_c_while_the_modules_are_read_ends_quietly_as_the_signal_does():
    r = subprocess.run([sys.executable, "-c", IMPORT_HOOK], capture_output=True, timeout=60)
    assert (r.returncode, r.stdout, r.stderr) == (-signal.SIGINT, b"", b"")


def test_ctrl_c_before_a_command_takes_charge_ends_with_130_and_no_traceback():
    code = ("import sys, rnncli.cli as c\n"
            "def interrupted(**_): raise KeyboardInterrupt\n"
            "c.app = interrupted\nsys.argv = ['rnncli', 'tag', 'x']\nc.main()\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert (r.returncode, r.stdout, r.stderr) == (130, b"", b"")


def test_a_file_named_dash_is_read_as_a_file_when_its_path_says_so(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "-").write_text("from the file\n")
    r = subprocess.run([*RNNCLI, "tag", "-i", "./-", "--pretokenized", "--model", "tutorial"], input=b"from stdin\n",
                       capture_output=True, timeout=60)
    assert r.returncode == 0 and r.stdout.decode().split()[2].startswith("file/")
    (tmp_path / "-").write_text("they/nn fish/v\n")
    r = subprocess.run([*RNNCLI, "eval", "./-", "--model", "tutorial", "--json"], input=b"", capture_output=True,
                       timeout=60)
    assert r.returncode == 0 and json.loads(r.stdout)["tokens"] == 2
    (tmp_path / "-").write_text("they/nn fish/v\nbad line here\n")
    r = subprocess.run([*RNNCLI, "eval", "./-", "--model", "tutorial", "--strict"], capture_output=True, timeout=60)
    assert r.returncode == 1 and r.stderr.startswith(b"rnncli: error: ./-:2: token 'bad' has no tag")
    for args in (["tag", "-i", ""], ["eval", ""], ["train", "", "-o", "m.npz"]):
        r = subprocess.run([*RNNCLI, *args], capture_output=True, timeout=60)
        assert (r.returncode, r.stderr) == (1, b"rnncli: error: '': an empty file name; give a file\n"), args


def test_stdin_left_non_blocking_is_left_so_and_an_ignored_ctrl_c_stays_ignored(tutorial_model):
    read, write = os.pipe()
    os.set_blocking(read, False)
    try:
        os.write(write, b"they fish\n")
        os.close(write)
        r = subprocess.run([*RNNCLI, "tag", "--model", str(tutorial_model)], stdin=read, capture_output=True,
                           timeout=60)
        assert (r.returncode, r.stdout) == (0, b"they/nn fish/v\n")
        assert not os.get_blocking(read)  # the flag belongs to the pipe, which the caller shares
    finally:
        os.close(read)
    read, write = os.pipe()
    os.set_blocking(read, False)
    out_read, out_write = os.pipe()
    proc = subprocess.Popen([*RNNCLI, "tag", "--model", str(tutorial_model)], stdin=read, stdout=out_write)
    os.close(out_write)
    try:
        os.write(write, b"they fish\n")
        assert os.read(out_read, 100) == b"they/nn fish/v\n"
        os.close(out_read)  # the reader goes away: the next line ends rnncli by SIGPIPE, before atexit
        os.write(write, b"they fish\n")
        os.close(write)
        assert proc.wait(timeout=60) == -signal.SIGPIPE
        assert not os.get_blocking(read)
    finally:
        os.close(read)
    proc = subprocess.Popen([*RNNCLI, "tag", "-i", "-", "--model", str(tutorial_model)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))  # as `cmd &` in a script
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    assert proc.communicate(b"they fish\n", timeout=60) == (b"they/nn fish/v\n", b"") and proc.returncode == 0


def test_a_closed_stdin_troubles_nothing_that_does_not_read_it(tmp_path):
    text = tmp_path / "t.txt"
    text.write_text("they fish\n" * 30_000)
    r = subprocess.run([*RNNCLI, "tag", "-j", "2", "-i", str(text), "--model", "tutorial"],
                       preexec_fn=lambda: os.close(0), capture_output=True, timeout=120)
    assert (r.returncode, r.stderr, r.stdout.count(b"\n")) == (0, b"", 30_000)
    r = subprocess.run([*RNNCLI, "eval", "-"], preexec_fn=lambda: os.close(0), capture_output=True, timeout=60)
    assert r.returncode == 1 and r.stderr.count(b"\n") == 1 and b"Traceback" not in r.stderr


def test_a_figure_of_stacked_two_direction_layers_says_what_its_arrows_leave_out(runner, tmp_path):
    from rnncli.corpus import read_corpus
    from rnncli.train import TrainConfig, train

    tagger = train(read_corpus(SAMPLES / "tutorial.txt"), None,
                   TrainConfig(epochs=1, hidden=8, layers=2, bidirectional=True, seed=1))
    model, picture = tmp_path / "m.npz", tmp_path / "f.svg"
    tagger.save(model)
    assert runner.invoke(app, ["unroll", "they fish", "--model", str(model), "--svg", str(picture)]).exit_code == 0
    assert "a layer above the first reads both strips below it, [s_t ; s_bwd_t]" in picture.read_text()
    assert runner.invoke(app, ["unroll", "they fish", "--svg", str(tmp_path / "g.svg")]).exit_code == 0
    assert "reads both strips below" not in (tmp_path / "g.svg").read_text()  # one layer: every arrow drawn


CTRL_C_IN_A_NEW_WORKER = """
import os, signal, sys
import multiprocessing.process as process
bootstrap = process.BaseProcess._bootstrap
def interrupted(self, *args, **kwargs):  # Ctrl-C reaching a worker just forked, as the terminal sends it
    os.kill(os.getpid(), signal.SIGINT)
    return bootstrap(self, *args, **kwargs)
process.BaseProcess._bootstrap = interrupted
sys.argv = ["rnncli", "tag", "-j", "2", "--model", "tutorial", "-i", sys.argv[1]]
from rnncli.__main__ import main
main()
"""


def test_ctrl_c_reaching_a_worker_as_it_starts_is_the_parent_s_to_handle(tmp_path):
    """A worker forked with the parent's Ctrl-C handler died of a Ctrl-C before it could ignore
    it: a traceback from 'Process ForkProcess-1' and the run ended with status 1. Held back
    while forked, it is ignored by the worker, as every later one is."""
    text = tmp_path / "t.txt"
    text.write_text("they fish\n" * 20_000)
    r = subprocess.run([sys.executable, "-c", CTRL_C_IN_A_NEW_WORKER, str(text)], capture_output=True, timeout=120)
    assert (r.returncode, r.stderr, r.stdout.count(b"\n")) == (0, b"", 20_000)


def test_a_fork_refused_is_one_line_and_a_zip_that_is_no_model_or_a_read_only_model_is_kept(tmp_path):
    text = tmp_path / "t.txt"
    text.write_text("they fish\n" * 3000)
    code = ("import errno, sys\nimport multiprocessing.popen_fork as pf\n"
            "def refuse(self, process_obj): raise OSError(errno.EAGAIN, 'Resource temporarily unavailable')\n"
            "pf.Popen._launch = refuse\n"
            f"sys.argv = ['rnncli', 'tag', '-j', '2', '--model', 'tutorial', '-i', {str(text)!r}]\n"
            "from rnncli.__main__ import main\nmain()\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
    assert (r.returncode, r.stderr) == (1, b"rnncli: error: cannot start the worker processes (Resource temporarily "
                                           b"unavailable); try fewer --jobs\n")
    report = tmp_path / "report.docx"  # a zip archive, but no .npz
    report.write_bytes(b"PK\x03\x04" + bytes(22) + b"\x0b\x00\x00\x00word/x.xml" + bytes(40))
    model = tmp_path / "kept.npz"
    from rnncli.loader import bundled_model_path

    model.write_bytes(bundled_model_path("tutorial").read_bytes())
    model.chmod(0o444)  # by its mode, whoever runs rnncli (root may write anything)
    for path, why in ((report, "exists and is not a model file"), (model, "is read-only; refusing to replace it")):
        r = subprocess.run([*RNNCLI, "train", str(SAMPLES / "tutorial.txt"), "--epochs", "1", "--hidden", "8", "-q",
                            "-o", str(path)], capture_output=True, timeout=120)
        assert r.returncode == 2 and why.encode() in r.stderr, r.stderr


def test_a_model_with_one_tag_has_no_error_to_carry_not_a_sentence_too_short(runner, tmp_path):
    corpus, model = tmp_path / "one.txt", tmp_path / "one.npz"
    corpus.write_text("a/X b/X\nc/X\n")
    assert runner.invoke(app, ["train", str(corpus), "-o", str(model), "--hidden", "8", "--epochs", "2", "-q"]).exit_code == 0
    card = json.loads(runner.invoke(app, ["inspect", str(model), "--json"]).stdout)
    assert card["memory"]["chains"]["s"]["verdict"] == "no error to carry"
    r = runner.invoke(app, ["backprop", "we like to watch the fish in the park", "--model", str(model)])
    assert r.exit_code == 0 and "no error to carry: no step's loss sends any error back" in " ".join(r.stdout.split())


def test_eval_of_a_corpus_tagged_all_right_says_there_is_no_confusion(runner, tmp_path):
    gold = tmp_path / "g.txt"
    gold.write_text("they/nn fish/v\n")
    r = runner.invoke(app, ["eval", str(gold), "--model", "tutorial"])
    text = " ".join(r.stdout.split())  # a long path may wrap the first line
    assert r.exit_code == 0 and text.startswith(f"{gold}: 1 sentence accuracy 100.00% on 2 tokens (1 sentence, ")
    assert text.endswith("most frequent confusions: none, every tag is right")


def test_a_watch_sentence_that_cannot_be_watched_is_said_before_the_first_epoch(runner, tmp_path):
    r = runner.invoke(app, ["train", str(SAMPLES / "tutorial.txt"), "-o", str(tmp_path / "m.npz"), "--hidden", "8",
                            "--epochs", "1", "--watch", "they/nn fish"])
    assert r.exit_code == 0
    first, second = r.stderr.splitlines()[:2]
    assert first.startswith("rnncli: warning: --watch: 'they/nn' has a tag but 'fish' has none") and \
        second.startswith("epoch 1/1")
