"""What a large English corpus knows of word forms, as more 0/1 slots of x_t.

A treebank of 200,000 tokens cannot say what a word it never saw is. The English tables of
spacy-lookups-data (MIT licence) can, for about a million word forms: a Brown-cluster path
(words used in alike contexts share a long prefix of it) and a log probability, case by case
(``Apple`` and ``apple`` each have their own). Six slots read them, for any word:

- ``cluster4``, ``cluster6``, ``cluster10``, ``cluster20``: the first 4, 6, 10 and 20 steps of
  the word's cluster path ("0101" starts the paths of eat, see, take and make).
- ``logp``: the word's log probability, rounded (how common it is).
- ``caps``: how much more often the word is written capitalised than in lower case, the
  rounded difference of the two log probabilities, whatever case the word is written in, so
  that ``obama`` is a name and a sentence-initial ``Park`` a common word.

A word's entry is its form as written, else the more probable of its lower-case form and that
capitalised (``LONDON`` reads ``London``).
The model file carries the table, in four arrays read as they are (no parsing at start-up):

==================  =============  ==========================================================
``lexicon_keys``    uint32 (N,)    the forms' fingerprints, ascending (the CRC-32 of the UTF-8
                                   form, as ``zlib.crc32`` computes it)
``lexicon_logp``    int8 (N,)      log probability times 4, rounded
``lexicon_cluster`` uint16 (N,)    the form's cluster: an index into ``lexicon_paths``, 0 for none
``lexicon_paths``   uint32 (C,)    cluster paths, the first step in the lowest bit (0 first)
==================  =============  ==========================================================

Forms are found by fingerprint, so a form outside the table matches an entry with a chance of
N / 2**32 (about 1 in 8,000 with the bundled model's 536,878 entries; a word looks up two or
three forms, so a word none of whose forms is in the table gets another's entry about once in
3,800); two forms of the table that share a fingerprint keep the more frequent one's entry.
"""

from __future__ import annotations

import zlib

import numpy as np

from .config import LEXICON_SLOTS as SLOTS
from .config import WORD_CLASSES
from .errors import ModelFileError, RnncliError

PREFIXES = (4, 6, 10, 20)  # steps of the cluster path in the cluster slots
ARRAYS = {"lexicon_keys": np.uint32, "lexicon_logp": np.int8, "lexicon_cluster": np.uint16,
          "lexicon_paths": np.uint32}
SCALE = 4  # log probabilities are stored in quarters
MAX_CAPS = 6  # the caps slot's values run from -6 to +6
SOURCE = ("spacy-lookups-data {version} (MIT licence, Explosion): en_lexeme_cluster (Brown clusters) "
          "and en_lexeme_prob (log probabilities)")
LEMMA_SOURCE = ("; en_lemma_index, en_lemma_exc and en_lemma_rules (from WordNet 3.0, WordNet 3.0 "
                "Copyright 2006 by Princeton University, WordNet licence)")
LEMMA_ARRAYS = {"lexicon_lemma_keys": np.uint32, "lexicon_lemma_class": np.uint8}
ALL_ARRAYS = (*ARRAYS, *LEMMA_ARRAYS)  # every array a model file's lexicon may have
MIN_LOGP = -19.0  # the bundled table keeps forms at least this probable (about 540,000)


_NONE = (None,) * len(SLOTS)
_NO_CLASS = (None,) * len(WORD_CLASSES)


def fingerprint(form: str) -> int:
    """A form's key in the table: 32 bits that tell forms apart, fast (a quarter of BLAKE2b's time)."""
    return zlib.crc32(form.encode("utf-8", "surrogatepass"))


def capitalised(word: str) -> str:
    """The first letter in capitals, the rest as it is: 'apple' -> 'Apple', 'iPhone' -> 'IPhone'."""
    return word[:1].upper() + word[1:]


