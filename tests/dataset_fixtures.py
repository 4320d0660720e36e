"""Tiny copies of every registered corpus, in the exact on-disk layout its loader reads.

One builder per registered dataset (synth / synth-mini generate themselves). A builder
writes a few short WAVs at the corpus' real sample rate, channel count and bit depth,
the annotation / fold-list files in the published formats, then COMPLETE_MARKER (what
`sedbench datasets fetch` / `verify` write last). It returns what the loader must find:
fold sizes, the events and tags of every clip, and one file whose removal
check_layout() must report. ABSENT holds what prepare() says when a dataset is not there.
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import soundfile as sf

from sedbench.core.data import Event
from sedbench.core.dataset import COMPLETE_MARKER


@dataclass
class Expected:
    labels: int  # number of labels
    folds: tuple[str, ...]
    sizes: dict[str, tuple[int, int, int]]  # fold -> (train, valid, test) clip counts
    events: dict[str, list[Event]]  # clip id -> its events, for every clip of every fold
    tags: dict[str, tuple[str, ...]] = field(default_factory=dict)  # clip id -> tags (tagging datasets)
    duration: float = 1.0  # seconds of every fixture file
    breaker: tuple[str, str] = ("", "")  # (path relative to the data folder to delete, problem check_layout reports)


def write_audio(path: Path, rate: int, channels: int, subtype: str, seconds: float = 1.0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(zlib.crc32(path.name.encode()))
    samples = 0.05 * rng.standard_normal((int(round(seconds * rate)), channels))
    sf.write(path, samples.astype(np.float32), rate, subtype=subtype)


def write_text(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def mark_complete(root: Path) -> None:
    (root / COMPLETE_MARKER).write_text("fixture\n")


def fetch_message(name: str, size: str) -> str:
    return (f"dataset {name!r} is not in {{root}}; run `sedbench datasets fetch {name}` "
            f"to download it ({size})")


def manual_message(name: str, manual_setup: str) -> str:
    return (f"dataset {name!r} cannot be downloaded and is not set up in {{root}}: {manual_setup.strip()} "
            f"Then run `sedbench datasets verify {name}`.")


def two_events(index: int, labels: tuple[str, ...]) -> list[Event]:
    """Two overlapping events at known times, labels cycling through the list."""
    return [Event(0.1, 0.5, labels[index % len(labels)]), Event(0.3, 0.9, labels[(index + 1) % len(labels)])]


def ann_lines(events: list[Event]) -> list[str]:
    return [f"{e.onset:.6f}\t{e.offset:.6f}\t{e.label}" for e in events]


# --------------------------------------------------------------------------- TUT Sound Events 2016 / 2017

TUT2016_HOME = ("(object) rustling", "(object) snapping", "cupboard", "cutlery", "dishes", "drawer", "glass jingling",
                "object impact", "people walking", "washing dishes", "water tap running")
TUT2016_RESIDENTIAL = ("(object) banging", "bird singing", "car passing by", "children shouting", "people speaking",
                       "people walking", "wind blowing")
TUT2016_SCENES = {
    # scene -> (recordings, test recordings of folds 1-4)
    "home": (("a030", "a031", "a032", "a033", "a034", "a035"),
             (("a030",), ("a031",), ("a032", "a033"), ("a034", "a035"))),
    "residential_area": (("a001", "a002", "a003", "a004", "a005", "a006"),
                         (("a001",), ("a002",), ("a003", "a004"), ("a005", "a006"))),
}
TUT2016_SCENE_LABELS = {"home": TUT2016_HOME, "residential_area": TUT2016_RESIDENTIAL}
TUT_DEV_2016 = "TUT-sound-events-2016-development"


def _tut_scene_dataset(base: Path, scenes: dict, scene_labels: dict, comma_decimal: bool = False,
                       rows_2017: bool = False) -> dict[str, list[Event]]:
    """audio/<scene>/<id>.wav (binaural 44.1 kHz 24 bit), meta/<scene>/<id>.ann and meta.txt; events by path.

    ``rows_2017``: the .ann files as TUT Sound Events 2017 publishes them: 7-column rows (file, scene, onset, offset,
    label, event type, recording) with CRLF line ends, and a zero-length event in the first recording."""
    events = {}
    meta = []
    for scene, (recordings, _) in scenes.items():
        for index, recording in enumerate(recordings):
            relative = f"audio/{scene}/{recording}.wav"
            write_audio(base / relative, 44100, 2, "PCM_24")
            clip_events = two_events(index, scene_labels[scene])
            if rows_2017 and index == 0:
                clip_events.append(Event(0.7, 0.7, scene_labels[scene][-1]))
            lines = ann_lines(clip_events)
            if comma_decimal:
                lines = [line.replace(".", ",", 2) for line in lines]
            if rows_2017:
                ann = base / "meta" / scene / f"{recording}.ann"
                ann.parent.mkdir(parents=True, exist_ok=True)
                ann.write_bytes("".join(f"{relative}\t{scene}\t{e.onset:.6f}\t{e.offset:.6f}\t{e.label}\tm\t{recording}"
                                        "\r\n" for e in clip_events).encode())
            else:
                write_text(base / "meta" / scene / f"{recording}.ann", lines)
            meta += [f"{relative}\t{scene}\t{e.onset:.6f}\t{e.offset:.6f}\t{e.label}\tm" for e in clip_events]
            events[relative] = clip_events
    write_text(base / "meta.txt", meta)
    return events


def _tut_fold_lists(base: Path, scenes: dict, events: dict[str, list[Event]]) -> None:
    """<scene>_fold<k>_{train,test,evaluate}.txt in the published csv forms."""
    for scene, (recordings, fold_tests) in scenes.items():
        for fold, tested in enumerate(fold_tests, start=1):
            def rows(names):
                return [f"audio/{scene}/{n}.wav\t{scene}\t{e.onset:.6f}\t{e.offset:.6f}\t{e.label}"
                        for n in names for e in events[f"audio/{scene}/{n}.wav"]]
            trained = [r for r in recordings if r not in tested]
            setup = base / "evaluation_setup"
            write_text(setup / f"{scene}_fold{fold}_train.txt", rows(trained))
            write_text(setup / f"{scene}_fold{fold}_test.txt", [f"audio/{scene}/{n}.wav\t{scene}" for n in tested])
            write_text(setup / f"{scene}_fold{fold}_evaluate.txt", rows(tested))


def build_tut2016(data: Path) -> Expected:
    root = data / "tut2016"
    base = root / TUT_DEV_2016
    events = _tut_scene_dataset(base, TUT2016_SCENES, TUT2016_SCENE_LABELS)
    _tut_fold_lists(base, TUT2016_SCENES, events)
    mark_complete(root)
    return Expected(
        labels=17, folds=("1", "2", "3", "4"),
        # train + valid per scene = 5, 5, 4, 4 recordings; one of each scene held out
        sizes={"1": (8, 2, 2), "2": (8, 2, 2), "3": (6, 2, 4), "4": (6, 2, 4)},
        events={f"{TUT_DEV_2016}/{k}": v for k, v in events.items()},
        breaker=(f"tut2016/{TUT_DEV_2016}/evaluation_setup/home_fold3_test.txt",
                 f"{{data}}/tut2016/{TUT_DEV_2016}/evaluation_setup/home_fold3_test.txt is missing"),
    )


TUT_EVAL_2016 = "TUT-sound-events-2016-evaluation"
TUT2016_EVAL_SCENES = {"home": (("a029", "a036"), ()), "residential_area": (("a007", "a008"), ())}


def build_tut2016_eval(data: Path) -> Expected:
    development = build_tut2016(data)
    root = data / "tut2016-eval"
    base = root / TUT_EVAL_2016
    # the evaluation annotations are read with a decimal comma, as dcase_util does for this package
    events = _tut_scene_dataset(base, TUT2016_EVAL_SCENES, TUT2016_SCENE_LABELS, comma_decimal=True)
    for scene, (recordings, _) in TUT2016_EVAL_SCENES.items():
        setup = base / "evaluation_setup"
        write_text(setup / f"{scene}_test.txt", [f"audio/{scene}/{r}.wav\t{scene}" for r in recordings])
        write_text(setup / f"{scene}_evaluate.txt",
                   [f"audio/{scene}/{r}.wav\t{scene}\t{e.onset:.6f}\t{e.offset:.6f}\t{e.label}"
                    for r in recordings for e in events[f"audio/{scene}/{r}.wav"]])
    mark_complete(root)
    clip_events = {f"{TUT_EVAL_2016}/{k}": v for k, v in events.items()}
    clip_events.update({f"tut2016/{k}": v for k, v in development.events.items()})
    return Expected(
        labels=17, folds=("1",),
        sizes={"1": (10, 2, 4)},  # 6 development recordings per scene, one of each held out
        events=clip_events,
        breaker=(f"tut2016-eval/{TUT_EVAL_2016}/evaluation_setup/residential_area_test.txt",
                 f"{{data}}/tut2016-eval/{TUT_EVAL_2016}/evaluation_setup/residential_area_test.txt is missing"),
    )


TUT2017_LABELS = ("brakes squeaking", "car", "children", "large vehicle", "people speaking", "people walking")
TUT2017_SCENES = {"street": (("a001", "a002", "a003", "a004", "a005"),
                             (("a001",), ("a002",), ("a003",), ("a004", "a005")))}
TUT_DEV_2017 = "TUT-sound-events-2017-development"


def build_tut2017(data: Path, flat: bool = False) -> Expected:
    """``flat``: the package folder's contents directly in the dataset root (a hand-placed copy)."""
    root = data / "tut2017"
    base = root if flat else root / TUT_DEV_2017
    events = _tut_scene_dataset(base, TUT2017_SCENES, {"street": TUT2017_LABELS}, rows_2017=True)
    _tut_fold_lists(base, TUT2017_SCENES, events)
    write_text(base / "non_verified" / "meta.txt", [])
    mark_complete(root)
    prefix = "" if flat else f"{TUT_DEV_2017}/"
    return Expected(
        labels=6, folds=("1", "2", "3", "4"),
        sizes={"1": (3, 1, 1), "2": (3, 1, 1), "3": (3, 1, 1), "4": (2, 1, 2)},
        events={prefix + k: v for k, v in events.items()},
        breaker=(f"tut2017/{prefix}meta/street", f"{{data}}/tut2017/{prefix}meta/street is missing"),
    )


