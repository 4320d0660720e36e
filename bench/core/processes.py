"""Whether a process that left its pid on disk (a job state, a staging folder) is still running on this host."""

from __future__ import annotations

import os


def pid_alive(pid) -> bool:
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True
