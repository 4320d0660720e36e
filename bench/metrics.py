"""Scoring with sed_eval's definitions, micro-averaged over all files (and folds).

``score`` runs sed_eval itself (the reference). ``SegmentCounter`` is a
vectorized re-implementation of sed_eval's segment-based counting, used inside
training loops where sed_eval would cost more than the training step; tests
check it equals sed_eval on the same inputs.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np

from .data import Event

# Counts stored in run records so folds can be pooled exactly later.
SEGMENT_COUNT_KEYS = ("Ntp", "Ntn", "Nfp", "Nfn", "Nref", "Nsys", "S", "D", "I")


@dataclass(frozen=True)
class MetricSettings:
    frame_resolution: float  # seconds; the feature hop (F1_frm / ER_frm)
    segment_resolution: float = 1.0  # F1_1s / ER_1s
    event_collar: float = 0.2
    event_offset_percentage: float = 0.2  # offset tolerance max(collar, 20 % of the event's length)
    event_matching: str = "greedy"  # sed_eval's original matching; "optimal" is the later bipartite one
    empty_output: str | None = "zero_score"  # sed_eval option: no system output scores precision 0, not NaN


def _sed_eval():
    with warnings.catch_warnings():  # dcase_util imports the deprecated pkg_resources
        warnings.simplefilter("ignore")
        import sed_eval

    return sed_eval


def _to_list(events: list[Event], filename: str) -> list[dict]:
    return [e.as_sed_eval(filename) for e in events]


def score(
    references: dict[str, list[Event]],
    estimates: dict[str, list[Event]],
    durations: dict[str, float],
    labels: list[str],
    settings: MetricSettings,
) -> dict:
    """All metrics through sed_eval, statistics accumulated over every file."""
    sed_eval = _sed_eval()
    labels = list(labels)
    frame = sed_eval.sound_event.SegmentBasedMetrics(labels, time_resolution=float(settings.frame_resolution))
    second = sed_eval.sound_event.SegmentBasedMetrics(labels, time_resolution=float(settings.segment_resolution))
    event = sed_eval.sound_event.EventBasedMetrics(
        labels,
        t_collar=float(settings.event_collar),
        percentage_of_length=float(settings.event_offset_percentage),
        evaluate_onset=True,
        evaluate_offset=True,
        event_matching_type=settings.event_matching,
    )
    for metrics_object in (frame, second, event):
        metrics_object.empty_system_output_handling = settings.empty_output
    for clip_id in sorted(references):
        ref = _to_list(references[clip_id], clip_id)
        est = _to_list(estimates.get(clip_id, []), clip_id)
        frame.evaluate(ref, est, evaluated_length_seconds=durations[clip_id])
        second.evaluate(ref, est, evaluated_length_seconds=durations[clip_id])
        event.evaluate(ref, est)
    return {
        "frame": _segment_summary(frame, labels),
        "1s": _segment_summary(second, labels),
        "event": _event_summary(event, labels),
    }


def headline(scores: dict) -> dict[str, float]:
    """The paper's four numbers plus event-based F1 / ER (F1 in %, as the paper reports it)."""
    return {
        "F1_frm": scores["frame"]["overall"]["F1"],
        "ER_frm": scores["frame"]["overall"]["ER"],
        "F1_1s": scores["1s"]["overall"]["F1"],
        "ER_1s": scores["1s"]["overall"]["ER"],
        "F1_event": scores["event"]["overall"]["F1"],
        "ER_event": scores["event"]["overall"]["ER"],
    }


def _clean(value) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value


def _segment_summary(metrics, labels: list[str]) -> dict:
    overall_f = metrics.overall_f_measure()
    overall_er = metrics.overall_error_rate()
    overall = {
        "F1": _clean(overall_f["f_measure"] * 100),
        "precision": _clean(overall_f["precision"] * 100),
        "recall": _clean(overall_f["recall"] * 100),
        "ER": _clean(overall_er["error_rate"]),
        "S": _clean(overall_er["substitution_rate"]),
        "D": _clean(overall_er["deletion_rate"]),
        "I": _clean(overall_er["insertion_rate"]),
        "counts": {key: float(metrics.overall[key]) for key in SEGMENT_COUNT_KEYS},
    }
    class_wise = {}
    for label in labels:
        f = metrics.class_wise_f_measure(label)
        er = metrics.class_wise_error_rate(label)
        class_wise[label] = {
            "F1": _clean(f["f_measure"] * 100),
            "precision": _clean(f["precision"] * 100),
            "recall": _clean(f["recall"] * 100),
            "ER": _clean(er["error_rate"]),
            "counts": {key: float(metrics.class_wise[label][key]) for key in ("Ntp", "Ntn", "Nfp", "Nfn", "Nref", "Nsys")},
        }
    return {"resolution": metrics.time_resolution, "overall": overall, "class_wise": class_wise}


