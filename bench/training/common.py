"""What every PyTorch training loop of a system needs: the device, seeding, and the state a checkpoint holds."""

from __future__ import annotations

import os
import random

import numpy as np
import torch
from torch import nn

from sedbench.core.errors import SedbenchError


def resolve_device(requested: str) -> str:
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        raise SedbenchError("--device cuda was requested but PyTorch sees no CUDA device; use --device cpu or auto")
    if requested not in ("cpu", "cuda"):
        raise SedbenchError(f"--device must be auto, cpu or cuda, got {requested!r}")
    return requested


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    torch.set_num_threads(max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))


def training_state(epoch: int, parts: dict, **bookkeeping) -> dict:
    """A training loop's checkpoint: epochs done, each part's state (model, optimizer, scaler, scheduler: their
    state dicts; a data-order ``torch.Generator``: its state) and the loop's own values (history, best so far)."""
    states = {name: part.get_state() if isinstance(part, torch.Generator) else part.state_dict()
              for name, part in parts.items()}
    return {"epoch": epoch, **states, **bookkeeping}


def restore_training(state: dict, parts: dict) -> None:
    """Put the parts back as ``training_state`` saved them; the caller takes its own values from ``state``."""
    for name, part in parts.items():
        if isinstance(part, torch.Generator):
            part.set_state(state[name])
        else:
            part.load_state_dict(state[name])


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
