"""What a model file keeps (--store, --store-min-count): smaller files that tag as the model trained."""

from collections import Counter
from dataclasses import fields

import numpy as np
import pytest

from rnncli.config import RESUMABLE, TrainConfig
from rnncli.corpus import read_corpus
from rnncli.record import Record
from rnncli.tagger import Tagger
from rnncli.train import train

from conftest import SAMPLES

CONFIG = TrainConfig(hidden=16, epochs=3, features="form", seed=3)


@pytest.fixture(scope="module")
def tutorial():
    return read_corpus(SAMPLES / "tutorial.txt")


@pytest.fixture(scope="module")
def trained(tutorial, tmp_path_factory):
    """The same training stored four ways: {(store, store_min_count): (tagger in memory, its file)}."""
    folder = tmp_path_factory.mktemp("stored")
    out = {}
    for store in ("float32", "float16"):
        for least in (1, 2):
            config = TrainConfig(**{**CONFIG.to_dict(), "store": store, "store_min_count": least})
            tagger = train(tutorial, None, config)
            path = folder / f"{store}-{least}.npz"
            tagger.save(path)  # as the record says
            out[store, least] = tagger, path
    return out


def test_the_options_reach_the_file_and_come_back(trained):
    for (store, least), (tagger, path) in trained.items():
        again = Tagger.load(path)
        assert again.record.stored_dtype == store
        hyper = again.record.training.hyper_parameters
        assert (hyper["store"], hyper["store_min_count"]) == (store, least)
        assert TrainConfig.from_dict(hyper) == TrainConfig.from_dict(tagger.record.training.hyper_parameters)
        with np.load(path, allow_pickle=False) as f:
            assert f["U"].dtype == np.dtype(store) and f["W"].dtype == np.dtype(store)


def test_words_seen_once_are_dropped_and_read_as_unk(trained, tutorial):
    counts = Counter(w for s in tutorial for w in s.words)
    once = sorted(w for w, n in counts.items() if n == 1)
    assert len(once) > 50
    full, pruned = Tagger.load(trained["float32", 1][1]), Tagger.load(trained["float32", 2][1])
    assert set(full.vocab.tables["word"][1:]) == set(counts)
    assert set(pruned.vocab.tables["word"][1:]) == {w for w, n in counts.items() if n >= 2}
    unk = pruned.vocab.offsets[0]
    for word in once:
        ids = pruned.vocab.encode(word)
        assert ids[0] == unk and not pruned.vocab.is_known(word)
        # its other slots (lower-cased form, affixes, shape) read as they did
        assert [pruned.vocab.describe(i) for i in ids[1:]] == [full.vocab.describe(i) for i in full.vocab.encode(word)[1:]]
    # The columns kept are the same numbers: the network is the trained one, less the rare words' columns.
    for word in ("fish", "they", "the", "<unk>"):
        np.testing.assert_array_equal(full.params["U"][:, full.vocab.encode(word)],
                                      pruned.params["U"][:, pruned.vocab.encode(word)])


def test_float16_tags_as_float32_but_for_near_ties(trained, tutorial):
    wide, half = Tagger.load(trained["float32", 1][1]), Tagger.load(trained["float16", 1][1])
    sentences = [s.words for s in tutorial[:200]]
    for p, q in zip(wide.predict(sentences), half.predict(sentences)):
        np.testing.assert_allclose(p, q, atol=2e-2)  # weights rounded to 11 significant bits
        top2 = np.sort(p, axis=1)[:, -2:]
        clear = top2[:, 1] - top2[:, 0] > 5e-2  # a tag can change only between two this close
        assert (p.argmax(1)[clear] == q.argmax(1)[clear]).all()


def test_each_option_makes_the_file_smaller(trained):
    size = {key: path.stat().st_size for key, (_, path) in trained.items()}
    assert size["float16", 1] < 0.6 * size["float32", 1]
    assert size["float32", 2] < 0.9 * size["float32", 1]
    assert size["float16", 2] < size["float16", 1] and size["float16", 2] < 0.5 * size["float32", 1]


def test_storage_does_not_change_training(trained):
    """The options choose what the file keeps: the same weights are trained whatever they say."""
    (a, _), (b, _) = trained["float32", 1], trained["float16", 1]
    for name in a.params:
        assert np.array_equal(a.params[name], b.params[name]), name


def test_a_record_without_the_options_is_a_float32_model_with_every_word(tutorial_model):
    """A model file written before the options existed loads with their defaults."""
    hyper = {k: v for k, v in CONFIG.to_dict().items() if k not in ("store", "store_min_count")}
    config = TrainConfig.from_dict(hyper)
    assert (config.store, config.store_min_count) == ("float32", 1)
    assert Record.from_json({}).stored_dtype == "float32"
    with pytest.raises(ValueError, match="stored_dtype 'int8' is neither float32 nor float16"):
        Record.from_json({"stored_dtype": "int8"})
    assert {"store", "store_min_count"} <= set(RESUMABLE) <= {f.name for f in fields(TrainConfig)}


def test_the_command_line_takes_the_options(runner, tmp_path):
    from rnncli.cli import app

    sizes = {}
    for args in ([], ["--store", "float16", "--store-min-count", "2"]):
        out = tmp_path / f"m{len(args)}.npz"
        r = runner.invoke(app, ["train", str(SAMPLES / "tutorial.txt"), "-o", str(out), "--epochs", "1", "-q", *args])
        assert r.exit_code == 0, r.stderr
        sizes[len(args)] = out.stat().st_size
    assert sizes[4] < 0.5 * sizes[0]
    assert Tagger.load(tmp_path / "m4.npz").record.stored_dtype == "float16"
    r = runner.invoke(app, ["train", str(SAMPLES / "tutorial.txt"), "--store", "float8"])
    assert r.exit_code == 2 and "float8" in r.stderr and len(r.stderr.splitlines()) == 1


def test_a_resumed_run_may_store_its_model_otherwise(tmp_path):
    """A checkpoint fixes what is trained, not what the file keeps."""
    from rnncli.train import Trainer

    saved = TrainConfig(epochs=4)
    given = Trainer(TrainConfig(store="float16", store_min_count=2), [SAMPLES / "tutorial.txt"], tmp_path / "m.npz",
                    given=["store", "store_min_count"])
    assert given._resumed_config(saved, 2) == TrainConfig(epochs=4, store="float16", store_min_count=2)
    assert Trainer(TrainConfig(store="float16"), [], tmp_path / "m.npz")._resumed_config(saved, 2) == saved
