"""What the subcommands share: where things live, how names and numbers are printed, the options every command
spells the same way."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer
from typer.core import TyperGroup

from sedbench.core.paths import default_cache_dir, default_data_dir
from sedbench.pipeline.jobs import Locations

DATA_DIR_HELP = "Where datasets live [env SEDBENCH_DATA]."
CACHE_DIR_HELP = "Feature cache [env SEDBENCH_CACHE]."
DEVICE_HELP = "auto | cpu | cuda"
HELP_WIDTH = 120  # the widest a help page gets; click's own limit of 80 wraps the option texts into narrow columns


class WholeSummaryGroup(TyperGroup):
    """A command group whose list of commands shows each command's first sentence whole, never cut off with "..." at
    the terminal width."""

    def format_commands(self, ctx, formatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=sys.maxsize)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def command_group(help: str, **settings) -> typer.Typer:
    """A Typer app whose help pages print every text as it is written. Rich markup would take "[env SEDBENCH_DATA]"
    and "sedbench[ray]" for style tags and drop them, and the rich layout prints "<bool>" after flags that take no
    value; click's plain layout does neither."""
    return typer.Typer(cls=WholeSummaryGroup, rich_markup_mode=None, no_args_is_help=True, help=help,
                       context_settings={"max_content_width": HELP_WIDTH}, **settings)


def locations(data_dir: Path | None, cache_dir: Path | None, runs_dir: Path) -> Locations:
    if cache_dir is not None:  # --cache-dir stands for $SEDBENCH_CACHE everywhere, fetched weights included
        os.environ["SEDBENCH_CACHE"] = str(cache_dir)
    return Locations(data_dir=data_dir or default_data_dir(), cache_dir=cache_dir or default_cache_dir(),
                     runs_dir=runs_dir)


def echo_err(message: str) -> None:
    typer.echo(message, err=True)


def fmt(value, decimals: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{decimals}f}"


def names(values: list[str]) -> tuple[str, ...]:
    """Repeated and comma-separated names, in order, each once (a dataset path may not contain commas)."""
    result = []
    for value in values:
        for name in value.split(","):
            if name.strip() and name.strip() not in result:
                result.append(name.strip())
    return tuple(result)


def aligned(rows: list[tuple[str, ...]], indent: str = "  ", right: tuple[int, ...] = ()) -> list[str]:
    """Rows as lines whose columns line up whatever the cells' lengths: every column but the last padded to its
    widest cell (columns in ``right`` padded on the left, for numbers)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [cell.rjust(width) if i in right else cell.ljust(width)
                 for i, (cell, width) in enumerate(zip(row[:-1], widths))]
        last = row[-1].rjust(widths[-1]) if len(row) - 1 in right else row[-1]
        lines.append((indent + "  ".join([*cells, last])).rstrip())
    return lines


def paper_text(paper) -> str:
    """A Paper as one line: its citation and, when it has one, its link."""
    return f"{paper.citation} <{paper.url}>" if paper.url else paper.citation
