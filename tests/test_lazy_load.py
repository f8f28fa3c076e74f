"""Large arrays mapped from the model file, not read (``modelfile.load_mapped``): the same
numbers and tags as when read, and nothing the loader used to check is lost, only checked when
the array is read whole (``Tagger.verify``, ``widen_lookups``) or when the outputs show it.

The tutorial-size models here hold tables of kilobytes: the ``mapped`` fixture lowers the size
from which an array is mapped, so that theirs are. Both sides of every comparison of numbers are
computed here, from the same bytes of one file, so they are compared to the bit.
"""

import copy
import json
import pickle
import struct
import zipfile

import numpy as np
import pytest

from rnncli import modelfile
from rnncli.cli import app
from rnncli.corpus import read_corpus
from rnncli.errors import ModelFileError
from rnncli.lexicon import Lexicon
from rnncli.loader import bundled_model_path
from rnncli.tagger import LARGE_INPUT, Tagger, content, from_content
from rnncli.train import TrainConfig, train

from conftest import SAMPLES, damaged, one_line_error

SENTENCES = [["I", "eat", "apple"], ["they", "fish"], ["I", "like", "the", "fish", "they", "eat"]]
NOT_EAT = [["they", "fish"], ["I", "like", "apple"]]


@pytest.fixture
def mapped(monkeypatch):
    """Every array of ``tagger.MAPPED`` mapped, however small."""
    monkeypatch.setattr(modelfile, "MAP_MIN_BYTES", 1)


def read_whole(path, monkeypatch) -> Tagger:
    """The tagger as the loader read every array before arrays were mapped."""
    with monkeypatch.context() as m:
        m.setattr(modelfile, "MAP_MIN_BYTES", 1 << 62)
        tagger = Tagger.load(path)
    assert tagger.unverified is None
    return tagger


def refusal(load) -> str:
    with pytest.raises(ModelFileError) as e:
        load()
    return str(e.value)


def write(path, arrays: dict, meta: dict, compressed: bool = False):
    """A model file written as NumPy writes it, whatever it holds (rnncli's own writer refuses NaN)."""
    text = json.dumps(meta).encode()
    (np.savez_compressed if compressed else np.savez)(path, metadata=np.frombuffer(text, np.uint8), **arrays)
    return path


def spoiled(model, path, key: str, where, value, dtype=None):
    """The model file with ``arrays[key][where] = value`` (a NaN, an infinity), its checksums right."""
    arrays, meta = modelfile.load(model)
    arrays = {k: np.array(a, dtype=dtype if k == key and dtype else a.dtype, order="K") for k, a in arrays.items()}
    arrays[key][where] = value
    return write(path, arrays, meta)


def data_offset(path, key: str) -> int:
    """Where member ``key``'s array data begins in the file: past the zip's local header and the .npy header."""
    with zipfile.ZipFile(path) as z:
        info = z.getinfo(key + ".npy")
    raw = path.read_bytes()
    n_name, n_extra = struct.unpack("<HH", raw[info.header_offset + 26:info.header_offset + 30])
    begin = info.header_offset + 30 + n_name + n_extra
    assert raw[begin:begin + 6] == b"\x93NUMPY"
    if raw[begin + 6] == 1:
        return begin + 10 + int.from_bytes(raw[begin + 8:begin + 10], "little")
    return begin + 12 + int.from_bytes(raw[begin + 8:begin + 12], "little")


def flipped(model, path, key: str, byte: int):
    """The model file with one bit of array ``key``'s data flipped (its checksum now wrong)."""
    raw = bytearray(model.read_bytes())
    raw[data_offset(model, key) + byte] ^= 1  # the lowest bit of a float's mantissa: still finite
    path.write_bytes(bytes(raw))
    return path


# -- the same numbers, the same tags ---------------------------------------------------------------

def test_a_mapped_table_equals_the_one_read_and_is_read_only(tutorial_model, mapped, monkeypatch):
    lazy, whole = Tagger.load(tutorial_model), read_whole(tutorial_model, monkeypatch)
    assert lazy.unverified.keys() == ["U"]
    assert not lazy.params["U"].flags.writeable and lazy.params["U"].flags.f_contiguous
    assert whole.params["U"].flags.writeable
    for name, a in whole.params.items():
        np.testing.assert_array_equal(lazy.params[name], a)
        assert lazy.params[name].dtype == a.dtype
    assert lazy.params["W"].flags.writeable  # only what ``MAPPED`` names is mapped


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_tags_and_probabilities_are_the_same_mapped_or_read(tutorial_model, tmp_path, mapped, monkeypatch, dtype):
    path = tmp_path / "m.npz"
    Tagger.load(tutorial_model).save(path, dtype=dtype)
    lazy, whole = Tagger.load(path), read_whole(path, monkeypatch)
    assert lazy.params["U"].dtype == dtype and "U" in lazy.unverified
    assert lazy.tag(SENTENCES) == whole.tag(SENTENCES)
    for a, b in zip(lazy.predict(SENTENCES), whole.predict(SENTENCES)):
        np.testing.assert_array_equal(a, b)
    mapped_u = lazy.params["U"]
    lazy.widen_lookups()
    assert lazy.unverified.keys() == [] and lazy.params["U"].dtype == np.float32
    np.testing.assert_array_equal(mapped_u, whole.params["U"])  # its pages released, read again when used
    for a, b in zip(lazy.predict(SENTENCES), whole.predict(SENTENCES)):
        np.testing.assert_array_equal(a, b)