# --------------------------------------------------------------------------- TUT-SED Synthetic 2016

SYNTH2016_LABELS = ("alarms_and_sirens", "baby_crying", "bird_singing", "bus", "cat_meowing", "crowd_applause",
                    "crowd_cheering", "dog_barking", "footsteps", "glass_smash", "gun_shot", "horsewalk", "mixer",
                    "motorcycle", "rain", "thunder")
SYNTH2016 = "TUT-SED-synthetic-2016"


def build_tut_synth2016(data: Path) -> Expected:
    root = data / "tut-synth2016"
    base = root / SYNTH2016
    events = {}
    for n in range(10):
        relative = f"audio/{SYNTH2016}-mix-{n}.wav"
        write_audio(base / relative, 44100, 1, "PCM_32")
        events[relative] = two_events(n, SYNTH2016_LABELS)
        write_text(base / "meta" / f"{SYNTH2016}-annot-{n}.txt", ann_lines(events[relative]))

    def rows(numbers):
        return [f"audio/{SYNTH2016}-mix-{n}.wav\t{e.onset:.6f}\t{e.offset:.6f}\t{e.label}"
                for n in numbers for e in events[f"audio/{SYNTH2016}-mix-{n}.wav"]]
    setup = base / "evaluation_setup"
    write_text(setup / "train+validate.txt", rows(range(2, 10)))
    write_text(setup / "validate.txt", rows((2, 3)))
    write_text(setup / "test.txt", [f"audio/{SYNTH2016}-mix-{n}.wav" for n in (0, 1)])
    write_text(setup / "evaluate.txt", rows((0, 1)))
    mark_complete(root)
    return Expected(
        labels=16, folds=("1",), sizes={"1": (6, 2, 2)},
        events={f"{SYNTH2016}/{k}": v for k, v in events.items()},
        breaker=(f"tut-synth2016/{SYNTH2016}/evaluation_setup/validate.txt",
                 f"{{data}}/tut-synth2016/{SYNTH2016}/evaluation_setup/validate.txt is missing"),
    )


