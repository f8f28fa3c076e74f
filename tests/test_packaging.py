"""What a user installs: the wheel and the sdist built from this tree, opened and read."""

import shutil
import subprocess
import sys
import tarfile
import zipfile

import pytest

from conftest import ROOT

LICENCES = ["LICENSE", "LICENSE-MODELS.md"]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict:
    """The sdist and the wheel, built by setuptools from a copy of the tree (a build writes
    into the tree it builds)."""
    tmp = tmp_path_factory.mktemp("build")
    tree = tmp / "rnncli"
    shutil.copytree(ROOT, tree, ignore=shutil.ignore_patterns(
        ".git", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis", "/*.npz"))
    out, names = tmp / "dist", {}
    for kind in ("sdist", "wheel"):  # one process each: setuptools keeps state between the two
        code = f"import sys; from setuptools import build_meta as b; print(b.build_{kind}(sys.argv[1]), file=sys.stderr)"
        r = subprocess.run([sys.executable, "-c", code, str(out)], cwd=tree, capture_output=True, text=True,
                           timeout=300)
        assert r.returncode == 0, r.stderr[-2000:]
        names[kind] = r.stderr.splitlines()[-1]
    return {kind: out / name for kind, name in names.items()}


def test_the_wheel_carries_the_licences_the_models_and_the_type_marker(built):
    with zipfile.ZipFile(built["wheel"]) as wheel:
        names = wheel.namelist()
        (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        text = wheel.read(metadata).decode()
    info = metadata.rpartition("/")[0]
    assert {f"{info}/licenses/{name}" for name in LICENCES} <= set(names)
    assert "License-Expression: MIT AND CC-BY-SA-4.0 AND CC0-1.0" in text
    assert {"rnncli/py.typed", "rnncli/models/default.npz", "rnncli/models/tutorial.npz"} <= set(names)


def test_the_sdist_holds_what_the_readme_links_to_and_the_tests_read(built):
    with tarfile.open(built["sdist"]) as sdist:
        names = {name.partition("/")[2] for name in sdist.getnames()}
    assert set(LICENCES) <= names
    for folder in ("docs", "sample_corpora", "tests", "scripts"):
        expected = {str(p.relative_to(ROOT)) for p in (ROOT / folder).rglob("*")
                    if p.is_file() and "__pycache__" not in p.parts}
        assert expected <= names, (folder, sorted(expected - names)[:5])
    assert not any("__pycache__" in n for n in names)


def test_the_licence_files_say_what_is_under_which_terms():
    models = (ROOT / "LICENSE-MODELS.md").read_text(encoding="utf-8")
    assert "MIT License" in (ROOT / "LICENSE").read_text(encoding="utf-8")
    from rnncli.loader import Tagger, bundled_model_path

    for name, terms in (("default", "CC BY-SA 4.0"), ("tutorial", "CC0 1.0")):
        assert f"## {name}.npz: {terms}" in models
    # Every attribution the bundled model carries is given word for word.
    for line in Tagger.load(bundled_model_path("default")).record.attribution.split("; "):
        assert f"    {line}\n" in models, line
