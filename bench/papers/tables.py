"""A paper's result table regenerated from run records, published numbers beside the measured ones.

``compare_with_paper`` lines measured rows up with a "systems x metrics" table (the Markdown table and the
leaderboard's paper-vs-measured section both come from it); tables of another shape name a ``layout`` in their
published file and have a module of their own (``LAYOUTS``). Paper figures (Wang & Metze's Fig. 2) are written
beside the table.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

from sedbench.pipeline.record import RunRecord
from sedbench.publish.summary import LOWER_IS_BETTER, Row, format_cell

from .claims import claim_verdicts, claims_markdown
from .class_table import CLASS_TABLE, class_table
from .feature_layers import FEATURE_LAYERS, feature_layer_table, feature_rows_of, ter_curves_svg
from .loss_weights import LOSS_WEIGHTS, loss_weight_rows, loss_weight_table
from .published import format_delta, format_published, load_published

LAYOUTS = {LOSS_WEIGHTS: loss_weight_table, FEATURE_LAYERS: feature_layer_table, CLASS_TABLE: class_table}


@dataclass
class ComparedCell:
    measured: tuple[float, float] | None  # mean, std over seeds
    published: tuple[float, float | None] | None
    delta: float | None  # measured - published, only where the dataset is the paper's own


@dataclass
class ComparedRow:
    row: Row
    cells: dict[str, ComparedCell]


@dataclass
class ComparedDataset:
    dataset: str  # the dataset the runs used
    paper_dataset: str  # the paper's name for the dataset its numbers come from
    stand_in: bool  # True: different data, so no differences
    rows: list[ComparedRow]
    measured_order: list[str]
    published_order: list[str]
    rank_by: str = "F1_frm"  # the metric both orders are ranked by, best first
    notes: list[str] = field(default_factory=list)  # published values that come from other data than the runs'

    @property
    def order_separator(self) -> str:
        """'a > b' reads "a's value is higher", 'a < b' "lower": either way the better one comes first."""
        return " < " if self.rank_by in LOWER_IS_BETTER else " > "


@dataclass
class PaperComparison:
    paper: str
    table: str
    citation: str
    caption: str
    metrics: list[str]
    datasets: list[ComparedDataset]


def compare_with_paper(rows: list[Row], paper: str) -> PaperComparison:
    """Measured rows beside a paper's published table: the one source for both the Markdown table and the page."""
    published = load_published(paper)
    if published.get("layout"):  # tables of another shape have their own section below; nothing for the page
        return PaperComparison(paper=paper, table=published["table"], citation=published["citation"],
                               caption=published["caption"], metrics=published["metrics"], datasets=[])
    metrics = published["metrics"]
    order = {name: i for i, name in enumerate(published["systems"])}
    rank_by = published.get("rank_by", "F1_frm")
    sign = 1 if rank_by in LOWER_IS_BETTER else -1  # sort keys that put the best first
    compared = []
    for key, info in published["datasets"].items():
        for dataset in [key, *info.get("stand_ins", [])]:
            members = sorted((r for r in rows if r.dataset == dataset and r.system in order),
                             key=lambda r: (order[r.system], r.profile))
            if not members:
                continue
            same = dataset == key
            other_data = info.get("other_data", {})  # metric -> the data its published values come from
            lines = []
            for row in members:
                cells = {}
                for metric in metrics:
                    paper_values = info["values"].get(row.system, {}).get(metric)
                    stats = row.mean_std(metric)
                    comparable = same and metric not in other_data
                    delta = stats[0] - paper_values[0] if comparable and paper_values and stats else None
                    cells[metric] = ComparedCell(stats, tuple(paper_values) if paper_values else None, delta)
                lines.append(ComparedRow(row, cells))
            ranked = sorted((r for r in members if r.mean_std(rank_by)), key=lambda r: sign * r.mean_std(rank_by)[0])
            published_ranked = [s for s in info["values"] if info["values"][s].get(rank_by)]
            compared.append(ComparedDataset(
                dataset=dataset, paper_dataset=info["name"], stand_in=not same, rows=lines,
                measured_order=[f"{r.system} ({r.profile})" for r in ranked],
                published_order=sorted(published_ranked, key=lambda s: sign * info["values"][s][rank_by][0]),
                rank_by=rank_by,
                notes=[f"Published {', '.join(m for m in metrics if other_data.get(m) == source)}: {source}"
                       + ("; no difference is computed." if same else ".")
                       for source in dict.fromkeys(other_data[m] for m in metrics if m in other_data)],
            ))
    return PaperComparison(paper=paper, table=published["table"], citation=published["citation"],
                           caption=published["caption"], metrics=metrics, datasets=compared)


