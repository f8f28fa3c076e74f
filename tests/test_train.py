"""The training loop: determinism, learning, model selection."""

import math
from pathlib import Path

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


@pytest.mark.parametrize("config", [TrainConfig(), TrainConfig(features="form", char_hidden=4)], ids=["word", "chars"])
def test_a_batch_is_the_sentences_padded_one_by_one(tutorial, config, rng):
    """Data keeps a corpus as flat arrays and gathers a batch in one step: the same arrays as
    encoding each sentence on its own and padding them with a plain loop."""
    from rnncli import rnn
    from rnncli.train import Data, build_vocab

    vocab, _, tags, _ = build_vocab(tutorial, config)
    index = {t: i for i, t in enumerate(tags[1:])}  # one tag unknown: -1
    data = Data.encode(tutorial, vocab, index)
    which = rng.choice(len(tutorial), size=40, replace=False)
    ids, lengths, gold, types = data.batch(which)
    T = max(len(tutorial[i].words) for i in which)
    assert ids.shape == (T, 40, vocab.n_slots) and ids.dtype == np.int32 and gold.dtype == np.int64
    for b, i in enumerate(which):
        words, L = tutorial[i].words, len(tutorial[i].words)
        assert lengths[b] == L
        np.testing.assert_array_equal(ids[:L, b], vocab.encode_sentence(words))
        assert gold[:L, b].tolist() == [index.get(t, -1) for t in tutorial[i].tags]
        assert not ids[L:, b].any() and not gold[L:, b].any()  # padding is 0, as rnn.pad pads
        if types is not None:
            letters = [vocab.encode_chars(w) for w in words]
            for t in range(L):
                word = types.words[t, b]
                assert types.lengths[word] == len(letters[t])
                np.testing.assert_array_equal(types.chars[:len(letters[t]), word], letters[t])
    expected, _ = rnn.pad([vocab.encode_sentence(tutorial[i].words) for i in which])
    np.testing.assert_array_equal(ids, expected)


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
    info = tagger.record.training
    accs = [h["dev_accuracy"] for h in info.history]
    assert info.best_epoch == 1 + accs.index(max(accs))
    assert info.dev_accuracy == max(accs)
    assert len(accs) == 6


def test_sgd_also_learns(tutorial):
    tagger = train(tutorial, None, TrainConfig(seed=1, optimizer="sgd", lr=0.5, epochs=15))
    assert tagger.tag([["I", "eat", "apple"]]) == [["nn", "v", "nn"]]


def test_dev_tags_never_seen_in_training_are_reported():
    train_set = [Sentence(["a", "b"], ["X", "Y"], 1)] * 5
    dev = [Sentence(["a", "c"], ["X", "Z"], 1)]
    tagger = train(train_set, dev, TrainConfig(hidden=4, epochs=1))
    assert tagger.record.training.unlearnable_dev_tags == ["Z"]
    assert tagger.record.training.dev_accuracy <= 0.5


def test_patience_stops_early(tutorial):
    dev = tutorial[:40]
    tagger = train(tutorial[40:], dev, TrainConfig(seed=1, epochs=40, patience=2, lr=0.05))
    info = tagger.record.training
    assert len(info.history) == info.best_epoch + 2 < 40


def test_adversarial_training_learns_and_is_reproducible(tutorial):
    config = TrainConfig(seed=1, adversarial=1.0, features="form", bidirectional=True, hidden=16, epochs=6,
                         dropout=0.2)
    a, b = train(tutorial, None, config), train(tutorial, None, config)
    for name in a.params:
        assert np.array_equal(a.params[name], b.params[name]), name
    assert a.tag([["I", "eat", "apple"], ["we", "fish"]]) == [["nn", "v", "nn"], ["nn", "v"]]
    assert a.record.training.hyper_parameters["adversarial"] == 1.0


