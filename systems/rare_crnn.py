"""Rare sound event detection (DCASE2017 task 2): the CRNN of Amiriparian et al. 2018, its CNN, and the FNN baseline.

Three systems compared in Table 4 of S. Amiriparian, S. Julka, N. Cummins, B. Schuller, "Deep Convolutional
Recurrent Neural Network for Rare Acoustic Event Detection", 2018 (cited below as "the paper"):

``rare-crnn`` -- the paper's CRNN.

- Features (Sec. 2.1): 128 log mel bands of 46 ms windows. The paper does not give the hop; we use 50 % overlap
  (23 ms) and a Hann window (``hop_seconds``, ``frame_seconds``; note that 2048-sample windows at 44.1 kHz, 128
  bands are librosa's defaults, whose hop would be 512 samples = 11.6 ms: ``--set hop_seconds=0.0116``). The
  paper's sample rate is the corpus's 44.1 kHz; on ``synth-rare`` (22.05 kHz audio) the features are taken at
  22.05 kHz instead of upsampling. Features are standardized per band by the harness.
- Input chunks of tau frames (Sec. 2.1, Table 3).
- Convolutional part, N_c = 2 (Sec. 2.2, Fig. 2, Table 3): a 2-D convolution over frequency x time, max pooling
  over frequency only ("non-overlapping pooling ... no shrinking in time"), then a 1-D convolution along frequency
  and max pooling over frequency; ReLU in the convolutional layers, batch norm between them, 30 % dropout after
  every layer. Not in the paper, chosen here: 64 filters per layer, a 3 x 3 (frequency x time) 2-D kernel with
  'same' padding, a 3-band 1-D kernel, pooling 4 then 4 (128 bands -> 8), the order conv -> ReLU -> pool ->
  batch norm -> dropout (computed as conv -> pool -> ReLU, the same values).
- Recurrent part, N_r = 2 (Sec. 2.3, Fig. 3): two LSTM layers of 128 units (tanh) that run backwards in time
  (not bidirectional), 30 % dropout between and after them; an output at every step.
- A 128-unit dense layer with batch norm and ReLU (Sec. 2.4), 30 % dropout (Sec. 2.2: "for all layers"), then one
  sigmoid unit per time step (Sec. 2.4).
- One network per target class ("hyperparameters ... for each subtask", Table 3) and per tau of the class's
  timestep ensemble (Table 2: babycry (t5 + t9 + t50)/3, glassbreak t3, gunshot (t3 + t5)/2; ``ensembles``).
  Each class's networks learn from the training mixtures made for that class (``FeatureClip.target_class``; all
  clips when it is None), with that class's frame activity as the target. The paper trains on its own 25 h of
  augmented mixtures (Sec. 3.2); we train on the dataset's training split.
- Training (Table 3): learning rate 0.001 with ``lrd`` 0.01, at least 100 epochs, then early stopping with a
  patience of 15 epochs. The paper names neither the optimizer nor the loss nor the batch size: we use Adam (as
  the issue reads it), binary cross-entropy, 32 chunks per batch (Keras's default), and read ``lrd`` as Keras's
  time-based decay ``lr / (1 + lrd * updates)``, updated after every batch as Keras does. Every epoch covers
  each training clip once with non-overlapping chunks whose first start moves by one frame per epoch (epoch mod
  tau), so successive epochs see differently aligned chunks. The early-stopping criterion is not in the paper:
  the validation loss (binary cross-entropy over non-overlapping chunks of the class's validation clips; the
  training loss where a class has no validation clips); the best epoch's weights are restored. Training stops at
  the first epoch >= ``min_epochs`` whose best loss is ``patience`` epochs old, or at ``max_epochs`` (a safety cap
  the paper does not have). PyTorch's default initialization (the paper is silent). A killed run resumes
  inside the network it was training, the finished ones restored from the checkpoint (``NetworkSeries``).
- Post-processing, exactly Sec. 2.5 and Fig. 4: a sliding ensemble runs the network on every window of tau
  frames (hop 1) and averages the overlapping predictions of each frame; the class's tau models are averaged
  with equal weights (Table 2); an event is present in the clip when the maximum exceeds the class threshold
  (0.8 babycry and glassbreak, 0.5 gunshot; ``thresholds``), and its onset is the first frame of the run of
  frames with p > 0.5 that contains the peak, found by walking back from the peak. The task scores onsets only;
  the offset (not described in the paper) is found the same way walking forward: the end of that run. So each
  clip gets at most one event per class, and each class is detected only on the clips made for it (DCASE2017
  task 2 tests each class on its own mixtures).

``rare-cnn`` -- Table 4's CNN, "the same hyperparameters as the CRNN": the same network without the LSTM layers
(the dense layer reads the convolutional features directly); same features, training and post-processing.

``rare-fnn`` -- Table 4's FNN, the DCASE2017 task 2 baseline (A. Mesaros et al., "DCASE 2017 challenge setup:
tasks, datasets and baseline system", DCASE 2017 workshop). Its settings, read from the baseline's published
parameters (DCASE2017-baseline-system, applications/parameters/task2.defaults.yaml, set ``dcase2017``, and
dcase_framework's feature, learner and recognizer code):

- 40 log mel band energies of 40 ms asymmetric Hamming windows, 20 ms hop, 2048-point FFT, magnitude (not power)
  spectrogram, mel bands 0 Hz - Nyquist (Slaney-style, not HTK), log(mel + eps); standardized with training
  statistics; 5 frames (100 ms) centred on each frame stacked into one 200-dim input, repeating the first / last
  frame at the clip edges.
- One binary network per class ("event-dependent"), trained on that class's training mixtures: two dense layers
  of 50 ReLU units, 20 % dropout after each, one sigmoid output; weights uniform in [-0.05, 0.05] (Keras's
  'uniform'), zero biases; Adam with Keras's default learning rate 0.001 (the CPU set gives no rate; its GPU set
  uses 0.01), binary cross-entropy, batches of 256 shuffled frames, at most 200 epochs, early stopping on the
  validation frame accuracy (improvement > 0.001, patience 10). Keras's EarlyStopping of 2017 did not restore the
  best weights, so neither do we. The baseline validates on 10 % of the training mixtures; we use the dataset's
  validation clips of the class.
- Recognition: frame probabilities > 0.5, a 0.54 s (27-frame) median filter over the binary activity (scipy's
  ``medfilt``, zero-padded, as the baseline), and every remaining run of active frames is an event. Unlike the
  CRNN this can give several events per clip -- the baseline does, and its errors in Table 4 include them.
- The baseline resamples to 44.1 kHz; on ``synth-rare`` we keep its 22.05 kHz.

Profiles: ``paper`` has the sizes and epoch budgets above (491 k parameters per CRNN network, 2.95 M for the six
of Table 2; 79 k per CNN network; 12.7 k per FNN class). ``quick`` keeps the features, the tau ensembles and the
post-processing and shrinks the rest for two CPU cores: 16 convolution filters, 32 LSTM units, a 32-unit dense
layer, 128 chunks per batch, a 100x slower learning-rate decay, early stopping with a patience of 5 after at least
10 epochs and a cap of 200 (the same for the CNN); the FNN keeps its size and stops after at most 100 epochs.
Measured with the cap at 60 (2026-11-30, 2 cores shared with a test run): five of the six networks stopped by
patience after 19-41 epochs, babycry's tau-50 network ran into the cap on seeds 0 and 1; a run took 27-33 minutes.
The older estimate, from single training steps and sliding-ensemble passes (CPU time of one thread, scaled by the
same ratio as the training step timed in reports/performance.md; 50 training mixtures of 30 s per class): one
rare-crnn epoch of all six networks takes about 16 s on two idle cores (10-15 epochs plus
about 0.75 s of sliding ensemble per babycry test clip, 0.1 s for the others); rare-cnn about 2.5-3.5 minutes;
rare-fnn about 0.7 s per class and epoch, usually well under a minute.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from sedbench.core import progress
from sedbench.core.data import Convergence, Event, FeatureClip, LabelKind
from sedbench.core.errors import CheckpointError, ConfigError, DataError
from sedbench.core.features import LogMelSpec
from sedbench.core.outputs import Detections
from sedbench.core.progress import budget_eta
from sedbench.core.registry import register_system
from sedbench.core.system import System
from sedbench.papers.citations import AMIRIPARIAN2018, MESAROS2017
from sedbench.scoring.postprocess import activity_to_events
from sedbench.training.common import restore_training, training_state
from sedbench.training.early_stopping import EarlyStopping

# --------------------------------------------------------------------------- per-class settings


def parse_timesteps(text: str, setting: str, entry: str) -> tuple[int, ...]:
    """'5+9+50' -> (5, 9, 50): the tau of each model of a timestep ensemble (Table 2)."""
    parts = [part.strip() for part in text.split("+")]
    if not all(part.isascii() and part.isdigit() and int(part) > 0 for part in parts):
        raise ConfigError(f"setting {setting!r}: {entry!r} needs positive whole timesteps joined by '+', "
                          "e.g. babycry=5+9+50")
    steps = tuple(int(part) for part in parts)
    if len(set(steps)) != len(steps):
        raise ConfigError(f"setting {setting!r}: {entry!r} lists a timestep twice")
    return steps


def parse_probability(text: str, setting: str, entry: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 <= value <= 1.0:  # also refuses NaN
        example = ", e.g. gunshot=0.5" if "=" in entry else ""
        raise ConfigError(f"setting {setting!r}: {entry!r} needs a threshold between 0 and 1{example}")
    return value


def parse_class_values(entries: tuple[str, ...], setting: str, parse_one) -> dict:
    """('babycry=0.8', 'gunshot=0.5') -> {'babycry': 0.8, 'gunshot': 0.5}, with one-sentence errors."""
    values = {}
    for entry in entries:
        label, sep, text = entry.partition("=")
        label, text = label.strip(), text.strip()
        if not sep or not label or not text:
            raise ConfigError(f"setting {setting!r}: {entry!r} is not of the form class=value, "
                              f"e.g. {'babycry=5+9+50' if setting == 'ensembles' else 'babycry=0.8'}")
        if label in values:
            raise ConfigError(f"setting {setting!r} lists class {label!r} twice")
        values[label] = parse_one(text, setting, entry)
    return values


def _check_listed_classes(config, labels: tuple[str, ...]) -> None:
    """Classes named in changed per-class settings must be the dataset's; the paper's defaults may name others."""
    defaults = {f.name: f.default for f in dataclasses.fields(config)}
    for setting, parse_one in (("ensembles", parse_timesteps), ("thresholds", parse_probability)):
        value = getattr(config, setting)
        if value == defaults[setting]:
            continue
        unknown = [label for label in parse_class_values(value, setting, parse_one) if label not in labels]
        if unknown:
            raise ConfigError(f"setting {setting!r} names class {unknown[0]!r}, which is not one of the dataset's "
                              f"labels ({', '.join(labels)})")


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class RareCRNNConfig:
    # Features (Sec. 2.1)
    sample_rate: int = 44100
    n_mels: int = 128
    frame_seconds: float = 0.046
    hop_seconds: float = 0.023  # not in the paper: 50 % overlap
    window: str = "hann"
    # Network (Sec. 2.2-2.4; sizes the paper does not give are marked in the module docstring)
    conv_filters: int = 64
    kernel_2d: tuple[int, ...] = (3, 3)  # (frequency, time)
    kernel_1d: int = 3  # along frequency
    pool_sizes: tuple[int, ...] = (4, 4)  # frequency pooling after the 2-D and the 1-D convolution
    rnn_layers: int = 2  # backward LSTM layers; 0 = the CNN of Table 4
    rnn_units: int = 128
    dense_units: int = 128
    dropout: float = 0.3
    # Training (Table 3)
    batch_size: int = 32  # chunks per batch; not in the paper (Keras's default)
    learning_rate: float = 1e-3
    lr_decay: float = 0.01  # lr / (1 + lr_decay * updates), Keras's time-based decay
    min_epochs: int = 100
    patience: int = 15
    max_epochs: int = 1000  # a safety cap; the paper has none
    # Post-processing (Sec. 2.5, Table 2). A value given on the command line replaces the whole list:
    # --set ensembles=babycry=5+9+50,glassbreak=3,gunshot=3+5 --set thresholds=babycry=0.8,gunshot=0.5
    ensembles: tuple[str, ...] = ("babycry=5+9+50", "glassbreak=3", "gunshot=3+5")
    default_ensemble: str = "5"  # classes not listed in ensembles
    thresholds: tuple[str, ...] = ("babycry=0.8", "glassbreak=0.8", "gunshot=0.5")
    default_threshold: float = 0.5  # classes not listed in thresholds
    onset_threshold: float = 0.5  # the p > 0.5 of the onset search
    inference_batch: int = 512  # windows per forward pass of the sliding ensemble

    def __post_init__(self):
        parse_class_values(self.ensembles, "ensembles", parse_timesteps)
        parse_class_values(self.thresholds, "thresholds", parse_probability)
        parse_timesteps(self.default_ensemble, "default_ensemble", self.default_ensemble)
        for name in ("default_threshold", "onset_threshold"):
            parse_probability(str(getattr(self, name)), name, str(getattr(self, name)))
        if len(self.kernel_2d) != 2 or any(k < 1 or k % 2 == 0 for k in self.kernel_2d):
            raise ConfigError(f"setting 'kernel_2d' needs two odd sizes (frequency, time), got {self.kernel_2d}")
        if self.kernel_1d < 1 or self.kernel_1d % 2 == 0:
            raise ConfigError(f"setting 'kernel_1d' needs an odd size, got {self.kernel_1d}")
        if len(self.pool_sizes) != 2 or any(p < 1 for p in self.pool_sizes):
            raise ConfigError(f"setting 'pool_sizes' needs two positive sizes (one per convolution), "
                              f"got {self.pool_sizes}")
        if self.n_mels // self.pool_sizes[0] // self.pool_sizes[1] < 1:
            raise ConfigError(f"setting 'pool_sizes' {self.pool_sizes} pools {self.n_mels} mel bands to nothing")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"setting 'dropout' must be in [0, 1), got {self.dropout}")

    def default_timesteps(self) -> tuple[int, ...]:
        return parse_timesteps(self.default_ensemble, "default_ensemble", self.default_ensemble)

    def ensemble_for(self, label: str) -> tuple[int, ...]:
        return parse_class_values(self.ensembles, "ensembles", parse_timesteps).get(label) or self.default_timesteps()

    def threshold_for(self, label: str) -> float:
        return parse_class_values(self.thresholds, "thresholds", parse_probability).get(label, self.default_threshold)


@dataclass(frozen=True)
class RareFNNConfig:
    # Features (task2.defaults.yaml: feature_extractor, mel, feature_aggregator)
    sample_rate: int = 44100
    n_mels: int = 40
    frame_seconds: float = 0.04
    hop_seconds: float = 0.02
    fft_length: int = 2048
    context_frames: int = 5  # 0.1 s flattened around each frame
    # Network (learner_method_parameters.mlp)
    hidden_layers: int = 2
    hidden_units: int = 50
    dropout: float = 0.2
    init_scale: float = 0.05  # Keras 'uniform' initializer: U(-0.05, 0.05)
    # Training
    batch_size: int = 256
    learning_rate: float = 1e-3
    max_epochs: int = 200
    patience: int = 10
    min_delta: float = 0.001  # on the validation frame accuracy
    # Recognition (recognizer)
    threshold: float = 0.5
    median_filter_seconds: float = 0.54

    def __post_init__(self):
        if self.context_frames < 1 or self.context_frames % 2 == 0:
            raise ConfigError(f"setting 'context_frames' needs an odd number of frames, got {self.context_frames}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"setting 'dropout' must be in [0, 1), got {self.dropout}")
        parse_probability(str(self.threshold), "threshold", str(self.threshold))

    @property
    def median_filter_frames(self) -> int:
        frames = max(1, int(round(self.median_filter_seconds / self.hop_seconds)))
        return frames if frames % 2 else frames + 1  # medfilt needs an odd window


@dataclass(frozen=True)
class BaselineMelSpec(LogMelSpec):
    """The DCASE2017 baseline's mel energies: magnitude spectrogram, fixed FFT length, log(mel + eps)."""

    fft_length: int = 2048
    power: float = 1.0
    log_floor: float = float(np.spacing(1))

    def extract(self, audio: np.ndarray) -> np.ndarray:
        import librosa

        mel = librosa.feature.melspectrogram(
            y=audio, sr=self.sample_rate, n_fft=self.fft_length, win_length=self.win_length,
            hop_length=self.hop_length, window=self.window, center=True, power=self.power, n_mels=self.n_mels,
            fmin=self.fmin, fmax=self.fmax if self.fmax is not None else self.sample_rate / 2, htk=False,
        )
        n = self.n_frames(audio.shape[0] / self.sample_rate)
        return np.log(mel[:, :n].T + self.log_floor).astype(np.float32)


