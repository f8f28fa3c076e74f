"""Model files: round trip, atomic writes, refusal of anything that is not a sound model."""

import json
import os

import numpy as np
import pytest

from rnncli import modelfile
from rnncli.errors import ModelFileError
from rnncli.tagger import Tagger

SENTENCES = [["I", "eat", "apple"], ["they", "fish", "in", "the", "river"], ["zzz", "unknown"]]


def test_round_trip_gives_identical_predictions(tutorial_model, tmp_path):
    tagger = Tagger.load(tutorial_model)
    again_path = tmp_path / "again.npz"
    tagger.save(again_path)
    again = Tagger.load(again_path)
    for a, b in zip(tagger.predict(SENTENCES), again.predict(SENTENCES)):
        np.testing.assert_array_equal(a, b)
    assert again.tags == tagger.tags and again.record == tagger.record
    assert again.vocab.tables == tagger.vocab.tables


def test_file_opens_without_rnncli_and_without_pickle(tutorial_model):
    with np.load(tutorial_model, allow_pickle=False) as f:
        meta = json.loads(f["metadata"].tobytes())
        assert f["U"].shape == (meta["shape"]["n_hidden"], meta["shape"]["n_inputs"])
        assert set(f.files) == {"U", "W", "b", "V", "c", "metadata"}
    assert meta["format"] == "rnncli-model" and meta["format_version"] == modelfile.FORMAT_VERSION


def test_float16_storage_halves_the_arrays_and_loads_as_float32(tutorial_model, tmp_path):
    tagger = Tagger.load(tutorial_model)
    small = tmp_path / "half.npz"
    tagger.save(small, dtype=np.float16)
    half = Tagger.load(small)
    # The lookup table stays float16 in memory (its columns are summed in float32); the rest is float32.
    assert half.params["U"].dtype == np.float16 and half.params["U"].flags.f_contiguous
    assert all(p.dtype == np.float32 for name, p in half.params.items() if name != "U")
    assert half.forward([["I", "eat", "apple"]]).probs.dtype == np.float32
    assert half.record.stored_dtype == "float16"
    assert half.tag(SENTENCES) == tagger.tag(SENTENCES)


def test_write_replaces_atomically_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "m.npz"
    modelfile.save(path, {"a": np.ones(3)}, {"x": 1})
    modelfile.save(path, {"a": np.zeros(3)}, {"x": 2})
    arrays, meta = modelfile.load(path)
    assert meta["x"] == 2 and not arrays["a"].any()
    assert os.listdir(tmp_path) == ["m.npz"]


def test_failed_write_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    modelfile.save(path, {"a": np.ones(3)}, {"x": 1})
    before = path.read_bytes()

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", broken)
    with pytest.raises(ModelFileError, match="disk full; the previous file, if any, is unchanged"):
        modelfile.save(path, {"a": np.zeros(3)}, {"x": 2})
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.npz"]


@pytest.mark.parametrize("array", ["U", "extra"])
def test_object_arrays_are_refused_not_unpickled(tutorial_model, tmp_path, array):
    """An array of Python objects where the model's U belongs is refused; one that the metadata
    never names is not even read."""
    arrays, meta = modelfile.load(tutorial_model)
    path = tmp_path / "evil.npz"

    class Boom:
        def __reduce__(self):
            return (os.system, ("touch " + str(tmp_path / "pwned"),))

    arrays[array] = np.array([Boom()], dtype=object)
    np.savez(path, metadata=np.frombuffer(json.dumps(meta).encode(), np.uint8), **arrays)
    if array == "U":
        with pytest.raises(ModelFileError, match="holds Python objects, which are never loaded"):
            Tagger.load(path)
    else:
        assert Tagger.load(path).tag([["I", "eat", "apple"]]) == Tagger.load(tutorial_model).tag([["I", "eat", "apple"]])
    assert not (tmp_path / "pwned").exists()


def test_newer_format_version_is_refused(tmp_path):
    path = tmp_path / "new.npz"
    np.savez(path, metadata=np.frombuffer(b'{"format":"rnncli-model","format_version":99}', np.uint8))
    with pytest.raises(ModelFileError, match="model format version 99 is newer than this rnncli reads"):
        modelfile.load(path)


def test_misshapen_array_is_refused(tutorial_model, tmp_path):
    arrays, meta = modelfile.load(tutorial_model)
    arrays["W"] = arrays["W"][:, :-1]
    path = tmp_path / "bad.npz"
    modelfile.save(path, arrays, meta)
    with pytest.raises(ModelFileError, match=r"array W has shape \(64, 63\), metadata says \(64, 64\)"):
        Tagger.load(path)


@pytest.mark.parametrize("layers", [5, 10**9])
def test_a_file_declaring_more_layers_than_rnncli_trains_is_refused_at_once(tutorial_model, tmp_path, layers):
    """Each layer names its arrays: a billion layers would be a billion names to look for."""
    arrays, meta = modelfile.load(tutorial_model)
    meta["shape"]["n_layers"] = layers
    path = tmp_path / "deep.npz"
    modelfile.save(path, arrays, meta)
    with pytest.raises(ModelFileError, match=f"n_layers must be at most 4, not {layers}"):
        Tagger.load(path)


def test_a_list_of_missing_arrays_is_cut_short(tutorial_model, tmp_path):
    arrays, meta = modelfile.load(tutorial_model)
    meta["shape"]["n_layers"], meta["shape"]["bidirectional"] = 4, True
    path = tmp_path / "deep.npz"
    modelfile.save(path, arrays, meta)
    with pytest.raises(ModelFileError, match=r"missing array\(s\) (\w+, ){7}\w+ and \d+ more$"):
        Tagger.load(path)


@pytest.mark.parametrize("content", [b"", b"not a zip file at all", b"PK\x03\x04broken"])
def test_garbage_is_refused(tmp_path, content):
    path = tmp_path / "g.npz"
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match="g.npz: "):
        Tagger.load(path)


def test_widening_a_float16_table_changes_no_prediction_bit(tutorial_model, tmp_path):
    Tagger.load(tutorial_model).save(tmp_path / "half.npz", dtype=np.float16)
    half = Tagger.load(tmp_path / "half.npz")
    before = half.predict(SENTENCES)
    half.widen_lookups()  # what tagging a large input does
    assert half.params["U"].dtype == np.float32 and half.params["U"].flags.f_contiguous
    for a, b in zip(before, half.predict(SENTENCES)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("field, value", [("loss", float("nan")), ("dev_accuracy", float("inf"))])
def test_a_record_with_numbers_that_are_not_finite_is_damaged(tutorial_model, tmp_path, field, value):
    """Training stops on a loss that is no number, so no record holds one; a file that does
    was made elsewhere, and its card could not be printed as JSON."""
    arrays, meta = modelfile.load(tutorial_model)
    meta["training"]["history"][0][field] = value
    path = tmp_path / "odd.npz"
    modelfile.save(path, arrays, meta)
    with pytest.raises(ModelFileError, match=r"damaged metadata \(ValueError: training history is not a list of "):
        Tagger.load(path)
