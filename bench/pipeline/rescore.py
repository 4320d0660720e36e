"""Recompute every metric of existing records from their stored test outputs, without retraining.

The references come from the dataset (looked up through the registry, or the record's bring-your-own source) and
must have the record's fingerprint; the outputs come from the archive the record names, checked by sha256. What
is recomputed: the main view (the record's own post-processing), the tuned view (its stored per-class thresholds
and windows), the threshold-independent scores of both and the activity excerpt. Studies, histories and test curves stay
as they are (they need the model). The record notes when, with which metric library versions and how long.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from sedbench import __version__
from sedbench.core import progress
from sedbench.core.errors import DataError, SedbenchError
from sedbench.datatools.folder import resolve_dataset
from sedbench.scoring import metrics
from sedbench.scoring.evaluate import add_threshold_free, score_outputs, score_tuned
from sedbench.scoring.postprocess import PostProcessing
from sedbench.scoring.score_archive import read_archive
from sedbench.scoring.tuning import TunedPostProcessing

from .record import METRIC_PACKAGES, RunRecord, git_commit, write_record
from .runner import activity_excerpt


@dataclass
class RescoreOutcome:
    path: Path
    status: str  # rescored | skipped | failed
    reason: str = ""
    seconds: float = 0.0
    changed: dict | None = None  # headline metric -> (before, after), for those that moved


class TestSets:
    """Prepared test partitions by (dataset, source, fold), checked against each record's fingerprint."""

    __test__ = False

    def __init__(self, data_dir: Path):
        self.data_dir = Path(data_dir)
        self.loaded: dict = {}

    def get(self, record: RunRecord):
        key = (record.dataset.name, record.dataset.source, record.fold)
        if key not in self.loaded:
            dataset_cls = resolve_dataset(record.dataset.source or record.dataset.name)
            dataset = dataset_cls(self.data_dir)
            dataset.prepare()
            fingerprint = dataset.fingerprint(record.fold)
            self.loaded[key] = (dataset_cls, dataset.split(record.fold).test, fingerprint)
        dataset_cls, clips, fingerprint = self.loaded[key]
        if fingerprint != record.dataset.fingerprint:
            raise DataError(f"dataset {record.dataset.name!r} fold {record.fold} in {self.data_dir} has fingerprint "
                            f"{fingerprint[:16]}, the record {record.dataset.fingerprint[:16]}: its references are "
                            "not the ones the run was scored on")
        return dataset_cls, clips


def metric_versions() -> dict[str, str | None]:
    versions = {}
    for name in METRIC_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def rescore_record(record: RunRecord, test_sets: TestSets) -> RunRecord:
    """A copy of ``record`` with every metric recomputed from its stored outputs."""
    started = time.perf_counter()
    if record.outputs is None:
        raise SedbenchError(f"run record {record.path} has no stored test outputs (written before sedbench kept "
                            "them); rerun its job to store them")
    stored = read_archive(record.outputs_path(), record.outputs.sha256)
    dataset_cls, clips = test_sets.get(record)
    by_id = {c.clip_id: c for c in clips}
    missing = [c.clip_id for c in stored.clips if c.clip_id not in by_id]
    if missing or len(stored.clips) != len(clips):
        raise DataError(f"stored outputs {record.outputs_path()} cover {len(stored.clips)} clips, the test set "
                        f"{len(clips)}" + (f"; e.g. {missing[0]!r} is not in it" if missing else ""))
    clips = [by_id[c.clip_id] for c in stored.clips]
    labels = tuple(record.dataset.labels)
    if stored.labels != labels:
        raise DataError(f"stored outputs {record.outputs_path()} have classes {list(stored.labels)}, "
                        f"the record {list(labels)}")
    post = PostProcessing(**record.postprocessing)
    settings = metrics.MetricSettings(**record.metric_settings)
    task = dataset_cls.task
    scores, headline, estimates = score_outputs(stored.outputs, clips, labels, post, settings,
                                                record.metrics_backend, task)
    add_threshold_free(scores, headline, stored.outputs, clips, labels)
    tuned = record.tuned
    if tuned:
        chosen = tuned["postprocessing"]
        tuned_post = TunedPostProcessing(thresholds=chosen["thresholds"], windows=chosen["median_windows"])
        tuned_scores, tuned_headline = score_tuned(stored.outputs, clips, labels, tuned_post, settings,
                                                   record.metrics_backend, task)
        tuned = {**tuned, "headline": tuned_headline, "metrics": tuned_scores}
    rescored = {"at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "sedbench_version": __version__,
                "git_commit": git_commit(), "metric_versions": metric_versions(),
                "seconds": round(time.perf_counter() - started, 4)}
    return dataclasses.replace(record, metrics=scores, headline=headline, tuned=tuned,
                               excerpt=activity_excerpt(clips, estimates), rescored=rescored)


def rescore_records(records: list[RunRecord], data_dir: Path, log=print) -> list[RescoreOutcome]:
    """Rescore and rewrite each record (atomically); one record's failure never stops the others."""
    test_sets = TestSets(data_dir)
    outcomes = []
    with progress.step("rescoring", total=len(records), unit="records") as done:
        for record in done.track(records):
            started = time.perf_counter()
            if record.outputs is None:
                outcomes.append(RescoreOutcome(record.path, "skipped", "no stored test outputs (an older record)"))
                continue
            try:
                new = rescore_record(record, test_sets)
                write_record(record.path, new)
            except SedbenchError as exc:
                outcomes.append(RescoreOutcome(record.path, "failed", str(exc), time.perf_counter() - started))
                log(f"failed: {exc}")
                continue
            changed = {name: (record.headline.get(name), value) for name, value in new.headline.items()
                       if record.headline.get(name) != value}
            outcomes.append(RescoreOutcome(record.path, "rescored", seconds=time.perf_counter() - started,
                                           changed=changed))
    return outcomes
