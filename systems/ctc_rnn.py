"""The CTC-RNN of Wang & Metze 2017 (Sec. 2.1, 3.2) on SoundNet or low-level log-mel features.

A single bidirectional LSTM layer with ReLU non-linearities (400 units per direction)
feeds a CTC output layer over 2n + 1 tokens: the onset and the offset of each of the n
event classes, plus blank. Training needs only each clip's sequence of event boundaries
in time order (``sedbench.core.tokens.boundary_tokens``), not their times. Decoding is best
path: the most probable token per frame, repeats collapsed, blanks removed. The decoded
boundary tokens are scored by token error rate; paired per class (``tokens_to_events``)
they also give events for sed_eval's metrics.

Training as the paper: Glorot-uniform weights, forget-gate bias 1, SGD with Nesterov
momentum 0.9 at learning rate 3.0 on the per-frame negative log-likelihood, the rate
multiplied by 0.8 whenever the validation TER has not reached a new minimum for 5
epochs, 200 epochs, minibatches of 5 sequences of at most 500 frames. A killed run resumes after
its last finished epoch from ``context.checkpoints`` (weights, momentum, the decayed rate and the epochs
since the last minimum, data order, history), with the same result as an uninterrupted one.

Readings where the paper is silent (each is a setting):

* Frame rate: SoundNet conv5 runs at 22,050 / 2048 = 10.77 Hz; the low-level features
  use the same hop (2048 samples at 22.05 kHz, 4096-sample window) so both inputs give the
  CTC-RNN the same frame rate (the paper's CTC-RNN runs at about 10 Hz). The low-level
  features are 40 log-mel bands (the paper's 50-dim low-level feature of [6] is not
  specified further).
* "ReLU non-linearity" in an LSTM: the cell input and the cell output use ReLU instead of
  tanh; the gates stay sigmoid. ``cell_activation=tanh`` selects the standard (cuDNN) LSTM.
  Measured on ``synth`` (log-mel, 64 units): with Glorot-uniform recurrent weights the ReLU
  cell's activations grow without bound; already at initialization one minibatch had a
  loss of 2.6e6 per 5 clips, and at learning rate 0.1 every minibatch overflowed from
  epoch 2 on. The ``quick`` profile therefore uses tanh cells; ``paper`` keeps ReLU.
  Minibatches whose loss or gradient is not finite are skipped and counted in the history.
* The alignment hinting of [6] is not used: the issue asks for training without timing.
* Sequences: a training clip longer than ``sequence_frames`` is cut into consecutive
  pieces of at most that length and each piece's transcript is the boundaries that fall
  inside it (the paper's 500-frame sequences need the same cut); shorter clips are one
  sequence each, padded within the minibatch.
* Per-frame NLL: the summed CTC loss of a minibatch divided by its number of real frames.
  Sequences whose transcript cannot be aligned to their frames (more tokens than frames)
  contribute zero loss (``zero_infinity``) and are counted in the history.
* No gradient clipping, as the paper describes none (``gradient_clip`` > 0 bounds the global
  norm; measured on ``synth`` quick log-mel: a bound of 1 left train TER at 85 after 30
  epochs, none reached 54 after 100).
* The model after the last epoch is kept, as the paper reports TER at epoch 200.
* A decoded token is placed at the centre of the first frame of its run.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from sedbench.core import progress
from sedbench.core.data import FeatureClip, LabelKind
from sedbench.core.errors import ConfigError
from sedbench.core.outputs import Detections
from sedbench.core.progress import budget_eta
from sedbench.core.registry import register_system
from sedbench.core.system import System
from sedbench.core.tokens import TimedToken, boundary_tokens, token_vocabulary, tokens_to_events
from sedbench.papers.citations import WANG2017
from sedbench.systems.soundnet_weights import SOUNDNET_WEIGHTS
from sedbench.training.common import restore_training, training_state
from sedbench.training.early_stopping import PLATEAU_EPOCHS, EarlyStopping

SOUNDNET_DIMS = 256  # conv5 and pool5 maps
SOUNDNET_HOP = 2048  # samples at 22,050 Hz between SoundNet conv5 frames (10.77 Hz)
FEATURE_KINDS = ("soundnet", "logmel")
CELL_ACTIVATIONS = ("relu", "tanh")


@dataclass(frozen=True)
class CTCConfig:
    features: str = "soundnet"  # soundnet | logmel
    soundnet_layer: str = "conv5"  # conv5 | conv5-bn | pool5
    soundnet_weights: str = "pretrained"  # pretrained (`sedbench weights fetch soundnet`) | random
    n_mels: int = 40  # low-level features
    units: int = 400  # per direction
    cell_activation: str = "relu"
    learning_rate: float = 3.0
    momentum: float = 0.9  # Nesterov
    lr_decay: float = 0.8
    decay_patience: int = 5  # epochs without a new minimum validation TER before the rate decays
    gradient_clip: float = 0.0  # off, as the paper
    epochs: int = 200
    patience: int | None = None  # stop once the validation TER has not fallen for this many epochs; the last weights
    # are kept, as the paper keeps them (None: the paper's fixed epochs)
    min_epochs: int = 0  # no early stop before this many epochs: CTC first learns to emit blanks, at a flat TER
    batch_size: int = 5
    sequence_frames: int = 500

    def check(self) -> None:
        if self.patience is not None and self.patience < 1:
            raise ConfigError(f"setting 'patience' must be at least 1 (or none), got {self.patience}")
        if self.min_epochs < 0:
            raise ConfigError(f"setting 'min_epochs' must be 0 or more, got {self.min_epochs}")
        if self.features not in FEATURE_KINDS:
            raise ConfigError(f"setting 'features' must be one of {', '.join(FEATURE_KINDS)}, got {self.features!r}")
        if self.cell_activation not in CELL_ACTIVATIONS:
            raise ConfigError(
                f"setting 'cell_activation' must be one of {', '.join(CELL_ACTIVATIONS)}, got {self.cell_activation!r}"
            )


class ReluLSTMDirection(nn.Module):
    """One direction of an LSTM whose cell input and output non-linearity is ReLU (gates stay sigmoid)."""

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.hidden_size = hidden_size
        self.input_weights = nn.Linear(input_size, 4 * hidden_size)  # gates i, f, g, o
        self.hidden_weights = nn.Linear(hidden_size, 4 * hidden_size, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, frames, _ = x.shape
        projected = self.input_weights(x)  # all steps at once; only the recurrence loops
        h = x.new_zeros(batch, self.hidden_size)
        c = x.new_zeros(batch, self.hidden_size)
        outputs = []
        for t in range(frames):
            i, f, g, o = (projected[:, t] + self.hidden_weights(h)).chunk(4, dim=1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.relu(g)
            h = torch.sigmoid(o) * torch.relu(c)
            outputs.append(h)
        return torch.stack(outputs, dim=1)


def reverse_padded(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each sequence within its own length; padding stays at the end."""
    frames = x.shape[1]
    steps = torch.arange(frames, device=x.device).unsqueeze(0)
    index = torch.where(steps < lengths.unsqueeze(1), lengths.unsqueeze(1) - 1 - steps, steps)
    return x.gather(1, index.unsqueeze(2).expand_as(x))


