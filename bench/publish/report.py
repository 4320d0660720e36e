"""Tables from run records: mean +- std over seeds, folds pooled by summing counts (micro average)."""

from __future__ import annotations

import csv
import io
import itertools
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HEADLINE = ("F1_frm", "ER_frm", "F1_1s", "ER_1s", "F1_event", "ER_event")
LEGACY = ("F1_1s_legacy",)  # TUT-SED 2009's scene-averaged segment F1, for datasets with scenes
RARE = ("ER_rare", "F1_rare")  # DCASE2017 task 2: onset-only events, 500 ms collar, averaged over classes
TAGGING = ("F1_tag", "P_tag", "R_tag", "EER")
TRANSCRIPTION = ("TER",)  # token error rate of CTC systems


class _LowerIsBetter(frozenset):
    """Metric names where lower is better; a per-class name such as 'ER_rare/babycry' goes with 'ER_rare'."""

    def __contains__(self, metric) -> bool:
        return super().__contains__(str(metric).split("/", 1)[0])


LOWER_IS_BETTER = _LowerIsBetter({"ER_frm", "ER_1s", "ER_event", "ER_rare", "EER", "TER"})


def columns(rows: list["Row"]) -> tuple[str, ...]:
    """The metrics any of the rows has, in a fixed order (event metrics, rare events, tagging, transcription)."""
    present = {m for r in rows for m, values in r.values.items() if any(v is not None for v in values)}
    return tuple(m for m in HEADLINE + LEGACY + RARE + TAGGING + TRANSCRIPTION if m in present) or HEADLINE


@dataclass
class RecordRef:
    """What a reader needs to find and trust one run record behind a table row."""

    path: str
    seed: int
    fold: str
    created: str
    git_commit: str | None
    fingerprint: str
    device: str
    wall_seconds: float
    versions: dict[str, str | None]

    @classmethod
    def of(cls, record: dict) -> "RecordRef":
        device = record.get("device", {})
        return cls(
            path=record.get("_path", ""), seed=record["seed"], fold=record["fold"], created=record.get("created", ""),
            git_commit=record.get("environment", {}).get("git_commit"),
            fingerprint=record["dataset"].get("fingerprint", ""),
            device=" ".join(str(device[k]) for k in ("type", "name") if device.get(k)) or "unknown",
            wall_seconds=float(record.get("timings", {}).get("total", 0.0)),
            versions=dict(record.get("environment", {}).get("versions", {})),
        )


@dataclass
class Row:
    dataset: str
    system: str
    profile: str
    config_hash: str
    seeds: list[int]
    folds: list[str]
    values: dict[str, list[float]]  # metric -> one value per seed
    parameters: int | None
    train_seconds: float
    citation: str = ""
    paper_url: str = ""
    config: dict = field(default_factory=dict)
    records: list[RecordRef] = field(default_factory=list)
    pitch_shift: dict[str, list[float]] = field(default_factory=dict)  # shift -> |ΔF1_frm| per record

    def pitch_shift_cell(self, shift: str) -> str:
        values = self.pitch_shift.get(shift)
        if not values:
            return "—"
        return f"{np.mean(values):.1f} ± {np.std(values, ddof=1):.1f}" if len(values) > 1 else f"{values[0]:.1f}"

    def mean_std(self, metric: str) -> tuple[float, float] | None:
        values = [v for v in self.values.get(metric, []) if v is not None and not math.isnan(v)]
        if not values:
            return None
        return float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def _f1(tp: float, n_sys: float, n_ref: float) -> float:
    if not n_sys or not n_ref or not tp:
        return 0.0
    precision, recall = tp / n_sys, tp / n_ref
    return 100 * 2 * precision * recall / (precision + recall)


def _summed(records: list[dict], level: str) -> dict[str, float]:
    counts: dict[str, float] = defaultdict(float)
    for record in records:
        for name, value in record["metrics"][level]["overall"]["counts"].items():
            counts[name] += value
    return counts


