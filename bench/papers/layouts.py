"""Paper tables whose shape is not "systems x headline metrics".

* ``feature_layers`` (Wang & Metze 2017, Table 4): one row per input feature / layer of one
  system, with train / validation / test token error rates, plus the TER-per-epoch curves
  of Fig. 2 as a figure.
* ``class_table`` (Phan et al. 2018, Tables 1-2): event-based F1 and ER per class, their
  class average and the overall values, for each of the paper's systems side by side.

Both read ``Row`` objects from ``sedbench.publish.report.summarize``; the per-class event values and
the final-epoch TERs are part of each row's values (see ``report._pooled``).
"""

from __future__ import annotations

import io

import numpy as np

from sedbench.publish.report import Row

FEATURE_LAYERS = "feature_layers"
CLASS_TABLE = "class_table"


def _stats_text(row: Row, metric: str, digits: int) -> str:
    stats = row.mean_std(metric)
    if stats is None:
        return "—"
    return f"{stats[0]:.{digits}f} ± {stats[1]:.{digits}f}" if len(row.seeds) > 1 else f"{stats[0]:.{digits}f}"


def heading(published: dict) -> str:
    return (f"# {published['table']} of {published['paper']}, regenerated\n\n{published['citation']}\n\n"
            f"{published['caption']}\n\n")


def _datasets(published: dict) -> list[tuple[str, str, str]]:
    """(dataset the runs may use, the paper's dataset key, the paper's dataset name), paper's own first."""
    return [(name, key, info["name"]) for key, info in published["datasets"].items()
            for name in [key, *info.get("stand_ins", [])]]


def _stand_in_note(dataset: str, key: str, name: str) -> str:
    return "" if dataset == key else (f" — a stand-in for {name}: the published numbers are on different data, "
                                      "so no difference is computed")


# --------------------------------------------------------------------------- feature_layers (wang2017)


def _matches(row: Row, config: dict) -> bool:
    return all(str(row.config.get(key)) == str(value) for key, value in config.items())


def _feature_rows(rows: list[Row], published: dict, dataset: str) -> list[Row]:
    return [r for r in rows if r.system == published["system"] and r.dataset == dataset]


def feature_layer_table(rows: list[Row], published: dict) -> str:
    metrics = published["metrics"]
    out = io.StringIO()
    out.write(heading(published))
    any_rows = False
    for dataset, key, name in _datasets(published):
        members = _feature_rows(rows, published, dataset)
        if not members:
            continue
        any_rows = True
        same = dataset == key
        out.write(f"## {dataset}{_stand_in_note(dataset, key, name)}\n\n")
        out.write("| feature | layer | dims | profile | weights | seeds | epochs | train TER | val. TER | test TER "
                  "| val. TER @10 / 25 / 50 | wall (s) | config |\n|" + "---|" * 13 + "\n")
        used = set()
        for paper_row in published["rows"]:
            config = paper_row.get("config")
            matching = [r for r in members if config is not None and _matches(r, config)]
            values = paper_row.get("values", {})
            paper_cells = [f"(paper {values[m]:.1f})" if m in values else "" for m in metrics]
            if not matching:
                if values:
                    out.write(f"| {paper_row['feature']} | {paper_row['layer']} | {paper_row['dims']} | paper | | | "
                              f"{paper_row['epochs'] or '—'} | " + " | ".join(
                                  f"{values[m]:.1f}" if m in values else "—" for m in metrics) + " | | | |\n")
                continue
            for row in sorted(matching, key=lambda r: (r.profile, str(r.config.get("soundnet_weights")))):
                used.add(id(row))
                cells = []
                for metric, paper_cell in zip(metrics, paper_cells):
                    text = _stats_text(row, metric, 1)
                    stats = row.mean_std(metric)
                    if paper_cell and same and stats:
                        paper_cell = paper_cell[:-1] + f", Δ {stats[0] - values[metric]:+.1f})"
                    cells.append(f"{text} {paper_cell}".strip())
                early = " / ".join(_stats_text(row, f"TER_valid@{e}", 1) for e in (10, 25, 50))
                weights = row.config.get("soundnet_weights", "") if row.config.get("features") == "soundnet" else ""
                out.write(f"| {paper_row['feature']} | {paper_row['layer']} | {_dims(row)} | {row.profile} | "
                          f"{weights} | {len(row.seeds)} | {row.config.get('epochs', '—')} | " + " | ".join(cells)
                          + f" | {early} | {row.train_seconds:.0f} | {row.config_hash[:12]} |\n")
        others = [r for r in members if id(r) not in used]
        for row in others:
            out.write(f"| {row.config.get('features')} | {row.config.get('soundnet_layer', '')} | {_dims(row)} | "
                      f"{row.profile} | {row.config.get('soundnet_weights', '')} | {len(row.seeds)} | "
                      f"{row.config.get('epochs', '—')} | " + " | ".join(_stats_text(row, m, 1) for m in metrics)
                      + f" | | {row.train_seconds:.0f} | {row.config_hash[:12]} |\n")
        out.write("\n")
    if not any_rows:
        datasets = ", ".join(d for d, _, _ in _datasets(published))
        out.write(f"No run records of {published['system']} on {datasets} yet. For example:\n\n"
                  "    sedbench weights fetch soundnet\n"
                  "    sedbench run --system ctc-rnn --dataset synth --track-test\n"
                  "    sedbench run --system ctc-rnn --dataset synth --set features=logmel --track-test\n\n")
    out.write("TER in %, accumulated over files as word error rate is; train and validation TER are the system's "
              "own measurements after its last epoch, test TER the harness's; mean ± sample std over seeds. "
              "wall = mean fit time.\n")
    return out.getvalue()


