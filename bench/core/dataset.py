"""The Dataset interface and the DCASE annotation format shared by all datasets."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

from .audio import audio_info
from .data import AudioClip, Event, LabelKind, Paper, Split, Task
from .errors import DataError
from .locks import wait_lock

COMPLETE_MARKER = ".sedbench-complete"  # written last by `sedbench datasets fetch`: its absence means "not ready"
FILE_INDEX = ".sedbench-index.json"  # relative path -> size and md5 of every file, written by fetch, read by verify
HASH_MEMO = ".sedbench-hashes.json"  # content_hash's per-folder memo of file hashes


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
    task: ClassVar[Task] = Task.STRONG_EVENTS  # what the test set is scored as
    remote_files: ClassVar[tuple[RemoteFile, ...]] = ()  # empty: generated, or manual-only (see manual_setup)
    manual_setup: ClassVar[str] = ""  # for corpora that cannot be downloaded: what to place where
    homepage: ClassVar[str] = ""  # where the corpus is published
    validation_fixture: ClassVar[bool] = False  # the small dataset `sedbench validate` checks systems on
    headline_metric: ClassVar[str | None] = None  # the metric the field ranks this test set on (None: no ranking)

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

    def is_present(self) -> bool | None:
        """Whether the files are in place and complete (None: this dataset cannot tell)."""
        return None

    def annotation_files(self, clip: AudioClip) -> list[Path]:
        """The files that hold ``clip``'s annotation (the validator checks that fit never opens a test clip's)."""
        return []

    def blinded_copy(self, into: Path, fold: str, seed: int) -> "Dataset":
        """A copy of this dataset under ``into`` whose ``fold`` test audio is noise (drawn from ``seed``) and whose
        test annotations are empty, everything else byte-identical: the validator's behavioural isolation probe."""
        raise DataError(f"dataset {self.name!r} cannot make a blinded copy of itself for the isolation probe")

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
        """Generate once: a second process that needs the dataset meanwhile waits for the first, then reuses it."""
        if self.is_present():
            return
        with wait_lock(self.generation_lock, on_wait=self._waiting):
            if not self.is_present():
                self.generate()

    @property
    def generation_lock(self) -> Path:
        return self.root.with_name(f".{self.root.name}.lock")

    def _waiting(self, holder: str) -> None:
        print(f"waiting for process {holder}, which is generating dataset {self.name!r} in {self.root}",
              file=sys.stderr, flush=True)


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


def dataset_kind(cls: type[Dataset]) -> str:
    """How a dataset gets onto disk: "download" (published remote files), "manual" (placed by hand, then
    verified) or "generated" (made by its own ``prepare``)."""
    if cls.remote_files:
        return "download"
    return "manual" if issubclass(cls, DownloadedDataset) else "generated"


def human_size(size: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"


# --------------------------------------------------------------------------- content hashes


def content_hash(path: Path) -> str:
    """sha256 of a file's bytes, remembered per (path, size, mtime) so repeated runs don't re-read audio."""
    path = Path(path)
    stat = path.stat()
    memo_file = path.parent / HASH_MEMO
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
