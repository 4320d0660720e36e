"""``sedbench search``: choose a system's settings on validation data (Cakir et al. 2017, Sec. III-D).

A system declares search spaces (``System.search_spaces``, ``sedbench.core.config.SearchSpace``). The trials of a
space's axes run as one grid of jobs, then each study (one setting at a time around the best trial) as another,
so trials have job keys, checkpoints, crash isolation and resume like any run: rerunning a search skips finished
trials, and a trial that fails is recorded and left out of the choice. The choice uses the validation score only;
the chosen trial's test scores are reported. The summary goes to ``<runs>/.searches/``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from sedbench.core import registry
from sedbench.core.config import SearchSpace, setting_text
from sedbench.core.errors import ConfigError, SedbenchError
from sedbench.datatools.folder import resolve_dataset

from .grid import plan, run_grid
from .jobs import JobSpec, Locations
from .record import RunRecord, write_json_atomic

SEARCHES_FOLDER = ".searches"


def validation_score(record: RunRecord) -> float:
    if "best_valid_F1_frm" not in record.history:
        raise ConfigError(f"system {record.system.name!r} reports no validation F1_frm; it cannot be searched")
    return float(record.history["best_valid_F1_frm"])


def run_search(system: str, dataset: str, space_name: str, seed: int, device: str, where: Locations, log=print,
               force: bool = False, timeout: float | None = None) -> dict:
    system_cls = registry.systems.get(system)
    spaces = system_cls.search_spaces
    if space_name not in spaces:
        raise ConfigError(f"system {system!r} has no search space {space_name!r}; search spaces: "
                          f"{', '.join(spaces) or 'none'}")
    space: SearchSpace = spaces[space_name]
    dataset_name = resolve_dataset(dataset).name  # a path's summary goes under its readable name
    template = JobSpec(system=system, dataset=dataset, seed=seed, profile=space.profile, device=device)
    trials: list[dict] = []

    def run_stage(settings: list[dict], stage: str) -> list[dict]:
        jobs = [replace(template, overrides={k: setting_text(v) for k, v in s.items()}) for s in settings]
        result = run_grid(plan(jobs, where), where, force=force, timeout=timeout, command=f"sedbench search "
                          f"--system {system} --dataset {dataset} --space {space_name} --seed {seed}",
                          log=lambda _: None, progress=lambda outcome, index, total: None)
        done = []
        for job, outcome in zip(jobs, result.outcomes):
            if outcome.status == "failed":
                log(f"[{len(trials) + 1}] {stage:10s} {job.overrides}  FAILED: {outcome.reason}")
                continue
            record = outcome.record
            trial = {"stage": stage, "settings": dict(job.overrides), "valid_F1_frm": validation_score(record),
                     "test": record.headline, "record": str(outcome.path)}
            trials.append(trial)
            done.append(trial)
            log(f"[{len(trials)}] {stage:10s} {job.overrides}  valid F1_frm {trial['valid_F1_frm']:.1f}  "
                f"test F1_frm {record.headline['F1_frm']:.1f}")
        return done

    stage_trials = run_stage(space.trials(), "grid")
    if not stage_trials:
        raise SedbenchError(f"every trial of search space {space_name!r} of {system!r} failed; "
                            f"`sedbench status --runs-dir {where.runs_dir}` lists why")
    best = max(stage_trials, key=lambda t: t["valid_F1_frm"])
    for study in space.studies:
        for key, values in study.items():
            variants = [{**best["settings"], key: setting_text(value)} for value in values]
            run_stage([v for v in variants if v != best["settings"]], f"study:{key}")
    chosen = max(trials, key=lambda t: t["valid_F1_frm"])
    summary = {"system": system, "dataset": dataset_name, "space": space_name, "profile": space.profile,
               "seed": seed, "selection": "highest validation F1_frm", "chosen": chosen, "trials": trials}
    path = Path(where.runs_dir) / SEARCHES_FOLDER / f"{dataset_name}-{system}-{space_name}-seed{seed}.json"
    write_json_atomic(path, summary)
    summary["path"] = str(path)
    return summary
