"""Bring your own dataset: a DCASE-layout folder or a CSV manifest, used like a registered dataset.

``sedbench run --system crnn --dataset path/to/folder`` (or ``path/to/manifest.csv``) reads the
path with :func:`dataset_class` (through :func:`resolve_dataset`, so every command
that takes ``--dataset`` accepts it). Everything is checked when the path is opened, before any
training: a bad row is one error naming its file and line.

Folder (DCASE layout)
    * audio: ``.wav`` / ``.flac`` files in any sub-folders; the clip id is the path relative to the folder.
    * annotations, tab-separated DCASE rows (``filename scene onset offset label [...]``,
      ``filename onset offset label``, ``onset offset label``, or a lone ``filename`` / ``filename scene``
      for a file without events), either one combined ``meta.txt`` in the folder, or one ``.ann`` / ``.txt``
      file per audio file with the same stem (next to it, or under ``meta/`` / ``annotations/``; with
      several candidates the one whose sub-path matches wins, e.g. ``meta/home/a001.ann`` ->
      ``audio/home/a001.wav``). An empty annotation file means "no events"; a used audio file with no
      annotation at all is an error.
    * optional ``evaluation_setup/`` fold lists, named as dcase_util 0.2.20 names them
      (``[<scene>_]fold<k>_{train,validate,test,evaluate}.txt``; ``test`` is used when both it and
      ``evaluate`` exist), or the fold-less ``train.txt`` / ``train+validate.txt`` / ``validate.txt`` /
      ``test.txt`` / ``evaluate.txt`` of TUT-SED Synthetic 2016 (one fold, ``1``). The first
      tab-separated column names the file (relative to the folder, or a unique file name); repeated rows
      (DCASE lists one row per event) count once. A file listed in both a fold's validation and training
      lists is used for validation only.
    * optional ``labels.txt`` (one label per line, order kept): labels outside it are errors. Without
      it the labels are the sorted set of annotated labels of the used files.
    * scenes (for the legacy TUT-SED 2009 F1): the ``scene`` column of 5+ column rows, the
      ``<scene>_`` prefix of fold lists, or else the first sub-folder under ``audio/``
      (``audio/<scene>/file.wav``).

CSV manifest
    Header ``filename,onset,offset,event_label`` plus optional ``split`` (train / validate / test; also
    valid, validation, val, evaluate, eval), ``fold`` (needs ``split``), ``scene`` and ``target_class``.
    Paths are relative to the manifest's folder; one row per event, or a row with only a filename for a
    file without events. Identical events of a file count once, so rows may repeat a file's events for
    each fold. ``labels.txt`` next to the manifest works as for folders.

    ``target_class`` makes a rare-event dataset (DCASE2017 task 2, ``Task.RARE_EVENTS``): each file
    names the one class its mixture was made for (``AudioClip.target_class``; every file needs one), the
    target classes join the labels, and runs add the onset-only rare-event scores. ``sedbench synthesize``
    writes such a manifest (``mixtures.csv``) next to its mixtures.

Splits without lists
    Without fold lists (or a ``split`` column) there is one fold, ``1``: the recordings ordered by the
    SHA-256 of their clip id, the first 60 % train, the next 20 % validation, the last 20 % test (at
    least one recording in each; within a partition, clips are in clip-id order). A fold without a
    validation list holds out 20 % of its training recordings (at least one), again the ones first in
    SHA-256 order; the rest keep their order.

``sedbench.datatools.export`` writes any dataset in this layout (``sedbench datasets export``).
"""

from __future__ import annotations

import csv
import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from sedbench.core import registry
from sedbench.core.audio import audio_info
from sedbench.core.data import AudioClip, Event, LabelKind, Paper, Split, Task
from sedbench.core.dataset import Dataset, content_hash
from sedbench.core.errors import DataError, UnknownNameError

from .annotations import dcase_rows, open_text, parse_annotation_line
from .splits import VALIDATION_FRACTION, default_partitions, hold_out_hashed

