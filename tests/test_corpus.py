"""Corpus readers and writers, with the awkward cases."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnncli.corpus import format_sentence, read_corpus
from rnncli.errors import CorpusError

from conftest import SAMPLES, examples


def write(tmp_path, name, data: bytes | str):
    path = tmp_path / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def test_slash_splits_at_the_last_slash(tmp_path):
    path = write(tmp_path, "c.txt", "1/2/NUM cup/NOUN and/or/CCONJ\n")
    [s] = read_corpus(path)
    assert s.words == ["1/2", "cup", "and/or"]
    assert s.tags == ["NUM", "NOUN", "CCONJ"]


def test_slash_tolerates_crlf_trailing_spaces_bom_and_blank_lines(tmp_path):
    path = write(tmp_path, "c.txt", b"\xef\xbb\xbfI/nn eat/v  \r\n\r\n  apple/nn\t\r\n")
    sentences = read_corpus(path)
    assert [s.words for s in sentences] == [["I", "eat"], ["apple"]]
    assert [s.line for s in sentences] == [1, 3]


@pytest.mark.parametrize("name, text", [
    ("c.txt", "a/DET cat/NOUN\r\nthe/DET\rdog/NOUN\r\n"),
    ("c.tsv", "a\tDET\r\ncat\rdog\tNOUN\n"),
    ("c.conllu", "1\ta\t_\tDET\t_\t_\t_\t_\t_\t_\n2\tca\rt\t_\tNOUN\t_\t_\t_\t_\t_\t_\n"),
])
def test_a_carriage_return_inside_a_line_is_an_error_in_every_format(tmp_path, name, text):
    """A word or tag would carry it into every output format, and split lines there (an old
    Mac file, whose lines end in a lone CR, is one long line)."""
    path = write(tmp_path, name, text)
    with pytest.raises(CorpusError) as e:
        read_corpus(path, problems=[])  # not a sentence to skip: the file's lines are not what they seem
    assert str(e.value).startswith(f"{path}:2: a carriage return inside the line (column ")


@pytest.mark.parametrize("token, why", [("dog", "has no tag"), ("dog/", "has an empty tag"), ("/NN", "has an empty word")])
def test_slash_errors_name_file_and_line(tmp_path, token, why):
    path = write(tmp_path, "c.txt", f"a/DET cat/NOUN\nthe/DET {token}\n")
    with pytest.raises(CorpusError) as e:
        read_corpus(path)
    assert str(e.value) == f"{path}:2: token {token!r} {why} (expected word/TAG)"


CONLLU = """# newdoc id = x
# sent_id = 1
# text = I don't know.
1\tI\tI\tPRON\tPRP\t_\t4\tnsubj\t_\t_
2-3\tdon't\t_\t_\t_\t_\t_\t_\t_\t_
2\tdo\tdo\tAUX\tVBP\t_\t4\taux\t_\t_
3\tn't\tnot\tPART\tRB\t_\t4\tadvmod\t_\t_
4\tknow\tknow\tVERB\tVB\t_\t0\troot\t_\tSpaceAfter=No
4.1\tknows\tknow\tVERB\tVBZ\t_\t_\t_\t0:root\t_
5\t.\t.\tPUNCT\t.\t_\t4\tpunct\t_\t_

