"""The layout sedbench reads for corpora that cannot be downloaded (tut2009, itc-irst, noiseme).

::

    <data_dir>/<name>/
        labels.txt                                one class label per line (the corpus' own label list)
        audio/<group>/<recording>.wav             any format libsndfile reads; <group> = context, session, ...
        annotations/<group>/<recording>.txt       onset<TAB>offset<TAB>label per event (empty file: no events)
        evaluation_setup/fold<k>_train.txt        audio paths relative to the dataset folder, one per line
        evaluation_setup/fold<k>_test.txt
        evaluation_setup/fold<k>_validate.txt     optional; its recordings are taken out of training. Without
                                                  it 20 % of the fold's training recordings of each <group>
                                                  are held out, deterministically

Then `sedbench datasets verify <name>` checks this layout and marks the dataset complete.
The label list is the placed labels.txt (these corpora's lists are not published), so
``labels`` is read per instance.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from sedbench.core.data import Split
from sedbench.core.errors import DataError
from sedbench.datatools.splits import hold_out_seeded

from ._layout import CorpusDataset

LAYOUT = (
    "labels.txt (one class label per line), audio/<group>/<recording>.wav, "
    "annotations/<group>/<recording>.txt (onset<TAB>offset<TAB>label per event; an empty file for none) and "
    "evaluation_setup/fold<k>_train.txt, fold<k>_test.txt and optionally fold<k>_validate.txt (audio paths "
    "relative to the dataset folder, one per line; without a validate list 20 % of each group's training "
    "recordings are held out)"
)


def manual_text(corpus: str, how_to_get: str, folds: tuple[str, ...]) -> str:
    return (f"{corpus} cannot be downloaded; {how_to_get} Place it in the dataset folder as {LAYOUT}, "
            f"for fold{'s' if len(folds) > 1 else ''} {', '.join(folds)}.")


class ManualLayoutDataset(CorpusDataset):
    remote_files = ()
    labels: ClassVar[tuple[str, ...]] = ()  # read from labels.txt per instance

    def __init__(self, data_dir: Path):
        super().__init__(data_dir)
        if self.labels_file.is_file():
            try:
                self.labels = self.read_labels()
            except DataError:  # reported by check_layout / split, where it can be acted on
                pass

    @property
    def labels_file(self) -> Path:
        return self.root / "labels.txt"

    def read_labels(self) -> tuple[str, ...]:
        with open(self.labels_file, encoding="utf-8") as handle:
            labels = [line.strip() for line in handle if line.strip() and not line.lstrip().startswith("#")]
        if not labels:
            raise DataError(f"{self.labels_file} lists no labels; expected one class label per line")
        repeated = sorted({label for label in labels if labels.count(label) > 1})
        if repeated:
            raise DataError(f"{self.labels_file} lists label {repeated[0]!r} more than once")
        return tuple(labels)

    def fold_list(self, fold: str, part: str) -> Path:
        return self.root / "evaluation_setup" / f"fold{fold}_{part}.txt"

    def required_paths(self) -> list[Path]:
        return [self.labels_file, self.root / "audio", self.root / "annotations"] + [
            self.fold_list(fold, part) for fold in self.folds for part in ("train", "test")]

    def check_layout(self) -> list[str]:
        problems = super().check_layout()
        if problems:
            return problems
        try:
            self.labels = self.read_labels()
            for fold in self.folds:
                self.load_split(fold)  # every listed file, annotation and label
        except DataError as error:
            problems.append(str(error))
        return problems

    def annotation(self, audio: Path) -> Path:
        relative = audio.relative_to(self.root / "audio")
        return self.root / "annotations" / relative.with_suffix(".txt")

    def clips(self, recordings: list[Path]):
        return [self.audio_clip(path, self.read_events(self.annotation(path))) for path in recordings]

    def listed_recordings(self, list_file: Path) -> list[Path]:
        paths = self.listed_audio(list_file, base=self.root)
        audio = self.root / "audio"
        for path in paths:
            if not path.is_relative_to(audio):
                raise DataError(f"{list_file} lists {self.relative(path)!r}, which is not under {audio}")
        return paths

    def load_split(self, fold: str) -> Split:
        self.labels = self.read_labels()
        train = self.listed_recordings(self.fold_list(fold, "train"))
        test = self.listed_recordings(self.fold_list(fold, "test"))
        validate_list = self.fold_list(fold, "validate")
        if validate_list.is_file():
            valid = self.listed_recordings(validate_list)
            train = [path for path in train if path not in set(valid)]
        else:
            groups: dict[Path, list[Path]] = {}
            for path in train:
                groups.setdefault(path.parent, []).append(path)
            train, valid = [], []
            for group, recordings in sorted(groups.items()):
                kept, held = hold_out_seeded(recordings, key=f"{self.name}/fold{fold}/{self.relative(group)}")
                train += kept
                valid += held
        parts = (("train", train), ("validate", valid), ("test", test))
        for i, (first, a) in enumerate(parts):
            for second, b in parts[i + 1:]:
                shared = sorted(self.relative(p) for p in set(a) & set(b))
                if shared:
                    raise DataError(f"fold {fold} of {self.name!r}: {shared[0]!r} is listed for both {first} "
                                    f"and {second}")
        return Split(fold=fold, train=self.clips(train), valid=self.clips(valid), test=self.clips(test))
