"""A job: one system trained and scored on one fold of one dataset with one seed, and what makes two jobs the same.

``resolve_job`` looks the names up in the registry, prepares the dataset, builds the config and computes the job's
key, all before any training, so a grid refuses bad names, settings and data before its first job.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from sedbench.core import registry
from sedbench.core.config import build_config, config_dict, resolve_profile
from sedbench.core.data import LabelKind
from sedbench.core.errors import ConfigError, DataError, SedbenchError
from sedbench.core.system import DEFAULT_PROFILE
from sedbench.datatools.folder import resolve_dataset
from sedbench.scoring import metrics
from sedbench.scoring.postprocess import PostProcessing

from .record import config_hash, record_file

DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class JobSpec:
    system: str
    dataset: str  # a registered name, or the path of a dataset folder or CSV manifest
    fold: str = "1"
    seed: int = 0
    profile: str = DEFAULT_PROFILE
    overrides: dict[str, str] = field(default_factory=dict)
    device: str = "auto"
    median_filter_frames: int = 1
    metrics_backend: str = "fast"
    studies: tuple[Any, ...] = ()  # sedbench.pipeline.studies.Study objects, run on the test set after scoring
    track_test: bool = False  # score the test set after each epoch, for learning curves only (Wang & Metze Fig. 2)


@dataclass(frozen=True)
class Locations:
    data_dir: Path
    cache_dir: Path
    runs_dir: Path


@dataclass(frozen=True)
class JobKey:
    """What makes two jobs the same job: a finished one with this key is never recomputed (unless forced)."""

    system: str
    config_hash: str
    dataset_fingerprint: str
    fold: str
    seed: int

    @property
    def id(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]


@dataclass
class ResolvedJob:
    """Everything a job decides before training: classes, config, the prepared dataset, its key."""

    job: JobSpec
    system_cls: type
    dataset_cls: type
    dataset: Any
    config: Any
    post: PostProcessing
    labels: tuple[str, ...]
    fingerprint: str
    spec: Any  # the system's feature spec
    config_payload: dict
    key: JobKey
    prepare_seconds: float = 0.0  # preparing the dataset and fingerprinting the fold (0 when a grid memoized it)

    @property
    def dataset_name(self) -> str:
        return self.dataset_cls.name

    def record_path(self, runs_dir: Path) -> Path:
        return record_file(runs_dir, self.dataset_name, self.job.system, self.job.fold, self.key.config_hash,
                           self.fingerprint, self.job.seed)

    @property
    def label(self) -> str:
        """``crnn on synth, fold 1, seed 0, profile quick, rnn_units=8``: how logs and `sedbench status` name it."""
        job = self.job
        settings = "".join(f", {k}={v}" for k, v in job.overrides.items())
        return (f"{job.system} on {self.dataset_name}, fold {job.fold}, seed {job.seed}, "
                f"profile {job.profile}{settings}")


def resolve_job(job: JobSpec, where: Locations, datasets: dict | None = None) -> ResolvedJob:
    """Look the job up, prepare its dataset and compute its key; no torch, no training.

    ``datasets`` memoizes prepared datasets and fingerprints across the jobs of a grid.
    """
    memo = {} if datasets is None else datasets
    started = time.perf_counter()
    system_cls = registry.systems.get(job.system)
    dataset_cls = resolve_dataset(job.dataset)
    dataset_name = dataset_cls.name
    if system_cls.label_kind is LabelKind.STRONG and dataset_cls.label_kind is LabelKind.WEAK:
        raise SedbenchError(
            f"system {job.system!r} needs strong (onset/offset) labels but dataset {dataset_name!r} has only clip tags"
        )
    job = replace(job, profile=resolve_profile(system_cls, job.profile))  # the profile that runs, as records name it
    config = build_config(system_cls, job.profile, job.overrides, dataset=dataset_name)
    metrics.metric_classes(job.metrics_backend)  # refuse an unknown backend before training
    if job.device not in DEVICES:  # whether CUDA is there is for the machine that runs the job
        raise ConfigError(f"--device must be auto, cpu or cuda, got {job.device!r}")
    post = PostProcessing(threshold=system_cls.decision_threshold(config), median_filter_frames=job.median_filter_frames)
    dataset_key = (job.dataset, str(where.data_dir))
    if dataset_key not in memo:
        dataset = dataset_cls(where.data_dir)
        dataset.prepare()
        memo[dataset_key] = {"dataset": dataset}
    entry = memo[dataset_key]
    dataset = entry["dataset"]
    if job.fold not in entry:
        split = dataset.split(job.fold)
        if not split.train or not split.test:
            raise DataError(f"dataset {dataset_name!r} fold {job.fold} has an empty train or test partition")
        entry[job.fold] = dataset.fingerprint(job.fold)
    fingerprint = entry[job.fold]
    spec = system_cls.features(config)
    config_payload = {"system": job.system, "profile": job.profile, "config": config_dict(config),
                      "postprocessing": asdict(post), "features": asdict(spec)}
    key = JobKey(job.system, config_hash(config_payload), fingerprint, job.fold, job.seed)
    return ResolvedJob(job, system_cls, dataset_cls, dataset, config, post, tuple(dataset.labels), fingerprint, spec,
                       config_payload, key, prepare_seconds=time.perf_counter() - started)
