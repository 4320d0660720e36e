"""Rare-event mixtures after DCASE2017 task 2 (TUT Rare Sound Events 2017): isolated events over backgrounds.

`synthesize` takes any folder of isolated events (one sub-folder per class) and any folder of
background recordings, and writes one subset in the on-disk layout of the official
``TUT_Rare_sound_events_mixture_synthesizer`` (A. Diment, TUT 2017; its ``core.py``)::

    <out>/<subset>/<parameter hash>/
        audio/mixture_<subset>_<class>_<nnn>_<recipe hash>.wav
        meta/event_list_<subset>_<class>.csv          <mixture><TAB><onset><TAB><offset><TAB><class>,
                                                      or <mixture> alone when it has no event
        meta/mixture_recipes_<subset>_<class>.yaml    the mixing recipe, with the official keys
        meta/mixture_recipes_<subset>_<class>.csv     the same recipe as a table (sedbench)
        meta/mixing_params.yaml                       the parameters the folder name is the hash of (sedbench)

Parameters and folder name
    `MixingParameters`: mixtures per class, event presence probability, the set of
    event-to-background ratios (EBR, dB), seed, mixture length and sample rate. The folder name is
    computed the way the official synthesizer names its folders: the md5 of the parameters dumped as
    YAML in PyYAML's pre-5.1 default style (sorted keys, lists of scalars in flow style). The official
    keys ``ebrs``, ``event_presence_prob``, ``mixtures_per_class`` and ``seed`` give the official folder
    name (``parameter_hash`` of the DCASE defaults is ``20b255387a2d0cddc0a3dff5014875e7``); sedbench adds
    ``mixture_seconds``, ``sample_rate`` and ``synthesizer: sedbench-<n>``, so its folders never take the
    name of the official mixtures (which it does not reproduce sample for sample). ``meta/mixing_params.yaml``
    holds that mapping: the md5 of its YAML dump is the folder name.

One mixture (reproducible from the seed, subset, class and index)
    * presence: as in the official synthesizer, exactly ``round(mixtures_per_class * event_presence)``
      mixtures of each class hold an event; which ones is a permutation seeded from (seed, subset, class).
      Everything else is drawn from a generator seeded from (seed, subset, class, index):
    * a background file (uniformly) and an excerpt of ``mixture_seconds`` from it (uniform start);
    * an event file of the class (uniformly), an EBR from the set (uniformly) and an onset such that the
      whole event fits in the mixture (uniform over the possible sample offsets);
    * the event is scaled so that the EBR over the event's span is the drawn one:
      ``EBR = 20 log10(rms(scaled event) / rms(background excerpt over the event's samples))``, the
      official convention (``get_event_amplitude_scaling_factor``: RMS of the event segment against the
      RMS of the "eventful part" of the background);
    * mixture = ``0.2 * (background excerpt + scaled event)``, the official ``magic_anticlipping_factor``;
      when that still reaches 0.99 the whole mixture is scaled down further (never clipped, and the EBR
      is unchanged). The recipe records the gain (``mixture_gain``).

The event and its annotation
    An event file is the class's isolated sound; its leading and trailing near-silence is cut off first:
    librosa.effects.trim with 40 ms frames (centred), 10 ms hop and a threshold 40 dB below the loudest
    frame's RMS (``TRIM_*``), so the kept span may start / end up to half a frame (20 ms) into the
    silence. A file that is all zeros is an error. What remains is inserted whole, and its span is the annotation: onset = insertion
    time, offset = onset + its length (the official annotation is the inserted segment's span too, there
    from hand-annotated ``valid_segments``). The recipe keeps that segment in the file
    (``segment_start_seconds`` / ``segment_end_seconds``).

Sources at another sample rate are resampled on loading (`sedbench.core.audio.load_audio`; multichannel
files are mixed down to mono); the recipe then says so (``bg_resampled_from`` / ``event_resampled_from``:
the file's rate). The subset is written into a staging folder and renamed into place, so a failure never
leaves a half-written output. `read_mixture_list` reads the layout back (the `tut-rare2017` and
`synth-rare` datasets use it); `update_manifest` lists the subsets synthesized into ``<out>`` (the latest
run of each) as a CSV manifest that ``sedbench run --dataset <out>/mixtures.csv`` reads (`sedbench.datatools.folder`,
with a ``target_class`` column, so the run is scored as rare events).
"""

