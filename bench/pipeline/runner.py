"""One job, one direction: dataset -> features -> system.fit/predict -> post-processing -> metrics -> record.

The runner looks systems and datasets up by name in the registry and never
imports a concrete one.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from sedbench import __version__
from sedbench.scoring import metrics
from sedbench.core import registry
from sedbench.core.data import AudioClip, ClipTags, Detections, Event, FeatureClip, FrameActivity, LabelKind
from sedbench.core.errors import ConfigError, DataError, SedbenchError, SystemOutputError
from .checkpoints import NO_CHECKPOINTS
from sedbench.core.features import FeatureCache, LogMelSpec, Standardizer, event_roll
from sedbench.scoring.postprocess import PostProcessing
from .record import SCHEMA_VERSION, config_hash, environment, record_path, write_record
from sedbench.core.system import RunContext, build_config, config_dict
from sedbench.core.tokens import boundary_tokens, check_timed_tokens


@dataclass(frozen=True)
class JobSpec:
    system: str
    dataset: str
    fold: str = "1"
    seed: int = 0
    profile: str = "quick"
    overrides: dict[str, str] = field(default_factory=dict)
    device: str = "auto"
    median_filter_frames: int = 1
    metrics_backend: str = "fast"
    pitch_shifts: tuple[float, ...] = ()  # quartertones; test audio re-evaluated shifted (Cakir et al. Fig. 5)
    track_test: bool = False  # score the test set after each epoch, for learning curves only (Wang & Metze Fig. 2)


@dataclass(frozen=True)
class Locations:
    data_dir: Path
    cache_dir: Path
    runs_dir: Path


class PhaseTimer:
    def __init__(self):
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, phase: str):
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[phase] = round(self.seconds.get(phase, 0.0) + time.perf_counter() - started, 4)


# The standardized features of the last job, so further seeds / trials in this process reuse them.
_FEATURE_MEMO: dict = {}


def feature_clips(
    clips: list[AudioClip], raw: dict[str, np.ndarray], spec: LogMelSpec, labels: tuple[str, ...],
    standardizer: Standardizer, with_targets: bool, strong_targets: bool = True,
) -> list[FeatureClip]:
    """Standardized features plus targets on the feature frame grid (targets hidden for test clips).

    ``strong_targets`` False (weakly labelled training data): only the clip tags are shown, frame targets are None.
    """
    result = []
    for clip in clips:
        features = standardizer(raw[clip.clip_id])
        features.setflags(write=False)  # shared by later seeds of this process: systems must not edit it
        tags = np.zeros(len(labels), dtype=np.float32)
        for label in clip.label_set:
            tags[labels.index(label)] = 1
        result.append(
            FeatureClip(
                clip_id=clip.clip_id,
                features=features,
                hop_seconds=spec.frame_hop,
                duration=clip.duration,
                targets=(event_roll(clip.events, labels, spec.frame_hop, features.shape[0])
                         if with_targets and strong_targets else None),
                tags=tags if with_targets else np.zeros(len(labels), dtype=np.float32),
                events=list(clip.events) if with_targets and strong_targets else [],
                target_class=clip.target_class,
            )
        )
    return result


def load_features(clips: list[AudioClip], spec: LogMelSpec, cache: FeatureCache) -> dict[str, np.ndarray]:
    raw = {}
    for clip in clips:
        matrix = cache.get(clip, spec)
        if not np.all(np.isfinite(matrix)):
            raise DataError(f"features of {clip.path} contain NaN or infinite values")
        raw[clip.clip_id] = matrix
    return raw


def check_output(output, clip: FeatureClip, labels: tuple[str, ...], system: str):
    """The interface contract for one clip's output; returns it unchanged or raises SystemOutputError."""
    where = f"system {system!r} on {clip.clip_id}"
    n_classes = len(labels)
    if isinstance(output, Detections):
        for event in output.events:
            if not isinstance(event, Event):
                raise SystemOutputError(f"{where}: Detections must hold Event objects, got {type(event).__name__}")
            if event.label not in labels:
                raise SystemOutputError(f"{where}: detected label {event.label!r} is not in the dataset's label list")
            if not (math.isfinite(event.onset) and math.isfinite(event.offset)) or not 0 <= event.onset <= event.offset:
                raise SystemOutputError(f"{where}: event {event} needs finite times with 0 <= onset <= offset")
        if output.tokens is not None:
            problem = check_timed_tokens(output.tokens, labels, where)
            if problem:
                raise SystemOutputError(problem)
        return output
    if isinstance(output, ClipTags):
        p = np.asarray(output.probabilities)
        if p.shape != (n_classes,):
            raise SystemOutputError(f"{where}: expected tag probabilities of shape ({n_classes},), got {p.shape}")
        _check_probabilities(p, where)
        return output
    if not isinstance(output, FrameActivity):
        raise SystemOutputError(
            f"{where}: predict must return FrameActivity, Detections or ClipTags objects, got {type(output).__name__}"
        )
    p = np.asarray(output.probabilities)
    if p.ndim != 2 or p.shape[1] != n_classes:
        raise SystemOutputError(f"{where}: expected probabilities of shape (frames, {n_classes}), got {p.shape}")
    if not output.hop_seconds or output.hop_seconds <= 0:
        raise SystemOutputError(f"{where}: hop_seconds must be > 0, got {output.hop_seconds!r}")
    expected = math.ceil(round(clip.duration / output.hop_seconds, 6))
    if abs(p.shape[0] - expected) > 1:
        raise SystemOutputError(
            f"{where}: {p.shape[0]} frames at a {output.hop_seconds:g} s hop do not cover the clip's "
            f"{clip.duration:.3f} s (expected {expected} frames)"
        )
    _check_probabilities(p, where)
    if output.tags is not None:
        tags = np.asarray(output.tags)
        if tags.shape != (n_classes,):
            raise SystemOutputError(f"{where}: expected clip tags of shape ({n_classes},), got {tags.shape}")
        _check_probabilities(tags, where + " (clip tags)")
    return output


