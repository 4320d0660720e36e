"""The best epoch so far, its weights, and when to stop: the bookkeeping every training loop shares.

Each loop keeps its paper's optimizer, loss and monitored quantity; this object only answers "was this epoch the
best?", "has patience run out?" and "which weights to keep", and rides along in the loop's checkpoints.
"""

from __future__ import annotations

import copy
import math
from typing import Any

from sedbench.core.data import Convergence

PLATEAU_EPOCHS = 5  # a loop without early stopping converged when its last this many epochs brought no new best


class EarlyStopping:
    """Track a monitored value per epoch (epochs count from 0).

    ``mode`` "max" or "min"; an epoch improves when its value is finite and better than the best by more than
    ``min_delta``. ``patience``: stop once that many epochs have passed since the best one (None: never stop),
    but not before ``min_epochs`` epochs ran. ``keep_weights``: remember the best epoch's weights.
    """

    def __init__(self, mode: str = "max", patience: int | None = None, min_epochs: int = 0, min_delta: float = 0.0,
                 keep_weights: bool = True):
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
        self.mode, self.patience, self.min_epochs, self.min_delta = mode, patience, min_epochs, min_delta
        self.keep_weights = keep_weights
        self.best = -math.inf if mode == "max" else math.inf
        self.best_epoch = -1  # none yet
        self.best_state: dict | None = None

    def update(self, epoch: int, value: float | None, model: Any = None, always: bool = False) -> bool:
        """Record epoch ``epoch``'s value; True when it is the new best (``always``: count it as one regardless,
        e.g. when there is nothing to validate on and the last weights should win)."""
        improved = always or (value is not None and math.isfinite(value) and (
            value > self.best + self.min_delta if self.mode == "max" else value < self.best - self.min_delta))
        if improved:
            self.best, self.best_epoch = value, epoch
            if self.keep_weights and model is not None:
                self.best_state = copy.deepcopy(model.state_dict())
        return improved

    def epochs_since_best(self, epoch: int) -> int:
        return epoch - self.best_epoch

    def should_stop(self, epoch: int) -> bool:
        """Whether training ends after epoch ``epoch``."""
        return (self.patience is not None and epoch + 1 >= self.min_epochs
                and self.epochs_since_best(epoch) >= self.patience)

    def restore_best(self, model: Any) -> bool:
        """Load the best epoch's weights into ``model``; False when none were kept (the last weights stay)."""
        if self.best_state is None:
            return False
        model.load_state_dict(self.best_state)
        return True

    def state(self) -> dict:
        """What a checkpoint keeps of it."""
        return {"best": self.best, "best_epoch": self.best_epoch, "best_state": self.best_state}

    def restore(self, state: dict) -> None:
        self.best, self.best_epoch, self.best_state = state["best"], state["best_epoch"], state["best_state"]

    def convergence(self, epochs_run: int, max_epochs: int, monitor: str = "", plateau: int | None = None) -> Convergence:
        """How the fit ended: converged when the stopping rule fired (the best epoch at least ``patience`` epochs
        before the last one run, and ``min_epochs`` run). A loop without early stopping judges its plateau with
        ``plateau`` epochs instead."""
        patience = self.patience if self.patience is not None else plateau
        fired = (patience is not None and self.best_epoch >= 0 and epochs_run >= self.min_epochs
                 and epochs_run - 1 - self.best_epoch >= patience)
        return Convergence(converged=fired, epochs_run=epochs_run, max_epochs=max_epochs,
                           best_epoch=self.best_epoch + 1 if self.best_epoch >= 0 else None, patience=patience,
                           monitor=monitor)