AUDIO_SUFFIXES = (".wav", ".flac")
ANNOTATION_SUFFIXES = (".ann", ".txt")
COMBINED_META = "meta.txt"
LABEL_FILE = "labels.txt"
SETUP_FOLDER = "evaluation_setup"
ANNOTATION_FOLDERS = {"meta", "annotations", "annotation"}  # a .txt in these must belong to an audio file
NOT_ANNOTATIONS = re.compile(r"^(readme|license|licence|eula|changelog)\b", re.IGNORECASE)
FOLD_LIST = re.compile(r"^(?:(?P<scene>.+)_)?fold(?P<fold>[A-Za-z0-9-]+)_(?P<part>train|validate|test|evaluate)\.txt$")
PLAIN_LIST = re.compile(r"^(?P<part>train|train\+validate|validate|test|evaluate)\.txt$")
SPLIT_NAMES = {"train": "train", "validate": "validate", "valid": "validate", "validation": "validate",
               "val": "validate", "test": "test", "evaluate": "test", "eval": "test"}
MANIFEST_REQUIRED = ("filename", "onset", "offset", "event_label")
MANIFEST_OPTIONAL = ("split", "fold", "scene", "target_class")
# Annotations are usually rounded to 1 ms, so an offset may pass the file's last sample by that much.
END_TOLERANCE_SECONDS = 0.01

USER_DATASET = Paper(key="user", citation="user-provided dataset")


@dataclass(frozen=True)
class SourcedEvent:
    event: Event
    source: str  # "file, line N", for errors found later (e.g. an event past the end of its audio)


@dataclass
class Recording:
    relative: str  # clip id: posix path relative to the dataset folder
    events: list[SourcedEvent] = field(default_factory=list)
    annotation: str | None = None  # where its annotation came from; None: not annotated
    scene: str | None = None
    scene_source: str | None = None
    target_class: str | None = None  # rare-event manifests: the class the mixture was made for
    target_source: str | None = None

    def set_scene(self, scene: str, source: str) -> None:
        if self.scene is not None and self.scene != scene:
            raise DataError(f"{source}: scene {scene!r} of {self.relative} contradicts scene {self.scene!r} "
                            f"from {self.scene_source}")
        self.scene, self.scene_source = scene, source

    def set_target_class(self, label: str, source: str) -> None:
        if self.target_class is not None and self.target_class != label:
            raise DataError(f"{source}: target class {label!r} of {self.relative} contradicts target class "
                            f"{self.target_class!r} from {self.target_source}")
        self.target_class, self.target_source = label, source


@dataclass
class Layout:
    """What a dataset path holds, checked: recordings, per-fold partitions, labels."""

    root: Path
    name: str
    recordings: dict[str, Recording]
    folds: dict[str, dict[str, list[str]]]  # fold -> train / validate / test -> clip ids, in order
    labels: tuple[str, ...]
    split_rule: str  # how the partitions were obtained, for the description
    task: Task = Task.STRONG_EVENTS  # RARE_EVENTS for a manifest with a target_class column


# --------------------------------------------------------------------------- the Dataset


class FolderDataset(Dataset):
    """A dataset read from a user's folder or CSV manifest; :func:`dataset_class` makes one per path."""

    layout: ClassVar[Layout]
    source: ClassVar[Path]  # the path given on the command line, resolved
    paper = USER_DATASET
    license = "as provided by the dataset's owner"
    label_kind = LabelKind.STRONG
    task = Task.STRONG_EVENTS

    def __init__(self, data_dir: Path | None = None):
        super().__init__(data_dir if data_dir is not None else self.layout.root)

    @property
    def root(self) -> Path:
        return self.layout.root

    def prepare(self) -> None:
        """Nothing to fetch: the files were checked when the path was opened."""

    def split(self, fold: str) -> Split:
        if fold not in self.layout.folds:
            raise DataError(f"dataset {self.name!r} has folds {', '.join(self.folds)}; got fold {fold!r}")
        parts = {}
        for part, clip_ids in self.layout.folds[fold].items():
            parts[part] = [self._clip(self.layout.recordings[clip_id]) for clip_id in clip_ids]
        _check_no_shared_audio(parts, fold)
        return Split(fold=fold, train=parts["train"], valid=parts["validate"], test=parts["test"])

    def _clip(self, recording: Recording) -> AudioClip:
        path = self.root / recording.relative
        rate, frames, _ = audio_info(path)
        duration = frames / rate
        for item in recording.events:
            if item.event.offset > duration + END_TOLERANCE_SECONDS:
                raise DataError(f"{item.source}: event {item.event.label!r} ends at {item.event.offset:g} s, after "
                                f"the end of {recording.relative} ({duration:.3f} s)")
        return AudioClip(clip_id=recording.relative, path=path, events=[item.event for item in recording.events],
                         duration=duration, scene=recording.scene, target_class=recording.target_class)


