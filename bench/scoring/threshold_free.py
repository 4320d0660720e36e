"""Threshold-independent evaluation through sed_scores_eval: PSDS1 and PSDS2, the best intersection- and
collar-based F1, and per-class AP and AUROC, computed from a system's scores rather than its thresholded events.

Parameters are the DCASE 2021-2024 task 4 ones (``PSDS1``, ``PSDS2``). Frame probabilities give the full curves;
their intersection-based counts come from ``sweep_deltas`` (equal to the library's, linear in a file's length).
A system that outputs events has one operating point: its PSDS1 and PSDS2 come from psds_eval, the reference
implementation sed_scores_eval itself defers to for operating points (``operating_point_scores``); sed_scores_eval
would read 0/1 event scores as two operating points, the events and "every class active everywhere", and fails on a
class without detections when inactive is -inf (docs/metrics.md). sed_scores_eval requires the reference events of one class not to overlap or
touch; such events are merged first (a detector cannot tell them apart either). sed_scores_eval also requires
every scored class to have reference events: classes without any in the test set are left out of these scores and
listed in ``classes_without_references`` (their false alarms go uncounted here; sed_eval's metrics still count
them). With a single class there are no cross-triggers, so PSDS2 drops its cross-trigger term (``parameters`` says
what was used).
"""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np

from sedbench.core.data import Event
from sedbench.core.outputs import FrameActivity

from .score_archive import audio_filenames, audio_id, frame_timestamps
from .sweep_deltas import dataset_deltas

PSDS1 = {"dtc_threshold": 0.7, "gtc_threshold": 0.7, "cttc_threshold": None, "alpha_ct": 0.0, "alpha_st": 1.0,
         "max_efpr": 100.0}
PSDS2 = {"dtc_threshold": 0.1, "gtc_threshold": 0.1, "cttc_threshold": 0.3, "alpha_ct": 0.5, "alpha_st": 1.0,
         "max_efpr": 100.0}
INTERSECTION_F1 = {"dtc_threshold": 0.7, "gtc_threshold": 0.7}
DELTA_CRITERIA = ("dtc_threshold", "gtc_threshold", "cttc_threshold")
COLLAR_F1 = {"onset_collar": 0.2, "offset_collar": 0.2, "offset_collar_rate": 0.2}
SEGMENT_SECONDS = 1.0  # AP and AUROC on 1 s segments
CURVE_POINTS = 101  # the PSD-ROC kept in records: eTPR at efpr = 0, 1, ..., max_efpr per hour


def score_tables(outputs: Sequence, clip_ids: Sequence[str], labels: Sequence[str]) -> dict:
    """audio id -> sed_scores_eval score DataFrame of frame probabilities; empty for other outputs."""
    from sed_scores_eval.base_modules.scores import create_score_dataframe

    if not outputs or not all(isinstance(o, FrameActivity) for o in outputs):
        return {}
    ids = audio_ids(clip_ids)
    tables = {}
    for clip_id, out in zip(clip_ids, outputs):
        p = np.asarray(out.probabilities, dtype=np.float64)
        tables[ids[clip_id]] = create_score_dataframe(p, frame_timestamps(len(p), out.hop_seconds), list(labels))
    return tables


def merged_references(events_by_file: dict[str, list[Event]]) -> dict[str, list]:
    """The same keys -> [(onset, offset, label)], overlapping or touching events of one class merged (reference
    events for sed_scores_eval, detections for psds_eval)."""
    result = {}
    for key, events in events_by_file.items():
        merged: list[list] = []
        for event in sorted(events, key=lambda e: (e.label, e.onset, e.offset)):
            if merged and merged[-1][2] == event.label and event.onset <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], event.offset)
            else:
                merged.append([event.onset, event.offset, event.label])
        result[key] = [tuple(e) for e in merged]
    return result


def audio_ids(clip_ids: Sequence[str]) -> dict[str, str]:
    """clip id -> the audio id its scores are filed under (``score_archive``'s flat file names, no extension)."""
    names = audio_filenames(list(clip_ids))
    return {clip_id: audio_id(names[clip_id]) for clip_id in clip_ids}


