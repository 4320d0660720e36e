"""One job, one direction: dataset -> features -> system.fit/predict -> output checks -> post-processing -> metrics
-> run record.

The runner looks systems and datasets up through the registry and never imports or names a concrete one.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

from sedbench import __version__
from sedbench.core import progress
from sedbench.core.data import AudioClip, Convergence, Event, FeatureClip, LabelKind, Task
from sedbench.core.features import FeatureCache
from sedbench.core.outputs import FrameActivity, check_outputs
from sedbench.core.system import NO_CHECKPOINTS, RunContext
from sedbench.scoring import metrics
from sedbench.scoring.evaluate import add_threshold_free, score_outputs, score_tuned
from sedbench.scoring.postprocess import PostProcessing
from sedbench.scoring.score_archive import StoredClip, as_stored
from sedbench.scoring.tuning import tune_postprocessing

from .inputs import FeatureMemo, memo_key, prepare_inputs
from .jobs import JobSpec, Locations, ResolvedJob, resolve_job
from .record import (
    SCHEMA_VERSION,
    DatasetInfo,
    DeviceInfo,
    JobInfo,
    LiveOutputs,
    RunRecord,
    SystemInfo,
    environment,
    write_record,
)
from .studies import StudyContext


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


def run_job(job: JobSpec, where: Locations, log=print, memo: FeatureMemo | None = None) -> tuple[RunRecord, Path]:
    """Run one job and write its record; returns (record, path). ``memo`` shares prepared features between calls."""
    resolved = resolve_job(job, where)
    record = compute_record(resolved, where, log=log, memo=memo)
    return record, write_record(resolved.record_path(where.runs_dir), record)


def compute_record(resolved: ResolvedJob, where: Locations, log=print, checkpoints=NO_CHECKPOINTS,
                   memo: FeatureMemo | None = None) -> RunRecord:
    """Train and evaluate one resolved job; returns its record (the caller writes it)."""
    from sedbench.training.common import resolve_device, seed_everything  # torch only when a job runs

    job = resolved.job
    timer = PhaseTimer()
    started_environment = environment()  # the code that runs is the code at the start of the job
    system_cls, dataset_cls, spec = resolved.system_cls, resolved.dataset_cls, resolved.spec
    config, post, labels, fingerprint = resolved.config, resolved.post, resolved.labels, resolved.fingerprint
    device = resolve_device(job.device)
    timer.seconds["prepare"] = round(resolved.prepare_seconds, 4)
    with timer("prepare"):
        dataset = resolved.dataset
        split = dataset.split(job.fold)

    budget = getattr(config, system_cls.budget_setting, None) if system_cls.budget_setting else None
    checkpoints.bind({**asdict(resolved.key), "sedbench_version": __version__},
                     max_epoch=budget if isinstance(budget, int) and not isinstance(budget, bool) else None)
    seed_everything(job.seed)
    task = dataset_cls.task
    test_curve = TestCurve(job.system, split.test, labels, post, job.metrics_backend, task) if job.track_test else None
    context = RunContext(labels=labels, seed=job.seed, device=device, log=log, monitor=test_curve,
                         checkpoints=checkpoints)
    system = system_cls(config, context)

    with timer("features"):
        cache = FeatureCache(where.cache_dir)
        inputs, reused = (memo or FeatureMemo()).get(
            memo_key(dataset, job.fold, fingerprint, spec, cache),
            lambda: prepare_inputs(split, spec, cache, labels, dataset_cls.label_kind))
        if reused:  # otherwise the features step has said what it extracted and loaded
            log("features: reused from the previous job in this process")
    settings = metrics.MetricSettings(frame_resolution=spec.frame_hop)
    if test_curve is not None:
        test_curve.attach(inputs.test, settings)
        checkpoints.attach("test_curve", test_curve.state, test_curve.restore)  # a resumed run keeps its curve

    with timer("fit"):
        history = system.fit(inputs.train, inputs.valid)
    convergence = history.pop("convergence", None) if isinstance(history, dict) else None
    with timer("predict"), progress.step(f"predicting {len(inputs.test)} test clips"):
        outputs = system.predict(inputs.test)
    outputs = as_stored(check_outputs(outputs, inputs.test, labels, job.system))  # scored as they will be kept
    scores, headline, estimates = score_outputs(outputs, split.test, labels, post, settings, job.metrics_backend,
                                                task, timer)
    with timer("threshold_free"), progress.step("PSDS and threshold-independent scores"):
        add_threshold_free(scores, headline, outputs, split.test, labels)
    tuned = None
    if _tunable(outputs, inputs.valid, dataset_cls.label_kind):
        with timer("tune"), progress.step(f"tuning post-processing on {len(inputs.valid)} validation clips"):
            tuned = tuned_scores(system, inputs.valid, outputs, split.test, labels, settings, job, task)

    def evaluate(raw) -> dict:
        clips = inputs.test_clips(split.test, raw, spec, labels)
        checked = check_outputs(system.predict(clips), clips, labels, job.system)
        return score_outputs(checked, split.test, labels, post, settings, job.metrics_backend, task)[1]

    robustness = {}
    for study in job.studies:
        with timer(study.name):
            robustness[study.name] = study.run(StudyContext(split.test, spec, cache, headline, evaluate))

    record = RunRecord(
        schema_version=SCHEMA_VERSION,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        system=SystemInfo(name=job.system, paper=system_cls.paper.key, citation=system_cls.paper.citation,
                          url=system_cls.paper.url, parameters=system_cls.parameter_count(config, labels)),
        dataset=DatasetInfo(name=dataset_cls.name, fingerprint=fingerprint, labels=list(labels),
                            clips={"train": len(inputs.train), "valid": len(inputs.valid), "test": len(inputs.test)},
                            source=str(dataset_cls.source) if hasattr(dataset_cls, "source") else None),
        fold=job.fold,
        seed=job.seed,
        profile=job.profile,
        overrides=dict(job.overrides),
        config=resolved.config_payload["config"],
        config_hash=resolved.key.config_hash,
        job=JobInfo(key=resolved.key.id, **asdict(resolved.key), resumed_from_epoch=checkpoints.resumed_epoch),
        features=asdict(spec),
        postprocessing=asdict(post),
        metric_settings=asdict(settings),
        metrics_backend=job.metrics_backend,
        headline=headline,
        metrics=scores,
        history=history,
        convergence=Convergence(**convergence) if convergence else None,
        tuned=tuned,
        robustness=robustness,
        test_curve=test_curve.summary() if test_curve is not None else None,
        excerpt=activity_excerpt(split.test, estimates),
        device=_device_description(device),
        timings=timer.seconds,
        sedbench_version=__version__,
        environment=started_environment,
        live_outputs=LiveOutputs([StoredClip(c.clip_id, c.duration) for c in split.test], outputs, labels),
    )
    record.timings["total"] = round(sum(timer.seconds.values()), 4)
    return record


def _tunable(outputs: list, valid: list[FeatureClip], label_kind: LabelKind) -> bool:
    """Frame probabilities, and validation clips with events to tune on."""
    return bool(valid) and label_kind is LabelKind.STRONG and all(isinstance(o, FrameActivity) for o in outputs)


def tuned_scores(system, valid: list[FeatureClip], outputs: list, test: list[AudioClip], labels: tuple[str, ...],
                 settings: metrics.MetricSettings, job: JobSpec, task: Task) -> dict:
    """The test scores after post-processing tuned on the validation clips (a threshold and a median window per
    class, by validation event F1), with PSDS of the scores median-filtered by those windows; the papers' protocol
    (the job's own PostProcessing) stays the record's main view. Only validation outputs and events are looked at
    to choose."""
    valid_outputs = check_outputs(system.predict(valid), valid, labels, job.system)
    post, search = tune_postprocessing([o.probabilities for o in valid_outputs], valid, labels, settings)
    scores, headline = score_tuned(outputs, test, labels, post, settings, job.metrics_backend, task)
    return {"postprocessing": {"thresholds": post.thresholds, "median_windows": post.windows}, "search": search,
            "headline": headline, "metrics": scores}


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


class TestCurve:
    """The test scores after every epoch, for learning-curve plots (``--track-test``).

    Systems call it as ``context.monitor(epoch, predict)``; it returns nothing, so a system cannot select models
    on test data. Its time is part of the fit phase and is also reported on its own.
    """

    __test__ = False  # not a pytest test class

    def __init__(self, system: str, clips: list[AudioClip], labels: tuple[str, ...], post: PostProcessing,
                 backend: str, task: Task):
        self.system, self.clips, self.labels, self.post, self.backend, self.task = system, clips, labels, post, backend, task
        self.feature_clips: list[FeatureClip] = []
        self.settings = None
        self.epochs: list[dict] = []
        self.seconds = 0.0

    def attach(self, feature_clips: list[FeatureClip], settings: metrics.MetricSettings) -> None:
        self.feature_clips, self.settings = feature_clips, settings

    def __call__(self, epoch: int, predict) -> None:
        started = time.perf_counter()
        outputs = check_outputs(predict(self.feature_clips), self.feature_clips, self.labels, self.system)
        _, headline, _ = score_outputs(outputs, self.clips, self.labels, self.post, self.settings, self.backend,
                                       self.task)
        self.epochs.append({"epoch": int(epoch), **headline})
        self.seconds += time.perf_counter() - started

    def state(self) -> dict:
        return {"epochs": list(self.epochs), "seconds": self.seconds}

    def restore(self, state: dict) -> None:
        self.epochs, self.seconds = list(state["epochs"]), float(state["seconds"])

    def summary(self) -> dict:
        return {"note": "test scores after each epoch, for plots only; never used to select a model",
                "seconds": round(self.seconds, 4), "epochs": self.epochs}


def _device_description(device: str) -> DeviceInfo:
    import torch

    if device == "cuda":
        return DeviceInfo(type="cuda", name=torch.cuda.get_device_name(0), torch_threads=torch.get_num_threads())
    import platform

    return DeviceInfo(type="cpu", name=platform.processor() or platform.machine(), torch_threads=torch.get_num_threads())