def _check_no_shared_audio(parts: dict[str, list[AudioClip]], fold: str) -> None:
    """The same audio content (a copy, a link) in the test partition and in training or validation would leak test
    data into training or model selection."""
    trained = {}
    for part in ("train", "validate"):
        for clip in parts[part]:
            trained.setdefault(content_hash(clip.path), (part, clip.clip_id))
    for clip in parts["test"]:
        digest = content_hash(clip.path)
        if digest in trained:
            part, clip_id = trained[digest]
            raise DataError(f"{clip.clip_id} (test) has the same audio content as {clip_id} ({part}) in fold {fold} "
                            f"(sha256 {digest[:12]}): a recording must be in one partition only; remove the copy or "
                            "list it in one partition")


def dataset_class(path: Path | str) -> type[FolderDataset]:
    """A FolderDataset subclass for a folder or a CSV manifest (raises DataError for a bad layout)."""
    path = Path(path).expanduser().resolve()
    if path.is_dir():
        layout = scan_folder(path)
    elif path.is_file() and path.suffix.lower() == ".csv":
        layout = scan_manifest(path)
    elif path.is_file():
        raise DataError(f"dataset path {path} is a file but not a CSV manifest (.csv); give a folder or a manifest")
    else:
        raise DataError(f"dataset path {path} does not exist")
    files = len({clip for parts in layout.folds.values() for ids in parts.values() for clip in ids})
    return type(
        f"FolderDataset[{layout.name}]",
        (FolderDataset,),
        {
            "name": layout.name,
            "description": f"{files} recordings from {path} ({layout.split_rule})",
            "labels": layout.labels,
            "task": layout.task,
            "folds": tuple(layout.folds),
            "layout": layout,
            "source": path,
            "__module__": __name__,
        },
    )


# --------------------------------------------------------------------------- DCASE folders


def scan_folder(root: Path) -> Layout:
    root = Path(root)
    audio = sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and _visible(p, root) and p.is_file())
    if not audio:
        raise DataError(f"{root} contains no audio files ({', '.join(AUDIO_SUFFIXES)} in any sub-folder)")
    index = AudioIndex(root, audio)
    recordings = {relative: Recording(relative) for relative in index.relatives}
    if (root / COMBINED_META).is_file():
        _read_combined_meta(root / COMBINED_META, index, recordings)
    else:
        _read_per_file_annotations(root, index, recordings)
    folds, rule = _read_fold_lists(root, index, recordings)
    if folds is None:
        folds, rule = {"1": default_partitions(list(recordings))}, "no fold lists: one fold, 60/20/20 by SHA-256 of the clip id"
    _scenes_from_folders(root, recordings)
    used = _used(folds)
    for clip_id in used:
        if recordings[clip_id].annotation is None:
            where = (f"{COMBINED_META} does not list it (list a file without events by its name alone)"
                     if (root / COMBINED_META).is_file()
                     else "no .ann / .txt file with its name next to it or under meta/ or annotations/")
            raise DataError(f"audio file {root / clip_id} has no annotation: {where}")
    labels = _labels(root / LABEL_FILE, [recordings[c] for c in used], root)
    return Layout(root=root, name=f"folder:{root.name}", recordings=recordings, folds=folds, labels=labels,
                  split_rule=rule)


def _visible(path: Path, root: Path) -> bool:
    return not any(part.startswith(".") for part in path.relative_to(root).parts)


class AudioIndex:
    """Finds an audio file from a name as annotations and lists write it: a relative path, or a unique file name."""

    def __init__(self, root: Path, files: list[Path]):
        self.root = root
        self.relatives = [p.relative_to(root).as_posix() for p in files]
        self.by_name: dict[str, list[str]] = {}
        self.by_stem: dict[str, list[str]] = {}
        for relative in self.relatives:
            self.by_name.setdefault(posixpath.basename(relative), []).append(relative)
            self.by_stem.setdefault(posixpath.splitext(posixpath.basename(relative))[0], []).append(relative)

    def resolve(self, name: str, where: str) -> str:
        normalized = posixpath.normpath(name.strip().replace("\\", "/"))
        if normalized in self.by_name.get(posixpath.basename(normalized), []):
            return normalized
        matches = self.by_name.get(posixpath.basename(normalized), [])
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise DataError(f"{where}: {name} is not an audio file in {self.root}")
        raise DataError(f"{where}: {name} matches {len(matches)} audio files ({', '.join(matches)}); "
                        f"give its path relative to {self.root}")


