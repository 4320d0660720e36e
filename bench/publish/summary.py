"""Rows from run records: one per dataset x system x profile x config, mean +- std over seeds, folds pooled by
summing counts (micro average). ``sedbench report``, the paper tables and the leaderboard all read these rows."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from sedbench.core import registry
from sedbench.core.errors import SedbenchError
from sedbench.pipeline.record import RunRecord
from sedbench.scoring.metrics import legacy_f1_from_sums

HEADLINE = ("F1_frm", "ER_frm", "F1_1s", "ER_1s", "F1_event", "ER_event")
# event metrics after post-processing tuned on validation data (a threshold and median window per class)
TUNED = ("F1_event_tuned", "ER_event_tuned")
LEGACY = ("F1_1s_legacy",)  # TUT-SED 2009's scene-averaged segment F1, for datasets with scenes
RARE = ("ER_rare", "F1_rare")  # DCASE2017 task 2: onset-only events, 500 ms collar, averaged over classes
TAGGING = ("F1_tag", "P_tag", "R_tag", "EER")
TRANSCRIPTION = ("TER",)  # token error rate of CTC systems
# sed_scores_eval's PSDS (DCASE 2021-2024 task 4 parameters), 0..1; over several folds the mean of the folds' values
THRESHOLD_FREE = ("PSDS1", "PSDS2")
# PSDS of the scores median-filtered with the validation-tuned windows (as DCASE task 4 baselines filter theirs)
THRESHOLD_FREE_TUNED = ("PSDS1_tuned", "PSDS2_tuned")


class _LowerIsBetter(frozenset):
    """Metric names where lower is better; a per-class name such as 'ER_rare/babycry' goes with 'ER_rare'."""

    def __contains__(self, metric) -> bool:
        return super().__contains__(str(metric).split("/", 1)[0])


LOWER_IS_BETTER = _LowerIsBetter({"ER_frm", "ER_1s", "ER_event", "ER_event_tuned", "ER_rare", "EER", "TER"})


MIN_F1_FOR_BEST = 1.0  # % : below this at a metric's level a row detects next to nothing


def level_f1(metric: str) -> str | None:
    """The F1 at the level of ``metric`` (ER_event -> F1_event, EER -> F1_tag); None for metrics without one."""
    base = str(metric).split("/", 1)[0]
    if base.startswith("F1_"):
        return base
    return {"ER_frm": "F1_frm", "ER_1s": "F1_1s", "ER_event": "F1_event", "ER_event_tuned": "F1_event_tuned",
            "ER_rare": "F1_rare", "EER": "F1_tag"}.get(base)


def headline_metric(dataset: str) -> str | None:
    """The metric a registered dataset's test set is ranked on (``Dataset.headline_metric``); None otherwise."""
    try:
        return registry.datasets.get(dataset).headline_metric
    except SedbenchError:  # a folder dataset, or one no longer registered
        return None


