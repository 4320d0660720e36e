"""Threshold-independent evaluation through sed_scores_eval: PSDS1 and PSDS2, the best intersection- and
collar-based F1, and per-class AP and AUROC, computed from a system's scores rather than its thresholded events.

Parameters are the DCASE 2021-2024 task 4 ones (``PSDS1``, ``PSDS2``). Frame probabilities give the full curves;
a system that outputs events is scored through its events as 0/1 scores, i.e. at its one operating point
(``operating_points`` says which). sed_scores_eval requires the reference events of one class not to overlap or
touch; such events are merged first (a detector cannot tell them apart either).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from sedbench.core.data import Event
from sedbench.core.outputs import Detections, FrameActivity

from .score_archive import audio_filenames, audio_id, frame_timestamps

PSDS1 = {"dtc_threshold": 0.7, "gtc_threshold": 0.7, "cttc_threshold": None, "alpha_ct": 0.0, "alpha_st": 1.0,
         "max_efpr": 100.0}
PSDS2 = {"dtc_threshold": 0.1, "gtc_threshold": 0.1, "cttc_threshold": 0.3, "alpha_ct": 0.5, "alpha_st": 1.0,
         "max_efpr": 100.0}
INTERSECTION_F1 = {"dtc_threshold": 0.7, "gtc_threshold": 0.7}
COLLAR_F1 = {"onset_collar": 0.2, "offset_collar": 0.2, "offset_collar_rate": 0.2}
SEGMENT_SECONDS = 1.0  # AP and AUROC on 1 s segments
CURVE_POINTS = 101  # the PSD-ROC kept in records: eTPR at efpr = 0, 1, ..., max_efpr per hour


def score_tables(outputs: Sequence, clip_ids: Sequence[str], durations: Sequence[float],
                 labels: Sequence[str]) -> tuple[dict, int | None]:
    """(audio id -> sed_scores_eval score DataFrame, operating points: None for frame scores, 1 for events).

    Empty dict for outputs without times (clip tags)."""
    from sed_scores_eval.base_modules.scores import create_score_dataframe

    names = audio_filenames(list(clip_ids))
    tables = {}
    if outputs and all(isinstance(o, FrameActivity) for o in outputs):
        for clip_id, out in zip(clip_ids, outputs):
            p = np.asarray(out.probabilities, dtype=np.float64)
            tables[audio_id(names[clip_id])] = create_score_dataframe(p, frame_timestamps(len(p), out.hop_seconds),
                                                                      list(labels))
        return tables, None
    if outputs and all(isinstance(o, Detections) for o in outputs):
        for clip_id, duration, out in zip(clip_ids, durations, outputs):
            stamps, values = event_scores(out.events, duration, labels)
            tables[audio_id(names[clip_id])] = create_score_dataframe(values, stamps, list(labels))
        return tables, 1
    return tables, None


def event_scores(events: Sequence[Event], duration: float, labels: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Events as 0/1 scores on the grid of their own boundaries: (timestamps, (segments, classes) scores)."""
    end = max([duration] + [e.offset for e in events])
    stamps = np.unique(np.round([0.0, end] + [t for e in events for t in (e.onset, e.offset)], 6))
    if len(stamps) < 2:
        stamps = np.array([0.0, max(end, 1e-3)])
    column = {label: i for i, label in enumerate(labels)}
    values = np.zeros((len(stamps) - 1, len(labels)))
    for event in events:
        first, last = np.searchsorted(stamps, [round(event.onset, 6), round(event.offset, 6)])
        values[first:last, column[event.label]] = 1.0
    return stamps, values


def merged_references(events_by_clip: dict[str, list[Event]], clip_ids: Sequence[str]) -> dict[str, list]:
    """audio id -> [(onset, offset, label)], overlapping or touching events of one class merged."""
    names = audio_filenames(list(clip_ids))
    result = {}
    for clip_id in clip_ids:
        merged: list[list] = []
        for event in sorted(events_by_clip.get(clip_id, []), key=lambda e: (e.label, e.onset, e.offset)):
            if merged and merged[-1][2] == event.label and event.onset <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], event.offset)
            else:
                merged.append([event.onset, event.offset, event.label])
        result[audio_id(names[clip_id])] = [tuple(e) for e in merged]
    return result


