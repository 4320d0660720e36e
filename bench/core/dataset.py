"""The Dataset interface and the DCASE annotation format shared by all datasets."""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from abc import ABC, abstractmethod
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar, Iterator, TextIO

from .audio import audio_info
from .data import AudioClip, Event, LabelKind, Paper, Split
from .errors import DataError


COMPLETE_MARKER = ".sedbench-complete"  # written last by `sedbench datasets fetch`: its absence means "not ready"
FILE_INDEX = ".sedbench-index.json"  # relative path -> size and md5 of every file, written by fetch, read by verify


@dataclass(frozen=True)
class RemoteFile:
    """One downloadable package of a dataset: an archive unpacked into the dataset root, or a plain file."""

    url: str
    size: int  # bytes, as published
    md5: str  # as published; checked before anything is extracted
    filename: str = ""  # default: the URL's last part
    extract: bool = True

    @property
    def name(self) -> str:
        return self.filename or self.url.rstrip("/").rsplit("/", 1)[-1]


class Dataset(ABC):
    """A registered dataset: metadata as class attributes, files under ``root``.

    Subclasses set the class attributes and implement ``prepare`` (make the files
    available: generate, or explain how to obtain them) and ``split`` (the clips
    of one fold). Everything else (fingerprints, annotation parsing) is shared.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    paper: ClassVar[Paper]
    license: ClassVar[str]
    label_kind: ClassVar[LabelKind] = LabelKind.STRONG
    labels: ClassVar[tuple[str, ...]]
    folds: ClassVar[tuple[str, ...]] = ("1",)
    sample_rate: ClassVar[int | None] = None  # native rate when all files share one
    task: ClassVar[str] = "strong events"  # "strong events" | "clip tags" | "rare events"
    remote_files: ClassVar[tuple[RemoteFile, ...]] = ()  # empty: generated, or manual-only (see manual_setup)
    manual_setup: ClassVar[str] = ""  # for corpora that cannot be downloaded: what to place where

    def __init__(self, data_dir: Path):
        self.data_dir = Path(data_dir)

    @property
    def root(self) -> Path:
        return self.data_dir / self.name

    @abstractmethod
    def prepare(self) -> None:
        """Make the dataset's files available under ``root`` (or raise DataError saying how)."""

    @abstractmethod
    def split(self, fold: str) -> Split:
        """Train / validation / test clips of ``fold``, with reference events."""

    def fingerprint(self, fold: str) -> str:
        """Hash of every audio file's content and every annotation of the fold."""
        split = self.split(fold)
        digest = hashlib.sha256()
        digest.update(json.dumps({"dataset": self.name, "labels": list(self.labels)}).encode())
        for part, clips in (("train", split.train), ("valid", split.valid), ("test", split.test)):
            for clip in clips:
                digest.update(f"{part}\0{clip.clip_id}\0{content_hash(clip.path)}\0".encode())
                digest.update(json.dumps([(e.onset, e.offset, e.label) for e in clip.events]).encode())
                digest.update(json.dumps(list(clip.tags)).encode())
                if clip.scene is not None:  # only when present, so datasets without scenes keep their fingerprints
                    digest.update(f"scene\0{clip.scene}\0".encode())
                if clip.target_class is not None:  # likewise: rare-event mixtures are scored per target class
                    digest.update(f"target\0{clip.target_class}\0".encode())
        return digest.hexdigest()[:16]

    def check_labels(self, events: list[Event], source: str) -> None:
        allowed = set(self.labels)
        for event in events:
            if event.label not in allowed:
                raise DataError(
                    f"{source}: label {event.label!r} is not in the label list of dataset {self.name!r} "
                    f"({', '.join(self.labels)})"
                )

    def clip(self, relative: str, events: list[Event]) -> AudioClip:
        path = self.root / relative
        rate, frames, _ = audio_info(path)
        return AudioClip(clip_id=relative, path=path, events=events, duration=frames / rate)


GENERATED_MARKER = "COMPLETE"  # written last by a generator; holds its generator id


def generator_id(spec: Any, version: int, **extra: Any) -> str:
    """What a generated dataset's marker holds: the generator's version and settings (another id regenerates)."""
    return json.dumps({"generator": version, **extra, "spec": asdict(spec)}, sort_keys=True)


class GeneratedDataset(Dataset):
    """A dataset sedbench generates offline, deterministically from ``spec``.

    ``generate`` writes into a staging folder, renames it into place and writes GENERATED_MARKER last with
    ``generator_id()``; a missing marker, or one from other settings or another generator version, regenerates.
    """

    spec: ClassVar[Any]

    @abstractmethod
    def generator_id(self) -> str:
        """The id the marker of a finished generation holds (``generator_id(spec, version, ...)``)."""

    @abstractmethod
    def generate(self) -> None:
        """Write the whole dataset under ``root`` (staging folder + rename, marker last)."""

    def is_present(self) -> bool:
        marker = self.root / GENERATED_MARKER
        return marker.is_file() and marker.read_text().strip() == self.generator_id()

    def prepare(self) -> None:
        if not self.is_present():
            self.generate()


