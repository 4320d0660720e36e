"""``sedbench list``: registered systems and datasets, with their papers (and parameter counts)."""

from __future__ import annotations

import typer

from sedbench.core import registry

from .common import aligned


def list_entries(
    params: bool = typer.Option(False, "--params", help="Also print parameter counts of every profile."),
    classes: int = typer.Option(16, help="Number of classes K for --params (Table I of Cakir et al. uses 16)."),
) -> None:
    """Registered systems and datasets, with their papers."""
    if params:
        _list_parameters(classes)
        return
    typer.echo("Systems:")
    systems = [("name", "labels", "profiles", "paper")]
    for name, cls in registry.systems.items():
        systems.append((name, cls.label_kind.value, ", ".join(cls.profiles), cls.paper.citation))
    for line in aligned(systems):
        typer.echo(line)
    typer.echo("Datasets:")
    # the task column is Task.value, as `sedbench datasets list` prints it; labels is what training reads
    datasets = [("name", "task", "labels", "classes", "description")]
    for name, cls in registry.datasets.items():
        datasets.append((name, cls.task.value, cls.label_kind.value, str(len(cls.labels)), cls.description))
        datasets.append(("", "", "", "", f"{cls.paper.citation}; license: {cls.license}"))
    for line in aligned(datasets):
        typer.echo(line)


def _list_parameters(classes: int) -> None:
    from sedbench.core.config import build_config

    labels = tuple(f"class {k + 1}" for k in range(classes))
    rows, silent = [("system", "profile", "on dataset", "parameters")], []
    for name, cls in registry.systems.items():
        if cls.parameter_count(build_config(cls, next(iter(cls.profiles))), labels) is None:
            silent.append(name)
            continue
        for profile in cls.profiles:
            count = cls.parameter_count(build_config(cls, profile), labels)
            rows.append((name, profile, "default", f"{count:,}"))
            for dataset in cls.dataset_profiles.get(profile, {}):
                count = cls.parameter_count(build_config(cls, profile, dataset=dataset), labels)
                rows.append((name, profile, dataset, f"{count:,}"))
    typer.echo(f"Parameters with K = {classes} classes:")
    for line in aligned(rows, right=(3,)):
        typer.echo(line)
    for name in silent:
        typer.echo(f"  {name} does not report a parameter count")
