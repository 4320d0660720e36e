"""``desed``: DESED (DCASE 2019-2024 task 4, sound event detection in domestic environments), strong-label parts.

10 classes in 10 s clips. One fold, as DCASE task 4 develops systems since 2021: train on the synthetic training
soundscapes, validate on the synthetic validation soundscapes, test on the real, strongly labelled validation set
(1168 YouTube clips, the task's "public" development test). The weakly labelled, unlabelled and evaluation parts
are not covered. The DCASE headline for this test set is PSDS1 (``headline_metric``).

The layout is the one DESED_task's recipes write (its ``data/dcase/dataset`` folder; paths from
recipes/dcase2023_task4_baseline/confs/default.yaml and dcase2024_task4_baseline/confs/pretrained.yaml)::

    <data_dir>/desed/
        metadata/validation/validation.tsv                 filename, onset, offset, event_label (header row);
                                                           "<file>\\t\\t\\t" rows are clips without events
        metadata/validation/validation_durations.tsv       optional: filename, duration (the baseline writes it)
        audio/validation/validation/Y<id>_<start>_<end>.wav   YouTube clips, placed by hand
        dcase_synth/metadata/train/synthetic21_train/soundscapes.tsv             as unpacked from dcase_synth.zip
        dcase_synth/metadata/validation/synthetic21_validation/soundscapes.tsv
        dcase_synth/metadata/validation/synthetic21_validation/durations.tsv     optional
        dcase_synth/audio/train/synthetic21_train/soundscapes/<n>.wav
        dcase_synth/audio/validation/synthetic21_validation/soundscapes/<n>.wav

A clip listed in a durations file but not in the metadata is a clip without events. Clips without audio (videos
gone from YouTube) are left out with a warning giving both counts; a partition left without audio is an error
naming its folder. Nothing is fetched: for dcase_synth.zip (Zenodo record 6026841, the URL DESED_task's
generate_dcase_task4_202x.py scripts download) we found no published md5, so it is placed by hand and accepted by
`sedbench datasets verify` like the YouTube audio.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from sedbench.core.data import Event, LabelKind, Split, Task
from sedbench.core.errors import DataError
from sedbench.core.registry import register_dataset
from sedbench.datatools.annotations import open_text, parse_dcase_row
from sedbench.papers.citations import TURPAULT2019

from ._layout import CorpusDataset, clips_with_audio

LABELS = ("Alarm_bell_ringing", "Blender", "Cat", "Dishes", "Dog", "Electric_shaver_toothbrush", "Frying",
          "Running_water", "Speech", "Vacuum_cleaner")
DESED_TASK = "https://github.com/DCASE-REPO/DESED_task"
SYNTH_RECORD = "https://zenodo.org/record/6026841"
SYNTH_ARCHIVE = SYNTH_RECORD + "/files/dcase_synth.zip"
METADATA_HEADER = ("filename", "onset", "offset", "event_label")
DURATIONS_HEADER = ("filename", "duration")


@dataclass(frozen=True)
class Partition:
    """One strongly labelled part of DESED; paths relative to the dataset folder."""

    role: str  # "train", "valid" or "test" of the split
    metadata: str
    durations: str  # optional file
    audio: str


def _synthetic(role: str, subset: str) -> Partition:
    meta = f"dcase_synth/metadata/{subset}/synthetic21_{subset}"
    return Partition(role, f"{meta}/soundscapes.tsv", f"{meta}/durations.tsv",
                     f"dcase_synth/audio/{subset}/synthetic21_{subset}/soundscapes")


PARTITIONS = (
    _synthetic("train", "train"),
    _synthetic("valid", "validation"),
    Partition("test", "metadata/validation/validation.tsv", "metadata/validation/validation_durations.tsv",
              "audio/validation/validation"),
)


def _check_header(path: Path, first_line: str, expected: tuple[str, ...]) -> None:
    if tuple(field.strip() for field in first_line.rstrip("\r\n").split("\t")) != expected:
        header = "\t".join(expected)
        raise DataError(f"{path}, line 1: expected the header row {header!r}, got {first_line.strip()!r}")


def read_metadata(path: Path, check_labels: Callable[[list[Event], str], None]) -> dict[str, list[Event]]:
    """Clip name -> its events, in file order; a ``<file>`` row with empty times and label is a clip without events."""
    clips: dict[str, list[Event]] = {}
    with open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            if number == 1:
                _check_header(path, line, METADATA_HEADER)
            elif line.strip():
                filename, scene, event = parse_dcase_row(line, str(path), number)
                if filename is None or scene is not None:  # 'onset offset label' or 'file label' rows
                    raise DataError(f"{path}, line {number}: expected 'filename<TAB>onset<TAB>offset<TAB>"
                                    f"event_label', got {line.strip()!r}")
                events = clips.setdefault(filename, [])
                if event is not None:
                    check_labels([event], f"{path}, line {number}")
                    events.append(event)
    return clips


def read_durations(path: Path) -> list[str]:
    """The clip names of a durations file, each checked to have a positive duration."""
    names = []
    with open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            if number == 1:
                _check_header(path, line, DURATIONS_HEADER)
                continue
            if not line.strip():
                continue
            fields = [field.strip() for field in line.rstrip("\r\n").split("\t")]
            try:
                duration = float(fields[1]) if len(fields) == 2 and fields[0] else math.nan
            except ValueError:
                duration = math.nan
            if not 0 < duration < math.inf:
                raise DataError(f"{path}, line {number}: expected 'filename<TAB>duration' with a duration in "
                                f"seconds above 0, got {line.strip()!r}")
            names.append(fields[0])
    return names


@register_dataset("desed")
class DESED(CorpusDataset):
    name = "desed"
    description = ("DESED (DCASE 2019-2024 task 4): synthetic strongly labelled soundscapes for training and "
                   "validation, the 1168 real validation clips as test set, 10 domestic classes")
    paper = TURPAULT2019
    homepage = "https://project.inria.fr/desed/"
    license = ("code and metadata: MIT (github.com/turpaultn/DESED); synthetic soundscapes: per-file attribution "
               "in the archive's license file (Freesound sources); real clips: YouTube, the uploaders' terms")
    task = Task.STRONG_EVENTS
    label_kind = LabelKind.STRONG
    labels = LABELS
    folds = ("1",)
    sample_rate = 44100  # the "_44k" folders of DESED_task; its baseline resamples them to 16 kHz itself
    headline_metric = "PSDS1"  # DCASE 2021-2024 task 4 ranks on PSDS1 (and PSDS2)
    remote_files = ()
    manual_setup = (
        "DESED cannot be downloaded in one piece, as its real clips come from YouTube. Run DESED_task's "
        f"recipes/dcase2024_task4_baseline/generate_dcase_task4_2024.py ({DESED_TASK}) with --only_real (the "
        f"validation clips and their metadata) and --only_synth (dcase_synth.zip from {SYNTH_RECORD}), then make "
        "its data/dcase/dataset folder the dataset folder (copy it there or link it), so that it holds "
        "metadata/validation/validation.tsv and audio/validation/validation/*.wav (the real validation set) and "
        "dcase_synth/ as unpacked from dcase_synth.zip, with metadata/train/synthetic21_train/soundscapes.tsv, "
        "metadata/validation/synthetic21_validation/soundscapes.tsv and the soundscapes/ folders under "
        "audio/train/synthetic21_train/ and audio/validation/synthetic21_validation/. Clips no longer on YouTube "
        "are left out."
    )

    def required_paths(self) -> list[Path]:
        return [self.root / path for part in PARTITIONS for path in (part.metadata, part.audio)]

    def check_layout(self) -> list[str]:
        problems = super().check_layout()
        if problems:
            return problems
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # missing YouTube clips are expected; split() counts them
                for part in PARTITIONS:
                    self.with_audio(part, self.listed_clips(part))
        except DataError as error:
            problems.append(str(error))
        return problems

    def listed_clips(self, part: Partition) -> dict[str, list[Event]]:
        """Clip name -> events of every clip the partition's metadata or durations file lists."""
        clips = read_metadata(self.root / part.metadata, self.check_labels)
        durations = self.root / part.durations
        if durations.is_file():
            for name in read_durations(durations):
                clips.setdefault(name, [])  # listed with a duration but without events: a clip with no events
        if not clips:
            raise DataError(f"{self.root / part.metadata} lists no clips; expected a header row and one row per event")
        return clips

    def with_audio(self, part: Partition, clips: dict[str, list[Event]]) -> dict[str, Path]:
        """The listed clips whose audio is in the partition's folder; warns with both counts when some are missing."""
        folder = self.root / part.audio
        present = {path.name for path in folder.iterdir() if path.is_file()} if folder.is_dir() else set()
        found = {clip: folder / clip for clip in clips if clip in present}
        return clips_with_audio(self, found, len(clips), self.root / part.metadata, folder)

    def load_split(self, fold: str) -> Split:
        parts = {}
        for part in PARTITIONS:
            clips = self.listed_clips(part)
            parts[part.role] = [self.audio_clip(path, sorted(clips[clip]))
                                for clip, path in self.with_audio(part, clips).items()]
        return Split(fold=fold, **parts)
