"""sedbench: a benchmark harness and leaderboard for polyphonic sound event detection."""

from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("sedbench")
except _metadata.PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0+unknown"
