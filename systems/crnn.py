"""The CRNN family of Cakir et al. 2017 (Sec. II-B, III-C, III-D): CRNN, CNN and RNN.

One configurable network: Lc convolutional layers (5x5 filters, same padding,
batch norm, ReLU, max pooling over frequency only, dropout) -> maps stacked over
frequency -> Lr GRU layers -> Lf feedforward layers (batch norm, ReLU, dropout)
-> time-distributed sigmoid output per class. As the paper puts it, a CNN is a
CRNN with zero recurrent layers (feedforward layers instead) and an RNN a CRNN
with zero convolutional layers. ``paper`` profiles are Table I's columns: the
TUT-SED Synthetic 2016 column by default, the TUT-SED 2009 / TUT-SED 2016 /
CHiME-Home columns when run on those datasets; ``quick`` profiles shrink widths,
sequences and the epoch budget so a run finishes in minutes on two CPU cores.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from sedbench.core.config import Range, SearchSpace
from sedbench.core.data import LabelKind
from sedbench.core.errors import ConfigError
from sedbench.core.registry import register_system
from sedbench.core.system import System
from sedbench.papers.citations import CAKIR2017
from sedbench.training.frames import QUICK_TRAINING, FrameTorchSystem, FrameTrainingConfig


@dataclass(frozen=True)
class CRNNConfig(FrameTrainingConfig):
    # Architecture (Table I, TUT-SED Synthetic 2016 CRNN)
    conv_maps: int = 256
    pool_sizes: tuple[int, ...] = (5, 4, 2)  # frequency pooling after each conv layer; length = Lc (0 = no conv)
    kernel_size: tuple[int, ...] = (5, 5)  # (frequency, time)
    rnn_layers: int = 1
    rnn_units: int = 256
    fnn_layers: int = 0
    fnn_units: int = 256
    dropout: float = 0.25
    sequence_frames: int = 1024  # 20.48 s at a 20 ms hop

    ranges: ClassVar[dict[str, Range]] = {
        "conv_maps": Range(1), "pool_sizes": Range(1), "kernel_size": Range(1), "rnn_layers": Range(0),
        "rnn_units": Range(1), "fnn_layers": Range(0), "fnn_units": Range(1), "dropout": Range(0, 1),
    }

    def check(self) -> None:
        super().check()
        if len(self.kernel_size) != 2 or not all(size % 2 for size in self.kernel_size):
            raise ConfigError(f"setting 'kernel_size' must be two odd sizes (frequency, time), got {self.kernel_size!r}")
        if self.n_mels % math.prod(self.pool_sizes):  # pooled layer by layer, so the product must divide n_mels
            raise ConfigError(f"setting 'pool_sizes' must pool the {self.n_mels} mel bands evenly (its product must "
                              f"divide n_mels), got {self.pool_sizes!r}")


class CRNNModel(nn.Module):
    """(batch, frames, bands) -> (batch, frames, classes) logits."""

    def __init__(self, n_mels: int, n_classes: int, config: CRNNConfig):
        super().__init__()
        layers: list[nn.Module] = []
        channels, bands = 1, n_mels
        kf, kt = config.kernel_size
        for pool in config.pool_sizes:
            if bands % pool:
                raise ValueError(f"pool sizes {config.pool_sizes} do not divide {n_mels} mel bands evenly")
            layers += [
                nn.Conv2d(channels, config.conv_maps, (kt, kf), padding=(kt // 2, kf // 2)),
                nn.BatchNorm2d(config.conv_maps),
                nn.ReLU(),
                nn.MaxPool2d((1, pool)),  # input is (batch, maps, time, frequency): pool frequency only
                nn.Dropout(config.dropout),
            ]
            channels, bands = config.conv_maps, bands // pool
        self.conv = nn.Sequential(*layers)
        width = channels * bands
        self.rnn = None
        if config.rnn_layers:
            self.rnn = nn.GRU(
                input_size=width,
                hidden_size=config.rnn_units,
                num_layers=config.rnn_layers,
                batch_first=True,
                dropout=config.dropout if config.rnn_layers > 1 else 0.0,
            )
            self.rnn_dropout = nn.Dropout(config.dropout)
            width = config.rnn_units
        fnn: list[nn.Module] = []
        for _ in range(config.fnn_layers):
            fnn += [nn.Linear(width, config.fnn_units), _FrameBatchNorm(config.fnn_units), nn.ReLU(),
                    nn.Dropout(config.dropout)]
            width = config.fnn_units
        self.fnn = nn.Sequential(*fnn)
        self.output = nn.Linear(width, n_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        # He et al. 2015 initialization, as the paper ([46])
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_uniform_(module.weight, nonlinearity="relu")
                nn.init.zeros_(module.bias)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        batch, frames, _ = features.shape
        x = features
        if len(self.conv):
            x = self.conv(features.unsqueeze(1))  # (batch, maps, frames, bands')
            x = x.permute(0, 2, 1, 3).reshape(batch, frames, -1)  # stack maps over frequency
        if self.rnn is not None:
            x, _ = self.rnn(x)
            x = self.rnn_dropout(x)
        return self.output(self.fnn(x))  # logits; sigmoid in the loss / at inference


class _FrameBatchNorm(nn.BatchNorm1d):
    """Batch norm over the feature axis of (batch, frames, features)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.transpose(1, 2)).transpose(1, 2)


