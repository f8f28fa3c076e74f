"""Hard to break, part two: hostile model files, signals, dead workers, names that are not text.

Each case ends in one line on stderr naming the file (and line), a non-zero status, no
traceback, within bounded memory, and with nothing lost: no output cut short without a word,
no file half-written, no temporary file left for a later run to trip over.
"""

import json
import os
import resource
import signal
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

from rnncli import modelfile
from rnncli.cli import app
from rnncli.errors import ModelFileError, TaggingError, shown
from rnncli.tagger import Tagger

from conftest import PREVIOUS_MODEL, RNNCLI, ROOT, one_line_error

TUTORIAL = ROOT / "sample_corpora" / "tutorial.txt"
LINUX_PROC = Path("/proc/self/task").is_dir()


def rewritten(tutorial_model, tmp_path, change, name="hostile.npz"):
    """The tutorial model with its metadata JSON text put through ``change``."""
    arrays, meta = modelfile.load(tutorial_model)
    text = change(json.dumps(meta))
    path = tmp_path / name
    np.savez(path, metadata=np.frombuffer(text.encode(), np.uint8), **arrays)
    return path


def write_zip(path: Path, members: list[tuple[str, bytes, int, int, int]]) -> None:
    """A zip archive by hand: (name, data as stored, method, CRC-32, unpacked size) per member,
    so that a member can hold a deflate stream no library would take the time to make."""
    entries = []
    with open(path, "wb") as f:
        for name, data, method, crc, size in members:
            offset, n = f.tell(), name.encode()
            f.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0x21, crc, len(data), size, len(n), 0))
            f.write(n + data)
            entries.append((n, method, crc, len(data), size, offset))
        directory = f.tell()
        for n, method, crc, packed, size, offset in entries:
            f.write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0x21, crc, packed, size,
                                len(n), 0, 0, 0, 0, 0, offset) + n)
        end = f.tell()
        f.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), end - directory, directory, 0))


def stored_members(model: Path) -> list[tuple[str, bytes, int, int, int]]:
    import zipfile

    with zipfile.ZipFile(model) as z:
        return [(i.filename, z.read(i), 0, i.CRC, i.file_size) for i in z.infolist()]


def zip_bomb_member(name: str, gib: int = 2) -> tuple[str, bytes, int, int, int]:
    """A .npy member that inflates to ``gib`` GiB of zeros from a few MB of deflate data."""
    count = gib * 2**30 // 8
    header = b"\x93NUMPY\x01\x00"
    text = f"{{'descr': '<f8', 'fortran_order': False, 'shape': ({count},), }}".encode()
    text += b" " * (128 - len(header) - 2 - len(text) - 1) + b"\n"
    head = header + struct.pack("<H", len(text)) + text
    block = bytes(2**24)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    start = deflate.compress(head) + deflate.flush(zlib.Z_FULL_FLUSH)
    # After a full flush a block depends on nothing before it: one compressed block of zeros,
    # repeated, is a valid stream of many.
    repeat = deflate.compress(block) + deflate.flush(zlib.Z_FULL_FLUSH)
    blocks = count * 8 // len(block)
    data = start + repeat * blocks + deflate.flush(zlib.Z_FINISH)
    crc = zlib.crc32(head)
    for _ in range(blocks):
        crc = zlib.crc32(block, crc)
    return name, data, 8, crc, len(head) + count * 8


def limited_memory(gib: float):
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (int(gib * 2**30), int(gib * 2**30)))
    return limit


# -- a worker that dies ------------------------------------------------------------------------

