"""Per-job training checkpoints: resume a killed job where it stopped, with the same result.

A system's training loop calls ``context.checkpoints.load()`` once, right before its first epoch, and
``context.checkpoints.save(state)`` at the end of every epoch. ``state`` is a dict of tensors, state dicts and
plain values (numbers, strings, lists, dicts: what ``torch.load(weights_only=True)`` accepts); by convention it
holds ``epoch`` (epochs done), ``model`` and ``optimizer`` state dicts and the loop's own bookkeeping (history,
best weights, a data-order generator's state). The global random number generators (Python, NumPy, torch CPU and
CUDA) are saved with it and restored by ``load()``, so a resumed run draws the same numbers as an uninterrupted one.

Writes are atomic (temporary file, fsync, rename): a kill during a write leaves the previous checkpoint. Reads
use ``weights_only=True``: a checkpoint holding pickled code is refused, never executed. A checkpoint names the job
that wrote it (``bind``: system, config hash, dataset fingerprint, fold, seed, sedbench version); one of another
job, or one past the job's epoch budget, is refused rather than resumed under settings it was not trained with.
"""

from __future__ import annotations

import os
import pickle
import random
import re
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from sedbench.core.errors import CheckpointError, write_problem


def rng_state() -> dict:
    """The global generators' states, as values ``weights_only`` loading accepts (no NumPy arrays)."""
    import torch

    kind, keys, position, has_gauss, cached_gaussian = np.random.get_state()
    python_version, python_internal, python_gauss = random.getstate()
    return {
        "python": [python_version, list(python_internal), python_gauss],
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), int(position), int(has_gauss), float(cached_gaussian)],
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def restore_rng_state(state: dict) -> None:
    import torch

    python_version, python_internal, python_gauss = state["python"]
    random.setstate((python_version, tuple(python_internal), python_gauss))
    kind, keys, position, has_gauss, cached_gaussian = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), position, has_gauss, cached_gaussian))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class Checkpoints:
    """One job's checkpoint file; ``Checkpoints(None)`` keeps nothing (tests, the validator, ``search`` trials)."""

    def __init__(self, path: Path | None):
        self.path = Path(path) if path is not None else None
        self.resumed_epoch: int | None = None  # the epoch count of the checkpoint load() resumed from
        self.saves = 0
        self._harness: dict = {}  # name -> (get, restore): the harness's own per-epoch state, saved alongside
        self.job: dict | None = None  # the job this checkpoint belongs to (``bind``)
        self.max_epoch: int | None = None

    def bind(self, job: dict, max_epoch: int | None = None) -> None:
        """Tie the checkpoint to one job: saves carry ``job``; load refuses another job's, or an epoch past
        ``max_epoch``."""
        self.job, self.max_epoch = dict(job), max_epoch

    def attach(self, name: str, get, restore) -> None:
        """Save ``get()`` with every checkpoint and hand it to ``restore`` on load (e.g. the --track-test curve)."""
        if self.path is not None:
            self._harness[name] = (get, restore)

    @property
    def enabled(self) -> bool:
        return self.path is not None

    def exists(self) -> bool:
        return self.path is not None and self.path.is_file()

    def load(self) -> dict | None:
        """The last saved state (and the global generators restored to their state at that save), or None."""
        remove_partial_writes(self.path) if self.path is not None else None
        if not self.exists():
            return None
        state = read_checkpoint(self.path)
        if not isinstance(state, dict) or "rng" not in state:
            raise CheckpointError(f"checkpoint {self.path} is not a sedbench training checkpoint (no 'rng' entry); "
                                  "delete it to restart this job from scratch")
        self._check_owner(state.pop("job", None), state.get("epoch"))
        restore_rng_state(state.pop("rng"))
        for name, value in state.pop("harness", {}).items():
            if name in self._harness:
                self._harness[name][1](value)
        self.resumed_epoch = state.get("epoch")
        return state

    def _check_owner(self, saved: dict | None, epoch) -> None:
        start_over = "delete it to start this job over"
        if self.job is not None:
            if not isinstance(saved, dict):
                raise CheckpointError(f"checkpoint {self.path} does not name the job that wrote it (an older "
                                      f"sedbench wrote it); refused to resume from it: {start_over}")
            differences = [f"{name} {saved.get(name)!r}, not {value!r}" for name, value in self.job.items()
                           if saved.get(name) != value]
            if differences:
                raise CheckpointError(f"checkpoint {self.path} belongs to another job ({'; '.join(differences)}); "
                                      f"refused to resume from it: {start_over}")
        if self.max_epoch is not None and isinstance(epoch, int) and epoch > self.max_epoch:
            raise CheckpointError(f"checkpoint {self.path} is at epoch {epoch}, beyond this job's budget of "
                                  f"{self.max_epoch} epochs; {start_over}")

    def save(self, state: dict) -> None:
        if self.path is None:
            return
        import torch

        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(handle, "wb") as out:
                harness = {name: get() for name, (get, _) in self._harness.items()}
                torch.save({**state, "rng": rng_state(), **({"harness": harness} if harness else {}),
                            **({"job": self.job} if self.job is not None else {})}, out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        except BaseException as exc:
            Path(tmp).unlink(missing_ok=True)
            if isinstance(exc, OSError):  # the disk's problem, not the system's; the previous checkpoint is kept
                raise CheckpointError(f"cannot write checkpoint {self.path}: {write_problem(exc)}; free space (or "
                                      "choose another --runs-dir) and run again to resume from the last checkpoint "
                                      "saved") from None
            raise
        self.saves += 1

    def clear(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)


NO_CHECKPOINTS = Checkpoints(None)


def remove_partial_writes(path: Path) -> None:
    """Delete the temporary files of writes of ``path`` that a kill cut short (the file itself is intact)."""
    for partial in Path(path).parent.glob(f".{Path(path).name}.*.tmp"):
        partial.unlink(missing_ok=True)


def read_checkpoint(path: Path):
    """``torch.load(path, weights_only=True)`` with one-sentence errors for unreadable files and pickled code."""
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:  # weights_only refuses every global it does not allow: code, classes
        refused = re.search(r"unsupported (?:global: )?GLOBAL (\S+)", str(exc), re.IGNORECASE)
        if refused:
            raise CheckpointError(
                f"checkpoint {path} holds pickled code or objects ({refused.group(1)}), not only tensors and plain "
                "values; refused to load it (weights_only=True); delete it to restart this job from scratch"
            ) from None
        raise CheckpointError(f"checkpoint {path} cannot be read (not a torch checkpoint, or corrupted); "
                              "delete it to restart this job from scratch") from None
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile) as exc:
        text = str(exc).strip()
        first_sentence = text.splitlines()[0].split(". ")[0].rstrip(".") if text else type(exc).__name__
        raise CheckpointError(f"checkpoint {path} cannot be read ({first_sentence}); "
                              "delete it to restart this job from scratch") from None
