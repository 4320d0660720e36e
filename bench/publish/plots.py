"""Leaderboard figures as inline SVG: event activity, class-wise F1, PSD-ROC curves and training curves.

Each function takes (series name, run records) pairs and returns an SVG string, or
None when no record holds what the figure needs. Text stays text in the SVG
(svg.fonttype none) so the page stays small and searchable; matplotlib escapes it.
"""

from __future__ import annotations

import io
import math

import numpy as np

from sedbench.pipeline.record import RunRecord

Series = list[tuple[str, list[RunRecord]]]  # (row name, that row's records)


def pyplot():
    import matplotlib

    matplotlib.use("Agg")  # no display: figures are only written to SVG
    import matplotlib.pyplot as plt

    # names and labels come from records: text.parse_math off, or a '$' in one is read as mathtext (and crashes)
    plt.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "sedbench", "font.size": 9, "text.parse_math": False,
                         "axes.spines.top": False, "axes.spines.right": False})
    return plt


def svg_text(fig) -> str:
    plt = pyplot()
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg"):]  # drop the XML prolog and doctype: the SVG sits inside HTML


def colors(n: int) -> list:
    plt = pyplot()
    cmap = plt.get_cmap("tab10")
    return [cmap(i % 10) for i in range(n)]


def activity(series: Series) -> str | None:
    """Ground truth vs each system's detected events over the excerpt kept in the records (Cakir et al. Fig. 3/6).

    Uses each row's first record (lowest seed) and only rows whose excerpt shows the same clip as the first one.
    """
    excerpts = []
    for name, records in series:
        excerpt = next((r.excerpt for r in records if r.excerpt), None)
        if excerpt:
            excerpts.append((name, excerpt))
    if not excerpts:
        return None
    clip = excerpts[0][1]["clip"]
    excerpts = [(name, e) for name, e in excerpts if e["clip"] == clip]
    start, end = excerpts[0][1]["start"], excerpts[0][1]["end"]
    panels = [("ground truth", excerpts[0][1]["reference"])] + [(name, e["estimated"]) for name, e in excerpts]
    # every class of the dataset gets its lane, also one that is silent in this excerpt: silence is a result too
    known = next((list(r.dataset.labels) for _, records in series for r in records if r.dataset.labels), [])
    labels = known + sorted({label for _, events in panels for _, _, label in events} - set(known))
    if not labels:
        return None
    plt = pyplot()
    height = 0.16 * len(labels) + 0.35
    fig, axes = plt.subplots(len(panels), 1, figsize=(9, height * len(panels) + 0.6), sharex=True, squeeze=False)
    label_colors = dict(zip(labels, colors(len(labels))))
    for ax, (title, events) in zip(axes[:, 0], panels):
        for onset, offset, label in events:
            ax.broken_barh([(onset, max(offset - onset, 1e-3))], (labels.index(label) - 0.4, 0.8),
                           color=label_colors[label], linewidth=0)
        ax.set_yticks(range(len(labels)), labels, fontsize=7)
        ax.set_ylim(-0.6, len(labels) - 0.4)
        ax.invert_yaxis()
        ax.set_title(title, loc="left", fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    axes[-1, 0].set_xlim(start, end)
    axes[-1, 0].set_xlabel(f"time (s) in {clip}")
    fig.tight_layout()
    return svg_text(fig)


def _class_f1(record: RunRecord) -> dict[str, float]:
    level = "frame" if record.metrics.get("frame") else "tags"
    return {label: values["F1"] for label, values in record.class_scores(level).items()
            if values.get("F1") is not None and not math.isnan(values["F1"])}


def class_wise_f1(series: Series) -> str | None:
    """Class-wise F1 (frame level; tag level for tagging datasets) as one heatmap, classes x rows, each cell the
    mean over the row's records with its value written in it; a blank cell: no F1 for that class."""
    table = []
    for name, records in series:
        per_label: dict[str, list[float]] = {}
        for record in records:
            for label, value in _class_f1(record).items():
                per_label.setdefault(label, []).append(value)
        if per_label:
            table.append((name, {label: float(np.mean(v)) for label, v in per_label.items()}))
    if not table:
        return None
    known = next((list(r.dataset.labels) for _, records in series for r in records if r.dataset.labels), [])
    labels = [label for label in known if any(label in values for _, values in table)]
    labels += sorted({label for _, values in table for label in values} - set(labels))
    grid = np.array([[values.get(label, np.nan) for label in labels] for _, values in table])
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(min(1.6 + 0.55 * len(labels), 14), 0.9 + 0.32 * len(table)))
    image = ax.imshow(np.ma.masked_invalid(grid), cmap="viridis", vmin=0, vmax=100, aspect="auto")
    for (row, column), value in np.ndenumerate(grid):
        if not np.isnan(value):
            ax.text(column, row, f"{value:.0f}", ha="center", va="center", fontsize=7,
                    color="black" if value > 55 else "white")
    ax.set_xticks(range(len(labels)), labels, rotation=40, ha="right", fontsize=7)
    ax.set_yticks(range(len(table)), [name for name, _ in table], fontsize=7)
    for side in ("left", "bottom"):
        ax.spines[side].set_visible(False)
    ax.tick_params(length=0)
    fig.colorbar(image, ax=ax, fraction=0.03, pad=0.01).set_label("F1 (%)")
    fig.tight_layout()
    return svg_text(fig)


