"""``chime-home`` and ``chime-home-eval``: CHiME-Home, DCASE2016 task 4 (domestic audio tagging), refined setup.

4-second chunks of domestic recordings, tagged by three annotators; the reference is
the majority vote. Tag codes -> labels (dcase_util's CHiMEHome_DomesticAudioTag names):
c child speech, m adult male speech, f adult female speech, v video game/tv,
p percussive sound, b broadband noise, o other. S (silence/background) and
U (unidentifiable) are not classes: a chunk voted only S/U has no tags.

On disk, as chime_home.tar.gz unpacks (one package for both sets; dcase_util 0.2.20)::

    <data_dir>/chime-home/chime_home/
        chunks/<chunk>.16kHz.wav        mono 16 kHz (used); <chunk>.48kHz.wav stereo (not used)
        chunks/<chunk>.csv              key,value rows; the "majorityvote" row holds the tag codes, e.g. "cpf"
        development_chunks_refined_crossval_dcase2016.csv    id,<chunk>,<set 0-4>  (set k-1 = test of fold k)
        evaluation_chunks_refined.csv                        id,<chunk>            (the 816 evaluation chunks)

``chime-home``: 5 folds of the development chunks. ``chime-home-eval``: all development
chunks for training, the evaluation chunks for testing; it shares the same folder.
Validation: 20 % of the training recording segments (the chunk name before
``_chunk``), drawn deterministically, so chunks of one segment never straddle train and validation.
"""

from __future__ import annotations

import csv
from pathlib import Path

from sedbench.core.data import LabelKind, Split, Task
from sedbench.core.dataset import RemoteFile
from sedbench.core.errors import DataError
from sedbench.core.registry import register_dataset
from sedbench.datatools.splits import hold_out_seeded
from sedbench.papers.citations import FOSTER2015

from ._layout import CorpusDataset

TAG_CODES = {
    "c": "child speech",
    "m": "adult male speech",
    "f": "adult female speech",
    "v": "video game/tv",
    "p": "percussive sound",
    "b": "broadband noise",
    "o": "other",
}
IGNORED_CODES = {"S", "U"}  # silence/background, unidentifiable

CROSSVAL_LIST = "development_chunks_refined_crossval_dcase2016.csv"
EVALUATION_LIST = "evaluation_chunks_refined.csv"
AUDIO_SUFFIX = ".16kHz.wav"


