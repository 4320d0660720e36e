"""The one interface every system implements.

A system is a class with three class attributes it must set, two it may set, and three methods (README.md, "Add a
system", has this one complete)::

    class LinearFrames(System):
        name = "linear-frames"
        paper = Paper(key="me2026", citation="A. Author, Linear frames, 2026")
        Config = LinearConfig                    # a dataclass; its defaults are the paper's settings
        label_kind = LabelKind.STRONG            # optional: what it learns from, STRONG (events) or WEAK (clip tags)
        profiles = {"quick": {"steps": 100}}     # optional: named settings that replace Config defaults

        @classmethod
        def features(cls, config) -> LogMelSpec: ...     # what the harness extracts, from the config alone
        def fit(self, train, valid) -> dict: ...          # returns the per-epoch history for the record
        def predict(self, clips) -> list[FrameActivity]: ...

and is registered through the ``sedbench.systems`` entry-point group of its package's ``pyproject.toml``
(``linear-frames = "my_package.linear:LinearFrames"``), or with ``@register_system()`` of ``sedbench.core.registry``
in code that is imported anyway (a notebook, a test). The harness extracts and caches the features, standardizes
them with training-set statistics, and hands the system ``FeatureClip`` lists; ``predict`` returns one output per
clip of a kind that ``sedbench.core.outputs`` defines (frame probabilities, events or clip tags) and checks.
Post-processing and scoring belong to the harness, so every system is scored the same way.

Profiles: ``sedbench run`` and ``sedbench validate`` ask for 'quick' unless told otherwise; a system whose
``profiles`` have no 'quick' runs its Config's defaults, recorded as profile 'default'
(``sedbench.core.config.resolve_profile``). Without ``profiles``, 'quick' is the Config's defaults.

Optional hooks, each with its default below: ``dataset_profiles`` (a paper's per-dataset settings),
``search_spaces`` (``sedbench search``), ``weights`` (pretrained weights it needs, for ``sedbench weights``),
``budget_setting`` (what caps its training), ``parameter_count`` and ``decision_threshold``. A training loop may use
what ``RunContext`` offers: ``checkpoints`` (resume a killed job), ``log`` and ``monitor`` (``--track-test``),
and show its epochs with ``sedbench.core.progress.step("training", total=..., unit="epochs")``.
Features other than log mel (pretrained embeddings) are any ``sedbench.core.features.FeatureSpec``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, ClassVar

from .config import DEFAULT_PROFILE
from .data import FeatureClip, LabelKind, Paper
from .features import FeatureSpec

if TYPE_CHECKING:
    from .config import SearchSpace
    from .outputs import ClipTags, Detections, FrameActivity
    from .weights import Weights


class NoCheckpoints:
    """What ``RunContext.checkpoints`` offers a training loop: ``load()`` once before the first epoch (the saved
    state, or None) and ``save(state)`` after every epoch. The grid runner passes a store that keeps them on disk
    (``sedbench.pipeline.checkpoints.Checkpoints``); this one keeps nothing."""

    resumed_epoch: int | None = None
    enabled = False

    def load(self) -> dict | None:
        return None

    def save(self, state: dict) -> None:
        pass

    def attach(self, name: str, get: Callable[[], Any], restore: Callable[[Any], None]) -> None:
        pass

    def bind(self, job: dict, max_epoch: int | None = None) -> None:
        pass

    def clear(self) -> None:
        pass


NO_CHECKPOINTS = NoCheckpoints()


@dataclass(frozen=True)
class RunContext:
    """What the harness tells a system about the run it is part of."""

    labels: tuple[str, ...]
    seed: int
    device: str  # "cpu" or "cuda"
    log: Any = print  # progress callback: log(str)
    # learning-curve hook, set only with `sedbench run --track-test`: a system may call monitor(epoch, predict) after
    # each epoch; the harness scores predict(test clips) for the record's curve and returns nothing to the system
    monitor: Any = None
    # where the training loop saves its state every epoch and finds it after a kill
    checkpoints: Any = NO_CHECKPOINTS


class System(ABC):
    name: ClassVar[str]
    paper: ClassVar[Paper]
    label_kind: ClassVar[LabelKind] = LabelKind.STRONG
    Config: ClassVar[type]
    profiles: ClassVar[dict[str, dict[str, Any]]] = {DEFAULT_PROFILE: {}}
    # profile -> dataset name -> values that replace the profile's on that dataset (a paper's per-dataset columns)
    dataset_profiles: ClassVar[dict[str, dict[str, dict[str, Any]]]] = {}
    # `sedbench search --space NAME`: the settings to try, chosen on validation data
    search_spaces: ClassVar[dict[str, SearchSpace]] = {}
    # pretrained weights the system reads (`sedbench weights list / fetch`)
    weights: ClassVar[tuple[Weights, ...]] = ()
    # the Config setting that caps training (epochs, EM iterations); `sedbench benchmark --gpu` sets it to 1
    budget_setting: ClassVar[str | None] = None

    def __init__(self, config: Any, context: RunContext):
        self.config = config
        self.context = context

    @classmethod
    @abstractmethod
    def features(cls, config) -> FeatureSpec:
        """Feature settings the harness extracts for this system; they depend on the config alone."""

    @abstractmethod
    def fit(self, train: list[FeatureClip], valid: list[FeatureClip]) -> dict:
        """Train; return a history dict (per-epoch values) for the run record."""

    @abstractmethod
    def predict(self, clips: list[FeatureClip]) -> list[FrameActivity] | list[Detections] | list[ClipTags]:
        """One output per clip, in order, all of one kind (``sedbench.core.outputs``)."""

    @classmethod
    def parameter_count(cls, config, labels: tuple[str, ...]) -> int | None:
        """Trainable parameters of the system built with ``config`` for ``labels``; None when it does not say."""
        return None

    @classmethod
    def decision_threshold(cls, config) -> float:
        """The probability above which the harness counts a frame or clip tag as active (the papers' C): the
        Config's ``threshold`` setting when it has one, else 0.5."""
        return float(getattr(config, "threshold", 0.5))
