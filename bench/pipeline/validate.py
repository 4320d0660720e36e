"""``sedbench validate``: run a registered system on the validation dataset (``synth-mini``) and check the interface
contract check by check.

In the spirit of HEAR's ``hear-validator``: before a new system is run on real data, this says which part of the
contract it keeps and which it breaks, one line per check, with the numbers behind each verdict. The checks:

1. interface: a ``System`` subclass with ``name``, ``paper``, a dataclass ``Config`` and ``profiles`` holding the
   requested profile (without the default 'quick' it runs its defaults, see ``core.config.resolve_profile``);
   ``features(config)`` gives a spec with a positive ``frame_hop`` whose features can be extracted.
2. fit: returns a dict that is JSON-serializable once ``sedbench.pipeline.record.json_safe`` has replaced NaN / inf.
3. predict: a list with one output per test clip.
4-6. output shape, hop, probabilities: the rules of ``sedbench.core.outputs`` (the ones the runner applies),
   reported by check, with the measurements behind the first problem of each.
7. determinism: a second seeded fit + predict gives the same outputs (0 for event times, 1e-6 for probabilities).
8. test isolation: fit does not use test data. Audit probe: an audit hook records every ``open`` of a test clip's
   audio, annotation or cached feature file while the system is built and fit. Behavioural probe: a fit on a copy
   of the dataset whose test audio is noise and whose test annotations are empty (``Dataset.blinded_copy``; its
   features in a cache of its own), predicting the original test features, must give the outputs of the normal
   run. Audio read through libsndfile (soundfile, librosa) is opened in C and raises no audit event; the
   behavioural probe is what catches a fit that reads test audio that way.

Fit and predict run exactly as a job runs them: ``seed_everything(seed)``, the system built with a ``RunContext``
(no checkpoints), inputs from ``sedbench.pipeline.inputs.prepare_inputs``. While a system runs, ``$SEDBENCH_DATA``
names the data folder in use (the blinded copy during the behavioural probe), so a system that finds the dataset
through it sees the copy.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from sedbench.core import registry
from sedbench.core.config import build_config, defaults_note, resolve_profile
from sedbench.core.data import FeatureClip, LabelKind, Paper
from sedbench.core.errors import ConfigError, SedbenchError
from sedbench.core.features import FeatureCache
from sedbench.core.outputs import (
    ClipTags,
    Detections,
    FrameActivity,
    Problem,
    expected_frames,
    kinds_text,
    output_problems,
)
from sedbench.core.paths import default_cache_dir, default_data_dir
from sedbench.core.system import DEFAULT_PROFILE, NO_CHECKPOINTS, RunContext, System

from .inputs import PreparedInputs, prepare_inputs
from .record import json_safe

FOLD = "1"
PROBABILITY_TOLERANCE = 1e-6  # event times must match exactly
PASS, FAIL, SKIP = "PASS", "FAIL", "SKIP"
CHECK_NAMES = ("interface", "fit", "predict", "output shape", "hop", "probabilities", "determinism", "test isolation")


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # PASS | FAIL | SKIP
    detail: str

    def line(self) -> str:
        return f"{self.status}  {self.name}: {self.detail}"


def summary_line(checks: list[Check]) -> str:
    counts = {status: sum(c.status == status for c in checks) for status in (PASS, FAIL, SKIP)}
    text = f"{counts[PASS]} of {len(checks)} checks passed"
    if counts[FAIL]:
        text += f", {counts[FAIL]} failed"
    if counts[SKIP]:
        text += f", {counts[SKIP]} skipped"
    return text


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'s' * (number != 1)}"


def one_line(exc: BaseException) -> str:
    """``Type: first line of the message``, short enough for a check line."""
    lines = str(exc).strip().splitlines()
    message = lines[0] if lines else ""
    if len(message) > 300:
        message = message[:297] + "..."
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


# --------------------------------------------------------------------------- the audit probe


class _OpenAudit:
    """Records ``open`` audit events on watched paths while active.

    Audit hooks cannot be removed, so one instance is installed once per process and is idle (one attribute
    test per event) except while ``watching``. It never raises: an exception in a hook would abort the open.
    """

    def __init__(self):
        self.installed = False
        self.active = False
        self.watched: frozenset[str] = frozenset()
        self.hits: list[str] = []

    def __call__(self, event: str, args: tuple) -> None:
        if not self.active or event != "open":
            return
        try:
            target = args[0]
            if target is None or isinstance(target, int):  # an already open descriptor
                return
            name = os.path.abspath(os.fsdecode(target))
            if name in self.watched and name not in self.hits:
                self.hits.append(name)
        except Exception:
            pass

    @contextmanager
    def watching(self, paths: list[Path]):
        """Record opens of ``paths`` (as given and resolved) in the block; yields the list the hits go to."""
        if not self.installed:
            sys.addaudithook(self)
            self.installed = True
        names = set()
        for path in paths:
            names.add(os.path.abspath(path))
            names.add(os.path.realpath(path))
        self.watched, self.hits, self.active = frozenset(names), [], True
        try:
            yield self.hits
        finally:
            self.active = False


_AUDIT = _OpenAudit()


# --------------------------------------------------------------------------- running the system


@dataclass
class _Inputs:
    """One dataset copy's clips, as a job hands them to a system."""

    data_dir: Path
    split: Any
    prepared: PreparedInputs
    watched: list[Path]  # test audio, annotations and cached features: fit must open none of them

    @property
    def train(self) -> list[FeatureClip]:
        return self.prepared.train

    @property
    def valid(self) -> list[FeatureClip]:
        return self.prepared.valid

    @property
    def test(self) -> list[FeatureClip]:
        return self.prepared.test


