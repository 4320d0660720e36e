"""Per-class decision thresholds and median-filter windows chosen on validation data, by sed_eval's class-wise
event F1.

Each class's event F1 depends on that class's output only, so maximizing every class's F1 separately maximizes
their average. Counting is vectorized over all candidate settings at once and replicates sed_eval's event-based
greedy matching (onset collar, offset within max(collar, a share of the event's length)); the tests compare it
with sed_eval on random cases. Systems use it for their own searches (the multi-task CRNN's baseline), and the
harness to tune every frame-output system's post-processing (``tune_postprocessing``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from sedbench.core.data import FeatureClip

from .fast_metrics import greedy_pairs  # sed_eval's greedy pairing order, as the harness's metric
from .metrics import MetricSettings
from .postprocess import grid_time


def majority_filter(active: np.ndarray, windows) -> np.ndarray:
    """Median filter of a binary sequence for every odd window at once: (frames,) -> (windows, frames).

    Edge frames are repeated (scipy.ndimage.median_filter's mode 'nearest'); the median of 0/1 values over an
    odd window is 1 when more than half of them are 1.
    """
    x = np.asarray(active, dtype=bool)
    windows = np.asarray(windows, dtype=np.int64).reshape(-1)
    frames = x.shape[0]
    half = (windows - 1) // 2
    reach = int(half.max()) if half.size else 0
    cumulative = np.concatenate([[0], np.cumsum(np.pad(x.astype(np.int32), reach, mode="edge"), dtype=np.int32)])
    sums_from = np.lib.stride_tricks.sliding_window_view(cumulative, frames)  # row j: cumulative[j: j + frames]
    sums = sums_from[reach + half + 1] - sums_from[reach - half]  # window sums around every frame
    return 2 * sums > windows[:, None]


@dataclass
class ScoringClip:
    """One validation clip as the threshold searches score it: frame-grid times and its reference events."""

    frames: int
    onset_times: np.ndarray  # (frames + 1,): time of frame boundary i as an onset (activity_to_events' grid)
    offset_times: np.ndarray  # (frames + 1,): as an offset, cut at the clip's duration
    references: list[tuple[np.ndarray, np.ndarray]]  # per class: (onsets, offsets) in the clip's list order

    @classmethod
    def from_clip(cls, clip: FeatureClip, labels: tuple[str, ...]) -> "ScoringClip":
        frames = clip.features.shape[0]
        hop = clip.hop_seconds
        onsets = np.array([grid_time(i, hop, "onset") for i in range(frames + 1)])
        offsets = np.minimum(np.array([grid_time(i, hop, "offset") for i in range(frames + 1)]), clip.duration)
        references = []
        for label in labels:
            events = [e for e in clip.events if e.label == label]
            references.append((np.array([e.onset for e in events], dtype=float),
                               np.array([e.offset for e in events], dtype=float)))
        return cls(frames, onsets, offsets, references)


def class_event_counts(active: np.ndarray, clip: ScoringClip, class_index: int,
                       settings: MetricSettings) -> tuple[np.ndarray, np.ndarray]:
    """(true positives, estimated events) of one class in one clip for K candidate activities (K, frames).

    The events are the runs of each row as ``activity_to_events`` makes them; matching is sed_eval's event-based
    greedy matching (references in list order, each takes the first free estimate within the onset collar and
    the offset tolerance), done for all K rows at once: row k's references can only pair with row k's events.
    """
    rows, frames = active.shape
    padded = np.zeros((rows, frames + 2), dtype=bool)
    padded[:, 1:-1] = active
    # row-major order: each row's starts and stops alternate (flatnonzero is several times faster than nonzero)
    row, edge = np.divmod(np.flatnonzero(padded[:, 1:] != padded[:, :-1]), frames + 1)
    row, start, stop = row[0::2], edge[0::2], edge[1::2]
    onset, offset = clip.onset_times[start], clip.offset_times[stop]
    keep = offset > onset
    row, onset, offset = row[keep], onset[keep], offset[keep]
    estimated = np.bincount(row, minlength=rows)
    ref_on, ref_off = clip.references[class_index]
    true_positives = np.zeros(rows, dtype=np.int64)
    if ref_on.size and onset.size:
        tolerance = np.maximum(settings.event_collar, settings.event_offset_percentage * (ref_off - ref_on))
        timing = ((np.abs(ref_on[:, None] - onset[None, :]) <= settings.event_collar)
                  & (np.abs(ref_off[:, None] - offset[None, :]) <= tolerance[:, None]))  # (refs, events)
        hits = timing[None, :, :] & (row[None, None, :] == np.arange(rows)[:, None, None])  # (K, refs, events)
        for pair_row, _ in greedy_pairs(hits.reshape(rows * ref_on.size, -1)):
            true_positives[pair_row // ref_on.size] += 1
    return true_positives, estimated


def class_f1(true_positives: np.ndarray, estimated: np.ndarray, references) -> np.ndarray:
    """sed_eval's class-wise event F1 from summed counts (precision 0 without output; NaN without references)."""
    tp = np.asarray(true_positives, dtype=float)
    n_sys = np.asarray(estimated, dtype=float)
    n_ref = np.broadcast_to(np.asarray(references, dtype=float), tp.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(n_sys > 0, tp / n_sys, 0.0)
        recall = np.where(n_ref > 0, tp / n_ref, np.nan)
        f1 = 2.0 * precision * recall / (1.0 * precision + recall)
    return np.where((precision == 0) & (recall == 0), 0.0, f1)


def best_setting(f1: np.ndarray, estimated: np.ndarray) -> tuple[int, ...]:
    """Index of the highest F1 (NaN counts as 0); ties: fewest estimated events, then the first in grid order."""
    score = np.nan_to_num(np.asarray(f1, dtype=float), nan=0.0).ravel()
    order = np.lexsort((np.arange(score.size), np.asarray(estimated).ravel(), -score))
    return tuple(int(i) for i in np.unravel_index(order[0], np.shape(f1)))


@dataclass
class SearchResult:
    """Per class: the chosen first and second threshold (beta or median window) and the validation counts."""

    first: np.ndarray
    second: np.ndarray
    f1: np.ndarray  # validation event F1 (%, NaN without references)
    true_positives: np.ndarray
    estimated: np.ndarray
    references: np.ndarray
    seconds: float


def pick(tp: np.ndarray, n_sys: np.ndarray, n_ref: np.ndarray, firsts, seconds, started: float) -> SearchResult:
    """tp / n_sys of shape (len(firsts), len(seconds), classes) -> each class's best pair."""
    classes = n_ref.size
    chosen = [best_setting(class_f1(tp[..., c], n_sys[..., c], n_ref[c]), n_sys[..., c]) for c in range(classes)]
    first = np.array([firsts[i] for i, _ in chosen])
    second = np.array([seconds[j] for _, j in chosen])
    pick_tp = np.array([tp[i, j, c] for c, (i, j) in enumerate(chosen)])
    pick_sys = np.array([n_sys[i, j, c] for c, (i, j) in enumerate(chosen)])
    return SearchResult(first, second, 100 * class_f1(pick_tp, pick_sys, n_ref), pick_tp, pick_sys, n_ref,
                        time.perf_counter() - started)


def median_threshold_search(activities: list[np.ndarray], clips: list[ScoringClip], alphas: np.ndarray,
                            windows: np.ndarray, settings: MetricSettings) -> SearchResult:
    """alpha_c and the median window maximizing each class's validation event F1 (Sec. 4.4); (frames, classes).

    All windows are filtered and matched at once per alpha, clip and class; a class whose active frames are the
    same as at the previous alpha keeps its previous counts.
    """
    started = time.perf_counter()

    def class_counts(activity, clip, alpha, changed):
        active = activity > alpha
        for c in changed:
            yield c, class_event_counts(majority_filter(active[:, c], windows), clip, c, settings)

    tp, n_sys = grid_counts(activities, activities, clips, alphas, len(windows), class_counts)
    return pick(tp, n_sys, reference_counts(clips, tp.shape[2]), alphas, windows, started)


def grid_counts(activities, inputs, clips, alphas, n_second, class_counts) -> tuple[np.ndarray, np.ndarray]:
    """(alphas, n_second, classes) true positives and estimated events summed over clips.

    ``class_counts(input, clip, alpha, classes)`` yields (class, (tp, n_sys)) for the classes whose frames above
    alpha changed and still has some; a class without frames above alpha has no events.
    """
    classes = activities[0].shape[1] if activities else 0
    tp = np.zeros((len(alphas), n_second, classes), np.int64)
    n_sys = np.zeros_like(tp)
    for activity, data, clip in zip(activities, inputs, clips):
        above_before = np.full(classes, -1)
        clip_tp = np.zeros((n_second, classes), np.int64)
        clip_sys = np.zeros_like(clip_tp)
        for a, alpha in enumerate(alphas):
            above = (activity > alpha).sum(axis=0)
            changed = np.flatnonzero(above != above_before)
            clip_tp[:, changed] = 0
            clip_sys[:, changed] = 0
            if changed[above[changed] > 0].size:
                for c, (found, estimated) in class_counts(data, clip, alpha, changed[above[changed] > 0]):
                    clip_tp[:, c], clip_sys[:, c] = found, estimated
            above_before = above
            tp[a] += clip_tp
            n_sys[a] += clip_sys
    return tp, n_sys


def reference_counts(clips: list[ScoringClip], classes: int) -> np.ndarray:
    return np.array([sum(clip.references[c][0].size for clip in clips) for c in range(classes)], dtype=np.int64)


# --------------------------------------------------------------------------- the harness's tuned post-processing

THRESHOLDS = tuple(np.round(np.arange(0.05, 0.951, 0.05), 2))  # decision thresholds tried per class
WINDOW_SECONDS = (0.0, 0.06, 0.1, 0.18, 0.3, 0.46, 0.7, 1.0)  # median-filter lengths tried per class


@dataclass(frozen=True)
class TunedPostProcessing:
    """A decision threshold and a median-filter window (odd, in frames) per class, chosen on validation data."""

    thresholds: dict[str, float]
    windows: dict[str, int]
    threshold: float = 0.5  # clip tags (frame outputs that also tag) keep the protocol's threshold

    def filtered_scores(self, probabilities: np.ndarray, labels) -> np.ndarray:
        """The scores median-filtered with each class's window (edges repeated): what DCASE task 4 baselines give
        PSDS, which sweeps its own thresholds."""
        from scipy.ndimage import median_filter

        p = np.array(probabilities, copy=True)
        for k, label in enumerate(labels):
            if self.windows[label] > 1:
                p[:, k] = median_filter(p[:, k], size=self.windows[label], mode="nearest")
        return p

    def events(self, probabilities: np.ndarray, hop: float, labels, duration: float) -> list:
        from .postprocess import activity_to_events

        events = []
        for k, label in enumerate(labels):
            active = np.asarray(probabilities)[:, k] > self.thresholds[label]
            if self.windows[label] > 1:
                active = majority_filter(active, [self.windows[label]])[0]
            events += activity_to_events(active, hop, label, limit_seconds=duration)
        return sorted(events, key=lambda e: (e.onset, e.label))


def odd_windows(hop: float, seconds=WINDOW_SECONDS) -> np.ndarray:
    """Median-filter lengths in frames for a hop: each length rounded to an odd count, repeats dropped."""
    frames = [max(1, int(round(s / hop))) | 1 for s in seconds]
    return np.array(sorted(set(frames)), dtype=np.int64)


def tune_postprocessing(probabilities: list[np.ndarray], clips: list[FeatureClip], labels: tuple[str, ...],
                        settings: MetricSettings) -> tuple[TunedPostProcessing, dict]:
    """Each class's threshold and median window with the highest validation event F1 (ties: fewer events, then
    the lower threshold and shorter window); also what the search found, for the record.

    ``clips`` are validation clips with their events; nothing else is looked at.
    """
    windows = odd_windows(clips[0].hop_seconds)
    scoring = [ScoringClip.from_clip(clip, labels) for clip in clips]
    result = median_threshold_search([np.asarray(p, dtype=np.float64) for p in probabilities], scoring,
                                     np.array(THRESHOLDS), windows, settings)
    tuned = TunedPostProcessing(thresholds={label: float(t) for label, t in zip(labels, result.first)},
                                windows={label: int(w) for label, w in zip(labels, result.second)})
    search = {"clips": len(clips), "thresholds": [float(t) for t in THRESHOLDS], "windows": windows.tolist(),
              "valid_F1_event": {label: (None if np.isnan(f) else round(float(f), 4))
                                 for label, f in zip(labels, result.f1)},
              "seconds": round(result.seconds, 3)}
    return tuned, search