from __future__ import annotations

import csv
import hashlib
import math
import os
import re
import shutil
import zlib
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import soundfile as sf
import yaml

from sedbench.core.audio import audio_info, load_audio
from sedbench.core.data import Event
from sedbench.core.errors import ConfigError, DataError

from .annotations import parse_annotation_line

AUDIO_SUFFIXES = (".wav", ".flac")
SYNTHESIZER = "sedbench-1"  # in the parameter hash; bump when the same parameters give different mixtures
ANTICLIPPING_FACTOR = 0.2  # the official synthesizer's magic_anticlipping_factor
PEAK_LIMIT = 0.99  # a mixture whose peak would reach this is scaled down as a whole
TRIM_TOP_DB = 40.0  # event frames quieter than this below the loudest frame are near-silence
TRIM_FRAME_SECONDS = 0.04
TRIM_HOP_SECONDS = 0.01
SUBTYPES = ("PCM_16", "PCM_24", "PCM_32", "FLOAT")
MANIFEST = "mixtures.csv"
MANIFEST_COLUMNS = ("filename", "onset", "offset", "event_label", "split", "target_class")
RECIPE_COLUMNS = (
    "mixture_audio_filename", "event_present", "event_class", "event_path", "event_start_in_mixture_seconds",
    "event_length_seconds", "segment_start_seconds", "segment_end_seconds", "ebr", "scaling_factor",
    "event_resampled_from", "bg_path", "bg_classname", "bg_start_seconds", "bg_resampled_from", "mixture_gain",
    "sample_rate", "annotation_string",
)
_SUBSET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


# --------------------------------------------------------------------------- parameters


@dataclass(frozen=True)
class MixingParameters:
    """What a subset of mixtures is made with; `hash` names its folder. Defaults: the DCASE2017 task 2 ones."""

    mixtures_per_class: int = 500
    event_presence: float = 0.5
    ebr_db: tuple[float, ...] = (-6.0, 0.0, 6.0)
    seed: int = 42
    mixture_seconds: float = 30.0
    sample_rate: int = 44100

    def __post_init__(self) -> None:
        object.__setattr__(self, "ebr_db", tuple(float(value) for value in self.ebr_db))
        if int(self.mixtures_per_class) != self.mixtures_per_class or self.mixtures_per_class < 1:
            raise ConfigError(f"mixtures per class must be a whole number >= 1, got {self.mixtures_per_class}")
        if not 0.0 <= self.event_presence <= 1.0:
            raise ConfigError(f"the event presence probability must be between 0 and 1, got {self.event_presence}")
        if not self.ebr_db or not all(math.isfinite(value) for value in self.ebr_db):
            raise ConfigError(f"the event-to-background ratios must be one or more finite numbers of dB, "
                              f"got {list(self.ebr_db)}")
        if int(self.seed) != self.seed or self.seed < 0:
            raise ConfigError(f"the seed must be a whole number >= 0, got {self.seed}")
        if not (math.isfinite(self.mixture_seconds) and self.mixture_seconds > 0):
            raise ConfigError(f"the mixture length must be a positive number of seconds, got {self.mixture_seconds}")
        if int(self.sample_rate) != self.sample_rate or self.sample_rate < 1000:
            raise ConfigError(f"the sample rate must be a whole number of Hz >= 1000, got {self.sample_rate}")

    @property
    def mixture_samples(self) -> int:
        return int(round(self.mixture_seconds * self.sample_rate))

    @property
    def events_per_class(self) -> int:
        return int(round(self.mixtures_per_class * self.event_presence))  # as the official synthesizer rounds

    def as_mapping(self) -> dict:
        """The YAML mapping the folder name is the hash of (the official keys plus sedbench's)."""
        return {"ebrs": [_plain(value) for value in self.ebr_db], "event_presence_prob": _plain(self.event_presence),
                "mixtures_per_class": int(self.mixtures_per_class), "seed": int(self.seed),
                "mixture_seconds": _plain(self.mixture_seconds), "sample_rate": int(self.sample_rate),
                "synthesizer": SYNTHESIZER}

    @property
    def hash(self) -> str:
        return parameter_hash(self.as_mapping())