def test_a_worker_that_dies_ends_the_output_after_whole_chunks_with_one_error(tutorial_model, monkeypatch):
    """A chunk kills its worker outright (as the out-of-memory killer would): the output is every
    chunk before the failure, in order, and the error says where it stops."""
    from io import StringIO

    from rnncli import stream

    lines = [("in.txt", n, "I eat apple" if n % 7 else "they fish") for n in range(1, 3001)]
    expected = StringIO()
    tagger = Tagger.load(tutorial_model)
    stream.tag_stream(tagger, lines, expected, chunk_chars=2000)
    real = stream.ChunkTagger.__call__

    def deadly(self, chunk):
        if any(line == "poison" for line in chunk.lines):
            os.kill(os.getpid(), signal.SIGKILL)
        return real(self, chunk)

    monkeypatch.setattr(stream.ChunkTagger, "__call__", deadly)
    poisoned = list(lines)
    poisoned[2000] = ("in.txt", 2001, "poison")
    out = StringIO()
    with pytest.raises(TaggingError) as e:
        stream.tag_stream(tagger, poisoned, out, chunk_chars=2000, jobs=2)
    message = str(e.value)
    assert message.startswith("a worker process ended abruptly (killed, or out of memory); the output stops after ")
    written = out.getvalue()
    stop = message.rsplit(" ", 1)[1]
    n = 0 if stop == "start" else int(stop.split(":")[1])
    assert 0 < n <= 2000  # some chunks went out, none from the poisoned one on
    assert written == "".join(expected.getvalue().splitlines(keepends=True)[:n])


