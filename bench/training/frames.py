"""Shared PyTorch machinery for frame-wise systems: sequences, training with early stopping, inference.

Systems are free not to use it; those that do get the paper's protocol
(Cakir et al. 2017, Sec. III-D): training sequences whose start moves by a
fixed shift every epoch, non-overlapping validation / test sequences, Adam,
binary cross-entropy, early stopping on validation frame F1 with the best
weights restored.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from sedbench.core import progress
from sedbench.core.config import Range
from sedbench.core.data import FeatureClip
from sedbench.core.errors import ConfigError, SedbenchError
from sedbench.core.progress import budget_eta
from sedbench.core.system import NO_CHECKPOINTS

from .common import count_parameters, restore_training, training_state
from .early_stopping import EarlyStopping


class SequenceSampler:
    """Cuts the concatenated training stream into sequences whose start shifts every epoch.

    The paper moves the starting index by 73 frames (not a factor of the sequence
    length) so that each epoch sees different sub-sequences. Clips are concatenated
    once; an epoch's sequences are a single reshape of a slice, no per-frame loops.
    """

    def __init__(self, clips: list[FeatureClip], sequence_frames: int, shift: int):
        self.features = np.concatenate([np.asarray(c.features) for c in clips]).astype(np.float32)
        self.targets = np.concatenate([c.targets for c in clips]).astype(np.float32)
        self.sequence_frames = sequence_frames
        self.shift = shift

    def epoch(self, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        total, length = self.features.shape[0], self.sequence_frames
        if total < length:  # shorter than one sequence: pad once
            pad = length - total
            features = np.pad(self.features, ((0, pad), (0, 0)))
            targets = np.pad(self.targets, ((0, pad), (0, 0)))
            return features[None], targets[None]
        start = (epoch * self.shift) % length
        count = (total - start) // length
        if count == 0:
            start, count = 0, total // length
        stop = start + count * length
        x = self.features[start:stop].reshape(count, length, -1)
        y = self.targets[start:stop].reshape(count, length, -1)
        return x, y


def sequences_for_inference(clips: list[FeatureClip], sequence_frames: int):
    """Non-overlapping zero-padded sequences of every clip, and where each clip's frames are."""
    chunks, spans = [], []
    for clip in clips:
        frames = clip.features.shape[0]
        count = max(1, math.ceil(frames / sequence_frames))
        padded = np.zeros((count * sequence_frames, clip.features.shape[1]), dtype=np.float32)
        padded[:frames] = clip.features
        spans.append((sum(c.shape[0] for c in chunks), count, frames))
        chunks.append(padded.reshape(count, sequence_frames, -1))
    return np.concatenate(chunks), spans


@dataclass
class TrainingSettings:
    sequence_frames: int
    sequence_shift: int
    batch_size: int
    learning_rate: float
    max_epochs: int
    patience: int
    threshold: float
    device: str
    precision: str = "fp32"  # fp32 | bf16 | fp16
    lr_schedule: str = "constant"  # constant | plateau
    lr_patience: int = 3  # plateau: epochs without a better validation F1_frm before the rate is halved
    min_epochs: int = 0  # early stopping waits for these (the first epochs' F1 swings while outputs settle)


