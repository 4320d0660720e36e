"""``sedbench rescore``: every metric of existing records recomputed from their stored outputs, no retraining."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from sedbench.core.errors import SedbenchError

from .common import echo_err, fmt
from .display import progress_display


def rescore(
    runs_dir: Path = typer.Option(Path("runs"), help="Folder of run records to rescore (rewritten in place)."),
    data_dir: Path = typer.Option(None, help="Where the datasets are (default: $SEDBENCH_DATA or ~/.cache)."),
) -> None:
    """Recompute every metric of the records under RUNS_DIR from their stored test outputs."""
    from sedbench.core.paths import default_data_dir
    from sedbench.pipeline.record import load_records
    from sedbench.pipeline.rescore import rescore_records

    records = load_records(runs_dir, warn=echo_err)
    if not records:
        raise SedbenchError(f"no run records found under {runs_dir}")
    started = time.perf_counter()
    with progress_display(quiet=False) as display:
        outcomes = rescore_records(records, data_dir or default_data_dir(), log=display.say)
    seconds = time.perf_counter() - started
    for outcome in outcomes:
        if outcome.status == "rescored" and outcome.changed:
            moved = ", ".join(f"{name} {fmt(before)} -> {fmt(after)}" for name, (before, after) in
                              outcome.changed.items())
            typer.echo(f"{outcome.path}: {moved}")
    counts = {status: sum(o.status == status for o in outcomes) for status in ("rescored", "skipped", "failed")}
    typer.echo(f"{counts['rescored']} rescored, {counts['skipped']} skipped (no stored outputs), "
               f"{counts['failed']} failed, in {seconds:.1f} s")
    if counts["failed"]:
        raise typer.Exit(1)