# --------------------------------------------------------------------------- CHiME-Home

CHIME_TAGS = {"c": "child speech", "m": "adult male speech", "f": "adult female speech", "v": "video game/tv",
              "p": "percussive sound", "b": "broadband noise", "o": "other"}
CHIME_VOTES = ("cp", "m", "fv", "S", "pbo", "U", "cm", "v", "o", "cpf")  # cycled over the chunks


def _chime_chunk(chunks: Path, segment: str, number: int, vote: str) -> tuple[str, tuple[str, ...]]:
    """<chunk>.16kHz.wav and <chunk>.csv (key,value rows; the loader reads only "majorityvote", as dcase_util)."""
    chunk = f"{segment}_chunk{number}"
    write_audio(chunks / f"{chunk}.16kHz.wav", 16000, 1, "PCM_16")
    write_text(chunks / f"{chunk}.csv", [f"segmentname,{segment}", f"chunknumber,chunk{number}",
                                         f"annotation_a1,{vote}", f"annotation_a2,{vote}",
                                         f"annotation_a3,{vote}S", f"majorityvote,{vote}"])
    return chunk, tuple(CHIME_TAGS[code] for code in CHIME_TAGS if code in vote)


def build_chime_home(data: Path, name: str = "chime-home") -> Expected:
    root = data / "chime-home"  # chime-home-eval shares it
    base = root / "chime_home"
    chunks = base / "chunks"
    tags, crossval, evaluation = {}, [], []
    for index in range(10):  # two 5-minute segments per development set, two chunks each
        segment = f"CR_lounge_2201{index:02d}_0731.s{index}"
        for number in (0, 1):
            chunk, chunk_tags = _chime_chunk(chunks, segment, number, CHIME_VOTES[(2 * index + number) % 10])
            crossval.append(f"{len(crossval)},{chunk},{index // 2}")
            tags[f"chime_home/chunks/{chunk}.16kHz.wav"] = chunk_tags
    for index in range(3):
        chunk, chunk_tags = _chime_chunk(chunks, f"CR_kitchen_0302{index:02d}_1200.s{index}", 3,
                                         CHIME_VOTES[(index + 3) % 10])
        evaluation.append(f"{len(evaluation)},{chunk}")
        tags[f"chime_home/chunks/{chunk}.16kHz.wav"] = chunk_tags
    write_text(base / "development_chunks_refined_crossval_dcase2016.csv", crossval)
    write_text(base / "evaluation_chunks_refined.csv", evaluation)
    mark_complete(root)
    sizes = ({"1": (16, 4, 3)} if name == "chime-home-eval"  # 10 segments, 2 held out
             else {fold: (12, 4, 4) for fold in ("1", "2", "3", "4", "5")})  # 8 training segments, 2 held out
    return Expected(
        labels=7, folds=tuple(sizes), sizes=sizes, events={k: [] for k in tags}, tags=tags,
        breaker=("chime-home/chime_home/evaluation_chunks_refined.csv",
                 "{data}/chime-home/chime_home/evaluation_chunks_refined.csv is missing"),
    )


