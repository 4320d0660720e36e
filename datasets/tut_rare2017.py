"""``tut-rare2017``: TUT Rare Sound Events 2017 development (DCASE2017 task 2), baby cry / glass break / gun shot.

`sedbench datasets fetch` downloads what dcase_util 0.2.20's
TUTRareSoundEvents_2017_DevelopmentSet downloads: the source events, the backgrounds,
the cross-validation setup and the official mixture synthesizer. The mixtures are then
generated with that synthesizer (a later sedbench issue adds its own), and this loader
reads them in the official layout::

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
deterministically), devtest for testing.
"""

from __future__ import annotations

from pathlib import Path

from sedbench.data import Event, LabelKind, Split
from sedbench.dataset import RemoteFile, parse_annotation_line
from sedbench.errors import DataError
from sedbench.registry import register_dataset

from ._layout import MESAROS2017, CorpusDataset, hold_out

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
    task = "rare events"
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

    def event_list(self, subset: str, label: str) -> Path:
        return self.mixtures(subset) / "meta" / f"event_list_{subset}_{label}.csv"

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
        """(mixture audio, its events) in file order, from one official event list."""
        path = self.event_list(subset, label)
        if not path.is_file():
            raise DataError(f"the {subset} mixtures of {label!r} are not there ({path} does not exist); "
                            f"{self.generation_hint()}")
        mixtures: dict[str, list[Event]] = {}
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                fields = line.rstrip("\r\n").split("\t")
                if not line.strip():
                    continue
                if len(fields) == 1:  # a mixture without the target event
                    mixtures.setdefault(fields[0].strip(), [])
                    continue
                filename, event = parse_annotation_line(line, str(path), number)
                if filename is None:
                    raise DataError(f"{path}, line {number}: expected 'mixture onset offset label', "
                                    f"got {line.strip()!r}")
                if event.label != label:
                    raise DataError(f"{path}, line {number}: event label {event.label!r} in the event list of "
                                    f"class {label!r}")
                self.check_labels([event], f"{path}, line {number}")
                mixtures.setdefault(filename, []).append(event)
        audio_dir = self.mixtures(subset) / "audio"
        result = []
        for filename, events in mixtures.items():
            audio = audio_dir / filename
            if not audio.is_file():
                raise DataError(f"{path} lists {filename!r}, but {audio} does not exist; {self.generation_hint()}")
            result.append((audio, events))
        return result

    def load_split(self, fold: str) -> Split:
        train, valid, test = [], [], []
        for label in CLASSES:
            pool = dict(self.read_mixture_list("devtrain", label))
            kept, held = hold_out(list(pool), key=f"{self.name}/{label}")
            train += [self.audio_clip(path, pool[path]) for path in kept]
            valid += [self.audio_clip(path, pool[path]) for path in held]
            test += [self.audio_clip(path, events) for path, events in self.read_mixture_list("devtest", label)]
        return Split(fold=fold, train=train, valid=valid, test=test)