class CTCRNNModel(nn.Module):
    """(batch, frames, dims), lengths -> (batch, frames, 2n + 1) log-probabilities; token 0 is blank."""

    def __init__(self, input_size: int, n_classes: int, config: CTCConfig):
        super().__init__()
        self.activation = config.cell_activation
        if config.cell_activation == "relu":
            self.forward_rnn = ReluLSTMDirection(input_size, config.units)
            self.backward_rnn = ReluLSTMDirection(input_size, config.units)
        else:
            self.rnn = nn.LSTM(input_size, config.units, batch_first=True, bidirectional=True)
        self.output = nn.Linear(2 * config.units, 2 * n_classes + 1)
        self._init_weights(config.units)

    def _init_weights(self, units: int) -> None:
        for name, parameter in self.named_parameters():
            if parameter.dim() == 2:
                nn.init.xavier_uniform_(parameter)  # Glorot uniform [19]
            else:
                nn.init.zeros_(parameter)
                if "bias" in name and name != "output.bias":
                    parameter.data[units : 2 * units] = 1.0  # forget gate (order i, f, g, o) [20, 21]

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        if self.activation == "relu":
            forward = self.forward_rnn(x)
            backward = reverse_padded(self.backward_rnn(reverse_padded(x, lengths)), lengths)
            hidden = torch.cat([forward, backward], dim=2)
        else:
            packed = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
            hidden, _ = self.rnn(packed)
            hidden, _ = nn.utils.rnn.pad_packed_sequence(hidden, batch_first=True, total_length=x.shape[1])
        return torch.log_softmax(self.output(hidden), dim=2)


