"""Multi-label multi-task CRNN of Phan et al. 2018 and its multi-label CRNN baseline.

H. Phan, O. Y. Chén, P. Koch, L. Pham, I. McLoughlin, A. Mertins, M. De Vos, "Unifying Isolated and Overlapping
Audio Event Detection with Multi-Label Multi-Task Convolutional Recurrent Neural Networks", ICASSP 2019,
arXiv:1811.01092 (cited below as "the paper").

``multitask-crnn`` -- the proposed network (Sec. 2-4):

- Input (Sec. 2.1): 40 log mel bands of 40 ms frames with 50 % overlap at 44.1 kHz, mel range [50, 22050] Hz;
  segments of T = 512 frames. Not in the paper: a Hamming window (the harness's ``LogMelSpec`` default, as the
  CRNN of Cakir et al. 2017), power mel spectrogram, natural log. Features are standardized per band by the
  harness.
- Convolutional block (Sec. 2.2): three layers of F = 256 filters 5 x 5, stride 1, same padding, each followed
  by batch norm, ReLU and max pooling over frequency only with kernels / strides 5, 4, 2 (40 -> 8 -> 2 -> 1
  bands); the F pooled maps are the frame's feature vector x_t.
- Residual recurrent layer (Sec. 2.3): a bidirectional GRU of H = 256 units per direction; z_t = [h_b (+) h_f]
  W_z + b_z with W_z of 2H x 2H (PyTorch stacks [h_f (+) h_b]; the order only permutes W_z's rows, which are
  learnt); a residual branch ReLU(BN(x_t W_x + b_x)) with W_x of F x 2H (batch norm statistics over the batch's
  segments and frames); a_t = ReLU(BN(x_t W_x + b_x)) (+) z_t,
  in the paper's order (Eq. 4), so a_t has 4H dimensions.
- Output (Sec. 2.4): sigmoid(a_t W_a + b_a) with 3C units per frame: for every class c the triplet (y, p, q) =
  (activity, normalized distance to the onset, to the offset), stored class by class ((C, 3) per frame). The
  paper writes W_a in R^{2H x 3C}, which does not match the 4H-dimensional a_t of its Eq. 4; we follow Eq. 4
  (W_a is 4H x 3C). The activity's binary cross-entropy is computed from the logit (the same value as on the
  sigmoid, numerically stable).
- Targets (Sec. 2.1), per frame and class, from the harness's event roll (``FeatureClip.targets``, so
  overlapping annotations of one class are merged into one run): y = 1 inside a run [s, e) of frames; for such
  a frame t, p = (t - s) / T and q = (e - 1 - t) / T, clipped to [0, 1]; p = q = 0 where y = 0. The paper says
  only "distances from the current frame to the event onset and offset ... normalized to [0, 1]"; our reading
  measures them to the true boundaries in the whole clip (not cut at the segment's edges) and normalizes by the
  segment length T, the same T that denormalizes them at inference (Sec. 3).
- Losses (Eq. 6-9), summed with equal weights: frame-wise multi-label binary cross-entropy, squared onset and
  offset distance errors, and the confidence loss (y - (min(p, p^) + min(q, q^)) / (max(p, p^) + max(q, q^)))^2;
  each sums over classes and averages over the T frames, and the batch loss is the mean over its segments
  (Eq. 9 sums over examples; the mean only rescales Adam's steps by a constant). The ratio's 0 / 0 (p = q = 0
  and p^ = q^ = 0) is guarded by adding ``confidence_epsilon`` (1e-8) to the denominator, which gives a ratio
  of 0 there: whenever p = q = 0 the numerator is exactly 0 whatever the estimate, so inactive frames and
  one-frame events always have a ratio of 0 (the formula's own behaviour, kept as written).
- Training (Sec. 4.2): Adam with learning rate 1e-4, minibatches of 4 segments, dropout 0.25 after every
  convolutional block, on the GRU's output and on the residual branch (after its ReLU); every segment of T
  frames of the training clips (``segment_hop`` = 1: all possible segments, as the paper; a larger hop takes
  every hop-th start plus each clip's first and last segment, the grid moving by 73 frames more every epoch so
  that successive epochs see differently aligned segments), reshuffled every epoch; 10 epochs on
  TUT-SED Synthetic 2016 (100 on ITC-Irst: ``dataset_profiles``). The paper trains for fixed epochs and keeps
  the final model (``keep_weights="last"``); ``keep_weights="best_valid_loss"`` restores the epoch with the
  lowest validation loss instead. The validation loss (the same losses over the validation clips' segments of T
  frames taken with a hop of T, plus each clip's last segment) is recorded every epoch. Clips shorter than T
  are zero-padded (in standardized space: the training mean) to one segment, with inactive targets there.
  PyTorch's default initialization (the paper does not say).
- Inference (Sec. 3): each test clip is cut into non-overlapping segments of T frames (the last zero-padded);
  frame t of the segment starting at frame m, with y^ > alpha_c, adds y^ to the confidence score of every frame
  n with m + t - p^ T <= n <= m + t + q^ T (the paper's Eq. 10 writes p^ on both sides; its region of interest
  is "determined by p and q", so the right bound is read as q^, as the issue does). p^ T and q^ T are rounded down with a 1e-6 tolerance, so that
  p^ = k / T reaches exactly k frames back. Padded frames do not vote and the region is cut at the clip's ends.
  The votes of all segments are summed (Eq. 11), the score is normalized to [0, 1] by dividing by its maximum
  over the clip for that class (the paper says "normalized to [0,1]" only; an all-zero score stays zero), and
  every run of frames whose score is above beta_c is an event (onset and offset on the harness's frame grid).
  The summation over segments uses difference arrays (np.bincount), no loop over frames.
- Thresholds (Sec. 4.2): after training, alpha_c in [0, 1] with step 0.01 and beta_c in [0, 1] with step 0.05
  are chosen on the validation clips to maximize the class's event-based F1 (sed_eval's class-wise F1 with the
  harness's event settings: 200 ms onset collar, offsets within max(200 ms, 20 % of the event's length),
  greedy matching, precision 0 without output). The paper maximizes the average F1 over classes; each class's
  thresholds change only its own F1, so that maximum is reached by maximizing every class's F1 separately.
  Ties (e.g. a class without validation events, whose F1 is 0 everywhere) go to the fewest validation events,
  then the smallest alpha, then the smallest beta. The votes depend on alpha only: they are computed once per
  alpha and validation clip, and all betas are thresholded and matched at once (``vote_threshold_search``); a
  class whose frames above alpha are the same as at the previous alpha keeps its counts. The class-wise counts
  are computed here (``class_event_counts``, tested equal to ``sedbench.scoring.fast_metrics``, i.e. sed_eval) instead
  of running the metric object 101 x 21 x C times. Without validation clips the search uses the training clips
  (recorded in the history). The chosen thresholds and their validation counts are in the run's history.

``multitask-crnn-baseline`` -- the paper's multi-label CRNN baseline (Sec. 4.4): the same body (convolutions,
residual recurrent layer) with only the activity output (C sigmoids) and the binary cross-entropy loss, trained
the same way; then a class threshold alpha_c (step 0.01) and a median filter over the binary activity whose
window is searched in [1, 256] with a step of 6 (1, 7, ..., 253 frames), both per class for the best validation
event F1 (same metric, tie rule and reasoning as above, ties then going to the shortest window). The median of
a binary sequence over an odd window is its majority; it is computed for all windows at once from cumulative
sums, with the edge frames repeated (scipy.ndimage.median_filter's mode 'nearest', as the harness's
``--median-filter``). Runs of active frames after filtering are the events.

Not reproduced: the ITC-Irst protocol's leave-one-recording-out cross-validation models whose confidence scores
are averaged (Sec. 4.2); here one model is trained on the training recordings and the thresholds come from the
dataset's validation split.

Checkpoints: a killed run resumes after its last finished epoch from ``context.checkpoints`` (weights, Adam's
state, data order, history, the lowest validation loss and its weights), with the same result as an
uninterrupted one; the threshold search runs after the last epoch, which writes no checkpoint.

Profiles: ``paper`` has the sizes above (4,519,472 parameters with 16 classes, 4,486,672 for the baseline).
``quick`` keeps the features, T = 512, the losses, the inference and the searches and shrinks the rest for two
CPU cores: F = 16, H = 32 (34,512 / 30,384 parameters), a training segment every 128 frames (about 9 per 30 s
clip, 540 per epoch on ``synth`` instead of about 59,000), 16 segments per batch and 10 epochs: about 340
updates in all instead of the paper's 150,000, hence Adam's default rate 1e-3 instead of 1e-4 so that the
network gets past the class priors within that budget. Measured with ``nice -n 19`` on the shared 2-core
machine: one training step of 16 segments takes about 0.6-0.7 s on idle cores (F = 32: about 0.9 s; the fixed
costs of the 40-band first layer and the GRU dominate, so the segment hop was widened to 128 as well), so an
epoch takes about 25 s and a ``synth`` run about 5 minutes; one epoch measured 58.6 s while a
timed run competed for the cores. The alpha / beta search over 20 validation clips of 30 s with 16 classes
took 5.7 s on the outputs of a one-epoch ``quick`` model (before the reuse of unchanged classes, with a timed
run on the cores), and 6.5 s (alpha / median window: 13.8 s) on dense random outputs where every alpha step
changes every class.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from sedbench.core import progress
from sedbench.core.data import FeatureClip, LabelKind
from sedbench.core.errors import ConfigError
from sedbench.core.features import LogMelSpec
from sedbench.core.outputs import Detections
from sedbench.core.progress import budget_eta
from sedbench.core.registry import register_system
from sedbench.core.system import System
from sedbench.papers.citations import PHAN2018
from sedbench.scoring.metrics import MetricSettings
from sedbench.scoring.postprocess import activity_to_events
from sedbench.scoring.tuning import (
    ScoringClip,
    SearchResult,
    class_event_counts,
    grid_counts,
    majority_filter,
    median_threshold_search,
    pick,
    reference_counts,
)
from sedbench.systems.rare_crnn import FrequencyMaxPool
from sedbench.training.common import count_parameters, restore_training, training_state
from sedbench.training.early_stopping import PLATEAU_EPOCHS, EarlyStopping
from sedbench.training.frames import sequences_for_inference

ROUNDING_TOLERANCE = 1e-6  # p^ T = k - tiny still reaches k frames
SEGMENT_GRID_SHIFT = 73  # frames the training segment grid moves per epoch when segment_hop > 1 (not a factor of it)


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class MultitaskCRNNConfig:
    # Features (Sec. 2.1)
    sample_rate: int = 44100
    n_mels: int = 40
    frame_seconds: float = 0.04
    hop_seconds: float = 0.02
    fmin: float = 50.0
    window: str = "hamming"  # not in the paper
    # Network (Sec. 2.2-2.4)
    conv_filters: int = 256  # F
    kernel_size: tuple[int, ...] = (5, 5)  # (frequency, time)
    pool_sizes: tuple[int, ...] = (5, 4, 2)  # frequency pooling after each conv layer
    rnn_units: int = 256  # H
    dropout: float = 0.25
    # Training (Sec. 4.2)
    segment_frames: int = 512  # T
    segment_hop: int = 1  # 1 = every possible segment, as the paper
    batch_size: int = 4
    learning_rate: float = 1e-4
    epochs: int = 10
    patience: int | None = None  # stop once the validation loss has not fallen for this many epochs (None: the
    # paper's fixed epochs, the fit then counts as converged when its last PLATEAU_EPOCHS brought no new minimum)
    keep_weights: str = "last"  # last | best_valid_loss
    confidence_epsilon: float = 1e-8  # guards the confidence loss's 0 / 0
    inference_batch: int = 16  # segments per forward pass at inference
    # Threshold searches on the validation set (Sec. 4.2, 4.4)
    alpha_step: float = 0.01
    beta_step: float = 0.05
    median_window_min: int = 1
    median_window_max: int = 256
    median_window_step: int = 6

    def __post_init__(self):
        for name in ("conv_filters", "rnn_units", "segment_frames", "segment_hop", "batch_size", "epochs",
                     "inference_batch", "median_window_min", "median_window_step"):
            if getattr(self, name) < 1:
                raise ConfigError(f"setting {name!r} must be at least 1, got {getattr(self, name)}")
        if len(self.kernel_size) != 2 or any(k < 1 or k % 2 == 0 for k in self.kernel_size):
            raise ConfigError(f"setting 'kernel_size' needs two odd sizes (frequency, time), got {self.kernel_size}")
        if not self.pool_sizes or any(p < 1 for p in self.pool_sizes):
            raise ConfigError(f"setting 'pool_sizes' needs one positive size per conv layer, got {self.pool_sizes}")
        if self.pooled_bands < 1:
            raise ConfigError(f"setting 'pool_sizes' {self.pool_sizes} pools {self.n_mels} mel bands to nothing")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"setting 'dropout' must be in [0, 1), got {self.dropout}")
        if self.patience is not None and self.patience < 1:
            raise ConfigError(f"setting 'patience' must be at least 1 (or none), got {self.patience}")
        if self.keep_weights not in ("last", "best_valid_loss"):
            raise ConfigError(f"setting 'keep_weights' must be 'last' or 'best_valid_loss', got {self.keep_weights!r}")
        if not self.confidence_epsilon > 0:
            raise ConfigError(f"setting 'confidence_epsilon' must be > 0, got {self.confidence_epsilon}")
        for name in ("alpha_step", "beta_step"):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise ConfigError(f"setting {name!r} must be in (0, 1], got {getattr(self, name)}")
        if self.median_window_max < self.median_window_min:
            raise ConfigError(f"setting 'median_window_max' ({self.median_window_max}) is below "
                              f"'median_window_min' ({self.median_window_min})")
        if any(w % 2 == 0 for w in self.median_windows()):
            raise ConfigError(f"median filter windows must be odd: 'median_window_min' "
                              f"({self.median_window_min}) needs to be odd and 'median_window_step' "
                              f"({self.median_window_step}) even")

    @property
    def pooled_bands(self) -> int:
        bands = self.n_mels
        for pool in self.pool_sizes:
            bands //= pool
        return bands

    def alphas(self) -> np.ndarray:
        return value_grid(self.alpha_step)

    def betas(self) -> np.ndarray:
        return value_grid(self.beta_step)

    def median_windows(self) -> np.ndarray:
        return np.arange(self.median_window_min, self.median_window_max + 1, self.median_window_step)


def value_grid(step: float) -> np.ndarray:
    """0, step, 2 step, ... <= 1 (as the nearest doubles of the decimal values)."""
    count = int(math.floor(1.0 / step + 1e-9))
    return np.round(np.arange(count + 1) * step, 10)


# --------------------------------------------------------------------------- network (Sec. 2.2-2.4)


class MultitaskCRNNModel(nn.Module):
    """(batch, T, bands) -> (batch, T, classes, outputs_per_class) logits: 3 for (y, p, q), 1 for the baseline."""

    def __init__(self, n_classes: int, config: MultitaskCRNNConfig, outputs_per_class: int = 3):
        super().__init__()
        filters, hidden = config.conv_filters, config.rnn_units
        kf, kt = config.kernel_size
        layers: list[nn.Module] = []
        channels = 1
        for pool in config.pool_sizes:
            # layout (batch, filters, time, frequency): pooling over frequency only keeps all T steps
            layers += [nn.Conv2d(channels, filters, (kt, kf), padding=(kt // 2, kf // 2)), nn.BatchNorm2d(filters),
                       nn.ReLU(), FrequencyMaxPool(pool), nn.Dropout(config.dropout)]
            channels = filters
        self.conv = nn.Sequential(*layers)
        width = filters * config.pooled_bands
        self.gru = nn.GRU(width, hidden, batch_first=True, bidirectional=True)
        self.gru_dropout = nn.Dropout(config.dropout)
        self.recurrent_projection = nn.Linear(2 * hidden, 2 * hidden)  # W_z, b_z (Eq. 1)
        self.residual = nn.Linear(width, 2 * hidden)  # W_x, b_x (Eq. 4)
        self.residual_norm = nn.BatchNorm1d(2 * hidden)
        self.residual_dropout = nn.Dropout(config.dropout)
        self.output = nn.Linear(4 * hidden, n_classes * outputs_per_class)  # W_a, b_a (Eq. 5)
        self.n_classes, self.outputs_per_class = n_classes, outputs_per_class

    def convolutional_features(self, features: torch.Tensor) -> torch.Tensor:
        """X: (batch, T, F x remaining bands), the pooled maps of each frame."""
        batch, frames, _ = features.shape
        x = self.conv(features.unsqueeze(1))
        return x.permute(0, 2, 1, 3).reshape(batch, frames, -1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = self.convolutional_features(features)
        h, _ = self.gru(x)
        z = self.recurrent_projection(self.gru_dropout(h))
        r = self.residual(x)
        r = self.residual_norm(r.reshape(-1, r.shape[-1])).reshape(r.shape)  # statistics over batch and time
        r = self.residual_dropout(torch.relu(r))
        a = torch.cat([r, z], dim=-1)
        logits = self.output(a)
        return logits.unflatten(-1, (self.n_classes, self.outputs_per_class))


# --------------------------------------------------------------------------- targets and losses (Sec. 2.1, 2.5)


def frame_targets(roll: np.ndarray, segment_frames: int) -> np.ndarray:
    """(frames, classes) activity -> (frames, classes, 3) triplets (y, p, q) of Sec. 2.1, our reading.

    p = (t - s) / T and q = (e - 1 - t) / T for a frame t of a run [s, e) of active frames, clipped to [0, 1];
    zero where inactive.
    """
    active = np.asarray(roll) > 0.5
    frames, classes = active.shape
    index = np.arange(frames)[:, None]
    before = np.vstack([np.zeros((1, classes), bool), active[:-1]])
    after = np.vstack([active[1:], np.zeros((1, classes), bool)])
    run_start = np.maximum.accumulate(np.where(active & ~before, index, -1), axis=0)
    run_last = np.minimum.accumulate(np.where(active & ~after, index, frames)[::-1], axis=0)[::-1]
    triplets = np.zeros((frames, classes, 3), dtype=np.float32)
    triplets[..., 0] = active
    triplets[..., 1] = np.where(active, np.clip((index - run_start) / segment_frames, 0.0, 1.0), 0.0)
    triplets[..., 2] = np.where(active, np.clip((run_last - index) / segment_frames, 0.0, 1.0), 0.0)
    return triplets


def multitask_losses(logits: torch.Tensor, targets: torch.Tensor, epsilon: float = 1e-8) -> dict[str, torch.Tensor]:
    """Eq. 6-9 for (batch, T, classes, 3) logits and targets: class, distance and confidence losses and their sum.

    Each sums over classes and averages over frames; the batch value is the mean over segments.
    """
    y, p, q = targets.unbind(-1)
    p_hat, q_hat = torch.sigmoid(logits[..., 1]), torch.sigmoid(logits[..., 2])
    bce = nn.functional.binary_cross_entropy_with_logits(logits[..., 0], y, reduction="none")
    distance = (p - p_hat) ** 2 + (q - q_hat) ** 2
    ratio = (torch.minimum(p, p_hat) + torch.minimum(q, q_hat)) / (
        torch.maximum(p, p_hat) + torch.maximum(q, q_hat) + epsilon)
    confidence = (y - ratio) ** 2
    losses = {name: value.sum(-1).mean() for name, value in
              (("class", bce), ("distance", distance), ("confidence", confidence))}
    losses["total"] = losses["class"] + losses["distance"] + losses["confidence"]
    return losses


def activity_losses(logits: torch.Tensor, targets: torch.Tensor, epsilon: float = 0.0) -> dict[str, torch.Tensor]:
    """The baseline's loss: Eq. 6 alone, for (batch, T, classes, 1) logits and targets."""
    bce = nn.functional.binary_cross_entropy_with_logits(logits[..., 0], targets[..., 0], reduction="none")
    loss = bce.sum(-1).mean()
    return {"class": loss, "total": loss}


