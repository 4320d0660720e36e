"""Grids of jobs that survive kills and crashes.

A grid is systems x datasets x folds x seeds x swept settings. Each job has a stable key (system, config hash,
dataset fingerprint, fold, seed; ``runner.JobKey``). Under ``<runs_dir>/.jobs/<key>/`` the grid keeps the job's
``job.state`` (JSON: running / done / failed with the reason), its training ``checkpoint.pt`` and ``job.log``, and
on failure ``failure.log`` with the traceback. ``<runs_dir>/.grids/<grid id>.grid`` (JSON) lists a grid's jobs for
``sedbench status``. Neither ends in ``.json``, so ``runs/**/*.json`` stays the set of run records.

Rerunning a grid skips every job whose record exists (unless ``force``), resumes an interrupted job from its last
checkpoint, and retries failed ones. A job that raises, returns NaN or wrongly shaped output, or runs past the
time limit is recorded as failed and the grid goes on.
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib
import itertools
import json
import os
import signal
import socket
import threading
import time
import tomllib
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

from sedbench.core import registry
from .checkpoints import Checkpoints, remove_partial_writes
from sedbench.core.errors import ConfigError, SedbenchError, UnknownNameError
from .record import RecordWriteError, write_json_atomic, write_record
from .runner import JobSpec, Locations, ResolvedJob, compute_record, resolve_job

JOBS_FOLDER = ".jobs"
GRIDS_FOLDER = ".grids"


class JobTimeout(BaseException):
    """Raised inside a job that ran past ``--job-timeout``; a BaseException so a system's ``except Exception``
    cannot swallow it."""


@contextmanager
def time_limit(seconds: float | None):
    """Interrupt the body after ``seconds`` by raising JobTimeout in this thread (no limit when None or 0).

    In the main thread a timer signal does it, which also cuts short a blocking sleep; elsewhere (a Ray worker's
    executor thread) an asynchronous exception is set, seen at the next Python instruction.
    """
    if not seconds:
        yield
        return
    if threading.current_thread() is threading.main_thread():
        def expire(signum, frame):
            raise JobTimeout

        previous = signal.signal(signal.SIGALRM, expire)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        return
    thread_id = threading.get_ident()
    done = threading.Event()

    def expire_thread():
        if not done.is_set():
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.py_object(JobTimeout))

    timer = threading.Timer(seconds, expire_thread)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        done.set()
        timer.cancel()


# --------------------------------------------------------------------------- grid definition


@dataclass(frozen=True)
class GridSpec:
    """What to run; ``jobs()`` expands it in a fixed order (system, dataset, settings, seed, fold)."""

    systems: tuple[str, ...]
    datasets: tuple[str, ...]
    seeds: tuple[int, ...] = (0,)
    folds: tuple[str, ...] | str = "all"
    profile: str = "quick"
    settings: tuple[dict, ...] = ({},)  # override sets (--set merged into every --sweep combination)
    system_overrides: dict = field(default_factory=dict)  # system -> {key: value} for that system only
    job: JobSpec = JobSpec(system="", dataset="")  # the remaining per-job options (device, backend, ...)

    def jobs(self) -> list[JobSpec]:
        """Every job; refuses unknown systems, datasets and folds before anything runs."""
        for system in self.systems:
            registry.systems.get(system)  # unknown: one sentence listing the registered systems
        dataset_classes = {name: registry.resolve_dataset(name) for name in self.datasets}
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


GRID_FILE_KEYS = {"systems", "datasets", "seeds", "seed", "folds", "profile", "set", "sweep", "device"}


def read_grid_file(path: Path) -> GridSpec:
    """A TOML grid file::

        systems = ["crnn", "cnn"]
        datasets = ["synth"]
        seeds = 3              # or a list of seeds; `seed` is the first one (default 0)
        folds = "all"          # or ["1", "2"]
        profile = "quick"
        [set]                  # overrides of every system
        max_epochs = 25
        [set.gmm]              # overrides of one system
        components = 8
        [sweep]                # the cartesian product of these values
        learning_rate = [0.001, 0.0001]
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SedbenchError(f"cannot read grid file {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"grid file {path} is not valid TOML ({exc})") from None
    unknown = sorted(set(data) - GRID_FILE_KEYS)
    if unknown:
        raise ConfigError(f"grid file {path}: unknown key {unknown[0]!r}; keys: {', '.join(sorted(GRID_FILE_KEYS))}")

    def names(key: str) -> tuple[str, ...]:
        value = data.get(key)
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
            raise ConfigError(f"grid file {path}: {key!r} must be a non-empty list of names, got {value!r}")
        return tuple(value)

    systems, datasets = names("systems"), names("datasets")
    for system in systems:
        if system not in registry.systems.names():
            raise UnknownNameError(
                f"grid file {path}: unknown system {system!r}; registered systems: "
                f"{', '.join(registry.systems.names())}"
            )
    seed = data.get("seed", 0)
    seeds = data.get("seeds", 1)
    if isinstance(seeds, int) and not isinstance(seeds, bool) and isinstance(seed, int) and seeds >= 1:
        seeds = list(range(seed, seed + seeds))
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise ConfigError(f"grid file {path}: 'seeds' must be a positive count or a list of integers, got {seeds!r}")
    folds = data.get("folds", "all")
    if folds != "all" and not (isinstance(folds, list) and folds and all(isinstance(f, (str, int)) for f in folds)):
        raise ConfigError(f"grid file {path}: 'folds' must be \"all\" or a list of fold names, got {folds!r}")
    overrides = data.get("set", {})
    sweep = data.get("sweep", {})
    if not isinstance(overrides, dict) or not isinstance(sweep, dict):
        raise ConfigError(f"grid file {path}: [set] and [sweep] must be tables")
    for key, values in sweep.items():
        if not isinstance(values, list) or not values:
            raise ConfigError(f"grid file {path}: sweep {key!r} must be a non-empty list of values, got {values!r}")
        if key in overrides:
            raise ConfigError(f"grid file {path}: setting {key!r} is in both [set] and [sweep]; give it in one")
    for system, table in overrides.items():
        if isinstance(table, dict) and system not in systems:
            raise ConfigError(f"grid file {path}: [set.{system}] names a system that is not in 'systems'")
    common = {k: _toml_text(v) for k, v in overrides.items() if not isinstance(v, dict)}
    settings = tuple({**common, **dict(zip(sweep, values))}
                     for values in itertools.product(*([_toml_text(v) for v in vs] for vs in sweep.values())))
    return GridSpec(systems=systems, datasets=datasets, seeds=tuple(seeds),
                    folds="all" if folds == "all" else tuple(str(f) for f in folds),
                    profile=str(data.get("profile", "quick")), settings=settings,
                    system_overrides={system: {k: _toml_text(v) for k, v in table.items()}
                                      for system, table in overrides.items() if isinstance(table, dict)},
                    job=JobSpec(system="", dataset="", device=str(data.get("device", "auto"))))


def _toml_text(value) -> str:
    """A TOML value as the text ``--set`` would take: lists become tuples ``(a,b)``, booleans true/false."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "(" + ",".join(_toml_text(v) for v in value) + ")"
    return str(value)


# --------------------------------------------------------------------------- job state


@dataclass
class JobOutcome:
    key: str
    label: str
    status: str  # done | failed | skipped (already done)
    record: dict | None = None
    path: Path | None = None
    reason: str | None = None
    traceback: str | None = None
    seconds: float = 0.0
    resumed_epoch: int | None = None


class JobStore:
    """The grid runner's bookkeeping under ``<runs_dir>/.jobs`` and ``<runs_dir>/.grids``."""

    def __init__(self, runs_dir: Path):
        self.runs_dir = Path(runs_dir)
        self.jobs = self.runs_dir / JOBS_FOLDER
        self.grids = self.runs_dir / GRIDS_FOLDER

    def check_writable(self) -> None:
        """Refuse a run directory that cannot be written before any job trains."""
        try:
            self.jobs.mkdir(parents=True, exist_ok=True)
            self.grids.mkdir(parents=True, exist_ok=True)
            probe = self.jobs / f".write-test-{os.getpid()}"
            probe.write_text("")
            probe.unlink()
        except OSError as exc:
            raise RecordWriteError(f"run directory {self.runs_dir} is not writable ({exc.strerror or exc}); "
                                   "choose another with --runs-dir") from None

    def folder(self, key: str) -> Path:
        return self.jobs / key

    def checkpoints(self, key: str) -> Checkpoints:
        return Checkpoints(self.folder(key) / "checkpoint.pt")

    def log_path(self, key: str) -> Path:
        return self.folder(key) / "job.log"

    def failure_log(self, key: str) -> Path:
        return self.folder(key) / "failure.log"

    def state(self, key: str) -> dict | None:
        try:
            return json.loads((self.folder(key) / "job.state").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def set_state(self, key: str, **state) -> None:
        write_json_atomic(self.folder(key) / "job.state", {"key": key, "updated": _now(), **state})

    def finished_record(self, resolved: ResolvedJob) -> Path | None:
        """The record of this exact job, if it exists and is complete."""
        path = resolved.record_path(self.runs_dir)
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return path if isinstance(record, dict) and record.get("job", {}).get("key") == resolved.key.id else None

    def write_manifest(self, jobs: list[ResolvedJob], command: str) -> str:
        keys = [r.key.id for r in jobs]
        grid_id = hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()[:12]
        path = self.grids / f"{grid_id}.grid"
        previous = _read_json(path) or {}
        write_json_atomic(path, {
            "grid": grid_id, "created": previous.get("created", _now()), "last_run": _now(), "command": command,
            "jobs": [{"key": r.key.id, "label": job_label(r), "record": str(r.record_path(self.runs_dir)
                                                                              .relative_to(self.runs_dir)),
                      "system": r.job.system, "dataset": r.dataset_name, "fold": r.job.fold, "seed": r.job.seed,
                      "overrides": dict(r.job.overrides)} for r in jobs],
        })
        return grid_id


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _read_json(path: Path):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def job_label(resolved: ResolvedJob) -> str:
    job = resolved.job
    settings = "".join(f", {k}={v}" for k, v in job.overrides.items())
    return (f"{job.system} on {resolved.dataset_name}, fold {job.fold}, seed {job.seed}, "
            f"profile {job.profile}{settings}")


# --------------------------------------------------------------------------- running


def plan(jobs: list[JobSpec], where: Locations) -> list[ResolvedJob]:
    """Resolve every job (datasets prepared once each); any error here stops the grid before training."""
    datasets: dict = {}
    return [resolve_job(job, where, datasets) for job in jobs]


def execute(resolved: ResolvedJob, where: Locations, timeout: float | None = None, log=print,
            force: bool = False) -> JobOutcome:
    """Run one job to its record or to a failure; never raises for the job's own errors.

    Writes only the job's checkpoint and log; the caller writes the record and the state (``finish``), so a
    remote executor can run this on another machine.
    """
    store = JobStore(where.runs_dir)
    key, label = resolved.key.id, job_label(resolved)
    checkpoints = store.checkpoints(key)
    if force:
        checkpoints.clear()
    log_file = _open_log(store.log_path(key))

    def job_log(message: str) -> None:
        log(message)
        if log_file is not None:
            log_file.write(f"{datetime.now().strftime('%H:%M:%S')} {message}\n")
            log_file.flush()

    importlib.import_module("sedbench.training.frames")  # before the time limit: an import cut short breaks torch

    started = time.perf_counter()
    try:
        with time_limit(timeout):
            record = compute_record(resolved, where, log=job_log, checkpoints=checkpoints)
        return JobOutcome(key, label, "done", record=record, seconds=time.perf_counter() - started,
                          resumed_epoch=checkpoints.resumed_epoch)
    except JobTimeout:
        reason = (f"job exceeded --job-timeout of {timeout:g} s; its last checkpoint (if the system saves them) "
                  "is kept, so a rerun continues from there")
        return _failed(key, label, reason, started, checkpoints)
    except SedbenchError as exc:
        return _failed(key, label, str(exc), started, checkpoints)
    except Exception as exc:  # the system's own bug: the grid goes on
        first = (str(exc).strip().splitlines() or [""])[0]
        reason = f"system {resolved.job.system!r} raised {type(exc).__name__}" + (f": {first}" if first else "")
        return _failed(key, label, reason, started, checkpoints)
    finally:
        if log_file is not None:
            log_file.close()


def _failed(key, label, reason, started, checkpoints) -> JobOutcome:
    return JobOutcome(key, label, "failed", reason=reason, traceback=traceback.format_exc(),
                      seconds=time.perf_counter() - started, resumed_epoch=checkpoints.resumed_epoch)


def _open_log(path: Path):
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return open(path, "a", encoding="utf-8")
    except OSError:
        return None  # logging is a convenience: never the reason a job fails


def finish(store: JobStore, resolved: ResolvedJob, outcome: JobOutcome) -> JobOutcome:
    """Write the record (done) or the failure (state + traceback); a record that cannot be written fails the job."""
    key = outcome.key
    if outcome.status == "done":
        try:
            remove_partial_writes(resolved.record_path(store.runs_dir))  # left by a kill during an earlier write
            outcome.path = write_record(resolved.record_path(store.runs_dir), outcome.record)
        except RecordWriteError as exc:
            outcome.status, outcome.reason, outcome.traceback = "failed", str(exc), traceback.format_exc()
    if outcome.status == "done":
        store.checkpoints(key).clear()
        _quietly(store.set_state, key, status="done", label=outcome.label, record=str(outcome.path),
                 seconds=round(outcome.seconds, 3), resumed_from_epoch=outcome.resumed_epoch)
        return outcome
    log_path = store.failure_log(key)
    try:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_text(f"{outcome.label}\n{outcome.reason}\n\n{outcome.traceback or ''}", encoding="utf-8")
    except OSError:
        log_path = None
    _quietly(store.set_state, key, status="failed", label=outcome.label, reason=outcome.reason,
             traceback=str(log_path) if log_path else None, seconds=round(outcome.seconds, 3))
    return outcome


def _quietly(function, *args, **kwargs) -> None:
    try:
        function(*args, **kwargs)
    except OSError:
        pass  # a state file is bookkeeping; the record (or its absence) is the truth


@dataclass
class GridResult:
    grid_id: str
    outcomes: list[JobOutcome]

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)


def run_grid(jobs: list[ResolvedJob], where: Locations, *, force: bool = False, timeout: float | None = None,
             executor: str = "local", address: str | None = None, gpus_per_job: float | None = None,
             command: str = "", log=print, progress=print) -> GridResult:
    """Run the jobs not yet done; ``progress(outcome, index, total)`` is called as each job ends."""
    store = JobStore(where.runs_dir)
    store.check_writable()
    grid_id = store.write_manifest(jobs, command)
    outcomes: list[JobOutcome] = []
    pending = []
    for resolved in jobs:
        path = None if force else store.finished_record(resolved)
        if path is not None:
            outcome = JobOutcome(resolved.key.id, job_label(resolved), "skipped", path=path,
                                 record=_read_json(path))
            outcomes.append(outcome)
            progress(outcome, len(outcomes), len(jobs))
        else:
            pending.append(resolved)
    if executor == "local":
        for resolved in pending:
            _quietly(store.set_state, resolved.key.id, status="running", label=job_label(resolved),
                     pid=os.getpid(), host=socket.gethostname(), started=_now())
            outcome = finish(store, resolved, execute(resolved, where, timeout=timeout, log=log, force=force))
            outcomes.append(outcome)
            progress(outcome, len(outcomes), len(jobs))
    elif executor == "ray":
        from .ray_executor import run_on_ray

        for outcome in run_on_ray(pending, where, store, timeout=timeout, force=force, address=address,
                                  gpus_per_job=gpus_per_job, log=log):
            outcomes.append(outcome)
            progress(outcome, len(outcomes), len(jobs))
    else:
        raise ConfigError(f"--executor must be local or ray, got {executor!r}")
    return GridResult(grid_id, outcomes)


# --------------------------------------------------------------------------- status


def grid_ids(runs_dir: Path) -> list[str]:
    """Grids under ``runs_dir``, the most recently run first."""
    folder = Path(runs_dir) / GRIDS_FOLDER
    manifests = [(_read_json(p) or {}, p) for p in folder.glob("*.grid")] if folder.is_dir() else []
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
    manifest = _read_json(runs_dir / GRIDS_FOLDER / f"{grid_id}.grid")
    store = JobStore(runs_dir)
    rows = []
    for job in manifest["jobs"]:
        key = job["key"]
        record = _read_json(runs_dir / job["record"])
        state = store.state(key) or {}
        row = {"key": key, "label": job["label"], "record": job["record"], "detail": ""}
        if isinstance(record, dict) and record.get("job", {}).get("key") == key:
            row["status"] = "done"
            head = record.get("headline", {})
            row["detail"] = "  ".join(f"{k} {v:.3f}" for k, v in list(head.items())[:3] if isinstance(v, (int, float)))
        elif state.get("status") == "failed":
            row["status"], row["detail"] = "failed", f"{state.get('reason')} (traceback: {state.get('traceback')})"
        elif state.get("status") == "running":
            alive = state.get("host") == socket.gethostname() and _pid_alive(state.get("pid"))
            row["status"] = "running" if alive else "interrupted"
            checkpoint = store.checkpoints(key).path
            row["detail"] = (f"checkpoint saved {datetime.fromtimestamp(checkpoint.stat().st_mtime):%Y-%m-%d %H:%M:%S}"
                             if checkpoint.is_file() else "no checkpoint yet")
        else:
            row["status"] = "pending"
        rows.append(row)
    return grid_id, manifest, rows


def _pid_alive(pid) -> bool:
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