def parameter_hash(mapping: dict) -> str:
    """md5 of the mapping's YAML dump as the official synthesizer computed it (PyYAML < 5.1 default style)."""
    return hashlib.md5(yaml.safe_dump(mapping, default_flow_style=None).encode("utf-8")).hexdigest()


def _plain(value: float) -> int | float:
    """-6.0 -> -6, so that the YAML (and the hash) read as the official parameter files do."""
    return int(value) if float(value).is_integer() else float(value)


def parse_ebrs(text: str) -> tuple[float, ...]:
    """``"-6,0,6"`` -> (-6.0, 0.0, 6.0)."""
    try:
        values = tuple(float(part) for part in text.replace(" ", "").split(",") if part)
    except ValueError:
        raise ConfigError(f"--ebr expects comma-separated numbers of dB, e.g. -6,0,6; got {text!r}") from None
    if not values:
        raise ConfigError(f"--ebr expects comma-separated numbers of dB, e.g. -6,0,6; got {text!r}")
    return values


# --------------------------------------------------------------------------- layout


def mixture_folder(out: Path, subset: str, parameters: MixingParameters) -> Path:
    return Path(out) / subset / parameters.hash


def event_list_path(folder: Path, subset: str, label: str) -> Path:
    return Path(folder) / "meta" / f"event_list_{subset}_{label}.csv"


def recipe_path(folder: Path, subset: str, label: str, suffix: str = ".yaml") -> Path:
    return Path(folder) / "meta" / f"mixture_recipes_{subset}_{label}{suffix}"


def read_mixture_list(folder: Path, subset: str, label: str, hint: str = "") -> list[tuple[Path, list[Event]]]:
    """(mixture audio, its events) in file order, from ``<folder>/meta/event_list_<subset>_<label>.csv``.

    ``folder`` is one parameter folder (``<out>/<subset>/<hash>``); ``hint`` says how to make missing
    files and ends the errors about them. Every event must be of class ``label``.
    """
    path = event_list_path(folder, subset, label)
    tail = f"; {hint}" if hint else ""
    if not path.is_file():
        raise DataError(f"the {subset} mixtures of {label!r} are not there ({path} does not exist){tail}")
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
                raise DataError(f"{path}, line {number}: expected 'mixture onset offset label', got {line.strip()!r}")
            if event.label != label:
                raise DataError(f"{path}, line {number}: event label {event.label!r} in the event list of "
                                f"class {label!r}")
            mixtures.setdefault(filename, []).append(event)
    audio_dir = Path(folder) / "audio"
    result = []
    for filename, events in mixtures.items():
        audio = audio_dir / filename
        if not audio.is_file():
            raise DataError(f"{path} lists {filename!r}, but {audio} does not exist{tail}")
        result.append((audio, events))
    return result


def read_recipes(folder: Path, subset: str, label: str) -> list[dict]:
    """The mixing recipe of one class: one mapping per mixture, in file order."""
    path = recipe_path(folder, subset, label)
    if not path.is_file():
        raise DataError(f"mixing recipe {path} does not exist")
    with open(path, encoding="utf-8") as handle:
        recipes = yaml.safe_load(handle)
    if not isinstance(recipes, list):
        raise DataError(f"mixing recipe {path} is not a YAML list of mixtures")
    return recipes