def build_chime_home_eval(data: Path) -> Expected:
    return build_chime_home(data, name="chime-home-eval")


# --------------------------------------------------------------------------- TUT Rare Sound Events 2017

RARE = "TUT-rare-sound-events-2017-development"
RARE_HASH = "20b255387a2d0cddc0a3dff5014875e7"
RARE_CLASSES = ("babycry", "glassbreak", "gunshot")


def build_tut_rare2017(data: Path, with_mixtures: bool = True) -> Expected:
    root = data / "tut-rare2017"
    base = root / RARE
    source = base / "data" / "source_data"
    write_audio(source / "bgs" / "audio" / "a001_0_30.wav", 44100, 2, "PCM_24")
    write_text(source / "bgs" / "bg_screening.csv", [])
    for subset in ("devtrain", "devtest"):
        write_text(source / "cv_setup" / f"bgs_{subset}.yaml", ["- {classname: beach, filepath: a001_0_30.wav}"])
        write_text(source / "cv_setup" / f"events_{subset}.yaml", [f"{c}: []" for c in RARE_CLASSES])
    for label in RARE_CLASSES:
        write_audio(source / "events" / label / "31527.wav", 44100, 1, "PCM_16")
        write_text(source / "events" / label / "31527.yaml", ["valid_segments:", "- [0.1, 0.6]"])
    write_text(base / "TUT_Rare_sound_events_mixture_synthesizer" / "core.py", ["# the official synthesizer"])
    events = {}
    if with_mixtures:
        for subset, count in (("devtrain", 5), ("devtest", 2)):
            mixtures = base / "data" / "mixture_data" / subset / RARE_HASH
            for label in RARE_CLASSES:
                lines = []
                for number in range(count):
                    digest = hashlib.md5(f"{subset}{label}{number}".encode()).hexdigest()
                    name = f"mixture_{subset}_{label}_{number:03d}_{digest}.wav"
                    write_audio(mixtures / "audio" / name, 44100, 1, "PCM_24")
                    present = number % 2 == 0  # every other mixture holds the event
                    mixture_events = [Event(0.25 + 0.1 * number, 0.75, label)] if present else []
                    lines.append(f"{name}\t{0.25 + 0.1 * number}\t0.75\t{label}" if present else name)
                    events[f"{RARE}/data/mixture_data/{subset}/{RARE_HASH}/audio/{name}"] = mixture_events
                write_text(mixtures / "meta" / f"event_list_{subset}_{label}.csv", lines)
                write_text(mixtures / "meta" / f"mixture_recipes_{subset}_{label}.yaml", ["[]"])
    mark_complete(root)
    return Expected(
        labels=3, folds=("1",), sizes={"1": (12, 3, 6)},  # 5 devtrain mixtures per class, one held out
        events=events,
        breaker=(f"tut-rare2017/{RARE}/data/source_data/cv_setup/events_devtest.yaml",
                 f"{{data}}/tut-rare2017/{RARE}/data/source_data/cv_setup/events_devtest.yaml is missing"),
    )