@register_system("crnn")
class CRNN(FrameTorchSystem, System):
    name = "crnn"
    paper = CAKIR2017
    label_kind = LabelKind.STRONG
    Config = CRNNConfig
    profiles = {
        "paper": {},
        # sized for 2 CPU cores: converges on synth in about 2 minutes (epochs of ~3 s, early stop near epoch 45)
        "quick": {**QUICK_TRAINING, "conv_maps": 16, "rnn_units": 32, "fnn_units": 32, "sequence_frames": 256,
                  "batch_size": 16},
    }
    # Table I columns for the paper's other datasets (sequence lengths in 20 ms frames)
    dataset_profiles = {
        "paper": {
            "tut2009": {},
            "tut2016": {"pool_sizes": (2, 2, 2), "rnn_layers": 3, "conv_maps": 96, "rnn_units": 96,
                        "sequence_frames": 128},
            "chime-home": {"pool_sizes": (2, 2, 2, 1), "sequence_frames": 200},
        }
    }

    # Sec. III-D: maps = units in {96, 256}, 1-3 GRU layers, eight pooling arrangements; then filter-shape and
    # sequence-length studies around the best. The quick space keeps the structure at CPU sizes.
    search_spaces = {
        "paper": SearchSpace(
            axes=(
                {"conv_maps": [96, 256], "rnn_units": [96, 256]},
                {"rnn_layers": [1, 2, 3]},
                {"pool_sizes": [(4,), (2, 2), (4, 2), (8, 5), (2, 2, 2), (5, 4, 2), (2, 2, 2, 1), (5, 2, 2, 2)]},
            ),
            studies=(
                {"kernel_size": [(3, 3), (5, 5), (11, 11), (1, 5), (5, 1), (3, 11), (11, 3)]},
                {"sequence_frames": [8, 32, 128, 256, 512, 1024, 2048]},
            ),
        ),
        "quick": SearchSpace(
            axes=(
                {"conv_maps": [16, 32], "rnn_units": [16, 32]},
                {"rnn_layers": [1, 2]},
                {"pool_sizes": [(5, 4, 2), (2, 2, 2), (8, 5)]},
            ),
            fixed={"max_epochs": 20, "min_epochs": 5},
            profile="quick",
        ),
    }

    @classmethod
    def build_model(cls, config: CRNNConfig, n_classes: int) -> nn.Module:
        return CRNNModel(config.n_mels, n_classes, config)


@register_system("cnn")
class CNN(CRNN):
    """The CRNN with zero recurrent layers: conv layers, then feedforward layers (Table I CNN columns)."""

    name = "cnn"
    profiles = {
        "paper": {"pool_sizes": (2, 2, 2), "rnn_layers": 0, "fnn_layers": 3, "sequence_frames": 128},
        "quick": {**QUICK_TRAINING, "pool_sizes": (2, 2, 2), "rnn_layers": 0, "fnn_layers": 3, "conv_maps": 32,
                  "fnn_units": 32, "sequence_frames": 128, "batch_size": 16},
    }
    dataset_profiles = {
        "paper": {
            "tut2009": {"pool_sizes": (5, 4, 2), "fnn_layers": 1},
            "tut2016": {"pool_sizes": (5, 4, 2), "fnn_layers": 1},
            "chime-home": {"pool_sizes": (5, 4, 2), "fnn_layers": 1, "sequence_frames": 200},
        }
    }


@register_system("rnn")
class RNN(CRNN):
    """The CRNN with zero convolutional layers: GRU layers, then feedforward layers (Table I RNN columns)."""

    name = "rnn"
    profiles = {
        "paper": {"pool_sizes": (), "rnn_layers": 3, "rnn_units": 512, "fnn_layers": 2, "fnn_units": 512,
                  "sequence_frames": 256},
        "quick": {**QUICK_TRAINING, "pool_sizes": (), "rnn_layers": 3, "rnn_units": 64, "fnn_layers": 2,
                  "fnn_units": 64, "sequence_frames": 256, "batch_size": 8},
    }
    dataset_profiles = {
        "paper": {
            "tut2009": {"rnn_units": 256, "fnn_layers": 4, "fnn_units": 256, "sequence_frames": 1024},
            "tut2016": {"rnn_units": 256, "fnn_layers": 4, "fnn_units": 256, "sequence_frames": 1024},
            "chime-home": {"rnn_layers": 2, "rnn_units": 256, "fnn_layers": 1, "fnn_units": 256, "sequence_frames": 200},
        }
    }