# --------------------------------------------------------------------------- networks


class _TimeBatchNorm(nn.BatchNorm1d):
    """Batch norm over the feature axis of (batch, frames, features)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.transpose(1, 2)).transpose(1, 2)


class FrequencyMaxPool(nn.Module):
    """Non-overlapping max pooling over the last (frequency) axis; a remainder of bands is dropped, as MaxPool2d.

    The same values as ``nn.MaxPool2d((1, size))``, several times faster on CPU (no indices are kept).
    """

    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bands = x.shape[-1] // self.size * self.size
        return x[..., :bands].unflatten(-1, (-1, self.size)).amax(-1)


class RareEventNet(nn.Module):
    """(batch, tau, bands) -> (batch, tau) logits: conv 2-D, conv 1-D, [backward LSTMs], dense, sigmoid unit."""

    def __init__(self, config: RareCRNNConfig):
        super().__init__()
        kf, kt = config.kernel_2d
        k1 = config.kernel_1d
        filters = config.conv_filters
        pool_2d, pool_1d = config.pool_sizes
        # layout (batch, filters, time, frequency); pooling over frequency only keeps every time step.
        # Pooling before the ReLU equals pooling after it (both are monotonic) and moves 4x less memory.
        self.conv = nn.Sequential(
            nn.Conv2d(1, filters, (kt, kf), padding=(kt // 2, kf // 2)),
            FrequencyMaxPool(pool_2d), nn.ReLU(), nn.BatchNorm2d(filters), nn.Dropout(config.dropout),
            nn.Conv2d(filters, filters, (1, k1), padding=(0, k1 // 2)),  # 1-D along frequency
            FrequencyMaxPool(pool_1d), nn.ReLU(), nn.BatchNorm2d(filters), nn.Dropout(config.dropout),
        )
        width = filters * (config.n_mels // pool_2d // pool_1d)
        self.rnn = None
        if config.rnn_layers:
            self.rnn = nn.LSTM(width, config.rnn_units, num_layers=config.rnn_layers, batch_first=True,
                               dropout=config.dropout if config.rnn_layers > 1 else 0.0)
            self.rnn_dropout = nn.Dropout(config.dropout)
            width = config.rnn_units
        self.dense = nn.Sequential(nn.Linear(width, config.dense_units), _TimeBatchNorm(config.dense_units),
                                   nn.ReLU(), nn.Dropout(config.dropout))
        self.output = nn.Linear(config.dense_units, 1)

    def convolutional_features(self, features: torch.Tensor) -> torch.Tensor:
        batch, frames, _ = features.shape
        x = self.conv(features.unsqueeze(1))
        return x.permute(0, 2, 1, 3).reshape(batch, frames, -1)  # filters stacked over frequency, per step

    def recurrent(self, x: torch.Tensor) -> torch.Tensor:
        """Backward LSTM layers: step t sees only steps t, t+1, ..., tau-1 (Sec. 2.3)."""
        x, _ = self.rnn(x.flip(1))
        return self.rnn_dropout(x.flip(1))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = self.convolutional_features(features)
        if self.rnn is not None:
            x = self.recurrent(x)
        return self.output(self.dense(x)).squeeze(-1)


class BaselineMLP(nn.Module):
    """(batch, frames, stacked features) -> (batch, frames) logits, frame by frame."""

    def __init__(self, inputs: int, config: RareFNNConfig):
        super().__init__()
        layers: list[nn.Module] = []
        width = inputs
        for _ in range(config.hidden_layers):
            layers += [nn.Linear(width, config.hidden_units), nn.ReLU(), nn.Dropout(config.dropout)]
            width = config.hidden_units
        self.hidden = nn.Sequential(*layers)
        self.output = nn.Linear(width, 1)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.uniform_(module.weight, -config.init_scale, config.init_scale)
                nn.init.zeros_(module.bias)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.output(self.hidden(features)).squeeze(-1)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# --------------------------------------------------------------------------- data for one class


def clips_for_class(clips: list[FeatureClip], label: str) -> list[FeatureClip]:
    """The mixtures made for ``label`` (all clips that have no target class)."""
    return [clip for clip in clips if clip.target_class in (None, label)]


class ClassFrames:
    """One class's clips concatenated: features, that class's frame targets, and where each clip starts.

    Clips shorter than ``min_frames`` are zero-padded (standardized mean) so that every clip yields a chunk.
    """

    def __init__(self, clips: list[FeatureClip], class_index: int, min_frames: int = 1, features=None):
        matrices = features if features is not None else [np.asarray(c.features, dtype=np.float32) for c in clips]
        feats, targets, self.starts, self.lengths = [], [], [], []
        position = 0
        for clip, matrix in zip(clips, matrices):
            frames = max(matrix.shape[0], min_frames)
            padded = np.zeros((frames, matrix.shape[1]), dtype=np.float32)
            padded[: matrix.shape[0]] = matrix
            target = np.zeros(frames, dtype=np.float32)
            target[: matrix.shape[0]] = clip.targets[:, class_index]
            feats.append(padded)
            targets.append(target)
            self.starts.append(position)
            self.lengths.append(frames)
            position += frames
        self.features = np.concatenate(feats) if feats else np.zeros((0, 1), np.float32)
        self.targets = np.concatenate(targets) if targets else np.zeros(0, np.float32)

    def __len__(self) -> int:
        return len(self.starts)

    def chunk_starts(self, tau: int, offset: int = 0) -> np.ndarray:
        """Starts of non-overlapping tau-frame chunks covering each clip once, the first at ``offset``."""
        starts = []
        for start, length in zip(self.starts, self.lengths):
            first = offset if offset + tau <= length else 0
            starts.append(start + np.arange(first, length - tau + 1, tau))
        return np.concatenate(starts) if starts else np.zeros(0, dtype=np.int64)

    def gather(self, starts: np.ndarray, tau: int) -> tuple[torch.Tensor, torch.Tensor]:
        index = starts[:, None] + np.arange(tau)
        return torch.from_numpy(self.features[index]), torch.from_numpy(self.targets[index])


# --------------------------------------------------------------------------- training


@dataclass(frozen=True)
class StoppingRule:
    monitor: str  # "valid_loss" (lower is better) or "valid_accuracy" (higher is better)
    max_epochs: int
    patience: int
    min_epochs: int = 0
    min_delta: float = 0.0
    restore_best: bool = True


@torch.no_grad()
def evaluate_chunks(model: nn.Module, data: ClassFrames, tau: int, device: torch.device,
                    batch_size: int) -> tuple[float, float]:
    """Mean binary cross-entropy and frame accuracy (p > 0.5) over non-overlapping chunks."""
    model.eval()
    starts = data.chunk_starts(tau)
    loss_sum, correct, count = 0.0, 0.0, 0
    for begin in range(0, len(starts), batch_size):
        x, y = data.gather(starts[begin: begin + batch_size], tau)
        x, y = x.to(device), y.to(device)
        logits = model(x)
        loss_sum += float(nn.functional.binary_cross_entropy_with_logits(logits, y, reduction="sum"))
        correct += float(((logits > 0) == (y > 0.5)).sum())
        count += y.numel()
    return loss_sum / max(count, 1), correct / max(count, 1)


def train_chunk_model(model: nn.Module, train: ClassFrames, valid: ClassFrames, tau: int, *, batch_size: int,
                      learning_rate: float, lr_decay: float, rule: StoppingRule, device: str, log,
                      name: str, resume: dict | None = None, save_epoch=None) -> dict:
    """Adam + BCE on shuffled tau-frame chunks, Keras-style time-based decay, early stopping per ``rule``.

    ``save_epoch(state)`` receives the loop's state after every epoch that does not end the training; ``resume``
    is such a state to continue from (see ``NetworkSeries``).
    """
    device_ = torch.device(device)
    model.to(device_)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda updates: 1.0 / (1.0 + lr_decay * updates))
    loss_fn = nn.BCEWithLogitsLoss()
    generator = torch.Generator().manual_seed(int(torch.initial_seed() % (2**63)))
    lower_is_better = rule.monitor == "valid_loss"
    monitor = rule.monitor
    if not len(valid):
        log(f"{name}: no validation clips for this class; early stopping watches the training loss")
        monitor, lower_is_better = "train_loss", True
    history = {"epoch": [], "train_loss": [], "valid_loss": [], "valid_accuracy": [], "learning_rate": [],
               "seconds": [], "monitor": monitor}
    stopper = EarlyStopping(mode="min" if lower_is_better else "max", patience=rule.patience,
                            min_epochs=rule.min_epochs, min_delta=rule.min_delta, keep_weights=rule.restore_best)
    first_epoch = 0
    # the scheduler's state is the decay's update count
    resumable = {"model": model, "optimizer": optimizer, "scheduler": scheduler, "generator": generator}
    if resume is not None:
        restore_training(resume, resumable)
        history, first_epoch = resume["history"], resume["epoch"]
        stopper.restore(resume)
    with progress.step(f"training {name}", total=rule.max_epochs, unit="epochs", completed=first_epoch) as epochs:
        for epoch in range(first_epoch, rule.max_epochs):
            started = time.perf_counter()
            model.train()
            starts = train.chunk_starts(tau, offset=epoch % tau)
            order = starts[torch.randperm(len(starts), generator=generator).numpy()]
            total, batches = 0.0, 0
            for begin in range(0, len(order), batch_size):
                x, y = train.gather(order[begin: begin + batch_size], tau)
                x, y = x.to(device_), y.to(device_)
                optimizer.zero_grad(set_to_none=True)
                loss = loss_fn(model(x), y)
                loss.backward()
                optimizer.step()
                scheduler.step()
                total += float(loss.detach())
                batches += 1
            valid_loss, valid_accuracy = (evaluate_chunks(model, valid, tau, device_, max(batch_size, 256))
                                          if len(valid) else (None, None))  # records refuse NaN
            history["epoch"].append(epoch + 1)
            history["train_loss"].append(total / max(batches, 1))
            history["valid_loss"].append(valid_loss)
            history["valid_accuracy"].append(valid_accuracy)
            history["learning_rate"].append(optimizer.param_groups[0]["lr"])
            history["seconds"].append(time.perf_counter() - started)
            improved = stopper.update(epoch, history[monitor][-1], model)
            scores = f"  valid loss {valid_loss:.4f}  acc {valid_accuracy:.4f}" if len(valid) else ""
            epochs.advance(status=scores.strip())
            log(f"{name} epoch {epoch + 1:3d}/{rule.max_epochs}  loss {history['train_loss'][-1]:.4f}{scores}"
                f"{'  *' if improved else ''}  ({history['seconds'][-1]:.1f} s{budget_eta(epochs)})")
            stop = stopper.should_stop(epoch)
            if not stop and epoch + 1 < rule.max_epochs and save_epoch is not None:
                save_epoch(training_state(epoch + 1, resumable, history=history, **stopper.state()))
            if stop:
                log(f"{name}: early stop after epoch {epoch + 1}; best epoch {stopper.best_epoch + 1}")
                break
    stopper.restore_best(model)
    history["best_epoch"] = stopper.best_epoch + 1
    history[f"best_{monitor}"] = stopper.best if math.isfinite(stopper.best) else None
    history["convergence"] = stopper.convergence(len(history["epoch"]), rule.max_epochs, monitor).as_dict()
    history["weights"] = "best epoch" if rule.restore_best else "last epoch"
    return history


def networks_convergence(histories: dict[str, dict]) -> dict:
    """The fit converged when every network did; each network's own account is kept under ``parts``."""
    parts = {name: Convergence(**history.pop("convergence")) for name, history in histories.items()}
    return Convergence.of_parts(parts).as_dict()


