"""User-facing errors: one sentence, shown without a traceback by the CLI."""

import errno

DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


class SedbenchError(Exception):
    """An error caused by user input (names, files, configs) rather than a bug."""


class UnknownNameError(SedbenchError, KeyError):
    """A system or dataset name that is not registered."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class DataError(SedbenchError):
    """Missing, empty, corrupt or inconsistent audio or annotations."""


class SystemOutputError(SedbenchError):
    """A system returned output that breaks the interface contract."""


class ConfigError(SedbenchError):
    """A configuration override that does not fit the system's config."""


class CheckpointError(SedbenchError):
    """A checkpoint that cannot be read, holds more than tensors and plain values, or belongs to another job."""


def write_problem(exc: OSError) -> str:
    """Why a write failed, for a user: the system's words, plus "the disk is full" when it is (or a quota is)."""
    words = exc.strerror or str(exc) or type(exc).__name__
    return f"{words} (the disk is full)" if exc.errno in DISK_FULL else words
