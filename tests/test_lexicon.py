"""The English lexicon's slots of x_t (lexicon.py), its table in the model file, and training
for text in any case (--recase, eval --case)."""

import gzip
import json
import pickle
import sys

import numpy as np
import pytest

from rnncli import lexicon as lexicon_module
from rnncli.cli import app
from rnncli.config import FEATURE_SETS, TrainConfig
from rnncli.corpus import Sentence, read_corpus
from rnncli.errors import ModelFileError, RnncliError
from rnncli.lexicon import Lexicon, build_lemmas, fingerprint
from rnncli.tagger import Tagger
from rnncli.train import TrainingSet, train
from rnncli.vocab import CASES, Vocab, keyed, sentence_case

from conftest import SAMPLES

# A few forms with made-up paths (first step in the lowest bit) and log probabilities.
CLUSTERS = {"eat": 0b1010, "see": 0b0010, "apple": 0b0101, "Apple": 0b1110, "London": 0b1011101, "the": 0b1}
PROBS = {"eat": -9.0, "see": -8.2, "apple": -10.8, "Apple": -10.1, "London": -10.5, "london": -14.2,
         "the": -3.5, "The": -6.0, "Obama": -9.8, "obama": -12.8, "zyzzyva": -19.6}
# Lemmatiser tables of the layout of spacy-lookups-data's en_lemma_index, _exc and _rules.
INDEX = {"noun": ["apple", "bark", "city", "box", "park", "ice_cream"], "verb": ["bark", "eat", "park", "box", "see"],
         "adj": ["happy", "late"], "adv": ["late"], "punct": ["x"]}
EXCEPTIONS = {"noun": {"geese": ["goose"]}, "verb": {"saw": ["see"], "ate": ["eat"]}, "adj": {"happier": ["happy"]},
              "adv": {}}
RULES = {"noun": [["s", ""], ["ies", "y"], ["xes", "x"]], "verb": [["s", ""], ["es", ""], ["ed", ""]],
         "adj": [["er", ""], ["er", "e"]], "adv": [["", ""]], "punct": [["“", '"']]}


@pytest.fixture(scope="module")
def small():
    return Lexicon.build(CLUSTERS, PROBS, min_logp=-19.0, source="made up",
                         lemmas=build_lemmas(INDEX, EXCEPTIONS, RULES))


def classes_by_hand(word: str) -> tuple:
    """A word's values in the noun, verb, adj and adv slots, read from the tables the plain way."""
    w, out = word.lower(), []
    for name in ("noun", "verb", "adj", "adv"):
        base, irregular = w in INDEX[name] and "_" not in w, w in EXCEPTIONS[name]
        value = "base+irr" if base and irregular else "base" if base else "irr" if irregular else None
        if value is None:
            for suffix, replacement in sorted(RULES[name], key=lambda r: -len(r[0])):  # stable: table order
                if suffix and w.endswith(suffix) and len(w) > len(suffix) and w[:-len(suffix)] + replacement in INDEX[name]:
                    value = f"-{suffix}" + (f"+{replacement}" if replacement else "")
                    break
        out.append(value)
    return tuple(out)


@pytest.mark.parametrize("word", ["barks", "Barks", "BOXES", "boxes", "cities", "geese", "saw", "ate", "eat",
                                  "happier", "later", "late", "park", "Park", "parks", "ice_cream", "s", "es",
                                  "apples", "qwxq", "x", ""])
def test_the_class_slots_say_what_wordnet_s_tables_say_a_form_can_be(small, word):
    assert small.values(word)[-4:] == classes_by_hand(word)


def test_the_class_slots_examples(small):
    assert small.values("barks")[-4:] == ("-s", "-s", None, None)  # bark is a noun and a verb
    assert small.values("boxes")[-4:] == ("-xes+x", "-es", None, None)  # the longest suffix first
    assert small.values("cities")[-4:] == ("-ies+y", None, None, None)
    assert small.values("saw")[-4:] == (None, "irr", None, None) and small.values("geese")[-4:][0] == "irr"
    assert small.values("later")[-4:] == (None, None, "-er+e", None)  # late: adj; "" rules are left out
    assert small.values("Park")[-4:] == ("base", "base", None, None)  # read in lower case
    # Words outside the frequency table still get their class slots.
    assert small.values("bark")[:6] == (None,) * 6 and small.values("bark")[-4:] == ("base", "base", None, None)


