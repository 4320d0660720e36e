"""Shared pieces of the registered corpora: package folders and annotation reading with file and line errors.

Not a dataset itself (nothing here is registered). Each corpus module subclasses
``CorpusDataset`` and implements ``load_split``; ``split`` checks the fold and
makes sure the files are there first.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar, TypeVar

from sedbench.core.data import AudioClip, Event, Split
from sedbench.core.dataset import DownloadedDataset
from sedbench.core.errors import DataError
from sedbench.datatools.annotations import read_event_rows, read_list_file
from sedbench.datatools.splits import unique

T = TypeVar("T")

TUT_LICENSE = "free for non-commercial research and education; see EULA.pdf in the packages (Tampere University)"


def clips_with_audio(dataset: DownloadedDataset, found: dict[str, Path], listed: int, listing: Path | str,
                     folder: Path) -> dict[str, Path]:
    """``found`` (clip -> audio) of the ``listed`` clips of a corpus whose audio the user gathers (YouTube clips
    disappear): none is an error naming the manual setup, some missing a warning with both counts."""
    if not found:
        raise DataError(f"none of the {listed} clips listed in {listing} has its audio in {folder}: "
                        f"{dataset.manual_setup}")
    if len(found) < listed:
        warnings.warn(f"{dataset.name}: {len(found)} of the {listed} clips listed in {listing} have audio in "
                      f"{folder}; the other {listed - len(found)} are left out", stacklevel=3)
    return found


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