def _rare_values(records: list[dict]) -> dict[str, float | None]:
    """DCASE2017 task 2 error rate per class (``ER_rare/<class>``); over several folds also ER_rare / F1_rare,
    recomputed from the summed onset-only counts of each class, then averaged over classes as the task does."""
    if not records or not all("rare" in record["metrics"] for record in records):
        return {}
    if len(records) == 1:
        return {f"ER_rare/{label}": scores["ER"] for label, scores in records[0]["metrics"]["rare"]["class_wise"].items()}
    counts: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for record in records:
        for label, scores in record["metrics"]["rare"]["class_wise"].items():
            for name, value in scores["counts"].items():
                counts[label][name] += value
    values: dict[str, float | None] = {}
    f1s = []
    for label, c in counts.items():  # one label per metric object: ER = (FN + FP) / Nref
        values[f"ER_rare/{label}"] = (c["Nfn"] + c["Nfp"]) / c["Nref"] if c["Nref"] else None
        if c["Nref"]:
            f1s.append(_f1(c["Ntp"], c["Nsys"], c["Nref"]))
    ers = [v for v in values.values() if v is not None]
    values["ER_rare"] = float(np.mean(ers)) if ers else None
    values["F1_rare"] = float(np.mean(f1s)) if f1s else None
    return values


def _pooled(records: list[dict]) -> dict[str, float]:
    """Headline metrics of one seed; with several folds, recomputed from the summed counts (micro average)."""
    from sedbench.papers.layouts import class_event_values, final_ter_values

    if len(records) == 1 or "frame" not in records[0]["metrics"]:
        # tagging results are not pooled over folds here
        return {**records[0]["headline"], **_rare_values(records[:1]), **class_event_values(records[:1]),
                **final_ter_values(records[0])}
    pooled = {}
    for key, level in (("frm", "frame"), ("1s", "1s")):
        c = _summed(records, level)
        pooled[f"F1_{key}"] = _f1(c["Ntp"], c["Nsys"], c["Nref"])
        pooled[f"ER_{key}"] = (c["S"] + c["D"] + c["I"]) / c["Nref"] if c["Nref"] else float("nan")
    c = _summed(records, "event")  # sed_eval: ER = (substitutions + Nfn + Nfp) / Nref
    pooled["F1_event"] = _f1(c["Ntp"], c["Nsys"], c["Nref"])
    pooled["ER_event"] = (c["Nsubs"] + c["Nfn"] + c["Nfp"]) / c["Nref"] if c["Nref"] else float("nan")
    if all("legacy_1s" in record["metrics"] for record in records):
        from sedbench.scoring.metrics import legacy_f1_from_sums

        scenes: dict[str, dict[str, float]] = defaultdict(lambda: {"F1_sum": 0.0, "segments": 0, "skipped": 0})
        for record in records:  # segment F1s of a scene are averaged over all its test segments, every fold
            for scene, totals in record["metrics"]["legacy_1s"]["scenes"].items():
                for key in ("F1_sum", "segments", "skipped"):
                    scenes[scene][key] += totals[key]
        pooled["F1_1s_legacy"] = legacy_f1_from_sums(dict(scenes))["F1"]
    pooled.update(_rare_values(records))
    pooled.update(class_event_values(records))
    return pooled


def summarize(records: list[dict]) -> list[Row]:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for record in records:
        key = (record["dataset"]["name"], record["system"]["name"], record["profile"], record["config_hash"])
        groups[key].append(record)
    rows = []
    for (dataset, system, profile, chash), members in sorted(groups.items()):
        by_seed: dict[int, list[dict]] = defaultdict(list)
        for record in members:
            by_seed[record["seed"]].append(record)
        values: dict[str, list[float]] = defaultdict(list)
        for seed in sorted(by_seed):
            for metric, value in _pooled(by_seed[seed]).items():
                values[metric].append(value)
        rows.append(
            Row(
                dataset=dataset, system=system, profile=profile, config_hash=chash, seeds=sorted(by_seed),
                folds=sorted({r["fold"] for r in members}), values=dict(values),
                parameters=members[0]["system"].get("parameters"),
                train_seconds=float(np.mean([r["timings"].get("fit", 0.0) for r in members])),
                citation=members[0]["system"].get("citation", ""),
                paper_url=members[0]["system"].get("url") or _registered_paper_url(system),
                config=dict(members[0].get("config", {})),
                records=[RecordRef.of(r) for r in sorted(members, key=lambda r: (r["seed"], r["fold"]))],
                pitch_shift=_pitch_shift_changes(members),
            )
        )
    return rows