def _read_combined_meta(meta: Path, index: AudioIndex, recordings: dict[str, Recording]) -> None:
    rows = list(dcase_rows(meta))
    if not rows:  # else every audio file would be reported as unannotated, hiding the real cause
        raise DataError(f"{meta} lists no audio files; expected one row 'filename onset offset label' per event, "
                        "or a lone filename for a file without events")
    for number, (filename, scene, event) in rows:
        where = f"{meta}, line {number}"
        if filename is None:
            raise DataError(f"{where}: rows of {COMBINED_META} need the audio file name first "
                            "('filename onset offset label')")
        recording = recordings[index.resolve(filename, where)]
        recording.annotation = str(meta)
        if scene:
            recording.set_scene(scene, where)
        if event is not None:
            recording.events.append(SourcedEvent(event, where))


def _annotation_candidates(root: Path) -> list[Path]:
    found = []
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() not in ANNOTATION_SUFFIXES or not _visible(path, root) or not path.is_file():
            continue
        relative = path.relative_to(root)
        if relative.parts[0] == SETUP_FOLDER or NOT_ANNOTATIONS.match(path.name):
            continue
        if len(relative.parts) == 1 and path.name.lower() in (LABEL_FILE, COMBINED_META):
            continue
        found.append(path)
    return found


def _pair(annotation: Path, root: Path, index: AudioIndex) -> str | None:
    """The audio file an annotation file belongs to: same stem; among several, the same folder or sub-path."""
    candidates = index.by_stem.get(annotation.stem, [])
    if len(candidates) > 1:
        relative = annotation.relative_to(root).with_suffix("")
        same_folder = [c for c in candidates if Path(c).parent == relative.parent]
        same_sub_path = [c for c in candidates if Path(c).with_suffix("").parts[1:] == relative.parts[1:]]
        candidates = same_folder or same_sub_path
        if len(candidates) != 1:
            all_matches = index.by_stem[annotation.stem]
            raise DataError(f"annotation file {annotation} matches {len(all_matches)} audio files "
                            f"({', '.join(all_matches)}); give each a unique name or mirror the audio sub-folders")
    return candidates[0] if candidates else None


def _read_per_file_annotations(root: Path, index: AudioIndex, recordings: dict[str, Recording]) -> None:
    for annotation in _annotation_candidates(root):
        clip_id = _pair(annotation, root, index)
        folders = {part.lower() for part in annotation.relative_to(root).parts[:-1]}
        if clip_id is None:
            if annotation.suffix.lower() == ".ann" or folders & ANNOTATION_FOLDERS:
                raise DataError(f"annotation file {annotation} belongs to no audio file (expected "
                                f"{annotation.stem}.wav or {annotation.stem}.flac in {root})")
            continue  # some other text file
        recording = recordings[clip_id]
        if recording.annotation is not None:
            raise DataError(f"audio file {clip_id} has two annotation files: {recording.annotation} and {annotation}")
        recording.annotation = str(annotation)
        for number, (filename, scene, event) in dcase_rows(annotation):
            where = f"{annotation}, line {number}"
            if filename is not None and posixpath.basename(filename.replace("\\", "/")) != posixpath.basename(clip_id):
                raise DataError(f"{where}: the row names {filename}, but this file annotates {clip_id}")
            if scene:
                recording.set_scene(scene, where)
            if event is not None:
                recording.events.append(SourcedEvent(event, where))


def _read_list(path: Path, index: AudioIndex) -> list[str]:
    """Clip ids of a fold list, in order, each once (DCASE training lists repeat a file per event)."""
    clip_ids: dict[str, None] = {}
    with open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            name = line.split("\t")[0].strip()
            if name and not name.startswith("#"):
                clip_ids.setdefault(index.resolve(name, f"{path}, line {number}"), None)
    return list(clip_ids)