@dataclass
class _Run:
    history: Any = None
    outputs: Any = None
    fit_error: str | None = None
    predict_error: str | None = None
    opened: list[str] = dataclasses.field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.fit_error is None and self.predict_error is None


def _test_files(dataset, split, spec, cache: FeatureCache) -> list[Path]:
    """Every file that holds a test clip: its audio, its annotation files and its cached features."""
    files = []
    for clip in split.test:
        files += [clip.path, *dataset.annotation_files(clip), cache.path_for(clip, spec)]
    return files


def _inputs(dataset, spec, cache_dir: Path, labels: tuple[str, ...], with_test: bool = True) -> _Inputs:
    """What a job prepares before fit (``prepare_inputs``), and the test files fit must not open."""
    split = dataset.split(FOLD)
    cache = FeatureCache(cache_dir)
    prepared = prepare_inputs(split, spec, cache, labels, dataset.label_kind, with_test=with_test)
    return _Inputs(dataset.data_dir, split, prepared, _test_files(dataset, split, spec, cache))


def _seed_copy_cache(original, copy, spec, original_cache: Path, copy_cache: Path) -> None:
    """Put the training and validation features of the original into the copy's own cache.

    The cache is keyed by audio content: the copy's training and validation audio is byte-identical, so the
    files are the same ones extraction would write, and only the copy's (noise) test audio is new.
    """
    source, target = FeatureCache(original_cache), FeatureCache(copy_cache)
    ours = original.split(FOLD)
    theirs = copy.split(FOLD)
    for mine, copied in zip(ours.train + ours.valid, theirs.train + theirs.valid):
        held, wanted = source.path_for(mine, spec), target.path_for(copied, spec)
        if mine.clip_id != copied.clip_id or held.name != wanted.name:
            raise SedbenchError(f"the copy of {original.name} holds other training audio than {mine.path}; "
                                f"the behavioural probe needs the copy byte-identical outside the test set")
        wanted.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(held, wanted)


@contextmanager
def _data_dir_environment(data_dir: Path):
    saved = os.environ.get("SEDBENCH_DATA")
    os.environ["SEDBENCH_DATA"] = str(data_dir)
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("SEDBENCH_DATA", None)
        else:
            os.environ["SEDBENCH_DATA"] = saved