def _pitch_shift_changes(records: list[dict]) -> dict[str, list[float]]:
    changes: dict[str, list[float]] = defaultdict(list)
    for record in records:
        shifts = (record.get("robustness") or {}).get("pitch_shift", {}).get("shifts", {})
        for shift, result in shifts.items():
            if result.get("abs_change_F1_frm") is not None:
                changes[shift].append(float(result["abs_change_F1_frm"]))
    return dict(sorted(changes.items(), key=lambda item: float(item[0])))


def pitch_shifts(rows: list[Row]) -> list[str]:
    """The shifts any row was evaluated at, in numeric order (e.g. -2, -1, +1, +2 quartertones)."""
    return sorted({shift for row in rows for shift in row.pitch_shift}, key=float)


def _registered_paper_url(system: str) -> str:
    """Older records carry no paper link: take it from the installed system, if there is one."""
    from sedbench.core import registry
    from sedbench.core.errors import SedbenchError

    try:
        return registry.systems.get(system).paper.url
    except SedbenchError:
        return ""


def digits(metric: str) -> int:
    return 1 if metric.startswith("F1") else 2 if metric.startswith(("ER", "TER")) else 3


def format_cell(row: Row, metric: str) -> str:
    stats = row.mean_std(metric)
    if stats is None:
        return "—"
    mean, std = stats
    d = digits(metric)
    return f"{mean:.{d}f} ± {std:.{d}f}" if len(row.seeds) > 1 else f"{mean:.{d}f}"


def markdown(rows: list[Row]) -> str:
    out = io.StringIO()
    for dataset in sorted({r.dataset for r in rows}):
        members = [r for r in rows if r.dataset == dataset]
        metrics = columns(members)
        out.write(f"## {dataset}\n\n")
        out.write("| system | profile | seeds | " + " | ".join(metrics) + " | parameters | train s |\n")
        out.write("|---|---|---|" + "---|" * len(metrics) + "---|---|\n")
        for row in members:
            cells = [format_cell(row, m) for m in metrics]
            params = f"{row.parameters:,}" if row.parameters else "—"
            out.write(f"| {row.system} | {row.profile} | {len(row.seeds)} | " + " | ".join(cells)
                      + f" | {params} | {row.train_seconds:.0f} |\n")
        out.write("\n")
        shifts = pitch_shifts(members)
        if shifts:
            out.write("Pitch-shift robustness (Cakir et al. 2017, Fig. 5): absolute change of F1_frm (percentage "
                      "points) when the test audio is shifted by the given quartertones; mean ± std over seeds.\n\n")
            out.write("| system | profile | " + " | ".join(f"{s} qt" for s in shifts) + " |\n")
            out.write("|---|---|" + "---|" * len(shifts) + "\n")
            for row in members:
                if row.pitch_shift:
                    out.write(f"| {row.system} | {row.profile} | "
                              + " | ".join(row.pitch_shift_cell(s) for s in shifts) + " |\n")
            out.write("\n")
    out.write("F1 in %, ER/EER/TER as ratios; mean ± sample std over seeds; segment and event statistics are accumulated "
              "over all test files (and summed over folds) before computing each seed's value.\n")
    return out.getvalue()


