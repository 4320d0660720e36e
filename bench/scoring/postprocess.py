"""Frame probabilities -> binary activity -> event lists."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import median_filter

from sedbench.core.data import Event


def grid_time(index: int, hop: float, edge: str) -> float:
    """Time of frame boundary ``index`` that sed_eval maps back to the same frame.

    sed_eval computes floor(onset / resolution) and ceil(offset / resolution); a
    plain ``index * hop`` can land one ulp on the wrong side, so nudge it.
    """
    t = index * hop
    if edge == "onset":
        while math.floor(t * 1 / float(hop)) < index:
            t = math.nextafter(t, math.inf)
    else:
        while math.ceil(t * 1 / float(hop)) > index:
            t = math.nextafter(t, -math.inf)
    return t


def activity_to_events(active: np.ndarray, hop_seconds: float, label: str, offset_seconds: float = 0.0,
                       limit_seconds: float | None = None) -> list[Event]:
    """Runs of True frames as events (onset at the run's first frame, offset after its last)."""
    padded = np.concatenate([[False], np.asarray(active, dtype=bool), [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    events = []
    for start, stop in zip(edges[0::2].tolist(), edges[1::2].tolist()):
        if offset_seconds:
            onset, offset = offset_seconds + start * hop_seconds, offset_seconds + stop * hop_seconds
        else:
            onset, offset = grid_time(start, hop_seconds, "onset"), grid_time(stop, hop_seconds, "offset")
        if limit_seconds is not None:
            offset = min(offset, limit_seconds)
        if offset > onset:
            events.append(Event(onset, offset, label))
    return events


@dataclass(frozen=True)
class PostProcessing:
    threshold: float = 0.5  # the paper's C
    median_filter_frames: int = 1  # 1 = off; odd window length in frames otherwise

    def binarize(self, probabilities: np.ndarray) -> np.ndarray:
        active = probabilities > self.threshold
        if self.median_filter_frames > 1:
            active = median_filter(active.astype(np.uint8), size=(self.median_filter_frames, 1), mode="nearest") > 0
        return active

    def events(self, probabilities: np.ndarray, hop: float, labels, duration: float) -> list[Event]:
        active = self.binarize(probabilities)
        events: list[Event] = []
        for k, label in enumerate(labels):
            events += activity_to_events(active[:, k], hop, label, limit_seconds=duration)
        return sorted(events, key=lambda e: (e.onset, e.label))