def _fit_and_predict(system_cls, config, context: RunContext, fit_on: _Inputs, test: list[FeatureClip],
                     watched: list[Path]) -> _Run:
    """One seeded run as ``run_job`` does it; exceptions become one-line messages, never tracebacks."""
    from sedbench.training.common import seed_everything

    run = _Run()
    with _data_dir_environment(fit_on.data_dir):
        seed_everything(context.seed)
        try:
            with _AUDIT.watching(watched) as opened:
                try:
                    system = system_cls(config, context)
                    run.history = system.fit(fit_on.train, fit_on.valid)
                finally:
                    run.opened = list(opened)
        except Exception as exc:
            run.fit_error = one_line(exc)
            return run
        try:
            run.outputs = system.predict(test)
        except Exception as exc:
            run.predict_error = one_line(exc)
    return run


# --------------------------------------------------------------------------- checks 1-6


def _interface(system_cls, system_name: str, profile: str) -> str | None:
    """The first problem with the class's declared interface, or None."""
    if not (isinstance(system_cls, type) and issubclass(system_cls, System)):
        return f"{system_name!r} is {system_cls!r}, not a subclass of sedbench.core.system.System"
    name = getattr(system_cls, "name", None)
    if not isinstance(name, str) or not name:
        return f"{system_cls.__name__}.name must be a non-empty string, got {name!r}"
    paper = getattr(system_cls, "paper", None)
    if not isinstance(paper, Paper):
        return f"{system_cls.__name__}.paper must be a sedbench.core.data.Paper, got {type(paper).__name__}"
    config = getattr(system_cls, "Config", None)
    if not (isinstance(config, type) and dataclasses.is_dataclass(config)):
        return f"{system_cls.__name__}.Config must be a dataclass, got {config!r}"
    profiles = getattr(system_cls, "profiles", None)
    if not isinstance(profiles, dict) or not all(isinstance(v, dict) for v in profiles.values()):
        return f"{system_cls.__name__}.profiles must be a dict of profile name -> settings dict, got {profiles!r}"
    try:
        resolve_profile(system_cls, profile)
    except ConfigError:
        return f"{system_cls.__name__} has no profile {profile!r}; profiles: {', '.join(sorted(profiles))}"
    if not isinstance(getattr(system_cls, "label_kind", None), LabelKind):
        return f"{system_cls.__name__}.label_kind must be a sedbench.core.data.LabelKind"
    return None


def _spec_problem(spec) -> str | None:
    for attribute in ("frame_hop", "key", "extract"):
        if not hasattr(spec, attribute):
            return f"features() returned {type(spec).__name__}, which has no {attribute!r} (see sedbench.core.features)"
    hop = spec.frame_hop
    if not isinstance(hop, (int, float)) or not math.isfinite(hop) or hop <= 0:
        return f"features() returned a spec with frame_hop {hop!r}; expected a positive number of seconds"
    return None


def _shape_range(shapes: list[tuple]) -> str:
    """(500, 6) when all shapes agree, else (499..501, 6)."""
    if len(set(shapes)) == 1:
        return str(shapes[0])
    ndims = {len(s) for s in shapes}
    if len(ndims) > 1:
        return ", ".join(sorted({str(s) for s in shapes}))
    parts = []
    for axis in range(ndims.pop()):
        values = [s[axis] for s in shapes]
        parts.append(str(values[0]) if min(values) == max(values) else f"{min(values)}..{max(values)}")
    return "(" + ", ".join(parts) + (",)" if len(parts) == 1 else ")")


def _output_checks(outputs: list, test: list[FeatureClip], labels: tuple[str, ...],
                   hop: float) -> list[tuple[str, str, str]]:
    """Checks 4-6: (name, status, detail) from the contract's problems, the first problem of each check."""
    first: dict[str, Problem] = {}
    for problem in output_problems(outputs, test, labels):
        first.setdefault(problem.check, problem)
    kinds = {type(o) for o in outputs}
    results = []
    for name, summary in (("output shape", lambda: _shape_summary(outputs, labels, hop)),
                          ("hop", lambda: _hop_summary(outputs, test)),
                          ("probabilities", lambda: _probability_summary(outputs))):
        if name in first:
            results.append((name, FAIL, first[name].detail))
        elif name == "hop" and kinds != {FrameActivity}:
            results.append((name, SKIP, f"applies to FrameActivity outputs; these are {kinds_text(outputs)}"))
        elif name == "probabilities" and not kinds <= {FrameActivity, ClipTags}:
            results.append((name, SKIP, f"applies to probabilities; these outputs are {kinds_text(outputs)}"))
        else:
            results.append((name, PASS, summary()))
    return results


