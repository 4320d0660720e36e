"""Published numbers: ``sedbench/papers/published/<paper>.json`` (a paper's table, its datasets and stand-ins, its
values) and the helpers every paper table shares."""

from __future__ import annotations

import json
from pathlib import Path

from sedbench.core.errors import SedbenchError
from sedbench.publish.summary import Row, digits

PUBLISHED_DIR = Path(__file__).parent / "published"


def load_published(paper: str) -> dict:
    path = PUBLISHED_DIR / f"{paper}.json"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in PUBLISHED_DIR.glob("*.json"))) or "none"
        raise SedbenchError(f"no published table for paper {paper!r}; papers with tables: {known}")
    return json.loads(path.read_text(encoding="utf-8"))


def published_papers() -> list[str]:
    return sorted(p.stem for p in PUBLISHED_DIR.glob("*.json"))


def format_published(values: tuple | None, metric: str) -> str:
    if not values:
        return "—"
    mean, std = values
    d = digits(metric)
    return f"{mean:.{d}f}" + (f" ± {std:.{d}f}" if std is not None else "")


def format_delta(delta: float | None, metric: str) -> str:
    return "" if delta is None else f"{delta:+.{digits(metric)}f}"


def stats_text(row: Row, metric: str, digits: int) -> str:
    stats = row.mean_std(metric)
    if stats is None:
        return "—"
    return f"{stats[0]:.{digits}f} ± {stats[1]:.{digits}f}" if len(row.seeds) > 1 else f"{stats[0]:.{digits}f}"


def heading(published: dict) -> str:
    return (f"# {published['table']} of {published['paper']}, regenerated\n\n{published['citation']}\n\n"
            f"{published['caption']}\n\n")


def paper_datasets(published: dict) -> list[tuple[str, str, str]]:
    """(dataset the runs may use, the paper's dataset key, the paper's dataset name), paper's own first."""
    return [(name, key, info["name"]) for key, info in published["datasets"].items()
            for name in [key, *info.get("stand_ins", [])]]


def stand_in_note(dataset: str, key: str, name: str) -> str:
    return "" if dataset == key else (f" — a stand-in for {name}: the published numbers are on different data, "
                                      "so no difference is computed")
