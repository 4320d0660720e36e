"""Is a row's score different from the best row's, or only by the luck of the test files? A paired bootstrap.

Both rows are scored on the same test files (the same dataset version; rows on other data are not compared), so
the files are resampled with replacement (the same draw for both rows) and the metric recomputed from the resampled
files' summed counts, as the micro average itself is computed; the seeds of a row are pooled by adding their counts
per file. The 95 % interval of the difference (row minus best) that excludes 0 makes the difference significant.
Counts per test file are in the records (``metrics[level]["per_file"]``); records without them are not tested.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from .summary import LOWER_IS_BETTER, Row

RESAMPLES = 1000
SEED = 0
LEVELS = {"F1_frm": "frame", "ER_frm": "frame", "F1_1s": "1s", "ER_1s": "1s", "F1_event": "event",
          "ER_event": "event"}


@dataclass(frozen=True)
class Comparison:
    metric: str
    difference: float  # row - best, in the metric's unit
    low: float  # 95 % bootstrap interval of the difference
    high: float
    files: int  # test files both rows were scored on

    @property
    def significant(self) -> bool:
        return self.low > 0 or self.high < 0

    def text(self, digits: int) -> str:
        verdict = "significant" if self.significant else "not significant"
        return (f"{self.difference:+.{digits}f} vs the best row (95 % interval {self.low:+.{digits}f} to "
                f"{self.high:+.{digits}f}, paired bootstrap over {self.files} test files, {RESAMPLES} resamples): "
                f"{verdict}")


def metric_from_counts(metric: str, counts: np.ndarray, keys: tuple[str, ...]) -> np.ndarray:
    """sed_eval's overall F1 (%) or ER from summed counts; ``counts`` (..., len(keys))."""
    c = {key: counts[..., i] for i, key in enumerate(keys)}
    with np.errstate(divide="ignore", invalid="ignore"):
        if metric.startswith("F1"):
            precision = np.where(c["Nsys"] > 0, c["Ntp"] / c["Nsys"], 0.0)
            recall = np.where(c["Nref"] > 0, c["Ntp"] / c["Nref"], 0.0)
            total = precision + recall
            return np.where(total > 0, 100 * 2 * precision * recall / np.where(total > 0, total, 1), 0.0)
        errors = c["S"] + c["D"] + c["I"] if "S" in c else c["Nsubs"] + c["Nfn"] + c["Nfp"]
        return np.where(c["Nref"] > 0, errors / np.where(c["Nref"] > 0, c["Nref"], 1), np.nan)


def per_file_counts(row: Row, level: str) -> dict[str, dict[str, float]] | None:
    """file -> counts summed over the row's seeds; None when a record lacks per-file counts."""
    totals: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for record in row.runs:
        files = (record.metrics.get(level) or {}).get("per_file")
        if not files:
            return None
        for name, counts in files.items():
            for key, value in counts.items():
                totals[name][key] += value
    return {name: dict(counts) for name, counts in totals.items()}


def paired_bootstrap(row: Row, best: Row, metric: str, resamples: int = RESAMPLES,
                     seed: int = SEED) -> Comparison | None:
    """``row``'s metric minus ``best``'s over resampled test files; None when either lacks per-file counts or they
    ran on different versions of the data."""
    level = LEVELS.get(metric)
    if level is None or row.fingerprint != best.fingerprint:
        return None
    ours, theirs = per_file_counts(row, level), per_file_counts(best, level)
    if ours is None or theirs is None:
        return None
    files = sorted(set(ours) & set(theirs))
    if not files:
        return None
    keys = tuple(sorted(ours[files[0]]))
    a = np.array([[ours[f][k] for k in keys] for f in files])
    b = np.array([[theirs[f][k] for k in keys] for f in files])
    difference = float(metric_from_counts(metric, a.sum(axis=0), keys) - metric_from_counts(metric, b.sum(axis=0), keys))
    rng = np.random.default_rng(seed)
    draws = rng.integers(len(files), size=(resamples, len(files)))
    weights = np.stack([np.bincount(draw, minlength=len(files)) for draw in draws])  # (resamples, files)
    deltas = metric_from_counts(metric, weights @ a, keys) - metric_from_counts(metric, weights @ b, keys)
    low, high = np.nanpercentile(deltas, [2.5, 97.5])
    return Comparison(metric, difference, float(low), float(high), len(files))


def compare_with_best(rows: list[Row], metric: str) -> tuple[Row | None, dict[int, Comparison]]:
    """The best row by ``metric``'s mean and, for every other row with per-file counts, its comparison."""
    scored = [(i, row.mean_std(metric)[0]) for i, row in enumerate(rows) if row.mean_std(metric)]
    if not scored:
        return None, {}
    pick = min if metric in LOWER_IS_BETTER else max
    best_index = pick(scored, key=lambda item: item[1])[0]
    best = rows[best_index]
    comparisons = {}
    for i, row in enumerate(rows):
        if i != best_index:
            comparison = paired_bootstrap(row, best, metric)
            if comparison is not None:
                comparisons[i] = comparison
    return best, comparisons