def _shape_summary(outputs: list, labels: tuple[str, ...], hop: float) -> str:
    kind = type(outputs[0])
    if kind is Detections:
        events = sum(len(o.events) for o in outputs)
        tokens = sum(o.tokens is not None for o in outputs)
        return (f"Detections: {events} events over {len(outputs)} clips, labels from the {len(labels)}-label list, "
                f"finite 0 <= onset <= offset <= clip duration (+ {hop:g} s)"
                + (f"; decoded tokens on {tokens} clips" if tokens else ""))
    shapes = [np.asarray(o.probabilities).shape for o in outputs]
    dtypes = sorted({str(np.asarray(o.probabilities).dtype) for o in outputs})
    tagged = kind is FrameActivity and any(o.tags is not None for o in outputs)
    return (f"{kind.__name__}: {'/'.join(dtypes)} probabilities {_shape_range(shapes)} for each of {len(outputs)} "
            f"clips" + (f", clip tags ({len(labels)},)" if tagged else ""))


def _hop_summary(outputs: list, test: list[FeatureClip]) -> str:
    hops = sorted({o.hop_seconds for o in outputs})
    frames = np.asarray(outputs[0].probabilities).shape[0]
    duration = test[0].duration
    expected = expected_frames(duration, outputs[0].hop_seconds)
    return (f"hop {'/'.join(f'{h:g}' for h in hops)} s; e.g. {frames} frames cover {frames * hops[0]:.3f} s of a "
            f"{duration:.3f} s clip (expected {expected} ± 1); all {len(outputs)} clips within one frame")


def _probability_summary(outputs: list) -> str:
    arrays = [np.asarray(o.probabilities, dtype=np.float64) for o in outputs]
    arrays += [np.asarray(o.tags, dtype=np.float64) for o in outputs if isinstance(o, FrameActivity)
               and o.tags is not None]
    values = [a for a in arrays if a.size]
    low = min(a.min() for a in values) if values else math.inf
    high = max(a.max() for a in values) if values else -math.inf
    return (f"{sum(a.size for a in arrays)} values over {len(outputs)} clips, all finite, "
            f"range [{low:.4g}, {high:.4g}]")


# --------------------------------------------------------------------------- comparing two runs


@dataclass
class _Difference:
    probability: float = 0.0  # max |difference| of probabilities and tags
    time: float = 0.0  # max |difference| of event / token times and hops
    mismatch: str | None = None  # outputs that cannot be compared value by value
    where: str | None = None  # the clip with the largest difference

    compared: set = dataclasses.field(default_factory=set)  # "probability" and / or "time"

    @property
    def within_tolerance(self) -> bool:
        return self.mismatch is None and self.probability <= PROBABILITY_TOLERANCE and self.time == 0

    def describe(self) -> str:
        if self.mismatch:
            return self.mismatch
        parts = ([f"max |Δp| {self.probability:.3g}"] if "probability" in self.compared else []) + \
                ([f"max |Δt| {self.time:.3g} s"] if "time" in self.compared else [])
        text = ", ".join(parts) or "no values to compare"
        return text + (f" (largest on {self.where})" if self.where and not self.within_tolerance else "")