def _dims(row: Row) -> str:
    if row.config.get("features") == "soundnet":
        return "256"
    return str(row.config.get("n_mels", "—"))


def feature_rows_of(records: list[dict], published: dict) -> list[tuple[str, list[dict]]]:
    """(series name, records) of the paper's system on any of its datasets, for the learning-curve figure."""
    datasets = {d for d, _, _ in _datasets(published)}
    groups: dict[tuple, list[dict]] = {}
    for record in records:
        if record["system"]["name"] != published["system"] or record["dataset"]["name"] not in datasets:
            continue
        config = record.get("config", {})
        name = (f"{record['dataset']['name']}: "
                + (f"SoundNet {config.get('soundnet_layer')} ({config.get('soundnet_weights')})"
                   if config.get("features") == "soundnet" else f"log-mel {config.get('n_mels')}")
                + f", {record['profile']}")
        groups.setdefault((name, record["config_hash"]), []).append(record)
    return [(name, members) for (name, _), members in sorted(groups.items())]


def ter_curves_svg(series: list[tuple[str, list[dict]]]) -> str | None:
    """Fig. 2: training loss and TER on the training, validation and test sets per epoch (seeds: thin lines)."""
    from sedbench.publish.plots import _colors, _pyplot, _svg

    series = [(name, [r for r in records if (r.get("history") or {}).get("train_TER")]) for name, records in series]
    series = [(name, records) for name, records in series if records]
    if not series:
        return None
    plt = _pyplot()
    fig, axes = plt.subplots(1, 4, figsize=(13, 3.2))
    titles = ("training loss (per-frame NLL)", "train TER (%)", "validation TER (%)", "test TER (%)")
    for (name, records), color in zip(series, _colors(len(series))):
        for i, record in enumerate(records):
            history = record["history"]
            label = name if i == 0 else None
            axes[0].plot(history["epoch"], history["train_loss"], color=color, linewidth=1, label=label)
            axes[1].plot(history["epoch"], history["train_TER"], color=color, linewidth=1)
            axes[2].plot(history["epoch"], history["valid_TER"], color=color, linewidth=1)
            curve = (record.get("test_curve") or {}).get("epochs", [])
            if curve:
                axes[3].plot([e["epoch"] for e in curve], [e.get("TER") for e in curve], color=color, linewidth=1)
    for ax, title in zip(axes, titles):
        ax.set_xlabel("epoch")
        ax.set_title(title, fontsize=9)
        ax.grid(alpha=0.3)
    axes[3].text(0.5, 0.02, "runs with --track-test only", transform=axes[3].transAxes, ha="center", fontsize=7)
    axes[0].legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return _svg(fig)


# --------------------------------------------------------------------------- class_table (phan2018)


