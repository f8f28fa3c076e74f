"""Tagging a stream a chunk at a time: the first-layer inputs kept from chunk to chunk
(``InputCache``) and the slash output built for a whole chunk at once give what tagging each
sentence on its own gives. Both sides are computed here, so scores are compared to the bit."""

from __future__ import annotations

import numpy as np
import pytest

from rnncli import rnn
from rnncli.stream import Chunk, ChunkTagger, tag_lines
from rnncli.tagger import Tagger
from rnncli.vocab import UNK, Vocab

WORDS = "the cat sat on a mat The Dog ran fast I eat apple they fish".split()
LINES = ["", "the cat sat on a mat", "", "", "I eat apple", "THE DOG RAN", "  ", "they fish fast",
         "The Dog Ran Fast", "a", "zebras eat apple", "the cat sat", "on a mat", "I", "fish they eat", ""]


def case_tagger(bidirectional: bool = True, seed: int = 0) -> Tagger:
    """A random network over words, two suffix slots and the sentence's case: words of a
    sentence not in mixed case reach the cache as (case, word) pairs."""
    tables = {"word": [UNK] + WORDS, "suf2": [UNK] + sorted({w.lower()[-2:] for w in WORDS}),
              "case": [UNK, "mixed", "lower", "title", "upper"]}
    vocab = Vocab(tables)
    shape = rnn.Shape(vocab.n_inputs, 8, 5, bidirectional=bidirectional)
    return Tagger(shape, rnn.init_params(shape, np.random.default_rng(seed)), vocab, ["A", "B", "C", "D", "E"])


@pytest.fixture(params=["case, bidirectional", "case, one direction", "tutorial"])
def tagger(request, tutorial_model) -> Tagger:
    if request.param == "tutorial":
        return Tagger.load(tutorial_model)
    return case_tagger(bidirectional=request.param.endswith("bidirectional"))


def sentences_of(lines: list[str]) -> list[list[str]]:
    return [line.split() for line in lines]


@pytest.mark.parametrize("cap", [3, 10_000], ids=["cap below a chunk's words", "cap above"])
def test_a_cache_across_chunks_gives_each_chunk_its_own_scores_to_the_bit(tagger, cap):
    cache = tagger.input_cache(cap)
    sizes, most = [], 0
    for start in range(0, len(LINES), 3):
        chunk = sentences_of(LINES[start:start + 3])
        with_cache = tagger.best(chunk, inputs=cache)
        alone = tagger.best(chunk)  # a cache of its own, for this call only
        assert [b for b, _ in with_cache] == [b for b, _ in alone]
        for (_, p), (_, q) in zip(with_cache, alone):
            assert np.array_equal(p, q)
        sizes.append(len(cache.rows))
        most = max(most, len({w for s in map(tagger.vocab.keyed, chunk) for w in s}))
        assert len(cache.rows) <= max(cap, most)  # bounded: more only as long as one chunk needs it
    if cap == 3:
        met = {w for s in map(tagger.vocab.keyed, sentences_of(LINES)) for w in s}
        assert max(sizes) < len(met)  # emptied and refilled: words met before were let go
    else:
        assert sizes == sorted(sizes)  # nothing forgotten: words met before are not computed again


def test_cached_inputs_are_the_words_inputs_computed_together_to_the_bit():
    tagger = case_tagger()
    cache = tagger.input_cache(100)
    keys = [w for s in map(tagger.vocab.keyed, sentences_of(LINES)) for w in s]
    for start in range(0, len(keys), 5):  # a few words at a time
        cache.rows_of(keys[start:start + 5])
    distinct = list(dict.fromkeys(keys))
    together = rnn.word_inputs(tagger.params, tagger.shape, tagger._inputs_of(distinct, None))
    rows = cache.rows_of(distinct)
    for sfx, x in together.items():
        assert np.array_equal(cache.tables[sfx][rows], x)


def test_best_flat_is_best_end_to_end(tagger):
    sentences = sentences_of(LINES)
    flat, p = tagger.best_flat(sentences, probs=True)
    per_sentence = tagger.best(sentences)
    assert flat.tolist() == [k for b, _ in per_sentence for k in b]
    assert np.array_equal(p, np.concatenate([q for _, q in per_sentence]))


@pytest.mark.parametrize("lines", [LINES, ["", ""], ["a"], ["", "", "the cat", "", "I", "", ""], []],
                         ids=["empty lines among others", "empty lines only", "one token", "runs of empty lines",
                              "no lines"])
def test_slash_output_of_a_chunk_is_each_sentence_written_alone(tagger, lines):
    text = ChunkTagger(tagger, "slash", pretokenized=True)(Chunk(lines)).text
    expected = "".join(" ".join(f"{w}/{t}" for w, t in zip(words, tags)) + "\n"
                       for words, tags in zip(sentences_of(lines), tagger.tag(sentences_of(lines))))
    assert text == expected


@pytest.mark.parametrize("fmt, top", [("slash", None), ("tsv", None), ("conllu", None), ("jsonl", None),
                                      ("jsonl", 3)])
def test_every_format_is_the_same_in_small_chunks_as_in_one(tagger, fmt, top):
    """Many chunks (the cache carried across them) or one: the same text, item by item."""
    whole = list(tag_lines(tagger, LINES, fmt, pretokenized=True, top=top))
    small = list(tag_lines(tagger, LINES, fmt, pretokenized=True, chunk_chars=8, top=top))
    assert small == whole and len(whole) == len(LINES)


@pytest.mark.parametrize("reverse", [False, True])
def test_the_recurrence_in_place_is_the_recurrence_into_another_array_to_the_bit(reverse):
    rng = np.random.default_rng(3)
    a = rng.normal(size=(5, 4, 6)).astype(np.float32)  # (T, B, H)
    W = rng.normal(size=(6, 6)).astype(np.float32)
    apart = rnn.recur(a, W, out=np.empty_like(a), reverse=reverse)
    inplace = a.copy()
    assert rnn.recur(inplace, W, out=inplace, reverse=reverse) is inplace
    assert np.array_equal(inplace, apart)