def paper_table(rows: list[Row], paper: str) -> str:
    """The paper's result table regenerated from run records, published numbers beside the measured ones, then
    the verdict on each of its claims."""
    published = load_published(paper)
    layout = published.get("layout")
    table = LAYOUTS[layout](rows, published) if layout else _systems_table(rows, paper)
    return table.rstrip("\n") + "\n\n" + claims_markdown(claim_verdicts(rows, published)) if published.get("claims") \
        else table


def _systems_table(rows: list[Row], paper: str) -> str:
    """A "systems x metrics" table."""
    comparison = compare_with_paper(rows, paper)
    metrics = comparison.metrics
    out = io.StringIO()
    out.write(f"# {comparison.table} of {paper}, regenerated\n\n{comparison.citation}\n\n{comparison.caption}\n\n")
    for section in comparison.datasets:
        title = section.dataset + (f" — a stand-in for {section.paper_dataset}: the published numbers are on "
                                   "different data, so no difference is computed" if section.stand_in else "")
        out.write(f"## {title}\n\n| system | profile | seeds | " + " | ".join(metrics) + " |\n")
        out.write("|---|---|---|" + "---|" * len(metrics) + "\n")
        for line in section.rows:
            cells = []
            for metric in metrics:
                cell = line.cells[metric]
                text = f"{format_cell(line.row, metric)} (paper {format_published(cell.published, metric)}"
                if cell.delta is not None:
                    text += f", Δ {format_delta(cell.delta, metric)}"
                cells.append(text + ")")
            out.write(f"| {line.row.system} | {line.row.profile} | {len(line.row.seeds)} | " + " | ".join(cells) + " |\n")
        separator = section.order_separator
        out.write(f"\n{section.rank_by} ordering, measured: {separator.join(section.measured_order)}; "
                  f"published: {separator.join(section.published_order)}.\n\n")
        for note in section.notes:
            out.write(f"{note}\n\n")
    if not comparison.datasets:
        published = load_published(paper)
        datasets = ", ".join(k for k in published["datasets"]) + " (or stand-ins: " + ", ".join(
            s for v in published["datasets"].values() for s in v.get("stand_ins", [])) + ")"
        out.write(f"No run records of the paper's systems on {datasets} yet.\n")
    return out.getvalue()


def paper_has_rows(rows: list[Row], paper: str) -> bool:
    """Whether the run records cover any of the paper's datasets (or stand-ins), so its table is worth writing."""
    published = load_published(paper)
    if published.get("layout") == LOSS_WEIGHTS:
        return bool(loss_weight_rows(rows, published))
    if published.get("layout"):
        datasets = {name for key, info in published["datasets"].items() for name in [key, *info.get("stand_ins", [])]}
        systems = set(published.get("systems") or [published["system"]])
        return any(r.dataset in datasets and r.system in systems for r in rows)
    return bool(compare_with_paper(rows, paper).datasets)


def paper_figures(paper: str, records: list[RunRecord], out_dir: Path) -> list[Path]:
    """Figures a paper's table comes with (Wang & Metze's Fig. 2: TER per epoch), written to ``out_dir``."""
    published = load_published(paper)
    if published.get("layout") != FEATURE_LAYERS:
        return []
    svg = ter_curves_svg(feature_rows_of(records, published))
    if svg is None:
        return []
    path = Path(out_dir) / f"{paper}_ter_curves.svg"
    path.write_text(svg, encoding="utf-8")
    return [path]