def threshold_free_scores(tables: dict, references: dict[str, list], durations: dict[str, float],
                          labels: Sequence[str]) -> dict | None:
    """PSDS1, PSDS2 (with their PSD-ROC), best intersection- and collar-based F1, per-class AP and AUROC.

    ``tables``, ``references`` and ``durations`` are keyed by audio id (``score_tables``, ``audio_ids``). None when
    no class has reference events (nothing to detect, so no curve)."""
    from sed_scores_eval import collar_based, intersection_based, segment_based

    referenced = {event[2] for events in references.values() for event in events}
    scored = [label for label in labels if label in referenced]
    if not tables or not scored:
        return None
    if len(scored) < len(labels):
        tables = {key: table[["onset", "offset", *scored]] for key, table in tables.items()}
    result: dict = {"library": "sed_scores_eval", "operating_points": None,
                    "classes_without_references": [label for label in labels if label not in referenced]}
    deltas = {}
    for name, parameters in _psds_parameters(len(scored)):
        deltas[name] = dataset_deltas(tables, references, **{key: parameters[key] for key in DELTA_CRITERIA})
        value, class_wise, roc, _ = intersection_based.psds(scores=tables, ground_truth=references,
                                                            audio_durations=durations, unit_of_time="hour",
                                                            deltas=deltas[name], **parameters)
        result[name] = {"value": _number(value), "parameters": parameters,
                        "class_wise": _class_wise(class_wise, labels),
                        "curve": sampled_roc(roc, parameters["max_efpr"])}
    # the best intersection-based F1 counts with PSDS1's criteria (dtc = gtc = 0.7, no cross-triggers)
    f1, precision, recall, thresholds, _ = intersection_based.best_fscore(scores=tables, ground_truth=references,
                                                                          deltas=deltas["psds1"], **INTERSECTION_F1)
    result["intersection_f1"] = _best(f1, precision, recall, thresholds, labels, INTERSECTION_F1)
    f1, precision, recall, thresholds, _ = collar_based.best_fscore(scores=tables, ground_truth=references,
                                                                    **COLLAR_F1)
    result["collar_f1"] = _best(f1, precision, recall, thresholds, labels, COLLAR_F1)
    ap, _ = segment_based.average_precision(scores=tables, ground_truth=references, audio_durations=durations,
                                            segment_length=SEGMENT_SECONDS)
    auroc, _ = segment_based.auroc(scores=tables, ground_truth=references, audio_durations=durations,
                                   segment_length=SEGMENT_SECONDS)
    result["segment_ap"] = {"segment_seconds": SEGMENT_SECONDS, "mean": _number(ap["mean"]),
                            "class_wise": _class_wise(ap, labels)}
    result["segment_auroc"] = {"segment_seconds": SEGMENT_SECONDS, "mean": _number(auroc["mean"]),
                               "class_wise": _class_wise(auroc, labels)}
    return result


def operating_point_scores(detections: dict[str, list], references: dict[str, list], durations: dict[str, float],
                           labels: Sequence[str]) -> dict | None:
    """PSDS1 and PSDS2 (with their PSD-ROC) of detections at their one operating point, by psds_eval.

    ``detections`` and ``references`` map audio ids to (onset, offset, label) lists without same-class overlaps
    (``merged_references``); ``durations`` lists every audio id. None when no class has reference events."""
    import pandas as pd
    from psds_eval import PSDSEval

    referenced = {event[2] for events in references.values() for event in events}
    scored = [label for label in labels if label in referenced]
    if not scored:
        return None
    columns = ["filename", "onset", "offset", "event_label"]
    truth, found = (pd.DataFrame([(key, on, off, label) for key, events in source.items()
                                  for on, off, label in events if label in referenced], columns=columns)
                    for source in (references, detections))
    metadata = pd.DataFrame(list(durations.items()), columns=["filename", "duration"])
    result: dict = {"library": "psds_eval", "operating_points": 1,
                    "classes_without_references": [label for label in labels if label not in referenced]}
    for name, parameters in _psds_parameters(len(scored)):
        with warnings.catch_warnings():  # psds_eval 0.5.3 under numpy 2 / pandas 2.2: deprecations, same values
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", FutureWarning)
            evaluator = PSDSEval(dtc_threshold=parameters["dtc_threshold"], gtc_threshold=parameters["gtc_threshold"],
                                 cttc_threshold=parameters["cttc_threshold"] or 0.0,  # unused when alpha_ct is 0
                                 ground_truth=truth, metadata=metadata, class_names=scored, duration_unit="hour")
            evaluator.add_operating_point(found)
            psds = evaluator.psds(alpha_ct=parameters["alpha_ct"], alpha_st=parameters["alpha_st"],
                                  max_efpr=parameters["max_efpr"])
        result[name] = {"value": _number(psds.value), "parameters": parameters,
                        "class_wise": {label: None for label in labels},  # psds_eval has no per-class PSDS
                        "curve": sampled_roc((psds.plt.yp, psds.plt.xp), parameters["max_efpr"])}
    return result


def _psds_parameters(classes: int):
    for name, parameters in (("psds1", PSDS1), ("psds2", PSDS2)):
        if classes == 1:  # no other class to cross-trigger
            parameters = {**parameters, "cttc_threshold": None, "alpha_ct": 0.0}
        yield name, parameters


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


def _class_wise(values: dict, labels: Sequence[str]) -> dict:
    """Every label, None for the classes that were not scored."""
    return {label: _number(values.get(label)) for label in labels}


def _best(f1: dict, precision: dict, recall: dict, thresholds: dict, labels: Sequence[str], parameters: dict) -> dict:
    return {"parameters": parameters, "macro_F1": _number(f1["macro_average"]),
            "micro_F1": _number(f1["micro_average"]),
            "class_wise": {label: ({"F1": _number(f1[label]), "precision": _number(precision[label]),
                                    "recall": _number(recall[label]), "threshold": _number(thresholds[label])}
                                   if label in f1 else None)
                           for label in labels}}


def _number(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if np.isfinite(value) else None
