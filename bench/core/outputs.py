"""What a system may return for a clip, and the one set of rules every output is checked against.

A system's ``predict`` returns one output per clip, all of one kind:

* ``FrameActivity``: (frames, classes) floating probabilities in [0, 1] on a grid of ``hop_seconds`` that covers
  the clip within one frame; optionally (classes,) clip tags (scored as tagging too). The harness post-processes
  them into events.
* ``Detections``: events with labels from the dataset's list and finite times,
  0 <= onset <= offset <= the clip's duration + one feature frame; transcription systems add the decoded boundary
  tokens (scored by token error rate).
* ``ClipTags``: (classes,) floating probabilities in [0, 1].

``output_problems`` yields every way a list of outputs breaks these rules, each with the name of the check it
belongs to (``CHECKS``). The runner stops at the first (``check_outputs``); ``sedbench validate`` reports them
grouped by check. Each problem has two wordings: ``rule`` states the broken rule (the runner's one-sentence
error), ``detail`` adds the measurements behind it (the validator's line).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np

from .data import Event, FeatureClip
from .errors import SystemOutputError
from .tokens import KINDS, TimedToken

CHECKS = ("predict", "output shape", "hop", "probabilities")  # in the order they are judged


@dataclass
class FrameActivity:
    """A system's output for one clip: per-class probabilities on a frame grid."""

    probabilities: np.ndarray  # (frames, classes) in [0, 1]
    hop_seconds: float
    tags: np.ndarray | None = None  # (classes,) clip presence, for systems that also tag (scored as tagging too)


@dataclass
class Detections:
    """A system's output for one clip when it produces events directly."""

    events: list[Event]
    tokens: list[TimedToken] | None = None  # transcription systems (CTC): decoded boundary tokens, scored by TER


@dataclass
class ClipTags:
    """A system's output for one clip when it tags clips: per-class presence probabilities."""

    probabilities: np.ndarray  # (classes,) in [0, 1]


OUTPUT_KINDS = (FrameActivity, Detections, ClipTags)


@dataclass(frozen=True)
class Problem:
    check: str  # one of CHECKS
    rule: str  # the broken rule, one sentence
    detail: str  # the same problem with its measurements, for the validator
    clip_id: str | None = None  # None: a problem of the whole list

    def sentence(self, system: str) -> str:
        where = f"system {system!r} on {self.clip_id}" if self.clip_id else f"system {system!r}"
        return f"{where}: {self.rule}"


def kinds_text(outputs: Sequence) -> str:
    return ", ".join(sorted({type(o).__name__ for o in outputs}))


def output_problems(outputs, clips: Sequence[FeatureClip], labels: Sequence[str]) -> Iterator[Problem]:
    """Every problem of ``outputs`` (predict's return value for ``clips``), clip by clip.

    Event offsets may pass a clip's end by one feature frame (the clip's ``hop_seconds``).
    """
    if not isinstance(outputs, (list, tuple)) or len(outputs) != len(clips):
        count = f"{len(outputs)} outputs" if isinstance(outputs, (list, tuple)) else f"a {type(outputs).__name__}"
        yield Problem("predict", f"predict returned {count} for {len(clips)} clips",
                      f"returned {count} for {len(clips)} test clips; expected a list with one output per clip")
        return
    labels = tuple(labels)
    for output, clip in zip(outputs, clips):
        for problem in _clip_problems(output, clip, labels):
            yield Problem(problem.check, problem.rule, f"clip {clip.clip_id}: {problem.detail}", clip.clip_id)
    known = [o for o in outputs if isinstance(o, OUTPUT_KINDS)]
    if len({type(o) for o in known}) > 1:
        yield Problem("output shape", f"mixed output kinds ({kinds_text(known)})",
                      f"outputs mix kinds ({kinds_text(known)}); return one kind")
    for kind, part in ((Detections, "decoded tokens"), (FrameActivity, "clip tags")):
        members = [o for o in known if isinstance(o, kind)]
        attribute = "tokens" if kind is Detections else "tags"
        given = sum(getattr(o, attribute) is not None for o in members)
        if 0 < given < len(members):
            yield Problem("output shape", f"returned {part} for some clips but not all",
                          f"{part} on {given} of {len(members)} clips; give them for every clip or none")


def _clip_problems(output, clip: FeatureClip, labels: tuple[str, ...]) -> Iterator[Problem]:
    n = len(labels)
    if isinstance(output, Detections):
        yield from _event_problems(output, clip, labels)
        return
    if not isinstance(output, (FrameActivity, ClipTags)):
        text = f"predict must return FrameActivity, Detections or ClipTags objects, got {type(output).__name__}"
        yield Problem("output shape", text, text)
        return
    p = np.asarray(output.probabilities)
    if isinstance(output, ClipTags):
        if p.shape != (n,):
            yield Problem("output shape", f"expected tag probabilities of shape ({n},), got {p.shape}",
                          f"expected ClipTags probabilities of shape ({n},), got {p.shape}")
    elif p.ndim != 2 or p.shape[1] != n:
        yield Problem("output shape", f"expected probabilities of shape (frames, {n}), got {p.shape}",
                      f"expected FrameActivity probabilities of shape (frames, {n}), got {p.shape}")
    if not np.issubdtype(p.dtype, np.floating):
        yield Problem("output shape", f"probabilities must be floating-point numbers, got dtype {p.dtype}",
                      f"expected floating-point probabilities, got dtype {p.dtype}")
    if isinstance(output, FrameActivity):
        yield from _hop_problems(output, p, clip)
    yield from _probability_problems(p, "probability", "")
    if isinstance(output, FrameActivity) and output.tags is not None:
        tags = np.asarray(output.tags)
        if tags.shape != (n,) or not np.issubdtype(tags.dtype, np.floating):
            rule = (f"expected clip tags of shape ({n},), got {tags.shape}" if tags.shape != (n,)
                    else f"clip tags must be floating-point numbers, got dtype {tags.dtype}")
            yield Problem("output shape", rule, f"expected floating clip tags of shape ({n},), got {tags.dtype} "
                                                f"{tags.shape}")
        yield from _probability_problems(tags, "clip tag", " (clip tags)")


