"""The ``sedbench`` command line: one small module per subcommand, assembled here."""

from __future__ import annotations

import sys
import warnings

import typer

from sedbench import __version__
from sedbench.core.errors import SedbenchError

from . import datasets, weights
from .benchmark import benchmark
from .common import command_group
from .listing import list_entries
from .report import leaderboard, report
from .rescore import rescore
from .run import run, status
from .score import score
from .search import search
from .show import show
from .synthesize import synthesize
from .validate import validate

app = command_group("Benchmark harness for polyphonic sound event detection.", add_completion=False,
                    pretty_exceptions_enable=False)
for command in (run, status, search):
    app.command()(command)
app.command("list")(list_entries)
app.command()(show)
for command in (report, rescore, score, synthesize, leaderboard, benchmark):
    app.command()(command)
app.add_typer(datasets.app, name="datasets")
app.add_typer(weights.app, name="weights")
app.command()(validate)


@app.command()
def version() -> None:
    """Print the sedbench version."""
    typer.echo(__version__)


def main() -> None:
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
    try:
        app()
    except SedbenchError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