def _array_difference(a, b) -> float | None:
    """Max |a - b| with NaN equal to NaN at the same place; None when the shapes differ."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return None
    if not a.size:
        return 0.0
    with np.errstate(invalid="ignore"):
        same = (a == b) | (np.isnan(a) & np.isnan(b))
        gaps = np.where(same, 0.0, np.abs(a - b))
    return float(np.nan_to_num(gaps, nan=np.inf).max())


def _compare(first: list, second: list, test: list[FeatureClip]) -> _Difference:
    result = _Difference()

    def note(kind: str, value: float, clip_id: str) -> None:
        result.compared.add(kind)
        if value > getattr(result, kind):
            setattr(result, kind, value)
            result.where = clip_id

    for a, b, clip in zip(first, second, test):
        where = clip.clip_id
        if type(a) is not type(b):
            return _Difference(mismatch=f"clip {where}: {type(a).__name__} in one run, {type(b).__name__} in the other")
        if isinstance(a, (FrameActivity, ClipTags)):
            pairs = [("probabilities", a.probabilities, b.probabilities)]
            if isinstance(a, FrameActivity):
                pairs.append(("clip tags", a.tags, b.tags))
                if a.hop_seconds != b.hop_seconds:
                    return _Difference(mismatch=f"clip {where}: hop {a.hop_seconds!r} s in one run, "
                                                f"{b.hop_seconds!r} s in the other")
            for what, x, y in pairs:
                if x is None and y is None:
                    continue
                if x is None or y is None:
                    return _Difference(mismatch=f"clip {where}: {what} in one run only")
                gap = _array_difference(x, y)
                if gap is None:
                    return _Difference(mismatch=f"clip {where}: {what} of shape {np.shape(x)} in one run, "
                                                f"{np.shape(y)} in the other")
                note("probability", gap, where)
        elif isinstance(a, Detections):
            events_a, events_b = sorted(a.events), sorted(b.events)
            if [e.label for e in events_a] != [e.label for e in events_b]:
                return _Difference(mismatch=f"clip {where}: {len(events_a)} events in one run, {len(events_b)} in "
                                            f"the other, or other labels")
            for x, y in zip(events_a, events_b):
                note("time", max(abs(x.onset - y.onset), abs(x.offset - y.offset)), where)
            tokens_a = [(t.label, t.kind) for t in a.tokens or []]
            tokens_b = [(t.label, t.kind) for t in b.tokens or []]
            if tokens_a != tokens_b or (a.tokens is None) != (b.tokens is None):
                return _Difference(mismatch=f"clip {where}: the decoded tokens differ")
            for x, y in zip(a.tokens or [], b.tokens or []):
                note("time", abs(x.time - y.time), where)
        elif a != b:
            return _Difference(mismatch=f"clip {where}: the {type(a).__name__} outputs differ")
    return result


# --------------------------------------------------------------------------- the validator


def validation_dataset() -> type:
    """The registered dataset systems are validated on: the first that declares ``validation_fixture``."""
    for name in registry.datasets.names():
        try:
            cls = registry.datasets.get(name)
        except SedbenchError:  # a broken plugin is not the fixture
            continue
        if cls.validation_fixture and cls.label_kind is LabelKind.STRONG:
            return cls
    raise SedbenchError("no registered dataset is declared as the validation fixture (Dataset.validation_fixture)")


def validate_system(system: str, profile: str = DEFAULT_PROFILE, overrides: dict[str, str] | None = None, seed: int = 0,
                    data_dir: Path | None = None, cache_dir: Path | None = None, device: str = "auto",
                    log: Callable[[str], None] = print) -> list[Check]:
    """Run ``system`` on the validation dataset and check the interface contract; one ``Check`` per check.

    Raises SedbenchError (one sentence) only for the caller's mistakes: an unknown system, a bad ``--set``, an
    unknown device, or a dataset that cannot be prepared. Everything the system does wrong is a FAIL line.
    """
    from sedbench.training.common import resolve_device, seed_everything  # torch only once a system runs

    system_cls = registry.systems.get(system)
    data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    device = resolve_device(device)
    checks: list[Check] = []

    def add(name: str, status: str, detail: str) -> None:
        checks.append(Check(name, status, detail))

    def skip_rest(reason: str) -> list[Check]:
        for name in CHECK_NAMES[len(checks):]:
            add(name, SKIP, reason)
        return checks

    # 1. interface
    problem = _interface(system_cls, system, profile)
    if problem:
        add("interface", FAIL, problem)
        return skip_rest("the interface check failed")
    asked, profile = profile, resolve_profile(system_cls, profile)
    if profile != asked:
        log(f"validate: {defaults_note(system)}")
    dataset_cls = validation_dataset()
    try:
        build_config(system_cls, profile, dataset=dataset_cls.name)
    except Exception as exc:
        add("interface", FAIL, f"profile {profile!r} does not build a {system_cls.Config.__name__}: {one_line(exc)}")
        return skip_rest("the interface check failed")
    config = build_config(system_cls, profile, overrides, dataset=dataset_cls.name)  # a bad --set: the caller's error

    dataset = dataset_cls(data_dir)
    dataset.prepare()
    labels = tuple(dataset.labels)
    context = RunContext(labels=labels, seed=seed, device=device, log=log, checkpoints=NO_CHECKPOINTS)
    seed_everything(seed)
    try:
        spec = system_cls.features(config)
    except Exception as exc:
        add("interface", FAIL, f"calling features() raised {one_line(exc)}")
        return skip_rest("the interface check failed")
    problem = _spec_problem(spec)
    if problem:
        add("interface", FAIL, problem)
        return skip_rest("the interface check failed")
    log(f"validate: features of {dataset.name} ({type(spec).__name__}, hop {spec.frame_hop:g} s)")
    try:
        original = _inputs(dataset, spec, cache_dir, labels)
    except Exception as exc:
        add("interface", FAIL, f"extracting the features of {type(spec).__name__} raised {one_line(exc)}")
        return skip_rest("the interface check failed")
    dims = _shape_range([original.prepared.raw[c.clip_id].shape[1:] for c in original.split.test])
    settings = _count(len(dataclasses.fields(system_cls.Config)), "setting")
    add("interface", PASS,
        f"{system_cls.__name__} subclasses System; name {system_cls.name!r}, paper {system_cls.paper.key}, "
        f"Config {system_cls.Config.__name__} (dataclass, {settings}), "
        f"profile {profile!r} (profiles: {', '.join(system_cls.profiles) or 'none'}); features() "
        f"{type(spec).__name__} with hop {spec.frame_hop:g} s, {dims} per frame; clips {len(original.train)} train / "
        f"{len(original.valid)} valid / {len(original.test)} test")

    # 2-3. fit and predict
    log(f"validate: fit + predict, seed {seed}")
    test = original.test
    first = _fit_and_predict(system_cls, config, context, original, test, original.watched)
    if first.fit_error:
        add("fit", FAIL, f"fit raised {first.fit_error}")
        return skip_rest("fit raised")
    history = first.history
    if not isinstance(history, dict):
        add("fit", FAIL, f"fit returned {type(history).__name__}, expected a dict (the run record's history)")
    else:
        try:
            json.dumps(json_safe(history), allow_nan=False)
        except Exception as exc:
            add("fit", FAIL, f"the returned dict is not JSON-serializable after json_safe: {one_line(exc)}")
        else:
            keys = sorted(map(str, history))
            shown = ", ".join(keys[:6]) + (f" and {len(keys) - 6} more" if len(keys) > 6 else "")
            add("fit", PASS, f"returned a JSON-serializable dict with {_count(len(keys), 'key')}"
                + (f": {shown}" if keys else ""))
    outputs = first.outputs
    if first.predict_error:
        add("predict", FAIL, f"predict raised {first.predict_error}")
        return _isolation_only(checks, first, "predict raised")
    if not isinstance(outputs, (list, tuple)) or len(outputs) != len(test):
        count = f"{len(outputs)} outputs" if isinstance(outputs, (list, tuple)) else f"a {type(outputs).__name__}"
        add("predict", FAIL, f"returned {count} for {len(test)} test clips; expected a list with one output per clip")
        return _isolation_only(checks, first, "predict did not return one output per clip")
    add("predict", PASS, f"returned a {type(outputs).__name__} of {len(outputs)} outputs for {len(test)} test clips")

    # 4-6. the outputs
    for name, status, detail in _output_checks(outputs, test, labels, spec.frame_hop):
        add(name, status, detail)
    comparable = {type(o) for o in outputs} <= {FrameActivity, Detections, ClipTags}

    # 7. determinism
    log(f"validate: fit + predict again, seed {seed}")
    second = _fit_and_predict(system_cls, config, context, original, test, original.watched)
    opened = first.opened + second.opened
    fits = 2
    if not second.complete:
        add("determinism", FAIL, f"the second run with seed {seed} raised {second.fit_error or second.predict_error}")
        blocker = "the second run raised"
    elif not comparable:
        add("determinism", SKIP, "outputs of an unknown kind cannot be compared")
        blocker = "outputs of an unknown kind cannot be compared"
    else:
        difference = (_compare(outputs, second.outputs, test)
                      if isinstance(second.outputs, (list, tuple)) and len(second.outputs) == len(test)
                      else _Difference(mismatch="the second run did not return one output per clip"))
        agree = difference.within_tolerance
        add("determinism", PASS if agree else FAIL,
            f"two fits + predicts with seed {seed} {'agree' if agree else 'differ'}: {difference.describe()} "
            f"(tolerance 0 for times, {PROBABILITY_TOLERANCE:g} for probabilities)")
        blocker = None if agree else "it needs deterministic outputs"

    # 8. test isolation
    if blocker:
        behaviour, behaviour_failed = f"behavioural probe not run: {blocker}", False
    else:
        behaviour, behaviour_failed, more_opened = _behavioural_probe(
            system_cls, config, context, dataset, spec, labels, original, outputs, cache_dir, seed, log)
        opened += more_opened
        fits += 1
    failed = bool(opened) or behaviour_failed
    add("test isolation", FAIL if failed else PASS, f"{_audit_summary(opened, fits)}; {behaviour}")
    return checks


def _audit_summary(opened: list[str], runs: int) -> str:
    if not opened:
        return f"audit probe: no test audio, annotation or feature file opened by __init__ or fit in {runs} " \
               f"run{'s' * (runs != 1)}"
    unique = list(dict.fromkeys(opened))
    more = f" and {len(unique) - 1} more test files" if len(unique) > 1 else ""
    return f"audit probe: __init__ or fit opened test file {unique[0]}{more}"


def _isolation_only(checks: list[Check], run: _Run, reason: str) -> list[Check]:
    """Outputs unusable: checks 4-7 are skipped, the audit probe still judges what fit opened."""
    for name in CHECK_NAMES[len(checks):-1]:
        checks.append(Check(name, SKIP, reason))
    audit = _audit_summary(run.opened, runs=1)
    checks.append(Check("test isolation", FAIL if run.opened else PASS,
                        f"{audit}; behavioural probe not run: {reason}"))
    return checks


def _behavioural_probe(system_cls, config, context, dataset, spec, labels, original: _Inputs, reference: list,
                       cache_dir: Path, seed: int, log) -> tuple[str, bool, list[str]]:
    """Fit on the blinded copy, predict the original test features: (detail, failed, files fit opened)."""
    with tempfile.TemporaryDirectory(prefix="sedbench-validate-") as scratch:
        log(f"validate: fit on a copy of {dataset.name} with noise as test audio and no test annotations")
        blinded = dataset.blinded_copy(Path(scratch) / "data", FOLD, seed)
        _seed_copy_cache(dataset, blinded, spec, cache_dir, Path(scratch) / "cache")
        copy = _inputs(blinded, spec, Path(scratch) / "cache", labels, with_test=False)  # it predicts the original
        run = _fit_and_predict(system_cls, config, context, copy, original.test, original.watched + copy.watched)
    probe = (f"behavioural probe: fit on a copy of {dataset.name} with noise for its {len(original.test)} test "
             f"recordings and empty test annotations")
    if not run.complete:
        return f"{probe} raised {run.fit_error or run.predict_error}", True, run.opened
    outputs = run.outputs
    if not isinstance(outputs, (list, tuple)) or len(outputs) != len(original.test):
        return f"{probe} gave a different number of outputs", True, run.opened
    difference = _compare(reference, outputs, original.test)
    if difference.within_tolerance:
        return f"{probe} gives the same test outputs ({difference.describe()})", False, run.opened
    return f"{probe} changes the test outputs ({difference.describe()}): fit depends on test data", True, run.opened
