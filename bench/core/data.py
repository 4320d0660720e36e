"""Plain data types that flow from datasets to systems to metrics (system outputs: ``sedbench.core.outputs``)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


class LabelKind(str, enum.Enum):
    """What a dataset annotates and what a system can learn from."""

    STRONG = "strong"  # events with onset and offset
    WEAK = "weak"  # clip-level tags only


class Task(str, enum.Enum):
    """What a dataset's test set is scored as; the scoring step adds each task's own metrics."""

    STRONG_EVENTS = "strong events"  # sed_eval's segment and event metrics
    CLIP_TAGS = "clip tags"  # weakly labelled training data; tagging metrics as well
    RARE_EVENTS = "rare events"  # DCASE2017 task 2: also onset-only event scores per target class

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


@dataclass(frozen=True, order=True)
class Event:
    onset: float
    offset: float
    label: str

    def as_sed_eval(self, filename: str) -> dict:
        return {"filename": filename, "event_onset": self.onset, "event_offset": self.offset, "event_label": self.label}


@dataclass(frozen=True)
class Paper:
    key: str  # short citation key, e.g. "cakir2017"
    citation: str
    url: str = ""


@dataclass
class AudioClip:
    """One audio file of a split, with its reference annotation."""

    clip_id: str  # path relative to the dataset root, used as the filename in event lists
    path: Path
    events: list[Event]
    duration: float
    tags: tuple[str, ...] = ()
    scene: str | None = None  # acoustic scene (context); datasets that have one enable the legacy TUT-SED 2009 F1
    target_class: str | None = None  # rare-event mixtures: the one class the mixture was made for (DCASE2017 task 2)

    @property
    def label_set(self) -> tuple[str, ...]:
        return self.tags or tuple(sorted({e.label for e in self.events}))


@dataclass
class Split:
    """The three partitions a system sees for one fold."""

    fold: str
    train: list[AudioClip]
    valid: list[AudioClip]
    test: list[AudioClip]


@dataclass
class FeatureClip:
    """A clip as a system sees it: features plus targets on the same frame grid."""

    clip_id: str
    features: np.ndarray  # (frames, bands) float32, standardized
    hop_seconds: float
    duration: float
    targets: np.ndarray | None  # (frames, classes) float32 activity; None when hidden
    tags: np.ndarray  # (classes,) float32 clip-level presence
    events: list[Event] = field(default_factory=list)
    target_class: str | None = None  # rare-event mixtures: the class this clip's mixture was made for
