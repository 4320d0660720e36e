"""``tut2016`` and ``tut2016-eval``: TUT Sound Events 2016 (DCASE2016 task 3), home + residential area.

Used scene-independently as in Cakir et al. 2017: one model for both scenes, so a
fold's training and test lists of the two scenes are joined and the label list is
the union of both scenes' classes (11 home + 7 residential area = 18 scene classes;
"people walking" occurs in both, so 17 distinct labels).

On disk, as the published zips unpack (files from dcase_util 0.2.20's
TUTSoundEvents_2016_DevelopmentSet / _EvaluationSet)::

    <data_dir>/tut2016/TUT-sound-events-2016-development/
        audio/{home,residential_area}/a001.wav ...      binaural, 44.1 kHz, 24 bit
        meta/{home,residential_area}/a001.ann ...        onset<TAB>offset<TAB>label
        evaluation_setup/<scene>_fold<1-4>_{train,test,evaluate}.txt
                                                         audio path first, tab-separated
    <data_dir>/tut2016-eval/TUT-sound-events-2016-evaluation/
        audio/<scene>/*.wav, meta/<scene>/*.ann, evaluation_setup/<scene>_test.txt

(The contents of the package folder may also sit directly in the dataset root.)
Validation: 20 % of each fold's training recordings of each scene, drawn
deterministically (sorted, seeded by fold and scene), so both scenes are represented.
"""

from __future__ import annotations

from pathlib import Path

from sedbench.core.data import LabelKind, Split, Task
from sedbench.core.dataset import RemoteFile
from sedbench.core.errors import DataError
from sedbench.core.registry import register_dataset
from sedbench.datatools.splits import hold_out_seeded
from sedbench.papers.citations import MESAROS2016

from ._layout import TUT_LICENSE, CorpusDataset

SCENES = ("home", "residential_area")
SCENE_LABELS = {
    "home": ("(object) rustling", "(object) snapping", "cupboard", "cutlery", "dishes", "drawer", "glass jingling",
             "object impact", "people walking", "washing dishes", "water tap running"),
    "residential_area": ("(object) banging", "bird singing", "car passing by", "children shouting",
                         "people speaking", "people walking", "wind blowing"),
}
LABELS = tuple(sorted(set(SCENE_LABELS["home"]) | set(SCENE_LABELS["residential_area"])))

DEVELOPMENT_URL = "https://zenodo.org/record/45759/files/"
EVALUATION_URL = "https://zenodo.org/record/996424/files/"


class _Tut2016Base(CorpusDataset):
    paper = MESAROS2016
    license = TUT_LICENSE
    task = Task.STRONG_EVENTS
    label_kind = LabelKind.STRONG
    labels = LABELS
    sample_rate = 44100

    def annotation(self, audio: Path, base: Path) -> Path:
        scene = audio.parent.name
        return base / "meta" / scene / (audio.stem + ".ann")

    def clips(self, recordings: list[Path], base: Path):
        return [self.audio_clip(path, self.read_events(self.annotation(path, base))) for path in recordings]


@register_dataset("tut2016")
class Tut2016(_Tut2016Base):
    name = "tut2016"
    description = "TUT Sound Events 2016 development: home + residential area, 17 labels, 4 folds, scene-independent"
    folds = ("1", "2", "3", "4")
    package_folder = "TUT-sound-events-2016-development"
    remote_files = (
        RemoteFile(DEVELOPMENT_URL + "TUT-sound-events-2016-development.doc.zip", 70918,
                   "33fd26a895530aef607a07b08704eacd"),
        RemoteFile(DEVELOPMENT_URL + "TUT-sound-events-2016-development.meta.zip", 122321,
                   "7b29f0e2b82b3f264653cb4fa43da75d"),
        RemoteFile(DEVELOPMENT_URL + "TUT-sound-events-2016-development.audio.zip", 1014040667,
                   "a6006efaa85bb69d5064b00c6802a8f8"),
    )

    def fold_list(self, scene: str, fold: str, part: str) -> Path:
        return self.base / "evaluation_setup" / f"{scene}_fold{fold}_{part}.txt"

    def required_paths(self) -> list[Path]:
        paths = []
        for scene in SCENES:
            paths += [self.base / "audio" / scene, self.base / "meta" / scene]
            paths += [self.fold_list(scene, fold, part) for fold in self.folds for part in ("train", "test")]
        return paths

    def training_recordings(self, fold: str) -> dict[str, list[Path]]:
        return {scene: self.listed_audio(self.fold_list(scene, fold, "train")) for scene in SCENES}

    def all_recordings(self) -> dict[str, list[Path]]:
        """Every development recording once: the four folds' test lists together."""
        return {scene: sorted({p for fold in self.folds for p in self.listed_audio(self.fold_list(scene, fold, "test"))})
                for scene in SCENES}

    def load_split(self, fold: str) -> Split:
        train, valid, test = [], [], []
        for scene, recordings in self.training_recordings(fold).items():
            kept, held = hold_out_seeded(recordings, key=f"{self.name}/fold{fold}/{scene}")
            train += self.clips(kept, self.base)
            valid += self.clips(held, self.base)
            test += self.clips(self.listed_audio(self.fold_list(scene, fold, "test")), self.base)
        return Split(fold=fold, train=train, valid=valid, test=test)


@register_dataset("tut2016-eval")
class Tut2016Eval(_Tut2016Base):
    """Train on the whole development set (``tut2016``), test on the evaluation set."""

    name = "tut2016-eval"
    description = "TUT Sound Events 2016: train on all development recordings, test on the evaluation set"
    folds = ("1",)
    package_folder = "TUT-sound-events-2016-evaluation"
    remote_files = (
        RemoteFile(EVALUATION_URL + "TUT-sound-events-2016-evaluation.doc.zip", 69834,
                   "0644b54d96f4cefd0ecb2c7ea9161aa9"),
        RemoteFile(EVALUATION_URL + "TUT-sound-events-2016-evaluation.meta.zip", 41608,
                   "91c266b0780ac619a0d74298a3805e9e"),
        RemoteFile(EVALUATION_URL + "TUT-sound-events-2016-evaluation.audio.zip", 471072452,
                   "29434e8c53bd51206df0234e6cf2238c"),
    )

    @property
    def development(self) -> Tut2016:
        return Tut2016(self.data_dir)

    def test_list(self, scene: str) -> Path:
        return self.base / "evaluation_setup" / f"{scene}_test.txt"

    def required_paths(self) -> list[Path]:
        return [path for scene in SCENES
                for path in (self.base / "audio" / scene, self.base / "meta" / scene, self.test_list(scene))]

    def prepare(self) -> None:
        super().prepare()
        development = self.development
        if not development.is_present():
            raise DataError(f"dataset {self.name!r} trains on the development set, which is not in "
                            f"{development.root}; run `sedbench datasets fetch {development.name}` to download it")

    def load_split(self, fold: str) -> Split:
        development = self.development
        train, valid, test = [], [], []
        for scene, recordings in development.all_recordings().items():
            kept, held = hold_out_seeded(recordings, key=f"{self.name}/{scene}")
            train += self.development_clips(development, kept)
            valid += self.development_clips(development, held)
            test += self.clips(self.listed_audio(self.test_list(scene)), self.base)
        return Split(fold=fold, train=train, valid=valid, test=test)

    def development_clips(self, development: Tut2016, recordings: list[Path]):
        # clip ids stay relative to the data folder ("tut2016/..."), so they cannot collide with test clips
        clips = development.clips(recordings, development.base)
        for clip in clips:
            clip.clip_id = f"{development.name}/{clip.clip_id}"
        return clips
