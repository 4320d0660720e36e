"""Scoring event lists that any system wrote (``sedbench score``): read both sides, agree on the labels, score."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sedbench.core.data import Event
from sedbench.core.errors import SedbenchError
from sedbench.datatools.annotations import EventLists, read_event_lists

from .metrics import MetricSettings, score


@dataclass
class ListScores:
    references: dict[str, list[Event]]
    estimates: dict[str, list[Event]]
    labels: list[str]
    metrics: dict  # sedbench.scoring.metrics.score's result


def score_event_lists(reference: Path, estimated: Path, labels: list[str] | None, settings: MetricSettings,
                      backend: str = "fast") -> ListScores:
    """Every metric of the estimated lists against the references; ``labels`` None: those used in either input.

    A file with output but no reference, or a label outside ``labels``, is one sentence naming the input.
    """
    refs = read_event_lists(reference, "reference")
    ests = aligned(refs, read_event_lists(estimated, "estimated event list"), reference, estimated)
    if labels:
        for name, source in ((reference, refs), (estimated, ests)):
            extra = sorted({e.label for events in source.values() for e in events} - set(labels))
            if extra:
                raise SedbenchError(f"{name} uses label {extra[0]!r}, which is not in --labels ({', '.join(labels)})")
    else:
        labels = sorted({e.label for source in (refs, ests) for events in source.values() for e in events})
    result = score(refs, {k: ests.get(k, []) for k in refs}, None, labels, settings, backend=backend)
    return ListScores(refs, ests, list(labels), result)


def aligned(refs: EventLists, ests: EventLists, reference: Path, estimated: Path) -> dict[str, list[Event]]:
    """The estimates keyed as the references: the same path; else the one reference recording with the same base
    name (``audio/a.wav`` and ``a.wav``); two single-recording ``onset offset label`` lists are one recording
    whatever their files are called. Never two recordings in one."""
    if len(refs) == len(ests) == 1 and set(refs) <= refs.unnamed and set(ests) <= ests.unnamed:
        return {next(iter(refs)): next(iter(ests.values()))}
    result: dict[str, list[Event]] = {}
    for key, events in ests.items():
        if key not in refs:
            name = Path(key).name
            matches = [ref for ref in refs if Path(ref).name == name]
            if not matches:
                raise SedbenchError(f"{estimated} has output for {key!r}, which has no reference in {reference}")
            same_name = [est for est in ests if Path(est).name == name]
            if len(matches) > 1 or len(same_name) > 1:
                raise SedbenchError(f"{estimated} has output for {key!r}, whose base name {name!r} belongs to "
                                    f"{len(matches)} reference recording(s) ({', '.join(sorted(matches))}) and "
                                    f"{len(same_name)} output recording(s); write the paths as in {reference}")
            key = matches[0]
        if key in result:
            raise SedbenchError(f"{estimated} has output for {key!r} under two spellings; write each recording once")
        result[key] = events
    return result
