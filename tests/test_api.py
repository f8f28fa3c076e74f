"""The Python API (``rnncli.load``, ``Tagger.tag``, ``Tagger.tag_lines``) against the command
line it stands beside, and taggers pickled to other processes."""

import copy
import os
import pickle
import pickletools
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rnncli
from rnncli.cli import app
from rnncli.corpus import OUTPUT_FORMATS
from rnncli.errors import CorpusError, ModelFileError, OptionError, RnncliError, Stopped, TaggingError
from rnncli.loader import Tagger, bundled_model_path

from conftest import ROOT, SAMPLES, examples


def cli_tag(runner, path, *args) -> tuple[int, bytes, str]:
    """What `rnncli tag -i PATH ARGS` writes: (status, stdout as bytes, stderr)."""
    r = runner.invoke(app, ["tag", "-i", str(path), *args])
    return r.exit_code, r.stdout_bytes, r.stderr


# -- the public names ----------------------------------------------------------------------------

def test_import_rnncli_stays_cheap():
    code = "import sys, rnncli; print(sorted(m for m in ('numpy', 'typer', 'rich') if m in sys.modules))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert (r.returncode, r.stdout, r.stderr) == (0, "[]\n", "")


def test_all_lists_the_public_names_and_each_is_there():
    assert rnncli.__all__ == ["load", "Tagger", "tokenize", "Token", "RnncliError", "CorpusError", "ModelFileError",
                              "OptionError", "TaggingError"]
    assert rnncli.load("tutorial").__class__ is rnncli.Tagger is Tagger
    assert rnncli.RnncliError is RnncliError and issubclass(rnncli.CorpusError, rnncli.RnncliError)
    assert set(rnncli.__all__) <= set(dir(rnncli))
    with pytest.raises(AttributeError, match="no attribute 'tag_stream'"):
        rnncli.tag_stream


def test_every_public_name_is_documented():
    text = (ROOT / "docs" / "python.md").read_text(encoding="utf-8")
    for name in rnncli.__all__ + ["tag", "tag_lines", "tag_text"]:
        assert f"`{name}" in text or f"rnncli.{name}" in text or f".{name}(" in text, name
    assert "docs/python.md" in (ROOT / "README.md").read_text(encoding="utf-8")


# -- load: as --model ----------------------------------------------------------------------------

def test_load_resolves_as_model_does(tutorial_model, monkeypatch):
    monkeypatch.delenv("RNNCLI_MODEL", raising=False)
    assert rnncli.load("tutorial").origin.path == str(bundled_model_path("tutorial"))
    assert rnncli.load().origin.path == str(bundled_model_path("default"))
    monkeypatch.setenv("RNNCLI_MODEL", str(tutorial_model))
    assert rnncli.load().origin.path == str(tutorial_model)
    assert rnncli.load(tutorial_model) is rnncli.load(str(tutorial_model)) is rnncli.load()
    expected = Tagger.load(tutorial_model)
    assert all(np.array_equal(rnncli.load().params[k], expected.params[k]) for k in expected.params)


@pytest.mark.parametrize("given, env", [("none.npz", None), (None, "none.npz"), (".", None)])
def test_load_fails_with_the_message_of_model(runner, tmp_path, monkeypatch, given, env):
    monkeypatch.chdir(tmp_path)
    if env:
        monkeypatch.setenv("RNNCLI_MODEL", env)
    r = runner.invoke(app, ["tag", "x"] + (["--model", given] if given else []))
    with pytest.raises(ModelFileError) as e:
        rnncli.load(given)
    assert r.exit_code == 1 and r.stderr == f"rnncli: error: {e.value}\n"
    assert ("(from $RNNCLI_MODEL)" in str(e.value)) == bool(env)


def test_load_reads_a_file_once_while_it_is_unchanged(tutorial_model, tmp_path):
    path = tmp_path / "m.npz"
    Tagger.load(tutorial_model).save(path)
    first = rnncli.load(path)
    assert rnncli.load(path) is first
    Tagger.load(tutorial_model).without_memory().save(path)  # a new model under the same name
    second = rnncli.load(path)
    assert second is not first and second.tag([["they", "fish"]]) == second.without_memory().tag([["they", "fish"]])


# -- tag: lists of tokens ------------------------------------------------------------------------

