"""Weak-label CRNN of Adavanne & Virtanen (DCASE 2017): sound event detection learnt from clip tags only.

The network sees the log mel band energies of a complete clip (10 s, zero-padded when shorter):
convolutional layers (3x3, batch norm, ReLU, max pooling over frequency only, dropout) -> the maps
stacked over frequency -> bidirectional GRU layers (time-distributed: a sequence in, a sequence
out) -> time-distributed fully connected layers -> **output 1**, a sigmoid per class and frame
(sound event detection) -> flattened -> one dense sigmoid layer with one unit per class ->
**output 2** (sound tagging). The two prediction layers are in sequence: output 2 sees only
output 1.

Training uses clip tags only: output 2's target is the clip's tag vector, output 1's target is
that vector repeated over every frame of the (padded) clip, and the loss is
``strong_weight * BCE(output 1) + weak_weight * BCE(output 2)``; the paper's study varies the
two weights (``sedbench report --paper adavanne2017``). Early stopping watches the same weighted
loss on the validation clips, which is computed from their tags only (weakly labelled validation
clips have no frame labels); the weights of the epoch with the lowest validation loss are kept.
A killed run resumes after its last finished epoch from ``context.checkpoints`` (weights, optimizer, gradient
scaler, data order, history and the best weights so far), with the same result as an uninterrupted one.

Sources (the ``paper`` profile):

- slides (Adavanne & Virtanen, DCASE 2017 workshop slides, "Results" table): input = log mel band
  energies of the complete 10 s clip, zero-padded; conv -> recurrent -> fully connected layers;
  output 1 frame-wise (time-distributed), output 2 "sequence input and number of classes output";
  two losses with separate weights; "218,000 trainable weights".
- the paper's abstract (arXiv 1710.02998): two prediction layers in sequence, strong then weak;
  strong targets = the weak labels replicated over the input's frames; frame-wise log mel band
  energy input. Its method section (layer sizes, optimizer, epochs) could not be read here.
- the first author's released CRNN of the same year (github.com/sharathadavanne/sed-crnn,
  whose README lists this paper among the works using "similar CRNN architecture"): 3x3 filters,
  batch norm, ReLU, frequency max pooling (5, 2, 2), dropout 0.5 after every layer, two
  bidirectional GRU layers of 32 units whose directions are merged by multiplication, one
  time-distributed linear layer of 32 units, Adam at Keras' default rate, 40 mel bands at
  44.1 kHz, at most 500 epochs with a patience of a quarter of them.

Readings chosen where the sources are silent: the weak layer is Flatten -> Dense(classes)
(the Keras reading of "sequence input and number of classes output", which is also why the
input has a fixed 10 s length); 48 filters per conv layer (sed-crnn's 128 alone would be 297,000
weights, more than the slides' total; 48 gives 226,102 weights with 17 classes, the closest of
32 / 48 / 64); 40 ms frames with a 20 ms hop (500 frames per 10 s clip; sed-crnn uses 46 ms /
23 ms); sed-crnn's batch of 128. GRU recurrent dropout (Keras) is replaced by dropout between
layers, and zero padding happens on the standardized features (the training mean), not on audio.

Clips longer than ``clip_seconds`` are cut into consecutive windows of that length (the last
zero-padded); each window's tags are the clip's (on strongly labelled datasets: the classes
active in that window), frame outputs are concatenated and the clip's tags are the per-class
maximum over its windows.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from sedbench.core import progress
from sedbench.core.data import FeatureClip, LabelKind
from sedbench.core.errors import ConfigError
from sedbench.core.features import LogMelSpec
from sedbench.core.outputs import FrameActivity
from sedbench.core.progress import budget_eta
from sedbench.core.registry import register_system
from sedbench.core.system import System
from sedbench.papers.citations import ADAVANNE2017
from sedbench.training.common import count_parameters, restore_training, training_state
from sedbench.training.early_stopping import EarlyStopping


@dataclass(frozen=True)
class WeakCRNNConfig:
    # Features: log mel band energies of the complete clip
    sample_rate: int = 44100
    n_mels: int = 40
    frame_seconds: float = 0.04
    hop_seconds: float = 0.02
    clip_seconds: float = 10.0  # every input is this long: shorter clips zero-padded, longer ones cut in windows
    # Architecture
    conv_maps: int = 48
    kernel_size: tuple[int, ...] = (3, 3)  # (frequency, time)
    pool_sizes: tuple[int, ...] = (5, 2, 2)  # frequency max pooling after each conv layer
    rnn_units: tuple[int, ...] = (32, 32)  # bidirectional GRU layers, directions multiplied
    fc_units: tuple[int, ...] = (32,)  # time-distributed linear layers before output 1
    dropout: float = 0.5
    # The two losses
    strong_weight: float = 1.0
    weak_weight: float = 1.0
    # Training
    batch_size: int = 128  # whole clips
    learning_rate: float = 1e-3  # Adam
    max_epochs: int = 500
    patience: int = 125  # epochs without a lower validation loss
    threshold: float = 0.5
    precision: str = "fp32"  # fp32 | bf16 | fp16


def clip_frames(config: WeakCRNNConfig) -> int:
    return feature_spec(config).n_frames(config.clip_seconds)


def feature_spec(config: WeakCRNNConfig) -> LogMelSpec:
    return LogMelSpec(sample_rate=config.sample_rate, n_mels=config.n_mels, frame_seconds=config.frame_seconds,
                      hop_seconds=config.hop_seconds)


def check_config(config: WeakCRNNConfig) -> None:
    bands = config.n_mels
    for pool in config.pool_sizes:
        if pool < 1 or bands % pool:
            raise ConfigError(f"pool_sizes {config.pool_sizes} must divide the {config.n_mels} mel bands evenly")
        bands //= pool
    if len(config.kernel_size) != 2 or min(config.kernel_size) < 1:
        raise ConfigError(f"kernel_size must be two positive numbers (frequency, time), got {config.kernel_size}")
    if config.strong_weight < 0 or config.weak_weight < 0 or config.strong_weight + config.weak_weight == 0:
        raise ConfigError(f"strong_weight and weak_weight must be >= 0 and not both 0, got "
                          f"{config.strong_weight:g} and {config.weak_weight:g}")
    if config.clip_seconds <= 0:
        raise ConfigError(f"clip_seconds must be > 0, got {config.clip_seconds:g}")
    if config.precision not in ("fp32", "bf16", "fp16"):
        raise ConfigError(f"precision must be fp32, bf16 or fp16, got {config.precision!r}")


class WeakCRNNModel(nn.Module):
    """(batch, clip frames, bands) -> (strong logits (batch, frames, classes), weak logits (batch, classes))."""

    def __init__(self, n_mels: int, n_classes: int, frames: int, config: WeakCRNNConfig):
        super().__init__()
        check_config(config)
        kf, kt = config.kernel_size
        layers: list[nn.Module] = []
        channels, bands = 1, n_mels
        for pool in config.pool_sizes:
            layers += [
                nn.Conv2d(channels, config.conv_maps, (kt, kf), padding="same"),
                nn.BatchNorm2d(config.conv_maps, eps=1e-3, momentum=0.01),  # Keras' batch norm defaults
                nn.ReLU(),
                nn.MaxPool2d((1, pool)),  # (batch, maps, time, frequency): frequency only
                nn.Dropout(config.dropout),
            ]
            channels, bands = config.conv_maps, bands // pool
        self.conv = nn.Sequential(*layers)
        width = channels * bands
        self.rnns = nn.ModuleList()
        for units in config.rnn_units:
            self.rnns.append(nn.GRU(width, units, batch_first=True, bidirectional=True))
            width = units  # directions merged by multiplication
        self.rnn_dropout = nn.Dropout(config.dropout)
        fc: list[nn.Module] = []
        for units in config.fc_units:
            fc += [nn.Linear(width, units), nn.Dropout(config.dropout)]  # linear, as sed-crnn's TimeDistributed Dense
            width = units
        self.fc = nn.Sequential(*fc)
        self.strong = nn.Linear(width, n_classes)  # output 1, per frame
        self.weak = nn.Linear(frames * n_classes, n_classes)  # output 2, from the whole output-1 sequence
        self.frames = frames
        self._init_like_keras()

    def _init_like_keras(self) -> None:
        """Glorot-uniform kernels, orthogonal recurrent kernels, zero biases (Keras 2 defaults)."""
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.GRU):
                for name, parameter in module.named_parameters():
                    if name.startswith("bias"):
                        nn.init.zeros_(parameter)
                    else:
                        for gate in parameter.data.chunk(3, dim=0):  # reset, update, new: one kernel each
                            (nn.init.orthogonal_ if name.startswith("weight_hh") else nn.init.xavier_uniform_)(gate)

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        batch, frames, _ = features.shape
        x = self.conv(features.unsqueeze(1))  # (batch, maps, frames, bands')
        x = x.permute(0, 2, 1, 3).reshape(batch, frames, -1)  # stack maps over frequency
        for rnn in self.rnns:
            forward_and_backward, _ = rnn(x)
            ahead, behind = forward_and_backward.chunk(2, dim=-1)
            x = self.rnn_dropout(ahead * behind)
        strong = self.strong(self.fc(x))
        weak = self.weak(torch.sigmoid(strong).reshape(batch, -1))
        return strong, weak


def weighted_loss(strong_logits: torch.Tensor, weak_logits: torch.Tensor, tags: torch.Tensor,
                  strong_weight: float, weak_weight: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(total, strong, weak) losses; output 1's target is ``tags`` repeated over every frame."""
    bce = nn.functional.binary_cross_entropy_with_logits  # sigmoid + BCE, numerically stable
    strong = bce(strong_logits.float(), strong_targets(tags, strong_logits.shape[1]))
    weak = bce(weak_logits.float(), tags)
    return strong_weight * strong + weak_weight * weak, strong, weak


