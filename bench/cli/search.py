"""``sedbench search``: a system's settings chosen on validation data."""

from __future__ import annotations

from pathlib import Path

import typer

from sedbench.core.system import DEFAULT_PROFILE

from .common import CACHE_DIR_HELP, DATA_DIR_HELP, DEVICE_HELP, echo_err, fmt, locations


def search(
    system: str = typer.Option(..., "--system", "-s", help="Registered system name."),
    dataset: str = typer.Option(..., "--dataset", "-d",
                                help="Registered dataset name, or the path of a dataset folder or CSV manifest."),
    space: str = typer.Option(DEFAULT_PROFILE, help="The system's search space: quick (CPU) | paper (the paper's "
                              "full set of trials and studies)."),
    seed: int = typer.Option(0, help="Seed of every trial."),
    device: str = typer.Option("auto", help=DEVICE_HELP),
    force: bool = typer.Option(False, "--force", help="Recompute trials whose records exist, from scratch."),
    job_timeout: float = typer.Option(None, "--job-timeout", help="Seconds a trial may run; one that runs longer is "
                                      "recorded as failed and left out of the choice."),
    data_dir: Path = typer.Option(None, help=DATA_DIR_HELP),
    cache_dir: Path = typer.Option(None, help=CACHE_DIR_HELP),
    runs_dir: Path = typer.Option(Path("runs"), help="Where run records are written."),
) -> None:
    """Choose settings on validation F1_frm: every trial is a job with its record (rerunning skips finished
    trials); prints the chosen trial's test scores."""
    from sedbench.pipeline.search import run_search

    where = locations(data_dir, cache_dir, runs_dir)
    summary = run_search(system, dataset, space, seed, device, where, log=echo_err, force=force, timeout=job_timeout)
    chosen = summary["chosen"]
    typer.echo(f"{len(summary['trials'])} trials; chosen on validation: {chosen['settings']} "
               f"(valid F1_frm {chosen['valid_F1_frm']:.1f})")
    typer.echo("test: " + "  ".join(f"{k} {fmt(v)}" for k, v in chosen["test"].items()))
    typer.echo(f"-> {summary['path']}")
