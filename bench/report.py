"""Tables from run records: mean +- std over seeds, folds pooled by summing counts (micro average)."""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HEADLINE = ("F1_frm", "ER_frm", "F1_1s", "ER_1s", "F1_event", "ER_event")
TAGGING = ("F1_tag", "EER")
LOWER_IS_BETTER = {"ER_frm", "ER_1s", "ER_event", "EER"}


def columns(rows: list["Row"]) -> tuple[str, ...]:
    """The metrics any of the rows has, in a fixed order (event metrics, then tagging)."""
    present = {m for r in rows for m, values in r.values.items() if any(v is not None for v in values)}
    return tuple(m for m in HEADLINE + TAGGING if m in present) or HEADLINE


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


def _pooled(records: list[dict]) -> dict[str, float]:
    """Headline metrics of one seed; with several folds, recomputed from the summed counts (micro average)."""
    if len(records) == 1 or "frame" not in records[0]["metrics"]:
        return dict(records[0]["headline"])  # tagging results are not pooled over folds here
    pooled = {}
    for key, level in (("frm", "frame"), ("1s", "1s")):
        c = _summed(records, level)
        pooled[f"F1_{key}"] = _f1(c["Ntp"], c["Nsys"], c["Nref"])
        pooled[f"ER_{key}"] = (c["S"] + c["D"] + c["I"]) / c["Nref"] if c["Nref"] else float("nan")
    c = _summed(records, "event")  # sed_eval: ER = (substitutions + Nfn + Nfp) / Nref
    pooled["F1_event"] = _f1(c["Ntp"], c["Nsys"], c["Nref"])
    pooled["ER_event"] = (c["Nsubs"] + c["Nfn"] + c["Nfp"]) / c["Nref"] if c["Nref"] else float("nan")
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
            )
        )
    return rows


def format_cell(row: Row, metric: str) -> str:
    stats = row.mean_std(metric)
    if stats is None:
        return "—"
    mean, std = stats
    digits = 1 if metric.startswith("F1") else 2 if metric.startswith("ER") else 3
    return f"{mean:.{digits}f} ± {std:.{digits}f}" if len(row.seeds) > 1 else f"{mean:.{digits}f}"


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
    out.write("F1 in %, ER as a ratio; mean ± sample std over seeds; segment and event statistics are accumulated "
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


def write_reports(rows: list[Row], out_dir: Path) -> tuple[Path, Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    md, table = out_dir / "results.md", out_dir / "results.csv"
    md.write_text("# sedbench results\n\n" + markdown(rows), encoding="utf-8")
    table.write_text(csv_text(rows), encoding="utf-8")
    return md, table


# --------------------------------------------------------------------------- paper tables

PUBLISHED_DIR = Path(__file__).parent / "published"


def load_published(paper: str) -> dict:
    import json

    path = PUBLISHED_DIR / f"{paper}.json"
    if not path.exists():
        from .errors import SedbenchError

        known = ", ".join(sorted(p.stem for p in PUBLISHED_DIR.glob("*.json"))) or "none"
        raise SedbenchError(f"no published table for paper {paper!r}; papers with tables: {known}")
    return json.loads(path.read_text(encoding="utf-8"))


def _published_cell(values: list | None, metric: str) -> str:
    if not values:
        return "—"
    mean, std = values
    digits = 1 if metric.startswith("F1") else 2
    return f"{mean:.{digits}f}" + (f" ± {std:.{digits}f}" if std is not None else "")


def paper_table(rows: list[Row], paper: str) -> str:
    """The paper's result table regenerated from run records, published numbers beside the measured ones."""
    published = load_published(paper)
    metrics = published["metrics"]
    order = {name: i for i, name in enumerate(published["systems"])}
    out = io.StringIO()
    out.write(f"# {published['table']} of {paper}, regenerated\n\n{published['citation']}\n\n{published['caption']}\n\n")
    wrote = False
    for key, info in published["datasets"].items():
        for dataset in [key, *info.get("stand_ins", [])]:
            members = sorted((r for r in rows if r.dataset == dataset and r.system in order),
                             key=lambda r: (order[r.system], r.profile))
            if not members:
                continue
            wrote = True
            same = dataset == key
            title = f"{dataset}" + ("" if same else f" — a stand-in for {info['name']}: the published numbers are on "
                                                     "different data, so no difference is computed")
            out.write(f"## {title}\n\n| system | profile | seeds | " + " | ".join(metrics) + " |\n")
            out.write("|---|---|---|" + "---|" * len(metrics) + "\n")
            for row in members:
                cells = []
                for metric in metrics:
                    measured = format_cell(row, metric)
                    paper_values = info["values"].get(row.system, {}).get(metric)
                    cell = f"{measured} (paper {_published_cell(paper_values, metric)}"
                    stats = row.mean_std(metric)
                    if same and paper_values and stats:
                        cell += f", Δ {stats[0] - paper_values[0]:+.{1 if metric.startswith('F1') else 2}f}"
                    cells.append(cell + ")")
                out.write(f"| {row.system} | {row.profile} | {len(row.seeds)} | " + " | ".join(cells) + " |\n")
            ranked = sorted((r for r in members if r.mean_std("F1_frm")), key=lambda r: -r.mean_std("F1_frm")[0])
            paper_rank = sorted(info["values"], key=lambda s: -info["values"][s]["F1_frm"][0])
            out.write(f"\nF1_frm ordering, measured: {' > '.join(f'{r.system} ({r.profile})' for r in ranked)}; "
                      f"published: {' > '.join(paper_rank)}.\n\n")
    if not wrote:
        datasets = ", ".join(k for k in published["datasets"]) + " (or stand-ins: " + ", ".join(
            s for v in published["datasets"].values() for s in v.get("stand_ins", [])) + ")"
        out.write(f"No run records of the paper's systems on {datasets} yet.\n")
    return out.getvalue()
