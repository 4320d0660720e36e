"""Advisory file locks between sedbench processes; the holder writes "pid@host" into the lock file.

The kernel drops a lock when its process dies (kill -9 too), so a lock never outlives a killed run. Where fcntl is
missing (Windows) nothing is locked.
"""

from __future__ import annotations

import os
import socket
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None


@contextmanager
def try_lock(path: Path) -> Iterator[str | None]:
    """Yield None while this process holds the lock at ``path``, or the holder ("pid@host") when another does."""
    with _lock_file(path) as handle:
        holder = _take(handle)
        if holder is None:
            _claim(handle)
        yield holder


@contextmanager
def wait_lock(path: Path, on_wait: Callable[[str], None]) -> Iterator[None]:
    """Hold the lock at ``path``; when another process holds it, call ``on_wait(holder)`` once and wait for it."""
    with _lock_file(path) as handle:
        holder = _take(handle)
        if holder is not None:
            on_wait(holder)
            fcntl.flock(handle, fcntl.LOCK_EX)
        _claim(handle)
        yield


@contextmanager
def _lock_file(path: Path):
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+", encoding="utf-8") as handle:
        yield handle


def _take(handle) -> str | None:
    """Lock without waiting: None when this process now holds it, else who does."""
    if fcntl is None:
        return None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return _holder(handle)
    return None


def _holder(handle) -> str:
    handle.seek(0)
    return handle.read().strip() or "another process"


def _claim(handle) -> None:
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}@{socket.gethostname()}")
    handle.flush()
