"""``synth-rare`` and ``synth-rare-mini``: offline rare-event mixtures after DCASE2017 task 2.

Generated deterministically the first time they are used, in two steps:

1. sources from the procedural generator (`sedbench.datatools.synthesis`): isolated events of three target
   classes, babycry / glassbreak / gunshot, from its "baby crying", "glass smash" and "gun shot"
   sources (other instances for devtrain and devtest), and 30 s backgrounds, each a scene of one to
   three of the other sources (rain, bus, crowd, mixer, motorcycle, footsteps, birds, ...) over pink
   noise (other backgrounds for devtrain and devtest);
2. the mixtures, with `sedbench.datatools.mixing.synthesize` (the TUT Rare Sound Events 2017 recipe and layout):
   event presence 0.5, EBR -6 / 0 / 6 dB.

Event lengths follow the task's imbalance (Amiriparian et al. 2018, Table 1: events are 4.13 % of the
babycry frames and 2.47 % of the glassbreak / gunshot frames): a babycry lasts 1.6-3.6 s, a glassbreak is
a smash followed by up to two quieter ones (falling debris), a gunshot one or two shots, so that about
2-4 % of each class's frames hold its event: measured with ``event_frame_shares`` over synth-rare's
devtrain + devtest mixtures, babycry 3.94 %, glassbreak 2.37 %, gunshot 2.50 %.
On disk (synth-rare: 22.05 kHz 16-bit, 60 devtrain + 40 devtest mixtures per class: 400 MB of mixtures
and 50 MB of sources, about 450 MB; generated in under a minute)::

    <data_dir>/synth-rare/
        source_data/events/{devtrain,devtest}/{babycry,glassbreak,gunshot}/<class>_<nnn>.wav
        source_data/bgs/{devtrain,devtest}/<main source>/bg_<nnn>.wav
        source_data/sources.yaml               what each source file is made of
        mixture_data/{devtrain,devtest}/<parameter hash>/audio, meta   (sedbench.datatools.mixing's layout)
        COMPLETE                               written last; its absence means "regenerate"

One fold: devtrain for training (20 % of each class held out for validation), devtest for testing.
Every clip's ``target_class`` is the class its mixture was made for.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import yaml

from sedbench.core import progress
from sedbench.core.data import AudioClip, Event, LabelKind, Split, Task
from sedbench.core.dataset import GENERATED_MARKER, GeneratedDataset, generator_id
from sedbench.core.errors import DataError
from sedbench.core.registry import register_dataset
from sedbench.datatools.mixing import SYNTHESIZER, MixingParameters, read_mixture_list, synthesize
from sedbench.datatools.splits import hold_out_seeded
from sedbench.datatools.staging import staged_folder
from sedbench.datatools.synthesis import SOUND_CLASSES, _pink_noise, render_instance
from sedbench.papers.citations import MESAROS2017

GENERATOR_VERSION = 2  # bump when the generated sources change, so caches regenerate (2: float64 synthesis)
CLASSES = ("babycry", "glassbreak", "gunshot")
SUBSETS = ("devtrain", "devtest")


@dataclass(frozen=True)
class EventRecipe:
    """How one target class's isolated events are rendered from a procedural source."""

    source: str  # a SOUND_CLASSES label
    instance_seconds: tuple[float, float]  # replaces the source's own instance length range
    parts: tuple[int, int] = (1, 1)  # renderings chained into one event (a volley of shots, a smash and debris)
    spacing_seconds: tuple[float, float] = (0.0, 0.0)  # from one part's start to the next one's
    later_gain_db: tuple[float, float] = (0.0, 0.0)  # level of the later parts against the first


EVENTS = {
    "babycry": EventRecipe("baby crying", (1.6, 3.6)),
    "glassbreak": EventRecipe("glass smash", (0.8, 1.8), parts=(1, 3), spacing_seconds=(0.45, 0.9),
                              later_gain_db=(-12.0, -4.0)),
    "gunshot": EventRecipe("gun shot", (0.8, 2.5), parts=(1, 2), spacing_seconds=(0.4, 0.9),
                           later_gain_db=(-4.0, 0.0)),
}
# Everything but the targets and their look-alike (a cat's meow is built like a baby's cry).
BACKGROUND_SOURCES = ("alarms", "bird singing", "bus", "crowd applause", "crowd cheering", "dog barking",
                      "footsteps", "horse walk", "mixer", "motorcycle", "rain", "thunder")
EVENT_PEAK = 0.9  # isolated events are written peak-normalized (16-bit files)
BACKGROUND_RMS = 0.05  # and backgrounds at this RMS (lower if a peak would pass 0.95)


