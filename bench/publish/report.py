"""``sedbench report``: results.md and results.csv (one table per dataset, rows from ``sedbench.publish.summary``)
and the regenerated table of every paper the records cover (``sedbench.papers.tables``)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from sedbench.papers.published import published_papers
from sedbench.papers.tables import paper_has_rows, paper_table

from .summary import BUDGET_MARK, ONE_POINT_MARK, THRESHOLD_FREE, Row, columns, format_cell, pitch_shifts


def markdown(rows: list[Row]) -> str:
    out = io.StringIO()
    for dataset in sorted({r.dataset for r in rows}):
        members = [r for r in rows if r.dataset == dataset]
        metrics = columns(members)
        out.write(f"## {dataset}\n\n")
        out.write("| system | variant | seeds | converged | " + " | ".join(metrics) + " | parameters | train s |\n")
        out.write("|---|---|---|---|" + "---|" * len(metrics) + "---|---|\n")
        for row in members:
            cells = [format_cell(row, m) for m in metrics]
            params = f"{row.parameters:,}" if row.parameters else "—"
            out.write(f"| {row.system} | {row.variant} | {len(row.seeds)} | {row.convergence_text()} | "
                      + " | ".join(cells) + f" | {params} | {row.train_seconds:.0f} |\n")
        out.write("\n")
        bound = [row for row in members if row.budget_bound]
        if bound:
            out.write(f"{BUDGET_MARK}: " + "; ".join(f"{row.label} ({row.converged[0]} of {row.converged[1]} runs "
                                                    "converged)" for row in bound)
                      + ". Those runs ended when their epoch budget ran out, before their stopping rule fired: their "
                        "numbers are not those of a trained model.\n\n")
        if any(m in THRESHOLD_FREE for m in metrics) and any(row.psds_at_one_point for row in members):
            out.write(f"{ONE_POINT_MARK}: the system outputs events, not scores; its PSDS is psds_eval's at that one "
                      "operating point, and lies below what a score sweep would give.\n\n")
        shifts = pitch_shifts(members)
        if shifts:
            out.write("Pitch-shift robustness (Cakir et al. 2017, Fig. 5): absolute change of F1_frm (percentage "
                      "points) when the test audio is shifted by the given quartertones; mean ± std over seeds.\n\n")
            out.write("| system | variant | " + " | ".join(f"{s} qt" for s in shifts) + " |\n")
            out.write("|---|---|" + "---|" * len(shifts) + "\n")
            for row in members:
                if row.pitch_shift:
                    out.write(f"| {row.system} | {row.variant} | "
                              + " | ".join(row.pitch_shift_cell(s) for s in shifts) + " |\n")
            out.write("\n")
    out.write("F1 in %, ER/EER/TER as ratios; mean ± sample std over seeds; segment and event statistics are accumulated "
              "over all test files (and summed over folds) before computing each seed's value. variant: the profile and "
              "the settings the row's config changes in it (custom: changed settings its rows share). converged: runs "
              "whose stopping rule fired, of those that report it. PSDS1 / PSDS2: sed_scores_eval's polyphonic sound detection "
              "scores (0..1) with the DCASE 2021-2024 task 4 parameters, from the stored test scores without "
              "post-processing; over several folds, the mean of the folds' values.\n")
    return out.getvalue()


def csv_text(rows: list[Row]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    header = ["dataset", "system", "profile", "variant", "config_hash", "dataset_fingerprint", "seeds", "folds",
              "converged", "runs_reporting", "parameters", "train_seconds"]
    metrics = columns(rows)
    for metric in metrics:
        header += [f"{metric}_mean", f"{metric}_std"]
    writer.writerow(header)
    for row in rows:
        converged, reporting = row.converged
        line = [row.dataset, row.system, row.profile, row.variant, row.config_hash, row.fingerprint, len(row.seeds),
                " ".join(row.folds), converged, reporting, row.parameters or "", f"{row.train_seconds:.1f}"]
        for metric in metrics:
            stats = row.mean_std(metric)
            line += [f"{stats[0]:.6g}", f"{stats[1]:.6g}"] if stats else ["", ""]
        writer.writerow(line)
    return out.getvalue()


def write_reports(rows: list[Row], out_dir: Path) -> list[Path]:
    """results.md and results.csv, plus a regenerated table for every published paper the rows cover."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    md, table = out_dir / "results.md", out_dir / "results.csv"
    md.write_text("# sedbench results\n\n" + markdown(rows), encoding="utf-8")
    table.write_text(csv_text(rows), encoding="utf-8")
    written = [md, table]
    for paper in published_papers():
        if paper_has_rows(rows, paper):
            path = out_dir / f"{paper}.md"
            path.write_text(paper_table(rows, paper), encoding="utf-8")
            written.append(path)
    return written
