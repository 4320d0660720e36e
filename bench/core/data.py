"""Plain data types that flow from datasets to systems to metrics (system outputs: ``sedbench.core.outputs``)."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
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


@dataclass
class Convergence:
    """How a fit ended, in the record: ``converged`` when its stopping rule fired, i.e. the best epoch lies at least
    ``patience`` epochs before the last one run (for EM, every model converged); not when the epoch budget ran out
    first. A system of several networks or models reports each in ``parts``."""

    converged: bool
    epochs_run: int
    max_epochs: int
    best_epoch: int | None = None  # 1-based
    patience: int | None = None
    monitor: str = ""
    parts: dict = field(default_factory=dict)  # name -> Convergence (as a dict in records)

    @classmethod
    def of_parts(cls, parts: dict[str, "Convergence"], monitor: str = "") -> "Convergence":
        """All parts together: converged when every part did; the longest run and the latest best epoch."""
        values = list(parts.values())
        best = [p.best_epoch for p in values if p.best_epoch is not None]
        return cls(converged=bool(values) and all(p.converged for p in values),
                   epochs_run=max((p.epochs_run for p in values), default=0),
                   max_epochs=max((p.max_epochs for p in values), default=0), best_epoch=max(best, default=None),
                   patience=values[0].patience if values else None, monitor=monitor or (values[0].monitor if values else ""),
                   parts={name: asdict(part) for name, part in parts.items()})

    def as_dict(self) -> dict:
        return asdict(self)
