"""CRNN for polyphonic SED (Cakir et al. 2017, Sec. II-B and III-D).

Lc convolutional layers (5x5 filters, same padding, batch norm, ReLU, max pooling
over frequency only, dropout) -> feature maps stacked over frequency -> Lr GRU
layers -> time-distributed sigmoid output per class. The ``paper`` profile is
Table I's TUT-SED Synthetic 2016 column (3 x 256 maps, pooling (5, 4, 2),
1 x 256 GRU, 20.48 s sequences); ``quick`` shrinks widths, sequences and the
epoch budget so a run finishes in minutes on two CPU cores.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from sedbench.data import FeatureClip, FrameActivity, LabelKind, Paper
from sedbench.features import LogMelSpec
from sedbench.registry import register_system
from sedbench.system import System
from sedbench.torch_training import FrameModelTrainer, TrainingSettings, count_parameters

CAKIR2017 = Paper(
    key="cakir2017",
    citation=(
        "E. Cakir, G. Parascandolo, T. Heittola, H. Huttunen, T. Virtanen, \"Convolutional Recurrent Neural "
        "Networks for Polyphonic Sound Event Detection\", IEEE/ACM TASLP 25(6):1291-1303, 2017"
    ),
    url="https://arxiv.org/abs/1702.06286",
)


@dataclass(frozen=True)
class CRNNConfig:
    # Features (Sec. III-D)
    sample_rate: int = 44100
    n_mels: int = 40
    # Architecture (Table I, TUT-SED Synthetic 2016)
    conv_maps: int = 256
    pool_sizes: tuple[int, ...] = (5, 4, 2)  # frequency pooling after each conv layer; length = Lc
    kernel_size: tuple[int, ...] = (5, 5)  # (frequency, time)
    rnn_layers: int = 1
    rnn_units: int = 256
    dropout: float = 0.25
    # Training (Sec. III-D)
    sequence_frames: int = 1024  # 20.48 s at a 20 ms hop
    sequence_shift: int = 73
    batch_size: int = 32
    learning_rate: float = 1e-3  # Adam's default
    max_epochs: int = 1000
    patience: int = 100  # "not improving for more than 100 epochs"
    threshold: float = 0.5  # C
    precision: str = "fp32"  # fp32 | bf16 | fp16 (autocast; fp16 with gradient scaling)


class CRNNModel(nn.Module):
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
        self.rnn = nn.GRU(
            input_size=channels * bands,
            hidden_size=config.rnn_units,
            num_layers=config.rnn_layers,
            batch_first=True,
            dropout=config.dropout if config.rnn_layers > 1 else 0.0,
        )
        self.rnn_dropout = nn.Dropout(config.dropout)
        self.output = nn.Linear(config.rnn_units, n_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        # He et al. 2015 initialization, as the paper ([46])
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_uniform_(module.weight, nonlinearity="relu")
                nn.init.zeros_(module.bias)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        batch, frames, _ = features.shape
        x = self.conv(features.unsqueeze(1))  # (batch, maps, frames, bands')
        x = x.permute(0, 2, 1, 3).reshape(batch, frames, -1)  # stack maps over frequency
        x, _ = self.rnn(x)
        return self.output(self.rnn_dropout(x))  # logits; sigmoid in the loss / at inference


@register_system("crnn")
class CRNN(System):
    name = "crnn"
    paper = CAKIR2017
    label_kind = LabelKind.STRONG
    Config = CRNNConfig
    profiles = {
        "paper": {},
        "quick": {  # sized for 2 CPU cores: ~4 minutes on synth
            "conv_maps": 32,
            "rnn_units": 32,
            "sequence_frames": 256,
            "batch_size": 8,
            "max_epochs": 25,
            "patience": 6,
        },
    }

    def features(self) -> LogMelSpec:
        return LogMelSpec(sample_rate=self.config.sample_rate, n_mels=self.config.n_mels)

    def _trainer(self) -> FrameModelTrainer:
        if not hasattr(self, "trainer"):
            model = CRNNModel(self.config.n_mels, len(self.context.labels), self.config)
            settings = TrainingSettings(
                sequence_frames=self.config.sequence_frames,
                sequence_shift=self.config.sequence_shift,
                batch_size=self.config.batch_size,
                learning_rate=self.config.learning_rate,
                max_epochs=self.config.max_epochs,
                patience=self.config.patience,
                threshold=self.config.threshold,
                device=self.context.device,
                precision=self.config.precision,
            )
            self.trainer = FrameModelTrainer(model, settings, log=self.context.log)
        return self.trainer

    def parameter_count(self) -> int:
        return count_parameters(self._trainer().model)

    def fit(self, train: list[FeatureClip], valid: list[FeatureClip]) -> dict:
        return self._trainer().fit(train, valid)

    def predict(self, clips: list[FeatureClip]) -> list[FrameActivity]:
        hop = self.features().frame_hop
        return [FrameActivity(np.asarray(p, dtype=np.float32), hop) for p in self._trainer().predict(clips)]