def test_tag_gives_tags_and_with_probs_their_probabilities():
    tagger = rnncli.load("tutorial")
    sentences = [["they", "fish"], [], ("the", "fish")]
    assert tagger.tag(sentences) == [["nn", "v"], [], ["det", "nn"]]
    pairs = tagger.tag(iter(sentences), probs=True)
    assert [[t for t, _ in s] for s in pairs] == [["nn", "v"], [], ["det", "nn"]]
    best = tagger.best([list(s) for s in sentences])
    assert [[p for _, p in s] for s in pairs] == [b[1].tolist() for b in best]
    o = tagger.predict([["they", "fish"]])[0]  # (L, n_tags)
    assert [p for _, p in pairs[0]] == o.max(axis=1).tolist() and all(isinstance(p, float) for _, p in pairs[0])


def test_top_k_ranks_every_tag_by_its_probability_and_starts_with_the_tag_chosen():
    tagger = rnncli.load("tutorial")
    sentences = [["they", "fish"], ["the", "fish", "swims", "in", "a", "pond"]]
    ranked = tagger.tag(sentences, top=3)
    chosen = tagger.tag(sentences, probs=True)
    full = tagger.predict(sentences)
    for sentence, pairs, o in zip(ranked, chosen, full):
        for token, (tag, p), row in zip(sentence, pairs, o):
            assert len(token) == 3 and token[0][0] == tag and token[0][1] == pytest.approx(p, abs=1e-6)
            probs = [q for _, q in token]
            assert probs == sorted(probs, reverse=True)
            expected = sorted(range(len(row)), key=lambda k: -row[k])[:3]
            assert [t for t, _ in token] == [tagger.tags[k] for k in expected]  # o_t's three largest
            np.testing.assert_allclose(probs, row[expected], atol=1e-6)
    everything = tagger.tag([["fish"]], top=100)[0][0]
    assert len(everything) == len(tagger.tags) and sum(p for _, p in everything) == pytest.approx(1, abs=1e-5)
    for bad in (0, -1, 1.5, "2", True):
        with pytest.raises(ValueError, match="top must be a whole number"):
            tagger.tag([["fish"]], top=bad)


def test_tag_text_gives_tokens_with_offsets_tags_and_probabilities():
    tagger = rnncli.load("tutorial")
    text = "they fish\r\n\n  I don't eat apples.\nthe fish"
    lines = tagger.tag_text(text)
    assert [[t.text for t in line] for line in lines] == [["they", "fish"], [], ["I", "do", "n't", "eat", "apples", "."],
                                                         ["the", "fish"]]
    for line in lines:
        assert all(text[t.start:t.end] == t.text for t in line)
        assert [t.tag for t in line] == tagger.tag([[t.text for t in line]])[0]
    assert [t.tag for t in lines[0]] == ["nn", "v"] and 0.5 < lines[0][1].prob <= 1 and lines[0][1].top is None
    with_top = tagger.tag_text(text, top=2)
    assert [[t._replace(top=None) for t in line] for line in with_top] == lines
    assert with_top[0][1].top[0] == ("v", lines[0][1].prob) and len(with_top[0][1].top) == 2
    assert rnncli.Token("fish", 5, 9) == ("fish", 5, 9, None, None, None)  # immutable, a tuple
    with pytest.raises(AttributeError):
        lines[0][0].tag = "v"
    with pytest.raises(TypeError, match="takes a str"):
        tagger.tag_text(b"they fish")


@settings(max_examples=examples(200), deadline=None)
@given(text=st.text(st.characters(blacklist_categories=("Cs",)), max_size=80))
def test_tokenize_cuts_each_line_as_rnncli_tag_does_and_says_where_each_token_is(text):
    from rnncli.tokenizer import line_tokens

    lines = rnncli.tokenize(text)
    assert len(lines) == len(text.removesuffix("\n").split("\n"))
    for tokens, line in zip(lines, text.removesuffix("\n").split("\n")):
        assert [t.text for t in tokens] == line_tokens(line.removesuffix("\r"))
        assert all(text[t.start:t.end] == t.text for t in tokens)
        assert all(a.end <= b.start for a, b in zip(tokens, tokens[1:]))
    pretokenized = rnncli.tokenize(text, pretokenized=True)
    assert [[t.text for t in ts] for ts in pretokenized] == [
        line.removesuffix("\r").split() for line in text.removesuffix("\n").split("\n")]
    assert all(text[t.start:t.end] == t.text for ts in pretokenized for t in ts)


def test_tag_refuses_text_where_it_wants_tokens():
    with pytest.raises(TypeError, match="lists of tokens; tag_lines"):
        rnncli.load("tutorial").tag(["they fish"])


