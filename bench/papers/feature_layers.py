"""Wang & Metze 2017, Table 4 (``layout: feature_layers``): one row per input feature / layer of the CTC system,
with train / validation / test token error rates, and the TER-per-epoch curves of Fig. 2 as a figure.

Train and validation TER are the system's own measurements after its last epoch (its history); test TER is the
harness's.
"""

from __future__ import annotations

import io
from dataclasses import replace

from sedbench.pipeline.record import RunRecord
from sedbench.publish.plots import colors, pyplot, svg_text
from sedbench.publish.summary import Row

from .published import heading, paper_datasets, stand_in_note, stats_text

FEATURE_LAYERS = "feature_layers"


def _with_final_ters(row: Row) -> Row:
    """The row with each seed's final train / validation TER (and at epochs 10, 25, 50) among its values; a seed
    pooled over several folds has none."""
    values = {metric: list(seeds) for metric, seeds in row.values.items()}
    for seed in row.seeds:
        records = [r for r in row.runs if r.seed == seed]
        if len(records) == 1 or not records[0].has_scores("frame"):
            for metric, value in final_ter_values(records[0]).items():
                values.setdefault(metric, []).append(value)
    return replace(row, values=values)


def _matches(row: Row, config: dict) -> bool:
    return all(str(row.config.get(key)) == str(value) for key, value in config.items())


def _feature_rows(rows: list[Row], published: dict, dataset: str) -> list[Row]:
    return [r for r in rows if r.system == published["system"] and r.dataset == dataset]


def feature_layer_table(rows: list[Row], published: dict) -> str:
    metrics = published["metrics"]
    rows = [_with_final_ters(row) for row in rows]
    out = io.StringIO()
    out.write(heading(published))
    any_rows = False
    for dataset, key, name in paper_datasets(published):
        members = _feature_rows(rows, published, dataset)
        if not members:
            continue
        any_rows = True
        same = dataset == key
        out.write(f"## {dataset}{stand_in_note(dataset, key, name)}\n\n")
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
                    text = stats_text(row, metric, 1)
                    stats = row.mean_std(metric)
                    if paper_cell and same and stats:
                        paper_cell = paper_cell[:-1] + f", Δ {stats[0] - values[metric]:+.1f})"
                    cells.append(f"{text} {paper_cell}".strip())
                early = " / ".join(stats_text(row, f"TER_valid@{e}", 1) for e in (10, 25, 50))
                weights = row.config.get("soundnet_weights", "") if row.config.get("features") == "soundnet" else ""
                out.write(f"| {paper_row['feature']} | {paper_row['layer']} | {_dims(row)} | {row.profile} | "
                          f"{weights} | {len(row.seeds)} | {row.config.get('epochs', '—')} | " + " | ".join(cells)
                          + f" | {early} | {row.train_seconds:.0f} | {row.config_hash[:12]} |\n")
        others = [r for r in members if id(r) not in used]
        for row in others:
            out.write(f"| {row.config.get('features')} | {row.config.get('soundnet_layer', '')} | {_dims(row)} | "
                      f"{row.profile} | {row.config.get('soundnet_weights', '')} | {len(row.seeds)} | "
                      f"{row.config.get('epochs', '—')} | " + " | ".join(stats_text(row, m, 1) for m in metrics)
                      + f" | | {row.train_seconds:.0f} | {row.config_hash[:12]} |\n")
        out.write("\n")
    if not any_rows:
        datasets = ", ".join(d for d, _, _ in paper_datasets(published))
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


def feature_rows_of(records: list[RunRecord], published: dict) -> list[tuple[str, list[RunRecord]]]:
    """(series name, records) of the paper's system on any of its datasets, for the learning-curve figure."""
    datasets = {d for d, _, _ in paper_datasets(published)}
    groups: dict[tuple, list[RunRecord]] = {}
    for record in records:
        if record.system.name != published["system"] or record.dataset.name not in datasets:
            continue
        config = record.config
        name = (f"{record.dataset.name}: "
                + (f"SoundNet {config.get('soundnet_layer')} ({config.get('soundnet_weights')})"
                   if config.get("features") == "soundnet" else f"log-mel {config.get('n_mels')}")
                + f", {record.profile}")
        groups.setdefault((name, record.config_hash), []).append(record)
    return [(name, members) for (name, _), members in sorted(groups.items())]


def ter_curves_svg(series: list[tuple[str, list[RunRecord]]]) -> str | None:
    """Fig. 2: training loss and TER on the training, validation and test sets per epoch (seeds: thin lines)."""

    series = [(name, [r for r in records if r.history.get("train_TER")]) for name, records in series]
    series = [(name, records) for name, records in series if records]
    if not series:
        return None
    plt = pyplot()
    fig, axes = plt.subplots(1, 4, figsize=(13, 3.2))
    titles = ("training loss (per-frame NLL)", "train TER (%)", "validation TER (%)", "test TER (%)")
    for (name, records), color in zip(series, colors(len(series))):
        for i, record in enumerate(records):
            history = record.history
            label = name if i == 0 else None
            axes[0].plot(history["epoch"], history["train_loss"], color=color, linewidth=1, label=label)
            axes[1].plot(history["epoch"], history["train_TER"], color=color, linewidth=1)
            axes[2].plot(history["epoch"], history["valid_TER"], color=color, linewidth=1)
            curve = (record.test_curve or {}).get("epochs", [])
            if curve:
                axes[3].plot([e["epoch"] for e in curve], [e.get("TER") for e in curve], color=color, linewidth=1)
    for ax, title in zip(axes, titles):
        ax.set_xlabel("epoch")
        ax.set_title(title, fontsize=9)
        ax.grid(alpha=0.3)
    axes[3].text(0.5, 0.02, "runs with --track-test only", transform=axes[3].transAxes, ha="center", fontsize=7)
    axes[0].legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return svg_text(fig)




def final_ter_values(record: RunRecord) -> dict[str, float | None]:
    """The system's own train / validation TER after its last epoch, and the validation TER at epochs 10/25/50."""
    history = record.history
    if not history.get("valid_TER"):
        return {}
    values = {"TER_train": history["train_TER"][-1], "TER_valid": history["valid_TER"][-1]}
    for epoch in (10, 25, 50):
        if epoch in history.get("epoch", []):
            values[f"TER_valid@{epoch}"] = history["valid_TER"][history["epoch"].index(epoch)]
    return values
