"""The one interface every system implements, and typed configuration handling.

A system is a class with four class attributes and three methods::

    @register_system("my-system")
    class MySystem(System):
        name = "my-system"
        paper = Paper(key="me2026", citation="...")
        label_kind = LabelKind.STRONG          # what it learns from
        Config = MyConfig                       # dataclass; defaults = the paper's
        profiles = {"paper": {}, "quick": {"units": 32}}

        def features(self) -> LogMelSpec: ...   # what the harness extracts for it
        def fit(self, train, valid) -> dict: ...
        def predict(self, clips) -> list[FrameActivity]: ...

The harness extracts (and caches) the features, standardizes them with
training-set statistics, and hands the system ``FeatureClip`` lists; the system
returns one ``FrameActivity`` per clip. Post-processing and scoring belong to
the harness, so every system is scored the same way.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from .data import FeatureClip, FrameActivity, LabelKind, Paper
from sedbench.pipeline.checkpoints import NO_CHECKPOINTS
from .errors import ConfigError
from .features import LogMelSpec


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
    # where the training loop saves its state every epoch and finds it after a kill (see sedbench.pipeline.checkpoints)
    checkpoints: Any = NO_CHECKPOINTS


class System(ABC):
    name: ClassVar[str]
    paper: ClassVar[Paper]
    label_kind: ClassVar[LabelKind] = LabelKind.STRONG
    Config: ClassVar[type]
    profiles: ClassVar[dict[str, dict[str, Any]]] = {"paper": {}}
    # profile -> dataset name -> values that replace the profile's on that dataset (a paper's per-dataset columns)
    dataset_profiles: ClassVar[dict[str, dict[str, dict[str, Any]]]] = {}

    def __init__(self, config: Any, context: RunContext):
        self.config = config
        self.context = context

    @abstractmethod
    def features(self) -> LogMelSpec:
        """Feature settings the harness extracts for this system."""

    @abstractmethod
    def fit(self, train: list[FeatureClip], valid: list[FeatureClip]) -> dict:
        """Train; return a history dict (per-epoch values) for the run record."""

    @abstractmethod
    def predict(self, clips: list[FeatureClip]) -> list[FrameActivity]:
        """One FrameActivity per clip, in order: (frames, classes) probabilities in [0, 1]."""


# --------------------------------------------------------------------------- configuration


def build_config(system: type[System], profile: str, overrides: dict[str, str] | None = None,
                 dataset: str | None = None):
    """The system's Config: profile values, the profile's values for ``dataset`` if it has some, then overrides."""
    if profile not in system.profiles:
        raise ConfigError(
            f"system {system.name!r} has no profile {profile!r}; profiles: {', '.join(sorted(system.profiles))}"
        )
    values = dict(system.profiles[profile])
    values.update(system.dataset_profiles.get(profile, {}).get(dataset, {}))
    config = system.Config(**values)
    if overrides:
        config = apply_overrides(config, overrides)
    check_config(config)
    return config


@dataclass(frozen=True)
class Range:
    """The values a numeric setting allows (every item, for a tuple setting); a Config declares them in a class
    attribute ``ranges: ClassVar[dict[str, Range]]`` and build_config checks them before any job starts."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False  # True: low itself is not allowed (a learning rate must be > 0)

    def allows(self, value) -> bool:
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or value <= self.high

    def __str__(self) -> str:
        if self.low is not None and self.high is not None:
            return f"between {self.low:g} and {self.high:g}"
        if self.low is not None:
            return f"{'>' if self.low_open else '>='} {self.low:g}"
        return f"<= {self.high:g}"


def check_config(config) -> None:
    """ConfigError for a setting outside its declared ``ranges`` (collected along the Config's bases), then the
    Config's own ``check()`` for rules between settings; a value a network cannot be built with fails here, in one
    sentence, rather than as a traceback from inside a job."""
    ranges: dict[str, Range] = {}
    for cls in reversed(type(config).__mro__):
        ranges.update(vars(cls).get("ranges", {}))
    for key, allowed in ranges.items():
        value = getattr(config, key)
        items = value if isinstance(value, tuple) else (value,)
        if any(item is not None and not allowed.allows(item) for item in items):
            what = "every value of setting" if isinstance(value, tuple) else "setting"
            raise ConfigError(f"{what} {key!r} must be {allowed}, got {value!r}")
    check = getattr(config, "check", None)
    if callable(check):
        check()


def apply_overrides(config, overrides: dict[str, str]):
    fields = {f.name: f for f in dataclasses.fields(config)}
    hints = typing.get_type_hints(type(config))
    changes = {}
    for key, text in overrides.items():
        if key not in fields:
            raise ConfigError(
                f"unknown setting {key!r} for {type(config).__name__}; settings: {', '.join(sorted(fields))}"
            )
        changes[key] = parse_value(text, hints[key], key)
    return dataclasses.replace(config, **changes)


def parse_value(text: str, annotation, key: str):
    """Parse a command-line string as ``annotation`` (int, float, bool, str, tuples, Optional)."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        if text.strip().lower() in ("none", "null", ""):
            return None
        inner = [a for a in args if a is not type(None)]
        return parse_value(text, inner[0], key)
    if origin is tuple:
        items = [item for item in text.replace("(", "").replace(")", "").split(",") if item.strip()]
        element = args[0] if args else str
        return tuple(parse_value(item.strip(), element, key) for item in items)
    try:
        if annotation is bool:
            lowered = text.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if annotation is int:
            return int(text)
        if annotation is float:
            return float(text)
        if annotation is str:
            return text
    except ValueError:
        raise ConfigError(f"setting {key!r} expects {annotation.__name__}, got {text!r}") from None
    raise ConfigError(f"setting {key!r} has a type ({annotation}) that cannot be set from the command line")


def config_dict(config) -> dict:
    return dataclasses.asdict(config)
