"""Split raw English text into UD English EWT tokens, with where each one stands.

The tagger is trained on the syntactic words of UD English EWT, so raw input
has to be cut the same way before tagging.  ``line_tokens`` does it for one
line with a single precompiled regular expression (``re.findall``);
``tokenize`` gives the same tokens of every line of a text as ``Token``s, with
their character offsets.  The rules were derived from
the EWT training split and follow the treebank where it is consistent:

* Whitespace separates tokens and is dropped.  Every other character ends up
  in exactly one token, in order, for any input whatsoever:
  ``"".join(line_tokens(t)) == "".join(t.split())``.  Letters of any script,
  digits and combining marks form words; emoji, symbols and punctuation that no
  rule knows become one-character tokens.  Blank text gives ``[]``.
* Clitics are split off: ``n't`` (``don't`` -> ``do n't``, ``can't`` ->
  ``ca n't``, ``won't`` -> ``wo n't``, ``shan't`` -> ``sha n't``) and
  ``'s 'm 'd 'll 're 've``, with straight, curly or backtick apostrophes, in
  any case (``DON'T`` -> ``DO N'T``).  Decades keep their ``'s`` (``1960's``).
* Fused forms that EWT splits although there is no apostrophe: ``cannot`` ->
  ``can not``, ``gonna`` -> ``gon na``, ``wanna`` -> ``wan na``, ``gotta`` ->
  ``got ta``, ``alot`` -> ``a lot``, ``dont`` -> ``do nt``, ``im`` -> ``i m``,
  ``youre`` -> ``you re``, ``thats`` -> ``that s`` ...  Not ``its``: in EWT it
  is three times more often the possessive than "it is".
* Punctuation is split from words: ``. , ; : ! ? " ( ) [ ] { }``, quotes,
  dashes, slashes, ``$ % # & *`` ...  Runs stay one token (``...``, ``--``,
  ``!!!``, ``?!``, ``.?``, ``<<``, ``->``, lines of ``=`` or ``_``), as do
  quotes written as two apostrophes or two backticks, and emoticons (``:)``).
* Kept whole: numbers (``3.5``, ``1,000``, ``10:30``, ``.04``), dates
  (``11/28/2000``, ``9/11``; fractions such as ``1/2`` are split), phone
  numbers (``713-853-3989``), ordinals and decades (``23rd``, ``1970s``).  A
  unit written against a number is split off (``5pm`` -> ``5 pm``).
* Kept whole with their period: abbreviations from a list (``Mr. Dr. St.
  etc. vs. Inc. Sept.`` ...), capital initials (``W.``) and letter-period
  sequences (``U.S.``, ``e.g.``, ``a.m.``).  At the very end of the text EWT
  splits that period off, as it also ends the sentence (``p.m.`` -> ``p.m .``).
* Kept whole: URLs, e-mail addresses, domain and file names, @handles,
  #hashtags, dotted names (``comp.sources.unix``), ``AT&T``, names with an
  inner apostrophe (``O'Connell``), ``w/o``-style abbreviations.
* Hyphens: EWT splits hyphenated compounds (``15-year`` -> ``15 - year``,
  ``well-known`` -> ``well - known``) except after common bound prefixes
  (``e-mail``, ``non-stop``, ``re-elect``, ``co-worker``, ``anti-war`` ...).

Not handled (about 4% of EWT sentences differ): typos that EWT annotates as
two words (``its`` meaning "it's", ``cockerspaniel``, possessives without
apostrophe such as ``McDonalds``) and cases the treebank itself treats both
ways (``Tuesday's`` is sometimes one token, ``c/o`` is split but ``w/o`` not).
"""
from __future__ import annotations

import functools
import re
from typing import NamedTuple

__all__ = ["Token", "tokenize", "line_tokens"]


class Token(NamedTuple):
    """A token of a text and where it stands in it: ``text[token.start:token.end] ==
    token.text``, offsets counted in characters as Python indexes a ``str``.

    From ``Tagger.tag_text`` it also carries its ``tag`` and that tag's probability ``prob``
    (o_t of the tag), and with ``top=K`` the K most probable ``(tag, probability)`` pairs,
    best first; from ``tokenize`` these are None.
    """

    text: str
    start: int
    end: int
    tag: str | None = None
    prob: float | None = None
    top: tuple[tuple[str, float], ...] | None = None

