"""The static leaderboard page: one self-contained HTML file built from run records.

Tables come from the same summaries as `sedbench report` (summary.summarize,
papers.tables.compare_with_paper), so the page and the Markdown/CSV never disagree.
CSS, JavaScript and the SVG figures are inline: the page opens from disk with
no server and no network. Everything user-provided is escaped by jinja2.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote, quote_plus, urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from sedbench.papers.claims import claim_verdicts
from sedbench.papers.published import format_delta, format_published, load_published, published_papers
from sedbench.papers.tables import ComparedDataset, PaperComparison, compare_with_paper
from sedbench.pipeline.record import PACKAGES, RunRecord

from . import plots
from .significance import LEVELS, RESAMPLES, compare_with_best
from .summary import (
    LOWER_IS_BETTER,
    MIN_F1_FOR_BEST,
    RecordRef,
    Row,
    columns,
    digits,
    format_cell,
    headline_metric,
    level_f1,
    pitch_shifts,
    summarize,
)

TEMPLATES = Path(__file__).parent / "templates"


@dataclass
class Cell:
    text: str
    sort: float | None  # the mean; None = missing
    best: bool = False
    mark: str = ""  # "*": significantly different from the best row; "n.s.": not (the tested column only)
    title: str = ""  # the bootstrap interval behind the mark
    published: str = ""  # the paper's value for this row and metric, where the runs used the paper's own data
    published_in: str = ""  # which paper table it comes from


@dataclass
class Line:
    row: Row
    cells: list[Cell]
    links: list[tuple[RecordRef, str]]  # (record, href relative to the page)
    versions: dict[str, str | None]
    config_json: str
    paper_href: str = ""  # the paper's URL when it is a web address, else a search for its title
    details_id: str = ""  # the id of the row's details dialog (records, versions, config)


@dataclass
class Section:
    name: str
    slug: str
    labels: list[str]
    metrics: tuple[str, ...]
    lines: list[Line]
    tested: str | None = None  # the column whose differences to the best row are bootstrap-tested
    ranked_by: str | None = None  # the dataset's headline metric: rows come best first on it
    claims: list = field(default_factory=list)  # papers' claims judged on this dataset (sedbench.papers.claims)
    shifts: list[str] = field(default_factory=list)  # pitch shifts (quartertones) any row was evaluated at
    comparisons: list[tuple[PaperComparison, ComparedDataset]] = field(default_factory=list)
    plots: list[tuple[str, str, Markup]] = field(default_factory=list)  # (title, caption, svg)


def _slug(name: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "dataset"
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    taken.add(slug)
    return slug


def _href(path: str, page_dir: Path | None) -> str:
    """A relative link from the page to a record, percent-encoded (record paths may hold spaces or '#')."""
    if not path:
        return ""
    if page_dir is None:
        return quote(Path(path).as_posix())
    try:
        return quote(Path(os.path.relpath(Path(path).resolve(), page_dir.resolve())).as_posix())
    except ValueError:  # another drive on Windows
        return Path(path).resolve().as_uri()


def _paper_link(url: str | None, citation: str) -> str:
    """The paper's own address, or for a paper without one a scholarly search for its quoted title."""
    link = _web_link(url)
    if link or not citation:
        return link
    title = re.search(r'"([^"]+)"', citation)
    return "https://scholar.google.com/scholar?q=" + quote_plus(title.group(1) if title else citation)


def _web_link(url: str | None) -> str:
    """``url`` if it is an http(s) address, else "": escaping keeps a record's URL inside the href attribute, but a
    javascript: or data: URL there would still run when clicked."""
    url = (url or "").strip()
    return url if urlsplit(url).scheme.lower() in ("http", "https") else ""


def _best_rows(rows: list[Row], metric: str) -> set[int]:
    """Indices of the rows holding the best mean of a metric (all of them on a tie). A row whose F1 at the
    metric's level is below 1 % detects next to nothing: its low error rates are not a result, so it never wins."""
    f1 = level_f1(metric)
    means = {i: row.mean_std(metric)[0] for i, row in enumerate(rows) if row.mean_std(metric)
             and (f1 is None or (row.mean_std(f1) or (0.0, 0.0))[0] >= MIN_F1_FOR_BEST)}
    if not means:
        return set()
    target = min(means.values()) if metric in LOWER_IS_BETTER else max(means.values())
    precision = 10 ** -(digits(metric) + 2)
    return {i for i, value in means.items() if abs(value - target) < precision}


def _published_values(papers: list[tuple[PaperComparison, ComparedDataset]]) -> dict[int, dict[str, tuple]]:
    """id(row) -> metric -> (formatted published value, "Table II of cakir2017"), from the comparisons on the
    paper's own data only: a stand-in's published numbers were measured on something else."""
    values: dict[int, dict[str, tuple]] = {}
    for comparison, compared in papers:
        if compared.stand_in:
            continue
        for compared_row in compared.rows:
            for metric, cell in compared_row.cells.items():
                if cell.published is not None:
                    values.setdefault(id(compared_row.row), {}).setdefault(
                        metric, (format_published(cell.published, metric), f"{comparison.table} of {comparison.paper}"))
    return values


