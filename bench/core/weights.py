"""Pretrained weights a system reads, declared as ``System.weights`` so that `sedbench weights` can list and fetch
them from the registry without knowing any system."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .paths import default_cache_dir


@dataclass(frozen=True)
class WeightsFetch:
    path: Path  # where the stored weights are
    sha256: str  # of the stored file
    already_present: bool


@dataclass(frozen=True)
class Weights:
    """What `sedbench weights list` shows about a set of downloadable weights, and how `fetch` gets them.

    ``fetch(cache_dir, source_file=None, force=False, log=print)`` stores the weights under ``cache_dir``, checking
    the published file's ``sha256`` before reading it; ``source_file`` is an already downloaded copy of the
    published file (offline machines).
    """

    name: str
    description: str
    source: str
    license: str
    sha256: str  # of the published file the weights are read from
    relative_path: Path  # of the stored weights, under the cache dir
    fetch: Callable[..., WeightsFetch]

    def path(self, cache_dir: Path | None = None) -> Path:
        return Path(cache_dir or default_cache_dir()) / self.relative_path


_FILE_HASHES: dict[tuple[str, int, int], str] = {}


def file_sha256(path: Path) -> str:
    """sha256 of a file, remembered per (path, size, mtime): the feature spec asks for it once per clip."""
    stat = path.stat()
    memo_key = (str(path), stat.st_size, stat.st_mtime_ns)
    if memo_key not in _FILE_HASHES:
        _FILE_HASHES[memo_key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return _FILE_HASHES[memo_key]
