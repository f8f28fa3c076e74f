import numpy as np

from rnncli.vocab import UNK, Vocab, word_shape


def test_word_shape():
    assert [word_shape(w) for w in ["Apple", "apple", "U.S.", "3.50", "iPhone", "e-mail", "COVID-19"]] == [
        "Xx", "x", "X.X.", "d.d", "xXx", "x-x", "X-d"]


def test_word_set_is_the_tutorial_one_hot():
    vocab, counts = Vocab.build("I eat apple I eat".split())
    assert vocab.slots == ("word",)
    assert vocab.tables["word"] == [UNK, "I", "eat", "apple"]
    assert counts.tolist() == [0, 2, 2, 1]
    assert vocab.encode_sentence(["I", "pear"]).tolist() == [[1], [0]]
    assert vocab.is_known("eat") and not vocab.is_known("pear")


def test_form_features_give_unknown_words_known_parts():
    vocab, _ = Vocab.build("walked talked walking jumped Paris".split() * 2, "form")
    ids = vocab.encode("hopped")
    named = dict(vocab.describe(i) for i in ids)
    assert named["word"] == UNK and named["lower"] == UNK
    assert named["suf2"] == "ed" and named["shape"] == "x"
    assert named["suf3"] == "ped" and named["suf4"] == UNK  # "pped" was never seen
    assert dict(vocab.describe(i) for i in vocab.encode("Berlin"))["shape"] == "Xx"
    assert len(ids) == vocab.n_slots == 10


def test_indices_are_laid_end_to_end_and_describe_inverts_them():
    vocab, counts = Vocab.build("a b a c".split(), "form", min_feature_count=1)
    assert vocab.n_inputs == len(counts) == sum(len(v) for v in vocab.tables.values())
    for i in range(vocab.n_inputs):
        slot, value = vocab.describe(i)
        k = vocab.slots.index(slot)
        assert vocab.tables[slot][i - vocab.offsets[k]] == value


def test_min_count_prunes_and_json_round_trips():
    vocab, _ = Vocab.build("x x y".split(), min_count=2)
    assert vocab.tables["word"] == [UNK, "x"]
    again = Vocab.from_json(vocab.to_json())
    assert again.tables == vocab.tables
    assert np.array_equal(again.encode_sentence(["x", "y"]), vocab.encode_sentence(["x", "y"]))
