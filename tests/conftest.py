import os
import subprocess
import sys
from pathlib import Path

from rnncli.config import BLAS_VARIABLES  # no NumPy: config imports none

# The tests run the commands in this process too: with the BLAS thread count that `rnncli`
# itself chooses (one, unless the environment says otherwise), so that in-process and
# subprocess runs give the same bits, and a busy machine cannot make a test crawl.
if "numpy" not in sys.modules:
    for _variable in BLAS_VARIABLES:
        os.environ.setdefault(_variable, "1")

import numpy as np  # noqa: E402
import pytest
from hypothesis import settings
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_corpora"
SCRIPTS = ROOT / "scripts"
from rnncli.recipes import EWT_FILES, EWT_VARIABLE, ewt_dir  # noqa: E402  (where the scripts find the treebank too)

# Property tests draw the same examples on every run and machine (for one version of
# hypothesis), so that a test that passes once passes again. RNNCLI_HYPOTHESIS=wide draws at
# random and 20 times as many; a failure prints what reproduces it.
WIDE = os.environ.get("RNNCLI_HYPOTHESIS") == "wide"
settings.register_profile("repeatable", derandomize=True, database=None, print_blob=True)
settings.register_profile("wide", derandomize=False, database=None, print_blob=True)
settings.load_profile("wide" if WIDE else "repeatable")


def examples(n: int) -> int:
    """How many examples a property test draws: ``n``, or 20 times as many in the wide search."""
    return 20 * n if WIDE else n


RNNCLI = [sys.executable, "-m", "rnncli"]  # the command in a process of its own
# What stands for a model file already at an output path: the first bytes of an .npz (a zip whose
# first member is an array), which a run may replace, and then words that no model holds.
PREVIOUS_MODEL = b"PK\x03\x04" + bytes(22) + b"\x0c\x00\x00\x00metadata.npy: the previous model file"


def run(args, timeout=60, **kwargs):
    """rnncli in a process of its own, its output captured."""
    return subprocess.run([*RNNCLI, *args], capture_output=True, timeout=timeout, **kwargs)


def in_scripts(code: str, *args: str) -> str:
    """What ``python -c code args`` prints when run in scripts/: there the scripts' own imports
    resolve as they do when a script runs (its folder first on sys.path), while the tests
    themselves import nothing from scripts/ (test_scripts.py checks that)."""
    r = subprocess.run([sys.executable, "-c", code, *args], cwd=SCRIPTS, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return r.stdout


def damaged(data: bytes, rng: np.random.Generator, kind: str) -> bytes:
    """A file's bytes damaged one way: "cut" short, a few bits "flip"ped, 16 bytes "overwrite"n."""
    b = bytearray(data)
    if kind == "cut":
        return bytes(b[: rng.integers(0, len(b))])
    if kind == "flip":
        for pos in rng.integers(0, len(b), size=rng.integers(1, 8)):
            b[pos] ^= 1 << int(rng.integers(0, 8))
    else:
        pos = int(rng.integers(0, len(b)))
        b[pos:pos + 16] = rng.bytes(16)
    return bytes(b)


def one_line_error(r, status=1):
    """The result failed with ``status`` and exactly one line on stderr, no traceback: that line."""
    assert r.exit_code == status, (r.exit_code, r.stdout, r.stderr)
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
    return r.stderr


def read_terminal(fd: int) -> bytes:
    """Everything written to a pseudo-terminal until its other end is closed."""
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the child has closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


@pytest.fixture(scope="session")
def ewt() -> Path:
    """The UD English EWT folder; tests that use it are marked ``ewt``."""
    path = ewt_dir()
    if not all((path / name).is_file() for name in EWT_FILES):
        message = (f"UD English EWT not found at {path}: put {' and '.join(EWT_FILES)} there, "
                   f"or point ${EWT_VARIABLE} at them")
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
