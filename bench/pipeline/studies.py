"""Studies: further measurements of a fitted system on the test set after it is scored (for example a paper's
robustness test). A study is an object with a ``name`` (its key in the record's ``robustness`` and its phase in
``timings``) and ``run(context) -> dict``; ``JobSpec.studies`` lists the ones a job runs. The run pipeline knows no
particular study: they live with the papers they come from (``sedbench.papers``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol

import numpy as np

from sedbench.core.data import AudioClip
from sedbench.core.features import FeatureCache, FeatureSpec


@dataclass(frozen=True)
class StudyContext:
    clips: list[AudioClip]  # the test clips, with their reference events
    spec: FeatureSpec  # the system's features
    cache: FeatureCache
    headline: dict[str, float | None]  # the job's own test scores
    # raw (unstandardized) features of the test clips -> the headline the fitted system reaches on them, through the
    # same standardization, output checks, post-processing and metrics as the job's own scores
    evaluate: Callable[[dict[str, np.ndarray]], dict[str, float | None]]


class Study(Protocol):
    name: str

    def run(self, context: StudyContext) -> dict[str, Any]: ...
