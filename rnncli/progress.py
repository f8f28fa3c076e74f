"""What long commands show while they work, on stderr: for ``rnncli train`` a progress bar with
the time left and one line per epoch; for ``rnncli tag`` on a terminal, the share of the input
read (``ReadingBar``)."""

from __future__ import annotations

import math
import time
from pathlib import Path

from rich.console import Console
from rich.progress import (BarColumn, DownloadColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)

from .errors import RnncliError, shown
from .output import MIN_WIDTH
from .render import history_table


NARROWEST = 20  # columns: no terminal is narrower; a width of 0 (COLUMNS=0) would print no word


class TrainingDisplay:
    """watch: a sentence to tag after each epoch (``--watch``), as ``backprop`` reads one; its
    tags are checked against the network's, known from the first epoch on. warn: how to report
    a sentence that cannot be watched."""

    def __init__(self, quiet: bool = False, watch: str | None = None, warn=None):
        # The terminal's own width: the bar redraws its line in place, which a line wider than the
        # terminal, wrapped, defeats. Tables are printed at least MIN_WIDTH wide (``_summary``).
        self.console = Console(stderr=True, highlight=False, markup=False, quiet=quiet)
        self.console.width = max(self.console.width, NARROWEST)  # COLUMNS=0 would print nothing at all
        self.watch, self.watched, self.warn = watch, None, warn
        self.progress = Progress(TextColumn("epoch {task.fields[epoch]}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("loss {task.fields[loss]:.4f}"), TimeElapsedColumn(),
                                 TextColumn("{task.fields[left]}"), console=self.console, transient=True)
        self.estimate = Estimate()
        self.task = None
        self.live = False

    def __enter__(self) -> TrainingDisplay:
        return self  # the bar starts with the first batch: nothing is drawn while corpora are read

    def __exit__(self, *exc) -> None:
        if self.live:
            try:
                self.progress.__exit__(*exc)
            except OSError:  # the terminal went away (SIGHUP): the error on its way says more
                if exc[0] is None:
                    raise

    def update(self, p) -> None:
        try:
            self._update(p)
        except OSError:  # stderr cannot be written (a full disk): the training is worth more than its log
            self._silence()

    def _silence(self) -> None:
        """Nothing more is drawn or printed; the run goes on to its model file."""
        self.console.quiet = True
        if self.live:
            self.live = False
            try:
                self.progress.stop()
            except OSError:
                pass

    def _update(self, p) -> None:
        if p.kind == "start":  # the tag set is known: a --watch that cannot be watched is said now
            if self.watch is not None and self.watched is None:
                self._parse_watched(p.model)
        elif p.kind == "batch":
            if not self.live:
                self.progress.__enter__()
                self.live = True
            left = self.estimate.batch(p.epoch, p.epochs, p.batch, p.batches)
            if self.task is None:
                self.task = self.progress.add_task("", total=p.batches, epoch=f"{p.epoch + 1}/{p.epochs}", loss=p.loss,
                                                   left="")
            self.progress.update(self.task, completed=p.batch, loss=p.loss, left=left_text(*left, p.epochs))
        elif p.kind == "epoch":
            if self.task is not None:
                self.progress.remove_task(self.task)
                self.task = None
            dev = "" if p.dev_accuracy is None else f"  dev accuracy {100 * p.dev_accuracy:.2f}%"
            mark = "  *" if p.best and p.dev_accuracy is not None else ""
            run_left = self.estimate.epoch(p.epoch, p.epochs, p.seconds)
            # A wait of seconds is not news, and short runs (the docs' examples) keep their lines.
            left = f"  about {duration(run_left)} left" if run_left >= WORTH_SAYING else ""
            # soft_wrap: a log line stays one line, however long a path or narrow a terminal
            self.console.print(f"epoch {p.epoch + 1}/{p.epochs}  loss {p.loss:.4f}{dev}  {p.seconds:.1f}s{mark}{left}",
                               soft_wrap=True)
            if self.watch is not None and p.model is not None and not self.console.quiet:
                self._show_watched(p.model)

    def _parse_watched(self, model) -> None:
        from .lesson import parse_sentence  # only `train --watch` needs it, not `tag`'s reading bar

        try:
            self.watched = parse_sentence(self.watch, model.tags, owner="the training data")
        except RnncliError as e:
            self.watch = None
            (self.warn or self.console.print)(f"--watch: {e}; not watched")

    def _show_watched(self, model) -> None:
        if self.watched is None:  # not watched: said at the start (``_parse_watched``)
            return
        self.console.print(watch_line(model, *self.watched), soft_wrap=True)  # a log line stays one line

    def summary(self, tagger, path: Path) -> None:
        try:
            self._summary(tagger, path)
        except OSError:  # the model is written: a summary that cannot be shown loses nothing
            self._silence()

    def _summary(self, tagger, path: Path) -> None:
        t = tagger.record.training
        self.console.print(history_table(t.history, t.best_epoch), width=max(self.console.width, MIN_WIDTH))
        dev = "" if t.dev_accuracy is None else f", dev accuracy {100 * t.dev_accuracy:.2f}%"
        self.console.print(f"wrote {shown(path)}: {tagger.shape.n_params():,} parameters, "
                           f"{len(tagger.vocab.tables['word']) - 1:,} words, {len(tagger.tags)} tags, "
                           f"best epoch {t.best_epoch}{dev}", soft_wrap=True)
        if t.unlearnable_dev_tags:
            self.console.print("dev tags never seen in training (unlearnable): " + " ".join(t.unlearnable_dev_tags),
                               soft_wrap=True)


def watch_line(model, words: list[str], targets: list[str] | None) -> str:
    """The watched sentence as the network tags it now, and its loss against the targets."""
    from .lesson import sentence_loss  # only `train --watch` needs it, not `tag`'s reading bar

    r = sentence_loss(model, words, targets)
    against = "the tags given" if targets is not None else "its own tags"
    return f"  watch: {' '.join(f'{w}/{t}' for w, t in zip(words, r['tags']))}  L {r['loss']:.4f} (against {against})"


WORTH_SAYING = 10.0  # seconds left from which an epoch's line says how long the run has to go


class Estimate:
    """The time left, from the pace so far: of this epoch from its batches, of the run up to the
    last of its epochs (early stopping, ``--patience``, can end it sooner). ``clock``: seconds,
    monotonic; a test gives its own."""

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.durations: list[float] = []  # each finished epoch's seconds, dev scoring included
        self.started = None  # (clock, batches done) where this epoch's pace is measured from

    def batch(self, epoch: int, epochs: int, batch: int, batches: int) -> tuple[float | None, float | None]:
        """(seconds left in the epoch, in the run), or None while there is no pace to go by."""
        now = self.clock()
        if self.started is None:  # the first report of a run: the pace is measured from here
            self.started = (now, batch)
        since, done = self.started
        if batch <= done:
            return None, None
        per_batch = (now - since) / (batch - done)
        epoch_left = per_batch * (batches - batch)
        # Whole epochs are timed once there is one (they include scoring dev); until then, by the batches.
        per_epoch = sum(self.durations) / len(self.durations) if self.durations else per_batch * batches
        return epoch_left, epoch_left + (epochs - epoch - 1) * per_epoch

    def epoch(self, epoch: int, epochs: int, seconds: float) -> float:
        """After an epoch of ``seconds``: the seconds the remaining epochs should take."""
        self.durations.append(seconds)
        self.started = (self.clock(), 0)  # the next epoch's batches start now
        return (epochs - epoch - 1) * sum(self.durations) / len(self.durations)


def duration(seconds: float) -> str:
    """12:05, or 1:02:03 from an hour on."""
    minutes, s = divmod(round(seconds), 60)
    hours, m = divmod(minutes, 60)
    return f"{hours}:{m:02}:{s:02}" if hours else f"{m}:{s:02}"


def left_text(epoch_left: float | None, run_left: float | None, epochs: int) -> str:
    if epoch_left is None:
        return ""
    return f"{duration(epoch_left)} left, {duration(run_left)} to epoch {epochs}"


class ReadingBar:
    """The share of the input read, of ``total`` bytes, drawn on stderr at most ``per_second``
    times a second by the reader's own calls (no thread): ``rnncli tag`` on a terminal."""

    def __init__(self, total: int, per_second: float = 4.0, clock=time.monotonic):
        self.progress = Progress(TextColumn("reading"), BarColumn(), DownloadColumn(), TimeRemainingColumn(),
                                 console=Console(stderr=True, highlight=False, markup=False),
                                 transient=True, auto_refresh=False,
                                 redirect_stdout=False)  # stdout carries the results; stderr is the bar's own
        self.task = self.progress.add_task("", total=total)
        self.gap, self.clock, self.shown = 1.0 / per_second, clock, -math.inf

    def __enter__(self) -> ReadingBar:
        self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.stop()  # transient: the bar goes, the terminal is as it was

    def read(self, done: int) -> None:
        """``done`` bytes of the input read so far."""
        now = self.clock()
        if now - self.shown >= self.gap:
            self.shown = now
            self.progress.update(self.task, completed=done, refresh=True)