def class_table(rows: list[Row], published: dict) -> str:
    systems = published["systems"]
    out = io.StringIO()
    out.write(heading(published))
    any_rows = False
    for dataset, key, name in _datasets(published):
        info = published["datasets"][key]
        members = {s: [r for r in rows if r.dataset == dataset and r.system == s] for s in systems}
        if not any(members.values()):
            continue
        any_rows = True
        paper_names = info.get("label_map", {})
        for (profile, settings), picked in _side_by_side(members, systems).items():
            labels = _labels(picked)
            changed = "".join(f", {k}={v}" for k, v in settings)
            out.write(f"## {dataset}, profile {profile}{changed}{_stand_in_note(dataset, key, name)}\n\n")
            out.write("| event type | " + " | ".join(f"{s} F1 | {s} ER" for s in systems) + " |\n")
            out.write("|---|" + "---|---|" * len(systems) + "\n")
            for label in [*labels, "Average", "Overall"]:
                paper_label = paper_names.get(label, label)
                cells = []
                for system in systems:
                    row = picked[system]
                    paper = info["values"].get(system, {}).get(paper_label)
                    for index, (metric, digits) in enumerate((("F1", 1), ("ER", 2))):
                        value_key = {"Average": f"{metric}_event/average", "Overall": f"{metric}_event"}.get(
                            label, f"{metric}_event/{label}")
                        text = _stats_text(row, value_key, digits) if row else "—"
                        if paper is not None:
                            text += f" ({paper[index]:.{digits}f})"
                        cells.append(text)
                out.write(f"| {label} | " + " | ".join(cells) + " |\n")
            seeds = ", ".join(f"{s}: {len(picked[s].seeds) if picked[s] else 0}" for s in systems)
            out.write(f"\nSeeds per system: {seeds}. Paper values in brackets"
                      + (" (the paper's class for each of our labels)" if paper_names else "") + ".\n\n")
    if not any_rows:
        datasets = ", ".join(d for d, _, _ in _datasets(published))
        out.write(f"No run records of {', '.join(systems)} on {datasets} yet. For example:\n\n"
                  + "".join(f"    sedbench run --system {s} --dataset synth\n" for s in systems) + "\n")
    out.write("Event-based metrics (sed_eval): F1 in %, ER as a ratio; Average = unweighted mean over classes, "
              "Overall = counts pooled over all events; mean ± sample std over seeds.\n")
    return out.getvalue()


def _side_by_side(members: dict[str, list[Row]], systems: list[str]) -> dict[tuple, dict[str, Row | None]]:
    """The systems' rows that share a profile and the values of every setting they have in common, one table each.

    The key's settings are those common settings whose values differ between the tables (e.g. epochs=30).
    """
    rows = [r for s in systems for r in members[s]]
    common = set.intersection(*(set(r.config) for r in rows))
    varying = sorted(k for k in common if len({str(r.config[k]) for r in rows}) > 1)
    tables: dict[tuple, dict[str, Row | None]] = {}
    for row in sorted(rows, key=lambda r: (r.profile, [str(r.config[k]) for k in varying])):
        key = (row.profile, tuple((k, row.config[k]) for k in varying))
        tables.setdefault(key, dict.fromkeys(systems))
        tables[key][row.system] = tables[key][row.system] or row
    return tables


def _labels(picked: dict[str, Row | None]) -> list[str]:
    labels: set[str] = set()
    for row in picked.values():
        if row:
            labels |= {m.split("/", 1)[1] for m in row.values if m.startswith("F1_event/") and m != "F1_event/average"}
    return sorted(labels)


def class_event_values(records: list[dict]) -> dict[str, float | None]:
    """Per-class event F1 (%) and ER (``F1_event/<label>``, ``ER_event/<label>``) and their class means.

    One record: sed_eval's own class-wise values. Several folds: recomputed from the summed class-wise counts with
    sed_eval's definitions. A class with an undefined F1 (no system or no reference events) is left out of the
    average, as sed_eval's class-wise average (a NaN-ignoring mean) does.
    """
    if not records or not all("class_wise" in r.get("metrics", {}).get("event", {}) for r in records):
        return {}
    values: dict[str, float | None] = {}
    if len(records) == 1:
        for label, scores in records[0]["metrics"]["event"]["class_wise"].items():
            values[f"F1_event/{label}"], values[f"ER_event/{label}"] = scores["F1"], scores["ER"]
    else:
        counts: dict[str, dict[str, float]] = {}
        for record in records:
            for label, scores in record["metrics"]["event"]["class_wise"].items():
                total = counts.setdefault(label, dict.fromkeys(("Nref", "Nsys", "Ntp", "Nfp", "Nfn"), 0.0))
                for name in total:
                    total[name] += scores["counts"][name]
        for label, c in counts.items():
            values[f"F1_event/{label}"] = (100 * 2 * c["Ntp"] / (c["Nref"] + c["Nsys"])
                                           if c["Nref"] and c["Nsys"] else None)
            values[f"ER_event/{label}"] = (c["Nfn"] + c["Nfp"]) / c["Nref"] if c["Nref"] else None
    for metric in ("F1", "ER"):
        present = [v for k, v in values.items() if k.startswith(f"{metric}_event/") and v is not None]
        values[f"{metric}_event/average"] = float(np.mean(present)) if present else None
    return values


def final_ter_values(record: dict) -> dict[str, float | None]:
    """The system's own train / validation TER after its last epoch, and the validation TER at epochs 10/25/50."""
    history = record.get("history") or {}
    if not history.get("valid_TER"):
        return {}
    values = {"TER_train": history["train_TER"][-1], "TER_valid": history["valid_TER"][-1]}
    for epoch in (10, 25, 50):
        if epoch in history.get("epoch", []):
            values[f"TER_valid@{epoch}"] = history["valid_TER"][history["epoch"].index(epoch)]
    return values
