"""``sedbench validate``: a system checked against the interface contract, check by check."""

from __future__ import annotations

from pathlib import Path
from typing import List

import typer

from sedbench.core import registry
from sedbench.core.system import DEFAULT_PROFILE

from .common import CACHE_DIR_HELP, DATA_DIR_HELP, DEVICE_HELP, echo_err, locations


def validate(
    system: str = typer.Option(..., "--system", "-s", help="Registered system name (see `sedbench list`)."),
    profile: str = typer.Option(DEFAULT_PROFILE, help="Hyperparameter profile to validate."),
    set_: List[str] = typer.Option([], "--set", help="Config override key=value (repeatable)."),
    seed: int = typer.Option(0, help="Seed of every fit."),
    device: str = typer.Option("auto", help=DEVICE_HELP),
    data_dir: Path = typer.Option(None, help=DATA_DIR_HELP),
    cache_dir: Path = typer.Option(None, help=CACHE_DIR_HELP),
) -> None:
    """Check SYSTEM against the interface contract on synth-mini: one PASS / FAIL / SKIP line per check."""
    from sedbench.pipeline.settings import parse_overrides

    overrides = parse_overrides(set_)
    registry.systems.get(system)  # an unknown name fails before torch is loaded
    from sedbench.pipeline.validate import FAIL, summary_line, validate_system

    where = locations(data_dir, cache_dir, Path("runs"))
    checks = validate_system(system, profile, overrides, seed, where.data_dir, where.cache_dir, device=device,
                             log=echo_err)
    for check in checks:
        typer.echo(check.line())
    typer.echo(summary_line(checks))
    if any(check.status == FAIL for check in checks):
        raise typer.Exit(1)
