"""The ``sedbench`` command line."""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path
from typing import List, Optional

import typer

from . import __version__, registry
from .errors import ConfigError, SedbenchError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Benchmark harness for polyphonic sound event detection.",
)


def default_cache_dir() -> Path:
    return Path(os.environ.get("SEDBENCH_CACHE", Path.home() / ".cache" / "sedbench"))


def default_data_dir() -> Path:
    return Path(os.environ.get("SEDBENCH_DATA", default_cache_dir() / "data"))


def _parse_overrides(items: list[str]) -> dict[str, str]:
    overrides = {}
    for item in items:
        for part in item.split():
            if "=" not in part:
                raise ConfigError(f"--set expects key=value, got {part!r}")
            key, value = part.split("=", 1)
            overrides[key.strip()] = value.strip()
    return overrides


def _echo(message: str) -> None:
    typer.echo(message, err=True)


@app.command()
def run(
    system: str = typer.Option(..., "--system", "-s", help="Registered system name (see `sedbench list`)."),
    dataset: str = typer.Option(..., "--dataset", "-d", help="Registered dataset name."),
    profile: str = typer.Option("quick", help="Hyperparameter profile: 'quick' (CPU minutes) or 'paper'."),
    seeds: int = typer.Option(1, help="Number of seeds to run (seed, seed+1, ...)."),
    seed: int = typer.Option(0, help="First seed."),
    fold: str = typer.Option("all", help="Fold to run, or 'all'."),
    device: str = typer.Option("auto", help="auto | cpu | cuda"),
    set_: List[str] = typer.Option([], "--set", help="Config override key=value (repeatable)."),
    median_filter: int = typer.Option(1, help="Median filter window in frames applied before thresholding (1 = off)."),
    data_dir: Path = typer.Option(None, help="Where datasets live [env SEDBENCH_DATA]."),
    cache_dir: Path = typer.Option(None, help="Feature cache [env SEDBENCH_CACHE]."),
    runs_dir: Path = typer.Option(Path("runs"), help="Where run records are written."),
    quiet: bool = typer.Option(False, help="Only print the summary."),
) -> None:
    """Train and evaluate SYSTEM on DATASET; write one run record per fold and seed."""
    from .runner import JobSpec, Locations, run_job
    from .report import HEADLINE, summarize

    overrides = _parse_overrides(set_)
    system_cls = registry.systems.get(system)
    dataset_cls = registry.datasets.get(dataset)
    folds = list(dataset_cls.folds) if fold == "all" else [fold]
    where = Locations(
        data_dir=data_dir or default_data_dir(), cache_dir=cache_dir or default_cache_dir(), runs_dir=runs_dir
    )
    log = (lambda message: None) if quiet else _echo
    records = []
    for seed_value in range(seed, seed + seeds):
        for fold_name in folds:
            _echo(f"== {system_cls.name} on {dataset_cls.name}, fold {fold_name}, seed {seed_value}, profile {profile}")
            job = JobSpec(system=system, dataset=dataset, fold=fold_name, seed=seed_value, profile=profile,
                          overrides=overrides, device=device, median_filter_frames=median_filter)
            record, path = run_job(job, where, log=log)
            records.append(record)
            head = record["headline"]
            _echo(
                "   " + "  ".join(f"{k} {_fmt(head[k])}" for k in HEADLINE)
                + f"  ({record['timings']['total']:.1f} s) -> {path}"
            )
    rows = summarize(records)
    for row in rows:
        typer.echo(f"{row.system} on {row.dataset} ({row.profile}, {len(row.seeds)} seed(s), folds {', '.join(row.folds)}):")
        for metric in HEADLINE:
            stats = row.mean_std(metric)
            if stats:
                typer.echo(f"  {metric:9s} {stats[0]:8.3f} ± {stats[1]:.3f}")


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"


@app.command("list")
def list_entries() -> None:
    """Registered systems and datasets, with their papers."""
    typer.echo("Systems:")
    for name, cls in registry.systems.items():
        typer.echo(f"  {name:14s} {cls.label_kind.value:6s} profiles: {', '.join(cls.profiles):14s} {cls.paper.citation}")
    typer.echo("Datasets:")
    for name, cls in registry.datasets.items():
        typer.echo(f"  {name:14s} {cls.label_kind.value:6s} {len(cls.labels):3d} labels  {cls.description}")
        typer.echo(f"  {'':14s} {cls.paper.citation}; license: {cls.license}")


@app.command()
def report(
    runs_dir: Path = typer.Option(Path("runs"), help="Folder of run records."),
    out_dir: Path = typer.Option(Path("reports"), help="Where results.md and results.csv go."),
) -> None:
    """Write Markdown and CSV tables (mean ± std over seeds) from the run records."""
    from .records import load_records
    from .report import summarize, write_reports

    records = load_records(runs_dir)
    if not records:
        raise SedbenchError(f"no run records found under {runs_dir}; run `sedbench run ...` first")
    md, table = write_reports(summarize(records), out_dir)
    typer.echo(f"{len(records)} run records -> {md}, {table}")


@app.command()
def leaderboard(
    runs_dir: Path = typer.Option(Path("runs"), help="Folder of run records."),
    out: Path = typer.Option(Path("leaderboard.html"), help="Page to write."),
) -> None:
    """Build the static leaderboard page from the run records."""
    from .leaderboard import write_leaderboard
    from .records import load_records
    from .report import summarize

    records = load_records(runs_dir)
    write_leaderboard(summarize(records), len(records), out)
    typer.echo(f"{len(records)} run records -> {out}")


@app.command()
def version() -> None:
    """Print the sedbench version."""
    typer.echo(__version__)


def main() -> None:
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
    try:
        app()
    except SedbenchError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