def mixture_classes(folder: Path, subset: str) -> list[str]:
    """The classes that have an event list in one parameter folder, sorted."""
    prefix = f"event_list_{subset}_"
    return sorted(p.name[len(prefix):-len(".csv")] for p in (Path(folder) / "meta").glob(f"{prefix}*.csv"))


# --------------------------------------------------------------------------- sources


def find_event_files(events_dir: Path) -> dict[str, list[Path]]:
    """class -> its isolated event files (``<events_dir>/<class>/*.wav|flac``), classes and files sorted."""
    events_dir = Path(events_dir)
    if not events_dir.is_dir():
        raise DataError(f"events folder {events_dir} does not exist")
    classes = sorted(p for p in events_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DataError(f"events folder {events_dir} has no class sub-folders; put each class's isolated events "
                        f"in {events_dir}/<class>/")
    found = {}
    for folder in classes:
        files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES
                       and not p.name.startswith("."))
        if not files:
            raise DataError(f"class folder {folder} contains no .wav or .flac files")
        found[folder.name] = files
    return found


def find_background_files(backgrounds_dir: Path) -> list[Path]:
    """Background recordings: ``<backgrounds_dir>/**/*.wav|flac``, sorted."""
    backgrounds_dir = Path(backgrounds_dir)
    if not backgrounds_dir.is_dir():
        raise DataError(f"backgrounds folder {backgrounds_dir} does not exist")
    files = sorted(p for p in backgrounds_dir.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES
                   and not any(part.startswith(".") for part in p.relative_to(backgrounds_dir).parts))
    if not files:
        raise DataError(f"backgrounds folder {backgrounds_dir} contains no .wav or .flac files (in any sub-folder)")
    return files


@dataclass
class EventSource:
    """One isolated event, loaded at the mixing rate and trimmed of its leading/trailing near-silence."""

    relative: str  # <class>/<file>, as the recipe names it
    audio: np.ndarray  # the trimmed event (float64)
    segment: tuple[int, int]  # its samples in the (resampled) file
    native_rate: int


@dataclass
class BackgroundSource:
    path: Path
    relative: str  # relative to the backgrounds folder
    native_rate: int


def load_event(path: Path, relative: str, parameters: MixingParameters) -> EventSource:
    import librosa

    rate = parameters.sample_rate
    native_rate, _, _ = audio_info(path)
    audio, _ = load_audio(path, rate)
    if not np.any(audio):
        raise DataError(f"event file {path} is silent (all its samples are zero)")
    _, (start, end) = librosa.effects.trim(audio, top_db=TRIM_TOP_DB, frame_length=_samples(TRIM_FRAME_SECONDS, rate),
                                           hop_length=_samples(TRIM_HOP_SECONDS, rate))
    length = end - start
    if length > parameters.mixture_samples:
        raise DataError(f"event file {path} is {length / rate:.3f} s long after trimming its silence, longer than "
                        f"the {parameters.mixture_seconds:g} s mixtures")
    return EventSource(relative, audio[start:end].astype(np.float64), (int(start), int(end)), native_rate)


def check_background(path: Path, backgrounds_dir: Path, parameters: MixingParameters) -> BackgroundSource:
    native_rate, frames, _ = audio_info(path)
    if frames * parameters.sample_rate < parameters.mixture_samples * native_rate:
        raise DataError(f"background {path} is {frames / native_rate:.3f} s long, shorter than the "
                        f"{parameters.mixture_seconds:g} s mixtures")
    return BackgroundSource(path, path.relative_to(backgrounds_dir).as_posix(), native_rate)


def _samples(seconds: float, rate: int) -> int:
    return max(1, int(round(seconds * rate)))


