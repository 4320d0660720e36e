"""``tut-synth2016``: TUT-SED Synthetic 2016, the primary dataset of Cakir et al. 2017.

100 mixtures of isolated Sound Ideas samples from 16 classes (566 min, 44.1 kHz mono),
60 / 20 / 20 % for training / validation / test, with the partition lists published
with it. dcase_util 0.2.20 (``TUT_SED_Synthetic_2016``) lists its packages with sizes
and md5s, so `sedbench datasets fetch` downloads them; the precomputed-feature package
(480 MB) is left out because sedbench computes its own features.

On disk, as the published zips unpack::

    <data_dir>/tut-synth2016/TUT-SED-synthetic-2016/
        audio/TUT-SED-synthetic-2016-mix-<n>.wav         n = 0 ... 99
        meta/TUT-SED-synthetic-2016-annot-<n>.txt        onset<TAB>offset<TAB>label
        evaluation_setup/train+validate.txt              training + validation mixtures
        evaluation_setup/validate.txt                    validation mixtures
        evaluation_setup/test.txt                        test mixtures
        evaluation_setup/evaluate.txt                    test mixtures with their events
                                                         (lists: audio path first, tab-separated)

Training = train+validate.txt minus validate.txt. The annotation of a mixture is
``meta/<audio stem>.txt``, or the ``-mix-`` -> ``-annot-`` name the original release uses.

Labels are written as in the annotation files (underscores). They are the paper's
16 classes; the procedural ``synth`` dataset names the same classes with spaces and
calls "alarms_and_sirens" "alarms" and "horsewalk" "horse walk".
"""

from __future__ import annotations

from pathlib import Path

from sedbench.core.data import LabelKind, Split, Task
from sedbench.core.dataset import RemoteFile
from sedbench.core.errors import DataError
from sedbench.core.registry import register_dataset
from sedbench.papers.citations import CAKIR2017

from ._layout import CorpusDataset

SOURCE_URL = "http://www.cs.tut.fi/sgn/arg/taslp2017-crnn-sed/datasets/TUT-SED-synthetic-2016/"
COMPANION_PAGE = "http://www.cs.tut.fi/sgn/arg/taslp2017-crnn-sed/tut-sed-synthetic-2016"


@register_dataset("tut-synth2016")
class TutSynth2016(CorpusDataset):
    name = "tut-synth2016"
    description = "TUT-SED Synthetic 2016: 100 synthetic mixtures, 16 labels, published train/validate/test lists"
    paper = CAKIR2017
    homepage = "http://www.cs.tut.fi/sgn/arg/taslp2017-crnn-sed/tut-sed-synthetic-2016"
    license = "research use; isolated samples licensed from Sound Ideas (see the companion page)"
    task = Task.STRONG_EVENTS
    label_kind = LabelKind.STRONG
    labels = ("alarms_and_sirens", "baby_crying", "bird_singing", "bus", "cat_meowing", "crowd_applause",
              "crowd_cheering", "dog_barking", "footsteps", "glass_smash", "gun_shot", "horsewalk", "mixer",
              "motorcycle", "rain", "thunder")
    folds = ("1",)
    sample_rate = 44100
    package_folder = "TUT-SED-synthetic-2016"
    remote_files = (
        RemoteFile(SOURCE_URL + "TUT-SED-synthetic-2016.meta.zip", 973618, "e2ae895bdf39f2a359a97bb0bcf76101"),
        RemoteFile(SOURCE_URL + "TUT-SED-synthetic-2016.audio.1.zip", 1026369647, "ede8b9c6d1b0d1d64bfc5791404f58fb"),
        RemoteFile(SOURCE_URL + "TUT-SED-synthetic-2016.audio.2.zip", 1018650039, "cde647a377a58fc74e3012139d65c447"),
        RemoteFile(SOURCE_URL + "TUT-SED-synthetic-2016.audio.3.zip", 1070239392, "5fc2824dcce442f441f4c6a975881789"),
        RemoteFile(SOURCE_URL + "TUT-SED-synthetic-2016.audio.4.zip", 1040622610, "4ba016d949171ccc8493d3d274009825"),
        RemoteFile(SOURCE_URL + "TUT-SED-synthetic-2016.audio.5.zip", 264812997, "6a44578dd7738bd4ba044d5d2b9a5448"),
    )
    manual_setup = (
        f"If the download URLs no longer answer, get TUT-SED-synthetic-2016.meta.zip and "
        f"TUT-SED-synthetic-2016.audio.1-5.zip via the companion page {COMPANION_PAGE} and unpack them into the "
        f"dataset folder, so that it holds TUT-SED-synthetic-2016/audio/TUT-SED-synthetic-2016-mix-<n>.wav, "
        f"TUT-SED-synthetic-2016/meta/TUT-SED-synthetic-2016-annot-<n>.txt and "
        f"TUT-SED-synthetic-2016/evaluation_setup/{{train+validate,validate,test}}.txt."
    )

    @property
    def setup(self) -> Path:
        return self.base / "evaluation_setup"

    def required_paths(self) -> list[Path]:
        return [self.base / "audio", self.base / "meta"] + [
            self.setup / f"{part}.txt" for part in ("train+validate", "validate", "test")]

    def annotation(self, audio: Path) -> Path:
        candidates = [self.base / "meta" / (audio.stem + ".txt"),
                      self.base / "meta" / (audio.stem.replace("-mix-", "-annot-") + ".txt")]
        for candidate in candidates:
            if candidate.is_file():
                return candidate
        raise DataError(f"no annotation for {audio}: expected {candidates[-1]} (or {candidates[0]})")

    def clips(self, recordings: list[Path]):
        return [self.audio_clip(path, self.read_events(self.annotation(path))) for path in recordings]

    def load_split(self, fold: str) -> Split:
        pool = self.listed_audio(self.setup / "train+validate.txt")
        valid = self.listed_audio(self.setup / "validate.txt")
        strays = set(valid) - set(pool)
        if strays:
            raise DataError(f"{self.setup / 'validate.txt'} lists {sorted(p.name for p in strays)[0]!r}, which is "
                            f"not in {self.setup / 'train+validate.txt'}")
        train = [path for path in pool if path not in set(valid)]
        test = self.listed_audio(self.setup / "test.txt")
        overlap = {self.relative(p) for p in test} & {self.relative(p) for p in pool}
        if overlap:
            raise DataError(f"{self.setup / 'test.txt'} and train+validate.txt both list {sorted(overlap)[0]!r}")
        return Split(fold=fold, train=self.clips(train), valid=self.clips(valid), test=self.clips(test))