def steps(path: int, k: int) -> str:
    """The first k steps of a path, read one bit at a time (the plain way)."""
    return "".join(str((path >> i) & 1) for i in range(k))


def test_a_word_s_values_come_from_its_form_as_written_else_its_more_probable_casing(small):
    # As written: "Apple" has its own cluster, not apple's.
    assert small.values("Apple")[:4] == tuple(steps(CLUSTERS["Apple"], k) for k in (4, 6, 10, 20))
    assert small.values("apple")[:4] == tuple(steps(CLUSTERS["apple"], k) for k in (4, 6, 10, 20))
    assert small.values("EAT") == small.values("eat")  # not in the table: its lower-case form
    assert small.values("LONDON") == small.values("London")  # capitalised: likelier than london
    assert small.values("London")[0] == steps(CLUSTERS["London"], 4)
    assert small.values("eat")[4] == "-9" and small.values("see")[4] == "-8"
    # Obama has a probability but no cluster: the cluster slots have no value.
    assert small.values("Obama")[:4] == (None,) * 4 and small.values("Obama")[4] == "-10"
    assert small.values("zyzzyva") == (None,) * len(lexicon_module.SLOTS)  # below the table's floor: not in it
    assert small.values("qwxq") == (None,) * len(lexicon_module.SLOTS)


def test_an_empty_table_gives_no_values_and_a_model_with_one_tags():
    empty = Lexicon.empty()
    assert empty.values("the") == (None,) * len(lexicon_module.SLOTS) and empty.values_of([]) == []
    assert Lexicon.build({"the": 1}, {"the": -3.0}, min_logp=0.0).values_of(["the", "x"]) == [(None,) * len(lexicon_module.SLOTS)] * 2
    vocab, _ = Vocab.build(["the", "cat"], "lexicon", min_feature_count=1, lexicon=empty)
    assert all(vocab.describe(i)[1] == "<unk>" for i in vocab.encode("the")[-len(lexicon_module.SLOTS) - 1:-1])


def test_caps_says_how_much_likelier_the_capitalised_form_is_whatever_the_case_written(small):
    for word in ("obama", "Obama", "OBAMA"):
        assert small.values(word)[5] == "+3"  # round(-9.75 - -12.75)
    assert small.values("london")[5] == small.values("London")[5] == "+4"  # -10.5 - -14.25
    assert small.values("the")[5] == "-2" and small.values("eat")[5] == "-6"  # "Eat" unseen: rarer than all, capped
    assert small.values("apple")[5] == "+1" and small.values("see")[5] == "-6"  # -10.1 - -10.8 rounds up


def test_forms_that_share_a_fingerprint_keep_the_more_probable_one_s_entry(monkeypatch):
    monkeypatch.setattr(lexicon_module, "fingerprint", lambda form: 7 if form in ("eat", "see") else len(form))
    table = Lexicon.build({"eat": 0b11, "see": 0b10}, {"eat": -9.0, "see": -8.0, "apple": -10.0})
    assert len(table) == 2 and table.values("eat") == table.values("see")
    assert table.values("eat")[0] == "0100"  # see's path: the more probable form


def test_fingerprints_are_the_crc32_of_the_utf8_and_keys_ascend(small):
    assert fingerprint("eat") == 0x9AD33F1A and fingerprint("été") == __import__("zlib").crc32("été".encode())
    assert (np.diff(small.keys.astype(np.int64)) > 0).all() and small.paths[0] == 0


def test_the_vocabulary_reads_the_lexicon_slots_and_counts_their_values(small):
    vocab, counts = Vocab.build(["eat", "eat", "apple", "Obama", "qwxq"], "lexicon", min_feature_count=1, lexicon=small)
    assert vocab.slots == FEATURE_SETS["lexicon"] and vocab.lexicon is small
    for word in ("eat", "apple", "qwxq"):
        shown = [vocab.describe(i) for i in vocab.encode(word)][-len(lexicon_module.SLOTS) - 1:-1]
        want = [(slot, value if value is not None else "<unk>") for slot, value in
                zip(lexicon_module.SLOTS, small.values(word))]
        assert shown == want
    logp = vocab.offsets[vocab.slots.index("logp")]
    assert counts[logp + vocab.tables["logp"].index("-9")] == 2
    with pytest.raises(ValueError, match="need a lexicon"):
        Vocab.build(["eat"], "lexicon")