class Lemmas:
    """What WordNet says a lower-cased form can be, in the slots noun, verb, adj and adv: a bit
    per word class for a lemma (``base``) and one for an irregular form (``irr``, *swam*, *geese*),
    keyed by fingerprint; and the regular suffix rules (class, suffix, replacement), by which
    *barks* is ``-s`` in the noun and verb slots because *bark* is a noun and a verb lemma."""

    def __init__(self, keys: np.ndarray, classes: np.ndarray, rules: list[tuple[int, str, str]]):
        self.keys, self.classes, self.rules = keys, classes, [tuple(r) for r in rules]
        by_suffix: dict[str, list[tuple[int, str, str]]] = {}
        for c, suffix, replacement in self.rules:
            label = f"-{suffix}" + (f"+{replacement}" if replacement else "")
            by_suffix.setdefault(suffix, []).append((c, replacement, label))
        self._by_suffix = by_suffix
        self._lengths = sorted({len(x) for x in by_suffix}, reverse=True)  # the longest suffix first

    def bits(self, forms: list[str]) -> np.ndarray:
        """(n,) each form's bits: 1 << c for a lemma of class c, 16 << c for an irregular form."""
        if not len(self.keys):
            return np.zeros(len(forms), np.int64)
        i = found(self.keys, forms)
        return np.where(i >= 0, self.classes[i], 0).astype(np.int64)

    def values_of(self, lower: list[str]) -> list[tuple[str | None, ...]]:
        """Each lower-cased word's value in the slots of ``WORD_CLASSES``: ``base``, ``irr``,
        ``base+irr``, the first rule (longest suffix first) whose stem is a lemma of the class,
        or None."""
        stems, whose = [], []
        by_suffix = self._by_suffix
        for i, w in enumerate(lower):
            for k in self._lengths:
                for c, replacement, label in by_suffix.get(w[-k:], ()) if len(w) > k else ():
                    stems.append(w[:-k] + replacement)
                    whose.append((i, c, label))
        bits = self.bits(lower + stems)
        own, stem_bits = bits[:len(lower)].tolist(), bits[len(lower):].tolist()
        out = [[_OWN.get((b >> c) & 17) for c in range(len(WORD_CLASSES))] for b in own]
        for (i, c, label), b in zip(whose, stem_bits):
            if b & (1 << c) and out[i][c] is None:
                out[i][c] = label
        return [tuple(v) for v in out]


_OWN = {1: "base", 16: "irr", 17: "base+irr"}  # a word's own bits of class c, shifted down by c


def found(keys: np.ndarray, forms: list[str]) -> np.ndarray:
    """(n,) where each form's fingerprint is among ``keys`` (ascending, not empty), -1 where not."""
    h = np.fromiter(map(fingerprint, forms), np.uint32, count=len(forms))
    i = np.searchsorted(keys, h) % len(keys)
    return np.where(keys[i] == h, i, -1)


