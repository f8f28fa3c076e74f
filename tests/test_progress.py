"""Long work shows where it is: the time left in training."""

import pytest

from rnncli.progress import Estimate, duration, left_text


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