@pytest.fixture(scope="module")
def lexicon_model(tmp_path_factory, small):
    sentences = read_corpus(SAMPLES / "tutorial.txt")
    tagger = train(sentences, None, TrainConfig(features="lexicon", epochs=3, seed=2), lexicon=small)
    path = tmp_path_factory.mktemp("lexicon") / "m.npz"
    tagger.save(path)
    return tagger, path


def test_a_model_file_carries_the_table_and_tags_alike_after_loading(lexicon_model):
    tagger, path = lexicon_model
    loaded = Tagger.load(path)
    assert loaded.vocab.lexicon.source == "made up"
    for name, a in tagger.vocab.lexicon.arrays().items():
        np.testing.assert_array_equal(loaded.vocab.lexicon.arrays()[name], a)
    sentences = [["I", "eat", "apple"], ["London", "obama", "sees", "zyzzyva"]]
    for a, b in zip(tagger.predict(sentences), loaded.predict(sentences)):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    # Pickled without a file, the table goes along.
    unpickled = pickle.loads(pickle.dumps(tagger.pruned(np.ones(tagger.shape.n_inputs, bool))))
    assert unpickled.vocab.lexicon is not None and unpickled.tag(sentences) == tagger.tag(sentences)


def rewrite(path, out, change):
    """The model file at ``path`` with its arrays and metadata changed by ``change(arrays, meta)``."""
    from rnncli import modelfile

    arrays, meta = modelfile.load(path)
    arrays = {k: np.array(v) for k, v in arrays.items()}
    change(arrays, meta)
    for key in ("format", "format_version"):
        meta.pop(key)
    modelfile.save(out, arrays, meta)
    return out


@pytest.mark.parametrize("change, message", [
    (lambda a, m: a.update(lexicon_keys=a["lexicon_keys"][::-1].copy()), "not in ascending order"),
    (lambda a, m: a.update(lexicon_cluster=a["lexicon_cluster"] + 50), "names a cluster it does not have"),
    (lambda a, m: a.update(lexicon_logp=a["lexicon_logp"].astype(np.float32)), "lexicon_logp is float32"),
    (lambda a, m: m["vocab"]["lexicon"].update(entries=10**12), "damaged metadata"),
    (lambda a, m: m["vocab"].pop("lexicon"), "damaged metadata"),
    (lambda a, m: a.pop("lexicon_paths"), "missing array"),
    (lambda a, m: a.update(lexicon_lemma_keys=a["lexicon_lemma_keys"][::-1].copy()), "lemma keys are not in ascending"),
    (lambda a, m: a.update(lexicon_lemma_class=a["lexicon_lemma_class"][:-1].copy()), "lexicon_lemma_class is uint8"),
    (lambda a, m: m["vocab"]["lexicon"].update(rules=[[7, "s", ""]]), "suffix rules"),
    (lambda a, m: m["vocab"]["lexicon"].update(rules=[[0, "", ""]]), "suffix rules"),
    (lambda a, m: a.pop("lexicon_lemma_keys"), "missing array"),
])
def test_a_damaged_table_is_one_line(lexicon_model, tmp_path, runner, change, message):
    bad = rewrite(lexicon_model[1], tmp_path / "bad.npz", change)
    with pytest.raises(ModelFileError, match=message):
        Tagger.load(bad)
    r = runner.invoke(app, ["tag", "--model", str(bad), "I eat"])
    assert r.exit_code == 1 and r.stderr.count("\n") == 1 and message.split()[0] in r.stderr