class NetworkSeries:
    """Checkpoints of networks trained one after another (per class and per tau).

    A checkpoint holds every finished network's weights and history, the name of the network in progress (or of
    the next one to start, with epoch 0) and that network's epoch state (``train_chunk_model``), so a killed job
    resumes inside the network it was training. It is written after every epoch that does not end a network and
    after every network but the last.
    """

    def __init__(self, checkpoints, names: list[str], log):
        self.checkpoints, self.names = checkpoints, names
        self.finished: dict[str, dict] = {}  # name -> {"model": state dict, "history": its history}
        self.current: str | None = None
        self.resume: dict | None = None
        state = checkpoints.load()
        if state is None:
            return
        unknown = [name for name in [*state["finished"], state["network"]] if name not in names]
        if unknown:
            raise CheckpointError(f"checkpoint {checkpoints.path} holds network {unknown[0]!r}, which this "
                                  f"configuration does not train ({', '.join(names)}); delete it to restart this "
                                  "job from scratch")
        self.finished, self.current, self.resume = state["finished"], state["network"], state["training"]
        log(f"resumed from the checkpoint after epoch {state['epoch']} of network {self.current} "
            f"({len(self.finished)} of {len(names)} networks finished)")

    def train(self, name: str, build, train) -> tuple[nn.Module, dict]:
        """Network ``name`` and its history: from the checkpoint when it is finished there, else
        ``train(model, resume, save_epoch)`` (``train_chunk_model``'s arguments) on ``build()``."""
        restored = self.finished.get(name)
        resume = self.resume if name == self.current else None
        if restored is not None or resume is not None:
            # its weights come from the checkpoint: building it must not move the generators load() restored
            with torch.random.fork_rng(devices=[]):
                model = build()
        else:
            model = build()
        if restored is not None:
            model.load_state_dict(restored["model"])
            return model, restored["history"]
        history = train(model, resume, lambda training: self._save(name, training))
        self.finished[name] = {"model": model.state_dict(), "history": history}
        following = self.names.index(name) + 1
        if following < len(self.names):
            self._save(self.names[following], None)
        return model, history

    def _save(self, network: str, training: dict | None) -> None:
        self.checkpoints.save({"network": network, "epoch": training["epoch"] if training else 0,
                               "training": training, "finished": self.finished})