def _read_fold_lists(root: Path, index: AudioIndex, recordings: dict[str, Recording]):
    """fold -> partitions from evaluation_setup/, or (None, "") when the folder has no such lists."""
    setup = root / SETUP_FOLDER
    if not setup.is_dir():
        return None, ""
    numbered: dict[str, dict[str, list[tuple[Path, str | None]]]] = {}
    plain: dict[str, Path] = {}
    for path in sorted(setup.iterdir()):
        if (match := FOLD_LIST.match(path.name)) and path.is_file():
            part = match["part"]
            numbered.setdefault(match["fold"], {}).setdefault(part, []).append((path, match["scene"]))
        elif (match := PLAIN_LIST.match(path.name)) and path.is_file():
            plain[match["part"]] = path
    if numbered and plain:
        raise DataError(f"{setup} has both fold<k>_*.txt lists and fold-less lists ({', '.join(sorted(p.name for p in plain.values()))}); "
                        "keep one set")
    if not numbered and not plain:
        raise DataError(f"{setup} has no fold lists: expected fold<k>_train.txt and fold<k>_test.txt "
                        "(or fold<k>_evaluate.txt), optionally fold<k>_validate.txt, or train.txt and test.txt")
    folds = {}
    held_out = False
    if plain:
        folds["1"] = _plain_partitions(setup, plain, index)
        held_out = "validate" not in plain
    for fold in sorted(numbered, key=_natural):
        lists = numbered[fold]
        test_key = "test" if "test" in lists else "evaluate"
        for needed, key in (("train", "train"), ("test", test_key)):
            if key not in lists:
                raise DataError(f"{setup} has lists for fold {fold} but no fold{fold}_{needed}.txt")
        parts = {}
        held_out = held_out or "validate" not in lists
        for part, key in (("train", "train"), ("validate", "validate"), ("test", test_key)):
            if key not in lists:
                continue
            members: dict[str, None] = {}
            for path, scene in lists[key]:
                for clip_id in _read_list(path, index):
                    members.setdefault(clip_id, None)
                    if scene:
                        recordings[clip_id].set_scene(scene, str(path))
            parts[part] = (list(members), " + ".join(str(p) for p, _ in lists[key]))
        folds[fold] = _checked_partitions(fold, parts)
    rule = "fold lists in evaluation_setup/"
    if held_out:
        rule += f"; {VALIDATION_FRACTION:.0%} of training held out where a fold has no validation list"
    return folds, rule


def _plain_partitions(setup: Path, plain: dict[str, Path], index: AudioIndex) -> dict[str, list[str]]:
    """TUT-SED Synthetic 2016 style: train.txt (or train+validate.txt minus validate.txt), test.txt / evaluate.txt."""
    train_key = "train" if "train" in plain else "train+validate"
    test_key = "test" if "test" in plain else "evaluate"
    for key, name in ((train_key, "train.txt"), (test_key, "test.txt")):
        if key not in plain:
            raise DataError(f"{setup} has fold-less lists but no {name}")
    parts = {"train": (_read_list(plain[train_key], index), str(plain[train_key])),
             "test": (_read_list(plain[test_key], index), str(plain[test_key]))}
    if "validate" in plain:
        parts["validate"] = (_read_list(plain["validate"], index), str(plain["validate"]))
    return _checked_partitions("1", parts)


def _checked_partitions(fold: str, parts: dict[str, tuple[list[str], str]]) -> dict[str, list[str]]:
    train, train_source = parts["train"]
    test, test_source = parts["test"]
    for name, (members, source) in (("train", parts["train"]), ("test", parts["test"])):
        if not members:
            raise DataError(f"{source} lists no audio files; fold {fold} needs {name} recordings")
    in_train = set(train)
    leaked = [c for c in test if c in in_train]
    if leaked:
        raise DataError(f"{leaked[0]} is in both {train_source} and {test_source} (fold {fold}): a test "
                        "recording must not be trained on")
    if "validate" not in parts:
        train, valid = hold_out_hashed(train)
        return {"train": train, "validate": valid, "test": test}
    valid, valid_source = parts["validate"]
    in_test = set(test)
    leaked = [c for c in valid if c in in_test]
    if leaked:
        raise DataError(f"{leaked[0]} is in both {valid_source} and {test_source} (fold {fold})")
    in_valid = set(valid)
    train = [c for c in train if c not in in_valid]  # DCASE's train+validate lists include the validation files
    if not train:
        raise DataError(f"{train_source} has no recordings left for training after removing {valid_source}")
    return {"train": train, "validate": valid, "test": test}