def test_unroll_and_inspect_show_the_lexicon(lexicon_model, runner):
    path = str(lexicon_model[1])
    r = runner.invoke(app, ["unroll", "--model", path, "--json", "I eat apple"])
    assert r.exit_code == 0, r.stderr
    eat = json.loads(r.stdout)["steps"][1]
    shown = {f["slot"]: f["value"] for f in eat["features"]}
    assert shown["cluster4"] == steps(CLUSTERS["eat"], 4) and shown["logp"] == "-9"
    r = runner.invoke(app, ["inspect", "--model", path, "--json"])
    card = json.loads(r.stdout)
    assert card["vocabulary"]["slots"]["cluster20"] >= 1
    assert card["vocabulary"]["lexicon"] == {"entries": 10, "paths": 7, "source": "made up", "lemmas": 13,
                                             "rules": [[0, "s", ""], [0, "ies", "y"], [0, "xes", "x"], [1, "s", ""],
                                                       [1, "es", ""], [1, "ed", ""], [2, "er", ""], [2, "er", "e"]]}
    r = runner.invoke(app, ["inspect", "--model", path])
    assert "lexicon" in r.stdout and "made up" in r.stdout


def test_english_reads_spacy_lookups_data_and_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "spacy_lookups_data", None)  # as if not installed
    with pytest.raises(RnncliError, match=r"pip install 'rnncli\[lexicon\]'"):
        lexicon_module.english()
    # A stand-in package of the same layout.
    package = tmp_path / "spacy_lookups_data"
    (package / "data").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    for name, table in (("lexeme_cluster", CLUSTERS), ("lexeme_prob", PROBS), ("lemma_index", INDEX),
                        ("lemma_exc", EXCEPTIONS), ("lemma_rules", RULES)):
        with gzip.open(package / "data" / f"en_{name}.json.gz", "wt", encoding="utf-8") as f:
            json.dump(table, f)
    info = tmp_path / "spacy_lookups_data-0.0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: spacy-lookups-data\nVersion: 0.0.1\n")
    monkeypatch.delitem(sys.modules, "spacy_lookups_data")
    monkeypatch.syspath_prepend(str(tmp_path))
    table = lexicon_module.english()
    assert len(table) == len(PROBS) - 1 and "spacy-lookups-data 0.0.1" in table.source
    assert "WordNet" in table.source
    for word in ("eat", "barks", "geese", "qwxq"):
        assert table.values(word) == Lexicon.build(CLUSTERS, PROBS, lemmas=build_lemmas(INDEX, EXCEPTIONS, RULES)).values(word)


def test_recase_adds_a_share_of_each_recased_copy_every_epoch():
    sentences = [Sentence(["The", "Dog", f"w{i}"], ["DET", "NOUN", "X"], i) for i in range(40)]
    run = TrainingSet(sentences, None, TrainConfig(recase=0.25, seed=3), None)
    chosen = run.epoch_sentences(np.random.default_rng(3))
    assert len(chosen) == 40 + 2 * 10 and (chosen[:40] == np.arange(40)).all()
    assert (40 <= chosen[40:50]).all() and (chosen[40:50] < 80).all() and (80 <= chosen[50:]).all()
    # "Dog" is a word of the vocabulary, "dog" (in a lower-cased copy) is not.
    ids, *_ = run.data.batch(chosen[[0, 40]])  # (T, B, K)
    assert run.vocab.describe(ids[1, 0, 0]) == ("word", "Dog")
    assert run.vocab.describe(ids[1, 1, 0]) == ("word", "<unk>")
    # The vocabulary is the sentences' as written: recasing adds no entries.
    assert run.vocab.tables == TrainingSet(sentences, None, TrainConfig(seed=3), None).vocab.tables
    assert len(TrainingSet(sentences, None, TrainConfig(seed=3), None).epoch_sentences(np.random.default_rng(3))) == 40


@pytest.mark.parametrize("text, case", [
    ("I eat apple", "mixed"), ("i eat apple", "lower"), ("I Eat Apple", "title"), ("I EAT APPLE", "upper"),
    ("Obama Wins 3rd Term .", "title"), ("the 3rd term , 2009", "lower"), ("2009 - 2010", "mixed"),
    ("Thanks !", "title"), ("OK", "upper"), ("iPhone sales", "mixed"), ("( 3 )", "mixed"),
])
def test_a_sentence_s_case(text, case):
    assert sentence_case(text.split()) == case


