"""What the subcommands share: where things live, how names and numbers are printed, the options every command
spells the same way."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from sedbench.core.paths import default_cache_dir, default_data_dir
from sedbench.pipeline.jobs import Locations

DATA_DIR_HELP = "Where datasets live [env SEDBENCH_DATA]."
CACHE_DIR_HELP = "Feature cache [env SEDBENCH_CACHE]."
DEVICE_HELP = "auto | cpu | cuda"


def locations(data_dir: Path | None, cache_dir: Path | None, runs_dir: Path) -> Locations:
    if cache_dir is not None:  # --cache-dir stands for $SEDBENCH_CACHE everywhere, fetched weights included
        os.environ["SEDBENCH_CACHE"] = str(cache_dir)
    return Locations(data_dir=data_dir or default_data_dir(), cache_dir=cache_dir or default_cache_dir(),
                     runs_dir=runs_dir)


def echo_err(message: str) -> None:
    typer.echo(message, err=True)


def fmt(value, decimals: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{decimals}f}"


def names(values: list[str]) -> tuple[str, ...]:
    """Repeated and comma-separated names, in order, each once (a dataset path may not contain commas)."""
    result = []
    for value in values:
        for name in value.split(","):
            if name.strip() and name.strip() not in result:
                result.append(name.strip())
    return tuple(result)
