"""The run record: one JSON file per job that says what ran, on what, with what result, and how to reproduce it.

``RunRecord`` is what the runner writes and what ``sedbench report``, ``leaderboard`` and ``status`` read; its
JSON form (``to_json`` / ``from_json``) is the file format. The nested ``metrics`` (sed_eval's overall and
class-wise results), ``history`` (each system's per-epoch values) and ``config`` stay dictionaries: their keys are
defined by the metric library and by each system. Readers go through the accessors below for the metric layout.
Files are written atomically (temporary file, fsync, rename).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import platform
import subprocess
import tempfile
import types
import typing
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

from sedbench.core.data import Convergence
from sedbench.core.errors import SedbenchError, write_problem

SCHEMA_VERSION = 1
PACKAGES = ("sedbench", "torch", "numpy", "librosa", "sed_eval", "sed_scores_eval", "dcase_util", "scipy", "scikit-learn",
            "soundfile")
METRIC_PACKAGES = ("sed_eval", "sed_scores_eval", "numpy", "pandas", "scipy")


class RecordWriteError(SedbenchError):
    """A run record (or a job state) that could not be written: a read-only folder, a full disk."""


class RecordFormatError(SedbenchError):
    """A JSON file under a runs folder that is not a run record of this schema."""


OPTIONAL = {"omit_when_none": True}  # field metadata: left out of the file when None (older records lack it)


@dataclass
class SystemInfo:
    name: str
    paper: str = ""
    citation: str = ""
    url: str | None = field(default=None, metadata=OPTIONAL)  # records before the leaderboard's paper links lack it
    parameters: int | None = None


@dataclass
class DatasetInfo:
    name: str
    fingerprint: str = ""
    labels: list[str] = field(default_factory=list)
    clips: dict[str, int] = field(default_factory=dict)  # train / valid / test counts
    source: str | None = field(default=None, metadata=OPTIONAL)  # the folder or manifest of a bring-your-own dataset


@dataclass
class JobInfo:
    """The job's key (``sedbench.pipeline.jobs.JobKey``): a rerun with this key skips the job."""

    key: str
    system: str
    config_hash: str
    dataset_fingerprint: str
    fold: str
    seed: int
    resumed_from_epoch: int | None = None


@dataclass
class DeviceInfo:
    type: str = "unknown"
    name: str = ""
    torch_threads: int | None = None

    def describe(self) -> str:
        return " ".join(part for part in (self.type, self.name) if part and part != "unknown") or "unknown"


@dataclass
class EnvironmentInfo:
    versions: dict[str, str | None] = field(default_factory=dict)
    python: str = ""
    platform: str = ""
    processor: str = ""
    cpu_count: int | None = None
    git_commit: str | None = None


@dataclass
class OutputsFile:
    """The run's test outputs, stored next to the record (``sedbench.scoring.score_archive``)."""

    file: str  # name in the record's folder
    sha256: str
    bytes: int
    kind: str  # frame scores | events | tags


@dataclass
class LiveOutputs:
    """The checked test outputs of a run that has just finished, for ``write_record`` to store."""

    clips: list  # score_archive.StoredClip, in output order
    outputs: list
    labels: tuple