class FrameModelTrainer:
    """Trains an ``nn.Module`` mapping (batch, frames, bands) -> (batch, frames, classes) logits."""

    def __init__(self, model: nn.Module, settings: TrainingSettings, log=print, checkpoints=NO_CHECKPOINTS):
        self.settings = settings
        self.checkpoints = checkpoints
        self.device = torch.device(settings.device)
        self.model = model.to(self.device)
        self.log = log
        if settings.precision not in ("fp32", "bf16", "fp16"):
            raise SedbenchError(f"precision must be fp32, bf16 or fp16, got {settings.precision!r}")
        # fp16 gradients underflow without loss scaling; bf16 has fp32's range and needs none
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=settings.precision == "fp16")
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # fixed sequence shapes

    def _autocast(self):
        if self.settings.precision == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.settings.precision == "bf16" else torch.float16
        return torch.autocast(device_type=self.device.type, dtype=dtype)

    def fit(self, train: list[FeatureClip], valid: list[FeatureClip]) -> dict:
        s = self.settings
        sampler = SequenceSampler(train, s.sequence_frames, s.sequence_shift)
        optimizer = torch.optim.Adam(self.model.parameters(), lr=s.learning_rate)
        # plateau: halve the rate when validation F1_frm stalls, so a short budget still reaches a settled model
        scheduler = (torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="max", factor=0.5,
                                                                patience=s.lr_patience - 1, threshold=0.0)
                     if s.lr_schedule == "plateau" else None)
        loss_fn = nn.BCEWithLogitsLoss()  # sigmoid + binary cross-entropy, numerically stable
        history = {"epoch": [], "train_loss": [], "valid_F1_frm": [], "valid_ER_frm": [], "seconds": [],
                   "train_seconds": [], "valid_seconds": [], "steps": [], "learning_rate": []}
        # F1_frm >= 0: the first epoch always improves
        stopper = EarlyStopping(mode="max", patience=s.patience, min_epochs=s.min_epochs)
        generator = torch.Generator().manual_seed(int(torch.initial_seed() % (2**63)))
        first_epoch = 0
        resumable = {"model": self.model, "optimizer": optimizer, "scaler": self.scaler, "generator": generator,
                     **({"scheduler": scheduler} if scheduler is not None else {})}
        resumed = self.checkpoints.load()
        if resumed is not None:  # a killed run: continue from the end of its last finished epoch
            restore_training(resumed, resumable)
            history, first_epoch = resumed["history"], resumed["epoch"]
            stopper.restore(resumed)
            self.log(f"resumed from the checkpoint after epoch {first_epoch}")
        pin = self.device.type == "cuda"
        with progress.step("training", total=s.max_epochs, unit="epochs", completed=first_epoch) as epochs:
            for epoch in range(first_epoch, s.max_epochs):
                started = time.perf_counter()
                self.model.train()
                x_all, y_all = sampler.epoch(epoch)
                x_all, y_all = torch.from_numpy(x_all), torch.from_numpy(y_all)
                if pin:
                    x_all, y_all = x_all.pin_memory(), y_all.pin_memory()
                order = torch.randperm(x_all.shape[0], generator=generator)
                total_loss, batches = torch.zeros((), device=self.device), 0
                for begin in range(0, order.numel(), s.batch_size):
                    index = order[begin : begin + s.batch_size]
                    x = x_all[index].to(self.device, non_blocking=True)
                    y = y_all[index].to(self.device, non_blocking=True)
                    optimizer.zero_grad(set_to_none=True)
                    with self._autocast():
                        logits = self.model(x)
                    loss = loss_fn(logits.float(), y)
                    self.scaler.scale(loss).backward()
                    self.scaler.step(optimizer)
                    self.scaler.update()
                    total_loss += loss.detach()  # summed on the device: no sync per step
                    batches += 1
                trained = time.perf_counter()
                f1, er = self.validate(valid)
                history["train_seconds"].append(trained - started)
                history["valid_seconds"].append(time.perf_counter() - trained)
                history["steps"].append(batches)
                history["epoch"].append(epoch + 1)
                history["train_loss"].append(float(total_loss) / max(batches, 1))
                history["valid_F1_frm"].append(f1)
                history["valid_ER_frm"].append(er)
                history["learning_rate"].append(optimizer.param_groups[0]["lr"])
                history["seconds"].append(time.perf_counter() - started)
                improved = stopper.update(epoch, f1, self.model)
                if scheduler is not None:
                    scheduler.step(f1)
                epochs.advance(status=f"valid F1_frm {f1:.1f}")
                self.log(
                    f"epoch {epoch + 1:3d}/{s.max_epochs}  loss {history['train_loss'][-1]:.4f}  valid F1_frm "
                    f"{f1:5.1f}  ER_frm {er:.3f}{'  *' if improved else ''}  ({history['seconds'][-1]:.1f} s"
                    f"{budget_eta(epochs)})"
                )
                stop = stopper.should_stop(epoch)
                if not stop and epoch + 1 < s.max_epochs:
                    self.checkpoints.save(training_state(epoch + 1, resumable, history=history, **stopper.state()))
                if stop:
                    self.log(f"early stop: no improvement for {s.patience} epochs; best epoch {stopper.best_epoch + 1}")
                    break
        stopper.restore_best(self.model)
        history["best_epoch"] = stopper.best_epoch + 1
        history["best_valid_F1_frm"] = stopper.best
        history["convergence"] = stopper.convergence(len(history["epoch"]), s.max_epochs, "valid_F1_frm").as_dict()
        return history

    @torch.no_grad()
    def predict(self, clips: list[FeatureClip]) -> list[np.ndarray]:
        self.model.eval()
        sequences, spans = sequences_for_inference(clips, self.settings.sequence_frames)
        outputs = []
        for begin in range(0, sequences.shape[0], self.settings.batch_size):
            x = torch.from_numpy(sequences[begin : begin + self.settings.batch_size]).to(self.device)
            with self._autocast():
                logits = self.model(x)
            outputs.append(torch.sigmoid(logits.float()).cpu().numpy())
        probabilities = np.concatenate(outputs)
        result = []
        for first, count, frames in spans:
            result.append(probabilities[first : first + count].reshape(count * self.settings.sequence_frames, -1)[:frames])
        return result

    def validate(self, clips: list[FeatureClip]) -> tuple[float, float]:
        """Validation F1_frm (%) and ER_frm, by sed_eval's definitions on the frame grid."""
        from sedbench.scoring.fast_metrics import FastSegmentBasedMetrics

        n_classes = clips[0].targets.shape[1]
        counter = FastSegmentBasedMetrics([str(k) for k in range(n_classes)], time_resolution=float(clips[0].hop_seconds))
        counter.empty_system_output_handling = "zero_score"
        for clip, probabilities in zip(clips, self.predict(clips)):
            counter.evaluate_rolls(clip.targets > 0.5, probabilities > self.settings.threshold)
        f1 = counter.overall_f_measure()["f_measure"]
        return (0.0 if math.isnan(f1) else 100 * f1), counter.overall_error_rate()["error_rate"]


