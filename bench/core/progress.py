"""Progress of the long steps (generating data, extracting features, training, predicting, rescoring).

Library code says what it is doing with ``step(description, total, unit)`` and ``Step.advance``; whoever runs it
chooses how that shows (``reporting(reporter)``): nothing (the default, so library use and tests stay silent),
plain lines for logs, or a live display (the command line's rich bars). A context variable carries the reporter,
so no signature between the command line and a generator's inner loop has to pass it along.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Callable, Iterator


class Step:
    """One long step: ``advance`` after each unit of work, with an optional status (e.g. the validation score)."""

    def __init__(self, description: str, total: int | None, unit: str, completed: int = 0):
        self.description, self.total, self.unit = description, total, unit
        self.completed, self.status = completed, ""
        self.started = time.perf_counter()
        self._first = completed  # units done before this process started (a resumed run): not in the rate

    def advance(self, count: int = 1, status: str | None = None) -> None:
        self.completed += count
        if status is not None:
            self.status = status
        self.changed()

    def track(self, items):
        """Yield each item and advance once its turn of the loop has ended (``continue`` included)."""
        for item in items:
            yield item
            self.advance()

    def eta_seconds(self) -> float | None:
        """Seconds left at the rate of the units this process has done (None before the first one)."""
        done = self.completed - self._first
        if self.total is None or done <= 0:
            return None
        return (time.perf_counter() - self.started) / done * max(self.total - self.completed, 0)

    def changed(self) -> None:
        """Called after every advance; reporters override it."""

    def close(self) -> None:
        """Called when the step ends, whether it finished or failed."""


class Reporter:
    """Makes the Step of each ``step(...)``; the base one shows nothing."""

    def start(self, description: str, total: int | None, unit: str, completed: int) -> Step:
        return Step(description, total, unit, completed)


class PlainReporter(Reporter):
    """A line when a step starts and one when it ends: readable in CI logs and files."""

    def __init__(self, write: Callable[[str], None]):
        self.write = write

    def start(self, description, total, unit, completed):
        step = _PlainStep(description, total, unit, completed)
        step.write = self.write
        size = f" ({total} {unit})" if total is not None and unit else ""
        self.write(f"{description}{size} ...")
        return step


class _PlainStep(Step):
    write: Callable[[str], None]

    def close(self) -> None:
        count = f"{self.completed}/{self.total} {self.unit} " if self.total is not None and self.unit else ""
        status = f" ({self.status})" if self.status else ""
        self.write(f"{self.description}: {count}in {time.perf_counter() - self.started:.1f} s{status}")


_reporter: ContextVar[Reporter] = ContextVar("sedbench_progress", default=Reporter())


@contextmanager
def reporting(reporter: Reporter) -> Iterator[Reporter]:
    """Show the steps started inside the block with ``reporter``."""
    token = _reporter.set(reporter)
    try:
        yield reporter
    finally:
        _reporter.reset(token)


@contextmanager
def step(description: str, total: int | None = None, unit: str = "", completed: int = 0) -> Iterator[Step]:
    """A long step; ``total`` None: its length is unknown (a spinner, no ETA)."""
    current = _reporter.get().start(description, total, unit, completed)
    try:
        yield current
    finally:
        current.close()


def eta_text(seconds: float | None) -> str:
    """``ETA 3:05`` (minutes:seconds, hours when needed); empty before there is a rate."""
    if seconds is None:
        return ""
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"ETA {hours}:{minutes:02d}:{secs:02d}" if hours else f"ETA {minutes}:{secs:02d}"


def budget_eta(epochs: Step) -> str:
    """``, ETA 3:05 to the budget`` for an epoch line: early stopping may end training sooner."""
    eta = eta_text(epochs.eta_seconds()) if epochs.completed < (epochs.total or 0) else ""
    return f", {eta} to the budget" if eta else ""
