"""FNN baseline (Cakir et al. 2015, as used in Cakir et al. 2017, Sec. III-C).

40 log mel bands per 40 ms frame; five consecutive frames stacked (100 ms context)
as the input of each frame; two feedforward layers of 1600 units with maxout
activation (pool size 2, so 800 outputs each); a sigmoid output per class. No
sliding-window post-processing, as in the paper's comparison. About 1.6 M
parameters with 16 classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from sedbench.core.config import Range
from sedbench.core.data import LabelKind
from sedbench.core.errors import ConfigError
from sedbench.core.registry import register_system
from sedbench.core.system import System
from sedbench.papers.citations import CAKIR2015
from sedbench.training.frames import QUICK_TRAINING, FrameTorchSystem, FrameTrainingConfig


@dataclass(frozen=True)
class FNNConfig(FrameTrainingConfig):
    context_frames: int = 5  # stacked frames per input (100 ms)
    hidden_layers: int = 2
    hidden_units: int = 1600  # linear units per layer, before maxout
    maxout_pool: int = 2
    dropout: float = 0.25  # the comparison's regularization (Sec. III-D); [15] is silent here
    sequence_frames: int = 256  # frames are independent; sequences only batch them

    ranges: ClassVar[dict[str, Range]] = {"context_frames": Range(1), "hidden_layers": Range(0),
                                          "hidden_units": Range(1), "maxout_pool": Range(1), "dropout": Range(0, 1)}

    def check(self) -> None:
        super().check()
        if self.context_frames % 2 == 0:
            raise ConfigError(f"setting 'context_frames' must be odd (a centred context), got {self.context_frames}")
        if self.hidden_units % self.maxout_pool:
            raise ConfigError(f"setting 'hidden_units' must be a multiple of maxout_pool ({self.maxout_pool}), "
                              f"got {self.hidden_units}")


class Maxout(nn.Module):
    def __init__(self, pool: int):
        super().__init__()
        self.pool = pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (batch, units, frames)
        batch, units, frames = x.shape
        return x.view(batch, units // self.pool, self.pool, frames).amax(dim=2)


class FNNModel(nn.Module):
    """Stacking k frames and a dense layer equals a 1-D convolution of width k over time."""

    def __init__(self, n_mels: int, n_classes: int, config: FNNConfig):
        super().__init__()
        if config.context_frames % 2 == 0:
            raise ValueError(f"context_frames must be odd (centred context), got {config.context_frames}")
        if config.hidden_units % config.maxout_pool:
            raise ValueError(f"hidden_units {config.hidden_units} is not a multiple of maxout_pool {config.maxout_pool}")
        layers: list[nn.Module] = []
        width, kernel = n_mels, config.context_frames
        for _ in range(config.hidden_layers):
            layers += [nn.Conv1d(width, config.hidden_units, kernel, padding=kernel // 2), Maxout(config.maxout_pool),
                       nn.Dropout(config.dropout)]
            width, kernel = config.hidden_units // config.maxout_pool, 1
        self.hidden = nn.Sequential(*layers)
        self.output = nn.Conv1d(width, n_classes, 1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.output(self.hidden(features.transpose(1, 2))).transpose(1, 2)


@register_system("fnn")
class FNN(FrameTorchSystem, System):
    name = "fnn"
    paper = CAKIR2015
    label_kind = LabelKind.STRONG
    Config = FNNConfig
    profiles = {
        "paper": {},
        "quick": {**QUICK_TRAINING, "hidden_units": 400, "batch_size": 16},
    }

    @classmethod
    def build_model(cls, config: FNNConfig, n_classes: int) -> nn.Module:
        return FNNModel(config.n_mels, n_classes, config)