def best_path(log_probabilities: np.ndarray) -> list[tuple[int, int]]:
    """(frame, token) of best-path decoding: argmax per frame, repeats collapsed, blanks (0) removed."""
    best = log_probabilities.argmax(axis=1)
    starts = np.flatnonzero(np.r_[True, best[1:] != best[:-1]])
    return [(int(frame), int(best[frame])) for frame in starts if best[frame] != 0]


@dataclass
class Sequence:
    features: np.ndarray  # (frames, dims)
    targets: list[int]  # token ids, no blanks


def training_sequences(clips: list[FeatureClip], labels, max_frames: int) -> list[Sequence]:
    """Clips (cut into pieces of at most ``max_frames``) with the token ids of the boundaries in each piece."""
    ids = {token: i + 1 for i, token in enumerate(token_vocabulary(labels))}
    sequences = []
    for clip in clips:
        frames = clip.features.shape[0]
        for start in range(0, frames, max_frames):
            stop = min(frames, start + max_frames)
            # the last piece also takes boundaries at or after the clip's last frame (an offset at the clip's end)
            tokens = boundary_tokens(clip.events, labels, start * clip.hop_seconds,
                                     math.inf if stop == frames else stop * clip.hop_seconds)
            sequences.append(Sequence(np.asarray(clip.features[start:stop], dtype=np.float32),
                                      [ids[token] for token in tokens]))
    return sequences