@dataclass
class RunRecord:
    system: SystemInfo
    dataset: DatasetInfo
    fold: str
    seed: int
    profile: str
    config_hash: str
    headline: dict[str, float | None]
    schema_version: int = SCHEMA_VERSION
    created: str = ""
    overrides: dict[str, str] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    job: JobInfo | None = None  # records written before the grid runner have none
    features: dict[str, Any] = field(default_factory=dict)
    postprocessing: dict[str, Any] = field(default_factory=dict)
    metric_settings: dict[str, Any] = field(default_factory=dict)
    metrics_backend: str = "fast"
    metrics: dict[str, Any] = field(default_factory=dict)
    history: dict[str, Any] = field(default_factory=dict)
    convergence: Convergence | None = None  # how the fit ended; None: the system does not say (or an older record)
    # frame outputs: the test scores after post-processing tuned on validation data (postprocessing, search,
    # headline, metrics); the main view (headline, metrics) is the papers' protocol
    tuned: dict[str, Any] | None = None
    robustness: dict[str, Any] = field(default_factory=dict)
    outputs: OutputsFile | None = None  # the stored test outputs; None: not stored (records before them)
    rescored: dict[str, Any] | None = None  # when metrics were last recomputed from the stored outputs, with what
    test_curve: dict[str, Any] | None = None  # --track-test only
    excerpt: dict[str, Any] | None = None
    device: DeviceInfo = field(default_factory=DeviceInfo)
    timings: dict[str, float] = field(default_factory=dict)
    sedbench_version: str = ""
    environment: EnvironmentInfo = field(default_factory=EnvironmentInfo)
    path: Path | None = field(default=None, compare=False)  # where it was read from; not part of the file
    live_outputs: LiveOutputs | None = field(default=None, compare=False, repr=False)  # not part of the file

    # ----------------------------------------------------------------------------- JSON

    def to_json(self) -> dict:
        """The file's content; keys in a fixed order, optional parts only when present."""
        data = {}
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            if item.name in ("path", "live_outputs") or (item.name in OMITTED_WHEN_NONE and value is None):
                continue
            data[item.name] = _plain(value)
        return {key: data[key] for key in JSON_ORDER if key in data}

    @classmethod
    def from_json(cls, data: Any, path: Path | str | None = None) -> "RunRecord":
        """A record from its JSON form; RecordFormatError names the file and the first missing or mistyped field."""
        where = f"run record {path}" if path else "run record"
        if not isinstance(data, dict):
            raise RecordFormatError(f"{where} is not a JSON object")
        if data.get("schema_version") != SCHEMA_VERSION:
            raise RecordFormatError(f"{where} has schema_version {data.get('schema_version')!r}; "
                                    f"this sedbench reads version {SCHEMA_VERSION}")
        record = _build(cls, {k: v for k, v in data.items() if k not in ("path", "live_outputs")}, where, "")
        _check_contents(record, where)
        record.path = Path(path) if path else None
        return record

    # ----------------------------------------------------------------------------- the metric layout

    def has_scores(self, level: str) -> bool:
        """Whether sed_eval's results at ``level`` (frame, 1s, event, tags, rare, legacy_1s, ...) are here."""
        return isinstance(self.metrics.get(level), dict)

    def counts(self, level: str) -> dict[str, float]:
        """The overall counts (Ntp, Nsys, Nref, S, D, I, ...) at ``level``, for pooling folds exactly."""
        return self.metrics[level]["overall"]["counts"]

    def class_scores(self, level: str) -> dict[str, dict[str, Any]]:
        """label -> that class's results at ``level`` (F1, ER, ... and its counts); empty when absent."""
        scores = self.metrics.get(level)
        return scores.get("class_wise", {}) if isinstance(scores, dict) else {}

    def legacy_scenes(self) -> dict[str, dict[str, float]]:
        """scene -> the sums behind the legacy scene-averaged F1 (``sedbench.scoring.metrics.legacy_f1``)."""
        return self.metrics["legacy_1s"]["scenes"]

    def study(self, name: str) -> dict[str, Any]:
        """A study's results (``robustness``), e.g. the pitch-shift study; empty when it did not run."""
        return self.robustness.get(name) or {}

    def tuned_view(self) -> "RunRecord | None":
        """This record with the tuned post-processing's scores as its headline and metrics (None without them)."""
        if not self.tuned:
            return None
        return dataclasses.replace(self, headline=self.tuned["headline"], metrics=self.tuned["metrics"], tuned=None)

    def outputs_path(self) -> Path | None:
        """Where the stored test outputs are (None when the record has none or was not read from a file)."""
        return self.path.parent / self.outputs.file if self.outputs and self.path else None

    @property
    def fit_seconds(self) -> float:
        return float(self.timings.get("fit", 0.0))

    @property
    def total_seconds(self) -> float:
        return float(self.timings.get("total", 0.0))


JSON_ORDER = ("schema_version", "created", "system", "dataset", "fold", "seed", "profile", "overrides", "config",
              "config_hash", "job", "features", "postprocessing", "metric_settings", "metrics_backend", "headline",
              "metrics", "tuned", "history", "convergence", "robustness", "outputs", "rescored", "test_curve", "excerpt",
              "device", "timings", "sedbench_version", "environment")
OMITTED_WHEN_NONE = ("job", "convergence", "tuned", "outputs", "rescored", "test_curve")


def _plain(value):
    """A dataclass as a dict (optional fields that are None left out); anything else as it is."""
    if not dataclasses.is_dataclass(value):
        return value
    return {item.name: _plain(getattr(value, item.name)) for item in dataclasses.fields(value)
            if not (item.metadata.get("omit_when_none") and getattr(value, item.name) is None)}