# --------------------------------------------------------------------------- DCASE2017 task 4

TASK4_TRAIN = {  # clip -> weak labels
    "--0w1YA1Hm4_30.000_40.000.wav": ("Train horn",),
    "-5QrBL6MzLg_60.000_70.000.wav": ("Air horn, truck horn", "Car"),
    "0IpYF91Fdt0_80.000_90.000.wav": ("Car alarm",),
    "1FJY5X1iY9I_170.000_180.000.wav": ("Fire engine, fire truck (siren)",),
    "2RpOd9MJjyQ_10.000_20.000.wav": ("Bus", "Truck"),
    "gone_from_youtube_0.000_10.000.wav": ("Motorcycle",),  # no audio: left out with a warning
}
TASK4_TEST_STRONG = {  # clip -> strong rows
    "-E0shPRxAbo_30.000_40.000.wav": [Event(0.2, 0.7, "Train horn"), Event(0.1, 0.4, "Car")],
    "-Qfk_Q2ctBs_30.000_40.000.wav": [Event(0.0, 0.0, "Screaming")],  # presence without timing: a tag only
    "3z05luLEc_Q_0.000_10.000.wav": [Event(0.3, 0.9, "Police car (siren)")],
}
TASK4_TEST_WEAK = {
    "-E0shPRxAbo_30.000_40.000.wav": ("Train horn", "Car"),
    "-Qfk_Q2ctBs_30.000_40.000.wav": ("Screaming",),
    "3z05luLEc_Q_0.000_10.000.wav": ("Police car (siren)",),
}
TASK4_LABEL_ORDER = ("Train horn", "Air horn, truck horn", "Car alarm", "Reversing beeps", "Bicycle", "Skateboard",
                     "Ambulance (siren)", "Fire engine, fire truck (siren)", "Civil defense siren",
                     "Police car (siren)", "Screaming", "Car", "Car passing by", "Bus", "Truck", "Motorcycle", "Train")
