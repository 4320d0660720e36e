"""A static leaderboard page built from the same summaries as the report tables.

This is the minimal page (one table per dataset); sorting, filtering, plots and
paper-vs-measured sections come with the leaderboard issue.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from jinja2 import Environment, select_autoescape

from .report import LOWER_IS_BETTER, Row, columns, format_cell

TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>sedbench leaderboard</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin-bottom:2em}
th,td{border:1px solid #ccc;padding:.3em .6em;text-align:right}
th:first-child,td:first-child{text-align:left}
td.best{font-weight:bold;background:#eef7ee}
</style></head><body>
<h1>sedbench leaderboard</h1>
<p>Generated {{ generated }} from {{ n_records }} run records. F1 in %, ER as a ratio; mean ± std over seeds.</p>
{% if not datasets %}<p>No run records yet: run <code>sedbench run --system crnn --dataset synth</code>.</p>{% endif %}
{% for dataset, rows, metrics in datasets %}
<h2>{{ dataset }}</h2>
<table><thead><tr><th>system</th><th>profile</th><th>seeds</th>
{% for m in metrics %}<th>{{ m }}{% if m in lower %} ↓{% else %} ↑{% endif %}</th>{% endfor %}
<th>parameters</th><th>train s</th></tr></thead><tbody>
{% for row in rows %}<tr><td>{{ row.system }}</td><td>{{ row.profile }}</td><td>{{ row.seeds|length }}</td>
{% for m in metrics %}<td{% if best[dataset][m] == row.config_hash %} class="best"{% endif %}>{{ cell(row, m) }}</td>{% endfor %}
<td>{{ "{:,}".format(row.parameters) if row.parameters else "—" }}</td><td>{{ "%.0f"|format(row.train_seconds) }}</td></tr>
{% endfor %}</tbody></table>
{% endfor %}
</body></html>
"""


def render(rows: list[Row], n_records: int) -> str:
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    datasets = sorted({r.dataset for r in rows})
    grouped = []
    for d in datasets:
        members = [r for r in rows if r.dataset == d]
        grouped.append((d, members, columns(members)))
    best: dict[str, dict[str, str]] = {}
    for dataset, members, metrics in grouped:
        best[dataset] = {}
        for metric in metrics:
            scored = [(r.mean_std(metric)[0], r.config_hash) for r in members if r.mean_std(metric)]
            if scored:
                pick = min(scored) if metric in LOWER_IS_BETTER else max(scored)
                best[dataset][metric] = pick[1]
    return env.from_string(TEMPLATE).render(
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        n_records=n_records, datasets=grouped, lower=LOWER_IS_BETTER, best=best, cell=format_cell,
    )


def write_leaderboard(rows: list[Row], n_records: int, path: Path) -> Path:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(render(rows, n_records), encoding="utf-8")
    tmp.replace(path)
    return path
