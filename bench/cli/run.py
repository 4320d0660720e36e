"""``sedbench run`` and ``sedbench status``: grids of jobs, and where they stand."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import List

import typer

from sedbench.core.errors import ConfigError
from sedbench.core.system import DEFAULT_PROFILE

from .common import CACHE_DIR_HELP, DATA_DIR_HELP, DEVICE_HELP, echo_err, fmt, locations, names
from .display import progress_display


def run(
    system: List[str] = typer.Option([], "--system", "-s", help="Registered system name (see `sedbench list`); "
                                     "repeat or comma-separate for a grid of several."),
    dataset: List[str] = typer.Option([], "--dataset", "-d", help="Registered dataset name, or the path of a dataset "
                                      "folder or CSV manifest; repeat or comma-separate for several."),
    grid: Path = typer.Option(None, "--grid", help="A TOML grid file (systems, datasets, seeds, folds, [set], "
                              "[sweep]) instead of --system / --dataset."),
    profile: str = typer.Option(DEFAULT_PROFILE, help="Hyperparameter profile: 'quick' (CPU minutes) or 'paper'."),
    seeds: int = typer.Option(1, help="Number of seeds to run (seed, seed+1, ...)."),
    seed: int = typer.Option(0, help="First seed."),
    fold: str = typer.Option("all", help="Fold to run, or 'all'."),
    device: str = typer.Option("auto", help=DEVICE_HELP),
    set_: List[str] = typer.Option([], "--set", help="Config override key=value (repeatable)."),
    sweep: List[str] = typer.Option([], "--sweep", help="Run every value: key=v1,v2,... (repeatable; the cartesian "
                                    "product of all --sweep values, each with the --set overrides)."),
    median_filter: int = typer.Option(1, help="Median filter window in frames applied before thresholding (1 = off)."),
    metrics_backend: str = typer.Option("fast", help="fast (vectorized, equal to sed_eval) | sed_eval"),
    pitch_shift: str = typer.Option("", help="Also score test audio pitch-shifted by these quartertones, e.g. -2,-1,1,2."),
    track_test: bool = typer.Option(False, help="Also score the test set after every epoch, for learning curves "
                                    "(systems that report epochs; never used to select a model)."),
    force: bool = typer.Option(False, "--force", help="Recompute jobs whose records exist, from scratch."),
    job_timeout: float = typer.Option(None, "--job-timeout", help="Seconds a job may run; one that runs longer is "
                                      "stopped and recorded as failed, and the grid goes on."),
    executor: str = typer.Option("local", help="local (this process, one job after another) | ray (Ray tasks; "
                                 "pip install 'sedbench[ray]')."),
    address: str = typer.Option(None, help="Ray cluster address (default: a local Ray instance)."),
    gpus_per_job: float = typer.Option(None, help="Ray: GPUs per job (default: 1 when the cluster has GPUs, else 0)."),
    data_dir: Path = typer.Option(None, help=DATA_DIR_HELP),
    cache_dir: Path = typer.Option(None, help=CACHE_DIR_HELP),
    runs_dir: Path = typer.Option(Path("runs"), help="Where run records are written."),
    quiet: bool = typer.Option(False, help="Only print the summary."),
) -> None:
    """Train and evaluate systems on datasets: one job, and one run record, per system, dataset, setting, seed and
    fold. Jobs whose records exist are skipped, interrupted ones resume from their last checkpoint, failed ones are
    recorded and the others go on (see `sedbench status`)."""
    from sedbench.papers.pitch_shift import PitchShiftStudy, parse_shifts
    from sedbench.pipeline.grid import EXECUTORS, GridSpec, plan, run_grid
    from sedbench.pipeline.jobs import JobSpec
    from sedbench.pipeline.settings import parse_overrides, parse_sweep, read_grid_parts
    from sedbench.publish.summary import columns, summarize

    if executor not in EXECUTORS:
        raise ConfigError(f"--executor must be local or ray, got {executor!r}")
    if job_timeout is not None and job_timeout <= 0:
        raise ConfigError(f"--job-timeout must be a positive number of seconds, got {job_timeout:g}")
    shifts = parse_shifts(pitch_shift)
    template = JobSpec(system="", dataset="", device=device, median_filter_frames=median_filter,
                       metrics_backend=metrics_backend, studies=(PitchShiftStudy(shifts),) if shifts else (),
                       track_test=track_test)
    if grid is not None:
        if system or dataset or set_ or sweep:
            raise ConfigError("--grid FILE replaces --system, --dataset, --set and --sweep; give either the file or those")
        specs = [replace(spec, job=replace(template, device=spec.job.device if device == "auto" else device))
                 for spec in read_grid_parts(grid)]
    else:
        if not system or not dataset:
            raise ConfigError("give --system and --dataset (or a grid file with --grid FILE)")
        overrides = parse_overrides(set_)
        specs = [GridSpec(systems=names(system), datasets=names(dataset), seeds=tuple(range(seed, seed + seeds)),
                          folds="all" if fold == "all" else (fold,), profile=profile,
                          settings=tuple(parse_sweep(sweep, overrides)), job=template)]
    swept = sorted({key for spec in specs for settings in spec.settings for key in settings
                    if len({s.get(key) for s in spec.settings}) > 1})
    where = locations(data_dir, cache_dir, runs_dir)
    with progress_display(quiet) as display:
        # unknown names, bad settings and unreadable datasets stop here
        resolved = plan([job for spec in specs for job in spec.jobs()], where, note=display.log)
        result = run_grid(resolved, where, force=force, timeout=job_timeout, executor=executor, address=address,
                          gpus_per_job=gpus_per_job, command=" ".join(sys.argv), log=display.log,
                          started=lambda label, index, total: display.log(f"[{index}/{total}] {label}"),
                          progress=lambda outcome, index, total: display.say(_outcome_line(outcome, index, total)))
    rows = summarize([o.record for o in result.outcomes if o.record is not None and o.status != "failed"])
    for row in rows:
        settings = "".join(f", {key}={row.config.get(key)}" for key in swept)
        typer.echo(f"{row.system} on {row.dataset} ({row.profile}{settings}, {len(row.seeds)} seed(s), "
                   f"folds {', '.join(row.folds)}):")
        for metric in columns([row]):
            stats = row.mean_std(metric)
            if stats:
                typer.echo(f"  {metric:9s} {stats[0]:8.3f}" + (f" ± {stats[1]:.3f}" if len(row.seeds) > 1 else ""))
        if row.converged[1]:
            typer.echo(f"  converged {row.convergence_text():>8s}" + _epochs(row))
    done, skipped, failed = result.count("done"), result.count("skipped"), result.count("failed")
    busy = result.count("busy")
    if failed or skipped or busy or len(resolved) > 1:
        elsewhere = f", {busy} running in another process" if busy else ""
        echo_err(f"grid {result.grid_id}: {done} run, {skipped} already done{elsewhere}, {failed} failed "
                 f"(`sedbench status --runs-dir {runs_dir}` lists them)")
    if failed:
        raise typer.Exit(1)


def status(
    runs_dir: Path = typer.Option(Path("runs"), help="Folder of run records."),
    grid: str = typer.Option(None, help="Grid id (or its start); default: the grid run last."),
) -> None:
    """Done / failed / interrupted / pending jobs of a grid."""
    from sedbench.pipeline.grid import grid_ids, grid_status

    grid_id, manifest, rows = grid_status(runs_dir, grid)
    counts = {name: sum(r["status"] == name for r in rows) for name in ("done", "failed", "running", "interrupted",
                                                                        "pending")}
    typer.echo(f"grid {grid_id} ({len(rows)} jobs, last run {manifest.get('last_run')}): "
               + ", ".join(f"{count} {name}" for name, count in counts.items() if count))
    typer.echo(f"command: {manifest.get('command')}")
    width = max(len(r["status"]) for r in rows)
    for row in rows:
        typer.echo(f"  {row['status']:{width}s}  {row['key']}  {row['label']}" + (f"  {row['detail']}" if row["detail"] else ""))
    others = [i for i in grid_ids(runs_dir) if i != grid_id]
    if others:
        typer.echo(f"other grids here: {', '.join(others)} (--grid ID)")


def _outcome_line(outcome, index: int, total: int) -> str:
    prefix = f"[{index}/{total}] {outcome.label}"
    if outcome.status == "failed":
        return f"{prefix}: FAILED: {outcome.reason}"
    if outcome.status == "busy":
        return f"{prefix}: {outcome.reason}"
    scores = "  ".join(f"{k} {fmt(v)}" for k, v in (outcome.record.headline if outcome.record else {}).items())
    if outcome.status == "skipped":
        return f"{prefix}: already done, skipped ({scores}) -> {outcome.path}"
    resumed = f", resumed after epoch {outcome.resumed_epoch}" if outcome.resumed_epoch else ""
    return f"{prefix}: {scores}  ({outcome.seconds:.1f} s{resumed}) -> {outcome.path}"


def _epochs(row) -> str:
    """`` (best epoch 19 of 25 run, budget 40)`` for one run; runs of several seeds show their range."""
    runs = [r.convergence for r in row.runs if r.convergence is not None and r.convergence.best_epoch is not None]
    if not runs:
        return ""
    if len(runs) == 1:
        c = runs[0]
        return f"  (best epoch {c.best_epoch} of {c.epochs_run} run, budget {c.max_epochs})"
    return (f"  (best epochs {min(c.best_epoch for c in runs)}-{max(c.best_epoch for c in runs)}, "
            f"{min(c.epochs_run for c in runs)}-{max(c.epochs_run for c in runs)} run)")
