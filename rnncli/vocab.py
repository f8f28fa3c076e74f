"""Words and their form features to the indices where x_t is 1, and back.

Every token lights up one entry in each *slot*: its exact form in ``word`` (the tutorial's
one-hot), and, with the ``form`` feature set, its lower-cased form, suffixes, prefixes and
shape; the ``lexicon`` feature set adds what an English lexicon knows of the word (its cluster
and frequency, ``lexicon.py``), from a table the vocabulary carries, and the sentence's case.
Each slot has an unknown entry, ``<unk>``, at its first position: a value never
seen in training (or too rare to keep) maps there. The slots' entries are laid end to end
in one index space, the columns of U.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable

import numpy as np

from .config import FEATURE_SETS, LEXICON_SLOTS, RECASINGS
from .lexicon import Lexicon, capitalised

UNK = "<unk>"

_SHAPE_CLASSES = [(re.compile(r"[A-Z]+"), "X"), (re.compile(r"[a-z]+"), "x"), (re.compile(r"[0-9]+"), "d")]


def word_shape(word: str) -> str:
    """Letters and digits collapsed into runs: 'Apple' -> 'Xx', 'U.S.' -> 'X.X.', '3.50' -> 'd.d'."""
    for pattern, cls in _SHAPE_CLASSES:
        word = pattern.sub(cls, word)
    # Long shapes (mixed runs, symbols, other scripts) are cut to 4 characters so the slot stays small.
    return word if len(word) <= 4 else word[:4]


def _suffix(n):
    return lambda w: w.lower()[-n:]


def _prefix(n):
    return lambda w: w.lower()[:n]


EXTRACTORS = {
    "word": lambda w: w,
    "lower": str.lower,
    "suf1": _suffix(1), "suf2": _suffix(2), "suf3": _suffix(3), "suf4": _suffix(4),
    "pre1": _prefix(1), "pre2": _prefix(2), "pre3": _prefix(3),
    "shape": word_shape,
}

CASE_SLOT = "case"  # the sentence's case, the same for all its words (``sentence_case``)
IDENTITY_SLOTS = ("word", "lower")  # slots that name the word itself (dropped out in training)
# Text in another case than it was written in: all lower-case (chat, queries), Every Word
# Capitalised (headlines, titles). Training can add sentences so recased (--recase); eval
# can score a corpus so recased (--case).
CASES = dict(zip(RECASINGS, (str.lower, capitalised)))  # each case's function, in RECASINGS' order
MIXED = "mixed"


def recased(sentences: list[list[str]], case: str) -> list[list[str]]:
    """The sentences' words in another case: 'lower' or 'title' (``CASES``)."""
    f = CASES[case]
    return [[f(w) for w in words] for words in sentences]


def sentence_case(words: list[str]) -> str:
    """How a sentence is written: 'lower' (no capital letter), 'upper' (no small letter), 'title'
    (no word starts with a small letter) or 'mixed' (text as usually written). A word alone
    cannot say it: 'apple' is a common noun in "I eat apple" and may be a name in "i love apple"."""
    if len(words) > 1 and words[0][:1].isupper() and words[1][:1].islower():
        return MIXED  # most sentences: a capital, then a word in small letters
    joined = "".join(words)
    if joined.islower():
        return "lower"
    if joined.isupper():
        return "upper"
    # A normal sentence stops at its 2nd word; one without letters says nothing of case.
    if any(w[:1].islower() for w in words) or joined == joined.lower():
        return MIXED
    return "title"


def keyed(words: list[str]) -> list:
    """A sentence's words as the vocabulary of a model with the case slot reads them: each word
    with its sentence's case, as a (case, word) pair, except in a mixed-case sentence, where a
    word is itself (most text: no pairs to make)."""
    case = sentence_case(words)
    return words if case == MIXED else [(case, w) for w in words]


def needs_lexicon(slots) -> bool:
    """Whether any of these slots reads the lexicon."""
    return any(s in LEXICON_SLOTS for s in slots)


def _split(key) -> tuple[str, str]:
    """(sentence case, word) of a key made by ``keyed``: a plain word is one of a mixed-case
    sentence. The word is read in Unicode's composed form (``composed``)."""
    case, word = key if isinstance(key, tuple) else (MIXED, key)
    return case, composed(word)


def composed(word: str) -> str:
    """The word in Unicode's composed form (NFC), as the model reads it: "café" typed as "cafe"
    and a combining accent (as some keyboards, file systems and PDFs give it) is the same café."""
    return word if word.isascii() else unicodedata.normalize("NFC", word)

