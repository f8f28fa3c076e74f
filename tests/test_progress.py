"""Long work shows where it is: the time left in training, a reading bar for `rnncli tag` on a terminal."""

import os
import subprocess
import sys
import threading

import pytest

from rnncli.progress import Estimate, ReadingBar, duration, left_text

from conftest import ROOT, read_terminal


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_time_left_in_the_epoch_and_to_the_last_epoch():
    clock = Clock()
    estimate = Estimate(clock)
    assert estimate.batch(0, 5, 1, 10) == (None, None)  # the first report: no pace yet
    clock.now += 4.0  # 2 s a batch
    epoch_left, run_left = estimate.batch(0, 5, 3, 10)
    assert epoch_left == pytest.approx(14.0)  # 7 batches to go
    assert run_left == pytest.approx(14.0 + 4 * 20.0)  # and 4 epochs of 10 batches
    clock.now += 14.0
    # A whole epoch, dev scoring included, is the pace from now on.
    assert estimate.epoch(0, 5, 25.0) == pytest.approx(4 * 25.0)
    clock.now += 10.0  # the next epoch goes faster: 2 batches in 10 s
    epoch_left, run_left = estimate.batch(1, 5, 2, 10)
    assert epoch_left == pytest.approx(40.0) and run_left == pytest.approx(40.0 + 3 * 25.0)
    assert estimate.epoch(4, 5, 30.0) == 0  # the last epoch: nothing left
    assert left_text(epoch_left, run_left, 5) == "0:40 left, 1:55 to epoch 5"
    assert left_text(None, None, 5) == ""


def test_durations_read_as_a_clock():
    assert [duration(s) for s in (0, 9.6, 61, 3599.4, 3600, 37230)] == ["0:00", "0:10", "1:01", "59:59", "1:00:00",
                                                                       "10:20:30"]


def test_an_epoch_line_says_the_time_left_only_when_it_is_worth_saying(capsys):
    from rnncli.progress import WORTH_SAYING, TrainingDisplay
    from rnncli.train import Progress

    TrainingDisplay().update(Progress("epoch", 0, 10, 5, 5, 0.5, None, WORTH_SAYING))  # 9 epochs like it to go
    TrainingDisplay().update(Progress("epoch", 0, 10, 5, 5, 0.5, None, 0.01))  # a short run's epochs
    first, second = capsys.readouterr().err.splitlines()
    assert first.endswith("about 1:30 left") and first.startswith("epoch 1/10")
    assert "left" not in second


def test_the_reading_bar_draws_a_few_times_a_second_at_most():
    clock = Clock()
    bar = ReadingBar(1000, per_second=4, clock=clock)
    drawn = []
    bar.progress.update = lambda task, **kw: drawn.append(kw["completed"])
    for done in range(0, 1000, 10):
        clock.now += 0.01
        bar.read(done)
    assert len(drawn) == 4 and drawn[0] == 0  # one second of reading: four pictures


def _tag_with_stderr_on(where: str, tmp_path, env: dict) -> tuple[str, bytes]:
    """Run `rnncli tag -i FILE` with stdout a pipe and stderr a pseudo-terminal ('pty') or a pipe:
    (stdout, what reached stderr)."""
    import pty

    text = tmp_path / "text.txt"
    text.write_text("they fish in the river\n" * 3000, encoding="utf-8")
    env = {**{k: v for k, v in os.environ.items() if k not in ("CI", "TERM", "NO_COLOR")}, **env,
           "PYTHONPATH": str(ROOT)}
    args = [sys.executable, "-m", "rnncli", "tag", "-i", str(text), "--model", "tutorial"]
    if where == "pipe":
        r = subprocess.run(args, capture_output=True, env=env, timeout=120)
        return r.stdout.decode(), r.stderr
    main, side = pty.openpty()
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=side, env=env)
    os.close(side)
    seen = []

    def drain():  # the terminal must be read as it is written, or the writer waits
        seen.append(read_terminal(main))

    reader = threading.Thread(target=drain)
    reader.start()
    out = p.stdout.read().decode()
    p.wait(timeout=120)
    reader.join(timeout=10)
    os.close(main)
    assert p.returncode == 0
    return out, b"".join(seen)


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_a_reading_bar_on_a_terminal_only_and_never_in_the_output(tmp_path):
    out, err = _tag_with_stderr_on("pty", tmp_path, {"TERM": "xterm"})
    assert "reading" in err.decode() and "/69.0 kB" in err.decode()  # bytes read of the file's size
    assert out == "they/nn fish/v in/prep the/det river/nn\n" * 3000 and "\x1b" not in out
    for env in ({"TERM": "dumb"}, {"TERM": "xterm", "CI": "true"}):  # a terminal no one watches
        out_there, err = _tag_with_stderr_on("pty", tmp_path, env)
        assert err == b"" and out_there == out
    out_there, err = _tag_with_stderr_on("pipe", tmp_path, {"TERM": "xterm"})
    assert err == b"" and out_there == out