def training_curves(series: Series) -> str | None:
    """Validation F1_frm and training loss per epoch, one line per record (seeds share their system's colour)."""
    curves = [(name, [r.history for r in records if r.history.get("epoch") and r.history.get("valid_F1_frm")])
              for name, records in series]
    curves = [(name, histories) for name, histories in curves if histories]
    if not curves:
        return None
    plt = pyplot()
    fig, (f1_ax, loss_ax) = plt.subplots(1, 2, figsize=(9, 3.2))
    for (name, histories), color in zip(curves, colors(len(curves))):
        for i, history in enumerate(histories):
            label = name if i == 0 else None
            f1_ax.plot(history["epoch"], history["valid_F1_frm"], color=color, linewidth=1, alpha=0.85, label=label)
            if history.get("train_loss"):
                loss_ax.plot(history["epoch"], history["train_loss"], color=color, linewidth=1, alpha=0.85)
    f1_ax.set_xlabel("epoch")
    f1_ax.set_ylabel("validation F1_frm (%)")
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("training loss")
    for ax in (f1_ax, loss_ax):
        ax.grid(alpha=0.3)
    f1_ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return svg_text(fig)


def psd_roc(series: Series) -> str | None:
    """PSD-ROC curves of PSDS1 and PSDS2 (eTPR over eFPR per hour), one line per row: the mean of its records'
    curves, read on the records' common eFPR grid."""
    panels = {"psds1": [], "psds2": []}
    for name, records in series:
        for key, lines in panels.items():
            curves = [(r.metrics.get("threshold_free") or {}).get(key, {}).get("curve") for r in records]
            curves = [c for c in curves if c]
            if curves and all(c["efpr"] == curves[0]["efpr"] for c in curves):
                value = np.mean([(r.headline.get(key.upper()) or 0.0) for r in records])
                lines.append((f"{name} ({value:.3f})", curves[0]["efpr"], np.mean([c["etpr"] for c in curves], 0)))
    if not any(panels.values()):
        return None
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), sharey=True)
    for ax, (key, lines) in zip(axes, panels.items()):
        for (label, efpr, etpr), color in zip(lines, colors(len(lines))):
            ax.step(efpr, etpr, where="post", color=color, linewidth=1.2, label=label)
        ax.set_title(key.upper(), loc="left", fontsize=9)
        ax.set_xlabel("eFPR (per hour)")
        ax.set_xlim(0, max((e[-1] for _, e, _ in lines), default=100))
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        if lines:
            ax.legend(fontsize=7, frameon=False, loc="lower right")
    axes[0].set_ylabel("eTPR")
    fig.tight_layout()
    return svg_text(fig)