def _check_probabilities(p: np.ndarray, where: str) -> None:
    if not np.all(np.isfinite(p)):
        raise SystemOutputError(f"{where}: output contains NaN or infinite values")
    if p.size and (p.min() < 0 or p.max() > 1):
        raise SystemOutputError(f"{where}: probabilities must lie in [0, 1], got range [{p.min():g}, {p.max():g}]")


def score_outputs(outputs: list, clips: list[AudioClip], labels: tuple[str, ...], post: PostProcessing,
                  settings: metrics.MetricSettings, backend: str, system: str,
                  timer: PhaseTimer, rare_events: bool = False) -> tuple[dict, dict, dict[str, list[Event]] | None]:
    """(scores, headline, estimated events per clip) for one output kind; tags have no events (None).

    ``rare_events``: also DCASE2017 task 2's onset-only event scores. Frame outputs that carry clip tags are
    scored as tagging too.
    """
    kinds = {type(o) for o in outputs}
    if len(kinds) > 1:
        raise SystemOutputError(f"system {system!r} mixed output kinds ({', '.join(sorted(k.__name__ for k in kinds))})")
    if kinds == {ClipTags}:
        with timer("metrics"):
            tags = metrics.score_tags({c.clip_id: c.label_set for c in clips},
                                      {c.clip_id: np.asarray(o.probabilities) for c, o in zip(clips, outputs)},
                                      list(labels), threshold=post.threshold)
        return {"tags": tags}, metrics.tag_headline(tags), None
    with timer("postprocess"):
        estimates = {}
        for clip, out in zip(clips, outputs):
            if isinstance(out, Detections):
                estimates[clip.clip_id] = sorted(out.events, key=lambda e: (e.onset, e.label))
            else:
                estimates[clip.clip_id] = post.events(out.probabilities, out.hop_seconds, labels, clip.duration)
    scenes = {c.clip_id: c.scene for c in clips}
    references = {c.clip_id: c.events for c in clips}
    with timer("metrics"):
        scores = metrics.score(references, estimates, {c.clip_id: c.duration for c in clips},
                               list(labels), settings, backend=backend,
                               scenes=scenes if clips and None not in scenes.values() else None)
        if rare_events:
            scores["rare"] = metrics.score_rare_events(references, estimates, list(labels),
                                                       {c.clip_id: c.target_class for c in clips})
        transcribed = [o for o in outputs if isinstance(o, Detections) and o.tokens is not None]
        if transcribed:
            if len(transcribed) != len(outputs):
                raise SystemOutputError(f"system {system!r} returned decoded tokens for some clips but not all")
            scores["transcription"] = metrics.token_error_rate(
                {c.clip_id: boundary_tokens(c.events, labels) for c in clips},
                {c.clip_id: [t.token for t in o.tokens] for c, o in zip(clips, outputs)},
            )
        tagged = [o for o in outputs if isinstance(o, FrameActivity) and o.tags is not None]
        if tagged:
            if len(tagged) != len(outputs):
                raise SystemOutputError(f"system {system!r} returned clip tags with some frame outputs but not all")
            scores["tags"] = metrics.score_tags({c.clip_id: c.label_set for c in clips},
                                                {c.clip_id: np.asarray(o.tags) for c, o in zip(clips, outputs)},
                                                list(labels), threshold=post.threshold)
    return scores, metrics.headline(scores), estimates


