"""scripts/: each script still starts, the tests need nothing from it, and what the scripts
share means one thing everywhere.

The scripts' own code runs in a child Python started in scripts/ (``in_scripts``), as it runs
when a script is started; no test module imports it (the first test here checks that)."""

import ast
import json
import subprocess
import sys
from dataclasses import fields, replace

import pytest

from rnncli.corpus import read_corpus
from rnncli.recipes import ENGLISH, EWT_VARIABLE, REPOSITORY, TUTORIAL_RNN, ewt_dir, ewt_file
from rnncli.train import TrainConfig

from conftest import ROOT, SAMPLES, SCRIPTS, in_scripts

TESTS = ROOT / "tests"
SCRIPT_FILES = sorted(p for p in SCRIPTS.glob("*.py") if 'if __name__ == "__main__":' in p.read_text(encoding="utf-8"))


def imported_modules(tree: ast.AST) -> set[str]:
    """The top-level names of the modules a module imports (absolute imports, lazy ones too)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.partition(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.partition(".")[0])
    return names


def test_no_test_imports_from_scripts_or_puts_it_on_the_path():
    in_scripts_folder = {p.stem for p in SCRIPTS.glob("*.py")} | {p.parent.name for p in SCRIPTS.glob("*/__init__.py")}
    assert {"common", "benchmark_speed"} <= in_scripts_folder
    for path in sorted(TESTS.glob("*.py")):
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source)
        assert not imported_modules(tree) & in_scripts_folder, path.name
        for node in ast.walk(tree):  # sys.path.insert(0, SCRIPTS), monkeypatch.syspath_prepend(".../scripts")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                    node.func.attr in ("insert", "append", "extend", "syspath_prepend"):
                call = ast.get_source_segment(source, node)
                if ("sys.path." in call or node.func.attr == "syspath_prepend") and "scripts" in call.lower():
                    pytest.fail(f"{path.name}:{node.lineno} puts scripts/ on sys.path")


@pytest.mark.parametrize("script", [p.name for p in SCRIPT_FILES])
def test_every_script_starts_and_explains_itself(script):
    r = subprocess.run([sys.executable, str(SCRIPTS / script), "--help"], capture_output=True, text=True,
                       timeout=120, cwd=ROOT.parent)  # from elsewhere: the scripts find the repository
    assert r.returncode == 0 and r.stdout.startswith("usage: "), r.stderr


def test_the_ewt_folder_is_the_variable_else_beside_the_repository(monkeypatch, tmp_path):
    monkeypatch.setenv(EWT_VARIABLE, str(tmp_path))
    assert ewt_dir() == tmp_path and ewt_file("dev") == tmp_path / "en_ewt-ud-dev.conllu"
    monkeypatch.delenv(EWT_VARIABLE)
    assert REPOSITORY == ROOT and ewt_dir() == ROOT.parent / "shared" / "data" / "en_ewt"


def read_texts(path) -> list[tuple[str, list[str], list[str]]]:
    """common.read_texts of ``path``: (text, words, tags) of each sentence."""
    code = ("import json, sys, common; "
            "print(json.dumps([(t, s.words, s.tags) for t, s in common.read_texts(sys.argv[1])]))")
    return json.loads(in_scripts(code, str(path)))


def test_raw_texts_are_paired_with_rnncli_s_own_reading_of_the_sentences():
    paired = read_texts(SAMPLES / "tiny.conllu")
    sentences = read_corpus(SAMPLES / "tiny.conllu")
    assert [(words, tags) for _, words, tags in paired] == [(s.words, s.tags) for s in sentences]
    assert len(sentences) > 20 and paired[0][0] == "I eat apples."
    for text, words, _ in paired:  # the treebank's words spell the text, spaces aside
        assert "".join(words) == "".join(text.split())


@pytest.mark.ewt
def test_raw_texts_of_ewt_dev(ewt):
    paired = read_texts(ewt / "en_ewt-ud-dev.conllu")
    assert len(paired) == 2001 and sum(len(words) for _, words, _ in paired) == 25_147


def test_the_tutorial_rnn_is_the_first_step_of_the_ladder_and_the_recipe_its_last():
    code = ("import json, sys, benchmark_accuracy; from dataclasses import asdict; "
            "print(json.dumps([(key, asdict(c)) for key, _, c in benchmark_accuracy.ladder(*map(int, sys.argv[1:]))]))")
    steps = [(key, TrainConfig(**config)) for key, config in json.loads(in_scripts(code, str(ENGLISH.epochs),
                                                                                   str(ENGLISH.seed)))]
    assert steps[0][1] == TUTORIAL_RNN
    recipe = dict(steps)["recipe"]
    assert replace(recipe, store=ENGLISH.store, store_min_count=ENGLISH.store_min_count) == ENGLISH
    assert (recipe.store, recipe.store_min_count) == ("float32", 1)  # scored as trained, every word kept


DESCRIBE = """
import json
from dataclasses import dataclass
from rnncli.config import TrainConfig
from speed.shared import RECIPE, RUN_SETTINGS, TUTORIAL_RNN, WORDING, describe