TASK4_TRAIN_AUDIO = "audio/unbalanced_train_segments_training_set_audio_formatted_and_segmented_downloads"
TASK4_TEST_AUDIO = "audio/unbalanced_train_segments_testing_set_audio_formatted_and_segmented_downloads"


def _segment_times(clip: str) -> tuple[str, str]:
    start, end = clip.removesuffix(".wav").rsplit("_", 2)[1:]
    return start, end


def build_dcase2017_task4(data: Path) -> Expected:
    root = data / "dcase2017-task4"
    write_text(root / "training_set.csv", [f"{c.rsplit('_', 2)[0]},{','.join(_segment_times(c))},\"{l[0]}\""
                                           for c, l in TASK4_TRAIN.items()])
    write_text(root / "testing_set.csv", [f"{c.rsplit('_', 2)[0]},{','.join(_segment_times(c))},\"{l[0]}\""
                                          for c, l in TASK4_TEST_WEAK.items()])
    write_text(root / "groundtruth_weak_label_training_set.csv",
               [f"{c}\t{_segment_times(c)[0]}\t{_segment_times(c)[1]}\t{label}"
                for c, labels in TASK4_TRAIN.items() for label in labels])
    write_text(root / "groundtruth_weak_label_testing_set.csv",
               [f"{c}\t{_segment_times(c)[0]}\t{_segment_times(c)[1]}\t{label}"
                for c, labels in TASK4_TEST_WEAK.items() for label in labels])
    write_text(root / "groundtruth_strong_label_testing_set.csv",
               [f"{c}\t{e.onset:g}\t{e.offset:g}\t{e.label}" for c, rows in TASK4_TEST_STRONG.items() for e in rows])
    write_text(root / "sound_event_list_17_classes.txt",
               ["Class_ID        ConfidenceofAnnotation(by Google)       Class_Label"]
               + [f"/m/x{i}\t7\t{label}" for i, label in enumerate(TASK4_LABEL_ORDER)])
    write_text(root / "README.md", ["DCASE 2017"])
    write_text(root / "APACHE_LICENSE.txt", ["Apache License 2.0"])
    events, tags = {}, {}
    for clip, labels in TASK4_TRAIN.items():
        if clip.startswith("gone"):
            continue
        relative = f"{TASK4_TRAIN_AUDIO}/Y{clip}"
        write_audio(root / relative, 44100, 1, "PCM_16")
        events[relative], tags[relative] = [], tuple(sorted(labels, key=TASK4_LABEL_ORDER.index))
    for clip, labels in TASK4_TEST_WEAK.items():
        relative = f"{TASK4_TEST_AUDIO}/Y{clip}"
        write_audio(root / relative, 44100, 1, "PCM_16")
        events[relative] = sorted(e for e in TASK4_TEST_STRONG[clip] if e.offset > e.onset)
        tags[relative] = tuple(sorted(labels, key=TASK4_LABEL_ORDER.index))
    mark_complete(root)
    return Expected(
        labels=17, folds=("1",), sizes={"1": (4, 1, 3)}, events=events, tags=tags,
        breaker=("dcase2017-task4/groundtruth_strong_label_testing_set.csv",
                 "{data}/dcase2017-task4/groundtruth_strong_label_testing_set.csv is missing"),
    )


# --------------------------------------------------------------------------- hand-placed corpora