EXCERPT_SECONDS = 30.0


def activity_excerpt(clips: list[AudioClip], estimates: dict[str, list[Event]] | None) -> dict | None:
    """Reference and system events over the start of the first test clip, for the leaderboard's activity plot."""
    if estimates is None or not clips:
        return None
    clip = min(clips, key=lambda c: c.clip_id)
    end = min(clip.duration, EXCERPT_SECONDS)

    def clipped(events):
        return [[round(e.onset, 3), round(min(e.offset, end), 3), e.label] for e in events if e.onset < end]

    return {"clip": clip.clip_id, "start": 0.0, "end": round(end, 3),
            "reference": clipped(sorted(clip.events, key=lambda e: (e.onset, e.label))),
            "estimated": clipped(estimates[clip.clip_id])}


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
    dataset: object
    config: object
    post: PostProcessing
    labels: tuple[str, ...]
    fingerprint: str
    spec: object  # the system's feature spec
    config_payload: dict
    key: JobKey
    prepare_seconds: float = 0.0  # preparing the dataset and fingerprinting the fold (0 when a grid memoized it)

    @property
    def dataset_name(self) -> str:
        return self.dataset_cls.name

    def record_path(self, runs_dir: Path) -> Path:
        return record_path(runs_dir, {"dataset": {"name": self.dataset_name, "fingerprint": self.fingerprint},
                                      "system": {"name": self.job.system}, "fold": self.job.fold,
                                      "seed": self.job.seed, "config_hash": self.key.config_hash})


def resolve_job(job: JobSpec, where: Locations, datasets: dict | None = None) -> ResolvedJob:
    """Look the job up, prepare its dataset and compute its key; no torch, no training.

    ``datasets`` memoizes prepared datasets and fingerprints across the jobs of a grid.
    """
    memo = {} if datasets is None else datasets
    started = time.perf_counter()
    system_cls = registry.systems.get(job.system)
    dataset_cls = registry.resolve_dataset(job.dataset)  # a registered name, or a folder / manifest path
    dataset_name = dataset_cls.name
    if system_cls.label_kind is LabelKind.STRONG and dataset_cls.label_kind is LabelKind.WEAK:
        raise SedbenchError(
            f"system {job.system!r} needs strong (onset/offset) labels but dataset {dataset_name!r} has only clip tags"
        )
    config = build_config(system_cls, job.profile, job.overrides, dataset=dataset_name)
    metrics.metric_classes(job.metrics_backend)  # refuse an unknown backend before training
    if job.device not in ("auto", "cpu", "cuda"):  # whether CUDA is there is for the machine that runs the job
        raise ConfigError(f"--device must be auto, cpu or cuda, got {job.device!r}")
    post = PostProcessing(threshold=getattr(config, "threshold", 0.5), median_filter_frames=job.median_filter_frames)
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
    labels = tuple(dataset.labels)
    spec = system_cls(config, RunContext(labels=labels, seed=job.seed, device="cpu")).features()
    config_payload = {"system": job.system, "profile": job.profile, "config": config_dict(config),
                      "postprocessing": asdict(post), "features": asdict(spec)}
    key = JobKey(job.system, config_hash(config_payload), fingerprint, job.fold, job.seed)
    return ResolvedJob(job, system_cls, dataset_cls, dataset, config, post, labels, fingerprint, spec,
                       config_payload, key, prepare_seconds=time.perf_counter() - started)


def run_job(job: JobSpec, where: Locations, log=print) -> tuple[dict, Path]:
    """Run one job and write its record; returns (record, path)."""
    resolved = resolve_job(job, where)
    record = compute_record(resolved, where, log=log)
    return record, write_record(resolved.record_path(where.runs_dir), record)