def _batch(sequences: list[Sequence], device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    lengths = torch.tensor([s.features.shape[0] for s in sequences])
    x = torch.zeros(len(sequences), int(lengths.max()), sequences[0].features.shape[1])
    for i, s in enumerate(sequences):
        x[i, : s.features.shape[0]] = torch.tensor(s.features)  # a copy: cached features are read-only
    targets = torch.tensor([t for s in sequences for t in s.targets], dtype=torch.long)
    target_lengths = torch.tensor([len(s.targets) for s in sequences])
    return x.to(device), lengths.to(device), targets.to(device), target_lengths.to(device)


@register_system("ctc-rnn")
class CTCRNN(System):
    """CTC-RNN (Wang & Metze 2017). ``--set features=logmel`` for low-level features; SoundNet conv5 by default."""

    name = "ctc-rnn"
    profiles = {
        "paper": {},
        # CPU minutes: tanh cells (the ReLU cell diverges here, see the module docstring), a narrower layer,
        # half the epochs and a smaller rate. Two rate decays without a new minimum validation TER end the fit,
        # from epoch 30 on: on synth log-mel the validation TER sat at 92-96 through CTC's blank phase and patience
        # alone ended seed 0 at epoch 11 (best epoch 1, test TER 92.4), where a 100-epoch run reached 85.7 by epoch 30
        "quick": {"cell_activation": "tanh", "units": 128, "epochs": 150, "learning_rate": 1.0,
                  "patience": 10, "min_epochs": 30},
    }
    paper = WANG2017
    label_kind = LabelKind.STRONG  # training uses only the order of boundaries; test scoring needs their times
    Config = CTCConfig
    budget_setting = "epochs"
    weights = (SOUNDNET_WEIGHTS,)  # read only with features=soundnet and soundnet_weights=pretrained

    def __init__(self, config: CTCConfig, context):
        super().__init__(config, context)
        self.model: CTCRNNModel | None = None
        self.vocabulary = token_vocabulary(context.labels)

    @classmethod
    def features(cls, config):
        c = config
        if c.features == "soundnet":
            from sedbench.systems.soundnet import SoundNetSpec

            return SoundNetSpec(layer=c.soundnet_layer, weights=c.soundnet_weights)
        from sedbench.core.features import LogMelSpec

        return LogMelSpec(sample_rate=22050, n_mels=c.n_mels, frame_seconds=2 * SOUNDNET_HOP / 22050,
                          hop_seconds=SOUNDNET_HOP / 22050)

    def _build(self, input_size: int) -> CTCRNNModel:
        if self.model is None:
            self.model = CTCRNNModel(input_size, len(self.context.labels), self.config).to(self.context.device)
        return self.model

    @classmethod
    def parameter_count(cls, config: CTCConfig, labels) -> int:
        input_size = SOUNDNET_DIMS if config.features == "soundnet" else config.n_mels
        return sum(p.numel() for p in CTCRNNModel(input_size, len(labels), config).parameters())

    def fit(self, train: list[FeatureClip], valid: list[FeatureClip]) -> dict:
        c = self.config
        log = self.context.log
        model = self._build(train[0].features.shape[1])
        device = torch.device(self.context.device)
        sequences = training_sequences(train, self.context.labels, c.sequence_frames)
        unalignable = sum(1 for s in sequences if len(s.targets) > s.features.shape[0])
        optimizer = torch.optim.SGD(model.parameters(), lr=c.learning_rate, momentum=c.momentum, nesterov=True)
        ctc = nn.CTCLoss(blank=0, reduction="sum", zero_infinity=True)
        generator = torch.Generator().manual_seed(self.context.seed)
        history = {"epoch": [], "train_loss": [], "train_TER": [], "valid_TER": [], "learning_rate": [],
                   "skipped_steps": [], "seconds": [], "unalignable_sequences": unalignable}
        best_ter = EarlyStopping(mode="min", patience=c.patience, min_epochs=c.min_epochs,
                                 keep_weights=False)  # it also drives the decay
        since_best = 0  # epochs without a new minimum since it or the last decay
        done = 0
        resumable = {"model": model, "optimizer": optimizer, "generator": generator}  # optimizer: with the decayed rate
        resumed = self.context.checkpoints.load()
        if resumed is not None:  # a killed run: continue from the end of its last finished epoch
            restore_training(resumed, resumable)
            history, done = resumed["history"], resumed["epoch"]
            best_ter.restore(resumed)
            since_best = resumed["epochs_since_best"]
            log(f"resumed from the checkpoint after epoch {done}")
        with progress.step("training", total=c.epochs, unit="epochs", completed=done) as epochs:
            for epoch in range(done + 1, c.epochs + 1):
                started = time.perf_counter()
                model.train()
                order = torch.randperm(len(sequences), generator=generator).tolist()
                total_loss, total_frames, skipped = 0.0, 0, 0
                for begin in range(0, len(order), c.batch_size):
                    batch = [sequences[i] for i in order[begin : begin + c.batch_size]]
                    x, lengths, targets, target_lengths = _batch(batch, device)
                    log_probabilities = model(x, lengths)
                    loss = ctc(log_probabilities.transpose(0, 1), targets, lengths, target_lengths)
                    frames = int(lengths.sum())
                    optimizer.zero_grad(set_to_none=True)
                    (loss / frames).backward()  # per-frame negative log-likelihood
                    norm = nn.utils.clip_grad_norm_(model.parameters(), c.gradient_clip if c.gradient_clip > 0 else math.inf)
                    if not (torch.isfinite(loss) and torch.isfinite(norm)):
                        skipped += 1  # overflowing activations: one bad minibatch must not turn every weight into NaN
                        continue
                    optimizer.step()
                    total_loss += float(loss.detach())
                    total_frames += frames
                train_ter = self._ter(train)
                valid_ter = self._ter(valid)
                history["epoch"].append(epoch)
                history["train_loss"].append(total_loss / total_frames if total_frames else float("nan"))
                history["train_TER"].append(train_ter)
                history["valid_TER"].append(valid_ter)
                history["learning_rate"].append(optimizer.param_groups[0]["lr"])
                history["skipped_steps"].append(skipped)
                history["seconds"].append(time.perf_counter() - started)
                if best_ter.update(epoch - 1, valid_ter):  # epochs count from 1 here, from 0 there
                    since_best = 0
                else:
                    since_best += 1
                    if since_best >= c.decay_patience:  # "no update in 5 epochs": decay, then wait another 5
                        for group in optimizer.param_groups:
                            group["lr"] *= c.lr_decay
                        since_best = 0
                epochs.advance(status=f"valid TER {valid_ter:.1f}")
                log(f"epoch {epoch:3d}/{c.epochs}  loss {history['train_loss'][-1]:.4f}  train TER {train_ter:5.1f}  "
                    f"valid TER {valid_ter:5.1f}  lr {history['learning_rate'][-1]:.3g}"
                    + (f"  {skipped} non-finite steps skipped" if skipped else "")
                    + f"  ({history['seconds'][-1]:.1f} s{budget_eta(epochs)})")
                if self.context.monitor is not None:
                    self.context.monitor(epoch, self.predict)
                stop = best_ter.should_stop(epoch - 1)
                if not stop and epoch < c.epochs:  # the last epoch ends the fit: its record follows
                    self.context.checkpoints.save(training_state(epoch, resumable, history=history, **best_ter.state(),
                                                                 epochs_since_best=since_best))
                if stop:
                    log(f"early stop: no lower validation TER for {c.patience} epochs; best epoch {best_ter.best_epoch + 1}")
                    break
        history["best_valid_TER"] = best_ter.best
        history["convergence"] = best_ter.convergence(len(history["epoch"]), c.epochs, "valid_TER",
                                                      plateau=PLATEAU_EPOCHS).as_dict()
        return history

    def _ter(self, clips: list[FeatureClip]) -> float:
        from sedbench.scoring.metrics import token_error_rate

        decoded = self.predict(clips)
        references = {c.clip_id: boundary_tokens(c.events, self.context.labels) for c in clips}
        hypotheses = {c.clip_id: [t.token for t in d.tokens] for c, d in zip(clips, decoded)}
        ter = token_error_rate(references, hypotheses)["TER"]
        return float("nan") if ter is None else ter

    @torch.no_grad()
    def log_probabilities(self, clips: list[FeatureClip]) -> list[np.ndarray]:
        """Per clip (frames, 2n + 1) log-probabilities of the tokens, blank first."""
        model = self._build(clips[0].features.shape[1])
        model.eval()
        device = torch.device(self.context.device)
        result = []
        size = max(self.config.batch_size, 16)  # inference holds no gradients: larger chunks are fine
        for begin in range(0, len(clips), size):
            chunk = [Sequence(np.asarray(c.features, dtype=np.float32), []) for c in clips[begin : begin + size]]
            x, lengths, _, _ = _batch(chunk, device)
            out = model(x, lengths).cpu().numpy()
            result += [out[i, : int(lengths[i])] for i in range(len(chunk))]
        return result

    def predict(self, clips: list[FeatureClip]) -> list[Detections]:
        outputs = []
        for clip, log_probabilities in zip(clips, self.log_probabilities(clips)):
            tokens = []
            for frame, token_id in best_path(log_probabilities):
                label, kind = self.vocabulary[token_id - 1]
                tokens.append(TimedToken(min((frame + 0.5) * clip.hop_seconds, clip.duration), label, kind))
            outputs.append(Detections(events=tokens_to_events(tokens, clip.duration), tokens=tokens))
        return outputs