@dataclass(frozen=True)
class RareSpec:
    mixtures: tuple[int, int]  # per class: devtrain, devtest
    events_per_class: tuple[int, int]  # isolated events per class: devtrain, devtest
    backgrounds: tuple[int, int]  # devtrain, devtest
    seed: int
    sample_rate: int = 22050
    mixture_seconds: float = 30.0
    event_presence: float = 0.5
    ebr_db: tuple[float, ...] = (-6.0, 0.0, 6.0)

    def parameters(self, subset: str) -> MixingParameters:
        return MixingParameters(mixtures_per_class=self.mixtures[SUBSETS.index(subset)],
                                event_presence=self.event_presence, ebr_db=self.ebr_db, seed=self.seed,
                                mixture_seconds=self.mixture_seconds, sample_rate=self.sample_rate)


class _SynthRareBase(GeneratedDataset):
    spec: RareSpec
    paper = MESAROS2017
    license = "CC0-1.0 (generated by sedbench)"
    task = Task.RARE_EVENTS
    label_kind = LabelKind.STRONG
    labels = CLASSES
    folds = ("1",)

    def generator_id(self) -> str:
        return _spec_id(self.spec)

    def generate(self) -> None:
        generate(self.root, self.spec)

    def mixtures(self, subset: str) -> Path:
        return self.root / "mixture_data" / subset / self.spec.parameters(subset).hash

    def read_mixture_list(self, subset: str, label: str) -> list[tuple[Path, list[Event]]]:
        return read_mixture_list(self.mixtures(subset), subset, label,
                                 hint=f"delete {self.root} and it is generated again")

    def split(self, fold: str) -> Split:
        if fold not in self.folds:
            raise DataError(f"dataset {self.name!r} has folds {', '.join(self.folds)}; got fold {fold!r}")
        self.prepare()
        train, valid, test = [], [], []
        for label in CLASSES:
            pool = dict(self.read_mixture_list("devtrain", label))
            kept, held = hold_out_seeded(list(pool), key=f"{self.name}/{label}")
            train += [self._clip(path, pool[path], label) for path in kept]
            valid += [self._clip(path, pool[path], label) for path in held]
            test += [self._clip(path, events, label) for path, events in self.read_mixture_list("devtest", label)]
        return Split(fold=fold, train=train, valid=valid, test=test)

    def _clip(self, path: Path, events: list[Event], label: str) -> AudioClip:
        clip = self.clip(path.relative_to(self.root).as_posix(), events)
        clip.target_class = label
        return clip


@register_dataset("synth-rare")
class SynthRare(_SynthRareBase):
    name = "synth-rare"
    description = ("3 rare classes (babycry, glassbreak, gunshot) in 30 s mixtures after DCASE2017 task 2, "
                   "60 devtrain + 40 devtest per class, 22.05 kHz, generated offline (about 450 MB)")
    spec = RareSpec(mixtures=(60, 40), events_per_class=(20, 10), backgrounds=(20, 10), seed=2017)
    sample_rate = spec.sample_rate


@register_dataset("synth-rare-mini")
class SynthRareMini(_SynthRareBase):
    name = "synth-rare-mini"
    description = "miniature of synth-rare for tests (10 s mixtures, 6 devtrain + 4 devtest per class), generated in seconds"
    validation_fixture = True  # also a fixture: `sedbench benchmark --gpu` runs the rare-event systems on it
    spec = RareSpec(mixtures=(6, 4), events_per_class=(3, 2), backgrounds=(3, 2), seed=7, sample_rate=16000,
                    mixture_seconds=10.0)
    sample_rate = spec.sample_rate


def _spec_id(spec: RareSpec) -> str:
    return generator_id(spec, GENERATOR_VERSION, synthesizer=SYNTHESIZER)


# --------------------------------------------------------------------------- sources


def render_event(recipe: EventRecipe, rng: np.random.Generator, sample_rate: int) -> np.ndarray:
    """One isolated event: 1..n renderings of the source, each later one starting a spacing after the last."""
    sound = dataclasses.replace(SOUND_CLASSES[recipe.source], instance_seconds=recipe.instance_seconds)
    parts = int(rng.integers(recipe.parts[0], recipe.parts[1] + 1))
    pieces, start = [(0, render_instance(sound, rng, sample_rate))], 0
    for _ in range(parts - 1):
        start += int(rng.uniform(*recipe.spacing_seconds) * sample_rate)
        gain = 10 ** (rng.uniform(*recipe.later_gain_db) / 20)
        pieces.append((start, gain * render_instance(sound, rng, sample_rate)))
    event = np.zeros(max(offset + piece.shape[0] for offset, piece in pieces), dtype=np.float64)
    for offset, piece in pieces:
        event[offset:offset + piece.shape[0]] += piece
    return (event * (EVENT_PEAK / np.abs(event).max())).astype(np.float64)


