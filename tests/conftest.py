import os
import sys
from pathlib import Path

# The tests run the commands in this process too: with the BLAS thread count that `rnncli`
# itself chooses (one, unless the environment says otherwise), so that in-process and
# subprocess runs give the same bits, and a busy machine cannot make a test crawl.
if "numpy" not in sys.modules:
    for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_variable, "1")

import numpy as np  # noqa: E402
import pytest
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_corpora"


def ewt_dir() -> Path:
    return Path(os.environ.get("RNNCLI_EWT_DIR") or ROOT.parent / "shared" / "data" / "en_ewt")


@pytest.fixture(scope="session")
def ewt() -> Path:
    """The UD English EWT folder; tests that use it are marked ``ewt``."""
    path = ewt_dir()
    if not (path / "en_ewt-ud-dev.conllu").is_file():
        message = (f"UD English EWT not found at {path}: put en_ewt-ud-train.conllu and "
                   f"en_ewt-ud-dev.conllu there, or point $RNNCLI_EWT_DIR at them")
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def tutorial_model(tmp_path_factory) -> Path:
    """A tutorial-style model trained on the sample corpus (about a second)."""
    from rnncli.corpus import read_corpus
    from rnncli.train import TrainConfig, train

    path = tmp_path_factory.mktemp("models") / "tutorial.npz"
    tagger = train(read_corpus(SAMPLES / "tutorial.txt"), None, TrainConfig(seed=1))
    tagger.save(path)
    return path


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
