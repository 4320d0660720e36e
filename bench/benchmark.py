"""``sedbench benchmark``: measured figures for the metric engine, features, training loop and a full run.

Not a test: timings are noisy. Every figure is measured on the same inputs for
both sides of a comparison, in this process, and printed; ``--write`` also saves
the output as ``reports/performance.md`` with the machine description.
"""

from __future__ import annotations

import contextlib
import io
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from sedbench.core.data import Event
from sedbench.core.system import DEFAULT_PROFILE
from sedbench.scoring.metrics import metric_classes


def machine_description() -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kb = int(next(l for l in Path("/proc/meminfo").read_text().splitlines() if l.startswith("MemTotal")).split()[1])
        memory = f", {kb / 2**20:.0f} GiB RAM"
    except (OSError, StopIteration, ValueError):
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (f"{cpu}, {cores} cores{memory}, {gpu}; Python {platform.python_version()}, torch {torch.__version__}, "
            f"numpy {np.__version__}")


def random_event_lists(seed: int, files: int, seconds: float, labels: list[str], events_per_file: int):
    """References with system-like estimates (jittered, some relabelled or missed, some false alarms)."""
    rng = np.random.default_rng(seed)
    refs, ests = {}, {}
    for n in range(files):
        ref, est = [], []
        for _ in range(events_per_file):
            onset = float(rng.uniform(0, seconds - 1))
            offset = min(seconds, onset + float(rng.exponential(3.0)) + 0.1)
            label = str(rng.choice(labels))
            ref.append(Event(onset, offset, label))
            if rng.random() < 0.8:
                jitter = rng.normal(0, 0.15, 2)
                o = max(0.0, onset + jitter[0])
                est.append(Event(o, max(o, offset + jitter[1]), label if rng.random() < 0.85 else str(rng.choice(labels))))
        for _ in range(int(rng.integers(0, events_per_file // 2 + 1))):
            o = float(rng.uniform(0, seconds - 0.5))
            est.append(Event(o, o + float(rng.exponential(1.0)), str(rng.choice(labels))))
        refs[f"f{n:04d}.wav"] = sorted(ref)
        ests[f"f{n:04d}.wav"] = sorted(est)
    return refs, ests


def time_metrics(refs, ests, seconds: float, labels: list[str], kind: str, backend: str) -> tuple[float, dict]:
    segment_class, event_class = metric_classes(backend)
    if kind == "event":
        metric = event_class(labels, t_collar=0.2, percentage_of_length=0.2, event_matching_type="greedy")
    else:
        metric = segment_class(labels, time_resolution=0.02 if kind == "segment 20 ms" else 1.0)
    listed = {k: ([e.as_sed_eval(k) for e in refs[k]], [e.as_sed_eval(k) for e in ests[k]]) for k in refs}
    started = time.perf_counter()
    for ref, est in listed.values():
        if kind == "event":
            metric.evaluate(ref, est)
        else:
            metric.evaluate(ref, est, evaluated_length_seconds=seconds)
    elapsed = time.perf_counter() - started
    return elapsed, metric.results()


def bench_metrics(lines: list[str]) -> None:
    labels = [f"class {k:02d}" for k in range(16)]
    files, seconds = 23, 295.0  # 113 minutes in recordings of TUT-SED 2016 length (3-5 min)
    refs, ests = random_event_lists(0, files, seconds, labels, events_per_file=128)
    n_events = sum(map(len, refs.values()))
    lines.append(f"### Metric engine vs sed_eval 0.2.1\n\nInputs: {files} files x {seconds:.0f} s = "
                 f"{files * seconds / 60:.0f} min of audio, {len(labels)} classes, {n_events} reference events, "
                 f"{sum(map(len, ests.values()))} estimated events.\n")
    lines.append("| metric | sed_eval s | fast s | speed-up | identical |\n|---|---|---|---|---|")
    for kind in ("segment 20 ms", "segment 1 s", "event"):
        slow_time, slow = time_metrics(refs, ests, seconds, labels, kind, "sed_eval")
        fast_time, fast = time_metrics(refs, ests, seconds, labels, kind, "fast")
        fast_time = min(fast_time, time_metrics(refs, ests, seconds, labels, kind, "fast")[0])
        same = _same(slow, fast)
        lines.append(f"| {kind} | {slow_time:.3f} | {fast_time:.4f} | {slow_time / fast_time:.0f}x | {'yes' if same else 'NO'} |")
        _flush(lines)
    lines.append("")


def synthetic_scores(refs: dict, ests: dict, seconds: float, labels: list[str], hop: float, seed: int) -> dict:
    """Frame scores that follow the estimated events through noise, smoothed as a network's are, stored as a run
    stores them (``score_archive.stored_scores``): audio id -> sed_scores_eval score table."""
    from scipy.ndimage import uniform_filter1d
    from sed_scores_eval.base_modules.scores import create_score_dataframe

    from sedbench.scoring.score_archive import frame_timestamps, stored_scores

    rng, column = np.random.default_rng(seed), {label: k for k, label in enumerate(labels)}
    frames = int(round(seconds / hop))
    tables = {}
    for name, events in ests.items():
        activity = np.zeros((frames, len(labels)))
        for e in events:
            activity[int(e.onset / hop):int(np.ceil(e.offset / hop)), column[e.label]] = 1.0
        scores = uniform_filter1d(0.7 * activity + 0.3 * rng.random(activity.shape), 9, axis=0)
        tables[name.rsplit(".", 1)[0]] = create_score_dataframe(stored_scores(scores), frame_timestamps(frames, hop),
                                                                labels)
    return tables


PSDS_INPUTS = (  # (what it stands for, files, seconds per file, events per file, frame hop s, time psds_eval too)
    ("DESED-like: 10 s clips, 64 ms frames (DESED_task's baseline)", 678, 10.0, 4, 0.064, True),
    ("the same at 20 ms frames (sedbench's CRNN)", 678, 10.0, 4, 0.02, False),
    ("TUT-SED-like: 295 s recordings, 20 ms frames", 23, 295.0, 128, 0.02, False),
)
PSDS_EVAL_THRESHOLDS = 50  # DESED_task's baselines evaluate psds_eval on 50 thresholds


def bench_psds(lines: list[str], inputs=PSDS_INPUTS) -> None:
    """PSDS1 through sed_scores_eval as sedbench calls it (the sweep's deltas), through sed_scores_eval alone (the
    same exact curve), and through psds_eval (approximated at 50 thresholds, via sed_scores_eval's reference
    wrapper) on the same scores. psds_eval runs on the first input only: at 20 ms frames the noise-floor thresholds
    give it hundreds of thousands of detections and its tables outgrow 24 GiB."""
    import warnings

    from sed_scores_eval.intersection_based import psds as exact_psds
    from sed_scores_eval.intersection_based.reference import approximate_psds

    from sedbench.scoring.sweep_deltas import dataset_deltas, load_compiled
    from sedbench.scoring.threshold_free import DELTA_CRITERIA, PSDS1, merged_references

    labels = [f"class {k:02d}" for k in range(16)]
    lines.append(f"### PSDS1: sedbench vs sed_scores_eval {_version('sed_scores_eval')} vs psds_eval "
                 f"{_version('psds_eval')}\n\n"
                 "Frame scores at sedbench's stored precision (3 decimals), 16 classes, 113 minutes of audio per "
                 "input, in one process; PSDS1 parameters (dtc = gtc = 0.7, alpha_st = 1, max_efpr = "
                 "100/h). sedbench passes sed_scores_eval the counts of its sweep (``scoring/sweep_deltas.py``, "
                 "numba, compiled code loaded before timing); sed_scores_eval alone counts at every threshold "
                 f"itself. psds_eval gets the detections at {PSDS_EVAL_THRESHOLDS} evenly spaced thresholds (through "
                 "sed_scores_eval's reference wrapper, detection included), so its value approximates the exact "
                 "curve's.\n")
    lines.append("| input | sedbench s | sed_scores_eval s | PSDS1 exact (both) | psds_eval s | PSDS1 at 50 thresholds |"
                 "\n|---|---|---|---|---|---|")
    criteria = {key: PSDS1[key] for key in DELTA_CRITERIA}
    for title, files, seconds, per_file, hop, with_psds_eval in inputs:
        refs, ests = random_event_lists(0, files, seconds, labels, events_per_file=per_file)
        tables = synthetic_scores(refs, ests, seconds, labels, hop, seed=1)
        truth = merged_references({name.rsplit(".", 1)[0]: events for name, events in refs.items()})
        durations = dict.fromkeys(tables, seconds)
        load_compiled()
        started = time.perf_counter()
        swept = exact_psds(scores=tables, ground_truth=truth, audio_durations=durations, unit_of_time="hour",
                           deltas=dataset_deltas(tables, truth, **criteria), **PSDS1)[0]
        swept_seconds = time.perf_counter() - started
        started = time.perf_counter()
        exact = exact_psds(scores=tables, ground_truth=truth, audio_durations=durations, unit_of_time="hour",
                           **PSDS1)[0]
        exact_seconds = time.perf_counter() - started
        value = f"{exact:.4f}" if swept == exact else f"NOT EQUAL: {swept!r} vs {exact!r}"
        approximate_text = "not run | —"
        if with_psds_eval:
            thresholds = np.linspace(1 / (PSDS_EVAL_THRESHOLDS + 1), 1, PSDS_EVAL_THRESHOLDS, endpoint=False)
            started = time.perf_counter()
            with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):  # its progress lines
                warnings.simplefilter("ignore")
                approximate = approximate_psds(tables, truth, durations, thresholds=thresholds, unit_of_time="hour",
                                               **PSDS1)[0]
            approximate_text = f"{time.perf_counter() - started:.1f} | {approximate:.4f}"
        lines.append(f"| {title}, {files} x {seconds:g} s | {swept_seconds:.2f} | {exact_seconds:.2f} | {value} | "
                     f"{approximate_text} |")
        _flush(lines)
    lines.append("")


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


def _same(a, b) -> bool:
    if isinstance(a, dict):
        return set(a) == set(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, float) and np.isnan(a):
        return isinstance(b, float) and np.isnan(b)
    if isinstance(a, (int, float)):
        return abs(a - b) <= 1e-9
    return a == b


def bench_features(lines: list[str], data_dir: Path, dataset_name: str) -> None:
    from sedbench.core import registry
    from sedbench.core.features import FeatureCache, LogMelSpec

    dataset = registry.datasets.get(dataset_name)(data_dir)
    dataset.prepare()
    clips = dataset.split("1").test
    audio_seconds = sum(c.duration for c in clips)
    spec = LogMelSpec()
    cache_dir = Path(tempfile.mkdtemp(prefix="sedbench-bench-"))
    try:
        cache = FeatureCache(cache_dir)
        cache.get(clips[0], spec)  # librosa / numba warm-up, not counted
        shutil.rmtree(cache_dir / "features")
        started = time.perf_counter()
        for clip in clips:
            cache.get(clip, spec)
        cold = time.perf_counter() - started
        started = time.perf_counter()
        for clip in clips:
            np.asarray(cache.get(clip, spec)).sum()  # touch every value of the memory map
        cached = time.perf_counter() - started
    finally:
        shutil.rmtree(cache_dir, ignore_errors=True)
    lines.append(
        f"### Features (log mel, 40 bands, 44.1 kHz)\n\n{len(clips)} files of {dataset_name}, "
        f"{audio_seconds:.0f} s of audio.\n\n"
        "| path | seconds | real-time factor |\n|---|---|---|\n"
        f"| extract (decode + STFT + mel + write cache) | {cold:.2f} | {cold / audio_seconds:.5f} |\n"
        f"| cached (memory-mapped .npy, every value read) | {cached:.4f} | {cached / audio_seconds:.6f} |\n\n"
        f"Cached load is {cold / cached:.0f}x faster than extraction.\n"
    )
    _flush(lines)


def bench_training(lines: list[str], system_name: str, repeats: int = 8) -> None:
    """Harness epochs and bare-loop epochs interleaved on the same model; best epoch of each counts."""
    import torch

    from sedbench.core import registry
    from sedbench.core.config import build_config
    from sedbench.core.data import FeatureClip
    from sedbench.training.common import seed_everything
    from sedbench.training.frames import FrameModelTrainer, SequenceSampler, TrainingSettings

    system = registry.systems.get(system_name)
    config = build_config(system, DEFAULT_PROFILE)
    rng = np.random.default_rng(0)
    # 20 clips of 30 s of random features: the loop's cost does not depend on the values
    clips = [FeatureClip(f"c{i}", rng.standard_normal((1500, 40)).astype(np.float32), 0.02, 30.0,
                         (rng.random((1500, 16)) < 0.2).astype(np.float32), np.zeros(16, np.float32)) for i in range(20)]
    settings = TrainingSettings(sequence_frames=config.sequence_frames, sequence_shift=73, batch_size=config.batch_size,
                                learning_rate=1e-3, max_epochs=1, patience=1, threshold=0.5, device="cpu")
    seed_everything(0)
    trainer = FrameModelTrainer(system.build_model(config, 16), settings, log=lambda _: None)
    model = trainer.model
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    x_all, y_all = (torch.from_numpy(a) for a in SequenceSampler(clips, config.sequence_frames, 73).epoch(0))

    harness, bare, valid = [], [], []
    for _ in range(repeats + 1):  # the first round warms up both loops
        history = trainer.fit(clips, clips[:4])
        harness.append(history["train_seconds"][0] / history["steps"][0])
        valid.append(history["valid_seconds"][0])
        model.train()
        started, steps = time.perf_counter(), 0
        for begin in range(0, x_all.shape[0], config.batch_size):
            optimizer.zero_grad()
            loss = loss_fn(model(x_all[begin : begin + config.batch_size]), y_all[begin : begin + config.batch_size])
            loss.backward()
            optimizer.step()
            steps += 1
        bare.append((time.perf_counter() - started) / steps)
    harness_step, bare_step = min(harness[1:]), min(bare[1:])
    lines.append(
        f"### Training loop ({system_name} {DEFAULT_PROFILE} profile, batch {config.batch_size} x "
        f"{config.sequence_frames} frames, CPU)\n\n"
        f"{repeats} interleaved epochs of each loop on the same model after one warm-up epoch each; the best epoch "
        "counts (least disturbed by other load).\n\n| loop | seconds per step (best) | median |\n|---|---|---|\n"
        f"| bare torch loop (pre-made tensors) | {bare_step:.4f} | {np.median(bare[1:]):.4f} |\n"
        f"| sedbench FrameModelTrainer (sampling, shuffling, logging) | {harness_step:.4f} | {np.median(harness[1:]):.4f} |\n\n"
        f"Harness overhead: {100 * (harness_step - bare_step) / bare_step:+.1f} % per step (best), "
        f"{100 * (np.median(harness[1:]) - np.median(bare[1:])) / np.median(bare[1:]):+.1f} % (median). "
        f"Validation (4 clips x 30 s, fast metrics) adds {np.median(valid[1:]):.3f} s per epoch.\n"
    )
    _flush(lines)


LEVERS = (  # (what, settings changed from the quick profile)
    ("the quick profile before it converged (32 maps, batch 8)", {"conv_maps": 32, "batch_size": 8}),
    ("the quick profile", {}),
    ("the quick profile, bf16 autocast", {"precision": "bf16"}),
    ("the quick profile, batch 32", {"batch_size": 32}),
)


def bench_training_levers(lines: list[str], system_name: str, repeats: int = 2) -> None:
    """One training epoch over as many frames as synth's training set, for the settings that trade speed."""
    from dataclasses import replace

    from sedbench.core import registry
    from sedbench.core.config import build_config
    from sedbench.core.data import FeatureClip
    from sedbench.training.common import seed_everything
    from sedbench.training.frames import FrameModelTrainer, TrainingSettings

    system = registry.systems.get(system_name)
    rng = np.random.default_rng(0)
    clips = [FeatureClip(f"c{i}", rng.standard_normal((1500, 40)).astype(np.float32), 0.02, 30.0,
                         (rng.random((1500, 16)) < 0.2).astype(np.float32), np.zeros(16, np.float32)) for i in range(60)]
    lines.append(f"### Training levers ({system_name}, one epoch over 60 x 30 s of features, CPU)\n\n"
                 f"Best of {repeats} epochs after a warm-up epoch; validation excluded.\n\n"
                 "| settings | steps | seconds per epoch | seconds per step |\n|---|---|---|---|")
    _flush(lines)
    for what, changes in LEVERS:
        config = replace(build_config(system, DEFAULT_PROFILE), **changes)
        settings = TrainingSettings(sequence_frames=config.sequence_frames, sequence_shift=73,
                                    batch_size=config.batch_size, learning_rate=config.learning_rate, max_epochs=1,
                                    patience=1, threshold=0.5, device="cpu", precision=config.precision)
        seed_everything(0)
        trainer = FrameModelTrainer(system.build_model(config, 16), settings, log=lambda _: None)
        seconds, steps = [], 0
        for _ in range(repeats + 1):
            history = trainer.fit(clips, clips[:2])
            seconds.append(history["train_seconds"][0])
            steps = history["steps"][0]
        best = min(seconds[1:])
        lines.append(f"| {what} | {steps} | {best:.2f} | {best / steps:.4f} |")
        _flush(lines)
    lines.append("")


def bench_end_to_end(lines: list[str], system_name: str, dataset_name: str) -> None:
    exe = Path(sys.executable).with_name("sedbench")
    runs = Path(tempfile.mkdtemp(prefix="sedbench-bench-runs-"))
    started = time.perf_counter()
    result = subprocess.run([str(exe), "run", "--system", system_name, "--dataset", dataset_name, "--runs-dir",
                             str(runs), "--quiet"], capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    shutil.rmtree(runs, ignore_errors=True)
    summary = "\n".join(l for l in result.stdout.splitlines() if l.strip())
    lines.append(f"### `sedbench run --system {system_name} --dataset {dataset_name}` ({DEFAULT_PROFILE} profile, "
                 f"dataset and features cached)\n\n"
                 f"Wall time {elapsed:.1f} s, exit code {result.returncode}.\n\n```\n{summary}\n```\n")
    _flush(lines)


_printed = 0


def _flush(lines: list[str]) -> None:
    global _printed
    for line in lines[_printed:]:
        print(line, flush=True)
    _printed = len(lines)


def run_benchmarks(data_dir: Path, end_to_end: bool, write: Path | None, system: str, dataset: str) -> str:
    """``system`` must train with ``sedbench.training.frames.FrameModelTrainer`` (its training loop is timed)."""
    lines = [f"# sedbench performance\n\nMachine: {machine_description()}.\n"]
    _flush(lines)
    bench_metrics(lines)
    bench_psds(lines)
    bench_features(lines, data_dir, dataset)
    bench_training(lines, system)
    bench_training_levers(lines, system)
    if end_to_end:
        bench_end_to_end(lines, system, dataset)
    import torch

    if not torch.cuda.is_available():
        lines.append("### GPU\n\nNo CUDA device on this machine: the paper-profile GPU timings are not measured here.\n")
        _flush(lines)
    text = "\n".join(lines) + "\n"
    if write is not None:
        write.parent.mkdir(parents=True, exist_ok=True)
        write.write_text(text, encoding="utf-8")
    return text


# --------------------------------------------------------------------------- GPU (`sedbench benchmark --gpu`)

GPU_HEADING = "## GPU"


def fixture_datasets() -> list:
    """The small registered datasets systems are checked on (``validation_fixture``), in name order."""
    from sedbench.core import registry
    from sedbench.core.errors import SedbenchError

    found = []
    for name in registry.datasets.names():
        try:
            cls = registry.datasets.get(name)
        except SedbenchError:
            continue
        if cls.validation_fixture:
            found.append(cls)
    return found


def bench_system_epochs(lines: list[str], data_dir: Path, cache_dir: Path, device: str,
                        systems: list[str] | None = None) -> None:
    """One epoch (one unit of each system's training budget) of every system on the first fixture it runs on."""
    from sedbench.core import registry
    from sedbench.core.errors import SedbenchError
    from sedbench.pipeline.jobs import JobSpec, Locations
    from sedbench.pipeline.runner import run_job

    lines.append(f"### One epoch of every system ({device})\n\nEach system trained for one unit of its budget "
                 "(`budget_setting` = 1) on the first fixture dataset it runs on, then scored; features cached.\n\n"
                 "| system | dataset | fit s | predict s | job s | note |\n|---|---|---|---|---|---|")
    _flush(lines)
    runs = Path(tempfile.mkdtemp(prefix="sedbench-bench-gpu-"))
    try:
        for name in systems or registry.systems.names():
            cls = registry.systems.get(name)
            overrides = {cls.budget_setting: "1"} if cls.budget_setting else {}
            problem = "no fixture dataset"
            for fixture in fixture_datasets():
                try:
                    record, _ = run_job(JobSpec(system=name, dataset=fixture.name, device=device, overrides=overrides),
                                        Locations(data_dir, cache_dir, runs), log=lambda _: None)
                except SedbenchError as exc:
                    problem = str(exc)
                    continue
                t = record.timings
                lines.append(f"| {name} | {fixture.name} | {t.get('fit', 0):.2f} | {t.get('predict', 0):.2f} | "
                             f"{t.get('total', 0):.2f} | |")
                break
            else:
                lines.append(f"| {name} | — | — | — | — | not run: {problem} |")
            _flush(lines)
    finally:
        shutil.rmtree(runs, ignore_errors=True)
    lines.append("")


def bench_paper_epochs(lines: list[str], data_dir: Path, cache_dir: Path, device: str, system: str, dataset: str,
                       precisions: tuple[str, ...] = ("fp32", "bf16", "fp16")) -> None:
    """The paper profile's epoch time in each precision (training and validation of one epoch)."""
    from sedbench.pipeline.jobs import JobSpec, Locations
    from sedbench.pipeline.runner import run_job

    lines.append(f"### {system} paper profile on {dataset}, one epoch ({device})\n\n"
                 "| precision | train s | validation s | test F1_frm after 1 epoch |\n|---|---|---|---|")
    _flush(lines)
    runs = Path(tempfile.mkdtemp(prefix="sedbench-bench-paper-"))
    try:
        for precision in precisions:
            record, _ = run_job(JobSpec(system=system, dataset=dataset, device=device, profile="paper",
                                        overrides={"max_epochs": "1", "precision": precision}),
                                Locations(data_dir, cache_dir, runs), log=lambda _: None)
            h = record.history
            lines.append(f"| {precision} | {h['train_seconds'][0]:.2f} | {h['valid_seconds'][0]:.2f} | "
                         f"{record.headline.get('F1_frm', float('nan')):.1f} |")
            _flush(lines)
    finally:
        shutil.rmtree(runs, ignore_errors=True)
    lines.append("")


def run_gpu_benchmarks(data_dir: Path, cache_dir: Path, write: Path | None, system: str, dataset: str,
                       device: str = "cuda", systems: list[str] | None = None,
                       precisions: tuple[str, ...] = ("fp32", "bf16", "fp16")) -> str:
    """The CUDA path of every system for one epoch and the paper-profile epoch of ``system`` in each precision.

    ``--write`` replaces the GPU section of the performance file (everything from its "## GPU" heading on).
    """
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        from sedbench.core.errors import SedbenchError

        raise SedbenchError("sedbench benchmark --gpu needs a CUDA device, and PyTorch sees none here")
    name = torch.cuda.get_device_name(0) if device == "cuda" else machine_description()
    lines = [f"{GPU_HEADING}\n\nDevice: {name}; torch {torch.__version__}.\n"]
    _flush(lines)
    started = time.perf_counter()
    bench_system_epochs(lines, data_dir, cache_dir, device, systems)
    bench_paper_epochs(lines, data_dir, cache_dir, device, system, dataset, precisions)
    lines.append(f"All GPU figures took {time.perf_counter() - started:.0f} s.\n")
    _flush(lines)
    text = "\n".join(lines) + "\n"
    if write is not None:
        existing = write.read_text(encoding="utf-8") if write.is_file() else ""
        kept = existing.split(f"\n{GPU_HEADING}\n", 1)[0].rstrip() if existing else "# sedbench performance"
        write.parent.mkdir(parents=True, exist_ok=True)
        write.write_text(kept + "\n\n" + text, encoding="utf-8")
    return text