def threshold_free_scores(tables: dict, references: dict[str, list], durations: dict[str, float],
                          labels: Sequence[str], operating_points: int | None = None) -> dict:
    """PSDS1, PSDS2 (with their PSD-ROC), best intersection- and collar-based F1, per-class AP and AUROC.

    ``tables``, ``references`` and ``durations`` are keyed by audio id (``score_tables``, ``merged_references``)."""
    from sed_scores_eval import collar_based, intersection_based, segment_based

    result: dict = {"library": "sed_scores_eval", "operating_points": operating_points}
    for name, parameters in (("psds1", PSDS1), ("psds2", PSDS2)):
        value, class_wise, roc, _ = intersection_based.psds(scores=tables, ground_truth=references,
                                                            audio_durations=durations, unit_of_time="hour",
                                                            **parameters)
        result[name] = {"value": _number(value), "parameters": parameters,
                        "class_wise": {label: _number(class_wise[label]) for label in labels},
                        "curve": sampled_roc(roc, parameters["max_efpr"])}
    f1, precision, recall, thresholds, _ = intersection_based.best_fscore(scores=tables, ground_truth=references,
                                                                          **INTERSECTION_F1)
    result["intersection_f1"] = _best(f1, precision, recall, thresholds, labels, INTERSECTION_F1)
    f1, precision, recall, thresholds, _ = collar_based.best_fscore(scores=tables, ground_truth=references,
                                                                    **COLLAR_F1)
    result["collar_f1"] = _best(f1, precision, recall, thresholds, labels, COLLAR_F1)
    ap, _ = segment_based.average_precision(scores=tables, ground_truth=references, audio_durations=durations,
                                            segment_length=SEGMENT_SECONDS)
    auroc, _ = segment_based.auroc(scores=tables, ground_truth=references, audio_durations=durations,
                                   segment_length=SEGMENT_SECONDS)
    result["segment_ap"] = {"segment_seconds": SEGMENT_SECONDS, "mean": _number(ap["mean"]),
                            "class_wise": {label: _number(ap[label]) for label in labels}}
    result["segment_auroc"] = {"segment_seconds": SEGMENT_SECONDS, "mean": _number(auroc["mean"]),
                               "class_wise": {label: _number(auroc[label]) for label in labels}}
    return result


def sampled_roc(roc, max_efpr: float, points: int = CURVE_POINTS) -> dict:
    """The PSD-ROC step curve read at ``points`` evenly spaced efpr values up to ``max_efpr``."""
    etpr, efpr = (np.asarray(a, dtype=np.float64) for a in roc)
    order = np.argsort(efpr, kind="stable")
    etpr, efpr = np.maximum.accumulate(etpr[order]), efpr[order]
    grid = np.linspace(0.0, max_efpr, points)
    index = np.searchsorted(efpr, grid, side="right") - 1
    values = np.where(index >= 0, etpr[np.clip(index, 0, None)], 0.0)
    return {"efpr": [round(float(x), 6) for x in grid], "etpr": [round(float(y), 6) for y in values]}


def headline(scores: dict) -> dict[str, float]:
    """PSDS1 / PSDS2 for the record's headline (0..1, as DCASE reports them)."""
    return {"PSDS1": scores["psds1"]["value"], "PSDS2": scores["psds2"]["value"]}


def _best(f1: dict, precision: dict, recall: dict, thresholds: dict, labels: Sequence[str], parameters: dict) -> dict:
    return {"parameters": parameters, "macro_F1": _number(f1["macro_average"]),
            "micro_F1": _number(f1["micro_average"]),
            "class_wise": {label: {"F1": _number(f1[label]), "precision": _number(precision[label]),
                                   "recall": _number(recall[label]), "threshold": _number(thresholds[label])}
                           for label in labels}}


def _number(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if np.isfinite(value) else None