# --------------------------------------------------------------------------- training data


class SegmentStore:
    """Clips concatenated (each zero-padded to at least T frames) with their frame targets; segments are starts."""

    def __init__(self, clips: list[FeatureClip], targets: list[np.ndarray], segment_frames: int):
        self.segment_frames = segment_frames
        feats, targs, self.clip_starts, self.clip_lengths = [], [], [], []
        position = 0
        for clip, target in zip(clips, targets):
            frames = max(clip.features.shape[0], segment_frames)
            padded = np.zeros((frames, clip.features.shape[1]), np.float32)
            padded[: clip.features.shape[0]] = clip.features
            padded_target = np.zeros((frames, *target.shape[1:]), np.float32)
            padded_target[: target.shape[0]] = target
            feats.append(padded)
            targs.append(padded_target)
            self.clip_starts.append(position)
            self.clip_lengths.append(frames)
            position += frames
        self.features = np.concatenate(feats) if feats else np.zeros((0, 1), np.float32)
        self.targets = np.concatenate(targs) if targs else np.zeros((0, 1, 1), np.float32)

    def __len__(self) -> int:
        return len(self.clip_starts)

    def segment_starts(self, hop: int, offset: int = 0) -> np.ndarray:
        """Every hop-th segment start of each clip from ``offset % hop``, plus its first and last segment
        (hop 1: all segments)."""
        starts = []
        for first, length in zip(self.clip_starts, self.clip_lengths):
            last = length - self.segment_frames
            local = np.unique(np.concatenate([[0], np.arange(offset % hop, last + 1, hop), [last]]))
            starts.append(first + local)
        return np.concatenate(starts) if starts else np.zeros(0, np.int64)

    def gather(self, starts: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        index = starts[:, None] + np.arange(self.segment_frames)
        return torch.from_numpy(self.features[index]), torch.from_numpy(self.targets[index])


# --------------------------------------------------------------------------- inference (Sec. 3)


def confidence_scores(activity: np.ndarray, onset_distance: np.ndarray, offset_distance: np.ndarray,
                      alpha, segment_frames: int) -> np.ndarray:
    """Summed votes f_c(n) (Eq. 10-11) of one clip: (frames, classes) outputs -> (frames, classes) scores.

    Frame g = m + t votes its y^ for frames [g - floor(p^ T), g + floor(q^ T)] (cut at the clip's ends) when
    y^ > alpha (a scalar or one value per class).
    """
    frames, classes = activity.shape
    voting = activity > np.broadcast_to(np.asarray(alpha, dtype=np.float64), (classes,))[None, :]
    t, c = np.nonzero(voting)
    weights = activity[t, c].astype(np.float64)
    first = np.maximum(t - np.floor(onset_distance[t, c] * segment_frames + ROUNDING_TOLERANCE).astype(np.int64), 0)
    last = np.minimum(t + np.floor(offset_distance[t, c] * segment_frames + ROUNDING_TOLERANCE).astype(np.int64),
                      frames - 1)
    width = frames + 1
    size = classes * width
    diff = (np.bincount(c * width + first, weights, minlength=size)
            - np.bincount(c * width + last + 1, weights, minlength=size))
    cover = np.bincount(c * width + first, minlength=size) - np.bincount(c * width + last + 1, minlength=size)
    votes = np.cumsum(diff.reshape(classes, width), axis=1)[:, :frames]
    covered = np.cumsum(cover.reshape(classes, width), axis=1)[:, :frames] > 0
    return np.where(covered, np.maximum(votes, 0.0), 0.0).T  # no rounding residue where nothing voted


def normalize_scores(scores: np.ndarray) -> np.ndarray:
    """Each class's score divided by its maximum over the clip; an all-zero score stays zero."""
    peak = scores.max(axis=0, keepdims=True) if scores.shape[0] else np.zeros((1, scores.shape[1]))
    return np.divide(scores, peak, out=np.zeros_like(scores, dtype=np.float64), where=peak > 0)


# --------------------------------------------------------------------------- threshold search (Sec. 4.2)


def vote_threshold_search(outputs: list[np.ndarray], clips: list[ScoringClip], segment_frames: int,
                          alphas: np.ndarray, betas: np.ndarray, settings: MetricSettings) -> SearchResult:
    """alpha_c and beta_c maximizing each class's validation event F1 (Sec. 4.2); outputs: (frames, classes, 3).

    The votes depend on alpha only: per alpha and clip they are summed once, and all betas are thresholded and
    matched at once. A class whose set of voting frames is the same as at the previous alpha (the sets shrink as
    alpha grows, so the same size means the same set) keeps its previous counts.
    """
    started = time.perf_counter()

    def class_counts(output, clip, alpha, changed):
        scores = normalize_scores(confidence_scores(output[..., 0], output[..., 1], output[..., 2], alpha,
                                                    segment_frames))
        for c in changed:
            yield c, class_event_counts(scores[:, c][None, :] > betas[:, None], clip, c, settings)

    tp, n_sys = grid_counts([output[..., 0] for output in outputs], outputs, clips, alphas, len(betas),
                            class_counts)
    return pick(tp, n_sys, reference_counts(clips, tp.shape[2]), alphas, betas, started)


# --------------------------------------------------------------------------- systems


@register_system("multitask-crnn")
class MultitaskCRNN(System):
    name = "multitask-crnn"
    paper = PHAN2018
    label_kind = LabelKind.STRONG
    Config = MultitaskCRNNConfig
    budget_setting = "epochs"
    outputs_per_class: ClassVar[int] = 3
    profiles = {
        "paper": {},
        "quick": {  # sized for 2 CPU cores (see the module docstring)
            "conv_filters": 16, "rnn_units": 32, "segment_hop": 128, "batch_size": 16, "learning_rate": 1e-3,
            # the paper's fixed 10 epochs end the quick model mid-descent: early stopping on the validation loss
            # (patience 5, the best epoch's weights kept) instead, with 60 epochs as a cap
            "epochs": 60, "patience": 5, "keep_weights": "best_valid_loss",
        },
    }
    dataset_profiles = {"paper": {"itc-irst": {"epochs": 100}}}  # Sec. 4.2

    def __init__(self, config: MultitaskCRNNConfig, context):
        super().__init__(config, context)
        self.device = torch.device(context.device)
        self.model: MultitaskCRNNModel | None = None
        self.first_thresholds: np.ndarray | None = None  # alpha_c
        self.second_thresholds: np.ndarray | None = None  # beta_c (baseline: median window)

    # ------------------------------------------------------------------ interface

    @classmethod
    def features(cls, config) -> LogMelSpec:
        c = config
        return LogMelSpec(sample_rate=c.sample_rate, n_mels=c.n_mels, frame_seconds=c.frame_seconds,
                          hop_seconds=c.hop_seconds, fmin=c.fmin, window=c.window)

    @classmethod
    def build_model(cls, config: MultitaskCRNNConfig, n_classes: int) -> MultitaskCRNNModel:
        return MultitaskCRNNModel(n_classes, config, cls.outputs_per_class)

    @classmethod
    def parameter_count(cls, config: MultitaskCRNNConfig, labels) -> int:
        return count_parameters(cls.build_model(config, len(labels)))

    def fit(self, train: list[FeatureClip], valid: list[FeatureClip]) -> dict:
        c = self.config
        model = self._model()
        train_store = SegmentStore(train, [self.targets(clip) for clip in train], c.segment_frames)
        valid_store = SegmentStore(valid, [self.targets(clip) for clip in valid], c.segment_frames)
        starts = train_store.segment_starts(c.segment_hop)  # the segments of the first epoch
        valid_starts = valid_store.segment_starts(c.segment_frames)
        optimizer = torch.optim.Adam(model.parameters(), lr=c.learning_rate)
        generator = torch.Generator().manual_seed(int(torch.initial_seed() % (2**63)))
        parts = ("class", "distance", "confidence") if self.outputs_per_class == 3 else ("class",)
        history: dict = {"epoch": [], "train_loss": [], "valid_loss": [], "seconds": [], "segments": []}
        for part in parts:
            history[f"train_{part}_loss"], history[f"valid_{part}_loss"] = [], []
        stopper = EarlyStopping(mode="min", patience=c.patience, keep_weights=c.keep_weights == "best_valid_loss")
        self.context.log(f"{self.name}: {starts.size} training segments of {c.segment_frames} frames per epoch")
        first_epoch = 0
        resumable = {"model": model, "optimizer": optimizer, "generator": generator}
        resumed = self.context.checkpoints.load()
        if resumed is not None:  # a killed run: continue from the end of its last finished epoch
            restore_training(resumed, resumable)
            history, first_epoch = resumed["history"], resumed["epoch"]
            stopper.restore(resumed)
            self.context.log(f"resumed from the checkpoint after epoch {first_epoch}")
        with progress.step("training", total=c.epochs, unit="epochs", completed=first_epoch) as epochs:
            for epoch in range(first_epoch, c.epochs):
                started = time.perf_counter()
                model.train()
                starts = train_store.segment_starts(c.segment_hop, offset=epoch * SEGMENT_GRID_SHIFT)
                order = starts[torch.randperm(starts.size, generator=generator).numpy()]
                sums = torch.zeros(len(parts) + 1, device=self.device)
                steps = 0
                for begin in range(0, order.size, c.batch_size):
                    x, y = train_store.gather(order[begin: begin + c.batch_size])
                    losses = self.losses(model(x.to(self.device)), y.to(self.device))
                    optimizer.zero_grad(set_to_none=True)
                    losses["total"].backward()
                    optimizer.step()
                    sums += torch.stack([losses["total"].detach()] + [losses[p].detach() for p in parts])
                    steps += 1
                means = (sums / max(steps, 1)).tolist()
                valid_means = self.evaluate_losses(valid_store, valid_starts, parts) if len(valid) else None
                history["epoch"].append(epoch + 1)
                history["segments"].append(int(starts.size))
                history["train_loss"].append(means[0])
                history["valid_loss"].append(valid_means[0] if valid_means else None)  # records refuse NaN
                for k, part in enumerate(parts, start=1):
                    history[f"train_{part}_loss"].append(means[k])
                    history[f"valid_{part}_loss"].append(valid_means[k] if valid_means else None)
                history["seconds"].append(time.perf_counter() - started)
                improved = valid_means is not None and stopper.update(epoch, valid_means[0], model)
                valid_text = f"  valid loss {valid_means[0]:.4f}" if valid_means else ""
                epochs.advance(status=f"valid loss {valid_means[0]:.4f}" if valid_means else "")
                self.context.log(f"epoch {epoch + 1:3d}/{c.epochs}  loss {means[0]:.4f}{valid_text}"
                                 f"{'  *' if improved else ''}  ({history['seconds'][-1]:.1f} s{budget_eta(epochs)})")
                stop = valid_means is not None and stopper.should_stop(epoch)
                if not stop and epoch + 1 < c.epochs:  # the last epoch ends the training: thresholds and record follow
                    self.context.checkpoints.save(training_state(epoch + 1, resumable, history=history,
                                                                 **stopper.state()))
                if stop:
                    self.context.log(f"early stop: no lower validation loss for {c.patience} epochs; "
                                     f"best epoch {stopper.best_epoch + 1}")
                    break
        history["convergence"] = stopper.convergence(len(history["epoch"]), c.epochs, "valid_loss",
                                                     plateau=PLATEAU_EPOCHS).as_dict()
        restored = stopper.restore_best(model)
        history["best_valid_loss_epoch"] = stopper.best_epoch + 1 if stopper.best_epoch >= 0 else None
        history["weights"] = ("epoch of the lowest validation loss" if restored else "last epoch")

        search_clips = valid if valid else train
        if not valid:
            self.context.log(f"{self.name}: no validation clips; thresholds are searched on the training clips")
        history["thresholds"], history["threshold_search"] = self.search_thresholds(search_clips)
        history["threshold_search"]["clips"] = "valid" if valid else "train"
        return history

    def predict(self, clips: list[FeatureClip]) -> list[Detections]:
        if self.first_thresholds is None:
            raise RuntimeError(f"{self.name}: predict called before fit")
        hop = self.features(self.config).frame_hop
        outputs = []
        for clip, frame_output in zip(clips, self.frame_outputs(clips)):
            active = self.activity(frame_output)
            events = []
            for c, label in enumerate(self.context.labels):
                events += activity_to_events(active[:, c], hop, label, limit_seconds=clip.duration)
            outputs.append(Detections(sorted(events, key=lambda e: (e.onset, e.label))))
        return outputs

    # ------------------------------------------------------------------ method-specific parts

    def targets(self, clip: FeatureClip) -> np.ndarray:
        return frame_targets(clip.targets, self.config.segment_frames)

    def losses(self, logits: torch.Tensor, targets: torch.Tensor) -> dict[str, torch.Tensor]:
        return multitask_losses(logits, targets, self.config.confidence_epsilon)

    def activity(self, frame_output: np.ndarray) -> np.ndarray:
        """(frames, classes, 3) outputs -> (frames, classes) detected activity with the chosen alpha_c, beta_c."""
        scores = normalize_scores(confidence_scores(frame_output[..., 0], frame_output[..., 1],
                                                    frame_output[..., 2], self.first_thresholds,
                                                    self.config.segment_frames))
        return scores > self.second_thresholds[None, :]

    def search_thresholds(self, clips: list[FeatureClip]) -> tuple[dict, dict]:
        c = self.config
        scoring = [ScoringClip.from_clip(clip, self.context.labels) for clip in clips]
        result = vote_threshold_search(self.frame_outputs(clips), scoring, c.segment_frames, c.alphas(), c.betas(),
                                       self.metric_settings())
        self.first_thresholds, self.second_thresholds = result.first, result.second
        self.context.log(f"{self.name}: alpha / beta search on {len(clips)} clips took {result.seconds:.1f} s")
        return (self._threshold_record(result, "alpha", "beta", float),
                {"alphas": _grid_text(c.alphas()), "betas": _grid_text(c.betas()),
                 "seconds": round(result.seconds, 3)})

    # ------------------------------------------------------------------ helpers

    def metric_settings(self) -> MetricSettings:
        """The harness's event-based settings (collar, offset tolerance, matching) on this system's frame grid."""
        settings = MetricSettings(frame_resolution=self.features(self.config).frame_hop)
        assert settings.event_matching == "greedy", "the threshold searches replicate greedy matching"
        return settings

    def _threshold_record(self, result: SearchResult, first: str, second: str, convert) -> dict:
        record = {}
        for c, label in enumerate(self.context.labels):
            f1 = float(result.f1[c])
            record[label] = {first: float(result.first[c]), second: convert(result.second[c]),
                             "valid_F1_event": None if math.isnan(f1) else f1,
                             "valid_Ntp": int(result.true_positives[c]), "valid_Nsys": int(result.estimated[c]),
                             "valid_Nref": int(result.references[c])}
        return record

    @torch.no_grad()
    def evaluate_losses(self, store: SegmentStore, starts: np.ndarray, parts) -> list[float]:
        """Mean losses (total, then ``parts``) over the given segments, in evaluation mode."""
        model = self._model()
        model.eval()
        sums = np.zeros(len(parts) + 1)
        for begin in range(0, starts.size, self.config.inference_batch):
            chosen = starts[begin: begin + self.config.inference_batch]
            x, y = store.gather(chosen)
            losses = self.losses(model(x.to(self.device)), y.to(self.device))
            sums += len(chosen) * np.array([float(losses["total"])] + [float(losses[p]) for p in parts])
        return (sums / max(starts.size, 1)).tolist()

    @torch.no_grad()
    def frame_outputs(self, clips: list[FeatureClip]) -> list[np.ndarray]:
        """Sigmoid outputs on each clip's own frames, (frames, classes, outputs_per_class), from non-overlapping
        zero-padded segments of T frames."""
        if not clips:
            return []
        model = self._model()
        model.eval()
        segments, spans = sequences_for_inference(clips, self.config.segment_frames)
        parts = []
        for begin in range(0, segments.shape[0], self.config.inference_batch):
            x = torch.from_numpy(segments[begin: begin + self.config.inference_batch]).to(self.device)
            parts.append(torch.sigmoid(model(x)).cpu().numpy().astype(np.float64))
        stacked = np.concatenate(parts)
        return [stacked[first: first + count].reshape(count * self.config.segment_frames,
                                                      *stacked.shape[2:])[:frames]
                for first, count, frames in spans]

    def _model(self) -> MultitaskCRNNModel:
        if self.model is None:
            self.model = self.build_model(self.config, len(self.context.labels)).to(self.device)
        return self.model


@register_system("multitask-crnn-baseline")
class MultitaskCRNNBaseline(MultitaskCRNN):
    """Sec. 4.4: the same body with the activity output only, then class thresholds and a median filter."""

    name = "multitask-crnn-baseline"
    outputs_per_class = 1

    def targets(self, clip: FeatureClip) -> np.ndarray:
        return (np.asarray(clip.targets, dtype=np.float32) > 0.5).astype(np.float32)[..., None]

    def losses(self, logits: torch.Tensor, targets: torch.Tensor) -> dict[str, torch.Tensor]:
        return activity_losses(logits, targets)

    def activity(self, frame_output: np.ndarray) -> np.ndarray:
        active = frame_output[..., 0] > self.first_thresholds[None, :]
        return np.stack([majority_filter(active[:, c], [window])[0]
                         for c, window in enumerate(self.second_thresholds)], axis=1)

    def search_thresholds(self, clips: list[FeatureClip]) -> tuple[dict, dict]:
        c = self.config
        scoring = [ScoringClip.from_clip(clip, self.context.labels) for clip in clips]
        activities = [output[..., 0] for output in self.frame_outputs(clips)]
        result = median_threshold_search(activities, scoring, c.alphas(), c.median_windows(), self.metric_settings())
        self.first_thresholds, self.second_thresholds = result.first, result.second
        self.context.log(f"{self.name}: alpha / median window search on {len(clips)} clips took "
                         f"{result.seconds:.1f} s")
        return (self._threshold_record(result, "alpha", "median_window", int),
                {"alphas": _grid_text(c.alphas()), "median_windows": [int(w) for w in c.median_windows()],
                 "seconds": round(result.seconds, 3)})


def _grid_text(values: np.ndarray) -> dict[str, float]:
    """A threshold grid for the record: first value, last value and step."""
    step = float(np.round(values[1] - values[0], 10)) if values.size > 1 else 0.0
    return {"from": float(values[0]), "to": float(values[-1]), "step": step}
