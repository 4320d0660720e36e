"""``tut2017``: TUT Sound Events 2017 development (DCASE2017 task 3), street scene, 6 classes, 4 folds.

On disk, as the published zips unpack (files from dcase_util 0.2.20's
TUTSoundEvents_2017_DevelopmentSet)::

    <data_dir>/tut2017/TUT-sound-events-2017-development/
        audio/street/a001.wav ...                 binaural, 44.1 kHz, 24 bit
        meta/street/a001.ann ...                  file, scene, onset, offset, label, type, recording (CRLF)
        evaluation_setup/street_fold<1-4>_{train,test,evaluate}.txt
        non_verified/...                          the annotations before verification (not used)

Validation: 20 % of each fold's training recordings, drawn deterministically.
"""

from __future__ import annotations

from pathlib import Path

from sedbench.core.data import LabelKind, Split, Task
from sedbench.core.dataset import RemoteFile
from sedbench.core.registry import register_dataset
from sedbench.datatools.splits import hold_out_seeded
from sedbench.papers.citations import MESAROS2017

from ._layout import TUT_LICENSE, CorpusDataset

SCENE = "street"
SOURCE_URL = "https://zenodo.org/record/814831/files/"


@register_dataset("tut2017")
class Tut2017(CorpusDataset):
    name = "tut2017"
    description = "TUT Sound Events 2017 development: street, 6 labels, 4 folds"
    paper = MESAROS2017
    license = TUT_LICENSE
    task = Task.STRONG_EVENTS
    label_kind = LabelKind.STRONG
    labels = ("brakes squeaking", "car", "children", "large vehicle", "people speaking", "people walking")
    folds = ("1", "2", "3", "4")
    sample_rate = 44100
    package_folder = "TUT-sound-events-2017-development"
    # dcase_util 0.2.20 spells the checksum key of these four packages "remote_md"; the values are md5s
    remote_files = (
        RemoteFile(SOURCE_URL + "TUT-sound-events-2017-development.doc.zip", 56150,
                   "aa6024e70f5bff3fe15d962b01753e23"),
        RemoteFile(SOURCE_URL + "TUT-sound-events-2017-development.meta.zip", 140684,
                   "50e870b3a89ed3452e2a35b508840929"),
        RemoteFile(SOURCE_URL + "TUT-sound-events-2017-development.audio.1.zip", 1062653169,
                   "6f1cd31592b8240a14be3ee513db6a23"),
        RemoteFile(SOURCE_URL + "TUT-sound-events-2017-development.audio.2.zip", 213232458,
                   "adcff03341b84dc8d35f035b93c1efa0"),
    )

    def fold_list(self, fold: str, part: str) -> Path:
        return self.base / "evaluation_setup" / f"{SCENE}_fold{fold}_{part}.txt"

    def required_paths(self) -> list[Path]:
        return [self.base / "audio" / SCENE, self.base / "meta" / SCENE] + [
            self.fold_list(fold, part) for fold in self.folds for part in ("train", "test")]

    def clips(self, recordings: list[Path]):
        return [self.audio_clip(path, self.read_events(self.base / "meta" / SCENE / (path.stem + ".ann")))
                for path in recordings]

    def load_split(self, fold: str) -> Split:
        kept, held = hold_out_seeded(self.listed_audio(self.fold_list(fold, "train")), key=f"{self.name}/fold{fold}")
        test = self.listed_audio(self.fold_list(fold, "test"))
        return Split(fold=fold, train=self.clips(kept), valid=self.clips(held), test=self.clips(test))