def test_the_case_slot_gives_each_word_its_sentence_s_case(small):
    sentences = [s.split() for s in ("I eat apple", "i eat apple", "I Eat Apple", "I EAT APPLE")]
    vocab, counts = Vocab.build([k for s in sentences for k in keyed(s)], "lexicon", min_feature_count=1,
                                lexicon=small)
    assert sorted(vocab.tables["case"]) == ["<unk>", "lower", "mixed", "title", "upper"]
    case = vocab.slots.index("case")
    for words in sentences:
        ids = vocab.encode_sentence(words)
        assert {vocab.describe(i)[1] for i in ids[:, case]} == {sentence_case(words)}
        # Every other slot reads the word alone.
        plain = np.array([vocab.encode(w) for w in words])
        np.testing.assert_array_equal(np.delete(ids, case, axis=1), np.delete(plain, case, axis=1))
    assert keyed(["I", "eat"]) == ["I", "eat"] and keyed(["i", "eat"]) == [("lower", "i"), ("lower", "eat")]


def test_cases_are_lower_case_and_a_capital_first_letter():
    assert [CASES["lower"](w) for w in ("Park", "USA", "iPhone")] == ["park", "usa", "iphone"]
    assert [CASES["title"](w) for w in ("park", "USA", "iPhone", "3rd")] == ["Park", "USA", "IPhone", "3rd"]


def test_eval_case_scores_the_recased_corpus(tutorial_model, runner, tmp_path):
    gold = tmp_path / "gold.txt"
    gold.write_text("I/nn eat/v apple/nn\nyou/nn see/adv me/nn\n")
    tagger = Tagger.load(tutorial_model)
    for case in ("lower", "title"):
        r = runner.invoke(app, ["eval", str(gold), "--model", str(tutorial_model), "--case", case, "--json"])
        assert r.exit_code == 0, r.stderr
        recased = [[CASES[case](w) for w in s] for s in (["I", "eat", "apple"], ["you", "see", "me"])]
        predicted = sum(tagger.tag(recased), [])
        gold_tags = ["nn", "v", "nn", "nn", "adv", "nn"]
        assert json.loads(r.stdout)["accuracy"] == sum(p == g for p, g in zip(predicted, gold_tags)) / 6


def test_training_lexicon_features_without_the_package_is_one_line(runner, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "spacy_lookups_data", None)  # as if not installed
    r = runner.invoke(app, ["train", str(SAMPLES / "tiny.conllu"), "--features", "lexicon",
                            "-o", str(tmp_path / "m.npz")])
    assert r.exit_code == 1 and r.stderr.count("\n") == 1
    assert "pip install 'rnncli[lexicon]'" in r.stderr and not (tmp_path / "m.npz").exists()


def test_case_blind_reads_the_likelier_of_the_lower_case_and_capitalised_forms(small):
    # As written, "Apple" has its own entry; blind, it reads the likelier of apple (-10.8) and Apple (-10.1).
    assert small.values("Apple", blind=True) == small.values("Apple")
    assert small.values("the", blind=True)[:4] == small.values("the")[:4]
    assert small.values("The", blind=True)[4] == "-4"  # the (-3.5), not The's own entry (-6.0)
    assert small.values("The")[4] == "-6"
    assert small.values("obama", blind=True)[4] == "-10"  # Obama (-9.8), not obama (-12.8)
    assert small.values("obama")[4] == "-13"
    # A form whose lower-case and capitalised forms are not in the table keeps its own entry.
    assert small.values("iPhone", blind=True) == small.values("iPhone")


def test_a_vocabulary_reads_single_case_sentences_case_blind_and_the_file_says_so(small, tmp_path):
    words = [k for s in (["The", "dog"], ["THE", "DOG"], ["the", "dog"]) for k in keyed(s)]
    blind, _ = Vocab.build(words, "lexicon", min_feature_count=1, lexicon=small, case_blind=True)
    plain, _ = Vocab.build(words, "lexicon", min_feature_count=1, lexicon=small)
    logp = blind.slots.index("logp")
    assert blind.describe(blind.encode(("title", "The"))[logp]) == ("logp", "-4")
    assert plain.describe(plain.encode(("title", "The"))[logp]) == ("logp", "-6")
    assert blind.describe(blind.encode("The")[logp]) == ("logp", "-6")  # a mixed-case sentence: as written
    assert blind.encode_all([("title", "The")]) == [blind.encode(("title", "The"))]
    again = Vocab.from_json(json.loads(json.dumps(blind.to_json())), small)
    assert again.case_blind and not Vocab.from_json(plain.to_json(), small).case_blind
    assert again.encode(("title", "The")) == blind.encode(("title", "The"))
