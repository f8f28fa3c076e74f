"""The recipes of docs/python.md, run as a reader would run them after copying them into a file:
Dask on a LocalCluster of two worker processes, and Spark on local[2] where pyspark and Java are.
Their output must be, byte for byte and in order, what `rnncli tag` prints for the same files."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rnncli.cli import app

from conftest import ROOT, SAMPLES


def recipe(name: str) -> str:
    """The code block of docs/python.md that starts with ``# NAME:``: what a reader copies."""
    text = (ROOT / "docs" / "python.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    found = [b for b in blocks if b.startswith(f"# {name}:")]
    assert len(found) == 1, f"docs/python.md has {len(found)} blocks for {name}"
    return found[0]


def needs(module: str):
    """The module, or a skip that says why; in CI the test extra must have brought it."""
    try:
        return __import__(module)
    except ImportError:
        message = f"{module} is not installed (pip install '.[test]' brings it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


def inputs(folder: Path) -> list[Path]:
    """Files of different sizes, the awkward ones among them: empty, blank lines, CRLF, a
    byte-order mark, no line ending at the end, words the model never saw."""
    words = [t.rsplit("/", 1)[0] for t in (SAMPLES / "tutorial.txt").read_text(encoding="utf-8").split()]
    folder.mkdir()
    files = []
    for i, n in enumerate([300, 0, 1, 1200, 41]):
        lines = [" ".join(words[(7 * j + k * 13 + i) % len(words)] for k in range(j % 11)) for j in range(n)]
        text = "".join(line + ("\r\n" if j % 9 == 4 else "\n") for j, line in enumerate(lines))
        if i == 3:
            text = "\ufeff" + text + "Zürich’s “unseen” wörds, 3.14 — and no line ending"
        path = folder / f"part{i}.txt"
        path.write_bytes(text.encode("utf-8"))
        files.append(path)
    return files


def rnncli_tag(runner, path: Path, *args) -> tuple[int, bytes, str]:
    r = runner.invoke(app, ["tag", "-i", str(path), "--model", "tutorial", *args])
    return r.exit_code, r.stdout_bytes, r.stderr


def run(script: Path, *args, env=None, timeout=120) -> subprocess.CompletedProcess:
    environment = {**os.environ, "RNNCLI_MODEL": "tutorial", **(env or {})}
    environment.pop("DASK_SCHEDULER_ADDRESS", None)
    return subprocess.run([sys.executable, str(script), *map(str, args)], capture_output=True, timeout=timeout,
                          env=environment, cwd=script.parent)


# -- Dask ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def dask_script(tmp_path_factory) -> Path:
    needs("dask.bag"), needs("distributed"), needs("threadpoolctl")
    path = tmp_path_factory.mktemp("dask") / "tag_dask.py"
    path.write_text(recipe("tag_dask.py"), encoding="utf-8")
    return path


def test_the_dask_recipe_writes_what_rnncli_tag_prints_file_by_file(dask_script, tmp_path, runner):
    files = inputs(tmp_path / "in")
    out = tmp_path / "out"
    out.mkdir()
    r = run(dask_script, out, *files)
    assert (r.returncode, r.stderr) == (0, b"")
    for path in files:
        status, expected, _ = rnncli_tag(runner, path)
        assert status == 0 and (out / path.name).read_bytes() == expected, path.name
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in files)


def test_a_bad_byte_in_one_file_is_the_one_line_rnncli_tag_gives(dask_script, tmp_path, runner):
    files = inputs(tmp_path / "in")
    bad = tmp_path / "in" / "bad.txt"
    bad.write_bytes(b"they fish\n\nI eat \xff apple\nmore\n")
    out = tmp_path / "out"
    out.mkdir()
    r = run(dask_script, out, files[0], bad, files[3])
    status, _, message = rnncli_tag(runner, bad)
    assert (status, message) == (1, f"rnncli: error: {bad}:3: not valid UTF-8 (byte 0xff at column 7)\n")
    assert (r.returncode, r.stderr.decode()) == (1, message)
    assert not (out / "bad.txt").exists()
    missing = tmp_path / "in" / "nope.txt"  # named in one line too, before any task runs
    r = run(dask_script, out, files[0], missing)
    assert (r.returncode, r.stderr.decode()) == (1, f"rnncli: error: {missing}: no such file\n")


def test_each_worker_reads_the_model_once_and_tags_with_one_blas_thread(dask_script):
    """The recipe's own function, over more partitions than workers: a worker process unpickles
    the tagger (about 150 bytes) for every partition and gets the one it read first."""
    import pickle

    import dask.bag as db
    from distributed import Client, LocalCluster

    import rnncli

    tagger = rnncli.load("tutorial")
    assert len(pickle.dumps(tagger)) < 300
    namespace = {"__name__": "tag_dask"}  # not importable: its functions travel by value, as from a script
    exec(compile(recipe("tag_dask.py"), "tag_dask.py", "exec"), namespace)
    tag_file = namespace["tag_file"]

    def where(pairs, tagger):
        from threadpoolctl import threadpool_info

        text = tag_file(pairs, tagger, "slash")[0]
        blas = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
        return [(os.getpid(), id(tagger), blas, text)]

    lines = [f"they fish {i}\n" for i in range(40)]
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster):
        bag = db.from_sequence([(line, "x.txt") for line in lines], npartitions=8)
        seen = bag.map_partitions(where, tagger).compute()
    assert len(seen) == 8 and os.getpid() not in {pid for pid, *_ in seen}
    for pid in {pid for pid, *_ in seen}:
        assert len({tagger_id for p, tagger_id, *_ in seen if p == pid}) == 1  # read once in that process
    assert all(blas == [1] for _, _, blas, _ in seen)
    assert "".join(text for *_, text in seen) == "".join(tagger.tag_lines(lines))


# -- Spark --------------------------------------------------------------------------------------

def test_the_spark_recipe_writes_what_rnncli_tag_prints(tmp_path, runner):
    try:
        import pyspark  # noqa: F401
    except ImportError:
        pytest.skip("pyspark is not installed (pip install '.[spark]'; it needs Java too)")
    if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
        pytest.skip("no Java runtime (java on PATH or $JAVA_HOME), which pyspark needs")
    needs("threadpoolctl")
    script = tmp_path / "tag_spark.py"
    script.write_text(recipe("tag_spark.py"), encoding="utf-8")
    files = inputs(tmp_path / "in")
    whole = tmp_path / "corpus.txt"  # one file, read by Spark in three partitions
    whole.write_bytes(b"".join(p.read_bytes().replace(b"\xef\xbb\xbf", b"") + b"\n" for p in files))
    r = run(script, tmp_path / "out", whole, 3, timeout=300)
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    parts = sorted((tmp_path / "out").glob("part-*"))
    status, expected, _ = rnncli_tag(runner, whole)
    assert len(parts) >= 3 and status == 0 and b"".join(p.read_bytes() for p in parts) == expected


def test_the_test_extra_brings_what_the_dask_recipe_needs():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11 and later
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    assert set(extras["dask"]) <= set(extras["test"])
    assert not any(r.startswith("pyspark") for r in extras["test"])  # Spark's test runs where it is installed
