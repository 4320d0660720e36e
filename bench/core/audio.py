"""Audio loading with errors that name the file.

Anything libsndfile decodes is read: WAV with 8/16/24/32-bit PCM or 32/64-bit float samples (and
A-law / mu-law), FLAC, at any sample rate and channel count. Multichannel audio is mixed down to
the channel mean by default (Cakir et al. 2017 mix their binaural recordings to mono), and resampled
with librosa (soxr_hq) when a system asks for another rate.
"""

from __future__ import annotations

import re
import struct
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
        unsupported = _unsupported_wav_format(path)
        if unsupported:
            raise DataError(f"audio file {path} uses an unsupported sample format ({unsupported}); convert it to "
                            "16/24-bit PCM or 32-bit float WAV, or FLAC") from exc
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


def load_audio(path: Path, sample_rate: int | None = None, mono: bool = True) -> tuple[np.ndarray, int]:
    """Load a file as float32 in [-1, 1]; resample when ``sample_rate`` differs from the file's.

    ``mono``: the mean of the channels, shape (samples,); otherwise shape (channels, samples).
    """
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
    signal = (data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]) if mono else data.T
    if sample_rate is not None and sample_rate != rate:
        import librosa

        signal = librosa.resample(signal, orig_sr=rate, target_sr=sample_rate, res_type="soxr_hq", axis=-1)
        rate = sample_rate
    return np.ascontiguousarray(signal, dtype=np.float32), rate


# WAV format tags libsndfile decodes, with the sample sizes it accepts for them
_DECODABLE = {1: {8, 16, 24, 32}, 3: {32, 64}, 6: {8}, 7: {8}}
_WAV_FORMATS = {1: "PCM", 2: "MS ADPCM", 3: "IEEE float", 6: "A-law", 7: "mu-law", 0x11: "IMA ADPCM",
                0x31: "GSM 6.10", 0x50: "MPEG", 0x55: "MPEG Layer III", 0x161: "WMA", 0xFFFE: "extensible"}


def _unsupported_wav_format(path: Path) -> str | None:
    """For a RIFF/WAVE file libsndfile refused: its sample format, when that is what it cannot decode."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
    except OSError:
        return None
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    position = 12
    while position + 8 <= len(head):
        chunk, size = head[position:position + 4], struct.unpack("<I", head[position + 4:position + 8])[0]
        if chunk == b"fmt " and position + 24 <= len(head):
            tag, _, _, _, _, bits = struct.unpack("<HHIIHH", head[position + 8:position + 24])
            if tag == 0xFFFE and size >= 40 and position + 34 <= len(head):  # the real tag is the sub-format's
                tag = struct.unpack("<H", head[position + 32:position + 34])[0]
            if bits in _DECODABLE.get(tag, set()):
                return None
            name = _WAV_FORMATS.get(tag, "unknown format")
            return f"WAV format tag 0x{tag:04x} ({name}), {bits} bits per sample"
        position += 8 + size + (size & 1)
    return None


def _short(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
