"""Words and their form features to the indices where x_t is 1, and back.

Every token lights up one entry in each *slot*: its exact form in ``word`` (the tutorial's
one-hot), and, with the ``form`` feature set, its lower-cased form, suffixes, prefixes and
shape. Each slot has an unknown entry, ``<unk>``, at its first position: a value never
seen in training (or too rare to keep) maps there. The slots' entries are laid end to end
in one index space, the columns of U.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

import numpy as np

from .config import FEATURE_SETS

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

IDENTITY_SLOTS = ("word", "lower")  # slots that name the word itself (dropped out in training)
MAX_WORD_CHARS = 20  # the character RNN reads at most a word's last 20 letters (URLs can be long)


class Vocab:
    """The slots, their entries, and the mapping of a word to its K active indices."""

    def __init__(self, tables: dict[str, list[str]], chars: list[str] | None = None):
        if not tables:
            raise ValueError("a vocabulary needs at least one slot")
        for slot, values in tables.items():
            if slot not in EXTRACTORS:
                raise ValueError(f"unknown feature slot {slot!r}")
            if not values or values[0] != UNK:
                raise ValueError(f"slot {slot!r} must start with {UNK}")
        self.tables = tables
        self.slots = tuple(tables)
        self._extract = [EXTRACTORS[s] for s in self.slots]
        self.offsets = np.cumsum([0] + [len(v) for v in tables.values()])[:-1].tolist()
        self._index = [{v: i + off for i, v in enumerate(values)}
                       for off, values in zip(self.offsets, tables.values())]
        self._cache: dict[str, tuple[int, ...]] = {}
        if chars is not None and (not chars or chars[0] != UNK):
            raise ValueError(f"the character table must start with {UNK}")
        self.chars = chars  # letters known to the character RNN; None: the model has none
        self._char_index = {c: i for i, c in enumerate(chars or ())}

    @classmethod
    def build(cls, words: Iterable[str], feature_set: str = "word", min_count: int = 1,
              min_feature_count: int = 2, chars: bool = False) -> tuple[Vocab, np.ndarray]:
        """Entries for every value seen at least ``min_count`` times (words) or
        ``min_feature_count`` times (other slots, and letters with ``chars``).
        Also returns each entry's count (n_inputs,)."""
        slots = FEATURE_SETS[feature_set]
        word_counts = Counter(words)
        tables, counts = {}, []
        for slot in slots:
            f = EXTRACTORS[slot]
            c: Counter[str] = Counter()
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
        return cls(tables, letters), np.asarray(counts, dtype=np.int64)

    @property
    def n_chars(self) -> int:
        return len(self.chars) if self.chars else 0

    def encode_chars(self, word: str) -> np.ndarray:
        """(l,) ids of the word's last ``MAX_WORD_CHARS`` letters for the character RNN (0: unknown)."""
        get = self._char_index.get
        return np.array([get(ch, 0) for ch in word[-MAX_WORD_CHARS:]], dtype=np.int32)

    @property
    def n_inputs(self) -> int:
        return self.offsets[-1] + len(self.tables[self.slots[-1]])

    @property
    def n_slots(self) -> int:
        return len(self.slots)

    def encode(self, word: str) -> tuple[int, ...]:
        """The indices where x_t is 1 for this word, one per slot."""
        ids = self._cache.get(word)
        if ids is None:
            ids = tuple(index.get(f(word), off)
                        for f, index, off in zip(self._extract, self._index, self.offsets))
            if len(self._cache) > 200_000:  # bounded: tagging a long stream must not grow memory
                self._cache.clear()
            self._cache[word] = ids
        return ids

    def encode_sentence(self, words: list[str]) -> np.ndarray:
        """(L, K) int32 indices for a sentence."""
        encode = self.encode
        out = np.array([encode(w) for w in words], dtype=np.int32)
        return out.reshape(len(words), self.n_slots)

    def is_known(self, word: str) -> bool:
        """Whether the exact form has its own entry in the ``word`` slot."""
        return word in self._index[0] and self._index[0][word] != self.offsets[0]

    def describe(self, index: int) -> tuple[str, str]:
        """(slot, value) of a column of U."""
        slot_no = int(np.searchsorted(self.offsets, index, side="right")) - 1
        slot = self.slots[slot_no]
        return slot, self.tables[slot][index - self.offsets[slot_no]]

    def to_json(self) -> dict:
        out = {"slots": list(self.slots), "tables": self.tables}
        if self.chars is not None:
            out["chars"] = self.chars
        return out

    @classmethod
    def from_json(cls, data: dict) -> Vocab:
        chars = data.get("chars")
        return cls({slot: list(data["tables"][slot]) for slot in data["slots"]},
                   None if chars is None else [str(c) for c in chars])
