"""Log mel band energies with an on-disk cache keyed by audio content and settings."""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator, Protocol

import numpy as np

from .audio import load_audio
from .data import AudioClip, Event
from .dataset import content_hash
from .errors import DataError, write_problem
from .locks import wait_lock

FEATURE_CODE_VERSION = 2  # bump when extraction changes, so stale caches are not reused


class FeatureSpec(Protocol):
    """What ``System.features`` returns: a frozen dataclass of settings that can extract (frames, dims) float32
    features from mono audio at ``sample_rate``; ``key()`` names its cache folder and changes with every setting."""

    sample_rate: int

    @property
    def frame_hop(self) -> float:
        """Seconds between frames: frame i stands for [i * hop, (i + 1) * hop)."""

    def key(self) -> str: ...

    def extract(self, audio: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class LogMelSpec:
    """Cakir et al. 2017, Sec. III-D: 40 ms Hamming frames, 50 % overlap, 40 mel bands 0 Hz-Nyquist."""

    sample_rate: int = 44100
    n_mels: int = 40
    frame_seconds: float = 0.04
    hop_seconds: float = 0.02
    fmin: float = 0.0
    fmax: float | None = None  # None: Nyquist
    window: str = "hamming"
    log_floor: float = 1e-10  # added before the log so silent frames stay finite

    @property
    def win_length(self) -> int:
        return int(round(self.frame_seconds * self.sample_rate))

    @property
    def hop_length(self) -> int:
        return int(round(self.hop_seconds * self.sample_rate))

    @property
    def n_fft(self) -> int:
        return 1 << (self.win_length - 1).bit_length()

    @property
    def frame_hop(self) -> float:
        """The exact hop in seconds (hop_length samples)."""
        return self.hop_length / self.sample_rate

    def key(self) -> str:
        payload = json.dumps({"code": FEATURE_CODE_VERSION, "kind": type(self).__name__, **asdict(self)}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def n_frames(self, duration: float) -> int:
        """Frames covering ``duration``: frame i stands for [i*hop, (i+1)*hop), as sed_eval's segments."""
        return max(1, int(math.ceil(round(duration / self.frame_hop, 9))))

    def extract(self, audio: np.ndarray) -> np.ndarray:
        return extract_log_mel(audio, self)


@dataclass(frozen=True)
class MfccSpec(LogMelSpec):
    """MFCCs of the DCASE2016 baseline (Cakir et al. 2017, Sec. III-C): 20 static coefficients from 40 mel
    bands, delta and acceleration over 9 frames, the 0th static coefficient dropped -> 59 dimensions."""

    n_mfcc: int = 20
    delta_width: int = 9
    drop_zeroth: bool = True

    def extract(self, audio: np.ndarray) -> np.ndarray:
        import librosa

        mel = mel_power(audio, self)
        mfcc = librosa.feature.mfcc(S=librosa.power_to_db(mel), n_mfcc=self.n_mfcc)
        delta = librosa.feature.delta(mfcc, width=self.delta_width, order=1)
        acceleration = librosa.feature.delta(mfcc, width=self.delta_width, order=2)
        stacked = np.concatenate([mfcc[1:] if self.drop_zeroth else mfcc, delta, acceleration])
        n = self.n_frames(audio.shape[0] / self.sample_rate)
        return stacked[:, :n].T.astype(np.float32)


def mel_power(audio: np.ndarray, spec: LogMelSpec) -> np.ndarray:
    """(n_mels, frames) mel power spectrogram, frame i centred at i * hop."""
    import librosa

    return librosa.feature.melspectrogram(
        y=audio,
        sr=spec.sample_rate,
        n_fft=spec.n_fft,
        win_length=spec.win_length,
        hop_length=spec.hop_length,
        window=spec.window,
        center=True,
        power=2.0,
        n_mels=spec.n_mels,
        fmin=spec.fmin,
        fmax=spec.fmax if spec.fmax is not None else spec.sample_rate / 2,
    )


def extract_log_mel(audio: np.ndarray, spec: LogMelSpec) -> np.ndarray:
    """(frames, n_mels) float32 log mel energies, frame i centred at i * hop."""
    mel = mel_power(audio, spec)
    n = spec.n_frames(audio.shape[0] / spec.sample_rate)
    return np.log(mel[:, :n].T + spec.log_floor).astype(np.float32)


class FeatureCache:
    """``<cache_dir>/features/<spec key>/<audio sha256>.npy``; loads are memory-mapped."""

    def __init__(self, cache_dir: Path):
        self.cache_dir = Path(cache_dir)
        self.hits = 0
        self.misses = 0

    def path_for(self, clip: AudioClip, spec: FeatureSpec, pitch_shift: float = 0.0) -> Path:
        suffix = f"-pitch{pitch_shift:+g}q" if pitch_shift else ""
        return self.cache_dir / "features" / spec.key() / f"{content_hash(clip.path)}{suffix}.npy"

    @contextmanager
    def extracting(self, clips: list[AudioClip], spec: FeatureSpec) -> Iterator[None]:
        """Around extracting ``clips``: when some are not cached yet, one process at a time per feature setting, so a
        second process that needs the same features waits for the first, then loads them."""
        if all(self.path_for(clip, spec).exists() for clip in clips):
            yield
            return
        folder = self.cache_dir / "features" / spec.key()

        def waiting(holder: str) -> None:
            print(f"waiting for process {holder}, which is extracting features into {folder}", file=sys.stderr,
                  flush=True)

        with wait_lock(folder / ".lock", on_wait=waiting):
            yield

    def get(self, clip: AudioClip, spec: FeatureSpec, pitch_shift: float = 0.0) -> np.ndarray:
        """Features of a clip; ``pitch_shift`` in quartertones (24 bins per octave) shifts the audio first."""
        path = self.path_for(clip, spec, pitch_shift)
        if path.exists():
            self.hits += 1
            return _load_cached(path, clip)
        self.misses += 1
        audio, _ = load_audio(clip.path, spec.sample_rate)
        if pitch_shift:
            import librosa

            audio = librosa.effects.pitch_shift(audio, sr=spec.sample_rate, n_steps=pitch_shift, bins_per_octave=24)
        features = spec.extract(audio)
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npy")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            np.save(tmp, features)
            os.replace(tmp, path)
        except OSError as exc:  # a full disk is the cache's problem, not the system's
            tmp.unlink(missing_ok=True)
            raise DataError(f"cannot write the feature cache file {path}: {write_problem(exc)}; free space "
                            "or choose another --cache-dir ($SEDBENCH_CACHE), then run again") from None
        return features


def _load_cached(path: Path, clip: AudioClip) -> np.ndarray:
    """A cache entry, checked: entries are written atomically, so a bad one was damaged on disk afterwards."""
    try:
        features = np.load(path, mmap_mode="r")
    except (OSError, ValueError, EOFError) as exc:
        problem = f"cannot be read ({str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__})"
    else:
        if features.ndim != 2 or not np.issubdtype(features.dtype, np.floating):
            problem = f"are not a (frames, features) float matrix (shape {features.shape}, dtype {features.dtype})"
        elif not np.all(np.isfinite(features)):
            problem = "contain NaN or infinite values"
        else:
            return features
    raise DataError(f"cached features {path} of audio file {clip.path} {problem}; delete the file so that they are "
                    "extracted again")


@dataclass
class Standardizer:
    """Per-band mean / std from the training set (Cakir et al. 2017, Sec. III-D)."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, matrices: list[np.ndarray]) -> "Standardizer":
        total = sum(m.shape[0] for m in matrices)
        mean = sum(np.asarray(m, dtype=np.float64).sum(axis=0) for m in matrices) / total
        var = sum(((np.asarray(m, dtype=np.float64) - mean) ** 2).sum(axis=0) for m in matrices) / total
        return cls(mean.astype(np.float32), np.sqrt(var).clip(1e-8).astype(np.float32))

    def __call__(self, matrix: np.ndarray) -> np.ndarray:
        return ((matrix - self.mean) / self.std).astype(np.float32)


def event_roll(events: list[Event], labels: list[str] | tuple[str, ...], hop: float, n_frames: int) -> np.ndarray:
    """Binary (frames, classes) activity with sed_eval's rounding: floor(onset/hop) .. ceil(offset/hop)."""
    roll = np.zeros((n_frames, len(labels)), dtype=np.float32)
    index = {label: i for i, label in enumerate(labels)}
    for event in events:
        start = int(math.floor(event.onset * 1 / float(hop)))
        stop = int(math.ceil(event.offset * 1 / float(hop)))
        roll[start:stop, index[event.label]] = 1
    return roll
