"""``tut-rare2017``: TUT Rare Sound Events 2017 development (DCASE2017 task 2), baby cry / glass break / gun shot.

`sedbench datasets fetch` downloads what dcase_util 0.2.20's
TUTRareSoundEvents_2017_DevelopmentSet downloads: the source events, the backgrounds,
the cross-validation setup and the official mixture synthesizer. The mixtures are then
generated with that synthesizer (`sedbench synthesize` writes the same layout from other
sources, but not these exact mixtures), and this loader reads them in the official layout
with `sedbench.datatools.mixing.read_mixture_list`::

    <data_dir>/tut-rare2017/TUT-rare-sound-events-2017-development/
        data/source_data/bgs/audio/*.wav                   backgrounds (TUT Acoustic Scenes 2016)
        data/source_data/events/{babycry,glassbreak,gunshot}/<freesound id>.{wav,yaml}
        data/source_data/cv_setup/{bgs,events}_{devtrain,devtest}.yaml
        TUT_Rare_sound_events_mixture_synthesizer/core.py ...
        data/mixture_data/{devtrain,devtest}/20b255387a2d0cddc0a3dff5014875e7/     (generated)
            audio/mixture_<subset>_<class>_<nnn>_<hash>.wav  30 s, 44.1 kHz mono, 24 bit
            meta/event_list_<subset>_<class>.csv             <mixture><TAB><onset><TAB><offset><TAB><class>,
                                                             or <mixture> alone when it has no event
            meta/mixture_recipes_<subset>_<class>.yaml

20b255387a2d0cddc0a3dff5014875e7 is the hash of the DCASE 2017 default mixing
parameters (500 mixtures per class, event presence 0.5, EBR -6/0/6 dB, seed 42).
One fold: devtrain mixtures for training (20 % per class held out for validation,
deterministically), devtest for testing. Every clip's ``target_class`` is the class its
mixture was made for (the event list it comes from).
"""

from __future__ import annotations

from pathlib import Path

from sedbench.core.data import AudioClip, Event, LabelKind, Split, Task
from sedbench.core.dataset import RemoteFile
from sedbench.core.registry import register_dataset
from sedbench.datatools.mixing import read_mixture_list
from sedbench.datatools.splits import hold_out_seeded
from sedbench.papers.citations import MESAROS2017

from ._layout import CorpusDataset

CLASSES = ("babycry", "glassbreak", "gunshot")
DEFAULT_PARAMETER_HASH = "20b255387a2d0cddc0a3dff5014875e7"
SOURCE_URL = "https://zenodo.org/record/401395/files/"
SYNTHESIZER = "TUT_Rare_sound_events_mixture_synthesizer"

_SOURCE_PARTS = (
    (1, 1072175672, "6f1f4156d41b541d1188fcf44c9a8267"),
    (2, 1073378284, "ff5dcbe250e45cc404b7b8a6013002ac"),
    (3, 1069766123, "fb356ae309a40d2f0a38fc1c746835cb"),
    (4, 1070042681, "2a68575b2ec7a69e2cc8b16b87fae0c9"),
    (5, 1073380909, "84e70d855457a18115108e42ec04501a"),
    (6, 1073021941, "048ce898bd434097dd489027f7ba361d"),
    (7, 1069890239, "3ef1c89fcfac39918a5edc5abc6ed29b"),
    (8, 180860904, "69dcb81e70f4e6605e178693afcd7722"),
)


@register_dataset("tut-rare2017")
class TutRare2017(CorpusDataset):
    name = "tut-rare2017"
    description = "TUT Rare Sound Events 2017 development: generated 30 s mixtures, 3 rare classes, devtrain/devtest"
    paper = MESAROS2017
    license = ("backgrounds and mixtures: TUT EULA (non-commercial research); source events: per-file freesound "
               "licences (CC BY, CC BY-NC, CC0, Sampling Plus), see the .yaml next to each event file")
    task = Task.RARE_EVENTS
    label_kind = LabelKind.STRONG
    labels = CLASSES
    folds = ("1",)
    sample_rate = 44100
    package_folder = "TUT-rare-sound-events-2017-development"
    remote_files = (
        RemoteFile(SOURCE_URL + "TUT-rare-sound-events-2017-development.doc.zip", 21042,
                   "47c424fe90d2bdc53d9fdd84341c2783"),
        RemoteFile(SOURCE_URL + "TUT-rare-sound-events-2017-development.code.zip", 81518,
                   "4cacdf0803daf924a60bf9daa573beb7"),
        *(RemoteFile(SOURCE_URL + f"TUT-rare-sound-events-2017-development.source_data_bgs_and_cvsetup.{part}.zip",
                     size, md5) for part, size, md5 in _SOURCE_PARTS),
        RemoteFile(SOURCE_URL + "TUT-rare-sound-events-2017-development.source_data_events.zip", 639119477,
                   "dc4b7eb77078b4cf1b670c6362679473"),
    )

    def mixtures(self, subset: str) -> Path:
        return self.base / "data" / "mixture_data" / subset / DEFAULT_PARAMETER_HASH

    def required_paths(self) -> list[Path]:
        source = self.base / "data" / "source_data"
        return [source / "bgs" / "audio", *(source / "events" / label for label in CLASSES),
                *(source / "cv_setup" / f"{kind}_{subset}.yaml" for kind in ("bgs", "events")
                  for subset in ("devtrain", "devtest")),
                self.base / SYNTHESIZER / "core.py"]

    def generation_hint(self) -> str:
        return (f"generate them with the official synthesizer shipped with the dataset: "
                f"cd {self.base / SYNTHESIZER} && python generate_devtrain_mixtures.py -data_path ../data "
                f"-params mixing_params.yaml && python generate_devtest_mixtures.py -data_path ../data "
                f"-params mixing_params_devtest_dcase_fixed.yaml (or unpack the readily generated mixtures "
                f"published with the dataset so that {self.base / 'data' / 'mixture_data'} holds them)")

    def read_mixture_list(self, subset: str, label: str) -> list[tuple[Path, list[Event]]]:
        """(mixture audio, its events) in file order, from one official event list (`sedbench.datatools.mixing`)."""
        return read_mixture_list(self.mixtures(subset), subset, label, hint=self.generation_hint())

    def mixture_clip(self, path: Path, events: list[Event], label: str) -> AudioClip:
        clip = self.audio_clip(path, events)
        clip.target_class = label  # the class this mixture was made for: it is scored on that class only
        return clip

    def load_split(self, fold: str) -> Split:
        train, valid, test = [], [], []
        for label in CLASSES:
            pool = dict(self.read_mixture_list("devtrain", label))
            kept, held = hold_out_seeded(list(pool), key=f"{self.name}/{label}")
            train += [self.mixture_clip(path, pool[path], label) for path in kept]
            valid += [self.mixture_clip(path, pool[path], label) for path in held]
            test += [self.mixture_clip(path, events, label)
                     for path, events in self.read_mixture_list("devtest", label)]
        return Split(fold=fold, train=train, valid=valid, test=test)