# --------------------------------------------------------------------------- post-processing (Sec. 2.5)


def average_overlapping(window_outputs: np.ndarray) -> np.ndarray:
    """(windows, tau) outputs of windows starting at frames 0, 1, ... -> (windows + tau - 1,) frame means."""
    windows, tau = window_outputs.shape
    total = np.zeros(windows + tau - 1, dtype=np.float64)
    count = np.zeros(windows + tau - 1, dtype=np.float64)
    for k in range(tau):  # position k of window s is frame s + k
        total[k: k + windows] += window_outputs[:, k]
        count[k: k + windows] += 1
    return total / count


@torch.no_grad()
def sliding_ensemble(model: nn.Module, features: np.ndarray, tau: int, device: str, batch: int = 512) -> np.ndarray:
    """Frame probabilities of one clip: the model on every tau-frame window (hop 1), overlaps averaged."""
    model.eval()
    frames = features.shape[0]
    if frames < tau:
        features = np.concatenate([features, np.zeros((tau - frames, features.shape[1]), features.dtype)])
    windows = np.lib.stride_tricks.sliding_window_view(features, tau, axis=0).transpose(0, 2, 1)  # (W, tau, bands)
    outputs = []
    for begin in range(0, windows.shape[0], batch):
        x = torch.from_numpy(np.array(windows[begin: begin + batch], dtype=np.float32)).to(device)  # a writable copy
        outputs.append(torch.sigmoid(model(x)).cpu().numpy())
    return average_overlapping(np.concatenate(outputs))[:frames]


