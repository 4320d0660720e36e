"""Checked outputs -> post-processing -> metrics: the scores, headline and estimated events of one test set.

What is computed follows the output kind and the dataset's task: frame probabilities are thresholded (and
median-filtered) into events; events are scored with sed_eval's segment and event metrics (plus the legacy
scene-averaged F1 when clips have scenes, the DCASE2017 task 2 scores for rare-event datasets, the token error
rate when a system returns decoded tokens); clip tags and frame outputs that carry tags with the tagging metrics.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Callable, ContextManager

import numpy as np

from sedbench.core.data import AudioClip, Event, Task
from sedbench.core.outputs import ClipTags, Detections, FrameActivity
from sedbench.core.tokens import boundary_tokens

from . import metrics, threshold_free
from .postprocess import PostProcessing

Timer = Callable[[str], ContextManager]


def _untimed(phase: str) -> ContextManager:
    return nullcontext()


def score_outputs(outputs: list, clips: list[AudioClip], labels: tuple[str, ...], post: PostProcessing,
                  settings: metrics.MetricSettings, backend: str, task: Task,
                  timer: Timer = _untimed) -> tuple[dict, dict, dict[str, list[Event]] | None]:
    """(scores, headline, estimated events per clip) of outputs that passed ``sedbench.core.outputs``' checks;
    tags have no events (None). ``timer(phase)`` times the "postprocess" and "metrics" phases."""
    if outputs and all(isinstance(o, ClipTags) for o in outputs):
        with timer("metrics"):
            tags = metrics.score_tags({c.clip_id: c.label_set for c in clips},
                                      {c.clip_id: np.asarray(o.probabilities) for c, o in zip(clips, outputs)},
                                      list(labels), threshold=post.threshold)
        return {"tags": tags}, metrics.tag_headline(tags), None
    with timer("postprocess"):
        estimates = {}
        for clip, out in zip(clips, outputs):
            if isinstance(out, Detections):
                estimates[clip.clip_id] = sorted(out.events, key=lambda e: (e.onset, e.label))
            else:
                estimates[clip.clip_id] = post.events(out.probabilities, out.hop_seconds, labels, clip.duration)
    scenes = {c.clip_id: c.scene for c in clips}
    references = {c.clip_id: c.events for c in clips}
    with timer("metrics"):
        scores = metrics.score(references, estimates, {c.clip_id: c.duration for c in clips},
                               list(labels), settings, backend=backend,
                               scenes=scenes if clips and None not in scenes.values() else None)
        if task is Task.RARE_EVENTS:
            scores["rare"] = metrics.score_rare_events(references, estimates, list(labels),
                                                       {c.clip_id: c.target_class for c in clips})
        if outputs and all(isinstance(o, Detections) and o.tokens is not None for o in outputs):
            scores["transcription"] = metrics.token_error_rate(
                {c.clip_id: boundary_tokens(c.events, labels) for c in clips},
                {c.clip_id: [t.token for t in o.tokens] for c, o in zip(clips, outputs)},
            )
        if outputs and all(isinstance(o, FrameActivity) and o.tags is not None for o in outputs):
            scores["tags"] = metrics.score_tags({c.clip_id: c.label_set for c in clips},
                                                {c.clip_id: np.asarray(o.tags) for c, o in zip(clips, outputs)},
                                                list(labels), threshold=post.threshold)
    return scores, metrics.headline(scores), estimates


def score_threshold_free(outputs: list, clip_ids: list[str], durations: list[float],
                         events: dict[str, list[Event]], labels: tuple[str, ...]) -> dict | None:
    """sed_scores_eval's threshold-independent scores (``threshold_free``) of frame probabilities, or psds_eval's
    PSDS of events at their one operating point; None for clip tags and for test sets without reference events."""
    ids = threshold_free.audio_ids(clip_ids)
    references = threshold_free.merged_references({ids[c]: events.get(c, []) for c in clip_ids})
    seconds = {ids[c]: d for c, d in zip(clip_ids, durations)}
    if outputs and all(isinstance(o, Detections) for o in outputs):
        detections = threshold_free.merged_references({ids[c]: o.events for c, o in zip(clip_ids, outputs)})
        return threshold_free.operating_point_scores(detections, references, seconds, labels)
    tables = threshold_free.score_tables(outputs, clip_ids, labels)
    if not tables:
        return None
    return threshold_free.threshold_free_scores(tables, references, seconds, labels)


def score_tuned(outputs: list, clips: list[AudioClip], labels: tuple[str, ...], post, settings: metrics.MetricSettings,
                backend: str, task: Task) -> tuple[dict, dict]:
    """(metrics, headline) of frame outputs under tuned post-processing (``tuning.TunedPostProcessing``): sed_eval's
    metrics of its events, and the threshold-independent scores of the scores it median-filters."""
    scores, headline, _ = score_outputs(outputs, clips, labels, post, settings, backend, task)
    filtered = [FrameActivity(post.filtered_scores(o.probabilities, labels), o.hop_seconds, o.tags) for o in outputs]
    add_threshold_free(scores, headline, filtered, clips, labels)
    return scores, headline


def add_threshold_free(scores: dict, headline: dict, outputs: list, clips: list[AudioClip],
                       labels: tuple[str, ...]) -> None:
    """Adds the threshold-independent scores of ``outputs`` (none for clip tags) to a record's scores and headline."""
    curves = score_threshold_free(outputs, [c.clip_id for c in clips], [c.duration for c in clips],
                                  {c.clip_id: c.events for c in clips}, labels)
    if curves is not None:
        scores["threshold_free"] = curves
        headline.update(threshold_free.headline(curves))
