"""Tests for rnncli.tokenizer: EWT-style tokenization of raw text."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnncli import tokenizer as tokmod
from rnncli.tokenizer import line_tokens

from conftest import examples


def no_space(text: str) -> str:
    return "".join(text.split())


# --- contractions and clitics ------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("I don't eat apples.", ["I", "do", "n't", "eat", "apples", "."]),
    ("can't", ["ca", "n't"]),
    ("won't", ["wo", "n't"]),
    ("shan't", ["sha", "n't"]),
    ("isn't", ["is", "n't"]),
    ("DON'T", ["DO", "N'T"]),
    ("Don’t go", ["Do", "n’t", "go"]),
    ("Don't!!!", ["Do", "n't", "!!!"]),
    ("It's", ["It", "'s"]),
    ("IT'S", ["IT", "'S"]),
    ("it’s fine", ["it", "’s", "fine"]),
    ("I'm", ["I", "'m"]),
    ("we'll", ["we", "'ll"]),
    ("they're", ["they", "'re"]),
    ("I've", ["I", "'ve"]),
    ("he'd", ["he", "'d"]),
    ("I'd've", ["I", "'d", "'ve"]),
    ("John's car", ["John", "'s", "car"]),
    ("the workers' union", ["the", "workers", "'", "union"]),
])
def test_clitics_are_split(text, expected):
    assert line_tokens(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("cannot", ["can", "not"]),
    ("Cannot", ["Can", "not"]),
    ("gonna", ["gon", "na"]),
    ("wanna", ["wan", "na"]),
    ("gotta", ["got", "ta"]),
    ("dont", ["do", "nt"]),
    ("Im tired", ["I", "m", "tired"]),
    ("thats it", ["that", "s", "it"]),
])
def test_fused_forms_split_like_ewt(text, expected):
    assert line_tokens(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("its tail", ["its", "tail"]),  # the possessive is the usual reading
    ("the 1960's", ["the", "1960's"]),  # decades keep their 's
    ("O'Connell", ["O'Connell"]),
    ("rock'n'roll", ["rock'n'roll"]),
    ("'72", ["'72"]),
    ("madont", ["madont"]),  # fused forms only as whole words
    ("cannoli", ["cannoli"]),
])
def test_apostrophes_and_lookalikes_kept(text, expected):
    assert line_tokens(text) == expected


# --- punctuation -------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ('He said: "Stop (now)!"', ["He", "said", ":", '"', "Stop", "(", "now", ")", "!", '"']),
    ("Wait... what?!", ["Wait", "...", "what", "?!"]),
    ("So…", ["So", "…"]),
    ("a -- b", ["a", "--", "b"]),
    ("a--b", ["a", "--", "b"]),
    ("[a] {b}; c,d", ["[", "a", "]", "{", "b", "}", ";", "c", ",", "d"]),
    ("“Hi,” she said.", ["“", "Hi", ",", "”", "she", "said", "."]),
    ("‘quoted’", ["‘", "quoted", "’"]),
    ("''Hello''", ["''", "Hello", "''"]),
    (":) ok", [":)", "ok"]),
    ("and/or", ["and", "/", "or"]),
    ("w/o sugar", ["w/o", "sugar"]),
])
def test_punctuation(text, expected):
    assert line_tokens(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("well-known", ["well", "-", "known"]),
    ("15-year-old", ["15", "-", "year", "-", "old"]),
    ("e-mail", ["e-mail"]),
    ("non-stop", ["non-stop"]),
    ("re-elect", ["re-elect"]),
    ("co-workers.", ["co-workers", "."]),
])
def test_hyphens_follow_ewt(text, expected):
    assert line_tokens(text) == expected


# --- abbreviations -----------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("Mr. Smith met Dr. Jones in the U.S. last week.",
     ["Mr.", "Smith", "met", "Dr.", "Jones", "in", "the", "U.S.", "last", "week", "."]),
    ("e.g. apples", ["e.g.", "apples"]),
    ("at 10 a.m. today", ["at", "10", "a.m.", "today"]),
    ("George W. Bush", ["George", "W.", "Bush"]),
    ("apples, etc. are fine", ["apples", ",", "etc.", "are", "fine"]),
    ("No. 5", ["No.", "5"]),
    ("say no.", ["say", "no", "."]),
    ("the end. Next", ["the", "end", ".", "Next"]),
])
def test_abbreviations_keep_their_period(text, expected):
    assert line_tokens(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("We left at 5 p.m.", ["We", "left", "at", "5", "p.m", "."]),
    ("apples, pears, etc.", ["apples", ",", "pears", ",", "etc", "."]),
    ("He lives in the U.S.  ", ["He", "lives", "in", "the", "U.S", "."]),
])
def test_sentence_final_abbreviation_period_is_split(text, expected):
    # EWT gives the final period to the sentence, not to the abbreviation.
    assert line_tokens(text) == expected


# --- numbers -----------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("It costs $3.50, or 1,000 yen at 10:30.",
     ["It", "costs", "$", "3.50", ",", "or", "1,000", "yen", "at", "10:30", "."]),
    ("5,000.50", ["5,000.50"]),
    ("$.04", ["$", ".04"]),
    ("50%", ["50", "%"]),
    ("call 713-853-3989", ["call", "713-853-3989"]),
    ("on 11/28/2000", ["on", "11/28/2000"]),
    ("9/11", ["9/11"]),
    ("1/2 cup", ["1", "/", "2", "cup"]),
    ("1969-1970", ["1969", "-", "1970"]),
    ("5pm", ["5", "pm"]),
    ("3.5mm", ["3.5", "mm"]),
    ("the 23rd", ["the", "23rd"]),
    ("1980s", ["1980s"]),
])
def test_numbers(text, expected):
    assert line_tokens(text) == expected


# --- URLs, e-mail and friends -----------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("See http://www.example.com/a-b?x=1.", ["See", "http://www.example.com/a-b?x=1", "."]),
    ("(www.juancole.com)", ["(", "www.juancole.com", ")"]),
    ("visit amazon.com today", ["visit", "amazon.com", "today"]),
    ("mail carol.st.clair@enron.com.", ["mail", "carol.st.clair@enron.com", "."]),
    ("<ekrapels@esaibos.com>", ["<", "ekrapels@esaibos.com", ">"]),
    ("open report_v2.doc now", ["open", "report_v2.doc", "now"]),
    ("@user and #hashtag", ["@user", "and", "#hashtag"]),
    ("AT&T", ["AT&T"]),
    ("comp.sources.unix", ["comp.sources.unix"]),
])
def test_urls_emails_names_kept_whole(text, expected):
    assert line_tokens(text) == expected


# --- blank and odd input -----------------------------------------------------

@pytest.mark.parametrize("text", ["", " ", "\t\n", "\u3000\u00a0\u2003", "\r\n  \x1c"])
def test_blank_text_gives_no_tokens(text):
    assert line_tokens(text) == []


@pytest.mark.parametrize("text, expected", [
    ("great😀", ["great", "😀"]),
    ("I ❤️ NY", ["I", "❤️", "NY"]),
    ("family 👨‍👩‍👧 ok", ["family", "👨‍👩‍👧", "ok"]),
    ("café au lait", ["café", "au", "lait"]),
    ("cafe\u0301 ok", ["cafe\u0301", "ok"]),  # combining mark stays in its word
    ("שלום עולם", ["שלום", "עולם"]),
    ("東京に行きます。", ["東京に行きます", "。"]),
    ("a\x00b\x1fc", ["a\x00b", "c"]),  # \x1f is whitespace to str.split
    ("£5", ["£", "5"]),
])
def test_unicode_passes_through(text, expected):
    assert line_tokens(text) == expected


ODD = ["\u0301", "\u200d", "\u200f", "\u202e", "\ufeff", "\x00", "\x7f", "\ud800", "😀", "🇺",
       "中", "ש", "é", "ß", "\u0345", "\u00ad", "\u2028", "\x85", "\u3000", "\u00a0"]


@pytest.mark.parametrize("text", [
    "".join(ODD),
    " ".join(ODD),
    "don\u0301't",
    "e\u0301-mail",
    "U.S.\u200f",
    "'\u0301s",
    "\ud800n't",
])
def test_odd_unicode_never_raises_and_keeps_every_character(text):
    tokens = line_tokens(text)
    assert "".join(tokens) == no_space(text)
    assert all(tok and not any(c.isspace() for c in tok) for tok in tokens)


# --- invariants over arbitrary text -----------------------------------------

# Characters the rules care about, so random strings hit the rules' edges.
RULE_CHARS = list("abcdeimnostlAZ'’`.,;:!?-/@#$%&*()[]{}\"<>=_~+^|\\0123456789 \t\n") + [
    "é", "\u0301", "😀", "\u200d", "\ufe0f", "中", "…", "“", "—", "\u00a0", "\x1c",
]
texts = st.one_of(
    st.text(),
    st.text(alphabet=st.sampled_from(RULE_CHARS), max_size=40),
    st.lists(st.sampled_from([
        "do", "n't", "can", "not", "cannot", "gonna", "I", "'m", "U.S.", "e.g.", "Mr.", "3.5",
        "1,000", "10:30", "http://x.com/a", "a@b.com", "e-mail", "15-year", "...", "--",
        ":)", "w/o", "1/2", "11/28/2000", "5pm", "'s", "’", "-", ".", ",", "?!", "😀", "中文",
        " ", " ", " ", "\t",
    ]), max_size=16).map(lambda parts: "".join(parts)),
)


@settings(max_examples=examples(400), deadline=None)
@given(texts)
def test_tokens_cover_all_non_space_characters_in_order(text):
    tokens = line_tokens(text)
    assert isinstance(tokens, list)
    assert "".join(tokens) == no_space(text)
    assert all(isinstance(tok, str) and tok for tok in tokens)
    assert not any(c.isspace() for tok in tokens for c in tok)


@settings(max_examples=examples(400), deadline=None)
@given(texts)
def test_only_the_position_of_whitespace_matters(text):
    # Leading/trailing whitespace and the kind and amount of inner whitespace
    # are irrelevant: only where the gaps are counts.
    expected = line_tokens(" ".join(text.split()))
    assert line_tokens("  \t" + text + " \n ") == expected
    assert line_tokens("\u3000\n".join(text.split())) == expected


@settings(max_examples=examples(400), deadline=None)
@given(texts)
def test_fast_path_changes_nothing(text):
    # The fast-path rules are only a speed-up: without them the result must
    # be identical.
    slow = tokmod._compile(tokmod._FUSED_RULES + tokmod._MAIN_RULES)
    assert line_tokens(text) == slow.findall(text.rstrip())


@settings(max_examples=examples(300), deadline=None)
@given(st.lists(st.one_of(st.sampled_from(sorted(tokmod._FUSED_WORDS)), st.text("aAzZqQéß", min_size=1, max_size=6),
                          st.sampled_from(["I", "eat", "apple", "DONT", "Cannot", "x.", "it's"])), max_size=8))
def test_plain_word_shortcut_changes_nothing(words):
    text = " ".join(words)
    assert line_tokens(text) == tokmod._token().findall(text.rstrip())


@pytest.mark.parametrize("unit", ["a-", "-a", "a.a-", "a#", "5_", " ", "a ", "x@"])
def test_pathological_input_keeps_every_character(unit):
    # A scan per token over the rest of the line (e.g. the e-mail rule over
    # "a-a-a-...") once made this take ~30 s; it is linear now (measured by
    # scripts/tokenizer_agreement.py, not here).
    text = unit * 20000
    assert "".join(line_tokens(text)) == no_space(text)


# --- agreement with the treebank --------------------------------------------

def read_texts_and_words(path):
    sents, text, words = [], None, []
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        if line.startswith("# text ="):
            text = line[len("# text ="):].strip()
        elif not line.strip():
            if text is not None:
                sents.append((text, words))
            text, words = None, []
        elif not line.startswith("#"):
            cols = line.split("\t")
            if "-" not in cols[0] and "." not in cols[0]:
                words.append(cols[1])
    return sents


@pytest.mark.ewt
def test_agrees_with_ewt_dev(ewt):
    sents = read_texts_and_words(ewt / "en_ewt-ud-dev.conllu")
    assert len(sents) > 1000
    exact = sum(line_tokens(text) == words for text, words in sents)
    # 96.2% when written; the rest are mostly typos EWT splits ("its" as "it s").
    assert exact / len(sents) > 0.95
