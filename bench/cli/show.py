"""``sedbench show``: what one system can be set to and where it comes from, or one dataset's description."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

import typer

from sedbench.core import registry
from sedbench.core.config import declared_ranges, setting_text
from sedbench.core.errors import ConfigError
from sedbench.core.system import DEFAULT_PROFILE

from .common import DATA_DIR_HELP, aligned, paper_text
from .datasets import datasets_info


def show(
    system: str = typer.Option(None, "--system", "-s", help="Registered system name (see `sedbench list`)."),
    dataset: str = typer.Option(None, "--dataset", "-d", help="Registered dataset name (see `sedbench datasets "
                                "list`)."),
    data_dir: Path = typer.Option(None, help=DATA_DIR_HELP),
) -> None:
    """One system's settings (defaults, allowed values), profiles and what each changes, and paper; or one
    dataset's folds, classes, size, license and paper."""
    if (system is None) == (dataset is None):
        given = "both" if system is not None else "neither"
        raise ConfigError(f"`sedbench show` takes exactly one of --system NAME and --dataset NAME, got {given}")
    if dataset is not None:
        datasets_info(dataset, data_dir)
        return
    cls = registry.systems.get(system)
    typer.echo(f"{cls.name}: learns from {cls.label_kind.value} labels")
    typer.echo(f"paper:    {paper_text(cls.paper)}")
    for weights in cls.weights:
        typer.echo(f"weights:  {weights.name} (`sedbench weights fetch {weights.name}`)")
    runs = DEFAULT_PROFILE if DEFAULT_PROFILE in cls.profiles else "the defaults"  # a system need not have 'quick'
    typer.echo(f"profiles: {', '.join(cls.profiles)} (--profile; {runs} unless told otherwise)")
    for line in aligned(_profile_rows(cls)):
        typer.echo(line)
    typer.echo("settings (--set NAME=VALUE; a profile's column shows the values it changes):")
    for line in aligned(_setting_rows(cls)):
        typer.echo(line)


def _changes(values: dict) -> str:
    return " ".join(f"{key}={setting_text(value)}" for key, value in values.items()) or "no changes"


def _profile_rows(cls) -> list[tuple[str, str]]:
    """One row per profile with the settings it changes, then one per dataset it has its own values for."""
    rows = []
    for profile, values in cls.profiles.items():
        rows.append((profile, _changes(values)))
        for dataset, extra in cls.dataset_profiles.get(profile, {}).items():
            rows.append((f"{profile} on {dataset}", _changes(extra)))
    return rows


def _setting_rows(cls) -> list[tuple[str, ...]]:
    """Name, type, default, allowed values and each profile's value of every setting of the system's Config."""
    hints = typing.get_type_hints(cls.Config)
    ranges = declared_ranges(cls.Config)
    rows = [("setting", "type", "default", "allowed", *cls.profiles)]
    for field in dataclasses.fields(cls.Config):
        annotation = hints.get(field.name, field.type)
        allowed = ranges.get(field.name)
        if allowed is not None and typing.get_origin(annotation) is tuple:
            allowed = f"each {allowed}"  # a tuple setting's range holds for every item
        by_profile = [setting_text(values[field.name]) if field.name in values else ""
                      for values in cls.profiles.values()]
        rows.append((field.name, _type_name(annotation), _default_text(field), str(allowed or ""), *by_profile))
    return rows


def _default_text(field: dataclasses.Field) -> str:
    if field.default is not dataclasses.MISSING:
        return setting_text(field.default)
    if field.default_factory is not dataclasses.MISSING:
        return setting_text(field.default_factory())
    return "(required)"


def _type_name(annotation) -> str:
    return annotation.__name__ if isinstance(annotation, type) else str(annotation).replace("typing.", "")
