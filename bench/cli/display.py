"""How a command shows its long steps: live rich bars on a terminal, plain lines in pipes and files (CI logs stay
readable), nothing but results with --quiet."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator

from sedbench.core.progress import PlainReporter, Reporter, Step, eta_text, reporting

from .common import echo_err


@dataclass
class Display:
    log: Callable[[str], None]  # progress messages (epoch lines, features ...); silent with --quiet
    say: Callable[[str], None]  # results and failures: always shown


@contextmanager
def progress_display(quiet: bool, live: bool | None = None) -> Iterator[Display]:
    """``live`` None: rich bars when stderr is a terminal."""
    if quiet:
        with reporting(Reporter()):
            yield Display(log=lambda message: None, say=echo_err)
        return
    if live is None:
        live = sys.stderr.isatty()
    if not live:
        with reporting(PlainReporter(echo_err)):
            yield Display(log=echo_err, say=echo_err)
        return
    reporter = RichReporter()
    with reporter.progress, reporting(reporter):
        yield Display(log=reporter.print, say=reporter.print)


class RichReporter(Reporter):
    """One bar per running step (a dataset, the features, the epochs, ...), under the lines printed meanwhile."""

    def __init__(self, console=None):
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self.progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(bar_width=30), MofNCompleteColumn(),
            TextColumn("{task.fields[unit]}"), TimeElapsedColumn(), TextColumn("{task.fields[eta]}"),
            TextColumn("{task.fields[status]}", markup=False),
            console=console or Console(stderr=True), transient=True,
        )

    def print(self, message: str) -> None:
        self.progress.console.print(message, markup=False, highlight=False, soft_wrap=True)

    def start(self, description, total, unit, completed):
        task = self.progress.add_task(description, total=total, completed=completed, unit=unit, status="", eta="")
        return _RichStep(self.progress, task, description, total, unit, completed)


class _RichStep(Step):
    def __init__(self, progress, task, *args):
        super().__init__(*args)
        self.bar, self.task = progress, task

    def changed(self) -> None:
        # our own ETA: rich's needs several updates within 30 s, and an epoch can take longer than that
        self.bar.update(self.task, completed=self.completed, status=self.status, eta=eta_text(self.eta_seconds()))

    def close(self) -> None:
        self.bar.remove_task(self.task)