def _lines(rows: list[Row], metrics: tuple[str, ...], page_dir: Path | None, tested: str | None,
           papers: list[tuple[PaperComparison, ComparedDataset]] = (), slug: str = "") -> list[Line]:
    best = {metric: _best_rows(rows, metric) for metric in metrics}
    _, comparisons = compare_with_best(rows, tested) if tested else (None, {})
    published = _published_values(list(papers))
    lines = []
    for i, row in enumerate(rows):
        cells = []
        for metric in metrics:
            stats = row.mean_std(metric)
            cell = Cell(text=format_cell(row, metric), sort=stats[0] if stats else None, best=i in best[metric])
            comparison = comparisons.get(i) if metric == tested else None
            if comparison is not None:
                cell.mark = "*" if comparison.significant else "n.s."
                cell.title = comparison.text(digits(metric))
            cell.published, cell.published_in = published.get(id(row), {}).get(metric, ("", ""))
            cells.append(cell)
        versions = row.records[0].versions if row.records else {}
        lines.append(Line(
            row=row, cells=cells, links=[(ref, _href(ref.path, page_dir)) for ref in row.records],
            versions={name: versions.get(name) for name in PACKAGES if name in versions},
            config_json=json.dumps(row.config, indent=1, sort_keys=True, default=str),
            paper_href=_paper_link(row.paper_url, row.citation), details_id=f"details-{slug}-{i + 1}",
        ))
    return lines


def _series(rows: list[Row]) -> plots.Series:
    series = []
    for row in rows:
        members = sorted(row.runs, key=lambda r: (r.fold, r.seed))
        name = row.system if sum(r.system == row.system for r in rows) == 1 else f"{row.system} ({row.profile})"
        series.append((name, members))
    return series


def _plots(rows: list[Row]) -> list[tuple[str, str, Markup]]:
    series = _series(rows)
    figures = [
        ("Event activity: ground truth and system outputs", plots.activity(series),
         "Reference events and each system's detected events (after post-processing) over the excerpt kept in its "
         "first record (lowest seed), as in Fig. 3 and 6 of Cakir et al. 2017."),
        ("Class-wise F1", plots.class_wise_f1(series),
         "F1 (%) per class (columns) and system configuration (rows) at frame level, tag level for tagging "
         "datasets; mean over each row's records. A blank cell has no F1 for that class."),
        ("PSD-ROC", plots.psd_roc(series),
         "Effective true positive rate over effective false positives per hour for PSDS1 (dtc = gtc = 0.7) and PSDS2 "
         "(dtc = gtc = 0.1, cttc = 0.3), from each system's stored test scores (sed_scores_eval); the area up to "
         "100 per hour, normalized, is the PSDS in the legend. A system that outputs events has one operating point."),
        ("Training curves", plots.training_curves(series),
         "Validation F1_frm and training loss per epoch; one line per record, seeds share their system's colour."),
    ]
    # matplotlib writes the SVG and escapes every label and name in it, so it is inserted as markup.
    return [(title, caption, Markup(svg)) for title, svg, caption in figures if svg]


def build_sections(records: list[RunRecord], page_dir: Path | None = None) -> list[Section]:
    rows = summarize(records)
    comparisons = [compare_with_paper(rows, paper) for paper in published_papers()]
    verdicts = [v for paper in published_papers() for v in claim_verdicts(rows, load_published(paper))]
    sections, taken = [], set()
    for dataset in sorted({row.dataset for row in rows}):
        members = [row for row in rows if row.dataset == dataset]
        metrics = columns(members)
        ranked_by = headline_metric(dataset)
        if ranked_by in metrics:
            members = _ranked(members, ranked_by)
        else:
            ranked_by = None
        tested = next((m for m in metrics if m in LEVELS), None)
        labels = next((list(r.dataset.labels) for r in records if r.dataset.name == dataset), [])
        slug = _slug(dataset, taken)
        papers = [(c, d) for c in comparisons for d in c.datasets if d.dataset == dataset]
        sections.append(Section(
            name=dataset, slug=slug, labels=labels, metrics=metrics, tested=tested,
            lines=_lines(members, metrics, page_dir, tested, papers, slug), shifts=pitch_shifts(members),
            comparisons=papers,
            plots=_plots(members), ranked_by=ranked_by,
            claims=[v for v in verdicts if v.dataset == dataset],
        ))
    return sections


def _ranked(rows: list[Row], metric: str) -> list[Row]:
    """Best mean first; rows without the metric last, in their order."""
    sign = 1.0 if metric in LOWER_IS_BETTER else -1.0
    return sorted(rows, key=lambda row: (row.mean_std(metric) is None,
                                         sign * row.mean_std(metric)[0] if row.mean_std(metric) else 0.0))


def _delta_class(delta: float | None, metric: str) -> str:
    if delta is None or delta == 0:
        return ""
    better = delta < 0 if metric in LOWER_IS_BETTER else delta > 0
    return "delta-pos" if better else "delta-neg"


def render(records: list[RunRecord], page_dir: Path | None = None) -> str:
    """The page as a string; record links are made relative to page_dir (where the page will be written)."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True,
                                                                                       default_for_string=True))
    return env.get_template("leaderboard.html.j2").render(
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        n_records=len(records), sections=build_sections(records, page_dir), lower=LOWER_IS_BETTER, resamples=RESAMPLES,
        format_cell=format_cell, format_published=format_published, format_delta=format_delta,
        delta_class=_delta_class,
    )


def write_leaderboard(records: list[RunRecord], path: Path) -> Path:
    """Render and replace the page atomically: a reader never sees half a page."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(render(records, path.parent), encoding="utf-8")
    tmp.replace(path)
    return path