class _BackgroundCache:
    """Backgrounds at the mixing rate, the most recently used few kept in memory."""

    def __init__(self, rate: int, size: int = 16):
        self.rate, self.size = rate, size
        self.loaded: OrderedDict[Path, np.ndarray] = OrderedDict()

    def get(self, source: BackgroundSource) -> np.ndarray:
        if source.path in self.loaded:
            self.loaded.move_to_end(source.path)
            return self.loaded[source.path]
        audio, _ = load_audio(source.path, self.rate)
        self.loaded[source.path] = audio
        while len(self.loaded) > self.size:
            self.loaded.popitem(last=False)
        return audio


# --------------------------------------------------------------------------- synthesis


@dataclass
class SynthesisResult:
    folder: Path  # <out>/<subset>/<parameter hash>
    subset: str
    parameters: MixingParameters
    mixtures: dict[str, int]  # class -> mixtures
    events: dict[str, int]  # class -> mixtures holding an event
    resampled: list[str] = field(default_factory=list)  # source files read at another rate than the mixtures'


def synthesize(events_dir: Path, backgrounds_dir: Path, out: Path, subset: str = "devtrain",
               parameters: MixingParameters | None = None, subtype: str = "PCM_24",
               log: Callable[[str], None] | None = None) -> SynthesisResult:
    """Write ``<out>/<subset>/<parameters.hash>/`` (see the module docstring); replaces an existing one.

    Every source file is read and checked before anything is written (a background that is silent where an
    event goes is found while mixing); the folder appears only when complete, and a failure removes what
    this call wrote.
    ``subtype``: the mixtures' sample format (soundfile subtype; the official mixtures are 24-bit PCM).
    """
    parameters = parameters or MixingParameters()
    if not _SUBSET_NAME.match(subset):
        raise ConfigError(f"subset name {subset!r} must be letters, digits, '_' and '-' (e.g. devtrain, devtest)")
    if subtype not in SUBTYPES:
        raise ConfigError(f"sample format {subtype!r} is not one of {', '.join(SUBTYPES)}")
    events_dir, backgrounds_dir, out = Path(events_dir), Path(backgrounds_dir), Path(out)
    event_files = find_event_files(events_dir)
    background_files = find_background_files(backgrounds_dir)
    events = {label: [load_event(path, path.relative_to(events_dir).as_posix(), parameters) for path in files]
              for label, files in event_files.items()}
    backgrounds = [check_background(path, backgrounds_dir, parameters) for path in background_files]
    resampled = sorted({f"events/{e.relative}" for group in events.values() for e in group
                        if e.native_rate != parameters.sample_rate}
                       | {f"backgrounds/{b.relative}" for b in backgrounds if b.native_rate != parameters.sample_rate})

    target = mixture_folder(out, subset, parameters)
    created = [p for p in (out, target.parent) if not p.exists()]
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        (staging / "audio").mkdir(parents=True)
        (staging / "meta").mkdir()
        cache = _BackgroundCache(parameters.sample_rate)
        counts, present = {}, {}
        for label, sources in events.items():
            if log:
                log(f"{subset} {label}: {parameters.mixtures_per_class} mixtures")
            recipes = _synthesize_class(staging, subset, label, sources, backgrounds, cache, parameters, subtype)
            counts[label] = len(recipes)
            present[label] = sum(r["event_present"] for r in recipes)
        (staging / "meta" / "mixing_params.yaml").write_text(
            yaml.safe_dump(parameters.as_mapping(), default_flow_style=None), encoding="utf-8")
        _move_into_place(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        for folder in reversed(created):  # folders this call made, if nothing else is in them
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        raise
    return SynthesisResult(target, subset, parameters, counts, present, resampled)


def _move_into_place(staging: Path, target: Path) -> None:
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(target, old)
        os.replace(staging, target)
        shutil.rmtree(old)
    else:
        os.replace(staging, target)


def presence_flags(parameters: MixingParameters, subset: str, label: str) -> np.ndarray:
    """Which mixtures of a class hold an event: exactly ``events_per_class`` of them, seeded per (subset, class)."""
    count = parameters.events_per_class
    order = np.random.default_rng([parameters.seed, _key(subset), _key(label)]).permutation(parameters.mixtures_per_class)
    flags = np.zeros(parameters.mixtures_per_class, dtype=bool)
    flags[order[:count]] = True
    return flags


def _key(text: str) -> int:
    return zlib.crc32(text.encode("utf-8"))


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def _synthesize_class(staging: Path, subset: str, label: str, events: list[EventSource],
                      backgrounds: list[BackgroundSource], cache: _BackgroundCache, parameters: MixingParameters,
                      subtype: str) -> list[dict]:
    rate, n = parameters.sample_rate, parameters.mixture_samples
    recipes = []
    for index, present in enumerate(presence_flags(parameters, subset, label)):
        rng = np.random.default_rng([parameters.seed, _key(subset), _key(label), index])
        # every draw is made for every mixture, so one mixture's choices never shift another's
        background = backgrounds[int(rng.integers(len(backgrounds)))]
        excerpt_draw = float(rng.random())
        event = events[int(rng.integers(len(events)))]
        ebr = parameters.ebr_db[int(rng.integers(len(parameters.ebr_db)))]
        onset_draw = float(rng.random())

        audio = cache.get(background)
        if audio.shape[0] < n:  # resampling rounded a background of exactly the mixture length down
            raise DataError(f"background {background.path} is {audio.shape[0] / rate:.3f} s long at {rate} Hz, "
                            f"shorter than the {parameters.mixture_seconds:g} s mixtures")
        bg_start = int(excerpt_draw * (audio.shape[0] - n + 1))
        mixture = audio[bg_start:bg_start + n].astype(np.float64)
        recipe = {"bg_path": background.relative, "bg_classname": _first_folder(background.relative),
                  "bg_start_seconds": bg_start / rate, "event_present": bool(present), "sample_rate": rate}
        if background.native_rate != rate:
            recipe["bg_resampled_from"] = background.native_rate
        if present:
            length = event.audio.shape[0]
            onset = int(onset_draw * (n - length + 1))
            background_rms = _rms(mixture[onset:onset + length])
            if background_rms == 0:
                raise DataError(f"background {background.path} is silent from {(bg_start + onset) / rate:.3f} to "
                                f"{(bg_start + onset + length) / rate:.3f} s, where an event of {label!r} goes, so "
                                f"the event-to-background ratio is undefined")
            scaling = 10 ** (ebr / 20) * background_rms / _rms(event.audio)
            mixture[onset:onset + length] += scaling * event.audio
            recipe.update({
                "event_path": event.relative, "event_class": label, "event_start_in_mixture_seconds": onset / rate,
                "event_length_seconds": length / rate, "segment_start_seconds": event.segment[0] / rate,
                "segment_end_seconds": event.segment[1] / rate, "scaling_factor": float(scaling),
                "ebr": float(ebr)})
            if event.native_rate != rate:
                recipe["event_resampled_from"] = event.native_rate
        else:
            recipe["ebr"] = -math.inf  # as the official recipes mark "no event"
        peak = float(np.max(np.abs(mixture)))
        gain = ANTICLIPPING_FACTOR if peak * ANTICLIPPING_FACTOR < PEAK_LIMIT else PEAK_LIMIT / peak
        recipe["mixture_gain"] = float(gain)
        digest = hashlib.md5(yaml.safe_dump(recipe, default_flow_style=False).encode("utf-8")).hexdigest()
        name = f"mixture_{subset}_{label}_{index:03d}_{digest}.wav"
        recipe["mixture_audio_filename"] = name
        if present:
            offset = (onset + length) / rate
            recipe["annotation_string"] = f"{name}\t{onset / rate!r}\t{offset!r}\t{label}"
        else:
            recipe["annotation_string"] = name
        sf.write(staging / "audio" / name, (gain * mixture).astype(np.float32), rate, subtype=subtype)
        recipes.append(recipe)
    event_list_path(staging, subset, label).write_text("".join(r["annotation_string"] + "\n" for r in recipes),
                                                       encoding="utf-8")
    recipe_path(staging, subset, label).write_text(yaml.safe_dump(recipes, default_flow_style=False, width=4096),
                                                   encoding="utf-8")
    with open(recipe_path(staging, subset, label, ".csv"), "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=RECIPE_COLUMNS)
        writer.writeheader()
        writer.writerows({key: _csv_value(r.get(key)) for key in RECIPE_COLUMNS} for r in recipes)
    return recipes


def _first_folder(relative: str) -> str:
    """The background's class as the official recipes give it: here its first sub-folder, or ''."""
    parts = relative.split("/")
    return parts[0] if len(parts) > 1 else ""


def _csv_value(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


# --------------------------------------------------------------------------- a manifest for `sedbench run`

_TEST_SUBSETS = {"test", "evaluate", "eval", "evaluation"}
_VALIDATION_SUBSETS = {"validate", "valid", "validation", "val"}


def subset_split(subset: str) -> str:
    """train / validate / test for a subset name: (dev)test, (dev)evaluate, eval -> test; (dev)validate,
    valid, validation, val -> validate; any other (devtrain, train, ...) -> train."""
    name = subset.lower()
    name = name[3:] if name.startswith("dev") and len(name) > 3 else name
    if name in _TEST_SUBSETS:
        return "test"
    return "validate" if name in _VALIDATION_SUBSETS else "train"


def update_manifest(out: Path, result: SynthesisResult) -> Path:
    """Write ``<out>/mixtures.csv`` with ``result``'s subset replacing any earlier rows of that subset.

    A `sedbench.datatools.folder` CSV manifest: ``filename,onset,offset,event_label,split,target_class``, one row per
    event (a filename alone for a mixture without one), paths relative to ``<out>``, the split from the
    subset's name (`subset_split`; a split without validation rows holds 20 % of training out), and
    every mixture's ``target_class``, which makes ``sedbench run --dataset <out>/mixtures.csv`` a
    rare-event run (scored with ER_rare / F1_rare as DCASE2017 task 2).
    """
    out = Path(out)
    manifest = out / MANIFEST
    rows: list[dict[str, str]] = []
    if manifest.is_file():
        with open(manifest, encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            if tuple(reader.fieldnames or ()) != MANIFEST_COLUMNS:
                raise DataError(f"{manifest} is not a mixture manifest written by sedbench (expected the columns "
                                f"{', '.join(MANIFEST_COLUMNS)}); move it away and synthesize again")
            rows = [row for row in reader if not row["filename"].startswith(f"{result.subset}/")]
    split = subset_split(result.subset)
    for label in result.mixtures:
        for audio, events in read_mixture_list(result.folder, result.subset, label):
            filename = audio.relative_to(out).as_posix()
            if not events:
                rows.append({"filename": filename, "onset": "", "offset": "", "event_label": "", "split": split,
                             "target_class": label})
            for event in events:
                rows.append({"filename": filename, "onset": repr(event.onset), "offset": repr(event.offset),
                             "event_label": event.label, "split": split, "target_class": label})
    order = {"train": 0, "validate": 1, "test": 2}
    rows.sort(key=lambda row: (order.get(row["split"], 3), row["filename"]))
    staging = manifest.with_name(f".{manifest.name}.{os.getpid()}.tmp")
    with open(staging, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    os.replace(staging, manifest)
    return manifest


def manifest_splits(manifest: Path) -> set[str]:
    """The splits (train / validate / test) a mixture manifest has rows for."""
    with open(manifest, encoding="utf-8", newline="") as handle:
        return {row["split"] for row in csv.DictReader(handle)}