# -- tag_lines: what rnncli tag prints -----------------------------------------------------------

LINES = ["\ufeffI eat apple\r\n", "\n", "   \n", "They fish in the river.\n", "we\tfish\rin the lake\n",
         "Ünïcödé wörds, “quoted” — and a URL http://example.com/x?y=1 !\n", "I don't eat apples.\r\n",
         " ".join(["the fish"] * 400) + "\n", "no line ending at the end"]


@pytest.mark.parametrize("fmt", OUTPUT_FORMATS)
@pytest.mark.parametrize("pretokenized", [False, True])
def test_tag_lines_is_rnncli_tag_byte_for_byte_one_item_per_line(runner, tmp_path, fmt, pretokenized):
    path = tmp_path / "in.txt"
    path.write_bytes("".join(LINES).encode("utf-8"))
    options = ["-f", fmt, "-m", "tutorial"] + ["--pretokenized"] * pretokenized
    status, out, _ = cli_tag(runner, path, *options)
    tagger = rnncli.load("tutorial")
    items = list(tagger.tag_lines(LINES, fmt, pretokenized))
    assert status == 0 and "".join(items).encode("utf-8") == out
    assert len(items) == len(LINES)
    assert all(item.endswith("\n") for item in items)
    blank = "{\"tokens\": [], \"tags\": [], \"probs\": [], \"offsets\": []}\n" if fmt == "jsonl" else "\n"
    assert items[1] == items[2] == blank
    if fmt in ("tsv", "conllu"):  # a block of rows per line, ended by its blank line
        comments = 2 if fmt == "conllu" else 0  # its number and text
        assert items[0].endswith("\n\n") and items[0].count("\n") == comments + 3 + 1
    with open(path, "rb") as f:  # bytes, as read from a file, give the same
        assert list(tagger.tag_lines(f, fmt, pretokenized)) == items


def test_tag_lines_is_the_same_whatever_the_chunks():
    from rnncli.stream import tag_lines

    tagger = rnncli.load("tutorial")
    lines = [f"they fish {n}" if n % 5 else "" for n in range(300)]
    assert list(tag_lines(tagger, lines, "tsv", chunk_chars=37)) == list(tagger.tag_lines(lines, "tsv"))


@pytest.mark.filterwarnings("ignore::rnncli.stream.UnknownWordsWarning")  # random text is no English
@settings(max_examples=examples(25), deadline=None)
@given(st.lists(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\0"), max_size=30),
                max_size=12),
       st.sampled_from(OUTPUT_FORMATS))
def test_tag_lines_agrees_with_rnncli_tag_on_any_text(tmp_path_factory, lines, fmt):
    from typer.testing import CliRunner

    path = tmp_path_factory.mktemp("lines") / "in.txt"
    path.write_bytes("".join(line + "\n" for line in lines).encode("utf-8"))
    _, out, _ = cli_tag(CliRunner(), path, "-f", fmt, "-m", "tutorial")
    items = list(rnncli.load("tutorial").tag_lines(lines, fmt))
    assert len(items) == len(lines) and "".join(items).encode("utf-8") == out


@pytest.mark.parametrize("raw, as_text", [
    (b"they fish\n\nI eat \xff apple\nmore\n", None),  # a byte that is not UTF-8
    (b"they fish\nI eat \xe2\x82 apple\n", None),  # a sequence cut short
    (b"they fish\n\xef\xbb\xbfI eat \xc3\n", None),  # a mark that is not at the start: a character
    (b"\xef\xbb\xbfthey \xff fish\n", None),  # the column counts from after the byte-order mark
    (b"they fish\nI eat\x00 apple\n", None),  # binary data
])
def test_a_bad_line_is_the_error_rnncli_tag_gives_after_the_lines_before_it(runner, tmp_path, raw, as_text):
    path = tmp_path / "bad.txt"
    path.write_bytes(raw)
    status, out, err = cli_tag(runner, path, "-m", "tutorial")
    lines = path.read_text("utf-8", "surrogateescape").splitlines(keepends=True)
    for given in (lines, raw.splitlines(keepends=True)):  # text decoded with escapes, or bytes
        got = []
        with pytest.raises(CorpusError) as e:
            for item in rnncli.load("tutorial").tag_lines(given, source=path):
                got.append(item)
        assert status == 1 and err == f"rnncli: error: {e.value}\n"
        assert "".join(got).encode("utf-8") == out


