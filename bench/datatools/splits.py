"""How recordings are divided into train / validation / test when a dataset does not list every part.

Two hold-out strategies, kept apart on purpose: each decides the splits of existing datasets, and merging them
would move recordings between partitions (and change every affected dataset's fingerprint).

* ``hold_out_hashed`` (bring-your-own folders and manifests): the recordings first in SHA-256 order of their clip
  id. It needs no key, and adding a recording moves at most one other between the parts.
* ``hold_out_seeded`` (registered corpora): a draw seeded by CRC-32 of a key such as ``tut2016/fold1/home``, so
  every fold, scene or class draws independently and reproducibly on every machine.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable, Sequence
from typing import TypeVar

import numpy as np

from sedbench.core.errors import DataError

T = TypeVar("T")

VALIDATION_FRACTION = 0.2  # of a fold's training recordings, held out for early stopping


def unique(items: Iterable[T]) -> list[T]:
    """Items in first-seen order without repeats (fold lists repeat a file once per event)."""
    return list(dict.fromkeys(items))


def _hash_order(clip_id: str) -> str:
    return hashlib.sha256(clip_id.encode("utf-8")).hexdigest()


def default_partitions(clip_ids: list[str]) -> dict[str, list[str]]:
    """60/20/20 of the recordings by SHA-256 of the clip id (at least one in each); clip-id order inside."""
    if len(clip_ids) < 3:
        raise DataError(f"{len(clip_ids)} recording(s) cannot be split into train / validation / test; "
                        "give at least 3, or fold lists")
    ordered = sorted(clip_ids, key=_hash_order)
    n_valid = n_test = max(1, round(len(ordered) * 0.2))
    n_train = len(ordered) - n_valid - n_test
    return {"train": sorted(ordered[:n_train]), "validate": sorted(ordered[n_train:n_train + n_valid]),
            "test": sorted(ordered[n_train + n_valid:])}


def hold_out_hashed(train: list[str]) -> tuple[list[str], list[str]]:
    """(train, validation): 20 % (at least one) of the training recordings, first by SHA-256 of the clip id;
    both keep the training order."""
    if len(train) < 2:
        raise DataError(f"a fold with {len(train)} training recording(s) and no validation list cannot hold "
                        "out a validation set; give a validation list or more training recordings")
    count = max(1, round(len(train) * VALIDATION_FRACTION))
    held = set(sorted(train, key=_hash_order)[:count])
    return [c for c in train if c not in held], [c for c in train if c in held]


def hold_out_seeded(items: Sequence[T], key: str, fraction: float = VALIDATION_FRACTION) -> tuple[list[T], list[T]]:
    """(kept, held out): ``round(fraction * n)`` of the sorted items, at least one when n >= 2.

    The choice is seeded from ``key`` (CRC-32, not Python's salted hash), so it is the same on every machine and
    run, and different folds / scenes draw independently.
    """
    ordered = sorted(set(items))
    count = max(1, round(fraction * len(ordered))) if len(ordered) >= 2 else 0
    chosen = set(np.random.default_rng(zlib.crc32(key.encode())).choice(len(ordered), size=count, replace=False)
                 .tolist()) if count else set()
    kept = [item for i, item in enumerate(ordered) if i not in chosen]
    held = [item for i, item in enumerate(ordered) if i in chosen]
    return kept, held