# Characters that never belong to an ordinary word.  Everything else
# (letters of any script, digits, combining marks, format and control
# characters ...) counts as word material: unknown scripts stay whole words.
_P = (
    r"""!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~"""
    # Latin-1 punctuation and symbols, general punctuation (quotes, dashes,
    # bullets), currency, arrows/maths/box drawing/shapes/dingbats, CJK
    # punctuation and emoji: separate tokens, never glued to a word.
    "\u00a1-\u00a9\u00ab\u00ae\u00b0\u00b1\u00b6\u00b7\u00bb\u00bf\u00d7\u00f7"
    "\u2010-\u2027\u2030-\u205e\u20a0-\u20cf\u2122\u2190-\u2bff\u3000-\u3003"
    "\u3008-\u3011\uff01-\uff0f\U0001f000-\U0001faff"
)
_W = rf"[^\s{_P}]"
_NW = rf"(?!{_W})"  # not followed by a word character
_APOS = "['’`]"
# EWT puts a sentence-final abbreviation's period in its own token, because
# that period also ends the sentence.
_NOT_END = r"(?!\s*$)"

_ABBREV_LIST = """
    Mr Mrs Ms Messrs Dr Drs Prof St Sts Jr Sr Gen Lt Col Maj Capt Sgt Pvt Cmdr
    Adm Gov Sen Rep Reps Rev Hon Pres Supt Inc Co Corp Ltd Bros Assn Dept Univ
    Jan Feb Mar Apr Jun Jul Aug Sep Sept Oct Nov Dec Mon Tue Tues Wed Thu Thur
    Thurs Fri Sat Sun Ft Mt Ave Blvd Rd Hwy Vol Fig Ph Sec Conf Attn Ext Tel Fax
    approx dept est ext fig vol vs etc al cf eg ie esp lb lbs oz yrs hrs mins sec
    pp Calif Colo Conn Fla Ga Ill La Md Mass Mich Minn Pa Tenn Tex Va Wash Wis
    """.split()
# Capitalised ones also in capitals ("LTD.", "INC."); longest first so that
# e.g. "Mrs" is not cut short by "Mr".
_ABBREV = "|".join(
    sorted(
        {*_ABBREV_LIST, *(a.upper() for a in _ABBREV_LIST if a[0].isupper())},
        key=lambda a: (-len(a), a),
    )
)
# Bound prefixes after which EWT keeps the hyphenated word in one token.
_PREFIXES = tuple(
    """
    e non mid anti re pre post pro multi over co ex sub semi neo cross counter
    socio intra inter micro vice arch un bi tri mis psycho ultra mega mini
    """.split()
)
# Units that EWT separates from a number written against it ("5pm", "65k").
_UNIT = (
    r"(?:[aApP]\.?[mM]\.?|[kKmMbB]|mm|MM|kg|lbs?|ft|cm|km|mi|oz|hrs?|mins?|secs?"
    r"|g|mg|ml|[gGmMkKtT][bB]|mph|[hH]z|HZ|bn|[cCfF]|p|x|sq)"
)
_NUM = r"(?:\d+(?:[.,:]\d+)*|\.\d+)"
_FILE_EXT = (
    r"(?:[dD][oO][cC][xX]?|[xX][lL][sS][xX]?|[pP][pP][tT][xX]?|[pP][dD][fF]"
    r"|[tT][xX][tT]|[rR][tT][fF]|[hH][tT][mM][lL]?|[jJ][pP][eE]?[gG]|[gG][iI][fF]"
    r"|[pP][nN][gG]|[mM][pP][34]|[zZ][iI][pP]|[eE][xX][eE]|[cC][sS][vV])"
)
_TLD = r"(?i:com|org|net|edu|gov|mil|int|info|biz|uk|ca|au|de|fr|us|io|tv)"
# host-name style: up to 63 characters per label, a few labels
_LABELS = r"[\w-]{0,62}(?:\.[\w-]{1,63}){0,8}"
_EMAIL = rf"\w[\w.%+-]{{0,63}}@\w{_LABELS}"
_URL_TAIL = r"[^\s<>\"\[\]]*[^\s<>\"\[\].,;:!?'’)]"


def _ci(word: str) -> str:
    # Spelled-out case-insensitivity ("[cC][aA][nN]") rather than (?i:...):
    # re skips a branch cheaply only when it begins with a plain character
    # set, and this pattern is tried at every token.
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c) for c in word)


# Fused forms EWT splits although written without apostrophe: stem -> rests.
_FUSED = {
    "can": ["not"], "gon": ["na"], "wan": ["na"], "got": ["ta"], "out": ["ta"], "a": ["lot"],
}
for _stem in "do does did is are was were have has had could would should ai ca wo".split():
    _FUSED[_stem] = ["nt"]
_FUSED.update({"i": ["m", "ve"], "you": ["re", "ve", "ll"], "they": ["re", "ve", "ll"]})
for _stem in "that what there here he she let".split():
    _FUSED[_stem] = ["s"]