@pytest.mark.skipif(not LINUX_PROC, reason="finds the worker processes in Linux's /proc")
def test_kill_9_on_a_tagging_worker_is_an_error_not_a_closed_pipe(tutorial_model, tmp_path):
    pair = "I eat apple\nthey fish in the river\n"
    big = tmp_path / "big.txt"
    big.write_text(pair * 300_000)
    # What the whole input tags to, without tagging it all: the same two lines, over and over.
    one = subprocess.run([*RNNCLI, "tag", "--model", str(tutorial_model)], input=pair * 1000,
                         capture_output=True, text=True, timeout=60).stdout
    assert one.count("\n") == 2000 and one == one[:one.index("\n", one.index("\n") + 1) + 1] * 1000
    full = one[:len(one) // 1000] * 300_000
    out = tmp_path / "out.txt"
    with open(out, "w") as f:
        proc = subprocess.Popen([*RNNCLI, "tag", "-j", "2", "-i", str(big), "--model", str(tutorial_model)],
                                stdout=f, stderr=subprocess.PIPE, text=True)
        try:
            children: list[str] = []
            deadline = time.monotonic() + 60
            while not (children and out.stat().st_size > 0):
                assert time.monotonic() < deadline and proc.poll() is None, "no worker came to work"
                time.sleep(0.05)
                children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
            os.kill(int(children[0]), signal.SIGKILL)
            _, err = proc.communicate(timeout=120)
        finally:
            proc.kill()
    assert proc.returncode == 1, err
    assert err.count("\n") == 1 and err.startswith("rnncli: error: a worker process ended abruptly"), err
    written = out.read_text()
    stop = int(err.rstrip().rsplit(":", 1)[1])
    assert written == "".join(full.splitlines(keepends=True)[:stop])
    assert written != full


# -- model files that would crash or exhaust the loader -------------------------------------------

@pytest.mark.parametrize("change, message", [
    (lambda t: t[:-1] + ',"deep":' + "[" * 100_000 + "]" * 100_000 + "}", "damaged metadata (nested too deeply)"),
    (lambda t: t[:-1] + ',"big":' + "9" * 5000 + "}", "damaged metadata (Exceeds the limit (4300 digits)"),
    (lambda t: t.replace('"n_hidden": 64', '"n_hidden": ' + str(2**70)), "damaged metadata (ValueError: n_hidden must"),
])
def test_metadata_built_to_crash_the_parser_is_one_line(runner, tutorial_model, tmp_path, change, message):
    path = rewritten(tutorial_model, tmp_path, change)
    err = one_line_error(runner.invoke(app, ["tag", "x", "--model", str(path)]))
    assert err.startswith(f"rnncli: error: {path}: {message}")


@pytest.mark.parametrize("shape", [(2**40, 2**40), (2**62, 2**62, 2**62)])
def test_an_array_header_declaring_more_than_2_64_elements_is_one_line(runner, tutorial_model, tmp_path, shape):
    members = stored_members(tutorial_model)
    header = f"{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}".encode()
    header += b" " * (-(10 + len(header) + 1) % 64) + b"\n"
    data = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + bytes(64)
    members = [m if m[0] != "W.npy" else ("W.npy", data, 0, zlib.crc32(data), len(data)) for m in members]
    path = tmp_path / "huge-header.npz"
    write_zip(path, members)
    err = one_line_error(runner.invoke(app, ["tag", "x", "--model", str(path)]))
    assert err.startswith(f"rnncli: error: {path}: array W has shape ")


def test_a_zip_bomb_member_the_metadata_never_names_is_never_unpacked(tutorial_model, tmp_path):
    path = tmp_path / "bomb.npz"
    write_zip(path, [*stored_members(tutorial_model), zip_bomb_member("extra.npy")])
    assert path.stat().st_size < 8 * 2**20  # a few MB that would unpack to 2 GiB
    r = subprocess.run([*RNNCLI, "tag", "I eat apple", "--model", str(path)], capture_output=True, text=True,
                       timeout=120, preexec_fn=limited_memory(1.0))
    assert (r.returncode, r.stdout, r.stderr) == (0, "I/nn eat/v apple/nn\n", "")


def test_a_zip_bomb_where_an_array_belongs_is_refused_before_it_is_unpacked(runner, tutorial_model, tmp_path):
    members = [m for m in stored_members(tutorial_model) if m[0] != "U.npy"]
    path = tmp_path / "bomb.npz"
    write_zip(path, [*members, zip_bomb_member("U.npy", gib=1)])
    err = one_line_error(runner.invoke(app, ["tag", "x", "--model", str(path)]))
    assert err == f"rnncli: error: {path}: damaged (member U would unpack to 1,073,741,952 bytes)\n"


def test_inspect_shows_a_huge_metadata_string_shortened(runner, tutorial_model, tmp_path):
    path = rewritten(tutorial_model, tmp_path, lambda t: t[:-1] + ',"attribution":"' + "x" * 20_000_000 + '"}')
    r = runner.invoke(app, ["inspect", str(path)])
    assert r.exit_code == 0, r.stderr
    assert "x" * 2000 + "...(20,000,000characters)" in r.stdout.replace("\n", "").replace(" ", "")
    assert len(r.stdout) < 50_000
    r = runner.invoke(app, ["inspect", str(path), "--json"])  # for scripts: everything, as it is
    assert json.loads(r.stdout)["attribution"] == "x" * 20_000_000


@pytest.mark.parametrize("tag", ["NO\nUN", "NO\rUN", "VE\x1b[2JRB", "TWO WORDS", "", "TAB\tBED", "LINE\u2028SEP"])
def test_a_tag_that_is_not_one_printable_word_is_refused_on_load(runner, tutorial_model, tmp_path, tag):
    arrays, meta = modelfile.load(tutorial_model)
    meta["tags"][0] = tag
    path = tmp_path / "tags.npz"
    modelfile.save(path, arrays, meta)
    err = one_line_error(runner.invoke(app, ["tag", "I eat apple", "--model", str(path)]))
    assert err.startswith(f"rnncli: error: {path}: tag {tag!r} is not one word of printable text")


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_model_that_is_not_a_regular_file_is_refused_without_blocking(tmp_path, kind):
    if kind == "fifo":
        path = tmp_path / "model.fifo"
        os.mkfifo(path)  # nothing will ever write to it: opening it to read would wait for ever
    else:
        path = Path("/dev/null")
    r = subprocess.run([*RNNCLI, "tag", "x", "--model", str(path)], capture_output=True, text=True, timeout=60)
    assert (r.returncode, r.stderr) == (1, f"rnncli: error: {path}: not a regular file (a model file is read "
                                           f"from a file)\n")


@pytest.mark.parametrize("where, value", [
    ("rng_state", {"bit_generator": "PCG64", "state": "no"}),
    ("rng_state", [1, 2]),
    ("rng_state", {"bit_generator": "MT19937", "state": {"key": [1], "pos": 0}}),
    ("epoch", "3"),
    ("epoch", 5),  # more epochs than its history holds
    ("best_epoch", -1),
    ("arrays", ["params.U", "elsewhere.x"]),
    ("config", {"hidden": "64"}),
    ("config", {"optimizer": "lbfgs"}),
    ("history", [{"epoch": 1}]),
    ("data", 7),
])
def test_a_checkpoint_with_a_damaged_record_is_one_line(runner, tmp_path, monkeypatch, where, value):
    from test_robustness import _interrupted_checkpoint

    ckpt = _interrupted_checkpoint(runner, tmp_path, monkeypatch)
    arrays, meta = modelfile.load(ckpt)
    meta[where] = {**meta[where], **value} if where == "config" else value
    modelfile.save(ckpt, arrays, meta)
    r = runner.invoke(app, ["train", str(TUTORIAL), "-o", str(tmp_path / "m.npz"), "--hidden", "8", "-q",
                            "--resume", str(ckpt)])
    assert one_line_error(r).startswith(f"rnncli: error: {ckpt}: damaged metadata (")


def test_a_checkpoint_of_another_version_is_refused_saying_so(runner, tmp_path, monkeypatch):
    from test_robustness import _interrupted_checkpoint

    ckpt = _interrupted_checkpoint(runner, tmp_path, monkeypatch)
    arrays, meta = modelfile.load(ckpt)
    meta["checkpoint_version"] = 1
    modelfile.save(ckpt, arrays, meta)
    r = runner.invoke(app, ["train", str(TUTORIAL), "-o", str(tmp_path / "m.npz"), "--resume", str(ckpt)])
    assert one_line_error(r) == (f"rnncli: error: {ckpt}: a checkpoint of another version of rnncli, which this "
                                 f"one cannot resume; train again without --resume\n")


def test_a_checkpoint_array_of_the_wrong_kind_is_one_line(runner, tmp_path, monkeypatch):
    from test_robustness import _interrupted_checkpoint

    ckpt = _interrupted_checkpoint(runner, tmp_path, monkeypatch)
    arrays, meta = modelfile.load(ckpt)
    arrays["optimizer.m.W"] = arrays["optimizer.m.W"].astype(np.int64)
    modelfile.save(ckpt, arrays, meta)
    r = runner.invoke(app, ["train", str(TUTORIAL), "-o", str(tmp_path / "m.npz"), "--hidden", "8", "-q",
                            "--resume", str(ckpt)])
    assert one_line_error(r) == f"rnncli: error: {ckpt}: damaged checkpoint (array optimizer.m.W is int64)\n"


# -- signals --------------------------------------------------------------------------------------

def test_sigterm_during_training_saves_a_checkpoint_and_leaves_the_output(runner, tmp_path):
    from test_robustness import signalled_training

    status, rest, args = signalled_training(tmp_path, signal.SIGTERM, 2, "--seed", "2")
    out = tmp_path / "m.npz"
    ckpt = tmp_path / "m.ckpt.npz"
    assert status == 128 + signal.SIGTERM, rest
    assert "rnncli: error: terminated (SIGTERM) in epoch " in rest and "Traceback" not in rest
    assert f"not written; checkpoint saved to {ckpt}; continue with the same command and --resume {ckpt}" in rest
    assert out.read_bytes() == PREVIOUS_MODEL
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.ckpt.npz", "m.npz"]  # no temporary file left
    r = runner.invoke(app, [*args, "--epochs", "3", "--resume", str(ckpt), "-q"])
    assert r.exit_code == 0, r.stderr
    assert len(Tagger.load(out).record.training.history) == 3


@pytest.mark.parametrize("number, word", [(signal.SIGTERM, "terminated (SIGTERM)"), (signal.SIGINT, "interrupted")])
def test_a_signal_while_the_model_is_written_leaves_the_old_file_and_no_temporary(runner, tmp_path, monkeypatch,
                                                                                  number, word):
    out = tmp_path / "m.npz"
    out.write_bytes(PREVIOUS_MODEL)
    real = np.savez

    def signalled_mid_write(f, **arrays):
        f.write(b"PK\x03\x04 half an archive")
        os.kill(os.getpid(), number)  # delivered here, in the middle of writing
        real(f, **arrays)

    monkeypatch.setattr(np, "savez", signalled_mid_write)
    r = runner.invoke(app, ["train", str(TUTORIAL), "--epochs", "1", "--hidden", "8", "-q", "-o", str(out)])
    ckpt = tmp_path / "m.ckpt.npz"  # the trained run, kept until its model is written
    assert one_line_error(r, 128 + number) == (f"rnncli: error: {word} while writing {out}; it is unchanged; the "
                                               f"trained run is kept in {ckpt}: write the model with the same "
                                               f"command and --resume {ckpt}\n")
    assert out.read_bytes() == PREVIOUS_MODEL
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.ckpt.npz", "m.npz"]  # no temporary file


def test_a_write_killed_outright_leaves_a_temporary_that_the_next_write_removes(tmp_path):
    target = tmp_path / "m.npz"
    code = ("import os, signal, numpy as np; from rnncli import modelfile\n"
            "def killed(f, **a):\n    f.write(b'PK half'); f.flush(); os.kill(os.getpid(), signal.SIGKILL)\n"
            f"np.savez = killed; modelfile.save({str(target)!r}, {{'a': np.zeros(3)}}, {{}})")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert r.returncode == -signal.SIGKILL
    (stale,) = [p.name for p in tmp_path.iterdir()]
    assert stale.startswith(".m.npz.") and stale.endswith(".tmp")
    busy = tmp_path / f".m.npz.{os.getpid()}.live.tmp"  # a writer still running: left alone
    busy.write_bytes(b"")
    modelfile.save(target, {"a": np.ones(3)}, {"x": 1})
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([busy.name, "m.npz"])
    assert modelfile.load(target)[1]["x"] == 1


# -- inputs that are not text ------------------------------------------------------------------------

@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_binary_input_to_tag_is_refused_naming_the_file_and_line(tutorial_model):
    r = subprocess.run([*RNNCLI, "tag", "-i", "/dev/zero", "--model", str(tutorial_model)], capture_output=True,
                       text=True, timeout=60, preexec_fn=limited_memory(1.0))
    assert (r.returncode, r.stdout, r.stderr) == (1, "", "rnncli: error: /dev/zero:1: binary data (a NUL byte), not text\n")


def test_a_nul_byte_in_text_to_tag_is_refused_after_the_lines_before_it(runner, tutorial_model, tmp_path):
    path = tmp_path / "in.txt"
    path.write_bytes(b"I eat apple\nthey\x00fish\n")
    r = runner.invoke(app, ["tag", "-i", str(path), "--model", str(tutorial_model)])
    assert one_line_error(r) == f"rnncli: error: {path}:2: binary data (a NUL byte), not text\n"
    assert r.stdout == "I/nn eat/v apple/nn\n"


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_line_over_the_limit_is_refused_after_everything_before_it(tutorial_model, tmp_path, jobs):
    from rnncli.corpus import MAX_LINE

    path = tmp_path / "in.txt"
    with open(path, "w") as f:
        f.write("I eat apple\n" * 3 + "apple " * (MAX_LINE // 6 + 1) + "\nthey fish\n")
    r = subprocess.run([*RNNCLI, "tag", "-j", jobs, "-i", str(path), "--model", str(tutorial_model)],
                       capture_output=True, text=True, timeout=120)
    assert (r.returncode, r.stdout) == (1, "I/nn eat/v apple/nn\n" * 3)
    assert r.stderr == f"rnncli: error: {path}:4: line longer than 10,485,760 bytes; not read\n"


def test_a_line_of_exactly_the_limit_is_read(tutorial_model, tmp_path):
    from rnncli.corpus import MAX_LINE

    path = tmp_path / "in.txt"
    path.write_bytes(b"a" * MAX_LINE + b"\r\n")
    r = subprocess.run([*RNNCLI, "tag", "--pretokenized", "-i", str(path), "--model", str(tutorial_model)],
                       capture_output=True, timeout=120)
    assert r.returncode == 0 and r.stdout.count(b"\n") == 1, r.stderr


# -- names that are not plain text ---------------------------------------------------------------------

@pytest.mark.parametrize("name", ["two\nlines.txt", "clear\x1b[2J\x1b]0;title\x07.txt", "tab\there.txt"])
@pytest.mark.parametrize("command", ["tag", "train", "eval", "model"])
def test_file_names_with_control_characters_are_quoted_in_messages(runner, tutorial_model, tmp_path, name, command):
    path = tmp_path / name  # never created: each command says it is missing
    args = {"tag": ["tag", "-i", str(path), "--model", str(tutorial_model)],
            "train": ["train", str(path), "-o", str(tmp_path / "m.npz")],
            "eval": ["eval", str(path), "--model", str(tutorial_model)],
            "model": ["tag", "x", "--model", str(path)]}[command]
    err = one_line_error(runner.invoke(app, args))
    assert shown(path) in err and "\x1b" not in err and "\t" not in err
    assert shown(path).startswith("$'") and "\\n" in shown("a\nb") and "\\e" in shown("\x1b")


def test_a_name_that_is_not_utf8_is_shown_with_its_bytes_escaped(tmp_path):
    name = os.fsdecode(b"caf\xe9.npz")
    r = subprocess.run([*RNNCLI, "tag", "x", "--model", str(tmp_path / name)], capture_output=True, timeout=60)
    assert r.returncode == 1
    assert r.stderr == b"rnncli: error: $'" + os.fsencode(str(tmp_path)) + b"/caf\\xe9.npz': no such model file\n"


def test_an_error_about_a_model_named_by_the_environment_says_so(runner, tmp_path):
    missing = tmp_path / "gone.npz"
    r = runner.invoke(app, ["tag", "x"], env={"RNNCLI_MODEL": str(missing)})
    assert one_line_error(r) == f"rnncli: error: {missing} (from $RNNCLI_MODEL): no such model file\n"
    r = runner.invoke(app, ["tag", "x", "--model", str(missing)], env={"RNNCLI_MODEL": str(missing)})
    assert one_line_error(r) == f"rnncli: error: {missing}: no such model file\n"  # --model is not the variable


def test_the_loader_names_the_file_as_it_is_told(tutorial_model, tmp_path):
    path = tmp_path / "x.npz"
    path.write_bytes(b"PK\x03\x04")
    with pytest.raises(ModelFileError, match=r"^the name given: damaged"):
        Tagger.load(path, "the name given")


def test_inspect_quotes_a_corpus_name_with_control_characters(runner, tutorial_model, tmp_path):
    arrays, meta = modelfile.load(tutorial_model)
    meta["corpus"] = ["clear\x1b[2J\nscreen.txt"]
    path = tmp_path / "named.npz"
    modelfile.save(path, arrays, meta)
    r = runner.invoke(app, ["inspect", str(path)])
    assert r.exit_code == 0 and "$'clear\\e[2J\\nscreen.txt'" in r.stdout and "\x1b" not in r.stdout


@pytest.mark.parametrize("command", ["unroll", "backprop"])
def test_tables_show_a_word_s_control_characters_as_escapes_and_json_keeps_them(runner, command):
    word = "red\x1b[31mword"
    r = runner.invoke(app, [command, word, "--pretokenized", "--model", "tutorial"])
    assert r.exit_code == 0, r.stderr
    assert "\x1b" not in r.stdout and "red\\e[31mword" in r.stdout
    r = runner.invoke(app, [command, word, "--pretokenized", "--model", "tutorial", "--json"])
    assert json.loads(r.stdout)["steps"][0]["word"] == word


def test_an_output_that_is_a_fifo_is_refused_and_a_link_is_written_through(runner, tmp_path, monkeypatch):
    import rnncli.train

    fifo = tmp_path / "model.fifo"
    os.mkfifo(fifo)
    monkeypatch.setattr(rnncli.train, "_train", lambda *a, **k: pytest.fail("trained before checking the output"))
    r = runner.invoke(app, ["train", str(TUTORIAL), "-o", str(fifo), "-q"])
    assert one_line_error(r) == f"rnncli: error: {fifo}: not a regular file; refusing to replace it with a file\n"
    assert fifo.is_fifo()
    real, link = tmp_path / "real.svg", tmp_path / "link.svg"
    link.symlink_to(real)
    r = runner.invoke(app, ["unroll", "they fish", "--model", "tutorial", "--svg", str(link)])
    assert r.exit_code == 0, r.stderr
    assert link.is_symlink() and real.read_text().startswith("<svg")


def test_a_stale_temporary_of_another_target_is_not_taken(tmp_path):
    other = tmp_path / ".a.5.999999.abcdefgh.tmp"  # a write to "a.5", not to "a"
    other.write_bytes(b"")
    modelfile.save(tmp_path / "a", {"x": np.zeros(2)}, {})
    assert other.exists()


@pytest.mark.skipif(not hasattr(signal, "SIGINT"), reason="needs SIGINT")
def test_ctrl_c_during_tag_with_jobs_is_an_interrupt_not_a_worker_failure(tutorial_model, tmp_path):
    big = tmp_path / "big.txt"
    big.write_text("I eat apple\nthey fish in the river\n" * 400_000)
    out = tmp_path / "out.txt"
    with open(out, "w") as f:
        proc = subprocess.Popen([*RNNCLI, "tag", "-j", "2", "-i", str(big), "--model", str(tutorial_model)],
                                stdout=f, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 60
            while out.stat().st_size == 0:
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.05)
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=120)
        finally:
            proc.kill()
    assert proc.returncode in (130, -signal.SIGINT), err
    assert "worker" not in err


def test_damaged_vocabularies_and_checkpoints_with_arrays_to_spare_are_one_line(runner, tutorial_model, tmp_path,
                                                                                 monkeypatch):
    from test_robustness import _interrupted_checkpoint

    path = rewritten(tutorial_model, tmp_path, lambda t: t.replace('"slots": ["word"]', '"slots": []'))
    err = one_line_error(runner.invoke(app, ["tag", "I eat", "--model", str(path)]))
    assert err.startswith(f"rnncli: error: {path}: damaged metadata (")
    ckpt = _interrupted_checkpoint(runner, tmp_path, monkeypatch)
    arrays, meta = modelfile.load(ckpt)
    arrays["params.Zextra"] = np.zeros(3, np.float32)
    meta["arrays"] = sorted(arrays)
    modelfile.save(ckpt, arrays, meta)
    r = runner.invoke(app, ["train", str(TUTORIAL), "-o", str(tmp_path / "m.npz"), "--hidden", "8", "-q",
                            "--resume", str(ckpt)])
    assert one_line_error(r) == (f"rnncli: error: {ckpt}: does not fit this run: it has params.Zextra, "
                                 "which this run has not\n")


def test_tag_lines_refuses_one_string_for_many_lines():
    import rnncli

    with pytest.raises(TypeError, match="an iterable of lines, not one str or bytes"):
        rnncli.load("tutorial").tag_lines("I eat apple")
