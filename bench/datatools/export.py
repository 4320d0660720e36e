"""Write any dataset as a DCASE-layout folder (``sedbench datasets export NAME TARGET``).

The folder reads back through ``sedbench.datatools.folder`` with the same splits, clip order, labels, events and
durations as the original, so a copy can be edited, shared or run as ``--dataset PATH``.
"""

from __future__ import annotations

import posixpath
import re
import shutil
from pathlib import Path
from typing import Iterable

from sedbench.core.data import AudioClip
from sedbench.core.dataset import Dataset
from sedbench.core.errors import DataError

from .folder import AUDIO_SUFFIXES, COMBINED_META, LABEL_FILE, SETUP_FOLDER


def export_dcase_layout(dataset: Dataset, target: Path, folds: Iterable[str] | None = None) -> Path:
    """Write ``dataset`` as a DCASE-layout folder that reads back with the same splits, order, labels and events.

    Audio files are copied to their clip ids (paths relative to the dataset root; others go to
    ``audio/<file name>``), events and scenes to one combined ``meta.txt`` (times written exactly, in
    the original order), the label list with its order to ``labels.txt``, and each fold's partitions to
    ``evaluation_setup/fold<k>_{train,validate,test}.txt``. ``target`` must be new or empty.
    """
    target = Path(target)
    if target.exists() and any(target.iterdir()):
        raise DataError(f"{target} is not empty; export into a new or empty folder")
    dataset.prepare()
    folds = list(folds) if folds is not None else list(dataset.folds)
    names: dict[str, str] = {}  # clip id -> exported relative path
    clips: dict[str, AudioClip] = {}
    lists: dict[str, dict[str, list[str]]] = {}
    for fold in folds:
        if not re.fullmatch(r"[A-Za-z0-9-]+", fold):
            raise DataError(f"fold {fold!r} of dataset {dataset.name!r} cannot be written as fold<k>_train.txt")
        split = dataset.split(fold)
        lists[fold] = {}
        for part, members in (("train", split.train), ("validate", split.valid), ("test", split.test)):
            for clip in members:
                if clip.clip_id not in names:
                    names[clip.clip_id] = _export_name(clip, set(names.values()))
                    clips[clip.clip_id] = clip
            lists[fold][part] = [names[clip.clip_id] for clip in members]
    target.mkdir(parents=True, exist_ok=True)
    for clip_id, relative in names.items():
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(clips[clip_id].path, target / relative)
    with open(target / COMBINED_META, "w", encoding="utf-8") as meta:
        for clip_id, relative in names.items():
            clip = clips[clip_id]
            scene = [clip.scene] if clip.scene else []
            if not clip.events:
                meta.write("\t".join([relative, *scene]) + "\n")
            for e in clip.events:
                meta.write("\t".join([relative, *scene, repr(float(e.onset)), repr(float(e.offset)), e.label]) + "\n")
    (target / LABEL_FILE).write_text("".join(f"{label}\n" for label in dataset.labels), encoding="utf-8")
    (target / SETUP_FOLDER).mkdir()
    for fold, parts in lists.items():
        for part, members in parts.items():
            (target / SETUP_FOLDER / f"fold{fold}_{part}.txt").write_text("".join(f"{m}\n" for m in members),
                                                                          encoding="utf-8")
    return target


def _export_name(clip: AudioClip, taken: set[str]) -> str:
    relative = posixpath.normpath(clip.clip_id)
    usable = (Path(relative).suffix.lower() == Path(clip.path).suffix.lower() and Path(relative).suffix.lower() in AUDIO_SUFFIXES
              and not posixpath.isabs(relative) and not relative.startswith(".."))
    if not usable:
        relative = f"audio/{Path(clip.path).name}"
    if relative in taken:
        raise DataError(f"two clips would be exported to {relative}; the dataset's clip ids are not unique file paths")
    return relative
