"""Run records: one JSON per job (system, config, dataset fingerprint, fold, seed), written atomically."""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import subprocess
import tempfile
from importlib import metadata
from pathlib import Path

from sedbench.core.errors import SedbenchError

SCHEMA_VERSION = 1
PACKAGES = ("sedbench", "torch", "numpy", "librosa", "sed_eval", "dcase_util", "scipy", "scikit-learn", "soundfile")


class RecordWriteError(SedbenchError):
    """A run record (or a job state) that could not be written: a read-only folder, a full disk."""


def config_hash(payload: dict) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:12]


def record_path(runs_dir: Path, record: dict) -> Path:
    return (
        Path(runs_dir)
        / record["dataset"]["name"]
        / record["system"]["name"]
        / f"fold{record['fold']}"
        / f"{record['config_hash']}-{record['dataset']['fingerprint'][:8]}-seed{record['seed']}.json"
    )


def json_safe(value):
    """``value`` with NaN and infinite floats as None (JSON has no NaN; a diverged loss is still worth recording)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    return value


def write_record(path: Path, record: dict) -> Path:
    """Temp file in the same folder + fsync + rename: a reader sees the old file or the whole new one.

    A failed write (read-only folder, full disk) leaves no file behind and raises a one-sentence RecordWriteError.
    """
    try:
        return write_json_atomic(path, record)
    except OSError as exc:
        raise RecordWriteError(f"cannot write run record {path}: {exc.strerror or exc}") from None


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


def load_records(runs_dir: Path) -> list[dict]:
    records = []
    for path in sorted(Path(runs_dir).rglob("*.json")):
        if any(part.startswith(".") for part in path.relative_to(runs_dir).parts[:-1]):
            continue  # the grid runner's job states and manifests, not records
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # not a record (or unreadable): the report lists only complete records
        if isinstance(record, dict) and record.get("schema_version") == SCHEMA_VERSION:
            record["_path"] = str(path)
            records.append(record)
    return records


def environment() -> dict:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)  # dcase_util.__version__ is wrong; metadata is not
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "versions": versions,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "git_commit": git_commit(),
    }


def git_commit() -> str | None:
    """Commit of the sedbench checkout (None for an installed wheel); '+dirty' when it has local changes."""
    source = Path(__file__).resolve().parent.parent
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