def compute_record(resolved: ResolvedJob, where: Locations, log=print, checkpoints=NO_CHECKPOINTS) -> dict:
    """Train and evaluate one resolved job; returns its record (the caller writes it)."""
    from sedbench.training.frames import resolve_device, seed_everything  # torch only when a job runs

    job = resolved.job
    timer = PhaseTimer()
    started_environment = environment()  # the code that runs is the code at the start of the job
    system_cls, dataset_cls, dataset_name = resolved.system_cls, resolved.dataset_cls, resolved.dataset_name
    config, post, labels, fingerprint = resolved.config, resolved.post, resolved.labels, resolved.fingerprint
    device = resolve_device(job.device)
    timer.seconds["prepare"] = round(resolved.prepare_seconds, 4)
    with timer("prepare"):
        dataset = resolved.dataset
        split = dataset.split(job.fold)

    seed_everything(job.seed)
    rare_events = dataset_cls.task == "rare events"
    test_curve = TestCurve(job, split.test, labels, post, rare_events) if job.track_test else None
    context = RunContext(labels=labels, seed=job.seed, device=device, log=log, monitor=test_curve,
                         checkpoints=checkpoints)
    system = system_cls(config, context)
    spec = system.features()
    if asdict(spec) != asdict(resolved.spec):
        raise SystemOutputError(f"system {job.system!r} asked for different features in two instances with the "
                                "same config; features() must depend on the config only")

    with timer("features"):
        memo_key = (str(dataset.root), job.fold, fingerprint, spec.key(), str(where.cache_dir))
        if _FEATURE_MEMO.get("key") == memo_key:  # another seed or trial on the same data: nothing to redo
            train, valid, test, standardizer = _FEATURE_MEMO["clips"]
            log("features: reused from the previous job in this process")
        else:
            cache = FeatureCache(where.cache_dir)
            raw = load_features(split.train + split.valid + split.test, spec, cache)
            standardizer = Standardizer.fit([raw[c.clip_id] for c in split.train])
            strong = dataset_cls.label_kind is LabelKind.STRONG  # weakly labelled: training sees clip tags only
            train = feature_clips(split.train, raw, spec, labels, standardizer, with_targets=True, strong_targets=strong)
            valid = feature_clips(split.valid, raw, spec, labels, standardizer, with_targets=True, strong_targets=strong)
            test = feature_clips(split.test, raw, spec, labels, standardizer, with_targets=False)
            _FEATURE_MEMO.clear()
            _FEATURE_MEMO.update(key=memo_key, clips=(train, valid, test, standardizer))
            log(f"features: {cache.misses} extracted, {cache.hits} loaded from cache")
    settings = metrics.MetricSettings(frame_resolution=spec.frame_hop)
    if test_curve is not None:
        test_curve.attach(test, settings)
        checkpoints.attach("test_curve", test_curve.state, test_curve.restore)  # a resumed run keeps its curve

    with timer("fit"):
        history = system.fit(train, valid)
    with timer("predict"):
        outputs = system.predict(test)
    if not isinstance(outputs, (list, tuple)) or len(outputs) != len(test):
        raise SystemOutputError(
            f"system {job.system!r}: predict returned {len(outputs) if hasattr(outputs, '__len__') else outputs!r} "
            f"outputs for {len(test)} clips"
        )
    outputs = [check_output(o, clip, labels, job.system) for o, clip in zip(outputs, test)]
    scores, headline, estimates = score_outputs(outputs, split.test, labels, post, settings, job.metrics_backend,
                                                job.system, timer, rare_events=rare_events)

    robustness = {}
    if job.pitch_shifts:
        with timer("pitch_shift"):
            robustness["pitch_shift"] = _pitch_shift_study(
                job, system, split.test, spec, where.cache_dir, standardizer, labels, post, settings, headline
            )

    record = {
        "schema_version": SCHEMA_VERSION,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "system": {"name": job.system, "paper": system_cls.paper.key, "citation": system_cls.paper.citation,
                   "url": system_cls.paper.url, "parameters": _parameter_count(system)},
        "dataset": {"name": dataset_name, "fingerprint": fingerprint, "labels": list(labels),
                    "clips": {"train": len(train), "valid": len(valid), "test": len(test)},
                    **({"source": str(dataset_cls.source)} if hasattr(dataset_cls, "source") else {})},
        "fold": job.fold,
        "seed": job.seed,
        "profile": job.profile,
        "overrides": dict(job.overrides),
        "config": config_dict(config),
        "config_hash": resolved.key.config_hash,
        "job": {"key": resolved.key.id, **asdict(resolved.key),
                "resumed_from_epoch": checkpoints.resumed_epoch},
        "features": asdict(spec),
        "postprocessing": asdict(post),
        "metric_settings": asdict(settings),
        "metrics_backend": job.metrics_backend,
        "headline": headline,
        "metrics": scores,
        "history": history,
        "robustness": robustness,
        **({"test_curve": test_curve.summary()} if test_curve is not None else {}),
        "excerpt": activity_excerpt(split.test, estimates),
        "device": _device_description(device),
        "timings": timer.seconds,
        "sedbench_version": __version__,
        "environment": started_environment,
    }
    record["timings"]["total"] = round(sum(timer.seconds.values()), 4)
    return record