def _fused_rule() -> str:
    # One alternative dispatching on the first letter: as 30-odd separate
    # alternatives these stems cost more than all the rest of the pattern.
    tails: dict[str, list[str]] = {}
    for stem, rests in _FUSED.items():
        rest = "|".join(_ci(r) for r in rests)
        # The look-behind makes sure the stem starts a word; it comes last as
        # it is rarely reached.
        tails.setdefault(stem[0], []).append(
            rf"{_ci(stem[1:])}(?=(?:{rest}){_NW})(?<!\w.{{{len(stem)}}})"
        )
    return "|".join(rf"{_ci(c)}(?:{'|'.join(t)})" for c, t in tails.items())


# Fused forms: only the stem is matched here, the rest comes out as a word.
# They go first because the fast path below would take "dont" whole.
_FUSED_RULES = [f"(?:{_fused_rule()})"]

# Fast path for the bulk of the text (95% of EWT tokens): an ASCII word, a
# number or a lone punctuation mark followed by a space or other harmless
# context.  _MAIN_RULES would tokenize these the same, so they only save time
# (about 5x); tests check the result is the same with and without them.
_FAST_RULES = [
    r"[A-Za-z]+(?=[\s,;!?()\"\]}]|[.:]?\s*$|:\s)",
    rf"[A-Za-z]+(?={_APOS}(?:[sSmMdD]|ll|LL|re|RE|ve|VE){_NW})",
    r"\d+(?=[\s;!?)\"\]}]|[.,:]?\s*$|[.,:]\s)",
    r"[.,;:()\"!?'&-](?=\s|$)",
    # the same clitic rules as below, early because they are frequent
    rf"[nN]{_APOS}[tT]{_NW}",
    rf"{_APOS}(?:[sSmMdD]|ll|LL|re|RE|ve|VE){_NW}",
]

# Tried in order at every token start; the first that matches wins.
_MAIN_RULES = [
    # --- URLs, e-mail, domains, file names: one token whatever they contain
    rf"[hH][tT][tT][pP][sS]?://{_URL_TAIL}",
    rf"[fF][tT][pP]://{_URL_TAIL}",
    rf"[wW][wW][wW]\d?\.{_URL_TAIL}",
    # (Bounded repeats: these are tried at every word, and an unbounded scan
    # over e.g. "a-a-a-a..." would make tokenizing quadratic.)
    rf"[mM]ailto:{_EMAIL}",
    _EMAIL,
    rf"\w{_LABELS}\.{_TLD}(?:/{_URL_TAIL})?(?![\w-]|\.\w)",
    rf"[\w#~%!$&+=-]{{0,100}}\w\.{_FILE_EXT}(?!\w)",
    rf"\.{_FILE_EXT}(?!\w)",  # extension cut off by a bracket: "(name).doc"
    rf"@[A-Za-z_]{_LABELS}",  # @handles, @domain.com
    r"#[A-Za-z]\w*",  # hashtags (but "#1" is "# 1")
    # --- abbreviations (the period stays unless the text ends there)
    rf"(?:[A-Za-z]\.){{2,}}(?!\w){_NOT_END}",
    r"(?:[A-Za-z]\.)+[A-Za-z](?!\w)",
    rf"(?:{_ABBREV})\.(?!\.){_NOT_END}",  # also when glued to the next word
    rf"[A-Z]\.(?![\w.]){_NOT_END}",  # initials: "George W. Bush"
    r"No\.(?=\s*\d)",  # "No. 5" but not "say no."
    # --- numbers
    r"\+\d+(?!\w)",  # international dialling prefix "+44"
    r"\d+(?:-\d+){2,}(?!\w)",  # 713-853-3989, 11-20-2000
    r"(?!\d{4}-\d{4})\d{1,5}(?:/\d{1,4})?-\d{4}(?!\w)",  # 345-9945, not 1969-1970
    r"\d{1,4}/\d{1,2}/\d{2,4}(?!\w)",  # dates
    # m/d dates stay whole but fractions like 1/2 are split in EWT
    r"(?!\d/\d(?!\d))(?:0?[1-9]|1[0-2])/(?:0?[1-9]|[12]\d|3[01])(?!\w)",
    rf"{_NUM}(?={_UNIT}(?!\w))",
    rf"{_NUM}(?:{_APOS}s{_NW}|{_W}*)",  # 3.5, 1970s, 60's, 23rd, 3143C
    rf"{_APOS}\d\d(?!\w)",  # '72 for 1972
    # --- clitics
    rf"[nN]{_APOS}[tT]{_NW}",
    rf"{_APOS}(?:[sSmMdD]|ll|LL|re|RE|ve|VE){_NW}",
    rf"{_W}+?(?=[nN]{_APOS}[tT]{_NW})",
    # --- punctuation that EWT keeps as one token
    r"''|``|‘‘|’’|‘’|“”",
    r"[:;=][-o^']?[()DPpO3/\\|\]\[*](?!\w)|\([:;]|\^_+\^|<3",  # :) ;-) ^_^
    r"[.…]{2,}|[.,:;]?[!?]+[.!?]*",
    r"(?!<>)[-=_*~+#<>/\\|^]{2,}|\${2,}",  # --, <<, ->, ====, |-----+---->, $$$
    # an emoji keeps its variation selector, skin tone and ZWJ-joined parts;
    # a flag is a pair of regional indicators
    r"[\U0001f1e6-\U0001f1ff]{2}|[\u2190-\u2bff\U0001f000-\U0001faff]"
    r"(?:[\ufe0e\ufe0f\U0001f3fb-\U0001f3ff]|\u200d[\u2190-\u2bff\U0001f000-\U0001faff])*",
    # w/, w/o, b/c, l/c (but "f/b/o" and "and/or" are split)
    r"(?<![\w/])[A-Za-z]/(?:[A-Za-z](?![\w/])|out(?!\w)|(?![A-Za-z]/))",
    # --- hyphenated words after a bound prefix ("e-mail", "non-stop")
    *(rf"{_ci(p[0])}(?<!\w.){_ci(p[1:])}-{_W}+" for p in _PREFIXES),
    # --- words; inner underscores, dots, apostrophes (not clitics), & and *
    rf"{_W}+(?:(?:_+|\.|&|\*+){_W}+"
    rf"|{_APOS}(?!(?:[sSmMdDtT]|ll|LL|re|RE|ve|VE){_NW}){_W}+)*",
    # --- anything else (punctuation, symbols) is a token of its own
    r"\S",
]


