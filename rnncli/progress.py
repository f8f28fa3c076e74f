"""What ``rnncli train`` shows while it works: a progress bar and one line per epoch, on stderr."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .errors import shown
from .output import widened
from .render import history_table


class TrainingDisplay:
    """watch: a sentence to tag after each epoch (``--watch``), as ``backprop`` reads one; its
    tags are checked against the network's, known from the first epoch on. warn: how to report
    a sentence that cannot be watched."""

    def __init__(self, quiet: bool = False, watch: str | None = None, warn=None):
        self.console = widened(Console(stderr=True, highlight=False, markup=False, quiet=quiet))
        self.watch, self.watched, self.warn = watch, None, warn
        self.progress = Progress(TextColumn("epoch {task.fields[epoch]}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("loss {task.fields[loss]:.4f}"), TimeElapsedColumn(),
                                 console=self.console, transient=True)
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
        if p.kind == "batch":
            if not self.live:
                self.progress.__enter__()
                self.live = True
            if self.task is None:
                self.task = self.progress.add_task("", total=p.batches, epoch=f"{p.epoch + 1}/{p.epochs}", loss=p.loss)
            self.progress.update(self.task, completed=p.batch, loss=p.loss)
        elif p.kind == "epoch":
            if self.task is not None:
                self.progress.remove_task(self.task)
                self.task = None
            dev = "" if p.dev_accuracy is None else f"  dev accuracy {100 * p.dev_accuracy:.2f}%"
            mark = "  *" if p.best and p.dev_accuracy is not None else ""
            self.console.print(f"epoch {p.epoch + 1}/{p.epochs}  loss {p.loss:.4f}{dev}  {p.seconds:.1f}s{mark}")
            if self.watch is not None and p.model is not None and not self.console.quiet:
                self._show_watched(p.model)

    def _show_watched(self, model) -> None:
        from .backprop import parse_sentence
        from .errors import RnncliError

        if self.watched is None:
            try:
                self.watched = parse_sentence(self.watch, model.tags, owner="the training data")
            except RnncliError as e:
                self.watch = None
                (self.warn or self.console.print)(f"--watch: {e}; not watched")
                return
        self.console.print(watch_line(model, *self.watched))

    def summary(self, tagger, path: Path) -> None:
        t = tagger.record.training
        self.console.print(history_table(t.history, t.best_epoch))
        dev = "" if t.dev_accuracy is None else f", dev accuracy {100 * t.dev_accuracy:.2f}%"
        self.console.print(f"wrote {shown(path)}: {tagger.shape.n_params():,} parameters, "
                           f"{len(tagger.vocab.tables['word']) - 1:,} words, {len(tagger.tags)} tags, "
                           f"best epoch {t.best_epoch}{dev}")
        if t.unlearnable_dev_tags:
            self.console.print("dev tags never seen in training (unlearnable): " + " ".join(t.unlearnable_dev_tags))


def watch_line(model, words: list[str], targets: list[str] | None) -> str:
    """The watched sentence as the network tags it now, and its loss against the targets."""
    from .backprop import sentence_loss

    r = sentence_loss(model, words, targets)
    against = "the tags given" if targets is not None else "its own tags"
    return f"  watch: {' '.join(f'{w}/{t}' for w, t in zip(words, r['tags']))}  L {r['loss']:.4f} (against {against})"
