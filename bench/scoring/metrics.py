"""Scoring with sed_eval's definitions, micro-averaged over all files (and folds).

Two backends compute the same numbers: ``sed_eval`` (the reference
implementation) and ``fast`` (``sedbench.scoring.fast_metrics``: sed_eval's classes with
vectorized counting, tested equal to sed_eval).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from sedbench.core.data import Event
from sedbench.core.errors import DataError

# Counts stored in run records so folds can be pooled exactly later.
SEGMENT_COUNT_KEYS = ("Ntp", "Ntn", "Nfp", "Nfn", "Nref", "Nsys", "S", "D", "I")
EVENT_COUNT_KEYS = ("Nref", "Nsys", "Ntp", "Nfp", "Nfn", "Nsubs")  # each file's too (``per_file``), for the bootstrap


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
    from sedbench.core.errors import ConfigError

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
    scenes: dict[str, str] | None = None,
) -> dict:
    """All metrics, statistics accumulated over every file; ``durations`` None uses the max offset.

    With ``scenes`` (clip id -> scene) the legacy scene-averaged F1 is added as ``legacy_1s``.
    """
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
    per_file: dict[str, dict[str, dict[str, float]]] = {"frame": {}, "1s": {}, "event": {}}
    for clip_id in sorted(references):
        ref = _to_list(references[clip_id], clip_id)
        est = _to_list(estimates.get(clip_id, []), clip_id)
        length = durations[clip_id] if durations is not None else None
        _check_frames(clip_id, references[clip_id] + estimates.get(clip_id, []), length, settings.frame_resolution,
                      len(labels))
        before = {level: dict(obj.overall) for level, obj in (("frame", frame), ("1s", second), ("event", event))}
        frame.evaluate(ref, est, evaluated_length_seconds=length)
        second.evaluate(ref, est, evaluated_length_seconds=length)
        event.evaluate(ref, est)
        for level, obj, keys in (("frame", frame, SEGMENT_COUNT_KEYS), ("1s", second, SEGMENT_COUNT_KEYS),
                                 ("event", event, EVENT_COUNT_KEYS)):
            per_file[level][clip_id] = {key: float(obj.overall[key] - before[level][key]) for key in keys}
    result = {
        "frame": {**_segment_summary(frame, labels), "per_file": per_file["frame"]},
        "1s": {**_segment_summary(second, labels), "per_file": per_file["1s"]},
        "event": {**_event_summary(event, labels), "per_file": per_file["event"]},
    }
    if scenes is not None:
        result["legacy_1s"] = legacy_f1(references, estimates, durations, scenes, settings.segment_resolution)
    return result


def headline(scores: dict) -> dict[str, float]:
    """The paper's four numbers plus event-based F1 / ER (F1 in %, as the paper reports it).

    ``F1_1s_legacy`` is added only when the scores have the legacy scene-averaged F1 (datasets with scenes),
    ``ER_rare`` / ``F1_rare`` only with DCASE2017 task 2's rare-event scores, the tagging numbers only when
    the system also tagged the clips, and ``TER`` (token error rate, %) only when it transcribed boundary tokens.
    """
    result = {
        "F1_frm": scores["frame"]["overall"]["F1"],
        "ER_frm": scores["frame"]["overall"]["ER"],
        "F1_1s": scores["1s"]["overall"]["F1"],
        "ER_1s": scores["1s"]["overall"]["ER"],
        "F1_event": scores["event"]["overall"]["F1"],
        "ER_event": scores["event"]["overall"]["ER"],
    }
    if "legacy_1s" in scores:
        result["F1_1s_legacy"] = scores["legacy_1s"]["F1"]
    if "rare" in scores:
        result["ER_rare"] = scores["rare"]["average"]["ER"]
        result["F1_rare"] = scores["rare"]["average"]["F1"]
    if "tags" in scores:
        result.update(tag_headline(scores["tags"]))
    if "transcription" in scores:
        result["TER"] = scores["transcription"]["TER"]
    return result


def tag_headline(tags: dict) -> dict[str, float]:
    overall = tags["overall"]
    return {"F1_tag": overall["F1"], "P_tag": overall["precision"], "R_tag": overall["recall"], "EER": overall["EER"]}


RARE_EVENT_COLLAR = 0.5  # DCASE2017 task 2: onsets within 500 ms


def score_rare_events(
    references: dict[str, list[Event]],
    estimates: dict[str, list[Event]],
    labels: list[str],
    target_classes: dict[str, str | None] | None = None,
    collar: float = RARE_EVENT_COLLAR,
) -> dict:
    """DCASE2017 task 2's evaluation: event-based, onset only, ``collar`` seconds, per class, then averaged.

    Each class is scored with sed_eval's EventBasedMetrics (``evaluate_offset=False``) over the clips whose
    ``target_classes`` entry is that class (the mixtures made for it, as the challenge scores each class on its
    own test mixtures); clips without a target class count for every class. Per class ER = (FN + FP) / Nref and
    F1; the task's averages are the unweighted means over classes. F1 in %.
    """
    sed_eval = _sed_eval()
    per_class = {}
    for label in labels:
        metrics_object = sed_eval.sound_event.EventBasedMetrics(
            [label], t_collar=float(collar), percentage_of_length=0.5, evaluate_onset=True, evaluate_offset=False,
        )
        metrics_object.empty_system_output_handling = "zero_score"
        clips = [c for c in sorted(references) if target_classes is None or target_classes.get(c) in (None, label)]
        for clip_id in clips:
            ref = [e for e in references[clip_id] if e.label == label]
            est = [e for e in estimates.get(clip_id, []) if e.label == label]
            metrics_object.evaluate(_to_list(ref, clip_id), _to_list(est, clip_id))
        f, er = metrics_object.overall_f_measure(), metrics_object.overall_error_rate()
        counts = {key: float(metrics_object.overall[key]) for key in ("Nref", "Nsys", "Ntp", "Nfp", "Nfn")}
        defined = bool(counts["Nref"])  # without reference events ER and recall are undefined, not 1/eps
        per_class[label] = {"ER": _clean(er["error_rate"]) if defined else None, "F1": _clean(f["f_measure"] * 100),
                            "precision": _clean(f["precision"] * 100) if counts["Nsys"] else None,
                            "recall": _clean(f["recall"] * 100) if defined else None,
                            "clips": len(clips), "counts": counts}
    ers = [c["ER"] for c in per_class.values() if c["ER"] is not None]
    f1s = [c["F1"] for c in per_class.values() if c["F1"] is not None]
    return {"collar": collar, "evaluate_offset": False,
            "average": {"ER": float(np.mean(ers)) if ers else None, "F1": float(np.mean(f1s)) if f1s else None},
            "class_wise": per_class}


def legacy_f1(
    reference: dict[str, list[Event]],
    estimated: dict[str, list[Event]],
    durations: dict[str, float] | None,
    scenes: dict[str, str],
    segment_seconds: float = 1.0,
) -> dict:
    """The TUT-SED 2009 F1 (Cakir et al. 2017, Sec. III-B, after Heittola et al. 2013): per segment, per scene.

    Every file of ``reference`` is cut into ``segment_seconds`` segments covering its duration (the
    last, partial one included; ``durations`` None: up to the last offset of either list). A class is
    active in a segment when one of its events overlaps it, with sed_eval's event-roll rule (segments
    floor(onset / s) up to ceil(offset / s)). In each segment, with R the reference classes and E the
    estimated ones, F1 = 2 |R ∩ E| / (|R| + |E|). The segment F1s are averaged over all segments of
    a scene (all its files pooled), and the scene averages are averaged with equal weight.

    Segments where both R and E are empty have no F1 (0 / 0) and are skipped: they count in neither
    the sum nor the number of segments. This follows the classic TUT-SED 2009 evaluation, which
    scored only segments with reference or output activity, and instance-based averaging as
    described by Mesaros, Heittola and Virtanen, "Metrics for polyphonic sound event detection",
    Applied Sciences 6(6):162, 2016, Sec. 4 (a segment's F-score needs at least one active class).
    A segment with reference activity and no output (or output and no reference) counts with F1 = 0.
    A scene whose segments are all skipped is left out of the scene average; with no scored segment
    at all the F1 is None.

    Returns F1 (in %), and per scene its F1 (%), the sum of segment F1s (fractions, so folds can be
    pooled exactly by adding sums and counts), and the numbers of scored and skipped segments.
    """
    _sed_eval()  # imports sed_eval with dcase_util's deprecation warning silenced
    from sed_eval.util.event_roll import event_list_to_event_roll, match_event_roll_lengths

    per_scene: dict[str, dict[str, float]] = {}
    for clip_id in sorted(reference):
        ref = _to_list(reference[clip_id], clip_id)
        est = _to_list(estimated.get(clip_id, []), clip_id)
        labels = sorted({e["event_label"] for e in ref + est})
        if durations is not None:
            length = durations[clip_id]
        else:
            length = max([e["event_offset"] for e in ref + est], default=0.0)
        n_segments = int(math.ceil(length / segment_seconds))
        if labels:
            ref_roll, est_roll = match_event_roll_lengths(event_list_to_event_roll(ref, labels, segment_seconds),
                                                          event_list_to_event_roll(est, labels, segment_seconds),
                                                          n_segments)
            ref_roll, est_roll = ref_roll > 0, est_roll > 0
        else:  # no events on either side: every segment is empty
            ref_roll = est_roll = np.zeros((n_segments, 0), dtype=bool)
        active = ref_roll.sum(axis=1) + est_roll.sum(axis=1)
        true_positives = (ref_roll & est_roll).sum(axis=1)
        scored = active > 0
        totals = per_scene.setdefault(scenes[clip_id], {"F1_sum": 0.0, "segments": 0, "skipped": 0})
        totals["F1_sum"] += float(np.sum(2 * true_positives[scored] / active[scored]))
        totals["segments"] += int(scored.sum())
        totals["skipped"] += int((~scored).sum())
    return legacy_f1_from_sums(per_scene, segment_seconds)


def legacy_f1_from_sums(per_scene: dict[str, dict[str, float]], segment_seconds: float = 1.0) -> dict:
    """The legacy F1 from per-scene segment-F1 sums and counts (also used to pool folds)."""
    scenes = {}
    for scene in sorted(per_scene):
        totals = per_scene[scene]
        f1 = 100 * totals["F1_sum"] / totals["segments"] if totals["segments"] else None
        scenes[scene] = {"F1": f1, "F1_sum": totals["F1_sum"], "segments": int(totals["segments"]),
                         "skipped": int(totals["skipped"])}
    means = [s["F1"] for s in scenes.values() if s["F1"] is not None]
    return {"F1": float(np.mean(means)) if means else None, "segment_seconds": segment_seconds,
            "empty_segments": "skipped", "scenes": scenes}


MAX_FRAME_CELLS = 2 * 10**8  # frames x classes of one file's activity matrices: about 1.6 GB as float64


def _check_frames(clip_id: str, events: list[Event], length: float | None, resolution: float, classes: int) -> None:
    """A file whose times would need absurd memory at the frame resolution is one sentence, not a MemoryError."""
    end = max([length or 0.0] + [e.offset for e in events])
    frames = end / float(resolution)
    if frames * max(classes, 1) > MAX_FRAME_CELLS:
        latest = max(events, key=lambda e: e.offset, default=None)
        if latest is not None and latest.offset >= (length or 0.0):
            what = f"an event ends at {latest.offset:g} s ({latest.label!r})"
        else:
            what = f"its duration is {length:g} s"
        raise DataError(f"{clip_id}: {what}, which needs {frames:.3g} frames of {resolution:g} s for {classes} "
                        f"class(es); expected times in seconds within the recording (at most "
                        f"{MAX_FRAME_CELLS / max(classes, 1) * resolution:.0f} s at this resolution)")


def _clean(value) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value


def _summary(metrics, labels: list[str], overall_keys: tuple[str, ...], class_keys: tuple[str, ...]) -> dict:
    """Overall and class-wise F1 (%), precision, recall, ER (+ S/D/I overall) and the raw counts.

    A ratio whose denominator is zero is undefined (None): recall and the error rates without reference events
    (sed_eval divides by its eps there and reports ER up to 2.25e17), precision without system output."""
    f, er = metrics.overall_f_measure(), metrics.overall_error_rate()
    counts = {key: float(metrics.overall[key]) for key in overall_keys}
    overall = {
        "F1": _clean(f["f_measure"] * 100),
        "precision": _clean(f["precision"] * 100) if counts["Nsys"] else None,
        "recall": _clean(f["recall"] * 100) if counts["Nref"] else None,
        "ER": _clean(er["error_rate"]) if counts["Nref"] else None,
        "S": _clean(er["substitution_rate"]) if counts["Nref"] else None,
        "D": _clean(er["deletion_rate"]) if counts["Nref"] else None,
        "I": _clean(er["insertion_rate"]) if counts["Nref"] else None,
        "counts": counts,
    }
    class_wise = {}
    for label in labels:
        f, er = metrics.class_wise_f_measure(label), metrics.class_wise_error_rate(label)
        counts = {key: float(metrics.class_wise[label][key]) for key in class_keys}
        class_wise[label] = {
            "F1": _clean(f["f_measure"] * 100),
            "precision": _clean(f["precision"] * 100) if counts["Nsys"] else None,
            "recall": _clean(f["recall"] * 100) if counts["Nref"] else None,
            "ER": _clean(er["error_rate"]) if counts["Nref"] else None,
            "counts": counts,
        }
    return {"overall": overall, "class_wise": class_wise}


def _segment_summary(metrics, labels: list[str]) -> dict:
    summary = _summary(metrics, labels, SEGMENT_COUNT_KEYS, ("Ntp", "Ntn", "Nfp", "Nfn", "Nref", "Nsys"))
    summary["overall"]["accuracy"] = _clean(metrics.overall_accuracy()["accuracy"])  # sed_eval's (TP+TN)/all
    return {"resolution": metrics.time_resolution, **summary}


def _event_summary(metrics, labels: list[str]) -> dict:
    summary = _summary(metrics, labels, EVENT_COUNT_KEYS, ("Nref", "Nsys", "Ntp", "Nfp", "Nfn"))
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


def token_error_rate(references: dict[str, list], hypotheses: dict[str, list]) -> dict:
    """Token error rate of boundary-token transcriptions (Wang & Metze 2017), computed as word error rate is.

    Per file the Levenshtein alignment between reference and decoded tokens gives substitutions, deletions and
    insertions; these and the reference lengths are summed over all files, and TER = (S + D + I) / N in %.
    A file missing from ``hypotheses`` counts as an empty transcription. With no reference tokens at all the
    TER is undefined (None).
    """
    from rapidfuzz.distance import Levenshtein

    counts = {"S": 0, "D": 0, "I": 0, "N": 0}
    per_file = {}
    for clip_id in sorted(references):
        reference, hypothesis = list(references[clip_id]), list(hypotheses.get(clip_id, []))
        operations = [op[0] for op in Levenshtein.editops(reference, hypothesis).as_list()]
        file_counts = {"S": operations.count("replace"), "D": operations.count("delete"),
                       "I": operations.count("insert"), "N": len(reference)}
        for key, value in file_counts.items():
            counts[key] += value
        per_file[clip_id] = file_counts
    errors = counts["S"] + counts["D"] + counts["I"]
    return {
        "TER": 100.0 * errors / counts["N"] if counts["N"] else None,
        "errors": errors,
        **counts,
        "hypothesis_tokens": sum(len(h) for h in hypotheses.values()),
        "files": per_file,
    }