def test_adversarial_step_follows_the_mean_of_the_clean_and_the_perturbed_gradients(tutorial, monkeypatch):
    from rnncli import rnn

    config = TrainConfig(seed=2, adversarial=1.0, features="form", bidirectional=True, layers=2, hidden=8,
                         epochs=2)  # no dropout: both passes see the same network
    plain = train(tutorial, None, TrainConfig(**{**config.__dict__, "adversarial": 0.0}))
    losses = []
    real_loss_and_grads = rnn.loss_and_grads

    def recording(*args, **kwargs):
        loss, grads = real_loss_and_grads(*args, **kwargs)
        losses.append((kwargs.get("perturb") is not None, loss))
        return loss, grads

    monkeypatch.setattr(rnn, "loss_and_grads", recording)
    adversarial = train(tutorial, None, config)
    # A clean and a perturbed pass for every batch of both epochs (none would pass what follows
    # vacuously), and the perturbation raises that batch's loss.
    batches = config.epochs * math.ceil(len(tutorial) / config.batch_size)
    assert len(losses) == 2 * batches > 0
    assert [p for p, _ in losses] == [False, True] * batches
    assert all(adv > clean for (_, clean), (_, adv) in zip(losses[::2], losses[1::2]))
    assert not np.array_equal(adversarial.params["W"], plain.params["W"])
    # With a zero perturbation, the mean of two equal gradients is the plain step, to the bit.
    monkeypatch.setattr(rnn, "adversarial_perturbation",
                        lambda grads, shape, lengths, eps: {k[2:]: np.zeros_like(grads.pop(k))
                                                            for k in [k for k in grads if k.startswith("Ux")]})
    zero = train(tutorial, None, config)
    for name in plain.params:
        assert np.array_equal(zero.params[name], plain.params[name]), name


def test_mean_gradients_merges_sparse_rows_by_column():
    from rnncli.rnn import SparseRows
    from rnncli.train import mean_gradients

    rng = np.random.default_rng(0)
    a = {"U": SparseRows(np.array([1, 4, 5]), rng.normal(size=(3, 2))), "W": rng.normal(size=(2, 2))}
    b = {"U": SparseRows(np.array([0, 4]), rng.normal(size=(2, 2))), "W": rng.normal(size=(2, 2))}
    same = {"U": SparseRows(a["U"].index, rng.normal(size=(3, 2))), "W": b["W"]}
    for other in (b, same):
        m = mean_gradients(a, other)
        np.testing.assert_allclose(m["U"].to_dense((2, 6)), (a["U"].to_dense((2, 6)) + other["U"].to_dense((2, 6))) / 2)
        np.testing.assert_allclose(m["W"], (a["W"] + other["W"]) / 2)
        assert np.all(np.diff(m["U"].index) > 0)  # ascending, distinct: what Adam's lazy update expects


def test_the_trainer_owns_a_run_for_a_script_as_for_the_command_line(tmp_path):
    """A script gets what `rnncli train` gets: the model file with its record, and on Ctrl-C a
    checkpoint (the error says where) that a second Trainer resumes to the same arrays."""
    from rnncli.errors import Stopped
    from rnncli.train import Trainer

    corpus = Path(__file__).resolve().parent.parent / "sample_corpora" / "tutorial.txt"
    config = TrainConfig(hidden=8, epochs=3, seed=5)
    whole = Trainer(config, [corpus], tmp_path / "whole.npz").run()
    assert whole.record.corpus == [str(corpus)] and len(whole.record.training.history) == 3

    def ctrl_c_in_epoch_two(p):
        if p.kind == "batch" and p.epoch == 1:
            raise KeyboardInterrupt

    with pytest.raises(Stopped) as e:
        Trainer(config, [corpus], tmp_path / "m.npz", callback=ctrl_c_in_epoch_two).run()
    ckpt = tmp_path / "m.ckpt.npz"
    assert e.value.status == 130 and str(e.value).startswith("interrupted in epoch 2;") and ckpt.exists()
    assert not (tmp_path / "m.npz").exists()
    resumed = Trainer(config, [corpus], tmp_path / "m.npz", resume=ckpt).run()
    for name, p in whole.params.items():
        np.testing.assert_array_equal(resumed.params[name], p)
    assert not ckpt.exists()


def test_the_model_record_round_trips_and_names_a_field_of_the_wrong_type():
    from rnncli.record import Record, Training

    record = Record(Training({"hidden": 8}, [{"epoch": 1, "loss": 0.5, "dev_accuracy": None, "seconds": 0.1}], 1,
                             None, {"NOUN": 3}, 3, ["X"], 0.5), ["a.txt"], "xpos", "data: CC BY-SA 4.0", "float16")
    assert Record.from_json(record.to_json()) == record
    assert Record.from_json({}) == Record()
    for meta, problem in [({"training": {"tokens": "many"}}, "training tokens is not a number"),
                          ({"corpus": [1]}, "corpus is not a list of file names"),
                          ({"tag_column": "lemma"}, "tag_column 'lemma' is neither upos nor xpos")]:
        with pytest.raises(ValueError, match=problem):
            Record.from_json(meta)