def _event_problems(output: Detections, clip: FeatureClip, labels: tuple[str, ...]) -> Iterator[Problem]:
    frame_hop = clip.hop_seconds
    for event in output.events:
        if not isinstance(event, Event):
            text = f"Detections must hold Event objects, got {type(event).__name__}"
            yield Problem("output shape", text, text)
            return
        if event.label not in labels:
            yield Problem("output shape", f"detected label {event.label!r} is not in the dataset's label list",
                          f"label {event.label!r} is not one of {', '.join(labels)}")
            return
        if not (math.isfinite(event.onset) and math.isfinite(event.offset)):
            yield Problem("output shape", f"event {event} needs finite times with 0 <= onset <= offset",
                          f"event {event} has a time that is not finite")
            return
        if not 0 <= event.onset <= event.offset <= clip.duration + frame_hop:
            yield Problem("output shape",
                          f"event {event} needs 0 <= onset <= offset <= the clip's duration "
                          f"({clip.duration:.3f} s, + {frame_hop:g} s)",
                          f"event {event} breaks 0 <= onset <= offset <= {clip.duration:.3f} s "
                          f"(the clip's duration, + {frame_hop:g} s)")
            return
    for token in output.tokens or []:
        text = _token_problem(token, labels)
        if text:
            yield Problem("output shape", text, text)
            return


def _token_problem(token, labels: tuple[str, ...]) -> str | None:
    if not isinstance(token, TimedToken):
        return f"tokens must be TimedToken objects, got {type(token).__name__}"
    if token.label not in labels:
        return f"token label {token.label!r} is not in the dataset's label list"
    if token.kind not in KINDS:
        return f"token kind must be 'onset' or 'offset', got {token.kind!r}"
    if not math.isfinite(token.time) or token.time < 0:
        return f"token time must be finite and >= 0, got {token.time!r}"
    return None


def _hop_problems(output: FrameActivity, p: np.ndarray, clip: FeatureClip) -> Iterator[Problem]:
    hop = output.hop_seconds
    if not isinstance(hop, (int, float)) or not math.isfinite(hop) or hop <= 0:
        yield Problem("hop", f"hop_seconds must be > 0, got {hop!r}",
                      f"hop_seconds must be a positive number of seconds, got {hop!r}")
        return
    if p.ndim < 1:
        yield Problem("hop", f"probabilities have no frame axis (shape {p.shape})",
                      f"probabilities have no frame axis (shape {p.shape})")
        return
    expected = expected_frames(clip.duration, hop)
    if abs(p.shape[0] - expected) > 1:
        yield Problem("hop",
                      f"{p.shape[0]} frames at a {hop:g} s hop do not cover the clip's {clip.duration:.3f} s "
                      f"(expected {expected} frames)",
                      f"{p.shape[0]} frames x {hop:g} s = {p.shape[0] * hop:.3f} s, but the clip is "
                      f"{clip.duration:.3f} s long (expected {expected} ± 1 frames)")


def expected_frames(duration: float, hop: float) -> int:
    """Frames of ``hop`` seconds that cover ``duration``; an output may have one more or one fewer."""
    return math.ceil(round(duration / hop, 6))


def _probability_problems(values: np.ndarray, what: str, suffix: str) -> Iterator[Problem]:
    try:
        p = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        return  # not numbers: the shape check has said so
    bad = int(np.size(p) - np.count_nonzero(np.isfinite(p)))
    if bad:
        yield Problem("probabilities", f"output contains NaN or infinite values{suffix}",
                      f"{bad} of {p.size} {what} values are NaN or infinite")
        return
    if p.size and (p.min() < 0 or p.max() > 1):
        outside = int(np.count_nonzero((p < 0) | (p > 1)))
        yield Problem("probabilities", f"probabilities must lie in [0, 1], got range [{p.min():g}, {p.max():g}]{suffix}",
                      f"{outside} of {p.size} {what} values lie outside [0, 1] (range [{p.min():g}, {p.max():g}])")


def check_outputs(outputs, clips: Sequence[FeatureClip], labels: Sequence[str], system: str) -> list:
    """``outputs`` as a list when they keep the contract; SystemOutputError naming the first problem otherwise."""
    for problem in output_problems(outputs, clips, labels):
        raise SystemOutputError(problem.sentence(system))
    return list(outputs)


def check_output(output, clip: FeatureClip, labels: Sequence[str], system: str):
    """One clip's output, returned unchanged when it keeps the contract; SystemOutputError otherwise."""
    return check_outputs([output], [clip], labels, system)[0]