# What joins or modifies pictographs into one (a family, the flag of a region, a coloured
# variant): zero-width joiner, variation selectors, the combining keycap, tag characters. A
# keycap itself (1️⃣) holds a digit, and so is no pictograph.
_PICTOGRAPH_PARTS = frozenset("\u200d\ufe0e\ufe0f\u20e3") | frozenset(map(chr, range(0xE0020, 0xE0080)))
# How a pictograph the model has no entry for is read: the emoticon English treebanks have
# (UD English EWT tags it SYM, as UD tags emoji), not an unknown word left to guess from context.
EMOTICON = ":)"


def pictographic(word: str) -> bool:
    """Whether a token is pictographs alone: emoji (with skin tones, joiners, flags), and other
    symbols such as ©, ° and ♥ (Unicode's "other symbol"), but not ASCII such as ':)' or '$'."""
    if word.isascii():
        return False
    seen = False
    for ch in word:
        category = unicodedata.category(ch)
        if category == "So":
            seen = True
        elif category != "Sk" and ch not in _PICTOGRAPH_PARTS:
            return False
    return seen


MAX_WORD_CHARS = 20  # the character RNN reads at most a word's last 20 letters (URLs can be long)


class Vocab:
    """The slots, their entries, and the mapping of a word to its K active indices."""

    def __init__(self, tables: dict[str, list[str]], chars: list[str] | None = None,
                 lexicon: Lexicon | None = None, case_blind: bool = False):
        if not tables:
            raise ValueError("a vocabulary needs at least one slot")
        for slot, values in tables.items():
            if slot not in EXTRACTORS and slot not in LEXICON_SLOTS and slot != CASE_SLOT:
                raise ValueError(f"unknown feature slot {slot!r}")
            if not values or values[0] != UNK:
                raise ValueError(f"slot {slot!r} must start with {UNK}")
        self.tables = tables
        self.slots = tuple(tables)
        if lexicon is None and needs_lexicon(self.slots):
            raise ValueError("lexicon slots need a lexicon")
        self.lexicon = lexicon if needs_lexicon(self.slots) else None
        # Each slot's extractor: a function of the word, the position of its value in the lexicon's
        # values, or None for the sentence's case.
        self._extract = [EXTRACTORS[s] if s in EXTRACTORS else None if s == CASE_SLOT else LEXICON_SLOTS.index(s)
                         for s in self.slots]
        self.by_case = CASE_SLOT in self.slots  # words are read with their sentence's case (``keyed``)
        # The lexicon reads a word of a sentence all in one case case-blind (``Lexicon.values``).
        self.case_blind = bool(case_blind) and self.by_case and self.lexicon is not None
        self.offsets = np.cumsum([0] + [len(v) for v in tables.values()])[:-1].tolist()
        self._index = [dict(zip(values, range(off, off + len(values))))  # built in C: at start-up
                       for off, values in zip(self.offsets, tables.values())]
        self._cache: dict[str, tuple[int, ...]] = {}
        if chars is not None and (not chars or chars[0] != UNK):
            raise ValueError(f"the character table must start with {UNK}")
        self.chars = chars  # letters known to the character RNN; None: the model has none
        self._char_index = {c: i for i, c in enumerate(chars or ())}

    @classmethod
    def build(cls, words: Iterable[str], feature_set: str = "word", min_count: int = 1,
              min_feature_count: int = 2, chars: bool = False,
              lexicon: Lexicon | None = None, case_blind: bool = False) -> tuple[Vocab, np.ndarray]:
        """Entries for every value seen at least ``min_count`` times (words) or
        ``min_feature_count`` times (other slots, and letters with ``chars``).
        Also returns each entry's count (n_inputs,). The lexicon slots need ``lexicon``; the case
        slot needs the words ``keyed`` by sentence (a plain word counts as one of a mixed-case one)."""
        slots = FEATURE_SETS[feature_set]
        key_counts = Counter(words)
        word_counts = Counter()
        for key, n in key_counts.items():
            word_counts[_split(key)[1]] += n
        if needs_lexicon(slots) and lexicon is None:
            raise ValueError(f"the {feature_set!r} features need a lexicon")
        blind = case_blind and CASE_SLOT in slots
        keys = list(key_counts)
        looked_up = dict(zip(keys, lexicon.values_of([_split(k)[1] for k in keys],
                                                     [blind and _split(k)[0] != MIXED for k in keys]))) \
            if lexicon is not None else {}
        tables, counts = {}, []
        for slot in slots:
            c: Counter[str] = Counter()
            if slot == CASE_SLOT:
                for key, n in key_counts.items():
                    c[_split(key)[0]] += n
            elif slot in LEXICON_SLOTS:
                k = LEXICON_SLOTS.index(slot)
                for key, n in key_counts.items():
                    c[looked_up[key][k]] += n
                c.pop(None, None)  # no value: the slot's <unk>
            else:
                f = EXTRACTORS[slot]
                for w, n in word_counts.items():
                    c[f(w)] += n
            floor = min_count if slot == "word" else min_feature_count
            kept = sorted((v for v, n in c.items() if n >= floor and v != UNK), key=lambda v: (-c[v], v))
            tables[slot] = [UNK] + kept
            counts += [sum(n for v, n in c.items() if n < floor)] + [c[v] for v in kept]
        letters = None
        if chars:
            c = Counter()
            for w, n in word_counts.items():
                for ch in w[-MAX_WORD_CHARS:]:
                    c[ch] += n
            letters = [UNK] + sorted((ch for ch, n in c.items() if n >= min_feature_count), key=lambda ch: (-c[ch], ch))
        return cls(tables, letters, lexicon, case_blind), np.asarray(counts, dtype=np.int64)

    @property
    def n_chars(self) -> int:
        return len(self.chars) if self.chars else 0

    def encode_chars(self, word) -> np.ndarray:
        """(l,) ids of the word's last ``MAX_WORD_CHARS`` letters for the character RNN (0: unknown)."""
        get = self._char_index.get
        return np.array([get(ch, 0) for ch in self._read(word)[1][-MAX_WORD_CHARS:]], dtype=np.int32)

    @property
    def n_inputs(self) -> int:
        return self.offsets[-1] + len(self.tables[self.slots[-1]])

    @property
    def n_slots(self) -> int:
        return len(self.slots)

    def encode(self, key) -> tuple[int, ...]:
        """The indices where x_t is 1 for this word, one per slot. ``key``: the word, or with the
        case slot a (sentence case, word) pair (``keyed``)."""
        ids = self._cache.get(key)
        return self._encode(key, None) if ids is None else ids

    def encode_all(self, keys: list) -> list[tuple[int, ...]]:
        """``encode`` of many keys; the lexicon looks up the new ones together."""
        cache = self._cache
        if self.lexicon is not None:
            new = [k for k in keys if k not in cache]
            if new:
                split = [self._read(k) for k in new]
                blind = [self.case_blind and case != MIXED for case, _ in split]
                for key, read, known in zip(new, split, self.lexicon.values_of([w for _, w in split], blind)):
                    self._encode(key, known, read)
        return [cache.get(k) or self.encode(k) for k in keys]  # get: unless the cache was just cleared

    def _read(self, key) -> tuple[str, str]:
        """(sentence case, word) as this model reads a key (``_split``): a pictograph it has no
        entry for is read as ``EMOTICON``, one it has (trained on text with emoji) as itself."""
        case, word = _split(key)
        if word not in self._index[0] and pictographic(word):
            return case, EMOTICON
        return case, word

    def _encode(self, key, known: tuple | None, read: tuple[str, str] | None = None) -> tuple[int, ...]:
        case, word = self._read(key) if read is None else read
        if known is None:
            known = self.lexicon.values(word, self.case_blind and case != MIXED) if self.lexicon is not None else ()
        ids = tuple(index.get(case if f is None else known[f] if isinstance(f, int) else f(word), off)
                    for f, index, off in zip(self._extract, self._index, self.offsets))
        if len(self._cache) > 200_000:  # bounded: tagging a long stream must not grow memory
            self._cache.clear()
        self._cache[key] = ids
        return ids

    def keyed(self, words: list[str]) -> list:
        """A sentence's words as ``encode`` takes them: with their sentence's case if the model has the case slot."""
        return keyed(words) if self.by_case else words

    def encode_sentence(self, words: list[str]) -> np.ndarray:
        """(L, K) int32 indices for a sentence."""
        encode = self.encode
        out = np.array([encode(w) for w in self.keyed(words)], dtype=np.int32)
        return out.reshape(len(words), self.n_slots)

    def is_known(self, word: str) -> bool:
        """Whether the exact form has its own entry in the ``word`` slot."""
        word = composed(word)
        return word in self._index[0] and self._index[0][word] != self.offsets[0]

    def describe(self, index: int) -> tuple[str, str]:
        """(slot, value) of a column of U."""
        slot_no = int(np.searchsorted(self.offsets, index, side="right")) - 1
        slot = self.slots[slot_no]
        return slot, self.tables[slot][index - self.offsets[slot_no]]

    def to_json(self) -> dict:
        """The vocabulary as JSON; a lexicon's table goes with the arrays (``lexicon.arrays()``),
        its size and source here."""
        out = {"slots": list(self.slots), "tables": self.tables}
        if self.chars is not None:
            out["chars"] = self.chars
        if self.lexicon is not None:
            out["lexicon"] = self.lexicon.to_json()
        if self.case_blind:
            out["case_blind"] = True
        return out

    @classmethod
    def from_json(cls, data: dict, lexicon: Lexicon | None = None) -> Vocab:
        chars = data.get("chars")
        return cls({slot: list(data["tables"][slot]) for slot in data["slots"]},
                   None if chars is None else [str(c) for c in chars], lexicon, data.get("case_blind") is True)
