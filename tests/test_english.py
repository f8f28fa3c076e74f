"""The bundled English model and the UD English EWT files it is built from."""

import numpy as np
import pytest

from rnncli.cli import app
from rnncli.corpus import read_corpus
from rnncli.metrics import score
from rnncli.loader import Tagger, default_model_path
from rnncli.vocab import CASES

from conftest import SAMPLES

pytestmark = pytest.mark.ewt


@pytest.fixture(scope="session")
def dev(ewt):
    return read_corpus(ewt / "en_ewt-ud-dev.conllu")


@pytest.fixture(scope="session")
def default_model():
    return Tagger.load(default_model_path())


def test_ewt_train_is_read_as_it_is(ewt):
    sentences = read_corpus(ewt / "en_ewt-ud-train.conllu")
    assert len(sentences) == 12_544 and sum(len(s.words) for s in sentences) == 204_577
    assert len({t for s in sentences for t in s.tags}) == 17
    xpos = read_corpus(ewt / "en_ewt-ud-train.conllu", tag_column="xpos")
    assert xpos[0].words == sentences[0].words and xpos[0].tags != sentences[0].tags


def test_the_bundled_model_keeps_the_words_the_recipe_keeps(ewt, default_model):
    """Its record predates --store-min-count: its vocabulary shows that it keeps what the recipe says."""
    from collections import Counter

    from rnncli.recipes import ENGLISH

    counts = Counter(w for s in read_corpus(ewt / "en_ewt-ud-train.conllu") for w in s.words)
    kept = {w for w, n in counts.items() if n >= ENGLISH.store_min_count}
    assert set(default_model.vocab.tables["word"][1:]) == kept and ENGLISH.store_min_count > 1


@pytest.mark.parametrize("case, floor", [(None, 0.957), ("lower", 0.95), ("title", 0.95)])
def test_bundled_model_tags_dev_well_in_any_case(default_model, dev, case, floor):
    words = [s.words for s in dev]
    given = words if case is None else [[CASES[case](w) for w in s] for s in words]
    report = score([s.tags for s in dev], default_model.tag(given), words, default_model.vocab.is_known)
    assert report["tokens"] == 25_147
    assert report["accuracy"] >= floor, report["accuracy"]


def test_bundled_model_is_small_and_says_where_it_came_from(default_model):
    assert default_model_path().stat().st_size <= 20 * 2**20
    record = default_model.record
    assert "CC BY-SA 4.0" in record.attribution and "EWT" in record.corpus[0]
    assert "spacy-lookups-data" in record.attribution and "MIT" in record.attribution
    assert record.training.dev_accuracy >= 0.955
    assert default_model.shape.bidirectional and default_model.vocab.slots[0] == "word"
    assert len(default_model.vocab.lexicon) > 500_000


@pytest.mark.parametrize("text, tags", [
    ("I eat apple", "PRON VERB NOUN"),
    ("The dog barks .", "DET NOUN VERB PUNCT"),
    ("Park the car .", "VERB DET NOUN PUNCT"),
    ("obama wins election", "PROPN VERB NOUN"),
    ("Park The Car", "VERB DET NOUN"),
])
def test_sentences_the_issue_names(default_model, text, tags):
    assert default_model.tag([text.split()])[0] == tags.split()


@pytest.mark.parametrize("case, floor", [(None, 0.95), ("title", 0.94)])
def test_bundled_model_tags_everyday_sentences_as_typed_and_as_headlines(default_model, case, floor):
    sentences = read_corpus(SAMPLES / "everyday.txt")  # lower case, no full stop, as people type
    words = [s.words if case is None else [CASES[case](w) for w in s.words] for s in sentences]
    report = score([s.tags for s in sentences], default_model.tag(words), words, default_model.vocab.is_known)
    assert report["tokens"] == 204 and report["accuracy"] >= floor, report["accuracy"]


def test_i_eat_apple(runner):
    r = runner.invoke(app, ["tag", "I eat apple"])
    assert (r.exit_code, r.stdout) == (0, "I/PRON eat/VERB apple/NOUN\n")


def test_pruning_nothing_changes_nothing_and_pruned_words_fall_back_to_unk(default_model):
    sentences = [["I", "eat", "apple"], ["Zebulon", "flew", "to", "Ouagadougou", "."]]
    same = default_model.pruned(np.ones(default_model.shape.n_inputs, bool))
    for a, b in zip(default_model.predict(sentences), same.predict(sentences)):
        np.testing.assert_array_equal(a, b)
    keep = np.ones(default_model.shape.n_inputs, bool)
    eat = default_model.vocab.encode("eat")[0]
    keep[eat] = False
    pruned = default_model.pruned(keep)
    assert pruned.shape.n_inputs == default_model.shape.n_inputs - 1
    assert not pruned.vocab.is_known("eat") and pruned.vocab.is_known("I")
    np.testing.assert_array_equal(pruned.params["U"][:, pruned.vocab.encode("I")[0]],
                                  default_model.params["U"][:, default_model.vocab.encode("I")[0]])


def test_the_lean_tagging_path_gives_the_full_forward_pass_tags_on_every_dev_token(default_model, dev):
    """Tagging's own way through the network (rnn.forward with keep=False: one length per batch,
    no padding, no trace) against the forward pass that training and `unroll` use, padded batches and all."""
    words = [s.words for s in dev]
    lean = default_model.predict(words)
    order = sorted(range(len(words)), key=lambda i: len(words[i]))
    tokens = 0
    for k in range(0, len(order), 64):
        batch = order[k:k + 64]
        probs = default_model.forward([words[i] for i in batch]).probs  # (T, B, n_tags)
        for j, i in enumerate(batch):
            full = probs[: len(words[i]), j]
            np.testing.assert_allclose(lean[i], full, atol=1e-5)  # float32 sums in another order
            # The same tags, but where the two best are closer than that order can tell apart.
            rows = np.arange(len(full))
            a, b = full.argmax(axis=1), lean[i].argmax(axis=1)
            assert (a == b).all() or (np.abs(full[rows, a] - full[rows, b]) < 1e-5).all(), dev[i].words
            tokens += len(words[i])
    assert tokens == 25_147
    assert [b for b, _ in default_model.best(words[:50], probs=False)] == [p.argmax(axis=1).tolist() for p in lean[:50]]