def test_tag_lines_refuses_what_is_not_one_line_of_text():
    tagger = rnncli.load("tutorial")
    with pytest.raises(CorpusError, match=r"^<lines>:2: a line break inside the line"):
        list(tagger.tag_lines(["they fish\n", "two\nlines\n"]))
    with pytest.raises(CorpusError, match=r"^x.txt:11: not valid Unicode \(a lone surrogate, U\+D800, at character 3\)"):
        list(tagger.tag_lines(["ok", "ab\ud800"], source="x.txt", first_line=10))
    with pytest.raises(OptionError, match="unknown output format 'xml'"):
        tagger.tag_lines([], "xml")  # at the call, before any line is read


# -- pickling: a reference to the file, read once per process -------------------------------------

def globals_in(data: bytes) -> list[str]:
    """The functions and classes a pickle names: all the code it would run."""
    names, strings = [], []
    for op, arg, _ in pickletools.genops(data):
        if op.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE"):
            strings.append(arg)
        elif op.name == "STACK_GLOBAL":
            names.append(".".join(strings[-2:]))
        elif op.name == "GLOBAL":
            names.append(arg.replace(" ", "."))
    return names


def test_a_loaded_tagger_pickles_as_its_file_and_unpickles_to_the_loaded_one(tutorial_model):
    tagger = rnncli.load(tutorial_model)
    data = pickle.dumps(tagger)
    assert len(data) < 300 and globals_in(data) == ["rnncli.loader.restore"]
    assert pickle.loads(data) is tagger  # this process has it already
    default = pickle.dumps(rnncli.load())
    assert len(default) < 300 and str(bundled_model_path()).encode() not in default  # by name: each machine's own copy


