"""``sedbench report`` and ``sedbench leaderboard``: tables and the page, from the run records."""

from __future__ import annotations

from pathlib import Path

import typer

from sedbench.core.errors import SedbenchError


def _records(runs_dir: Path, allow_empty: bool = False) -> list:
    """Every record under ``runs_dir``; one that does not parse is named in one warning line and left out."""
    from sedbench.pipeline.record import load_records

    from .common import echo_err

    records = load_records(runs_dir, warn=echo_err)
    if not records and not allow_empty:
        raise SedbenchError(f"no run records found under {runs_dir}; run `sedbench run ...` first")
    return records


def report(
    runs_dir: Path = typer.Option(Path("runs"), help="Folder of run records."),
    out_dir: Path = typer.Option(Path("reports"), help="Where results.md, results.csv and the paper tables go."),
    paper: str = typer.Option(None, help="Regenerate a paper's result table instead (e.g. cakir2017)."),
) -> None:
    """Write Markdown and CSV tables (mean ± std over seeds) from the run records."""
    from sedbench.papers.published import load_published
    from sedbench.papers.tables import paper_figures, paper_table
    from sedbench.publish.report import write_reports
    from sedbench.publish.summary import summarize

    if paper:
        load_published(paper)  # unknown paper: say so before reading records
    records = _records(runs_dir, allow_empty=bool(paper))  # a paper table says what to run
    rows = summarize(records)
    if paper:
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / f"{paper}.md"
        text = paper_table(rows, paper)
        path.write_text(text, encoding="utf-8")
        typer.echo(text)
        written = [path, *paper_figures(paper, records, out_dir)]
        typer.echo(f"{len(records)} run records -> {', '.join(str(p) for p in written)}")
        return
    written = write_reports(rows, out_dir)
    typer.echo(f"{len(records)} run records -> {', '.join(str(path) for path in written)}")


def leaderboard(
    runs_dir: Path = typer.Option(Path("runs"), help="Folder of run records."),
    out: Path = typer.Option(Path("leaderboard.html"), help="Page to write."),
) -> None:
    """Build the static leaderboard page (one self-contained HTML file) from the run records."""
    from sedbench.publish.leaderboard import write_leaderboard

    records = _records(runs_dir)
    write_leaderboard(records, out)
    typer.echo(f"{len(records)} run records -> {out} ({out.stat().st_size / 1024:.0f} KiB)")
