"""What ``rnncli train`` shows while it works: a progress bar and one line per epoch, on stderr."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .errors import shown
from .render import history_table


class TrainingDisplay:
    def __init__(self, quiet: bool = False):
        self.console = Console(stderr=True, highlight=False, markup=False, quiet=quiet)
        self.progress = Progress(TextColumn("epoch {task.fields[epoch]}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("loss {task.fields[loss]:.4f}"), TimeElapsedColumn(),
                                 console=self.console, transient=True)
        self.task = None
        self.live = False

    def __enter__(self) -> TrainingDisplay:
        return self  # the bar starts with the first batch: nothing is drawn while corpora are read

    def __exit__(self, *exc) -> None:
        if self.live:
            self.progress.__exit__(*exc)

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

    def summary(self, tagger, path: Path) -> None:
        t = tagger.info["training"]
        self.console.print(history_table(t["history"], t["best_epoch"]))
        dev = "" if t["dev_accuracy"] is None else f", dev accuracy {100 * t['dev_accuracy']:.2f}%"
        self.console.print(f"wrote {shown(path)}: {tagger.shape.n_params():,} parameters, "
                           f"{len(tagger.vocab.tables['word']) - 1:,} words, {len(tagger.tags)} tags, "
                           f"best epoch {t['best_epoch']}{dev}")
        if t.get("unlearnable_dev_tags"):
            self.console.print("dev tags never seen in training (unlearnable): " + " ".join(t["unlearnable_dev_tags"]))