def render_background(rng: np.random.Generator, seconds: float, sample_rate: int) -> tuple[np.ndarray, list[dict]]:
    """A scene: pink noise plus one to three background sources, the first over the whole length."""
    n = int(round(seconds * sample_rate))
    noise = _pink_noise(rng, n)
    floor_db = float(rng.uniform(-30, -18))
    scene = noise / (np.sqrt(np.mean(noise ** 2)) + 1e-12) * 10 ** (floor_db / 20)
    count = int(rng.integers(1, 4))
    components = [{"source": "pink noise", "gain_db": round(floor_db, 2)}]
    for number, label in enumerate(rng.choice(BACKGROUND_SOURCES, size=count, replace=False)):
        length = seconds if number == 0 else float(rng.uniform(5.0, seconds))
        sound = dataclasses.replace(SOUND_CLASSES[str(label)], instance_seconds=(length, length))
        part = render_instance(sound, rng, sample_rate)[:n]
        start = int(rng.integers(0, n - part.shape[0] + 1))
        gain_db = 0.0 if number == 0 else float(rng.uniform(-12, -3))
        scene[start:start + part.shape[0]] += part * 10 ** (gain_db / 20)
        components.append({"source": str(label), "start_seconds": round(start / sample_rate, 3),
                           "seconds": round(part.shape[0] / sample_rate, 3), "gain_db": round(gain_db, 2)})
    scale = BACKGROUND_RMS / (np.sqrt(np.mean(scene ** 2)) + 1e-12)
    scale = min(scale, 0.95 / (np.abs(scene).max() + 1e-12))
    return (scene * scale).astype(np.float64), components


def write_sources(root: Path, spec: RareSpec) -> dict:
    """Render every isolated event and background into ``root/source_data``; returns what each file is."""
    rate = spec.sample_rate
    described: dict = {"events": {}, "backgrounds": {}}
    for subset_index, subset in enumerate(SUBSETS):
        for class_index, label in enumerate(CLASSES):
            folder = root / "source_data" / "events" / subset / label
            folder.mkdir(parents=True)
            for number in range(spec.events_per_class[subset_index]):
                rng = np.random.default_rng([spec.seed, 1, subset_index, class_index, number])
                name = f"{label}_{number:03d}.wav"
                audio = render_event(EVENTS[label], rng, rate)
                sf.write(folder / name, audio, rate, subtype="PCM_16")
                described["events"][f"{subset}/{label}/{name}"] = {"source": EVENTS[label].source,
                                                                    "seconds": round(audio.shape[0] / rate, 3)}
        for number in range(spec.backgrounds[subset_index]):
            rng = np.random.default_rng([spec.seed, 2, subset_index, number])
            audio, components = render_background(rng, spec.mixture_seconds, rate)
            scene = components[1]["source"].replace(" ", "_")
            relative = f"{subset}/{scene}/bg_{number:03d}.wav"
            (root / "source_data" / "bgs" / relative).parent.mkdir(parents=True, exist_ok=True)
            sf.write(root / "source_data" / "bgs" / relative, audio, rate, subtype="PCM_16")
            described["backgrounds"][relative] = components
    return described


def generate(root: Path, spec: RareSpec) -> None:
    """Write the sources and both subsets into a staging folder, then move it into place."""
    with (staged_folder(Path(root)) as staging,  # parts: the isolated sources, then each subset's mixtures
          progress.step(f"generating {Path(root).name}", total=1 + len(SUBSETS), unit="parts") as parts):
        described = write_sources(staging, spec)
        (staging / "source_data" / "sources.yaml").write_text(yaml.safe_dump(described, sort_keys=True),
                                                              encoding="utf-8")
        parts.advance(status="sources")
        for subset in SUBSETS:
            synthesize(staging / "source_data" / "events" / subset, staging / "source_data" / "bgs" / subset,
                       staging / "mixture_data", subset, spec.parameters(subset), subtype="PCM_16")
            parts.advance(status=subset)
        (staging / GENERATED_MARKER).write_text(_spec_id(spec) + "\n")


def event_frame_shares(dataset: _SynthRareBase) -> dict[str, float]:
    """class -> share of its mixtures' time (devtrain and devtest) covered by its event (Table 1's 'positive')."""
    shares = {}
    for label in CLASSES:
        active = total = 0.0
        for subset in SUBSETS:
            for _, events in dataset.read_mixture_list(subset, label):
                active += sum(e.offset - e.onset for e in events)
                total += dataset.spec.mixture_seconds
        shares[label] = active / total
    return shares