def _event_summary(metrics, labels: list[str]) -> dict:
    overall_f = metrics.overall_f_measure()
    overall_er = metrics.overall_error_rate()
    overall = {
        "F1": _clean(overall_f["f_measure"] * 100),
        "precision": _clean(overall_f["precision"] * 100),
        "recall": _clean(overall_f["recall"] * 100),
        "ER": _clean(overall_er["error_rate"]),
        "S": _clean(overall_er["substitution_rate"]),
        "D": _clean(overall_er["deletion_rate"]),
        "I": _clean(overall_er["insertion_rate"]),
        "counts": {key: float(metrics.overall[key]) for key in ("Nref", "Nsys", "Ntp", "Nfp", "Nfn", "Nsubs")},
    }
    class_wise = {}
    for label in labels:
        f = metrics.class_wise_f_measure(label)
        er = metrics.class_wise_error_rate(label)
        class_wise[label] = {
            "F1": _clean(f["f_measure"] * 100),
            "precision": _clean(f["precision"] * 100),
            "recall": _clean(f["recall"] * 100),
            "ER": _clean(er["error_rate"]),
            "counts": {key: float(metrics.class_wise[label][key]) for key in ("Nref", "Nsys", "Ntp", "Nfp", "Nfn")},
        }
    return {
        "collar": metrics.t_collar,
        "offset_percentage": metrics.percentage_of_length,
        "matching": metrics.event_matching_type,
        "overall": overall,
        "class_wise": class_wise,
    }


# --------------------------------------------------------------------------- fast segment counting


def segment_roll(events: list[Event], labels: list[str], resolution: float, duration: float) -> np.ndarray:
    """sed_eval's event roll cut / padded to the evaluated length (same floating-point steps)."""
    length = int(math.ceil(duration * 1 / float(resolution)))
    roll = np.zeros((length, len(labels)), dtype=bool)
    index = {label: i for i, label in enumerate(labels)}
    for event in events:
        start = int(math.floor(event.onset * 1 / float(resolution)))
        stop = int(math.ceil(event.offset * 1 / float(resolution)))
        roll[start:stop, index[event.label]] = True
    return roll


@dataclass
class SegmentCounter:
    """Accumulates sed_eval's segment-based counts from binary rolls, vectorized."""

    n_classes: int
    overall: dict[str, float] = field(default_factory=lambda: dict.fromkeys(SEGMENT_COUNT_KEYS, 0.0))

    def __post_init__(self):
        self.class_tp = np.zeros(self.n_classes)
        self.class_fp = np.zeros(self.n_classes)
        self.class_fn = np.zeros(self.n_classes)
        self.class_ref = np.zeros(self.n_classes)
        self.class_sys = np.zeros(self.n_classes)

    def add(self, reference: np.ndarray, estimate: np.ndarray) -> None:
        ref = np.asarray(reference, dtype=bool)
        est = np.asarray(estimate, dtype=bool)
        tp = ref & est
        n_ref = ref.sum(axis=1)
        n_sys = est.sum(axis=1)
        n_tp = tp.sum(axis=1)
        counts = {
            "Ntp": n_tp.sum(),
            "Ntn": (~ref & ~est).sum(),
            "Nfp": (est & ~ref).sum(),
            "Nfn": (ref & ~est).sum(),
            "Nref": n_ref.sum(),
            "Nsys": n_sys.sum(),
            "S": (np.minimum(n_ref, n_sys) - n_tp).sum(),
            "D": np.maximum(0, n_ref - n_sys).sum(),
            "I": np.maximum(0, n_sys - n_ref).sum(),
        }
        for key, value in counts.items():
            self.overall[key] += float(value)
        self.class_tp += tp.sum(axis=0)
        self.class_fp += (est & ~ref).sum(axis=0)
        self.class_fn += (ref & ~est).sum(axis=0)
        self.class_ref += ref.sum(axis=0)
        self.class_sys += est.sum(axis=0)

    def f1(self) -> float:
        """Overall F1 in % by sed_eval's formulas (no output scores 0); 0 where it is undefined."""
        metric = _sed_eval().metric
        o = self.overall
        precision = 0.0 if o["Nsys"] == 0 else metric.precision(Ntp=o["Ntp"], Nsys=o["Nsys"])
        value = metric.f_measure(precision=precision, recall=metric.recall(Ntp=o["Ntp"], Nref=o["Nref"]))
        return 0.0 if math.isnan(value) else 100 * value

    def error_rate(self) -> float:
        metric = _sed_eval().metric
        o = self.overall
        return metric.error_rate(
            substitution_rate_value=metric.substitution_rate(Nref=o["Nref"], Nsubstitutions=o["S"]),
            deletion_rate_value=metric.deletion_rate(Nref=o["Nref"], Ndeletions=o["D"]),
            insertion_rate_value=metric.insertion_rate(Nref=o["Nref"], Ninsertions=o["I"]),
        )
