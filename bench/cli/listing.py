"""``sedbench list``: registered systems and datasets, with their papers (and parameter counts)."""

from __future__ import annotations

import typer

from sedbench.core import registry


def list_entries(
    params: bool = typer.Option(False, "--params", help="Also print parameter counts of every profile."),
    classes: int = typer.Option(16, help="Number of classes K for --params (Table I of Cakir et al. uses 16)."),
) -> None:
    """Registered systems and datasets, with their papers."""
    if params:
        _list_parameters(classes)
        return
    typer.echo("Systems:")
    for name, cls in registry.systems.items():
        typer.echo(f"  {name:14s} {cls.label_kind.value:6s} profiles: {', '.join(cls.profiles):14s} {cls.paper.citation}")
    typer.echo("Datasets:")
    for name, cls in registry.datasets.items():
        typer.echo(f"  {name:14s} {cls.label_kind.value:6s} {len(cls.labels):3d} labels  {cls.description}")
        typer.echo(f"  {'':14s} {cls.paper.citation}; license: {cls.license}")


def _list_parameters(classes: int) -> None:
    from sedbench.core.config import build_config

    labels = tuple(f"class {k + 1}" for k in range(classes))
    typer.echo(f"Parameters with K = {classes} classes:")
    for name, cls in registry.systems.items():
        if cls.parameter_count(build_config(cls, next(iter(cls.profiles))), labels) is None:
            typer.echo(f"  {name:8s} (does not report a parameter count)")
            continue
        for profile in cls.profiles:
            count = cls.parameter_count(build_config(cls, profile), labels)
            typer.echo(f"  {name:8s} {profile:8s} {'default':12s} {count:>12,}")
            for dataset in cls.dataset_profiles.get(profile, {}):
                count = cls.parameter_count(build_config(cls, profile, dataset=dataset), labels)
                typer.echo(f"  {name:8s} {profile:8s} {dataset:12s} {count:>12,}")