def test_the_bundled_model_maps_its_tables_and_tags_as_when_read(monkeypatch):
    path = bundled_model_path("default")
    if not path.exists():
        pytest.skip("the bundled model is not built")
    lazy = Tagger.load(path)  # the size from which an array is mapped as it is
    assert set(lazy.unverified.keys()) == {"U", "U_bwd", "lexicon_keys"}
    assert not lazy.vocab.lexicon.keys.flags.writeable
    whole = read_whole(path, monkeypatch)
    sentences = [["I", "eat", "apple"], "The quick brown fox jumps over the lazy dog .".split()]
    assert lazy.tag(sentences) == whole.tag(sentences)
    for a, b in zip(lazy.predict(sentences), whole.predict(sentences)):
        np.testing.assert_array_equal(a, b)
    lazy.verify()
    assert not lazy.unverified


# -- what the loader checked is checked when the array is read ---------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_a_nan_in_a_column_a_sentence_uses_is_reported_naming_the_table(tutorial_model, tmp_path, mapped,
                                                                       monkeypatch, runner, dtype):
    probe = Tagger.load(tutorial_model)
    path = spoiled(tutorial_model, tmp_path / "nan.npz", "U", (5, probe.vocab.encode("eat")[0]), np.nan, dtype)
    message = f"{path}: array U holds NaN or infinite values"
    assert refusal(lambda: read_whole(path, monkeypatch)) == message  # what the loader said when it read U
    tagger = Tagger.load(path)
    assert len(tagger.tag(NOT_EAT)) == 2  # the column no word of these looks up: not read, not refused
    assert refusal(lambda: tagger.tag([["I", "eat", "apple"]])) == message
    assert one_line_error(runner.invoke(app, ["tag", "--model", str(path), "I eat apple"])) == f"rnncli: error: {message}\n"


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_verify_and_widen_lookups_find_nan_or_infinity_in_any_column(tutorial_model, tmp_path, mapped, runner, value):
    path = spoiled(tutorial_model, tmp_path / "bad.npz", "U", (0, -1), value, np.float16)
    message = f"{path}: array U holds NaN or infinite values"
    tagger = Tagger.load(path)
    tagger.tag(SENTENCES)
    tagger.widen_lookups(LARGE_INPUT - 1)  # an input too small to widen for: nothing read
    assert tagger.params["U"].dtype == np.float16
    assert refusal(tagger.widen_lookups) == message
    assert tagger.params["U"].dtype == np.float16  # not widened
    assert refusal(Tagger.load(path).verify) == message
    fresh = Tagger.load(path)
    assert refusal(lambda: fresh.widen_lookups(LARGE_INPUT)) == message
    assert one_line_error(runner.invoke(app, ["inspect", str(path)])) == f"rnncli: error: {message}\n"


def test_a_flipped_byte_in_a_mapped_table_is_caught_by_its_checksum(tutorial_model, tmp_path, mapped, monkeypatch,
                                                                   runner):
    path = flipped(tutorial_model, tmp_path / "flip.npz", "U", 4 * 64 * 300)  # column 300
    message = f"{path}: damaged (array U fails its checksum)"
    assert refusal(lambda: read_whole(path, monkeypatch)) == message  # the message the loader gives reading it
    tagger = Tagger.load(path)
    assert refusal(tagger.verify) == message
    assert refusal(Tagger.load(path).widen_lookups) == message
    assert one_line_error(runner.invoke(app, ["inspect", str(path)])) == f"rnncli: error: {message}\n"
    # Its bytes go nowhere as good ones: not into a new file, not into a pickle of its content.
    out = tmp_path / "out.npz"
    assert refusal(lambda: tagger.save(out)) == message and not out.exists()
    assert refusal(lambda: content(tagger)) == message
    assert refusal(lambda: tagger.pruned(np.ones(tagger.shape.n_inputs, bool))) == message


