"""Adavanne & Virtanen 2017 (``layout: loss_weights``): one line per (strong weight, weak weight) pair of the
weak-label CRNN, measured beside the slides' values; pairs of the paper's sweep without records are listed with
the command that produces them."""

from __future__ import annotations

import io
import itertools
import math
from collections import defaultdict

from sedbench.core.system import DEFAULT_PROFILE
from sedbench.publish.summary import Row

LOSS_WEIGHTS = "loss_weights"  # "layout" of a table whose rows are (strong weight, weak weight) pairs of one system


def _weight_pair(values: dict, keys: list[str]) -> tuple[float, ...] | None:
    try:
        return tuple(round(float(values[key]), 9) for key in keys)
    except (KeyError, TypeError, ValueError):
        return None


def loss_weight_rows(rows: list[Row], published: dict) -> list[Row]:
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
    base = f"sedbench run --system {system} --dataset {dataset}" + ("" if profile == DEFAULT_PROFILE else f" --profile {profile}")
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
    members = loss_weight_rows(rows, published)
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
                  + _missing_pairs_text(target, DEFAULT_PROFILE, sweep, keys, system))
        out.write("\n")
    out.write("Tagging metrics come from output 2 (thresholded clip tags), detection metrics from output 1 "
              "(thresholded frame outputs scored in 1 s segments); P, R and F1 in %, ER as a ratio; mean ± sample "
              "std over seeds.\n")
    return out.getvalue()
