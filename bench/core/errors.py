"""User-facing errors: one sentence, shown without a traceback by the CLI."""


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