def _manual_corpus(data: Path, name: str, labels: tuple[str, ...], groups: dict[str, int], folds: int,
                   rate: int, channels: int, subtype: str, validate_lists: bool) -> dict[str, list[Event]]:
    """labels.txt, audio/<group>/, annotations/<group>/ and fold<k>_{train,test[,validate]}.txt.

    Fold k tests recording k-1 (mod count) of each group; with ``validate_lists`` it
    validates on the next one, otherwise the loader holds out 20 % per group itself.
    """
    root = data / name
    write_text(root / "labels.txt", list(labels))
    events = {}
    recordings: dict[str, list[str]] = {}
    for group, count in groups.items():
        for number in range(count):
            relative = f"audio/{group}/{group}_{number:02d}.wav"
            write_audio(root / relative, rate, channels, subtype)
            clip_events = two_events(number, labels) if number != 1 else []  # recording 01: no events
            write_text(root / "annotations" / group / f"{group}_{number:02d}.txt", ann_lines(clip_events))
            events[relative] = clip_events
            recordings.setdefault(group, []).append(relative)
    for fold in range(1, folds + 1):
        test = [paths[(fold - 1) % len(paths)] for paths in recordings.values()]
        valid = [paths[fold % len(paths)] for paths in recordings.values()] if validate_lists else []
        train = [p for paths in recordings.values() for p in paths if p not in test and p not in valid]
        setup = root / "evaluation_setup"
        write_text(setup / f"fold{fold}_train.txt", train)
        write_text(setup / f"fold{fold}_test.txt", test)
        if validate_lists:
            write_text(setup / f"fold{fold}_validate.txt", valid)
    mark_complete(root)
    return events


def build_tut2009(data: Path) -> Expected:
    labels = ("applause", "ball bouncing", "cheering", "footsteps", "speech", "whistle")  # a few of the 61
    events = _manual_corpus(data, "tut2009", labels, {"basketball": 5, "street": 5}, 5, 44100, 2, "PCM_24",
                            validate_lists=False)
    return Expected(
        labels=6, folds=("1", "2", "3", "4", "5"),
        sizes={str(k): (6, 2, 2) for k in range(1, 6)},  # 4 training recordings per context, one held out
        events=events,
        breaker=("tut2009/labels.txt", "{data}/tut2009/labels.txt is missing"),
    )


def build_itc_irst(data: Path) -> Expected:
    labels = ("door knock", "door slam", "steps", "chair moving", "cough", "laugh", "applause", "key jingle")
    events = _manual_corpus(data, "itc-irst", labels, {"session1": 4, "session2": 4}, 1, 44100, 1, "PCM_16",
                            validate_lists=True)
    return Expected(
        labels=8, folds=("1",), sizes={"1": (4, 2, 2)}, events=events,
        breaker=("itc-irst/evaluation_setup/fold1_test.txt",
                 "{data}/itc-irst/evaluation_setup/fold1_test.txt is missing"),
    )


def build_noiseme(data: Path) -> Expected:
    labels = ("speech", "music", "cheer", "engine", "crowd", "wind")
    events = _manual_corpus(data, "noiseme", labels, {"videos": 6}, 1, 16000, 1, "PCM_16", validate_lists=False)
    return Expected(
        labels=6, folds=("1",), sizes={"1": (4, 1, 1)}, events=events,
        breaker=("noiseme/audio", "{data}/noiseme/audio is missing"),
    )


# ------------------------------------------------------------------ desed (DESED_task's data/dcase/dataset)

SYNTH_TRAIN = {  # dcase_synth/.../synthetic21_train: clip -> events
    "0.wav": [Event(0.1, 0.5, "Dog"), Event(0.3, 0.9, "Speech")],
    "1.wav": [Event(0.0, 1.0, "Frying")],
    "2.wav": [Event(0.25, 0.75, "Alarm_bell_ringing")],
}
SYNTH_VALID = {  # 1.wav is listed in durations.tsv only: a soundscape without events
    "0.wav": [Event(0.2, 0.6, "Cat"), Event(0.2, 0.4, "Dishes")],
    "1.wav": [],
}
# real validation clips (names from DESED's validation.tsv); None: listed, but the video is gone from YouTube
REAL = {
    "Y00pbt6aJV8Y_350.000_360.000.wav": [Event(0.0, 0.997, "Vacuum_cleaner"), Event(0.1, 0.4, "Speech")],
    "YU0Cg_t_3TdI_30.000_40.000.wav": [],  # a "<file>\t\t\t" row: no events
    "Y70CtvdsGQf4_2.000_12.000.wav": [],  # in validation_durations.tsv only
    "Y-gone_from_youtube_0.000_10.000.wav": None,
}
SYNTH = "dcase_synth/{kind}/{subset}/synthetic21_{subset}"
REAL_AUDIO = "audio/validation/validation"
REAL_META = "metadata/validation/validation.tsv"
HEADER = "filename\tonset\toffset\tevent_label"