class TestCurve:
    """The test scores after every epoch, for learning-curve plots (``--track-test``).

    Systems call it as ``context.monitor(epoch, predict)``; it returns nothing, so a system cannot select models
    on test data. Its time is part of the fit phase and is also reported on its own.
    """

    def __init__(self, job: JobSpec, clips: list[AudioClip], labels: tuple[str, ...], post: PostProcessing,
                 rare_events: bool):
        self.job, self.clips, self.labels, self.post, self.rare_events = job, clips, labels, post, rare_events
        self.feature_clips: list[FeatureClip] = []
        self.settings = None
        self.epochs: list[dict] = []
        self.seconds = 0.0

    def attach(self, feature_clips: list[FeatureClip], settings: metrics.MetricSettings) -> None:
        self.feature_clips, self.settings = feature_clips, settings

    def __call__(self, epoch: int, predict) -> None:
        started = time.perf_counter()
        outputs = [check_output(o, c, self.labels, self.job.system)
                   for o, c in zip(predict(self.feature_clips), self.feature_clips)]
        _, headline, _ = score_outputs(outputs, self.clips, self.labels, self.post, self.settings,
                                       self.job.metrics_backend, self.job.system, PhaseTimer(),
                                       rare_events=self.rare_events)
        self.epochs.append({"epoch": int(epoch), **headline})
        self.seconds += time.perf_counter() - started

    def state(self) -> dict:
        return {"epochs": list(self.epochs), "seconds": self.seconds}

    def restore(self, state: dict) -> None:
        self.epochs, self.seconds = list(state["epochs"]), float(state["seconds"])

    def summary(self) -> dict:
        return {"note": "test scores after each epoch, for plots only; never used to select a model",
                "seconds": round(self.seconds, 4), "epochs": self.epochs}


def _pitch_shift_study(job, system, clips, spec, cache_dir, standardizer, labels, post, settings, headline):
    """F1_frm on pitch-shifted test audio and its absolute change from the unshifted score."""
    cache = FeatureCache(cache_dir)
    study = {}
    for shift in job.pitch_shifts:
        raw = {c.clip_id: cache.get(c, spec, pitch_shift=shift) for c in clips}
        shifted = feature_clips(clips, raw, spec, labels, standardizer, with_targets=False)
        outputs = [check_output(o, c, labels, job.system) for o, c in zip(system.predict(shifted), shifted)]
        _, shifted_headline, _ = score_outputs(outputs, clips, labels, post, settings, job.metrics_backend, job.system,
                                            PhaseTimer())
        base = headline.get("F1_frm")
        value = shifted_headline.get("F1_frm")
        study[f"{shift:+g}"] = {
            "F1_frm": value,
            "abs_change_F1_frm": abs(value - base) if value is not None and base is not None else None,
            "headline": shifted_headline,
        }
    return {"unit": "quartertones (24 bins per octave)", "shifts": study}


def _parameter_count(system) -> int | None:
    counter = getattr(system, "parameter_count", None)
    return int(counter()) if callable(counter) else None


def _device_description(device: str) -> dict:
    import torch

    if device == "cuda":
        return {"type": "cuda", "name": torch.cuda.get_device_name(0), "torch_threads": torch.get_num_threads()}
    import platform

    return {"type": "cpu", "name": platform.processor() or platform.machine(), "torch_threads": torch.get_num_threads()}
