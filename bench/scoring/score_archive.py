"""A run's test outputs on disk, one compressed file per record, so every metric can be recomputed without training.

The archive is a zip whose members follow the DCASE task 4 / sed_scores_eval layouts, so that unzipping it gives
files those tools read directly:

* ``scores/<audio id>.tsv``: frame scores of one clip, sed_scores_eval's layout (``onset``, ``offset``, one column
  per class), for systems that output frame probabilities;
* ``detections.tsv``: ``filename onset offset event_label`` (DESED's detection format), for systems that output
  events; ``tokens.tsv`` adds the decoded boundary tokens of transcription systems;
* ``tags.tsv``: ``filename`` and one column per class, for clip tags (also frame systems' optional tags);
* ``durations.tsv``: ``filename duration`` (DESED's ``durations.tsv``);
* ``outputs.json``: the output kind, the class list, the number type and, per clip, its id, file name and hop.

Frame scores are kept to ``SCORE_DECIMALS`` decimals (1/1000: a finer threshold grid than DCASE's 50 thresholds,
and 4x smaller and 5x faster to evaluate than full float32); the runner scores them at that precision too
(``as_stored``), so metrics computed from the archive equal the record's bit for bit. Clip tags are few and keep
every digit their number type needs (9 for float32, 17 for float64).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Sequence

import numpy as np

from sedbench.core.data import Event
from sedbench.core.errors import SedbenchError
from sedbench.core.outputs import ClipTags, Detections, FrameActivity
from sedbench.core.tokens import TimedToken

SUFFIX = ".outputs.zip"
FORMAT = "sedbench-outputs/1"
KINDS = {FrameActivity: "frame scores", Detections: "events", ClipTags: "tags"}
DIGITS = {"float32": 9, "float64": 17}  # shortest %g precision that reads back bit for bit
SCORE_DECIMALS = 3
MAX_MEMBER_BYTES = 2 << 30  # a member that inflates beyond this is not ours


class ArchiveError(SedbenchError):
    """A stored outputs file that is missing, altered or not in this layout."""


@dataclass(frozen=True)
class StoredClip:
    clip_id: str
    duration: float


@dataclass
class StoredOutputs:
    """What an archive holds: one output per clip, in the order of ``clips``."""

    kind: str
    labels: tuple[str, ...]
    clips: list[StoredClip]
    outputs: list


def audio_filenames(clip_ids: Sequence[str]) -> dict[str, str]:
    """clip id -> a flat file name (DCASE files name clips by their base name): the base name when those are
    unique, else the relative path with '/' as '__'."""
    names = {clip_id: PurePosixPath(clip_id).name for clip_id in clip_ids}
    if len(set(names.values())) == len(names):
        return names
    return {clip_id: clip_id.replace("/", "__") for clip_id in clip_ids}


def audio_id(filename: str) -> str:
    """sed_scores_eval's audio id: the file name without its extension."""
    return filename.rsplit(".", 1)[0] if "." in filename else filename


def frame_timestamps(frames: int, hop: float) -> np.ndarray:
    """The frame boundaries (frames + 1 values, seconds) of a grid of ``hop``."""
    return np.round(np.arange(frames + 1) * hop, 6)


def stored_scores(probabilities: np.ndarray) -> np.ndarray:
    """Frame scores at the archive's precision, as float64: k / 1000 is the double that "%.3f" text reads back as."""
    return np.round(np.asarray(probabilities, dtype=np.float64), SCORE_DECIMALS)


def as_stored(outputs: list) -> list:
    """Outputs as the archive will hold them (frame scores rounded; events and tags unchanged)."""
    return [FrameActivity(stored_scores(o.probabilities), o.hop_seconds, o.tags) if isinstance(o, FrameActivity)
            else o for o in outputs]


def score_table(probabilities: np.ndarray, hop: float, labels: Sequence[str]) -> str:
    """One clip's frame scores (at the archive's precision) as sed_scores_eval TSV text."""
    p = stored_scores(probabilities)
    stamps = frame_timestamps(len(p), hop)
    lines = ["\t".join(["onset", "offset", *labels])]
    number = f"%.{SCORE_DECIMALS}f"
    for i, row in enumerate(p):
        lines.append("\t".join([f"{stamps[i]:.6f}", f"{stamps[i + 1]:.6f}", *(number % v for v in row)]))
    return "\n".join(lines) + "\n"


