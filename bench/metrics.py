"""Scoring with sed_eval's definitions, micro-averaged over all files (and folds).

Two backends compute the same numbers: ``sed_eval`` (the reference
implementation) and ``fast`` (``sedbench.fast_metrics``: sed_eval's classes with
vectorized counting, tested equal to sed_eval).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

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


BACKENDS = ("fast", "sed_eval")


def metric_classes(backend: str):
    """(segment-based, event-based) metric classes of a backend; both share sed_eval's formulas."""
    if backend == "sed_eval":
        sed_eval = _sed_eval()
        return sed_eval.sound_event.SegmentBasedMetrics, sed_eval.sound_event.EventBasedMetrics
    if backend == "fast":
        from .fast_metrics import FastEventBasedMetrics, FastSegmentBasedMetrics

        return FastSegmentBasedMetrics, FastEventBasedMetrics
    from .errors import ConfigError

    raise ConfigError(f"unknown metrics backend {backend!r}; choose one of {', '.join(BACKENDS)}")


def _to_list(events: list[Event], filename: str) -> list[dict]:
    return [e.as_sed_eval(filename) for e in events]


def score(
    references: dict[str, list[Event]],
    estimates: dict[str, list[Event]],
    durations: dict[str, float] | None,
    labels: list[str],
    settings: MetricSettings,
    backend: str = "fast",
) -> dict:
    """All metrics, statistics accumulated over every file; ``durations`` None uses the max offset."""
    segment_class, event_class = metric_classes(backend)
    labels = list(labels)
    frame = segment_class(labels, time_resolution=float(settings.frame_resolution))
    second = segment_class(labels, time_resolution=float(settings.segment_resolution))
    event = event_class(
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
        length = durations[clip_id] if durations is not None else None
        frame.evaluate(ref, est, evaluated_length_seconds=length)
        second.evaluate(ref, est, evaluated_length_seconds=length)
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


def _summary(metrics, labels: list[str], overall_keys: tuple[str, ...], class_keys: tuple[str, ...]) -> dict:
    """Overall and class-wise F1 (%), precision, recall, ER (+ S/D/I overall) and the raw counts."""
    f, er = metrics.overall_f_measure(), metrics.overall_error_rate()
    overall = {
        "F1": _clean(f["f_measure"] * 100),
        "precision": _clean(f["precision"] * 100),
        "recall": _clean(f["recall"] * 100),
        "ER": _clean(er["error_rate"]),
        "S": _clean(er["substitution_rate"]),
        "D": _clean(er["deletion_rate"]),
        "I": _clean(er["insertion_rate"]),
        "counts": {key: float(metrics.overall[key]) for key in overall_keys},
    }
    class_wise = {}
    for label in labels:
        f, er = metrics.class_wise_f_measure(label), metrics.class_wise_error_rate(label)
        class_wise[label] = {
            "F1": _clean(f["f_measure"] * 100),
            "precision": _clean(f["precision"] * 100),
            "recall": _clean(f["recall"] * 100),
            "ER": _clean(er["error_rate"]),
            "counts": {key: float(metrics.class_wise[label][key]) for key in class_keys},
        }
    return {"overall": overall, "class_wise": class_wise}


def _segment_summary(metrics, labels: list[str]) -> dict:
    summary = _summary(metrics, labels, SEGMENT_COUNT_KEYS, ("Ntp", "Ntn", "Nfp", "Nfn", "Nref", "Nsys"))
    return {"resolution": metrics.time_resolution, **summary}


def _event_summary(metrics, labels: list[str]) -> dict:
    summary = _summary(metrics, labels, ("Nref", "Nsys", "Ntp", "Nfp", "Nfn", "Nsubs"), ("Nref", "Nsys", "Ntp", "Nfp", "Nfn"))
    return {"collar": metrics.t_collar, "offset_percentage": metrics.percentage_of_length,
            "matching": metrics.event_matching_type, **summary}


def score_tags(
    references: dict[str, tuple[str, ...]],
    probabilities: dict[str, np.ndarray],
    labels: list[str],
    threshold: float = 0.5,
) -> dict:
    """Clip tagging through sed_eval's AudioTaggingMetrics: F1 of thresholded tags, EER from probabilities."""
    sed_eval = _sed_eval()
    labels = list(labels)
    tagging = sed_eval.audio_tag.AudioTaggingMetrics(tags=labels)
    for clip_id in sorted(references):
        p = probabilities[clip_id]
        estimated = [labels[k] for k in np.flatnonzero(p > threshold)]
        # tags as lists: dcase_util splits a tag string at commas, and labels such as DCASE2017 task 4's
        # "Air horn, truck horn" contain one
        tagging.evaluate(
            reference_tag_list=[{"filename": clip_id, "tags": list(references[clip_id])}],
            estimated_tag_list=[{"filename": clip_id, "tags": estimated}],
            estimated_tag_probabilities=[
                {"filename": clip_id, "label": label, "probability": float(p[k])} for k, label in enumerate(labels)
            ],
        )
    overall = tagging.results_overall_metrics()
    average = tagging.results_class_wise_average_metrics()
    class_wise = tagging.results_class_wise_metrics()

    def pct(value):
        return None if value is None or math.isnan(value) else 100 * float(value)

    return {
        "threshold": threshold,
        "overall": {
            "F1": pct(overall["f_measure"]["f_measure"]),
            "precision": pct(overall["f_measure"]["precision"]),
            "recall": pct(overall["f_measure"]["recall"]),
            "EER": _clean(average["eer"]["eer"]) if average["eer"]["eer"] is not None else None,
        },
        "class_wise": {
            label: {"F1": pct(class_wise[label]["f_measure"]["f_measure"]),
                    "EER": _clean(class_wise[label]["eer"]["eer"]) if class_wise[label]["eer"]["eer"] is not None else None}
            for label in labels
        },
    }
