"""Audio loading with errors that name the file."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import soundfile as sf

from .errors import DataError


# libsndfile reports a WAV whose data chunk is shorter than its header says as "data : N (should be M)"
_TRUNCATED = re.compile(r"^data\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)


def audio_info(path: Path) -> tuple[int, int, int]:
    """Return (sample_rate, frames, channels), raising DataError for unusable files."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"audio file {path} does not exist")
    if path.stat().st_size == 0:
        raise DataError(f"audio file {path} is empty (0 bytes)")
    try:
        info = sf.info(str(path))
    except Exception as exc:
        raise DataError(f"audio file {path} is not readable audio ({_short(exc)})") from exc
    if info.frames == 0:
        raise DataError(f"audio file {path} contains no samples")
    declared = _TRUNCATED.search(info.extra_info or "")
    if declared and int(declared.group(1)) > int(declared.group(2)):
        raise DataError(
            f"audio file {path} is truncated: its header declares {declared.group(1)} bytes of audio "
            f"but only {declared.group(2)} are present"
        )
    return info.samplerate, info.frames, info.channels


def load_audio(path: Path, sample_rate: int | None = None) -> tuple[np.ndarray, int]:
    """Load a file as mono float32; resample when ``sample_rate`` differs from the file's."""
    path = Path(path)
    native_rate, frames, _ = audio_info(path)
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:
        raise DataError(f"audio file {path} is corrupt or truncated ({_short(exc)})") from exc
    if data.shape[0] < frames:
        raise DataError(f"audio file {path} is truncated: header says {frames} samples, read {data.shape[0]}")
    if not np.all(np.isfinite(data)):
        raise DataError(f"audio file {path} contains NaN or infinite samples")
    mono = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if sample_rate is not None and sample_rate != rate:
        import librosa

        mono = librosa.resample(mono, orig_sr=rate, target_sr=sample_rate, res_type="soxr_hq")
        rate = sample_rate
    return np.ascontiguousarray(mono, dtype=np.float32), rate


def _short(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