def columns(rows: list["Row"]) -> tuple[str, ...]:
    """The metrics any of the rows has, in a fixed order (event metrics, rare events, tagging, transcription)."""
    present = {m for r in rows for m, values in r.values.items() if any(v is not None for v in values)}
    order = HEADLINE + TUNED + THRESHOLD_FREE + THRESHOLD_FREE_TUNED + LEGACY + RARE + TAGGING + TRANSCRIPTION
    return tuple(m for m in order if m in present) or HEADLINE


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
    def of(cls, record: RunRecord) -> "RecordRef":
        return cls(
            path=str(record.path or ""), seed=record.seed, fold=record.fold, created=record.created,
            git_commit=record.environment.git_commit, fingerprint=record.dataset.fingerprint,
            device=record.device.describe(), wall_seconds=record.total_seconds,
            versions=dict(record.environment.versions),
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
    runs: list[RunRecord] = field(default_factory=list)  # the records themselves, by seed then fold
    pitch_shift: dict[str, list[float]] = field(default_factory=dict)  # shift -> |ΔF1_frm| per record
    variant: str = ""  # the profile and what the config changes in it, e.g. "quick · strong_weight=0.02"
    fingerprint: str = ""  # the dataset version its records ran on

    @property
    def label(self) -> str:
        """How tables name the row: ``crnn quick``, ``weak-crnn quick · strong_weight=0.02``, ``crnn custom · ...``."""
        return f"{self.system} {self.variant or self.profile}"

    @property
    def converged(self) -> tuple[int, int]:
        """(runs that converged, runs that say whether they did)."""
        known = [r.convergence.converged for r in self.runs if r.convergence is not None]
        return sum(known), len(known)

    @property
    def psds_at_one_point(self) -> bool:
        """The PSDS is of the system's events at their one operating point, not of swept scores."""
        return any((r.metrics.get("threshold_free") or {}).get("operating_points") == 1 for r in self.runs)

    @property
    def budget_bound(self) -> bool:
        """Some run stopped because its epoch budget ran out, not by its stopping rule."""
        done, known = self.converged
        return done < known

    def convergence_text(self) -> str:
        done, known = self.converged
        if not known:
            return "—"
        return f"{done}/{known}" + (f" {BUDGET_MARK}" if done < known else "")

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


def _summed(records: list[RunRecord], level: str) -> dict[str, float]:
    counts: dict[str, float] = defaultdict(float)
    for record in records:
        for name, value in record.counts(level).items():
            counts[name] += value
    return counts


def _rare_values(records: list[RunRecord]) -> dict[str, float | None]:
    """DCASE2017 task 2 error rate per class (``ER_rare/<class>``); over several folds also ER_rare / F1_rare,
    recomputed from the summed onset-only counts of each class, then averaged over classes as the task does."""
    if not records or not all(record.has_scores("rare") for record in records):
        return {}
    if len(records) == 1:
        return {f"ER_rare/{label}": scores["ER"] for label, scores in records[0].class_scores("rare").items()}
    counts: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for record in records:
        for label, scores in record.class_scores("rare").items():
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


def _pooled(records: list[RunRecord]) -> dict[str, float]:
    """Headline metrics of one seed; with several folds, recomputed from the summed counts (micro average)."""
    if len(records) == 1 or not records[0].has_scores("frame"):
        # tagging results are not pooled over folds here
        return {**records[0].headline, **_rare_values(records[:1]), **class_event_values(records[:1])}
    pooled = {}
    for key, level in (("frm", "frame"), ("1s", "1s")):
        c = _summed(records, level)
        pooled[f"F1_{key}"] = _f1(c["Ntp"], c["Nsys"], c["Nref"])
        pooled[f"ER_{key}"] = (c["S"] + c["D"] + c["I"]) / c["Nref"] if c["Nref"] else float("nan")
    c = _summed(records, "event")  # sed_eval: ER = (substitutions + Nfn + Nfp) / Nref
    pooled["F1_event"] = _f1(c["Ntp"], c["Nsys"], c["Nref"])
    pooled["ER_event"] = (c["Nsubs"] + c["Nfn"] + c["Nfp"]) / c["Nref"] if c["Nref"] else float("nan")
    if all(record.has_scores("legacy_1s") for record in records):
        scenes: dict[str, dict[str, float]] = defaultdict(lambda: {"F1_sum": 0.0, "segments": 0, "skipped": 0})
        for record in records:  # segment F1s of a scene are averaged over all its test segments, every fold
            for scene, totals in record.legacy_scenes().items():
                for key in ("F1_sum", "segments", "skipped"):
                    scenes[scene][key] += totals[key]
        pooled["F1_1s_legacy"] = legacy_f1_from_sums(dict(scenes))["F1"]
    pooled.update(_rare_values(records))
    pooled.update(class_event_values(records))
    for metric in THRESHOLD_FREE:  # needs the scores of every fold together: the folds' mean stands in
        values = [r.headline.get(metric) for r in records]
        if all(v is not None for v in values):
            pooled[metric] = float(np.mean(values))
    return pooled


def row_key(record: RunRecord) -> tuple[str, str, str, str, str]:
    """The records of one row share dataset, system, profile, config hash and data version (dataset fingerprint):
    seeds run on other data are not more seeds of the same result."""
    return record.dataset.name, record.system.name, record.profile, record.config_hash, record.dataset.fingerprint


BUDGET_MARK = "⚠ stopped at budget"


def summarize(records: list[RunRecord]) -> list[Row]:
    groups: dict[tuple, list[RunRecord]] = defaultdict(list)
    for record in records:
        groups[row_key(record)].append(record)
    rows = []
    for (dataset, system, profile, chash, fingerprint), members in sorted(groups.items()):
        members = sorted(members, key=lambda r: (r.seed, r.fold))
        by_seed: dict[int, list[RunRecord]] = defaultdict(list)
        for record in members:
            by_seed[record.seed].append(record)
        values: dict[str, list[float]] = defaultdict(list)
        for seed in sorted(by_seed):
            for metric, value in _pooled(by_seed[seed]).items():
                values[metric].append(value)
            tuned = [record.tuned_view() for record in by_seed[seed]]
            if all(tuned):
                pooled = _pooled(tuned)
                for metric in ("F1_event", "ER_event") + THRESHOLD_FREE:
                    values[f"{metric}_tuned"].append(pooled.get(metric))
        first = members[0]
        rows.append(
            Row(
                dataset=dataset, system=system, profile=profile, config_hash=chash, fingerprint=fingerprint,
                seeds=sorted(by_seed),
                folds=sorted({r.fold for r in members}), values=dict(values),
                parameters=first.system.parameters,
                train_seconds=float(np.mean([r.fit_seconds for r in members])),
                citation=first.system.citation,
                paper_url=first.system.url or _registered_paper_url(system),
                config=dict(first.config),
                records=[RecordRef.of(r) for r in members],
                runs=members,
                pitch_shift=_pitch_shift_changes(members),
            )
        )
    _name_variants(rows)
    return rows


def _name_variants(rows: list[Row]) -> None:
    """Each row's variant: its profile, then the settings its config changes in that profile. Settings that vary
    between the rows of one system and profile are what those rows compare (``quick · strong_weight=0.02``); a
    change that they share makes the profile ``custom`` (``custom · max_epochs=3, conv_maps=8``). Where a dataset's
    rows ran on more than one version of its data, each names its version (``quick · data 52337d05``)."""
    versions: dict[str, set] = defaultdict(set)
    for row in rows:
        versions[row.dataset].add(row.fingerprint)
    groups: dict[tuple, list[Row]] = defaultdict(list)
    for row in rows:
        groups[(row.dataset, row.system, row.profile)].append(row)
    for (dataset, system, profile), members in groups.items():
        base = _profile_config(system, profile, dataset, members)
        changed = [{k: v for k, v in row.config.items() if k in base and _setting(base[k]) != _setting(v)}
                   for row in members]
        varying = {k for diffs in changed for k in diffs if len({_setting(r.config.get(k)) for r in members}) > 1}
        for row, diffs in zip(members, changed):
            parts = [profile if set(diffs) <= varying else "custom"]
            if diffs:
                parts.append(", ".join(f"{k}={_setting(v)}" for k, v in diffs.items()))
            if len(versions[dataset]) > 1:
                parts.append(f"data {row.fingerprint[:8]}")
            row.variant = " · ".join(parts)


def _profile_config(system: str, profile: str, dataset: str, members: list[Row]) -> dict:
    """The profile's settings on that dataset, from the installed system; without it, the rows' own settings
    minus their overrides (the overrides are then the changes)."""
    from dataclasses import asdict

    from sedbench.core.config import build_config

    try:
        return asdict(build_config(registry.systems.get(system), profile, dataset=dataset))
    except SedbenchError:
        overridden = {k for row in members for r in row.runs for k in r.overrides}
        return {k: v for k, v in members[0].config.items() if k not in overridden}


def _setting(value) -> str:
    if isinstance(value, (list, tuple)):
        return "(" + ",".join(_setting(v) for v in value) + ")"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _pitch_shift_changes(records: list[RunRecord]) -> dict[str, list[float]]:
    changes: dict[str, list[float]] = defaultdict(list)
    for record in records:
        shifts = record.study("pitch_shift").get("shifts", {})
        for shift, result in shifts.items():
            if result.get("abs_change_F1_frm") is not None:
                changes[shift].append(float(result["abs_change_F1_frm"]))
    return dict(sorted(changes.items(), key=lambda item: float(item[0])))


def pitch_shifts(rows: list[Row]) -> list[str]:
    """The shifts any row was evaluated at, in numeric order (e.g. -2, -1, +1, +2 quartertones)."""
    return sorted({shift for row in rows for shift in row.pitch_shift}, key=float)


def _registered_paper_url(system: str) -> str:
    """Older records carry no paper link: take it from the installed system, if there is one."""
    try:
        return registry.systems.get(system).paper.url
    except SedbenchError:
        return ""


def digits(metric: str) -> int:
    return 1 if metric.startswith("F1") else 2 if metric.startswith(("ER", "TER")) else 3


ONE_POINT_MARK = "†"  # PSDS of a system that outputs events: its one operating point


def format_cell(row: Row, metric: str) -> str:
    stats = row.mean_std(metric)
    if stats is None:
        return "—"
    mean, std = stats
    d = digits(metric)
    mark = f" {ONE_POINT_MARK}" if metric.startswith("PSDS") and row.psds_at_one_point else ""
    return (f"{mean:.{d}f} ± {std:.{d}f}" if len(row.seeds) > 1 else f"{mean:.{d}f}") + mark


def class_event_values(records: list[RunRecord]) -> dict[str, float | None]:
    """Per-class event F1 (%) and ER (``F1_event/<label>``, ``ER_event/<label>``) and their class means.

    One record: sed_eval's own class-wise values. Several folds: recomputed from the summed class-wise counts with
    sed_eval's definitions. A class with an undefined F1 (no system or no reference events) is left out of the
    average, as sed_eval's class-wise average (a NaN-ignoring mean) does.
    """
    if not records or not all(r.class_scores("event") for r in records):
        return {}
    values: dict[str, float | None] = {}
    if len(records) == 1:
        for label, scores in records[0].class_scores("event").items():
            values[f"F1_event/{label}"], values[f"ER_event/{label}"] = scores["F1"], scores["ER"]
    else:
        counts: dict[str, dict[str, float]] = {}
        for record in records:
            for label, scores in record.class_scores("event").items():
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