def _build(cls, data: dict, where: str, prefix: str):
    """``cls(**data)`` with every field checked against its annotation (nested dataclasses built the same way)."""
    hints = typing.get_type_hints(cls)
    values = {}
    for item in dataclasses.fields(cls):
        name = f"{prefix}{item.name}"
        if item.name not in data:
            if item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING:
                raise RecordFormatError(f"{where} has no {name!r}")
            continue
        values[item.name] = _check(data[item.name], hints[item.name], where, name)
    return cls(**values)


def _check(value, annotation, where: str, name: str):
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        annotation = next(a for a in args if a is not type(None))
        origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if dataclasses.is_dataclass(annotation):
        if not isinstance(value, dict):
            raise RecordFormatError(f"{where}: {name!r} must be an object, got {type(value).__name__}")
        return _build(annotation, value, where, f"{name}.")
    expected = {dict: dict, list: list}.get(origin, annotation)
    if expected is Any:
        return value
    if expected is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif expected is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif expected is Path:
        ok = isinstance(value, (str, Path))
    else:
        ok = isinstance(value, expected)
    if not ok:
        raise RecordFormatError(f"{where}: {name!r} must be {_type_name(expected)}, got {type(value).__name__}")
    if origin is dict and args:
        for key, item in value.items():
            _check(item, args[1], where, f"{name}.{key}")
    elif origin is list and args:
        for i, item in enumerate(value):
            _check(item, args[0], where, f"{name}[{i}]")
    return value


COUNTED_LEVELS = ("frame", "1s", "event")  # sed_eval's levels, pooled over folds and seeds by their counts
SCORE_FIELDS = ("F1", "precision", "recall", "ER", "S", "D", "I", "EER", "value", "mean", "macro_F1", "micro_F1")
NUMBERS = list[float | None]


def _check_contents(record: "RunRecord", where: str) -> None:
    """The free-form parts that tables and plots read, checked so that one mistyped value names its field
    instead of breaking a whole page."""
    _check_levels(record.metrics, where, "metrics")
    if record.tuned is not None:
        _check(record.tuned.get("headline"), dict[str, float | None], where, "tuned.headline")
        _check_levels(_check(record.tuned.get("metrics"), dict, where, "tuned.metrics"), where, "tuned.metrics")
    for key, value in record.history.items():  # the training curves plotted
        if key == "epoch" or key.startswith(("train_", "valid_")) and isinstance(value, list):
            _check(value, NUMBERS, where, f"history.{key}")
    for study, result in record.robustness.items():
        _check(result, dict, where, f"robustness.{study}")
        if "shifts" in result:
            _check(result["shifts"], dict[str, dict], where, f"robustness.{study}.shifts")
    if record.excerpt is not None:
        excerpt = record.excerpt
        _check(excerpt.get("clip"), str, where, "excerpt.clip")
        for key in ("start", "end"):
            _check(excerpt.get(key), float, where, f"excerpt.{key}")
        for key in ("reference", "estimated"):
            for i, event in enumerate(_check(excerpt.get(key), list, where, f"excerpt.{key}")):
                if not (isinstance(event, list) and len(event) == 3 and isinstance(event[2], str)):
                    raise RecordFormatError(f"{where}: 'excerpt.{key}[{i}]' must be [onset, offset, label]")
                _check(event[:2], list[float], where, f"excerpt.{key}[{i}]")


def _check_levels(metrics: dict, where: str, name: str) -> None:
    for level, scores in metrics.items():
        path = f"{name}.{level}"
        _check(scores, dict, where, path)
        if "overall" in scores:
            overall = _check(scores["overall"], dict, where, f"{path}.overall")
            _check_scores(overall, where, f"{path}.overall")
            if level in COUNTED_LEVELS or "counts" in overall:
                _check(overall.get("counts"), dict[str, float | None], where, f"{path}.overall.counts")
        for label, values in _check(scores.get("class_wise", {}), dict, where, f"{path}.class_wise").items():
            if values is not None and not isinstance(values, (int, float)):
                _check_scores(_check(values, dict, where, f"{path}.class_wise.{label}"), where,
                              f"{path}.class_wise.{label}")
        for key in ("psds1", "psds2"):
            if level == "threshold_free" and key in scores:
                psds = _check(scores[key], dict, where, f"{path}.{key}")
                _check_scores(psds, where, f"{path}.{key}")
                curve = _check(psds.get("curve"), dict[str, NUMBERS], where, f"{path}.{key}.curve")
                if len(curve.get("efpr", [])) != len(curve.get("etpr", [])):
                    raise RecordFormatError(f"{where}: '{path}.{key}.curve' must have as many etpr as efpr values")