class Lexicon:
    """The table, and each word's values in the slots of ``SLOTS``."""

    def __init__(self, keys: np.ndarray, logp: np.ndarray, cluster: np.ndarray, paths: np.ndarray,
                 source: str = "", lemmas: Lemmas | None = None):
        self.keys, self.logp, self.cluster, self.paths = keys, logp, cluster, paths
        self.source = source
        self.lemmas = lemmas
        self._oov = int(logp.min()) - SCALE if len(logp) else -20 * SCALE  # a form not in the table: rarer than all
        self._step_cache: dict[int, tuple] = {}

    @classmethod
    def empty(cls) -> Lexicon:
        return cls(*(np.zeros(0, dtype) for dtype in ARRAYS.values()))

    def __len__(self) -> int:
        return len(self.keys)

    # -- a word's values ------------------------------------------------------------------

    def values(self, word: str, blind: bool = False) -> tuple[str | None, ...]:
        """The word's value in each of ``SLOTS`` (None: it has none, the slot's <unk>). The
        entry is the form's as written, else the more probable of its lower-case and capitalised
        forms; ``blind`` (a word of a sentence all in one case, whose case says nothing of the
        word) takes the more probable of those two first, so that *Park* in "Park The Car" reads
        *park*, and *obama* in "obama wins" reads *Obama*."""
        return self.values_of([word], [blind])[0]

    def values_of(self, words: list[str], blind: list[bool] | None = None) -> list[tuple[str | None, ...]]:
        """``values`` of many words, looked up together; ``blind``: each word's, default False."""
        n = len(words)
        lower = [w.lower() for w in words]
        classes = self.lemmas.values_of(lower) if self.lemmas is not None else [_NO_CLASS] * n
        if not len(self.keys):
            return [_NONE[:-len(_NO_CLASS)] + v for v in classes]
        own, low, cap = found(self.keys, words + lower + [capitalised(w) for w in lower]).reshape(3, n)

        def logp(i):  # a form's log probability (in quarters); no entry (-1): rarer than all
            return np.where(i >= 0, self.logp[np.maximum(i, 0)].astype(np.int64), self._oov)

        p_low, p_cap = logp(low), logp(cap)
        likelier = np.where(p_low >= p_cap, low, cap)  # -1 if neither form is in the table
        own_first = np.ones(n, bool) if blind is None else ~np.asarray(blind, bool) | (likelier < 0)
        entry = np.where((own >= 0) & own_first, own, likelier)
        buckets = np.round(logp(entry) / SCALE).astype(np.int64).tolist()
        caps = np.clip(np.round((p_cap - p_low) / SCALE), -MAX_CAPS, MAX_CAPS).astype(np.int64).tolist()
        out = []
        for e, c, b, k, v in zip(entry.tolist(), self.cluster[np.maximum(entry, 0)].tolist(), buckets, caps, classes):
            out.append(_NONE[:-len(v)] + v if e < 0 else (*self._steps(c), str(b), f"{k:+d}" if k else "0", *v))
        return out

    def _steps(self, c: int) -> tuple[str | None, ...]:
        """The cluster slots' values for the path numbered ``c``: its first steps as 0s and 1s."""
        steps = self._step_cache.get(c)
        if steps is None:
            path = int(self.paths[c])
            steps = tuple(format(path & ((1 << k) - 1), f"0{k}b")[::-1] if path else None for k in PREFIXES)
            self._step_cache[c] = steps
        return steps

    # -- files ----------------------------------------------------------------------------

    def arrays(self) -> dict[str, np.ndarray]:
        out = {"lexicon_keys": self.keys, "lexicon_logp": self.logp, "lexicon_cluster": self.cluster,
               "lexicon_paths": self.paths}
        if self.lemmas is not None:
            out.update(lexicon_lemma_keys=self.lemmas.keys, lexicon_lemma_class=self.lemmas.classes)
        return out

    def to_json(self) -> dict:
        out = {"entries": len(self.keys), "paths": len(self.paths), "source": self.source}
        if self.lemmas is not None:
            out.update(lemmas=len(self.lemmas.keys), rules=[list(r) for r in self.lemmas.rules])
        return out

    @staticmethod
    def shapes(meta: dict) -> dict[str, tuple[int, ...]]:
        """The arrays a model file's ``vocab.lexicon`` metadata announces, with their shapes."""
        n, c, m = meta["entries"], meta["paths"], meta.get("lemmas", 0)
        if not all(isinstance(x, int) and not isinstance(x, bool) and 0 <= x < 2**32 for x in (n, c, m)):
            raise ValueError("lexicon sizes must be whole numbers")
        lemmas = {"lexicon_lemma_keys": (m,), "lexicon_lemma_class": (m,)} if "lemmas" in meta else {}
        return {"lexicon_keys": (n,), "lexicon_logp": (n,), "lexicon_cluster": (n,), "lexicon_paths": (c,), **lemmas}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], meta: dict, label: str, ordered: bool = True) -> Lexicon:
        """The table in a model file's arrays, checked (``ModelFileError`` naming ``label``);
        with ``ordered=False`` but for the order of its keys, left to ``check_order`` (a table
        mapped from the file, whose pages are read as lookups need them)."""
        dtypes = {**ARRAYS, **LEMMA_ARRAYS}
        for name, dims in cls.shapes(meta).items():
            a = arrays[name]
            if a.dtype.newbyteorder("=") != np.dtype(dtypes[name]) or a.shape != dims:
                raise ModelFileError(f"{label}: array {name} is {a.dtype} {a.shape}, not "
                                     f"{np.dtype(dtypes[name])} {dims}")
        keys, cluster, paths = arrays["lexicon_keys"], arrays["lexicon_cluster"], arrays["lexicon_paths"]
        if ordered and not _ascending(keys):
            raise ModelFileError(_disordered(label))
        if len(cluster) and (not len(paths) or int(cluster.max()) >= len(paths)):
            raise ModelFileError(f"{label}: the lexicon names a cluster it does not have")
        source = meta.get("source", "")
        return cls(*(np.ascontiguousarray(arrays[name], ARRAYS[name]) for name in ARRAYS),
                   source=source if isinstance(source, str) else "",
                   lemmas=_lemmas_from(arrays, meta, label) if "lemmas" in meta else None)

    def check_order(self, label: str) -> None:
        """The keys in ascending order, as the binary search needs (``ModelFileError`` naming ``label``)."""
        if not _ascending(self.keys):
            raise ModelFileError(_disordered(label))

    @classmethod
    def build(cls, clusters: dict[str, int], probs: dict[str, float], min_logp: float = MIN_LOGP,
              source: str = "", lemmas: Lemmas | None = None) -> Lexicon:
        """The table of the forms at least ``min_logp`` probable (``probs``: form -> natural log
        probability; ``clusters``: form -> cluster path, first step in the lowest bit, 0 for none)."""
        forms = sorted((f for f, p in probs.items() if p >= min_logp), key=lambda f: (-probs[f], f))
        keys = np.array([fingerprint(f) for f in forms], dtype=np.uint32)
        # Most probable first, so that of forms sharing a fingerprint the most probable is kept.
        keys, first = np.unique(keys, return_index=True)
        kept = [forms[i] for i in first]
        paths = sorted({clusters.get(f, 0) for f in kept} | {0})
        path_index = {p: i for i, p in enumerate(paths)}
        logp = np.array([round(SCALE * probs[f]) for f in kept], dtype=np.int64)
        return cls(keys, np.clip(logp, -128, 127).astype(np.int8),
                   np.array([path_index[clusters.get(f, 0)] for f in kept], dtype=np.uint16),
                   np.array(paths, dtype=np.uint32), source, lemmas)


