"""Shared pieces of the registered corpora: package folders, TUT/DCASE annotation rows, hold-outs, citations.

Not a dataset itself (nothing here is registered). Each corpus module subclasses
``CorpusDataset`` and implements ``load_split``; ``split`` checks the fold and
makes sure the files are there first.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import ClassVar, TypeVar

import numpy as np

from sedbench.core.data import AudioClip, Event, Paper, Split
from sedbench.core.dataset import DownloadedDataset, parse_annotation_line, parse_dcase_row, read_list_file
from sedbench.core.errors import DataError

VALIDATION_FRACTION = 0.2  # of each fold's training recordings, held out for early stopping

T = TypeVar("T")

MESAROS2016 = Paper(
    key="mesaros2016",
    citation=(
        "A. Mesaros, T. Heittola, T. Virtanen, \"TUT Database for Acoustic Scene Classification and Sound Event "
        "Detection\", EUSIPCO 2016 (TUT Sound Events 2016)"
    ),
    url="https://doi.org/10.1109/EUSIPCO.2016.7760424",
)

MESAROS2017 = Paper(
    key="mesaros2017",
    citation=(
        "A. Mesaros, T. Heittola, A. Diment, B. Elizalde, A. Shah, E. Vincent, B. Raj, T. Virtanen, \"DCASE 2017 "
        "Challenge Setup: Tasks, Datasets and Baseline System\", DCASE 2017 Workshop"
    ),
    url="https://dcase.community/challenge2017/",
)

CAKIR2017 = Paper(
    key="cakir2017",
    citation=(
        "E. Cakir, G. Parascandolo, T. Heittola, H. Huttunen, T. Virtanen, \"Convolutional Recurrent Neural "
        "Networks for Polyphonic Sound Event Detection\", IEEE/ACM TASLP 25(6), 2017 (TUT-SED Synthetic 2016)"
    ),
    url="http://www.cs.tut.fi/sgn/arg/taslp2017-crnn-sed/tut-sed-synthetic-2016",
)

TUT_LICENSE = "free for non-commercial research and education; see EULA.pdf in the packages (Tampere University)"


class CorpusDataset(DownloadedDataset):
    """A published corpus: fold checks, the package's top folder, annotation reading with file/line errors."""

    # The published archives unpack into this folder; a hand-placed copy may also put its contents in the root.
    package_folder: ClassVar[str] = ""

    @property
    def base(self) -> Path:
        if self.package_folder and (self.root / self.package_folder).is_dir():
            return self.root / self.package_folder
        return self.root

    def split(self, fold: str) -> Split:
        self.check_fold(fold)
        self.prepare()
        return self.load_split(fold)

    def load_split(self, fold: str) -> Split:
        raise NotImplementedError

    def check_fold(self, fold: str) -> None:
        if fold not in self.folds:
            raise DataError(f"dataset {self.name!r} has folds {', '.join(self.folds)}; got fold {fold!r}")

    def relative(self, path: Path) -> str:
        return Path(path).relative_to(self.root).as_posix()

    def audio_clip(self, path: Path, events: list[Event], tags: Iterable[str] = ()) -> AudioClip:
        clip = self.clip(self.relative(path), events)
        clip.tags = tuple(tags)
        return clip

    def read_events(self, path: Path) -> list[Event]:
        """Events of one annotation file, every label checked against the dataset's list (errors name the line)."""
        events = []
        for number, _, event in read_event_rows(path):
            self.check_labels([event], f"{path}, line {number}")
            events.append(event)
        return events

    def listed_audio(self, list_file: Path, base: Path | None = None) -> list[Path]:
        """Unique audio files named in a fold list (first column, relative to ``base``), each checked to exist."""
        base = self.base if base is None else base
        paths = []
        for entry in unique(read_list_file(list_file)):
            path = base / entry
            if not path.is_file():
                raise DataError(f"{list_file} lists {entry!r}, but {path} does not exist")
            paths.append(path)
        return paths

    def check_layout(self) -> list[str]:
        problems = super().check_layout()
        if problems:
            return problems
        return [f"{path} is missing" for path in self.required_paths() if not path.exists()]

    def required_paths(self) -> list[Path]:
        """Files and folders the documented layout must contain (after fetch, or placed by hand)."""
        return []


# --------------------------------------------------------------------------- annotation rows

def read_event_rows(path: Path) -> list[tuple[int, str | None, Event]]:
    """(line number, filename or None, event) for each row of a TUT / DCASE annotation file.

    Rows are tab-separated ``onset offset label`` (TUT .ann, Audacity labels),
    ``file onset offset label``, or the DCASE meta form ``file scene onset offset
    label [event type [identifier]]``, as `sedbench.core.dataset.parse_dcase_row` reads them;
    here every row must hold an event.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"annotation file {path} does not exist")
    rows = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            filename, _, event = parse_dcase_row(line, str(path), number)
            if event is None:
                parse_annotation_line(line, str(path), number)  # raises its "expected ... got" error
            rows.append((number, filename, event))
    return rows


# --------------------------------------------------------------------------- partitions


def unique(items: Iterable[T]) -> list[T]:
    """Items in first-seen order without repeats (fold lists repeat a file once per event)."""
    return list(dict.fromkeys(items))


def hold_out(items: Sequence[T], key: str, fraction: float = VALIDATION_FRACTION) -> tuple[list[T], list[T]]:
    """(kept, held out): ``round(fraction * n)`` of the sorted items, at least one when n >= 2.

    The choice is seeded from ``key`` (CRC-32, not Python's salted hash), so it is the
    same on every machine and run, and different folds / scenes draw independently.
    """
    ordered = sorted(set(items))
    count = max(1, round(fraction * len(ordered))) if len(ordered) >= 2 else 0
    chosen = set(np.random.default_rng(zlib.crc32(key.encode())).choice(len(ordered), size=count, replace=False)
                 .tolist()) if count else set()
    kept = [item for i, item in enumerate(ordered) if i not in chosen]
    held = [item for i, item in enumerate(ordered) if i in chosen]
    return kept, held
