"""One job's life in a grid: its state, log, checkpoint and failure under ``<runs_dir>/.jobs/<key>/``, the time
limit, and ``execute`` / ``finish`` (run one job to its record or to a recorded failure).

``execute`` runs anywhere (this process, or a Ray worker) and writes only the job's checkpoint and log; ``finish``
runs where the grid is driven and writes the record or the failure and the state. A job that raises, returns
output that breaks the contract, or runs past the time limit is a failed job, never an exception of the grid.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import signal
import threading
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sedbench.core.errors import SedbenchError
from sedbench.core.locks import try_lock

from .checkpoints import Checkpoints, remove_partial_writes
from .inputs import FeatureMemo
from .jobs import Locations, ResolvedJob
from .record import (
    RecordFormatError,
    RecordWriteError,
    RunRecord,
    outputs_file,
    read_record,
    write_json_atomic,
    write_record,
)
from .runner import compute_record

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


@dataclass
class JobOutcome:
    key: str
    label: str
    status: str  # done | failed | skipped (already done) | busy (another live process runs it)
    record: RunRecord | None = None
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
        write_json_atomic(self.folder(key) / "job.state", {"key": key, "updated": now(), **state})

    def finished_record(self, resolved: ResolvedJob) -> Path | None:
        """The record of this exact job, if it exists and is complete."""
        path = resolved.record_path(self.runs_dir)
        try:
            record = read_record(path)
        except RecordFormatError:
            return None
        return path if record.job is not None and record.job.key == resolved.key.id else None

    def write_manifest(self, jobs: list[ResolvedJob], command: str) -> str:
        keys = [r.key.id for r in jobs]
        grid_id = hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()[:12]
        path = self.grids / f"{grid_id}.grid"
        previous = read_json(path) or {}
        write_json_atomic(path, {
            "grid": grid_id, "created": previous.get("created", now()), "last_run": now(), "command": command,
            "jobs": [{"key": r.key.id, "label": r.label, "record": str(r.record_path(self.runs_dir)
                                                                              .relative_to(self.runs_dir)),
                      "system": r.job.system, "dataset": r.dataset_name, "fold": r.job.fold, "seed": r.job.seed,
                      "overrides": dict(r.job.overrides)} for r in jobs],
        })
        return grid_id


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def read_json(path: Path):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def execute(resolved: ResolvedJob, where: Locations, timeout: float | None = None, log=print,
            force: bool = False, memo: FeatureMemo | None = None) -> JobOutcome:
    """Run one job to its record or to a failure; never raises for the job's own errors.

    Writes only the job's checkpoint and log; the caller writes the record and the state (``finish``), so a
    remote executor can run this on another machine.
    """
    store = JobStore(where.runs_dir)
    key, label = resolved.key.id, resolved.label
    checkpoints = store.checkpoints(key)
    if force:
        checkpoints.clear()
    log_file = _open_log(store.log_path(key))

    def job_log(message: str) -> None:
        log(message)
        if log_file is not None:
            log_file.write(f"{datetime.now().strftime('%H:%M:%S')} {message}\n")
            log_file.flush()

    import torch  # noqa: F401  (before the time limit: an import cut short leaves torch broken for every later job)

    started = time.perf_counter()
    try:
        with time_limit(timeout):
            record = compute_record(resolved, where, log=job_log, checkpoints=checkpoints, memo=memo)
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
        error = type(exc).__name__ + (f": {first}" if first else "")
        if checkpoints.resumed_epoch is not None and checkpoints.saves == 0:  # failed restoring, before any epoch
            reason = (f"resuming from checkpoint {checkpoints.path} (after epoch {checkpoints.resumed_epoch}) failed "
                      f"({error}); it does not fit this system's code: delete it to start this job over")
        else:
            reason = f"system {resolved.job.system!r} raised {error}"
        return _failed(key, label, reason, started, checkpoints)
    finally:
        if log_file is not None:
            log_file.close()


def job_lock(folder: Path):
    """The job's lock, held for as long as one process runs it: yields None to the holder, or the "pid@host" of
    the live process that holds it."""
    return try_lock(Path(folder) / "run.lock")


def done_outcome(resolved: ResolvedJob, path: Path) -> JobOutcome:
    """A job whose record exists: skipped."""
    return JobOutcome(resolved.key.id, resolved.label, "skipped", path=path, record=read_record(path))


def busy_outcome(resolved: ResolvedJob, holder: str) -> JobOutcome:
    return JobOutcome(resolved.key.id, resolved.label, "busy",
                      reason=f"process {holder} is running this job; skipped it (its checkpoint and record are that "
                             "process's), run again once it has ended")


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
            remove_partial_writes(outputs_file(resolved.record_path(store.runs_dir)))
            outcome.path = write_record(resolved.record_path(store.runs_dir), outcome.record)
        except RecordWriteError as exc:
            outcome.status, outcome.reason, outcome.traceback = "failed", str(exc), traceback.format_exc()
    if outcome.status == "done":
        store.checkpoints(key).clear()
        quietly(store.set_state, key, status="done", label=outcome.label, record=str(outcome.path),
                 seconds=round(outcome.seconds, 3), resumed_from_epoch=outcome.resumed_epoch)
        return outcome
    log_path = store.failure_log(key)
    try:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_text(f"{outcome.label}\n{outcome.reason}\n\n{outcome.traceback or ''}", encoding="utf-8")
    except OSError:
        log_path = None
    quietly(store.set_state, key, status="failed", label=outcome.label, reason=outcome.reason,
             traceback=str(log_path) if log_path else None, seconds=round(outcome.seconds, 3))
    return outcome


def quietly(function, *args, **kwargs) -> None:
    try:
        function(*args, **kwargs)
    except OSError:
        pass  # a state file is bookkeeping; the record (or its absence) is the truth
