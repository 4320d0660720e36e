"""A system's typed configuration: profiles, per-dataset paper columns, ``--set`` overrides and range checks."""

from __future__ import annotations

import dataclasses
import itertools
import types
import typing
from dataclasses import dataclass, field

from .errors import ConfigError

DEFAULT_PROFILE = "quick"  # what `sedbench run` and every other command use unless told otherwise
CONFIG_DEFAULTS = "default"  # the profile of the Config's own defaults: what a system without a 'quick' profile runs


def resolve_profile(system: type, profile: str) -> str:
    """The profile that asking ``system`` for ``profile`` runs, named as its record names it: the system's profile of
    that name, else 'default' (the Config's defaults) for 'default' and for the default 'quick', which a system need
    not have. Any other profile the system lacks is a ConfigError."""
    if profile in system.profiles:
        return profile
    if profile in (DEFAULT_PROFILE, CONFIG_DEFAULTS):
        return CONFIG_DEFAULTS
    raise ConfigError(
        f"system {system.name!r} has no profile {profile!r}; profiles: {', '.join(sorted(system.profiles))}"
    )


def defaults_note(system: str) -> str:
    """The line that says a run asked for the default profile gets the Config's defaults instead."""
    return f"system {system!r} has no {DEFAULT_PROFILE!r} profile; it runs with its defaults, recorded as profile " \
           f"{CONFIG_DEFAULTS!r}"


def build_config(system: type, profile: str, overrides: dict[str, str] | None = None,
                 dataset: str | None = None):
    """The system's Config: profile values (none for 'default', see ``resolve_profile``), the profile's values for
    ``dataset`` if it has some, then overrides."""
    profile = resolve_profile(system, profile)
    values = dict(system.profiles.get(profile, {}))
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
    for key, allowed in declared_ranges(type(config)).items():
        value = getattr(config, key)
        items = value if isinstance(value, tuple) else (value,)
        if any(item is not None and not allowed.allows(item) for item in items):
            what = "every value of setting" if isinstance(value, tuple) else "setting"
            raise ConfigError(f"{what} {key!r} must be {allowed}, got {value!r}")
    check = getattr(config, "check", None)
    if callable(check):
        check()


def declared_ranges(config_class: type) -> dict[str, Range]:
    """Setting name -> Range, from the ``ranges`` of the Config class and its bases (a subclass's own win)."""
    ranges: dict[str, Range] = {}
    for cls in reversed(config_class.__mro__):
        ranges.update(vars(cls).get("ranges", {}))
    return ranges


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


@dataclass(frozen=True)
class SearchSpace:
    """Settings to try for a system, the best chosen on validation data (``sedbench search``; Cakir et al. 2017,
    Sec. III-D).

    ``axes``: each maps setting names to equally long value lists that move together (the paper ties feature maps
    and hidden units); the trials are the product of the axes. ``studies``: after the best trial, one setting at a
    time takes each of its values. ``fixed``: settings every trial shares (e.g. a shorter epoch budget).
    """

    axes: tuple[dict[str, list], ...]
    studies: tuple[dict[str, list], ...] = ()
    fixed: dict = field(default_factory=dict)
    profile: str = "paper"  # the profile every trial starts from

    def trials(self) -> list[dict]:
        combos = []
        for axis in self.axes:
            lengths = {len(v) for v in axis.values()}
            if len(lengths) != 1:
                raise ConfigError(f"search axis {sorted(axis)} has value lists of different lengths")
            combos.append([{k: v[i] for k, v in axis.items()} for i in range(lengths.pop())])
        return [{**self.fixed, **{k: v for part in product for k, v in part.items()}}
                for product in itertools.product(*combos)]


def setting_text(value) -> str:
    """A setting's value as ``--set`` takes it: tuples as ``(a,b)``, booleans as true / false."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)):
        return "(" + ",".join(setting_text(v) for v in value) + ")"
    return str(value)
