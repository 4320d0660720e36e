"""``dcase2017-task4``: DCASE2017 task 4, large-scale weakly supervised sound event detection for smart cars.

17 AudioSet classes in 51,172 training and 488 testing clips of at most 10 s (the subset of
Adavanne & Virtanen 2017); training clips carry weak (clip-level) labels only, test clips
carry strong (onset/offset) labels and their weak labels as tags. The label files are
downloaded by `sedbench datasets fetch` (dcase_util 0.2.20's
DCASE2017_Task4tagging_DevelopmentSet lists them with sizes and md5s); the audio is
YouTube's and has to be placed by hand::

    <data_dir>/dcase2017-task4/
        training_set.csv, testing_set.csv            YouTube id, start, end, labels (what to download)
        groundtruth_weak_label_training_set.csv      <id>_<start>_<end>.wav<TAB><start><TAB><end><TAB><label>
        groundtruth_weak_label_testing_set.csv       same form
        groundtruth_strong_label_testing_set.csv     <id>_<start>_<end>.wav<TAB><onset><TAB><offset><TAB><label>
        sound_event_list_17_classes.txt, README.md, APACHE_LICENSE.txt
        audio/**/Y<id>_<start>_<end>.wav             placed by hand (.flac also read), any sub-folders

Clips whose audio is missing (many videos are gone from YouTube) are left out with a
warning naming how many; a partition left empty is an error. Strong-label rows with
zero length (onset = offset, e.g. "0 0") mark presence without timing: they are kept
as tags, not as events. One fold: the training set (20 % held out for validation,
deterministically) and the testing set. The evaluation set (password-protected audio)
is not covered.
"""

from __future__ import annotations

from pathlib import Path

from sedbench.core.data import Event, LabelKind, Split, Task
from sedbench.core.dataset import RemoteFile
from sedbench.core.errors import DataError
from sedbench.core.registry import register_dataset
from sedbench.datatools.annotations import read_event_rows
from sedbench.datatools.splits import hold_out_seeded
from sedbench.papers.citations import MESAROS2017

from ._layout import CorpusDataset, clips_with_audio

REPOSITORY = "https://github.com/ankitshah009/Task-4-Large-scale-weakly-supervised-sound-event-detection-for-smart-cars"
# A commit, not master: files on a branch change (README.txt became README.md in 2017; dcase_util 0.2.20 still lists
# README.txt, and its md5 is that of GitHub's "404: Not Found" page). Sizes and md5s checked against this commit.
COMMIT = "96dc262e3869580c0ff4c4de622995a8e3573ad9"  # 2021-12-20, the repository's last
RAW_URL = ("https://raw.githubusercontent.com/ankitshah009/"
           f"Task-4-Large-scale-weakly-supervised-sound-event-detection-for-smart-cars/{COMMIT}/")
AUDIO_SUFFIXES = (".wav", ".flac")

WEAK_TRAIN = "groundtruth_weak_label_training_set.csv"
WEAK_TEST = "groundtruth_weak_label_testing_set.csv"
STRONG_TEST = "groundtruth_strong_label_testing_set.csv"


def _label_file(filename: str, size: int, md5: str) -> RemoteFile:
    return RemoteFile(RAW_URL + filename, size, md5, extract=False)