def detect_event(probabilities: np.ndarray, threshold: float, onset_threshold: float = 0.5) -> tuple[int, int] | None:
    """(first frame, end frame) of the clip's event, or None when the maximum does not exceed ``threshold``.

    The run of frames with p > ``onset_threshold`` that contains the (first) peak: walking back from the peak
    gives the onset (Sec. 2.5), walking forward the end. A peak that is itself not above ``onset_threshold`` is a
    one-frame event.
    """
    p = np.asarray(probabilities)
    if p.size == 0 or not p.max() > threshold:
        return None
    peak = int(np.argmax(p))
    first, end = peak, peak + 1
    while first > 0 and p[first - 1] > onset_threshold:
        first -= 1
    while end < p.size and p[end] > onset_threshold:
        end += 1
    return first, end


def frames_to_event(first: int, end: int, frames: int, hop: float, label: str, duration: float) -> Event | None:
    """The run of frames [first, end) as an event on sed_eval's frame grid, cut at the clip's end (None if past it)."""
    active = np.zeros(frames, dtype=bool)
    active[first:end] = True
    events = activity_to_events(active, hop, label, limit_seconds=duration)
    return events[0] if events else None


# --------------------------------------------------------------------------- systems


@register_system("rare-crnn")
class RareCRNN(System):
    name = "rare-crnn"
    paper = AMIRIPARIAN2018
    label_kind = LabelKind.STRONG
    Config = RareCRNNConfig
    budget_setting = "max_epochs"
    profiles = {
        "paper": {},
        "quick": {  # sized for 2 CPU cores (see the module docstring)
            "conv_filters": 16, "rnn_units": 32, "dense_units": 32, "batch_size": 128,
            # patience 5 after at least 10 epochs: early stopping, not the budget, ends each network. The cap was 60,
            # and babycry's tau-50 network was still improving at epoch 58 / 60 of seeds 0 / 1 (the other five
            # stopped at 19-41): 200 is a cap that leaves it room
            "min_epochs": 10, "patience": 5, "max_epochs": 200,
            # the paper's decay per update shrinks the rate 25-fold within 15 short epochs and the small networks
            # stay at the class prior (measured: no glassbreak / gunshot detection at all); 100x slower decay
            "lr_decay": 0.0001,
        },
    }
    # synth-rare is 22.05 kHz audio: extract at that rate instead of upsampling to the paper's 44.1 kHz
    dataset_profiles = {"paper": {"synth-rare": {"sample_rate": 22050}},
                        "quick": {"synth-rare": {"sample_rate": 22050}}}

    def __init__(self, config, context):
        super().__init__(config, context)
        _check_listed_classes(config, tuple(context.labels))
        self.ensembles = {label: config.ensemble_for(label) for label in context.labels}
        self.thresholds = {label: config.threshold_for(label) for label in context.labels}
        self.models: dict[tuple[str, int], nn.Module] = {}

    @classmethod
    def features(cls, config) -> LogMelSpec:
        c = config
        return LogMelSpec(sample_rate=c.sample_rate, n_mels=c.n_mels, frame_seconds=c.frame_seconds,
                          hop_seconds=c.hop_seconds, window=c.window)

    @classmethod
    def build_model(cls, config: RareCRNNConfig) -> nn.Module:
        return RareEventNet(config)

    @classmethod
    def parameter_count(cls, config: RareCRNNConfig, labels) -> int:
        """All networks: one per tau of each class's ensemble (the default ensemble for a class not configured)."""
        return sum(len(config.ensemble_for(label)) for label in labels) * count_parameters(cls.build_model(config))

    def fit(self, train: list[FeatureClip], valid: list[FeatureClip]) -> dict:
        c = self.config
        rule = StoppingRule(monitor="valid_loss", max_epochs=c.max_epochs, patience=c.patience,
                            min_epochs=c.min_epochs, restore_best=True)
        history = {"models": {}}
        series = NetworkSeries(self.context.checkpoints, [f"{label}/t{tau}" for label in self.context.labels
                                                          for tau in self.ensembles[label]], self.context.log)
        for index, label in enumerate(self.context.labels):
            taus = self.ensembles[label]
            clips = clips_for_class(train, label)
            if not clips:
                raise DataError(f"system {self.name!r}: no training clips are made for class {label!r} "
                                "(their target class is another one)")
            train_data = ClassFrames(clips, index, min_frames=max(taus))
            valid_data = ClassFrames(clips_for_class(valid, label), index, min_frames=max(taus))
            for tau in taus:
                def train_one(model, resume, save_epoch, tau=tau):
                    return train_chunk_model(
                        model, train_data, valid_data, tau, batch_size=c.batch_size, learning_rate=c.learning_rate,
                        lr_decay=c.lr_decay, rule=rule, device=self.context.device, log=self.context.log,
                        name=f"{label} t{tau}", resume=resume, save_epoch=save_epoch)

                model, history["models"][f"{label}/t{tau}"] = series.train(
                    f"{label}/t{tau}", lambda: self.build_model(c).to(self.context.device), train_one)
                self.models[(label, tau)] = model
        history["convergence"] = networks_convergence(history["models"])
        return history

    def class_probabilities(self, clip: FeatureClip, label: str) -> np.ndarray:
        """The class's ensemble: each tau model's sliding ensemble, averaged with equal weights (Table 2)."""
        features = np.asarray(clip.features, dtype=np.float32)
        curves = [sliding_ensemble(self.models[(label, tau)], features, tau, self.context.device,
                                   self.config.inference_batch) for tau in self.ensembles[label]]
        return np.mean(curves, axis=0)

    def predict(self, clips: list[FeatureClip]) -> list[Detections]:
        hop = self.features(self.config).frame_hop
        outputs = []
        for clip in clips:
            events = []
            for label in self.context.labels:
                if clip.target_class not in (None, label):
                    continue  # each class is detected on the mixtures made for it (DCASE2017 task 2)
                p = self.class_probabilities(clip, label)
                found = detect_event(p, self.thresholds[label], self.config.onset_threshold)
                event = frames_to_event(*found, p.size, hop, label, clip.duration) if found else None
                if event is not None:
                    events.append(event)
            outputs.append(Detections(sorted(events, key=lambda e: (e.onset, e.label))))
        return outputs


