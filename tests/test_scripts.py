"""scripts/: each script still starts, and the shared module means one thing everywhere."""

import subprocess
import sys
from dataclasses import dataclass, fields, replace

import pytest

from rnncli.corpus import read_corpus
from rnncli.train import TrainConfig

from conftest import ROOT, SAMPLES, SCRIPTS

import common  # noqa: E402  (scripts/ is on sys.path: see conftest.py)


@pytest.mark.parametrize("script", sorted(p.name for p in SCRIPTS.glob("*.py") if p.stem not in ("common", "peers")))
def test_every_script_starts_and_explains_itself(script):
    r = subprocess.run([sys.executable, str(SCRIPTS / script), "--help"], capture_output=True, text=True,
                       timeout=120, cwd=ROOT.parent)  # from elsewhere: the scripts find the repository
    assert r.returncode == 0 and r.stdout.startswith("usage: "), r.stderr


def test_the_ewt_folder_is_the_variable_else_beside_the_repository(monkeypatch, tmp_path):
    monkeypatch.setenv(common.EWT_VARIABLE, str(tmp_path))
    assert common.ewt_dir() == tmp_path and common.ewt_file("dev") == tmp_path / "en_ewt-ud-dev.conllu"
    monkeypatch.delenv(common.EWT_VARIABLE)
    assert common.ewt_dir() == ROOT.parent / "shared" / "data" / "en_ewt"


def test_raw_texts_are_paired_with_rnncli_s_own_reading_of_the_sentences():
    paired = common.read_texts(SAMPLES / "tiny.conllu")
    sentences = read_corpus(SAMPLES / "tiny.conllu")
    assert [s for _, s in paired] == sentences and len(sentences) > 20
    assert paired[0][0] == "I eat apples."
    for text, sentence in paired:  # the treebank's words spell the text, spaces aside
        assert "".join(sentence.words) == "".join(text.split())


@pytest.mark.ewt
def test_raw_texts_of_ewt_dev(ewt):
    paired = common.read_texts(ewt / "en_ewt-ud-dev.conllu")
    assert len(paired) == 2001 and sum(len(s.words) for _, s in paired) == 25_147


def test_the_tutorial_rnn_is_the_first_step_of_the_ladder_and_the_recipe_its_last():
    import benchmark_accuracy

    steps = benchmark_accuracy.ladder(common.ENGLISH.epochs, common.ENGLISH.seed)
    assert steps[0][2] == common.TUTORIAL_RNN
    recipe = dict((key, config) for key, _, config in steps)["recipe"]
    assert replace(recipe, store=common.ENGLISH.store, store_min_count=common.ENGLISH.store_min_count) == common.ENGLISH
    assert (recipe.store, recipe.store_min_count) == ("float32", 1)  # scored as trained, every word kept


def test_describe_words_every_field_and_gives_the_speed_table_its_row_names():
    import benchmark_speed as bench

    names = {f.name for f in fields(TrainConfig)}
    assert set(bench.WORDING) | set(bench.RUN_SETTINGS) <= names  # a renamed field is never lost
    benchmarks = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    for name, config in [("tutorial RNN", bench.TUTORIAL_RNN), ("default model's recipe", bench.RECIPE)]:
        assert f"| {name} ({bench.describe(config)}) |" in benchmarks

    @dataclass(frozen=True)
    class WithANewField(TrainConfig):
        label_smoothing: float = 0.0

    assert bench.describe(WithANewField(label_smoothing=0.1)).endswith(", label smoothing 0.1")
    assert "label smoothing" not in bench.describe(WithANewField())  # the default is not news


def test_the_peers_are_defined_once():
    for script in ("benchmark_accuracy.py", "benchmark_speed.py"):
        code = (SCRIPTS / script).read_text(encoding="utf-8").split('"""', 2)[2]  # after the docstring
        assert "PerceptronTagger" not in code and "pycrfsuite" not in code and "nn.RNN(" not in code, script
        assert "en_ewt-ud-" not in code and "# text" not in code, script  # files and texts come from common.py


def test_the_frontier_counts_the_issue_s_arithmetic_and_its_grid_holds_the_recipe():
    import benchmark_frontier as frontier

    from rnncli.rnn import Shape

    # The bundled model (2 layers, 2 directions, H=128, 17 tags) and the tutorial-size model.
    assert frontier.flops_per_token(Shape(1000, 128, 17, bidirectional=True, n_layers=2)) == 270_848
    assert frontier.flops_per_token(Shape(1000, 128, 17)) == 37_120
    configs = [config for _, config in frontier.grid(common.ENGLISH.epochs, common.ENGLISH.seed)]
    assert common.ENGLISH in configs
    for config in configs:  # only depth and width differ from the recipe
        assert replace(config, layers=common.ENGLISH.layers, hidden=common.ENGLISH.hidden) == common.ENGLISH