@register_dataset("dcase2017-task4")
class Dcase2017Task4(CorpusDataset):
    name = "dcase2017-task4"
    description = ("DCASE2017 task 4: 10 s YouTube clips (51,172 training, 488 testing), 17 vehicle/warning classes, "
                   "weak training labels")
    paper = MESAROS2017
    homepage = "https://dcase.community/challenge2017/task-large-scale-sound-event-detection"
    license = "labels: Apache-2.0 (APACHE_LICENSE.txt); audio: YouTube, the uploaders' terms"
    task = Task.STRONG_EVENTS
    label_kind = LabelKind.WEAK
    labels = ("Train horn", "Air horn, truck horn", "Car alarm", "Reversing beeps", "Bicycle", "Skateboard",
              "Ambulance (siren)", "Fire engine, fire truck (siren)", "Civil defense siren", "Police car (siren)",
              "Screaming", "Car", "Car passing by", "Bus", "Truck", "Motorcycle", "Train")
    folds = ("1",)
    sample_rate = 44100  # the task's download script writes 44.1 kHz mono 16-bit
    remote_files = (
        _label_file("training_set.csv", 2368977, "eba1993f9a10788baf61cee7d968577c"),
        _label_file("testing_set.csv", 26941, "295d1652a264ec535da3f6a125756ed2"),
        _label_file(WEAK_TRAIN, 2942866, "1a98a76221fa5b5a85aaee9dbf02a2bf"),
        _label_file(WEAK_TEST, 34199, "b742b4d6517c82595e09a65d470ff811"),
        _label_file("APACHE_LICENSE.txt", 554, "7c99165dc7f440b7270f434683e8c4a1"),
        _label_file("README.md", 10046, "fefe79c9f21b14ee3c8a958531d39b83"),
        _label_file("sound_event_list_17_classes.txt", 491, "0312c45c1ab7fc8403dfedaafdc8519f"),
        _label_file(STRONG_TEST, 37121, "da6079ac7c196c679b450cefdd0e8700"),
    )
    manual_setup = (
        "`sedbench datasets fetch dcase2017-task4` downloads the label files; the audio comes from YouTube and "
        "cannot be fetched automatically. After fetching, download the clips listed in training_set.csv and "
        f"testing_set.csv (e.g. with download_audio.py from {REPOSITORY}) and place them under the dataset "
        "folder's audio/ (any sub-folders), named Y<YouTube id>_<start>_<end>.wav (or .flac), e.g. "
        "audio/Y-5QrBL6MzLg_60.000_70.000.wav. Clips no longer on YouTube are left out."
    )

    @property
    def audio_dir(self) -> Path:
        return self.root / "audio"

    def required_paths(self) -> list[Path]:
        return [self.root / remote.name for remote in self.remote_files]

    def prepare(self) -> None:
        super().prepare()
        if not self.audio_dir.is_dir() or not any(self.audio_index()):
            raise DataError(f"dataset {self.name!r} has its labels in {self.root} but no audio in {self.audio_dir}: "
                            f"{self.manual_setup}")

    def audio_index(self) -> dict[str, Path]:
        if not self.audio_dir.is_dir():
            return {}
        return {path.name: path for path in self.audio_dir.rglob("*")
                if path.suffix in AUDIO_SUFFIXES and path.is_file()}

    def read_labels(self, filename: str) -> dict[str, list[Event]]:
        """Clip name (as in the label file) -> its rows, labels checked with file and line."""
        path = self.root / filename
        rows: dict[str, list[Event]] = {}
        for number, clip, event in read_event_rows(path):
            if clip is None:
                raise DataError(f"{path}, line {number}: expected 'clip onset offset label'")
            self.check_labels([event], f"{path}, line {number}")
            rows.setdefault(clip, []).append(event)
        return rows

    def find_audio(self, clip: str, index: dict[str, Path]) -> Path | None:
        stem = Path(clip).stem
        for name in (f"Y{stem}{suffix}" for suffix in AUDIO_SUFFIXES):
            if name in index:
                return index[name]
        return index.get(clip)

    def present(self, clips: list[str], index: dict[str, Path], source: str) -> dict[str, Path]:
        found = {clip: path for clip in clips if (path := self.find_audio(clip, index)) is not None}
        return clips_with_audio(self, found, len(clips), self.root / source, self.audio_dir)

    def load_split(self, fold: str) -> Split:
        index = self.audio_index()
        weak_train = self.read_labels(WEAK_TRAIN)
        train_audio = self.present(sorted(weak_train), index, WEAK_TRAIN)
        kept, held = hold_out_seeded(list(train_audio), key=self.name)

        def tagged(clip: str, path: Path, events: list[Event], rows: list[Event]):
            tags = sorted({e.label for e in rows} | {e.label for e in events}, key=self.labels.index)
            return self.audio_clip(path, events, tags)

        weak_test = self.read_labels(WEAK_TEST)
        strong_test = self.read_labels(STRONG_TEST)
        test_audio = self.present(sorted(set(weak_test) | set(strong_test)), index, STRONG_TEST)
        test = []
        for clip, path in test_audio.items():
            events = sorted(e for e in strong_test.get(clip, []) if e.offset > e.onset)
            rows = weak_test.get(clip, []) + strong_test.get(clip, [])
            test.append(tagged(clip, path, events, rows))
        return Split(fold=fold,
                     train=[tagged(c, train_audio[c], [], weak_train[c]) for c in kept],
                     valid=[tagged(c, train_audio[c], [], weak_train[c]) for c in held],
                     test=test)
