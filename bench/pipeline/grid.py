"""Grids of jobs that survive kills and crashes.

A grid is systems x datasets x folds x seeds x settings (``sedbench.pipeline.settings`` reads sweeps and grid
files). Each job has a stable key (``sedbench.pipeline.jobs.JobKey``); ``sedbench.pipeline.jobstore`` keeps its
state, log, checkpoint and failure under ``<runs_dir>/.jobs/<key>/``, and ``<runs_dir>/.grids/<grid id>.grid``
(JSON) lists a grid's jobs for ``sedbench status``. Neither ends in ``.json``, so ``runs/**/*.json`` stays the set
of run records.

Rerunning a grid skips every job whose record exists (unless ``force``), resumes an interrupted job from its last
checkpoint, and retries failed ones. A job that raises, returns NaN or wrongly shaped output, or runs past the
time limit is recorded as failed and the grid goes on. The grid owns the feature memo: the jobs it runs one after
another in this process share prepared features.
"""

from __future__ import annotations

import os
import socket
import sys
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Callable

from sedbench.core import registry
from sedbench.core.config import defaults_note
from sedbench.core.errors import ConfigError, SedbenchError
from sedbench.core.processes import pid_alive
from sedbench.core.system import DEFAULT_PROFILE
from sedbench.datatools.folder import resolve_dataset

from .inputs import FeatureMemo
from .jobs import JobSpec, Locations, ResolvedJob, resolve_job
from .jobstore import (
    GRIDS_FOLDER,
    JobOutcome,
    JobStore,
    busy_outcome,
    done_outcome,
    execute,
    finish,
    job_lock,
    now,
    quietly,
    read_json,
)
from .record import RecordFormatError, read_record

EXECUTORS = ("local", "ray")


@dataclass(frozen=True)
class GridSpec:
    """What to run; ``jobs()`` expands it in a fixed order (system, dataset, settings, seed, fold)."""

    systems: tuple[str, ...]
    datasets: tuple[str, ...]
    seeds: tuple[int, ...] = (0,)
    folds: tuple[str, ...] | str = "all"
    profile: str = DEFAULT_PROFILE
    settings: tuple[dict, ...] = ({},)  # override sets (--set merged into every --sweep combination)
    system_overrides: dict = field(default_factory=dict)  # system -> {key: value} for that system only
    job: JobSpec = JobSpec(system="", dataset="")  # the remaining per-job options (device, backend, ...)

    def jobs(self) -> list[JobSpec]:
        """Every job; refuses unknown systems, datasets and folds before anything runs."""
        for system in self.systems:
            registry.systems.get(system)  # unknown: one sentence listing the registered systems
        dataset_classes = {name: resolve_dataset(name) for name in self.datasets}
        jobs = []
        for system in self.systems:
            for dataset in self.datasets:
                cls = dataset_classes[dataset]
                folds = list(cls.folds) if self.folds == "all" else list(self.folds)
                unknown = [f for f in folds if f not in cls.folds]
                if unknown:
                    raise ConfigError(f"dataset {cls.name!r} has no fold {unknown[0]!r}; folds: {', '.join(cls.folds)}")
                for settings in self.settings:
                    overrides = {k: str(v) for k, v in {**settings, **self.system_overrides.get(system, {})}.items()}
                    for seed in self.seeds:
                        for fold in folds:
                            jobs.append(replace(self.job, system=system, dataset=dataset, fold=fold, seed=seed,
                                                profile=self.profile, overrides=overrides))
        return jobs


def _to_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def plan(jobs: list[JobSpec], where: Locations, note: Callable[[str], None] = _to_stderr) -> list[ResolvedJob]:
    """Resolve every job (datasets prepared once each); any error here stops the grid before training. ``note`` gets
    one line per system that runs its defaults because it has no 'quick' profile."""
    datasets: dict = {}
    resolved = [resolve_job(job, where, datasets) for job in jobs]
    for system in dict.fromkeys(r.job.system for job, r in zip(jobs, resolved) if r.job.profile != job.profile):
        note(defaults_note(system))
    return resolved


@dataclass
class GridResult:
    grid_id: str
    outcomes: list[JobOutcome]

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)


