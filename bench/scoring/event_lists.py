"""Scoring event lists that any system wrote (``sedbench score``): read both sides, agree on the labels, score."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sedbench.core.data import Event
from sedbench.core.errors import SedbenchError
from sedbench.datatools.annotations import read_event_lists

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
    ests = read_event_lists(estimated, "estimated event list")
    unknown_files = sorted(set(ests) - set(refs))
    if unknown_files:
        raise SedbenchError(
            f"{estimated} has output for {len(unknown_files)} file(s) with no reference in {reference}, "
            f"e.g. {unknown_files[0]!r}"
        )
    if labels:
        for name, source in ((reference, refs), (estimated, ests)):
            extra = sorted({e.label for events in source.values() for e in events} - set(labels))
            if extra:
                raise SedbenchError(f"{name} uses label {extra[0]!r}, which is not in --labels ({', '.join(labels)})")
    else:
        labels = sorted({e.label for source in (refs, ests) for events in source.values() for e in events})
    result = score(refs, {k: ests.get(k, []) for k in refs}, None, labels, settings, backend=backend)
    return ListScores(refs, ests, list(labels), result)