class _ChimeHomeBase(CorpusDataset):
    paper = FOSTER2015
    license = "research use; see the licence in chime_home.tar.gz (dcase_util's metadata does not state one)"
    task = Task.CLIP_TAGS
    label_kind = LabelKind.WEAK
    labels = tuple(TAG_CODES.values())
    sample_rate = 16000
    package_folder = "chime_home"
    remote_files = (
        RemoteFile("https://archive.org/download/chime-home/chime_home.tar.gz", 4162513717,
                   "9ce9d584e229b465b3aa08db2d7fee67"),
    )

    @property
    def root(self) -> Path:
        return self.data_dir / "chime-home"  # one package holds the development and the evaluation chunks

    @property
    def chunks(self) -> Path:
        return self.base / "chunks"

    def required_paths(self) -> list[Path]:
        return [self.chunks, self.base / CROSSVAL_LIST, self.base / EVALUATION_LIST]

    def read_chunk_list(self, name: str, with_set: bool) -> list[tuple[str, int]]:
        """(chunk name, set id) rows of a chunk list; set id -1 when the list has none."""
        path = self.base / name
        if not path.is_file():
            raise DataError(f"chunk list {path} does not exist")
        rows = []
        with open(path, encoding="utf-8", newline="") as handle:
            for number, row in enumerate(csv.reader(handle), start=1):
                if not any(cell.strip() for cell in row):
                    continue
                wanted = 3 if with_set else 2
                if len(row) < wanted:
                    raise DataError(f"{path}, line {number}: expected {wanted} comma-separated columns "
                                    f"(id, chunk{', set' if with_set else ''}), got {','.join(row)!r}")
                chunk = row[1].strip()
                if not with_set:
                    rows.append((chunk, -1))
                    continue
                try:
                    set_id = int(row[2])
                except ValueError:
                    if number == 1:  # a header row
                        continue
                    raise DataError(f"{path}, line {number}: the set column must be an integer 0-4, "
                                    f"got {row[2]!r}") from None
                if not 0 <= set_id < len(DEVELOPMENT_FOLDS):
                    raise DataError(f"{path}, line {number}: the set column must be 0-4, got {set_id}")
                rows.append((chunk, set_id))
        return rows

    def tags(self, chunk: str) -> tuple[str, ...]:
        path = self.chunks / f"{chunk}.csv"
        if not path.is_file():
            raise DataError(f"chunk annotation {path} does not exist")
        with open(path, encoding="utf-8", newline="") as handle:
            for number, row in enumerate(csv.reader(handle), start=1):
                if row and row[0].strip() == "majorityvote":
                    codes = row[1].strip() if len(row) > 1 else ""
                    unknown = sorted(set(codes) - set(TAG_CODES) - IGNORED_CODES)
                    if unknown:
                        raise DataError(f"{path}, line {number}: unknown tag code {unknown[0]!r} in majority vote "
                                        f"{codes!r} (known: {''.join(TAG_CODES)}, S, U)")
                    return tuple(TAG_CODES[code] for code in TAG_CODES if code in codes)
        raise DataError(f"{path} has no 'majorityvote' row")

    def clips(self, chunks: list[str]):
        return [self.audio_clip(self.audio(chunk), [], self.tags(chunk)) for chunk in chunks]

    def audio(self, chunk: str) -> Path:
        path = self.chunks / (chunk + AUDIO_SUFFIX)
        if not path.is_file():
            raise DataError(f"chunk {chunk!r} has no audio: {path} does not exist")
        return path

    def train_valid(self, chunks: list[str], key: str) -> tuple[list[str], list[str]]:
        """Hold out whole recording segments, so no segment is in both partitions."""
        kept, held = hold_out_seeded({segment_of(chunk) for chunk in chunks}, key=key)
        held = set(held)
        return [c for c in chunks if segment_of(c) not in held], [c for c in chunks if segment_of(c) in held]


DEVELOPMENT_FOLDS = ("1", "2", "3", "4", "5")


def segment_of(chunk: str) -> str:
    return chunk.split("_chunk")[0]


@register_dataset("chime-home")
class ChimeHome(_ChimeHomeBase):
    name = "chime-home"
    description = "CHiME-Home (DCASE2016 task 4, refined): 4 s domestic chunks, 7 tags, 5 folds, 16 kHz"
    folds = DEVELOPMENT_FOLDS

    def load_split(self, fold: str) -> Split:
        rows = self.read_chunk_list(CROSSVAL_LIST, with_set=True)
        test_set = int(fold) - 1
        pool = sorted(chunk for chunk, set_id in rows if set_id != test_set)
        test = sorted(chunk for chunk, set_id in rows if set_id == test_set)
        train, valid = self.train_valid(pool, key=f"{self.name}/fold{fold}")
        return Split(fold=fold, train=self.clips(train), valid=self.clips(valid), test=self.clips(test))


@register_dataset("chime-home-eval")
class ChimeHomeEval(_ChimeHomeBase):
    name = "chime-home-eval"
    description = "CHiME-Home (DCASE2016 task 4): train on all development chunks, test on the 816 evaluation chunks"
    folds = ("1",)

    def load_split(self, fold: str) -> Split:
        development = sorted({chunk for chunk, _ in self.read_chunk_list(CROSSVAL_LIST, with_set=True)})
        test = sorted({chunk for chunk, _ in self.read_chunk_list(EVALUATION_LIST, with_set=False)})
        overlap = set(development) & set(test)
        if overlap:
            raise DataError(f"chunk {sorted(overlap)[0]!r} is in both {CROSSVAL_LIST} and {EVALUATION_LIST}")
        train, valid = self.train_valid(development, key=self.name)
        return Split(fold=fold, train=self.clips(train), valid=self.clips(valid), test=self.clips(test))