def _natural(text: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text)]


def _used(folds: dict[str, dict[str, list[str]]]) -> list[str]:
    return list(dict.fromkeys(c for parts in folds.values() for part in ("train", "validate", "test") for c in parts[part]))


def _scenes_from_folders(root: Path, recordings: dict[str, Recording]) -> None:
    """DCASE's audio/<scene>/file.wav: the first sub-folder under audio/ is the scene, unless given otherwise."""
    for recording in recordings.values():
        parts = recording.relative.split("/")
        if recording.scene is None and len(parts) >= 3 and parts[0] == "audio":
            recording.set_scene(parts[1], f"folder audio/{parts[1]}/")


def _labels(label_file: Path, recordings: list[Recording], root: Path) -> tuple[str, ...]:
    """labels.txt, or the sorted annotated labels (with the target classes of a rare-event manifest)."""
    if label_file.is_file():
        labels: list[str] = []
        with open_text(label_file) as handle:
            for number, line in enumerate(handle, start=1):
                label = line.strip()
                if not label or label.startswith("#"):
                    continue
                if label in labels:
                    raise DataError(f"{label_file}, line {number}: label {label!r} is listed twice")
                labels.append(label)
        if not labels:
            raise DataError(f"{label_file} lists no labels")
        allowed = set(labels)
        for recording in recordings:
            for item in recording.events:
                if item.event.label not in allowed:
                    raise DataError(f"{item.source}: label {item.event.label!r} is not in {label_file} "
                                    f"({', '.join(labels)})")
            if recording.target_class is not None and recording.target_class not in allowed:
                raise DataError(f"{recording.target_source}: target class {recording.target_class!r} is not in "
                                f"{label_file} ({', '.join(labels)})")
        return tuple(labels)
    found = sorted({item.event.label for recording in recordings for item in recording.events}
                   | {r.target_class for r in recordings if r.target_class is not None})
    if not found:
        raise DataError(f"the annotations in {root} contain no events, so there are no labels; "
                        f"add events or a {LABEL_FILE} listing the labels")
    return tuple(found)


# --------------------------------------------------------------------------- CSV manifests


def scan_manifest(manifest: Path) -> Layout:
    manifest = Path(manifest)
    root = manifest.parent
    recordings: dict[str, Recording] = {}
    assignments: dict[str, dict[str, tuple[str, str]]] = {}  # fold -> clip id -> (partition, "file, line")
    with open_text(manifest, newline="") as handle:
        reader = csv.reader(handle)
        header = [h.strip().lower() for h in next(reader, [])]
        _check_header(manifest, header)
        for row in reader:
            number = reader.line_num
            where = f"{manifest}, line {number}"
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise DataError(f"{where}: expected {len(header)} comma-separated fields ({', '.join(header)}), "
                                f"got {len(row)}")
            cells = {name: value.strip() for name, value in zip(header, row)}
            clip_id = _manifest_file(cells["filename"], root, where)
            recording = recordings.setdefault(clip_id, Recording(clip_id, annotation=str(manifest)))
            times = (cells["onset"], cells["offset"], cells["event_label"])
            if all(times):
                _, event = parse_annotation_line("\t".join((clip_id, *times)), str(manifest), number)
                if all(item.event != event for item in recording.events):  # a fold column may repeat a file's events
                    recording.events.append(SourcedEvent(event, where))
            elif any(times):
                raise DataError(f"{where}: give onset, offset and event_label together, or leave all three empty "
                                "for a file without events")
            if cells.get("scene"):
                recording.set_scene(cells["scene"], where)
            if "target_class" in cells:
                if not cells["target_class"]:
                    raise DataError(f"{where}: the target class is empty (a manifest with a target_class column "
                                    "names the class of every file's mixture)")
                recording.set_target_class(cells["target_class"], where)
            if "split" in cells:
                _assign(assignments, cells, clip_id, where)
    if not recordings:
        raise DataError(f"manifest {manifest} lists no audio files")
    if assignments:
        folds = {fold: _manifest_partitions(fold, assignments[fold], manifest) for fold in sorted(assignments, key=_natural)}
        rule = f"splits from the manifest's split column; {VALIDATION_FRACTION:.0%} of training held out where a fold has no validation rows"
    else:
        folds = {"1": default_partitions(list(recordings))}
        rule = "no split column: one fold, 60/20/20 by SHA-256 of the clip id"
    labels = _labels(root / LABEL_FILE, [recordings[c] for c in _used(folds)], root)
    return Layout(root=root, name=f"manifest:{root.name}:{manifest.stem}", recordings=recordings, folds=folds,
                  labels=labels, split_rule=rule, task=Task.RARE_EVENTS if "target_class" in header else Task.STRONG_EVENTS)