# sent_id = 2
1\tHi\thi\tINTJ\tUH\t_\t0\troot\t_\t_
"""


def test_conllu_skips_comments_ranges_and_empty_nodes(tmp_path):
    path = write(tmp_path, "c.conllu", CONLLU.replace("\n", "\r\n"))
    a, b = read_corpus(path)
    assert a.words == ["I", "do", "n't", "know", "."]
    assert a.tags == ["PRON", "AUX", "PART", "VERB", "PUNCT"]
    assert (a.line, b.words, b.tags) == (4, ["Hi"], ["INTJ"])


def test_conllu_xpos_column(tmp_path):
    path = write(tmp_path, "c.conllu", CONLLU)
    assert read_corpus(path, tag_column="xpos")[0].tags == ["PRP", "VBP", "RB", "VB", "."]


def test_conllu_wrong_column_count(tmp_path):
    path = write(tmp_path, "c.conllu", "# c\n1\tI\tI\tPRON\tPRP\t_\t0\troot\t_\n")
    with pytest.raises(CorpusError, match=r"c\.conllu:2: CoNLL-U needs 10 tab-separated columns, got 9$"):
        read_corpus(path)


def test_tsv_reader_and_three_columns(tmp_path):
    path = write(tmp_path, "c.tsv", "I\tPRON\neat\tVERB\n\n\nfish\tNOUN \n")
    assert [(s.words, s.tags, s.line) for s in read_corpus(path)] == [
        (["I", "eat"], ["PRON", "VERB"], 1), (["fish"], ["NOUN"], 5)]
    bad = write(tmp_path, "bad.tsv", "I\tPRON\neat\tVERB\tx\n")
    with pytest.raises(CorpusError, match=r"bad\.tsv:2: expected word<TAB>tag, got 3 columns$"):
        read_corpus(bad)


@pytest.mark.parametrize("content, fmt", [
    ("a/B c/D\n", "slash"),
    ("# comment\n1\ta\ta\tX\tX\t_\t0\troot\t_\t_\n", "conllu"),
    ("a\tB\n\nc\tD\n", "tsv"),
])
def test_format_is_detected_from_content(tmp_path, content, fmt):
    path = write(tmp_path, "corpus.txt", content)
    assert read_corpus(path) == read_corpus(path, fmt)
    assert read_corpus(path)[0].words[0] == "a"


def test_not_utf8_names_the_line(tmp_path):
    path = write(tmp_path, "c.txt", b"a/B\nb\xff/C\n")
    with pytest.raises(CorpusError, match=r"c\.txt:2: not valid UTF-8 \(byte 0xff at column 2\)"):
        read_corpus(path)


def test_missing_empty_and_directory(tmp_path):
    with pytest.raises(CorpusError, match="no such file"):
        read_corpus(tmp_path / "nope.txt")
    with pytest.raises(CorpusError, match="is a directory"):
        read_corpus(tmp_path)
    with pytest.raises(CorpusError, match="no tagged sentence found"):
        read_corpus(write(tmp_path, "empty.txt", ""))


def test_problems_list_collects_instead_of_raising(tmp_path):
    path = write(tmp_path, "c.txt", "a/B\nbad\nc/D\n")
    problems = []
    sentences = read_corpus(path, problems=problems)
    assert [s.words for s in sentences] == [["a"], ["c"]]
    assert problems == [f"{path}:2: token 'bad' has no tag (expected word/TAG)"]


def test_sample_corpora_read():
    tutorial = read_corpus(SAMPLES / "tutorial.txt")
    assert ["I", "eat", "apple"] in [s.words for s in tutorial]
    assert len(tutorial) >= 300
    assert {t for s in tutorial for t in s.tags} <= {"nn", "v", "adj", "adv", "det", "prep", "conj", "num", "punct"}
    assert len(read_corpus(SAMPLES / "tiny.conllu")) >= 20
    assert len(read_corpus(SAMPLES / "tiny.tsv")) >= 15


words = st.text(st.characters(blacklist_categories=("Cs", "Zs", "Zl", "Zp", "Cc")), min_size=1, max_size=8)
tags = st.text(st.characters(whitelist_categories=("Lu", "Ll", "Nd")), min_size=1, max_size=5)
sentences = st.lists(st.lists(st.tuples(words, tags), min_size=1, max_size=6), min_size=1, max_size=5)


@pytest.mark.parametrize("fmt", ["slash", "tsv", "conllu"])
@settings(max_examples=examples(60), deadline=None)
@given(corpus=sentences)
def test_write_then_read_round_trips(tmp_path_factory, fmt, corpus):
    corpus = [[(w.replace("\t", "x"), t) for w, t in s] for s in corpus]
    text = "".join(format_sentence([w for w, _ in s], [t for _, t in s], fmt) for s in corpus)
    path = tmp_path_factory.mktemp("rt") / "corpus"
    path.write_text(text, encoding="utf-8")
    back = read_corpus(path, fmt)
    assert [list(zip(s.words, s.tags)) for s in back] == [[(w.strip(), t) for w, t in s] for s in corpus]