@dataclass(frozen=True)
class WithANewField(TrainConfig):
    label_smoothing: float = 0.0

print(json.dumps({"named": [*WORDING, *RUN_SETTINGS], "tutorial RNN": describe(TUTORIAL_RNN),
                  "default model's recipe": describe(RECIPE), "new": describe(WithANewField(label_smoothing=0.1)),
                  "new at its default": describe(WithANewField())}))
"""


def test_describe_words_every_field_and_gives_the_speed_table_its_row_names():
    said = json.loads(in_scripts(DESCRIBE))
    assert set(said["named"]) <= {f.name for f in fields(TrainConfig)}  # a renamed field is never lost
    benchmarks = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    for name in ("tutorial RNN", "default model's recipe"):
        assert f"| {name} ({said[name]}) |" in benchmarks
    assert said["new"].endswith(", label smoothing 0.1")
    assert "label smoothing" not in said["new at its default"]  # the default is not news


def test_the_peers_the_data_and_the_log_are_defined_once():
    for path in [*SCRIPTS.glob("benchmark_*.py"), *SCRIPTS.glob("speed/*.py")]:
        code = path.read_text(encoding="utf-8").split('"""', 2)[2]  # after the docstring
        assert "PerceptronTagger" not in code and "pycrfsuite" not in code and "nn.RNN(" not in code, path.name
        assert "en_ewt-ud-" not in code and "# text" not in code, path.name  # from rnncli.recipes and common.py
        assert "def log(" not in code and '"MKL_NUM_THREADS"' not in code, path.name  # harness.py, rnncli.config


RICH_FEATURES = """
import json, peers
print(json.dumps({"rich": peers.crf_features(["The", "well-known", "Dog"], rich=True),
                  "few": peers.crf_features(["The", "well-known", "Dog"])}))
"""


def test_the_rich_crf_features_of_a_word_its_neighbours_and_the_sentence_s_ends():
    said = json.loads(in_scripts(RICH_FEATURES))
    assert said["rich"][1] == ["bias", "w=well-known", "p1=w", "p2=we", "p3=wel", "s1=n", "s2=wn", "s3=own",
                               "-1w=the", "-1s3=the", "+1w=dog", "+1s3=dog", "hyphen"]
    assert said["rich"][0][8:] == ["BOS", "+1w=well-known", "+1s3=own", "title"]
    assert said["rich"][2][8:] == ["-1w=well-known", "-1s3=own", "EOS", "title"]
    # the few features stay as the earlier benchmark's figures were measured with
    assert said["few"][1] == ["bias", "w=well-known", "s3=own", "s2=wn", "-1w=the", "+1w=dog"]


TAGGING_PEERS = """
import json, sys, tempfile
from pathlib import Path
from rnncli.corpus import read_corpus
from speed import tagging
from speed.shared import Bench, Sizes

# No rnncli run: a stand-in model "tagged" in half a second, so that only the peers are trained and timed.
tagging.rnncli_models = lambda b: [("stand-in model", Path("stand-in.npz"))]
tagging.tag_file = lambda *args, **kwargs: 0.5
tagging.ceiling_rows = lambda *args: []
Bench.warm_up = lambda self, model: None
sentences = read_corpus(sys.argv[1])
with tempfile.TemporaryDirectory() as tmp:
    texts = [" ".join(s.words) for s in sentences]
    bench = Bench(Sizes(None, 200, 1, 2, 3, 1, 0), Path(tmp), sentences, sentences, texts, threads=1)
    rows = tagging.section(bench)
print(json.dumps([(r.what, r.peer, r.theirs) for r in rows]))
"""