def strong_targets(tags: torch.Tensor, frames: int) -> torch.Tensor:
    """(batch, classes) clip tags -> (batch, frames, classes): the tags repeated over time."""
    return tags.unsqueeze(1).expand(-1, frames, -1)


@dataclass(frozen=True)
class Window:
    clip: int  # index into the clip list
    start: int  # first frame


def windows(clips: list[FeatureClip], frames: int) -> list[Window]:
    """Consecutive ``frames``-long windows covering every clip (one for clips up to that length)."""
    return [Window(i, start) for i, clip in enumerate(clips)
            for start in range(0, max(1, clip.features.shape[0]), frames)]


def window_tags(clip: FeatureClip, start: int, frames: int) -> np.ndarray:
    """The window's clip-level targets: the clip's tags, or the active classes of the window when frames are known."""
    if clip.targets is not None and clip.targets.shape[0] > frames:
        return clip.targets[start:start + frames].max(axis=0).astype(np.float32)
    return np.asarray(clip.tags, dtype=np.float32)


def batch_features(clips: list[FeatureClip], chosen: list[Window], frames: int) -> np.ndarray:
    x = np.zeros((len(chosen), frames, clips[0].features.shape[1]), dtype=np.float32)
    for row, window in enumerate(chosen):
        part = clips[window.clip].features[window.start:window.start + frames]
        x[row, :part.shape[0]] = part  # zero padding = the training mean of standardized features
    return x