def _check_header(manifest: Path, header: list[str]) -> None:
    known = MANIFEST_REQUIRED + MANIFEST_OPTIONAL
    expected = f"expected the columns {', '.join(MANIFEST_REQUIRED)} and optionally {', '.join(MANIFEST_OPTIONAL)}"
    if not header:
        raise DataError(f"manifest {manifest} is empty; {expected}")
    for name in header:
        if name not in known:
            raise DataError(f"{manifest}, line 1: unknown column {name!r}; {expected}")
        if header.count(name) > 1:
            raise DataError(f"{manifest}, line 1: column {name!r} appears twice")
    missing = [name for name in MANIFEST_REQUIRED if name not in header]
    if missing:
        raise DataError(f"{manifest}, line 1: missing column {missing[0]!r}; {expected}")
    if "fold" in header and "split" not in header:
        raise DataError(f"{manifest}, line 1: a fold column needs a split column (train / validate / test)")


def _manifest_file(name: str, root: Path, where: str) -> str:
    if not name:
        raise DataError(f"{where}: the filename is empty")
    normalized = posixpath.normpath(name.replace("\\", "/"))
    if posixpath.isabs(normalized):
        raise DataError(f"{where}: {name} is an absolute path; give it relative to the manifest's folder {root}")
    path = root / normalized
    if Path(normalized).suffix.lower() not in AUDIO_SUFFIXES:
        raise DataError(f"{where}: {name} is not a {' / '.join(AUDIO_SUFFIXES)} audio file")
    if not path.is_file():
        raise DataError(f"{where}: audio file {path} does not exist (paths are relative to the manifest's folder)")
    return normalized


def _assign(assignments: dict, cells: dict[str, str], clip_id: str, where: str) -> None:
    part = SPLIT_NAMES.get(cells["split"].lower())
    if part is None:
        raise DataError(f"{where}: split {cells['split']!r} is not one of train, validate, test")
    fold = cells.get("fold", "1")
    if not fold:
        raise DataError(f"{where}: the fold is empty")
    previous = assignments.setdefault(fold, {}).setdefault(clip_id, (part, where))
    if previous[0] != part:
        raise DataError(f"{where}: {clip_id} is in split {part!r} here but in {previous[0]!r} at {previous[1]}"
                        + (f" (fold {fold})" if "fold" in cells else ""))


def _manifest_partitions(fold: str, assigned: dict[str, tuple[str, str]], manifest: Path) -> dict[str, list[str]]:
    parts = {part: [c for c, (p, _) in assigned.items() if p == part] for part in ("train", "validate", "test")}
    for part in ("train", "test"):
        if not parts[part]:
            raise DataError(f"manifest {manifest} has no {part} rows for fold {fold}")
    if not parts["validate"]:
        parts["train"], parts["validate"] = hold_out_hashed(parts["train"])
    return parts


# --------------------------------------------------------------------------- export


def resolve_dataset(name_or_path: str) -> type[Dataset]:
    """The dataset class behind ``--dataset``: an existing folder or CSV manifest path, else a registered name.

    A path wins over a registered name of the same spelling. Every command resolves ``--dataset`` here.
    """
    if Path(name_or_path).expanduser().exists():
        return dataset_class(name_or_path)
    try:
        return registry.datasets.get(name_or_path)
    except UnknownNameError as exc:
        if "/" in name_or_path or name_or_path.lower().endswith(".csv"):  # meant as a path
            raise UnknownNameError(f"dataset folder or manifest {name_or_path} does not exist") from None
        raise UnknownNameError(f"{exc}; or give the path of a dataset folder or CSV manifest "
                               f"(no file or folder {name_or_path!r} exists)") from None