def csv_text(rows: list[Row]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    header = ["dataset", "system", "profile", "config_hash", "seeds", "folds", "parameters", "train_seconds"]
    metrics = columns(rows)
    for metric in metrics:
        header += [f"{metric}_mean", f"{metric}_std"]
    writer.writerow(header)
    for row in rows:
        line = [row.dataset, row.system, row.profile, row.config_hash, len(row.seeds), " ".join(row.folds),
                row.parameters or "", f"{row.train_seconds:.1f}"]
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


# --------------------------------------------------------------------------- paper tables

PUBLISHED_DIR = Path(__file__).parent.parent / "papers" / "published"


def load_published(paper: str) -> dict:
    import json

    path = PUBLISHED_DIR / f"{paper}.json"
    if not path.exists():
        from sedbench.core.errors import SedbenchError

        known = ", ".join(sorted(p.stem for p in PUBLISHED_DIR.glob("*.json"))) or "none"
        raise SedbenchError(f"no published table for paper {paper!r}; papers with tables: {known}")
    return json.loads(path.read_text(encoding="utf-8"))


def published_papers() -> list[str]:
    return sorted(p.stem for p in PUBLISHED_DIR.glob("*.json"))


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


def format_published(values: tuple | None, metric: str) -> str:
    if not values:
        return "—"
    mean, std = values
    d = digits(metric)
    return f"{mean:.{d}f}" + (f" ± {std:.{d}f}" if std is not None else "")


def format_delta(delta: float | None, metric: str) -> str:
    return "" if delta is None else f"{delta:+.{digits(metric)}f}"


def paper_table(rows: list[Row], paper: str) -> str:
    """The paper's result table regenerated from run records, published numbers beside the measured ones."""
    published = load_published(paper)
    layout = published.get("layout")
    if layout == LOSS_WEIGHTS:
        return loss_weight_table(rows, published)
    if layout:
        from sedbench.papers import layouts

        return {layouts.FEATURE_LAYERS: layouts.feature_layer_table,
                layouts.CLASS_TABLE: layouts.class_table}[layout](rows, published)
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
        return bool(_loss_weight_rows(rows, published))
    if published.get("layout"):
        datasets = {name for key, info in published["datasets"].items() for name in [key, *info.get("stand_ins", [])]}
        systems = set(published.get("systems") or [published["system"]])
        return any(r.dataset in datasets and r.system in systems for r in rows)
    return bool(compare_with_paper(rows, paper).datasets)


# --------------------------------------------------------------------------- loss-weight tables (adavanne2017)

LOSS_WEIGHTS = "loss_weights"  # "layout" of a table whose rows are (strong weight, weak weight) pairs of one system


def _weight_pair(values: dict, keys: list[str]) -> tuple[float, ...] | None:
    try:
        return tuple(round(float(values[key]), 9) for key in keys)
    except (KeyError, TypeError, ValueError):
        return None


def _loss_weight_rows(rows: list[Row], published: dict) -> list[Row]:
    datasets = {name for key, info in published["datasets"].items() for name in [key, *info.get("stand_ins", [])]}
    return [r for r in rows if r.system == published["system"] and r.dataset in datasets
            and _weight_pair(r.config, published["weights"]) is not None]


def _weight_text(value: float) -> str:
    return f"{value:g}"


def _loss_weight_cell(row: Row, metric: str, paper_value: float | None, same_data: bool) -> str:
    digits_ = 2 if metric.startswith("ER") else 1
    stats = row.mean_std(metric)
    measured = "—" if stats is None else (f"{stats[0]:.{digits_}f} ± {stats[1]:.{digits_}f}" if len(row.seeds) > 1
                                         else f"{stats[0]:.{digits_}f}")
    if paper_value is None:
        return f"{measured} (paper —)"
    text = f"{measured} (paper {paper_value:.{digits_}f}"
    if same_data and stats is not None:
        text += f", Δ {stats[0] - paper_value:+.{digits_}f}"
    return text + ")"


def _missing_pairs_text(dataset: str, profile: str, missing: list[tuple[float, ...]], keys: list[str],
                        system: str) -> str:
    """The command of each missing pair and, when the pairs form a product, one --sweep command for all of them."""
    base = f"sedbench run --system {system} --dataset {dataset}" + ("" if profile == "quick" else f" --profile {profile}")
    lines = [base + "".join(f" --set {key}={_weight_text(value)}" for key, value in zip(keys, pair))
             for pair in missing]
    text = "Run them one pair at a time:\n\n" + "".join(f"    {line}\n" for line in lines)
    axes = [sorted({pair[i] for pair in missing}) for i in range(len(keys))]
    if len(missing) > 1 and math.prod(len(axis) for axis in axes) == len(missing):
        parts = [f" --sweep {key}={','.join(map(_weight_text, axis))}" if len(axis) > 1
                 else f" --set {key}={_weight_text(axis[0])}" for key, axis in zip(keys, axes)]
        text += "\nor all of them in one command:\n\n    " + base + "".join(parts) + "\n"
    return text


def loss_weight_table(rows: list[Row], published: dict) -> str:
    """One line per loss-weight pair of the paper's system, measured (mean ± std over seeds) beside the paper's.

    Pairs of the paper's sweep without run records are listed with the command that produces them.
    """
    keys, metrics, system = published["weights"], published["metrics"], published["system"]
    paper_rows = {_weight_pair(r, keys): r["values"] for r in published["rows"]}
    paper_order = list(paper_rows)
    sweep = [tuple(round(float(v), 9) for v in combo)
             for combo in itertools.product(*(published["sweep"][key] for key in keys))]
    dataset_order = [name for key, info in published["datasets"].items() for name in [key, *info.get("stand_ins", [])]]
    paper_dataset = {name: (key, info["name"]) for key, info in published["datasets"].items()
                     for name in [key, *info.get("stand_ins", [])]}
    members = _loss_weight_rows(rows, published)
    groups: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for row in members:
        groups[(row.dataset, row.profile)].append(row)
    out = io.StringIO()
    out.write(f"# {published['table']} of {published['paper']}, regenerated\n\n{published['citation']}\n\n"
              f"{published['caption']}\n\n")
    headers = [key.replace("_", " ") for key in keys]
    for dataset, profile in sorted(groups, key=lambda g: (dataset_order.index(g[0]), g[1])):
        key, name = paper_dataset[dataset]
        same = dataset == key
        out.write(f"## {dataset}, profile {profile}" + ("" if same else f" — a stand-in for {name}: the published "
                  "numbers are on different data, so no difference is computed") + "\n\n")
        out.write("| " + " | ".join(headers) + " | seeds | " + " | ".join(metrics) + " | config |\n")
        out.write("|" + "---|" * (len(keys) + len(metrics) + 2) + "\n")

        def order(row: Row):
            pair = _weight_pair(row.config, keys)
            return (paper_order.index(pair) if pair in paper_rows else len(paper_order), pair, row.config_hash)

        for row in sorted(groups[(dataset, profile)], key=order):
            pair = _weight_pair(row.config, keys)
            values = paper_rows.get(pair, {})
            cells = [_loss_weight_cell(row, metric, values.get(metric), same) for metric in metrics]
            out.write("| " + " | ".join(map(_weight_text, pair)) + f" | {len(row.seeds)} | " + " | ".join(cells)
                      + f" | {row.config_hash[:12]} |\n")
        found = {_weight_pair(row.config, keys) for row in groups[(dataset, profile)]}
        missing = [pair for pair in sweep if pair not in found]
        if missing:
            out.write(f"\nSweep pairs ({', '.join(keys)}) without run records here: "
                      + ", ".join("(" + ", ".join(map(_weight_text, pair)) + ")" for pair in missing) + ". "
                      + _missing_pairs_text(dataset, profile, missing, keys, system))
        out.write("\n")
    if not groups:
        datasets = ", ".join(dataset_order)
        target = next((name for name in dataset_order if name not in published["datasets"]), dataset_order[0])
        out.write(f"No run records of {system} on {datasets} yet; the paper's sweep pairs on {target}. "
                  + _missing_pairs_text(target, "quick", sweep, keys, system))
        out.write("\n")
    out.write("Tagging metrics come from output 2 (thresholded clip tags), detection metrics from output 1 "
              "(thresholded frame outputs scored in 1 s segments); P, R and F1 in %, ER as a ratio; mean ± sample "
              "std over seeds.\n")
    return out.getvalue()
