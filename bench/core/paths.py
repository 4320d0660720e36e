"""Where sedbench keeps datasets, caches and downloaded weights (shared by the CLI and the harness modules)."""

from __future__ import annotations

import os
from pathlib import Path


def default_cache_dir() -> Path:
    return Path(os.environ.get("SEDBENCH_CACHE", Path.home() / ".cache" / "sedbench"))


def default_data_dir() -> Path:
    return Path(os.environ.get("SEDBENCH_DATA", default_cache_dir() / "data"))
