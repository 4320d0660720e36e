"""Hyperparameter grid search on validation data (Cakir et al. 2017, Sec. III-D).

A grid is a list of axes; an axis maps setting names to equally long value lists
that move together (the paper ties feature maps and hidden units), and the
trials are the product of the axes. Optional one-at-a-time studies (filter
shapes, sequence lengths) then vary one setting of the best trial. Every trial
is an ordinary run with its own record; the choice uses the validation score
only, and the chosen trial's test scores are reported.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

from sedbench.core.errors import ConfigError
from .record import write_record


@dataclass(frozen=True)
class Grid:
    axes: tuple[dict[str, list], ...]
    studies: tuple[dict[str, list], ...] = ()
    fixed: dict = field(default_factory=dict)  # settings every trial shares (e.g. a shorter epoch budget)

    def trials(self) -> list[dict]:
        combos = []
        for axis in self.axes:
            lengths = {len(v) for v in axis.values()}
            if len(lengths) != 1:
                raise ConfigError(f"grid axis {sorted(axis)} has value lists of different lengths")
            combos.append([{k: v[i] for k, v in axis.items()} for i in range(lengths.pop())])
        return [{**self.fixed, **{k: v for part in product for k, v in part.items()}}
                for product in itertools.product(*combos)]


def as_override(value) -> str:
    if isinstance(value, tuple):
        return "(" + ",".join(str(v) for v in value) + ")"
    return str(value)


def validation_score(record: dict) -> float:
    history = record.get("history") or {}
    if "best_valid_F1_frm" not in history:
        raise ConfigError(f"system {record['system']['name']!r} reports no validation F1_frm; it cannot be searched")
    return float(history["best_valid_F1_frm"])


def run_search(system: str, dataset: str, grid_name: str, seed: int, device: str, where, log=print) -> dict:
    from sedbench.core import registry
    from .runner import JobSpec, run_job

    dataset_name = registry.resolve_dataset(dataset).name  # a path's records go under its readable name
    system_cls = registry.systems.get(system)
    grids = getattr(system_cls, "search_grids", {})
    if grid_name not in grids:
        raise ConfigError(f"system {system!r} has no search grid {grid_name!r}; grids: {', '.join(grids) or 'none'}")
    grid: Grid = grids[grid_name]
    profile = "quick" if grid_name == "quick" else "paper"
    trials: list[dict] = []

    def run(settings: dict, stage: str) -> dict:
        overrides = {k: as_override(v) for k, v in settings.items()}
        record, path = run_job(JobSpec(system=system, dataset=dataset, seed=seed, profile=profile,
                                       overrides=overrides, device=device), where, log=lambda _: None)
        trial = {"stage": stage, "settings": overrides, "valid_F1_frm": validation_score(record),
                 "test": record["headline"], "record": str(path)}
        trials.append(trial)
        log(f"[{len(trials)}] {stage:10s} {overrides}  valid F1_frm {trial['valid_F1_frm']:.1f}  "
            f"test F1_frm {record['headline']['F1_frm']:.1f}")
        return trial

    grid_trials = [run(settings, "grid") for settings in grid.trials()]
    best = max(grid_trials, key=lambda t: t["valid_F1_frm"])
    for study in grid.studies:
        for key, values in study.items():
            for value in values:
                settings = {**{k: v for k, v in best["settings"].items()}, key: as_override(value)}
                if settings != best["settings"]:
                    run(settings, f"study:{key}")
    chosen = max(trials, key=lambda t: t["valid_F1_frm"])
    summary = {"system": system, "dataset": dataset_name, "grid": grid_name, "profile": profile, "seed": seed,
               "selection": "highest validation F1_frm", "chosen": chosen, "trials": trials}
    path = Path(where.runs_dir) / dataset_name / system / f"search-{grid_name}-seed{seed}.json"
    write_record(path, summary)
    summary["path"] = str(path)
    return summary
