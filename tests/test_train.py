"""The training loop: determinism, learning, model selection."""

import numpy as np
import pytest

from rnncli.corpus import Sentence, read_corpus
from rnncli.train import TrainConfig, train

from conftest import SAMPLES


@pytest.fixture(scope="module")
def tutorial():
    return read_corpus(SAMPLES / "tutorial.txt")


def test_same_seed_same_arrays_to_the_bit(tutorial):
    config = TrainConfig(hidden=16, epochs=2, seed=7, dropout=0.2, features="form", bidirectional=True)
    a, b = train(tutorial, None, config), train(tutorial, None, config)
    c = train(tutorial, None, TrainConfig(hidden=16, epochs=2, seed=8, dropout=0.2, features="form", bidirectional=True))
    assert a.params.keys() == b.params.keys()
    for name in a.params:
        assert np.array_equal(a.params[name], b.params[name]), name
    assert not np.array_equal(a.params["W"], c.params["W"])


def test_tutorial_corpus_learns_that_the_previous_word_matters(tutorial):
    tagger = train(tutorial, None, TrainConfig(seed=1))
    assert tagger.tag([["I", "eat", "apple"], ["we", "fish"], ["I", "like", "fish"]]) == [
        ["nn", "v", "nn"], ["nn", "v"], ["nn", "v", "nn"]]


def test_unknown_entry_is_trained(tutorial):
    with_dropout = train(tutorial, None, TrainConfig(seed=1))
    without = train(tutorial, None, TrainConfig(seed=1, word_dropout=0.0))
    unk = with_dropout.vocab.offsets[0]
    # Without word dropout the <unk> column never gets a gradient and keeps its initial value.
    fresh = train(tutorial, None, TrainConfig(seed=1, epochs=1, word_dropout=0.0, lr=1e-12))
    np.testing.assert_allclose(without.params["U"][:, unk], fresh.params["U"][:, unk], atol=1e-9)
    assert not np.allclose(with_dropout.params["U"][:, unk], fresh.params["U"][:, unk], atol=1e-3)
    # ...and with it, an unseen word after "I" is taken for a verb, as rare words there are.
    assert with_dropout.tag([["I", "blorp", "apple"]])[0][1] == "v"


def test_best_epoch_by_dev_accuracy_is_kept(tutorial):
    dev = tutorial[:60]
    tagger = train(tutorial[60:], dev, TrainConfig(seed=3, epochs=6, lr=0.05))
    info = tagger.info["training"]
    accs = [h["dev_accuracy"] for h in info["history"]]
    assert info["best_epoch"] == 1 + accs.index(max(accs))
    assert info["dev_accuracy"] == max(accs)
    assert len(accs) == 6


def test_sgd_also_learns(tutorial):
    tagger = train(tutorial, None, TrainConfig(seed=1, optimizer="sgd", lr=0.5, epochs=15))
    assert tagger.tag([["I", "eat", "apple"]]) == [["nn", "v", "nn"]]


def test_dev_tags_never_seen_in_training_are_reported():
    train_set = [Sentence(["a", "b"], ["X", "Y"], 1)] * 5
    dev = [Sentence(["a", "c"], ["X", "Z"], 1)]
    tagger = train(train_set, dev, TrainConfig(hidden=4, epochs=1))
    assert tagger.info["training"]["unlearnable_dev_tags"] == ["Z"]
    assert tagger.info["training"]["dev_accuracy"] <= 0.5


def test_patience_stops_early(tutorial):
    dev = tutorial[:40]
    tagger = train(tutorial[40:], dev, TrainConfig(seed=1, epochs=40, patience=2, lr=0.05))
    info = tagger.info["training"]
    assert len(info["history"]) == info["best_epoch"] + 2 < 40