def _ascending(keys: np.ndarray) -> bool:
    return len(keys) < 2 or bool((keys[1:] > keys[:-1]).all())


def _disordered(label: str) -> str:
    return f"{label}: the lexicon's keys are not in ascending order"


def _lemmas_from(arrays: dict[str, np.ndarray], meta: dict, label: str) -> Lemmas:
    """The lemma table of a model file's lexicon, checked."""
    keys = np.ascontiguousarray(arrays["lexicon_lemma_keys"], np.uint32)
    classes = np.ascontiguousarray(arrays["lexicon_lemma_class"], np.uint8)
    if not _ascending(keys):
        raise ModelFileError(f"{label}: the lexicon's lemma keys are not in ascending order")
    rules = meta.get("rules")
    if not isinstance(rules, list) or not all(
            isinstance(r, list) and len(r) == 3 and r[0] in range(len(WORD_CLASSES)) and not isinstance(r[0], bool)
            and isinstance(r[1], str) and r[1] and isinstance(r[2], str) for r in rules):
        raise ModelFileError(f"{label}: damaged metadata (the lexicon's suffix rules)")
    return Lemmas(keys, classes, rules)


def build_lemmas(index: dict[str, list[str]], exceptions: dict[str, dict[str, list[str]]],
                 rules: dict[str, list[list[str]]]) -> Lemmas:
    """The lemma table of spaCy's lemmatiser tables: ``index`` (class -> its lemmas),
    ``exceptions`` (class -> irregular form -> lemmas) and ``rules`` (class -> [suffix,
    replacement] pairs), for the classes of ``WORD_CLASSES`` (others are left out, as are
    multi-word lemmas and rules that remove nothing)."""
    bits: dict[str, int] = {}
    for c, name in enumerate(WORD_CLASSES):
        for lemma in index.get(name, ()):
            if "_" not in lemma and " " not in lemma:
                bits[lemma.lower()] = bits.get(lemma.lower(), 0) | 1 << c
        for form in exceptions.get(name, {}):
            bits[form.lower()] = bits.get(form.lower(), 0) | 16 << c
    forms = sorted(bits)
    keys = np.array([fingerprint(f) for f in forms], dtype=np.uint32)
    keys, first = np.unique(keys, return_index=True)  # of forms sharing a fingerprint, the first in order
    classes = np.array([bits[forms[i]] for i in first], dtype=np.uint8)
    kept = [(c, suffix, replacement) for c, name in enumerate(WORD_CLASSES)
            for suffix, replacement in rules.get(name, ()) if suffix]
    return Lemmas(keys, classes, kept)


def english(min_logp: float = MIN_LOGP) -> Lexicon:
    """The English table, read from the installed spacy-lookups-data (a build dependency: the
    model file carries what it needs)."""
    try:  # an optional dependency, and only building a model's lexicon reads it
        import spacy_lookups_data
        from importlib.metadata import version
    except ImportError:
        raise RnncliError("the 'lexicon' features read spacy-lookups-data, which is not installed: "
                          "pip install 'rnncli[lexicon]'") from None
    # Only building a model's lexicon reads the tables: `rnncli tag` starts without these.
    import gzip
    import json
    from importlib import resources

    folder = resources.files(spacy_lookups_data) / "data"

    def read(name: str) -> dict:
        with (folder / f"en_{name}.json.gz").open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as f:
            return json.load(f)

    lemmas = build_lemmas(read("lemma_index"), read("lemma_exc"), read("lemma_rules"))
    return Lexicon.build(read("lexeme_cluster"), read("lexeme_prob"), min_logp,
                         SOURCE.format(version=version("spacy-lookups-data")) + LEMMA_SOURCE, lemmas)