def test_the_tagging_section_sets_both_crfs_beside_rnncli_each_with_its_dev_accuracy():
    pytest.importorskip("pycrfsuite", reason="python-crfsuite is a benchmark peer: pip install '.[bench]'")
    rows = json.loads(in_scripts(TAGGING_PEERS, str(SAMPLES / "tiny.conllu")))
    peers = [peer for what, peer, _ in rows if "pretokenized" in what]
    crfs = [peer for peer in peers if peer.startswith("python-crfsuite CRF")]
    assert [peer.split(" (")[0] for peer in crfs] == ["python-crfsuite CRF, few features",
                                                      "python-crfsuite CRF, rich features"]
    assert "(2 L-BFGS iterations; " in crfs[0] and "(3 L-BFGS iterations; " in crfs[1]
    assert all(" on EWT dev)" in peer for peer in crfs)
    assert all(theirs.endswith(" s)") for what, peer, theirs in rows if peer in crfs)  # timed, not skipped


HARNESS = """
import json, sys, harness
order = []
times = harness.take_turns({"a": lambda: order.append("a") or 1.0, "b": lambda: order.append("b") or 2.0}, 2)
peak = harness.peak_rss([sys.executable, "-c", "b = bytearray(64 << 20)"])
print(json.dumps({"order": order, "times": times, "peak": peak,
                  "table": harness.markdown_table(["x", "y"], "lr", [["1", ""], ["`cat a |`", "3"]])}))
"""


def test_the_harness_takes_turns_measures_a_child_s_peak_and_draws_tables():
    said = json.loads(in_scripts(HARNESS))
    assert said["order"] == ["a", "b", "a", "b"] and said["times"] == {"a": [1.0, 1.0], "b": [2.0, 2.0]}
    assert said["peak"] >= 64 << 10  # KiB: the child's 64 MiB, not the wrapper's own size
    assert said["table"] == "| x | y |\n| --- | ---: |\n| 1 | |\n| `cat a \\|` | 3 |"  # a | in a cell escaped


def test_benchmark_speed_is_a_module_per_section_of_a_readable_size():
    sections = json.loads(in_scripts("import json, benchmark_speed as b; print(json.dumps(b.SECTIONS))"))
    assert len(sections) == 7
    for path in [SCRIPTS / "benchmark_speed.py", SCRIPTS / "harness.py", *SCRIPTS.glob("speed/*.py")]:
        text = path.read_text(encoding="utf-8")
        assert text.count("\n") <= 300, path.name
        assert text.split('"""', 2)[1].count("\n") <= 25, path.name  # the method is in docs/benchmarks.md


FRONTIER = """
import json
from dataclasses import asdict
import benchmark_frontier as frontier
from rnncli.recipes import ENGLISH
from rnncli.rnn import Shape

print(json.dumps({"flops": [frontier.flops_per_token(Shape(1000, 128, 17, bidirectional=True, n_layers=2)),
                            frontier.flops_per_token(Shape(1000, 128, 17))],
                  "grid": [asdict(config) for _, config in frontier.grid(ENGLISH.epochs, ENGLISH.seed)]}))
"""


def test_the_frontier_counts_the_issue_s_arithmetic_and_its_grid_holds_the_recipe():
    said = json.loads(in_scripts(FRONTIER))
    # The bundled model (2 layers, 2 directions, H=128, 17 tags) and the tutorial-size model.
    assert said["flops"] == [270_848, 37_120]
    configs = [TrainConfig(**config) for config in said["grid"]]
    assert ENGLISH in configs
    for config in configs:  # only depth and width differ from the recipe
        assert replace(config, layers=ENGLISH.layers, hidden=ENGLISH.hidden) == ENGLISH