def test_a_flipped_byte_in_a_member_read_whole_names_the_array(tutorial_model, tmp_path):
    path = flipped(tutorial_model, tmp_path / "flip.npz", "W", 40)
    assert refusal(lambda: Tagger.load(path)) == f"{path}: damaged (array W fails its checksum)"


@pytest.fixture(scope="module")
def lexicon_model(tmp_path_factory):
    words = ["I", "eat", "apple", "they", "fish", "like", "the", "a", "dog", "runs", "London", "see"]
    probs = {w: -3.0 - i for i, w in enumerate(words)}
    clusters = {w: 2 + i % 5 for i, w in enumerate(words)}
    lexicon = Lexicon.build(clusters, probs, source="made up")
    tagger = train(read_corpus(SAMPLES / "tutorial.txt"), None, TrainConfig(features="lexicon", epochs=2, seed=2),
                   lexicon=lexicon)
    path = tmp_path_factory.mktemp("lexicon") / "m.npz"
    tagger.save(path)
    return path


def test_lexicon_keys_out_of_order_in_a_mapped_table_are_found_by_verify(lexicon_model, tmp_path, mapped,
                                                                         monkeypatch):
    lazy, whole = Tagger.load(lexicon_model), read_whole(lexicon_model, monkeypatch)
    assert "lexicon_keys" in lazy.unverified and not lazy.vocab.lexicon.keys.flags.writeable
    assert lazy.tag(SENTENCES) == whole.tag(SENTENCES)
    lazy.verify()
    arrays, meta = modelfile.load(lexicon_model)
    arrays["lexicon_keys"] = arrays["lexicon_keys"][::-1].copy()
    path = write(tmp_path / "disordered.npz", arrays, meta)
    message = f"{path}: the lexicon's keys are not in ascending order"
    assert refusal(lambda: read_whole(path, monkeypatch)) == message
    assert refusal(Tagger.load(path).verify) == message


# -- what is not mapped, and what holds a mapped table ----------------------------------------------

def test_a_compressed_model_file_and_checkpoints_are_read_not_mapped(tutorial_model, tmp_path, mapped):
    arrays, meta = modelfile.load(tutorial_model)
    assert all(a.flags.writeable for a in arrays.values())  # modelfile.load (checkpoints too) reads
    path = write(tmp_path / "deflated.npz", arrays, meta, compressed=True)
    tagger = Tagger.load(path)
    assert tagger.unverified is None and tagger.params["U"].flags.writeable
    assert tagger.tag(SENTENCES) == Tagger.load(tutorial_model).tag(SENTENCES)


def test_what_copies_or_changes_a_tagger_works_with_its_read_only_tables(tutorial_model, tmp_path, mapped):
    tagger = Tagger.load(tutorial_model)
    expected = tagger.tag(SENTENCES)
    deep = copy.deepcopy(tagger)
    assert deep.params["U"].flags.writeable and deep.tag(SENTENCES) == expected
    deep.params["U"][:] = 0  # a copy of its own
    assert tagger.tag(SENTENCES) == expected
    assert tagger.without_memory().tag(SENTENCES) == Tagger.load(tutorial_model).without_memory().tag(SENTENCES)
    keep = np.ones(tagger.shape.n_inputs, bool)
    assert tagger.pruned(keep).tag(SENTENCES) == expected
    tagger.save(tmp_path / "again.npz")
    assert Tagger.load(tmp_path / "again.npz").tag(SENTENCES) == expected
    by_value = from_content(*content(tagger))
    assert by_value.params["U"].flags.writeable and by_value.tag(SENTENCES) == expected
    assert pickle.loads(pickle.dumps(tagger)).tag(SENTENCES) == expected  # by reference to its file


def test_damaged_files_are_refused_by_load_or_verify_when_mapped(tutorial_model, tmp_path, mapped):
    rng = np.random.default_rng(11)
    data = tutorial_model.read_bytes()
    reference = Tagger.load(tutorial_model).tag(SENTENCES)
    path = tmp_path / "fuzz.npz"
    outcomes = {"same": 0, "refused on load": 0, "refused on verify": 0}
    for i in range(150):
        path.write_bytes(damaged(data, rng, "cut" if i % 2 else "flip"))
        try:
            tagger = Tagger.load(path)
        except ModelFileError:
            outcomes["refused on load"] += 1
            continue
        try:
            tagger.verify()
        except ModelFileError as e:
            assert str(e).startswith(f"{path}: ") and "\n" not in str(e)
            outcomes["refused on verify"] += 1
            continue
        assert tagger.tag(SENTENCES) == reference
        outcomes["same"] += 1
    assert outcomes["refused on verify"] > 5 and sum(outcomes.values()) - outcomes["same"] > 100, outcomes
