"""``sedbench run --executor ray``: a grid's jobs as Ray tasks (``pip install 'sedbench[ray]'``).

Each job is one task with one CPU and, when the cluster has GPUs, one GPU (``--gpus-per-job`` overrides). The
task resolves the job again on its worker and refuses to run when the worker's dataset has another fingerprint
than the driver's (another copy of the data on that node), then runs exactly what the local executor runs
(``jobstore.execute``). The driver holds each job's lock from submission until its record is written, so a
second run skips it as with the local executor, and writes records and job states as results arrive, so the runs
folder looks the same whichever executor filled it. Workers need sedbench installed and the data and cache folders at the same
paths (one machine, or a shared file system); checkpoints are written there too, so a rerun resumes a killed job
on any node.
"""

from __future__ import annotations

import os
import socket
import time
from contextlib import ExitStack
from typing import Iterator

from sedbench.core.errors import SedbenchError

from .jobs import JobSpec, Locations, ResolvedJob, resolve_job
from .jobstore import JobOutcome, JobStore, busy_outcome, done_outcome, execute, finish, job_lock, now, quietly


def run_on_ray(pending: list[ResolvedJob], where: Locations, store: JobStore, *, timeout: float | None = None,
               force: bool = False, address: str | None = None, gpus_per_job: float | None = None,
               log=print) -> Iterator[JobOutcome]:
    """Submit every pending job, then yield each finished (record written) or failed outcome as it arrives."""
    try:
        import ray
    except ImportError:
        raise SedbenchError("--executor ray needs Ray, which is not installed; pip install 'sedbench[ray]'") from None
    started_here = not ray.is_initialized()
    if started_here:
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=True)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise SedbenchError(f"cannot start or reach Ray at {address or 'a new local instance'} ({first})") from None
    try:
        gpus = gpus_per_job if gpus_per_job is not None else (1 if ray.cluster_resources().get("GPU", 0) >= 1 else 0)
        task = ray.remote(_ray_job).options(num_cpus=1, num_gpus=gpus, max_retries=0)
        log(f"ray: {len(pending)} job(s) on {ray.cluster_resources().get('CPU', 0):g} CPUs, "
            f"{ray.cluster_resources().get('GPU', 0):g} GPUs; {gpus:g} GPU(s) per job")
        running, locks = {}, {}
        for resolved in pending:
            lock = ExitStack()
            holder = lock.enter_context(job_lock(store.folder(resolved.key.id)))
            if holder is not None:
                lock.close()
                yield busy_outcome(resolved, holder)
                continue
            done = None if force else store.finished_record(resolved)
            if done is not None:  # another process finished it since this grid started
                lock.close()
                yield done_outcome(resolved, done)
                continue
            locks[resolved.key.id] = lock  # released once the record or the failure is written
            quietly(store.set_state, resolved.key.id, status="running", label=resolved.label, executor="ray",
                    pid=os.getpid(), host=socket.gethostname(), started=now())  # the driver: alive while it waits
            running[task.remote(resolved.job, where, resolved.key.id, timeout, force)] = resolved
        while running:
            (ready,), _ = ray.wait(list(running), num_returns=1)
            resolved = running.pop(ready)
            try:
                outcome = ray.get(ready)
            except ray.exceptions.RayError as exc:  # the worker died (signal, out of memory) or Ray failed
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                outcome = JobOutcome(resolved.key.id, resolved.label, "failed",
                                     reason=f"the Ray task ended without a result ({type(exc).__name__}: {first})",
                                     traceback=str(exc))
            outcome = finish(store, resolved, outcome)
            locks.pop(resolved.key.id).close()
            yield outcome
    finally:
        for lock in locks.values():
            lock.close()
        if started_here:
            ray.shutdown()


def _ray_job(job: JobSpec, where: Locations, expected_key: str, timeout: float | None, force: bool) -> JobOutcome:
    """One job on a Ray worker: the same resolution and execution as the local executor."""
    os.environ["SEDBENCH_CACHE"] = str(where.cache_dir)  # fetched weights are found where the driver looks
    started = time.perf_counter()
    try:
        resolved = resolve_job(job, where)
    except SedbenchError as exc:
        return JobOutcome(expected_key, f"{job.system} on {job.dataset}", "failed", reason=str(exc),
                          seconds=time.perf_counter() - started)
    if resolved.key.id != expected_key:
        return JobOutcome(expected_key, resolved.label, "failed", seconds=time.perf_counter() - started,
                          reason=f"the worker's copy of dataset {resolved.dataset_name!r} (fold {job.fold}) has "
                                 f"fingerprint {resolved.fingerprint}, not the driver's; give every node the same data")
    return execute(resolved, where, timeout=timeout, log=lambda message: print(message, flush=True), force=force)
