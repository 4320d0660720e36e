"""Phan et al. 2018, Tables 1-2 (``layout: class_table``): event-based F1 and ER per class, their class average
and the overall values, for each of the paper's systems side by side."""

from __future__ import annotations

import io

from sedbench.publish.summary import Row

from .published import heading, paper_datasets, stand_in_note, stats_text

CLASS_TABLE = "class_table"


def class_table(rows: list[Row], published: dict) -> str:
    systems = published["systems"]
    out = io.StringIO()
    out.write(heading(published))
    any_rows = False
    for dataset, key, name in paper_datasets(published):
        info = published["datasets"][key]
        members = {s: [r for r in rows if r.dataset == dataset and r.system == s] for s in systems}
        if not any(members.values()):
            continue
        any_rows = True
        paper_names = info.get("label_map", {})
        for (profile, settings), picked in _side_by_side(members, systems).items():
            labels = _labels(picked)
            changed = "".join(f", {k}={v}" for k, v in settings)
            out.write(f"## {dataset}, profile {profile}{changed}{stand_in_note(dataset, key, name)}\n\n")
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
                        text = stats_text(row, value_key, digits) if row else "—"
                        if paper is not None:
                            text += f" ({paper[index]:.{digits}f})"
                        cells.append(text)
                out.write(f"| {label} | " + " | ".join(cells) + " |\n")
            seeds = ", ".join(f"{s}: {len(picked[s].seeds) if picked[s] else 0}" for s in systems)
            out.write(f"\nSeeds per system: {seeds}. Paper values in brackets"
                      + (" (the paper's class for each of our labels)" if paper_names else "") + ".\n\n")
    if not any_rows:
        datasets = ", ".join(d for d, _, _ in paper_datasets(published))
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