def run_grid(jobs: list[ResolvedJob], where: Locations, *, force: bool = False, timeout: float | None = None,
             executor: str = "local", address: str | None = None, gpus_per_job: float | None = None,
             command: str = "", log=print, progress=print, started=None,
             memo: FeatureMemo | None = None) -> GridResult:
    """Run the jobs not yet done; ``started(label, index, total)`` is called as a job starts in this process and
    ``progress(outcome, index, total)`` as each job ends."""
    if executor not in EXECUTORS:
        raise ConfigError(f"--executor must be local or ray, got {executor!r}")
    store = JobStore(where.runs_dir)
    store.check_writable()
    grid_id = store.write_manifest(jobs, command)
    outcomes: list[JobOutcome] = []
    pending = []
    for resolved in jobs:
        path = None if force else store.finished_record(resolved)
        if path is not None:
            outcome = done_outcome(resolved, path)
            outcomes.append(outcome)
            progress(outcome, len(outcomes), len(jobs))
        else:
            pending.append(resolved)
    if executor == "local":
        memo = memo or FeatureMemo()
        for resolved in pending:
            with job_lock(store.folder(resolved.key.id)) as holder:  # one process per job, record written included
                done = None if force or holder is not None else store.finished_record(resolved)
                if holder is not None:
                    outcome = busy_outcome(resolved, holder)
                elif done is not None:  # another process finished it since this grid started
                    outcome = done_outcome(resolved, done)
                else:
                    if started is not None:
                        started(resolved.label, len(outcomes) + 1, len(jobs))
                    quietly(store.set_state, resolved.key.id, status="running", label=resolved.label,
                            pid=os.getpid(), host=socket.gethostname(), started=now())
                    outcome = finish(store, resolved,
                                     execute(resolved, where, timeout=timeout, log=log, force=force, memo=memo))
            outcomes.append(outcome)
            progress(outcome, len(outcomes), len(jobs))
    else:
        from .ray_executor import run_on_ray

        for outcome in run_on_ray(pending, where, store, timeout=timeout, force=force, address=address,
                                  gpus_per_job=gpus_per_job, log=log):
            outcomes.append(outcome)
            progress(outcome, len(outcomes), len(jobs))
    return GridResult(grid_id, outcomes)


# --------------------------------------------------------------------------- status


def grid_ids(runs_dir: Path) -> list[str]:
    """Grids under ``runs_dir``, the most recently run first."""
    folder = Path(runs_dir) / GRIDS_FOLDER
    manifests = [(read_json(p) or {}, p) for p in folder.glob("*.grid")] if folder.is_dir() else []
    return [m.get("grid", p.stem) for m, p in sorted(manifests, key=lambda mp: mp[0].get("last_run", ""),
                                                      reverse=True)]


def grid_status(runs_dir: Path, grid: str | None = None) -> tuple[str, dict, list[dict]]:
    """(grid id, manifest, one row per job with status done / failed / running / interrupted / pending)."""
    runs_dir = Path(runs_dir)
    ids = grid_ids(runs_dir)
    if not ids:
        raise SedbenchError(f"no grids under {runs_dir}; `sedbench run ...` there first")
    if grid is None:
        grid_id = ids[0]
    else:
        matches = [i for i in ids if i.startswith(grid)]
        if len(matches) != 1:
            raise SedbenchError(f"{'no' if not matches else 'more than one'} grid under {runs_dir} starts with "
                                f"{grid!r}; grids: {', '.join(ids)}")
        grid_id = matches[0]
    manifest = read_json(runs_dir / GRIDS_FOLDER / f"{grid_id}.grid")
    store = JobStore(runs_dir)
    rows = []
    for job in manifest["jobs"]:
        key = job["key"]
        try:
            record = read_record(runs_dir / job["record"])
        except RecordFormatError:
            record = None
        state = store.state(key) or {}
        row = {"key": key, "label": job["label"], "record": job["record"], "detail": ""}
        if record is not None and record.job is not None and record.job.key == key:
            row["status"] = "done"
            row["detail"] = "  ".join(f"{k} {v:.3f}" for k, v in list(record.headline.items())[:3]
                                      if isinstance(v, (int, float)))
        elif state.get("status") == "failed":
            row["status"], row["detail"] = "failed", f"{state.get('reason')} (traceback: {state.get('traceback')})"
        elif state.get("status") == "running":
            alive = state.get("host") == socket.gethostname() and pid_alive(state.get("pid"))
            row["status"] = "running" if alive else "interrupted"
            checkpoint = store.checkpoints(key).path
            row["detail"] = (f"checkpoint saved {datetime.fromtimestamp(checkpoint.stat().st_mtime):%Y-%m-%d %H:%M:%S}"
                             if checkpoint.is_file() else "no checkpoint yet")
        else:
            row["status"] = "pending"
        rows.append(row)
    return grid_id, manifest, rows