@register_system("rare-cnn")
class RareCNN(RareCRNN):
    """Table 4's CNN: the CRNN's hyperparameters without the LSTM layers."""

    name = "rare-cnn"
    profiles = {
        "paper": {"rnn_layers": 0},
        "quick": {**RareCRNN.profiles["quick"], "rnn_layers": 0},
    }


@register_system("rare-fnn")
class RareFNN(System):
    name = "rare-fnn"
    paper = MESAROS2017
    label_kind = LabelKind.STRONG
    Config = RareFNNConfig
    budget_setting = "max_epochs"
    profiles = {
        "paper": {},
        "quick": {"max_epochs": 100},  # the baseline is already small: its own early stopping ends it
    }
    dataset_profiles = {"paper": {"synth-rare": {"sample_rate": 22050}},
                        "quick": {"synth-rare": {"sample_rate": 22050}}}

    def __init__(self, config, context):
        super().__init__(config, context)
        self.models: dict[str, nn.Module] = {}

    @classmethod
    def features(cls, config) -> BaselineMelSpec:
        c = config
        return BaselineMelSpec(sample_rate=c.sample_rate, n_mels=c.n_mels, frame_seconds=c.frame_seconds,
                               hop_seconds=c.hop_seconds, window="hamming", fft_length=c.fft_length)

    def stacked(self, features: np.ndarray) -> np.ndarray:
        """Each frame with its (context - 1) / 2 neighbours on both sides, edge frames repeated, flattened."""
        half = self.config.context_frames // 2
        padded = np.pad(np.asarray(features, dtype=np.float32), ((half, half), (0, 0)), mode="edge")
        windows = np.lib.stride_tricks.sliding_window_view(padded, self.config.context_frames, axis=0)
        return np.ascontiguousarray(windows.transpose(0, 2, 1).reshape(features.shape[0], -1))

    def build_model(self) -> nn.Module:
        return BaselineMLP(self.config.context_frames * self.config.n_mels, self.config)

    @classmethod
    def parameter_count(cls, config: RareFNNConfig, labels) -> int:
        return len(labels) * count_parameters(BaselineMLP(config.context_frames * config.n_mels, config))

    def fit(self, train: list[FeatureClip], valid: list[FeatureClip]) -> dict:
        c = self.config
        rule = StoppingRule(monitor="valid_accuracy", max_epochs=c.max_epochs, patience=c.patience,
                            min_delta=c.min_delta, restore_best=False)
        history = {"models": {}}
        series = NetworkSeries(self.context.checkpoints, list(self.context.labels), self.context.log)
        for index, label in enumerate(self.context.labels):
            clips = clips_for_class(train, label)
            if not clips:
                raise DataError(f"system {self.name!r}: no training clips are made for class {label!r} "
                                "(their target class is another one)")
            valid_clips = clips_for_class(valid, label)
            train_data = ClassFrames(clips, index, features=[self.stacked(x.features) for x in clips])
            valid_data = ClassFrames(valid_clips, index, features=[self.stacked(x.features) for x in valid_clips])

            def train_one(model, resume, save_epoch):
                return train_chunk_model(
                    model, train_data, valid_data, 1, batch_size=c.batch_size, learning_rate=c.learning_rate,
                    lr_decay=0.0, rule=rule, device=self.context.device, log=self.context.log, name=label,
                    resume=resume, save_epoch=save_epoch)

            model, history["models"][label] = series.train(
                label, lambda: self.build_model().to(self.context.device), train_one)
            self.models[label] = model
        history["convergence"] = networks_convergence(history["models"])
        return history

    @torch.no_grad()
    def class_probabilities(self, clip: FeatureClip, label: str) -> np.ndarray:
        model = self.models[label]
        model.eval()
        x = torch.from_numpy(self.stacked(clip.features)).to(self.context.device)
        return torch.sigmoid(model(x[None])[0]).cpu().numpy()

    def predict(self, clips: list[FeatureClip]) -> list[Detections]:
        from scipy.signal import medfilt

        hop = self.features(self.config).frame_hop
        outputs = []
        for clip in clips:
            events = []
            for label in self.context.labels:
                if clip.target_class not in (None, label):
                    continue
                active = self.class_probabilities(clip, label) > self.config.threshold
                smoothed = medfilt(active.astype(np.float64), self.config.median_filter_frames) > 0.5
                events += activity_to_events(smoothed, hop, label, limit_seconds=clip.duration)
            outputs.append(Detections(sorted(events, key=lambda e: (e.onset, e.label))))
        return outputs