@register_system("weak-crnn")
class WeakCRNN(System):
    name = "weak-crnn"
    paper = ADAVANNE2017
    label_kind = LabelKind.WEAK  # learns from clip tags; on strongly labelled data it uses their tags
    Config = WeakCRNNConfig
    budget_setting = "max_epochs"
    profiles = {
        "paper": {},
        # Sized for 3-4 minutes on synth-weak with 2 CPU cores: a 40 ms hop (250 frames per clip) halves the GRU
        # steps. One training step of 16 clips took 0.34 s (one thread, best of 5, `nice -n 19` on the shared
        # machine), i.e. about 7 s per epoch of 300 clips; a whole run (features, 25 epochs, test) took 216 s on
        # one pinned core of the partly loaded machine (validation tag F1 was still rising at epoch 25).
        "quick": {
            "sample_rate": 22050,
            "frame_seconds": 0.08,
            "hop_seconds": 0.04,
            "conv_maps": 16,
            "rnn_units": (16, 16),
            "fc_units": (16,),
            "dropout": 0.25,
            "batch_size": 16,
            "max_epochs": 100,  # a cap: on synth-weak the validation loss stops falling after about 40 epochs
            "patience": 6,
        },
    }
    # synth-weak is generated at 22.05 kHz: no point in computing features at 44.1 kHz there
    dataset_profiles = {"paper": {"synth-weak": {"sample_rate": 22050}}}

    def __init__(self, config: WeakCRNNConfig, context):
        super().__init__(config, context)
        check_config(config)
        self.model: WeakCRNNModel | None = None
        self.device = torch.device(context.device)
        self.frames = clip_frames(config)

    # ------------------------------------------------------------------ interface

    @classmethod
    def features(cls, config) -> LogMelSpec:
        return feature_spec(config)

    @classmethod
    def parameter_count(cls, config: WeakCRNNConfig, labels) -> int:
        return count_parameters(WeakCRNNModel(config.n_mels, len(labels), clip_frames(config), config))

    def fit(self, train: list[FeatureClip], valid: list[FeatureClip]) -> dict:
        c = self.config
        model = self._model()
        optimizer = torch.optim.Adam(model.parameters(), lr=c.learning_rate)
        scaler = torch.amp.GradScaler(self.device.type, enabled=c.precision == "fp16")
        items = windows(train, self.frames)
        tags = torch.from_numpy(np.stack([window_tags(train[w.clip], w.start, self.frames) for w in items]))
        generator = torch.Generator().manual_seed(int(torch.initial_seed() % (2**63)))
        history = {"epoch": [], "train_loss": [], "train_strong_loss": [], "train_weak_loss": [], "valid_loss": [],
                   "valid_F1_tag": [], "seconds": [], "criterion": "valid_loss"}
        stopper = EarlyStopping(mode="min", patience=c.patience)
        first_epoch = 0
        resumable = {"model": model, "optimizer": optimizer, "scaler": scaler, "generator": generator}
        resumed = self.context.checkpoints.load()
        if resumed is not None:  # a killed run: continue from the end of its last finished epoch
            restore_training(resumed, resumable)
            history, first_epoch = resumed["history"], resumed["epoch"]
            stopper.restore(resumed)
            self.context.log(f"resumed from the checkpoint after epoch {first_epoch}")
        with progress.step("training", total=c.max_epochs, unit="epochs", completed=first_epoch) as epochs:
            for epoch in range(first_epoch, c.max_epochs):
                started = time.perf_counter()
                model.train()
                sums = torch.zeros(3, device=self.device)
                order = torch.randperm(len(items), generator=generator).tolist()
                steps = 0
                for begin in range(0, len(order), c.batch_size):
                    index = order[begin:begin + c.batch_size]
                    x = torch.from_numpy(batch_features(train, [items[i] for i in index], self.frames)).to(self.device)
                    y = tags[index].to(self.device)
                    optimizer.zero_grad(set_to_none=True)
                    with self._autocast():
                        strong, weak = model(x)
                    total, strong_loss, weak_loss = weighted_loss(strong, weak, y, c.strong_weight, c.weak_weight)
                    scaler.scale(total).backward()
                    scaler.step(optimizer)
                    scaler.update()
                    sums += torch.stack([total.detach(), strong_loss.detach(), weak_loss.detach()])
                    steps += 1
                means = (sums / max(steps, 1)).tolist()
                valid_loss, valid_f1 = self.validate(valid) if valid else (math.nan, math.nan)
                for key, value in zip(("train_loss", "train_strong_loss", "train_weak_loss"), means):
                    history[key].append(value)
                history["epoch"].append(epoch + 1)
                history["valid_loss"].append(valid_loss)
                history["valid_F1_tag"].append(valid_f1)
                history["seconds"].append(time.perf_counter() - started)
                # without validation clips every epoch counts as an improvement: the last weights are kept
                improved = stopper.update(epoch, valid_loss, model, always=not valid)
                epochs.advance(status=f"valid loss {valid_loss:.4f}  F1_tag {valid_f1:.1f}")
                self.context.log(
                    f"epoch {epoch + 1:3d}/{c.max_epochs}  loss {means[0]:.4f} (strong {means[1]:.4f}, weak "
                    f"{means[2]:.4f})  valid loss {valid_loss:.4f}  F1_tag {valid_f1:5.1f}{'  *' if improved else ''}  "
                    f"({history['seconds'][-1]:.1f} s{budget_eta(epochs)})"
                )
                stop = stopper.should_stop(epoch)
                if not stop and epoch + 1 < c.max_epochs:  # the last epoch ends the fit: its record follows
                    self.context.checkpoints.save(training_state(epoch + 1, resumable, history=history,
                                                                 **stopper.state()))
                if stop:
                    self.context.log(f"early stop: no lower validation loss for {c.patience} epochs; "
                                     f"best epoch {stopper.best_epoch + 1}")
                    break
        stopper.restore_best(model)
        history["best_epoch"] = stopper.best_epoch + 1
        history["best_valid_loss"] = stopper.best  # NaN when there was nothing to validate on
        history["convergence"] = stopper.convergence(len(history["epoch"]), c.max_epochs, "valid_loss").as_dict()
        return history

    def predict(self, clips: list[FeatureClip]) -> list[FrameActivity]:
        strong, weak = self._infer(clips)
        hop = self.features(self.config).frame_hop
        return [FrameActivity(s, hop, tags=w) for s, w in zip(strong, weak)]

    # ------------------------------------------------------------------ helpers

    @torch.no_grad()
    def validate(self, clips: list[FeatureClip]) -> tuple[float, float]:
        """Weighted validation loss (from tags only) and micro tag F1 (%) of output 2."""
        c = self.config
        total, count = 0.0, 0
        clip_tags = [np.zeros(len(self.context.labels), dtype=np.float32) for _ in clips]
        for chosen, strong, weak in self._batches(clips):
            y = torch.from_numpy(np.stack([window_tags(clips[w.clip], w.start, self.frames) for w in chosen]))
            loss, _, _ = weighted_loss(strong, weak, y.to(self.device), c.strong_weight, c.weak_weight)
            total += float(loss) * len(chosen)
            count += len(chosen)
            for window, probabilities in zip(chosen, torch.sigmoid(weak.float()).cpu().numpy()):
                np.maximum(clip_tags[window.clip], probabilities, out=clip_tags[window.clip])
        reference = np.stack([np.asarray(clip.tags) > 0.5 for clip in clips])
        estimated = np.stack(clip_tags) > c.threshold
        hits = float(np.sum(reference & estimated))
        f1 = float(200 * hits / (reference.sum() + estimated.sum())) if hits else 0.0  # checkpoints refuse NumPy
        return total / max(count, 1), f1

    def _infer(self, clips: list[FeatureClip]) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Per clip: output 1 on its own frames (frames, classes) and output 2 as the maximum over its windows."""
        strong_parts: list[list[np.ndarray]] = [[] for _ in clips]
        weak_parts: list[list[np.ndarray]] = [[] for _ in clips]
        for chosen, strong, weak in self._batches(clips):
            strong = torch.sigmoid(strong.float()).cpu().numpy()
            weak = torch.sigmoid(weak.float()).cpu().numpy()
            for row, window in enumerate(chosen):
                strong_parts[window.clip].append(strong[row])
                weak_parts[window.clip].append(weak[row])
        strong_out = [np.concatenate(parts)[:max(1, clip.features.shape[0])].astype(np.float32)
                      for parts, clip in zip(strong_parts, clips)]
        weak_out = [np.max(parts, axis=0).astype(np.float32) for parts in weak_parts]
        return strong_out, weak_out

    @torch.no_grad()
    def _batches(self, clips: list[FeatureClip]):
        """(windows, strong logits, weak logits) per inference batch, in evaluation mode."""
        model = self._model()
        model.eval()
        items = windows(clips, self.frames)
        for begin in range(0, len(items), self.config.batch_size):
            chosen = items[begin:begin + self.config.batch_size]
            x = torch.from_numpy(batch_features(clips, chosen, self.frames)).to(self.device)
            with self._autocast():
                strong, weak = model(x)
            yield chosen, strong, weak

    def _model(self) -> WeakCRNNModel:
        if self.model is None:
            self.model = WeakCRNNModel(self.config.n_mels, len(self.context.labels), self.frames,
                                       self.config).to(self.device)
        return self.model

    def _autocast(self):
        if self.config.precision == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.config.precision == "bf16" else torch.float16
        return torch.autocast(device_type=self.device.type, dtype=dtype)