def _check_scores(values: dict, where: str, name: str) -> None:
    for key in SCORE_FIELDS:
        if key in values:
            _check(values[key], float | None, where, f"{name}.{key}")


def _type_name(kind) -> str:
    return {dict: "an object", list: "a list", str: "a string", int: "an integer", float: "a number",
            bool: "true or false"}.get(kind, getattr(kind, "__name__", str(kind)))


# --------------------------------------------------------------------------------- files


def config_hash(payload: dict) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:12]


def record_file(runs_dir: Path, dataset: str, system: str, fold: str, config_hash_: str, fingerprint: str,
                seed: int) -> Path:
    """``<runs>/<dataset>/<system>/fold<k>/<config hash>-<fingerprint[:8]>-seed<n>.json``."""
    return Path(runs_dir) / dataset / system / f"fold{fold}" / f"{config_hash_}-{fingerprint[:8]}-seed{seed}.json"


def json_safe(value):
    """``value`` with NaN and infinite floats as None (JSON has no NaN; a diverged loss is still worth recording)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    return value


def outputs_file(record_path: Path) -> Path:
    """``<record stem>.outputs.zip`` beside the record."""
    from sedbench.scoring.score_archive import SUFFIX

    return Path(record_path).with_name(Path(record_path).stem + SUFFIX)


def write_record(path: Path, record: RunRecord | dict) -> Path:
    """Temp file in the same folder + fsync + rename: a reader sees the old file or the whole new one.

    A record with live outputs stores them first (``outputs_file``) and then names them with their sha256, so a
    record never points at outputs that are not all there. A failed write (read-only folder, full disk) leaves
    no file behind and raises a one-sentence RecordWriteError.
    """
    if isinstance(record, RunRecord) and record.live_outputs is not None:
        from sedbench.scoring.score_archive import write_archive

        live, archive = record.live_outputs, outputs_file(path)
        try:
            record.outputs = OutputsFile(**write_archive(archive, live.clips, live.outputs, live.labels))
        except OSError as exc:
            raise RecordWriteError(f"cannot write the outputs {archive} of run record {path}: "
                                   f"{write_problem(exc)}") from None
    try:
        return write_json_atomic(path, record.to_json() if isinstance(record, RunRecord) else record)
    except OSError as exc:
        raise RecordWriteError(f"cannot write run record {path}: {write_problem(exc)}") from None


def write_json_atomic(path: Path, record: dict) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(handle, 0o644)  # mkstemp makes it private; a record is meant to be shared
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(json_safe(record), out, indent=1, sort_keys=False, allow_nan=False)
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_record(path: Path) -> RunRecord:
    """The record in ``path``; RecordFormatError (one sentence) for a file that is not one."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise RecordFormatError(f"run record {path} cannot be read ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise RecordFormatError(f"run record {path} is not valid JSON ({exc})") from None
    return RunRecord.from_json(data, path)


def load_records(runs_dir: Path, warn: Callable[[str], None] | None = None) -> list[RunRecord]:
    """Every run record under ``runs_dir`` (the grid runner's hidden folders skipped), in path order.

    A file that is not a record of this schema is left out; ``warn`` hears one line about each.
    """
    records = []
    for path in sorted(Path(runs_dir).rglob("*.json")):
        if any(part.startswith(".") for part in path.relative_to(runs_dir).parts[:-1]):
            continue  # the grid runner's job states and manifests, not records
        try:
            records.append(read_record(path))
        except RecordFormatError as exc:
            if warn is not None:
                warn(f"skipped: {exc}")
    return records


# --------------------------------------------------------------------------------- environment


def environment() -> EnvironmentInfo:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)  # dcase_util.__version__ is wrong; metadata is not
        except metadata.PackageNotFoundError:
            versions[name] = None
    return EnvironmentInfo(versions=versions, python=platform.python_version(), platform=platform.platform(),
                           processor=platform.processor() or platform.machine(), cpu_count=os.cpu_count(),
                           git_commit=git_commit())


def git_commit() -> str | None:
    """Commit of the sedbench checkout (None for an installed wheel); '+dirty' when it has local changes."""
    source = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(
            ["git", "-C", str(source), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(source), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "") if commit else None