class DownloadedDataset(Dataset):
    """A corpus fetched with `sedbench datasets fetch`, or placed by hand for manual-only corpora.

    It counts as present only when COMPLETE_MARKER exists: fetch writes it after the
    last file is verified and extracted, `sedbench datasets verify` after checking a
    hand-placed layout, so a half-extracted folder never looks complete.
    """

    def is_present(self) -> bool:
        return (self.root / COMPLETE_MARKER).exists()

    def check_layout(self) -> list[str]:
        """Problems with the files under ``root`` (empty: the documented layout is there). Subclasses extend."""
        return [] if self.root.is_dir() else [f"{self.root} does not exist"]

    def prepare(self) -> None:
        if self.is_present():
            return
        if self.remote_files:
            size = human_size(sum(f.size for f in self.remote_files))
            raise DataError(f"dataset {self.name!r} is not in {self.root}; run `sedbench datasets fetch {self.name}` "
                            f"to download it ({size})")
        raise DataError(f"dataset {self.name!r} cannot be downloaded and is not set up in {self.root}: "
                        f"{self.manual_setup.strip()} Then run `sedbench datasets verify {self.name}`.")


def human_size(size: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"


# --------------------------------------------------------------------------- annotation files


def parse_annotation_line(line: str, source: str, line_number: int) -> tuple[str | None, Event]:
    """Parse ``[filename] onset offset label`` (tab-separated, or whitespace with the label last).

    Returns (filename or None, event). Raises DataError naming the file and line.
    """
    fields = line.rstrip("\r\n").split("\t")
    if len(fields) == 1:  # whitespace-separated; the label may have spaces, so it takes the rest
        words = line.split()
        label_from = 2 if len(words) >= 3 and _is_number(words[0]) and _is_number(words[1]) else 3
        fields = words[:label_from] + ([" ".join(words[label_from:])] if len(words) > label_from else [])
    fields = [f.strip() for f in fields]
    where = f"{source}, line {line_number}"
    if len(fields) == 4:
        filename, onset_text, offset_text, label = fields
    elif len(fields) == 3:
        filename, (onset_text, offset_text, label) = None, fields
    else:
        raise DataError(f"{where}: expected 'filename onset offset label' or 'onset offset label', got {line.strip()!r}")
    try:
        onset, offset = float(onset_text), float(offset_text)
    except ValueError:
        raise DataError(f"{where}: onset and offset must be numbers, got {onset_text!r} and {offset_text!r}") from None
    for name, value, text in (("onset", onset, onset_text), ("offset", offset, offset_text)):
        if not math.isfinite(value):  # float() reads 'nan' and 'inf'
            raise DataError(f"{where}: {name} must be a finite number, got {text!r}")
    if onset < 0:
        raise DataError(f"{where}: onset must be a number >= 0, got {onset_text!r}")
    if offset < onset:
        raise DataError(f"{where}: offset {offset} is before onset {onset}")
    if not label:
        raise DataError(f"{where}: the event label is empty")
    return filename, Event(onset, offset, label)


_DECIMAL_COMMA = re.compile(r"^\d+,\d+$")


def parse_dcase_row(line: str, source: str, number: int) -> tuple[str | None, str | None, Event | None]:
    """(filename, scene, event) of one DCASE annotation row; any part may be None. Errors name file and line.

    Tab-separated rows follow dcase_util's MetaDataContainer formats: ``file``, ``file scene``,
    ``file scene identifier``, ``onset offset label``, ``file onset offset label``,
    ``file scene onset offset label [source ...]`` (columns after the label are ignored). Rows without
    tabs are split at whitespace (``file``, ``file scene``, or ``[file] onset offset label`` with the
    label taking the rest of the line). In tab-separated ``[file] onset offset label`` rows a decimal comma in a
    time (``1,5``) is read as a decimal point: the TUT Sound Events 2016 evaluation annotations use it.
    """
    text = line.rstrip("\r\n")
    if "\t" in text:
        fields = [f.strip() for f in text.split("\t")]
        while fields and not fields[-1]:
            fields.pop()
        if len(fields) in (3, 4):
            times = range(len(fields) - 3, len(fields) - 1)
            fields = [f.replace(",", ".") if i in times and _DECIMAL_COMMA.match(f) else f
                      for i, f in enumerate(fields)]
            line = "\t".join(fields)
    else:
        fields = text.split()
    if _missing_fields(fields):
        raise DataError(f"{source}, line {number}: expected 'filename onset offset label' or 'onset offset label', "
                        f"got {text.strip()!r} (too few fields)")
    if len(fields) == 1:
        return fields[0], None, None
    if len(fields) == 2:
        return fields[0], fields[1], None
    if "\t" in text and len(fields) == 3 and not (_is_number(fields[0]) or _is_number(fields[1])):
        return fields[0], fields[1], None  # file, scene, identifier
    if "\t" in text and len(fields) >= 5:
        filename, scene, onset, offset, label = fields[:5]
        _, event = parse_annotation_line("\t".join((filename, onset, offset, label)), source, number)
        return filename, scene, event
    filename, event = parse_annotation_line(line, source, number)
    return filename, None, event


def _missing_fields(fields: list[str]) -> bool:
    """A row cut short: a lone time, 'filename onset', or 'filename onset offset' without its label.

    Without this, 'file 0.5' would read as a file with scene '0.5' and 'file 0.5 1.0' as onset 'file'.
    """
    if len(fields) in (1, 2):
        return _is_number(fields[-1])
    return len(fields) == 3 and not _is_number(fields[0]) and _is_number(fields[1]) and _is_number(fields[2])


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@contextmanager
def open_text(path: Path, newline: str | None = None) -> Iterator[TextIO]:
    """``open(path)`` for reading UTF-8 text (a BOM is skipped); a byte that is not UTF-8 is one DataError naming
    its line, instead of a UnicodeDecodeError from wherever the file is read."""
    try:
        with open(path, encoding="utf-8-sig", newline=newline) as handle:
            yield handle
    except UnicodeDecodeError:
        data = Path(path).read_bytes()
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
            raise DataError(f"{path}, line {line}: byte 0x{data[exc.start]:02x} (column {column}) is not UTF-8 text; "
                            "save the file as UTF-8") from None
        raise


def read_annotation_file(path: Path) -> list[tuple[str | None, Event]]:
    path = Path(path)
    if not path.exists():
        raise DataError(f"annotation file {path} does not exist")
    rows = []
    with open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip() and not line.lstrip().startswith("#"):
                rows.append(parse_annotation_line(line, str(path), number))
    return rows


def write_annotation_file(path: Path, filename: str, events: list[Event]) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for e in sorted(events, key=lambda e: (e.onset, e.label)):
            handle.write(f"{filename}\t{e.onset:.3f}\t{e.offset:.3f}\t{e.label}\n")


def read_list_file(path: Path) -> list[str]:
    """A fold list: one audio file per line (extra columns are ignored)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"fold list {path} does not exist")
    with open_text(path) as handle:
        return [line.split("\t")[0].strip() for line in handle if line.strip()]


# --------------------------------------------------------------------------- content hashes


def content_hash(path: Path) -> str:
    """sha256 of a file's bytes, remembered per (path, size, mtime) so repeated runs don't re-read audio."""
    path = Path(path)
    stat = path.stat()
    memo_file = path.parent / ".sedbench-hashes.json"
    key = f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}"
    memo = _load_memo(memo_file)
    if key in memo:
        return memo[key]
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    memo[key] = digest.hexdigest()
    _save_memo(memo_file, memo)
    return memo[key]


_MEMOS: dict[Path, dict[str, str]] = {}


def _load_memo(memo_file: Path) -> dict[str, str]:
    if memo_file not in _MEMOS:
        try:
            _MEMOS[memo_file] = json.loads(memo_file.read_text())
        except (OSError, ValueError):
            _MEMOS[memo_file] = {}
    return _MEMOS[memo_file]


def _save_memo(memo_file: Path, memo: dict[str, str]) -> None:
    try:
        tmp = memo_file.with_name(f"{memo_file.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(memo))
        os.replace(tmp, memo_file)
    except OSError:  # a read-only dataset folder just means no memo
        pass


# --------------------------------------------------------------------------- event-list files (scoring outside output)

EVENT_FILE_SUFFIXES = (".txt", ".tsv", ".csv", ".ann")


def read_event_lists(path: Path, role: str = "event list") -> dict[str, list[Event]]:
    """Events per audio file from one DCASE event-list file or a folder of them.

    Accepts ``filename onset offset label`` rows, ``onset offset label`` rows (the
    audio file is then named after the annotation file), lone ``filename`` rows (a
    file with no events), and a DESED-style header row. Keys are audio basenames. ``role`` names the input in errors.
    """
    path = Path(path)
    kinds = ", ".join(EVENT_FILE_SUFFIXES)
    if not path.exists():
        raise DataError(f"{role} {path} does not exist; expected an event-list file ({kinds}) or a folder of them")
    files = sorted(p for p in path.rglob("*") if p.suffix in EVENT_FILE_SUFFIXES) if path.is_dir() else [path]
    if not files:
        raise DataError(f"{role} folder {path} contains no event-list files ({kinds})")
    result: dict[str, list[Event]] = {}
    for file in files:
        with open_text(file) as handle:
            for number, line in enumerate(handle, start=1):
                text = line.strip()
                if not text or text.startswith("#"):
                    continue
                if file.suffix == ".csv" and "\t" not in line:
                    line = line.replace(",", "\t")
                fields = line.rstrip("\r\n").split("\t") if "\t" in line else line.split()
                if number == 1 and not _is_number(fields[-2] if len(fields) >= 2 else "") and "onset" in text.lower():
                    continue  # header row
                if len(fields) == 1:
                    result.setdefault(Path(fields[0].strip()).name, [])
                    continue
                filename, event = parse_annotation_line(line, str(file), number)
                key = Path(filename).name if filename else file.stem + ".wav"
                result.setdefault(key, []).append(event)
    return result
