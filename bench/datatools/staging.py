"""A folder written in one piece: into a staging folder beside it, renamed into place only when complete.

A failed or killed write never leaves a half dataset: the staging folder of a failure is removed at once, those of
killed processes at the next write. A full disk is one sentence naming the folder, not libsndfile's
"System error.".
"""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sedbench.core.errors import DISK_FULL, DataError
from sedbench.core.processes import pid_alive

STAGING_INFIX = ".partial-"  # .<name>.partial-<pid> beside the folder
FULL_BELOW = 16 << 20  # bytes free under which a failed write is taken for a full disk (libsndfile hides errno)


@contextmanager
def staged_folder(root: Path) -> Iterator[Path]:
    """Yield an empty staging folder for ``root``; on success it replaces ``root``, on any error it is removed."""
    root = Path(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(root)
    staging = root.with_name(f".{root.name}{STAGING_INFIX}{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        staging.mkdir()
        yield staging
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if _disk_full(exc, root.parent):
            raise DataError(f"cannot write {root}: the disk is full ({exc}); nothing was kept, free space (or "
                            "choose another --data-dir) and run again") from None
        raise
    if root.exists():
        shutil.rmtree(root)
    os.replace(staging, root)


def remove_stale_staging(root: Path) -> list[Path]:
    """Remove the staging folders of ``root`` whose process has ended (killed runs); returns them."""
    removed = []
    for folder in Path(root).parent.glob(f".{Path(root).name}{STAGING_INFIX}*"):
        pid = folder.name.rsplit(STAGING_INFIX, 1)[1]
        if pid.isdigit() and not pid_alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _disk_full(exc: BaseException, where: Path) -> bool:
    if isinstance(exc, OSError) and exc.errno in DISK_FULL:
        return True
    if type(exc).__name__ == "LibsndfileError":  # soundfile reports ENOSPC as "System error."
        try:
            return shutil.disk_usage(where).free < FULL_BELOW
        except OSError:
            return False
    return False