def _compile(rules: list[str]) -> re.Pattern:
    # The leading \s* eats the whitespace before a token in one step;
    # otherwise findall would try (and fail) every rule at every space.  It
    # never has to give whitespace back: some rule matches any non-space.
    return re.compile(r"\s*(" + "|".join(rules) + ")")


# A plain ASCII word is one token unless it is one of these fused forms.
_FUSED_WORDS = frozenset(stem + rest for stem, rests in _FUSED.items() for rest in rests)


@functools.cache
def _token() -> re.Pattern:
    # Compiled on first use: it takes tens of milliseconds, which a short
    # command line of plain words ("I eat apple") does not need to pay.
    return _compile(_FUSED_RULES + _FAST_RULES + _MAIN_RULES)


def _plain(chunk: str) -> bool:
    return chunk.isascii() and chunk.isalpha() and chunk.lower() not in _FUSED_WORDS


def line_tokens(text: str) -> list[str]:
    """Return the EWT-style tokens of one line of raw text (``[]`` if blank)."""
    chunks = text.split()
    if all(map(_plain, chunks)):
        return chunks  # no rule splits a plain word: the pattern would give the same
    # rstrip: trailing spaces would make findall rescan them from every
    # position (quadratic); no rule depends on them.
    return _token().findall(text.rstrip())


def line_spans(text: str, pretokenized: bool = False) -> list[tuple[int, int]]:
    """(start, end) in ``text`` of each of its tokens: those of ``line_tokens``, or with
    ``pretokenized`` those of ``text.split()``."""
    if pretokenized or all(map(_plain, text.split())):
        return [m.span() for m in _NOT_SPACE.finditer(text)]
    return [m.span(1) for m in _token().finditer(text.rstrip())]


_NOT_SPACE = re.compile(r"\S+")  # str.split's words: both take white space as str.isspace does


def tokenize(text: str, pretokenized: bool = False) -> list[list[Token]]:
    """The tokens of each line of ``text``, as ``rnncli tag`` cuts them (a line is a sentence;
    lines end at "\\n", and a "\\r" before it is no part of the line), with their offsets in
    ``text``: ``[[Token('I', 0, 1), Token('do', 2, 4), Token("n't", 4, 7)]]`` for "I don't".
    ``pretokenized``: split on white space only, as ``--pretokenized`` does. A byte-order mark
    that starts the text (a file read with encoding="utf-8") is no part of the first token."""
    if not isinstance(text, str):
        raise TypeError(f"tokenize() takes a str; got {type(text).__name__} (bytes: decode them first)")
    out, at = [], 0
    for line in text.split("\n"):
        skip = 1 if at == 0 and line.startswith("\ufeff") else 0  # offsets stay those of ``text``
        out.append([Token(line[skip + s:skip + e], at + skip + s, at + skip + e)
                    for s, e in line_spans(line[skip:].removesuffix("\r"), pretokenized)])
        at += len(line) + 1
    if text.endswith("\n"):  # a line ending ends a line; it does not begin another
        out.pop()
    return out