def event_rows(clips: dict[str, list[Event] | None], listed: set[str]) -> list[str]:
    rows = [HEADER]
    for clip, events in clips.items():
        if clip not in listed:
            continue
        rows += [f"{clip}\t{e.onset:.3f}\t{e.offset:.3f}\t{e.label}" for e in events or []] or [f"{clip}\t\t\t"]
    return rows


def build_desed(data: Path, complete: bool = True) -> Expected:
    root = data / "desed"
    events = {}
    for subset, clips, only_in_durations in (("train", SYNTH_TRAIN, set()), ("validation", SYNTH_VALID, {"1.wav"})):
        meta, audio = (SYNTH.format(kind=kind, subset=subset) for kind in ("metadata", "audio"))
        write_text(root / meta / "soundscapes.tsv", event_rows(clips, set(clips) - only_in_durations))
        if subset == "validation":
            write_text(root / meta / "durations.tsv", ["filename\tduration"] + [f"{c}\t10.0" for c in clips])
        for clip, clip_events in clips.items():
            write_audio(root / audio / "soundscapes" / clip, 44100, 1, "PCM_16")
            events[f"{audio}/soundscapes/{clip}"] = sorted(clip_events)
    write_text(root / REAL_META, event_rows(REAL, set(REAL) - {"Y70CtvdsGQf4_2.000_12.000.wav"}))
    present = [clip for clip, clip_events in REAL.items() if clip_events is not None]
    write_text(root / "metadata/validation/validation_durations.tsv",  # as the baseline writes it: present audio
               ["filename\tduration"] + [f"{clip}\t10.0" for clip in present])
    for clip in present:
        write_audio(root / REAL_AUDIO / clip, 44100, 1, "PCM_16")
        events[f"{REAL_AUDIO}/{clip}"] = sorted(REAL[clip])
    if complete:
        mark_complete(root)
    return Expected(labels=10, folds=("1",), sizes={"1": (3, 2, 3)}, events=events,
                    breaker=(f"desed/{REAL_META}", f"{{data}}/desed/{REAL_META} is missing"))


def _manual_setup(name: str) -> str:
    from sedbench.core import registry

    return registry.datasets.get(name).manual_setup


ABSENT = {  # DataError of prepare() in an empty data folder; {root} is the dataset root
    "tut2016": fetch_message("tut2016", "1.0 GB"),
    "tut2016-eval": fetch_message("tut2016-eval", "471.2 MB"),
    "tut-synth2016": fetch_message("tut-synth2016", "4.4 GB"),
    "tut2017": fetch_message("tut2017", "1.3 GB"),
    "chime-home": fetch_message("chime-home", "4.2 GB"),
    "chime-home-eval": fetch_message("chime-home-eval", "4.2 GB"),
    "tut-rare2017": fetch_message("tut-rare2017", "8.3 GB"),
    "dcase2017-task4": fetch_message("dcase2017-task4", "5.4 MB"),  # only the label files are downloaded
    "tut2009": manual_message("tut2009", _manual_setup("tut2009")),
    "itc-irst": manual_message("itc-irst", _manual_setup("itc-irst")),
    "noiseme": manual_message("noiseme", _manual_setup("noiseme")),
    "desed": manual_message("desed", _manual_setup("desed")),
}

BUILDERS: dict[str, Callable[[Path], Expected]] = {
    "tut2016": build_tut2016,
    "tut2016-eval": build_tut2016_eval,
    "tut-synth2016": build_tut_synth2016,
    "tut2017": build_tut2017,
    "chime-home": build_chime_home,
    "chime-home-eval": build_chime_home_eval,
    "tut-rare2017": build_tut_rare2017,
    "dcase2017-task4": build_dcase2017_task4,
    "tut2009": build_tut2009,
    "itc-irst": build_itc_irst,
    "noiseme": build_noiseme,
    "desed": build_desed,
}