# What the quick profiles of frame-model systems train with: a larger Adam rate halved whenever validation F1_frm
# stalls for 3 epochs, so that early stopping (patience 5, after at least 10 epochs) fires in CPU minutes instead of
# the epoch budget running out; the budget is only a safety cap.
QUICK_TRAINING = {"learning_rate": 4e-3, "lr_schedule": "plateau", "lr_patience": 3, "patience": 5, "min_epochs": 10,
                  "max_epochs": 80}
PRECISIONS = ("fp32", "bf16", "fp16")  # what FrameModelTrainer runs in (autocast dtypes)
LR_SCHEDULES = ("constant", "plateau")


@dataclass(frozen=True)
class FrameTrainingConfig:
    """Settings every FrameTorchSystem shares (Cakir et al. 2017, Sec. III-D); systems extend it."""

    sample_rate: int = 44100
    n_mels: int = 40
    sequence_frames: int = 256
    sequence_shift: int = 73  # start moves by 73 frames each epoch
    batch_size: int = 32
    learning_rate: float = 1e-3  # Adam's default
    max_epochs: int = 1000
    patience: int = 100  # "not improving for more than 100 epochs"
    threshold: float = 0.5  # C
    precision: str = "fp32"  # fp32 | bf16 | fp16 (autocast; fp16 with gradient scaling)
    lr_schedule: str = "constant"  # constant (the paper's Adam) | plateau (halve the rate when valid F1_frm stalls)
    lr_patience: int = 3  # plateau: epochs without a better validation F1_frm before the rate is halved
    min_epochs: int = 0  # early stopping waits for these; the paper's patience of 100 needs none

    ranges: ClassVar[dict[str, Range]] = {
        "sample_rate": Range(1), "n_mels": Range(1), "sequence_frames": Range(1), "sequence_shift": Range(0),
        "batch_size": Range(1), "learning_rate": Range(0, low_open=True), "max_epochs": Range(1),
        "patience": Range(0), "threshold": Range(0, 1), "lr_patience": Range(1), "min_epochs": Range(0),
    }

    def check(self) -> None:
        if self.precision not in PRECISIONS:
            raise ConfigError(f"setting 'precision' must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ConfigError(f"setting 'lr_schedule' must be one of {', '.join(LR_SCHEDULES)}, got {self.lr_schedule!r}")


class FrameTorchSystem:
    """Mixin for ``System`` subclasses whose model maps log-mel sequences to frame logits.

    The subclass provides the classmethod ``build_model(config, n_classes)``; its
    Config extends ``FrameTrainingConfig``.
    """

    budget_setting = "max_epochs"

    @classmethod
    def build_model(cls, config, n_classes: int) -> nn.Module:
        raise NotImplementedError

    @classmethod
    def features(cls, config):
        from sedbench.core.features import LogMelSpec

        return LogMelSpec(sample_rate=config.sample_rate, n_mels=config.n_mels)

    @classmethod
    def parameter_count(cls, config, labels) -> int:
        return count_parameters(cls.build_model(config, len(labels)))

    def _trainer(self) -> FrameModelTrainer:
        if getattr(self, "trainer", None) is None:
            c = self.config
            settings = TrainingSettings(
                sequence_frames=c.sequence_frames, sequence_shift=c.sequence_shift, batch_size=c.batch_size,
                learning_rate=c.learning_rate, max_epochs=c.max_epochs, patience=c.patience, threshold=c.threshold,
                device=self.context.device, precision=c.precision, lr_schedule=c.lr_schedule,
                lr_patience=c.lr_patience, min_epochs=c.min_epochs,
            )
            model = self.build_model(c, len(self.context.labels))
            self.trainer = FrameModelTrainer(model, settings, log=self.context.log,
                                             checkpoints=self.context.checkpoints)
        return self.trainer

    def fit(self, train: list[FeatureClip], valid: list[FeatureClip]) -> dict:
        return self._trainer().fit(train, valid)

    def predict(self, clips: list[FeatureClip]):
        from sedbench.core.outputs import FrameActivity

        hop = self.features(self.config).frame_hop
        return [FrameActivity(np.asarray(p, dtype=np.float32), hop) for p in self._trainer().predict(clips)]