def write_archive(path: Path, clips: Sequence[StoredClip], outputs: Sequence, labels: Sequence[str]) -> dict:
    """Write ``outputs`` (checked, one per clip) to ``path`` atomically; returns the record's reference to it:
    file name, sha256, size and output kind."""
    kinds = {KINDS[type(o)] for o in outputs}
    if len(kinds) > 1:
        raise ValueError(f"outputs mix kinds {sorted(kinds)}")
    kind = kinds.pop() if kinds else "frame scores"
    labels = tuple(labels)
    names = audio_filenames([c.clip_id for c in clips])
    members: dict[str, str] = {}
    files = []
    dtype = None
    for clip, output in zip(clips, outputs):
        entry = {"clip_id": clip.clip_id, "filename": names[clip.clip_id], "duration": clip.duration}
        if isinstance(output, FrameActivity):
            entry["hop_seconds"] = output.hop_seconds
            members[f"scores/{audio_id(names[clip.clip_id])}.tsv"] = score_table(output.probabilities,
                                                                               output.hop_seconds, labels)
        files.append(entry)
    members["durations.tsv"] = "filename\tduration\n" + "".join(
        f"{names[c.clip_id]}\t{c.duration:.6f}\n" for c in clips)
    if kind == "events":
        members["detections.tsv"] = "filename\tonset\toffset\tevent_label\n" + "".join(
            f"{names[c.clip_id]}\t{e.onset!r}\t{e.offset!r}\t{e.label}\n" for c, o in zip(clips, outputs)
            for e in o.events)
        if outputs and outputs[0].tokens is not None:
            members["tokens.tsv"] = "filename\ttime\tlabel\tkind\n" + "".join(
                f"{names[c.clip_id]}\t{t.time!r}\t{t.label}\t{t.kind}\n" for c, o in zip(clips, outputs)
                for t in o.tokens)
    tags = [o.probabilities if isinstance(o, ClipTags) else getattr(o, "tags", None) for o in outputs]
    if outputs and all(t is not None for t in tags):
        tag_dtype = str(np.asarray(tags[0]).dtype)
        number = f"%.{DIGITS.get(tag_dtype, 17)}g"
        members["tags.tsv"] = "\t".join(["filename", *labels]) + "\n" + "".join(
            "\t".join([names[c.clip_id], *(number % v for v in np.asarray(t))]) + "\n" for c, t in zip(clips, tags))
        dtype = tag_dtype
    manifest = {"format": FORMAT, "kind": kind, "labels": list(labels), "decimals": SCORE_DECIMALS,
                "tags_dtype": dtype or "float64",
                "tokens": "tokens.tsv" in members, "tags": "tags.tsv" in members, "files": files}
    members = {"outputs.json": json.dumps(manifest, indent=1) + "\n", **members}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(handle, 0o644)
        with os.fdopen(handle, "wb") as out:
            with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
                for name, text in members.items():
                    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))  # same outputs, same bytes
                    info.compress_type = zipfile.ZIP_DEFLATED
                    archive.writestr(info, text)
            out.flush()
            os.fsync(out.fileno())
        digest = sha256_of(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return {"file": path.name, "sha256": digest, "bytes": path.stat().st_size, "kind": kind}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_archive(path: Path, sha256: str | None = None) -> StoredOutputs:
    """The outputs in ``path``; with ``sha256``, ArchiveError unless the file is the one the record names."""
    path = Path(path)
    if not path.is_file():
        raise ArchiveError(f"stored outputs {path} do not exist")
    if sha256 is not None and sha256_of(path) != sha256:
        raise ArchiveError(f"stored outputs {path} have changed since their record was written "
                           f"(sha256 differs from the record's {sha256[:12]}…)")
    try:
        with zipfile.ZipFile(path) as archive:
            manifest = json.loads(_member(archive, "outputs.json", path))
            if manifest.get("format") != FORMAT:
                raise ArchiveError(f"stored outputs {path} have format {manifest.get('format')!r}; "
                                   f"expected {FORMAT!r}")
            return _outputs(archive, manifest, path)
    except zipfile.BadZipFile as exc:
        raise ArchiveError(f"stored outputs {path} are not a zip file ({exc})") from None
    except (KeyError, ValueError, TypeError) as exc:
        raise ArchiveError(f"stored outputs {path} do not follow the sedbench outputs layout ({exc})") from None


def _member(archive: zipfile.ZipFile, name: str, path: Path) -> str:
    info = archive.getinfo(name)
    if info.file_size > MAX_MEMBER_BYTES:
        raise ArchiveError(f"stored outputs {path}: member {name} inflates to {info.file_size} bytes; "
                           f"expected at most {MAX_MEMBER_BYTES}")
    return archive.read(info).decode("utf-8")


def _rows(text: str) -> tuple[list[str], list[list[str]]]:
    lines = [line.split("\t") for line in text.splitlines() if line]
    return lines[0], lines[1:]


def _outputs(archive: zipfile.ZipFile, manifest: dict, path: Path) -> StoredOutputs:
    labels = tuple(manifest["labels"])
    dtype = np.dtype(manifest["tags_dtype"])
    files = manifest["files"]
    clips = [StoredClip(f["clip_id"], float(f["duration"])) for f in files]
    kind = manifest["kind"]
    tags = {}
    if manifest.get("tags"):
        header, rows = _rows(_member(archive, "tags.tsv", path))
        if tuple(header[1:]) != labels:
            raise ValueError(f"tags.tsv has classes {header[1:]}, the manifest {list(labels)}")
        tags = {row[0]: np.array([float(v) for v in row[1:]], dtype=dtype) for row in rows}
    if kind == "frame scores":
        outputs = []
        for f in files:
            header, rows = _rows(_member(archive, f"scores/{audio_id(f['filename'])}.tsv", path))
            if tuple(header[2:]) != labels:
                raise ValueError(f"scores of {f['filename']} have classes {header[2:]}, the manifest {list(labels)}")
            values = np.array([[float(v) for v in row[2:]] for row in rows], dtype=np.float64).reshape(
                len(rows), len(labels))
            outputs.append(FrameActivity(values, float(f["hop_seconds"]), tags.get(f["filename"])))
    elif kind == "events":
        events: dict[str, list[Event]] = {f["filename"]: [] for f in files}
        for row in _rows(_member(archive, "detections.tsv", path))[1]:
            events[row[0]].append(Event(float(row[1]), float(row[2]), row[3]))
        tokens: dict[str, list[TimedToken]] | None = None
        if manifest.get("tokens"):
            tokens = {f["filename"]: [] for f in files}
            for row in _rows(_member(archive, "tokens.tsv", path))[1]:
                tokens[row[0]].append(TimedToken(float(row[1]), row[2], row[3]))
        outputs = [Detections(events[f["filename"]], tokens[f["filename"]] if tokens is not None else None)
                   for f in files]
    elif kind == "tags":
        outputs = [ClipTags(tags[f["filename"]]) for f in files]
    else:
        raise ValueError(f"unknown output kind {kind!r}")
    return StoredOutputs(kind, labels, clips, outputs)