def test_a_pickled_tagger_is_read_once_in_another_process(tutorial_model):
    tagger = Tagger.load(tutorial_model)
    code = ("import pickle, sys\n"
            "from rnncli.tagger import Tagger\n"
            "reads = []\n"
            "load = Tagger.load.__func__\n"
            "Tagger.load = classmethod(lambda cls, *a, **k: reads.append(1) or load(cls, *a, **k))\n"
            "data = sys.stdin.buffer.read()\n"
            "taggers = [pickle.loads(data) for _ in range(5)]\n"
            "print(len(reads), len({id(t) for t in taggers}), taggers[0].tag([['they', 'fish'], ['the', 'fish']]))\n")
    r = subprocess.run([sys.executable, "-c", code], input=pickle.dumps(tagger), capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == f"1 1 {tagger.tag([['they', 'fish'], ['the', 'fish']])}\n"


def test_a_tagger_whose_file_changed_is_never_mistaken_for_it(tutorial_model, tmp_path):
    path = tmp_path / "m.npz"
    Tagger.load(tutorial_model).save(path)
    tagger = Tagger.load(path)
    data = pickle.dumps(tagger)
    tagger.without_memory().save(path)  # another model under the name, as a retraining would leave
    with pytest.raises(ModelFileError, match=r"m.npz: not the model file the tagger was pickled from \(it changed"):
        pickle.loads(data)
    again = pickle.dumps(tagger)  # its file gone: the tagger travels as its arrays
    assert globals_in(again) == ["rnncli.tagger.from_content"]
    assert pickle.loads(again).tag([["they", "fish"]]) == tagger.tag([["they", "fish"]])
    os.unlink(path)
    with pytest.raises(ModelFileError, match="m.npz: no such model file in this process's file system"):
        pickle.loads(data)


def test_a_tagger_without_a_file_pickles_as_its_arrays_and_metadata_only(tutorial_model):
    tagger = Tagger.load(tutorial_model)
    tagger.params["U"] = np.asfortranarray(tagger.params["U"].astype(np.float16))  # a lookup as stored small
    alone = tagger.without_memory()
    data = pickle.dumps(alone)
    assert globals_in(data) == ["rnncli.tagger.from_content"]  # no numpy, no code: bytes, names, numbers
    back = pickle.loads(data)
    assert back is not alone and back.metadata() == alone.metadata()
    for name, a in alone.params.items():
        b = back.params[name]
        assert (b.dtype, b.shape, b.flags.f_contiguous, b.flags.c_contiguous) == (
            a.dtype, a.shape, a.flags.f_contiguous, a.flags.c_contiguous) and np.array_equal(a, b)
    assert back.tag([["they", "fish"]]) == alone.tag([["they", "fish"]])


def test_a_copy_is_a_tagger_of_its_own():
    tagger = rnncli.load("tutorial")
    for twin in (copy.copy(tagger), copy.deepcopy(tagger)):
        assert twin is not tagger and twin.tag([["they", "fish"]]) == tagger.tag([["they", "fish"]])
    deep = copy.deepcopy(tagger)
    deep.params["V"][:] = 0
    assert not np.array_equal(deep.params["V"], tagger.params["V"])
    assert globals_in(pickle.dumps(deep)) == ["rnncli.tagger.from_content"]  # changed: not the file


@pytest.mark.parametrize("error", [
    RnncliError("x"), CorpusError("a.txt:3: not valid UTF-8"), ModelFileError("m.npz: no such model file"),
    OptionError("--format", "unknown output format"), Stopped("interrupted", 130), TaggingError("a worker died")])
def test_every_error_crosses_to_another_process_whole(error):
    back = pickle.loads(pickle.dumps(error))
    assert (type(back), str(back), back.status, vars(back)) == (type(error), str(error), error.status, vars(error))


# -- streaming -------------------------------------------------------------------------------------

def test_tag_lines_answers_each_line_of_a_generator_before_the_next_comes():
    """A generator that waits for the answer to its first line before it gives the second: tagging
    that waited for a chunk to fill, or for the end, would wait here for ever (10 s, then fail)."""
    import threading

    answered = threading.Event()

    def lines():
        yield "they fish\n"
        yield "answered in time" if answered.wait(10) else "never answered"

    out = []
    for item in rnncli.load("tutorial").tag_lines(lines()):
        out.append(item)
        answered.set()
    assert out[0] == "they/nn fish/v\n" and out[1].startswith("answered/")


def test_a_bad_line_from_a_generator_comes_after_the_lines_before_it():
    def lines():
        yield b"they fish\n"
        yield b"bad \xff byte\n"
        yield b"never read\n"

    items = []
    with pytest.raises(CorpusError, match=r"^<lines>:2: not valid UTF-8"):
        for item in rnncli.load("tutorial").tag_lines(lines()):
            items.append(item)
    assert items == ["they/nn fish/v\n"]


def test_a_generator_is_tagged_as_a_list_is_whatever_its_pace():
    lines = [f"they fish {n}" if n % 5 else "" for n in range(300)]
    tagger = rnncli.load("tutorial")
    assert list(tagger.tag_lines(iter(lines), "conllu")) == list(tagger.tag_lines(lines, "conllu"))


def test_rnncli_tag_answers_a_line_on_a_pipe_while_the_pipe_stays_open(tmp_path):
    import select

    p = subprocess.Popen([sys.executable, "-m", "rnncli", "tag", "-m", "tutorial"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        p.stdin.write(b"they fish\n")
        p.stdin.flush()
        ready, _, _ = select.select([p.stdout], [], [], 30)  # the pipe is still open: no end of input yet
        assert ready, "no answer while the input stayed open"
        assert p.stdout.readline() == b"they/nn fish/v\n"
        p.stdin.write(b"the fish\n")
        p.stdin.close()
        assert p.stdout.read() == b"the/det fish/nn\n" and p.wait(30) == 0
    finally:
        p.kill()
        p.wait()


def test_text_most_of_whose_words_the_model_does_not_know_is_tagged_with_one_warning(runner):
    french = "Le chat mange une pomme rouge dans le jardin ."
    r = runner.invoke(app, ["tag", french, french])
    assert r.exit_code == 0 and len(r.stdout.splitlines()) == 2  # tagged all the same
    assert r.stderr == ("rnncli: warning: 90% of the words are unknown to the model, trained on UD English EWT train "
                        "(en_ewt-ud-train.conllu): text in another language is tagged all the same, and badly\n")
    english = runner.invoke(app, ["tag", "I eat apple with Zebulon in Ouagadougou", "They fish"])
    assert english.exit_code == 0 and english.stderr == ""
    names = runner.invoke(app, ["tag", "Nguyen emailed Priyanka about Kubernetes"])  # too short to judge
    assert names.exit_code == 0 and names.stderr == ""
    with pytest.warns(rnncli.stream.UnknownWordsWarning, match="^90% of the words are unknown to the model"):
        assert len(list(rnncli.load().tag_lines([french]))) == 1
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        list(rnncli.load().tag_lines(["I eat apple", "Obama wins the election ."]))
