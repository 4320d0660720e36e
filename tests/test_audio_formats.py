"""Audio formats: sample formats, channel counts and rates load as the written signal; bad files name themselves."""

import struct

import numpy as np
import pytest
import soundfile as sf

from sedbench.core.audio import audio_info, load_audio
from sedbench.core.errors import DataError

RATE = 22050


def tone(frequency=440.0, seconds=0.5, rate=RATE, amplitude=0.5):
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def peak_frequency(signal, rate):
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(len(signal))))
    return np.argmax(spectrum) * rate / len(signal)


@pytest.mark.parametrize(
    "suffix, container, subtype, tolerance",
    [
        (".wav", "WAV", "PCM_16", 2.0 ** -15),
        (".wav", "WAV", "PCM_24", 2.0 ** -23),
        (".wav", "WAV", "FLOAT", 0.0),
        (".flac", "FLAC", "PCM_16", 2.0 ** -15),
        (".flac", "FLAC", "PCM_24", 2.0 ** -23),
    ],
)
def test_sample_formats_load_as_written(tmp_path, suffix, container, subtype, tolerance):
    written = tone()
    path = tmp_path / f"tone_{subtype}{suffix}"
    sf.write(path, written, RATE, format=container, subtype=subtype)
    assert audio_info(path) == (RATE, len(written), 1)
    loaded, rate = load_audio(path)
    assert rate == RATE and loaded.dtype == np.float32 and loaded.shape == written.shape
    assert np.max(np.abs(loaded - written)) <= tolerance


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24", "FLOAT"])
def test_multichannel_is_mixed_down_to_the_channel_mean(tmp_path, subtype):
    channels = np.stack([tone(440), tone(660, amplitude=0.25), np.full(len(tone()), 0.1, np.float32)], axis=1)
    path = tmp_path / "three.wav"
    sf.write(path, channels, RATE, subtype=subtype)
    loaded, _ = load_audio(path)
    as_stored, _ = sf.read(path, dtype="float32")
    assert loaded.shape == (len(channels),)
    np.testing.assert_allclose(loaded, as_stored.mean(axis=1), atol=1e-7)
    np.testing.assert_allclose(loaded, channels.mean(axis=1), atol=2.0 ** -15)


def test_channels_kept_when_asked(tmp_path):
    stereo = np.stack([tone(440), tone(880)], axis=1)
    sf.write(tmp_path / "stereo.flac", stereo, RATE, subtype="PCM_24")
    loaded, _ = load_audio(tmp_path / "stereo.flac", mono=False)
    assert loaded.shape == (2, len(stereo))
    np.testing.assert_allclose(loaded, stereo.T, atol=2.0 ** -23)
    resampled, rate = load_audio(tmp_path / "stereo.flac", 44100, mono=False)
    assert rate == 44100 and resampled.shape[0] == 2 and abs(resampled.shape[1] - 2 * len(stereo)) <= 1


@pytest.mark.parametrize("native", [8000, 11025, 16000, 32000, 44100, 48000, 96000])
def test_any_rate_is_resampled_to_the_requested_one(tmp_path, native):
    seconds, frequency = 0.5, 1000.0
    path = tmp_path / f"tone_{native}.wav"
    sf.write(path, tone(frequency, seconds, native), native, subtype="PCM_16")
    untouched, rate = load_audio(path)
    assert rate == native and len(untouched) == int(seconds * native)
    loaded, rate = load_audio(path, 44100)
    assert rate == 44100
    assert abs(len(loaded) - len(untouched) * 44100 / native) <= 1
    assert peak_frequency(loaded, 44100) == pytest.approx(frequency, abs=44100 / len(loaded))
    # the amplitude of the tone survives (away from the resampler's edges)
    middle = loaded[len(loaded) // 4: 3 * len(loaded) // 4]
    assert np.max(np.abs(middle)) == pytest.approx(0.5, abs=0.02)


def _wav_bytes(tag: int, bits: int, payload: bytes = b"\x00" * 400, extensible: bool = False) -> bytes:
    block = max(1, bits // 8)
    fmt = struct.pack("<HHIIHH", 0xFFFE if extensible else tag, 1, 8000, 8000 * block, block, bits)
    if extensible:  # cbSize, valid bits, channel mask, then the sub-format GUID whose first two bytes are the tag
        fmt += struct.pack("<HHI", 22, bits, 4) + struct.pack("<H", tag) + bytes(14)
    else:
        fmt += b"\x00\x00"
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(payload)) + payload
    return b"RIFF" + struct.pack("<I", len(body)) + body


@pytest.mark.parametrize(
    "tag, bits, extensible, described",
    [
        (0x0055, 0, False, "WAV format tag 0x0055 (MPEG Layer III), 0 bits per sample"),
        (0x0161, 16, False, "WAV format tag 0x0161 (WMA), 16 bits per sample"),
        (0x0003, 16, False, "WAV format tag 0x0003 (IEEE float), 16 bits per sample"),
        (0x0001, 64, False, "WAV format tag 0x0001 (PCM), 64 bits per sample"),
        (0x1234, 16, True, "WAV format tag 0x1234 (unknown format), 16 bits per sample"),
    ],
)
def test_unsupported_sample_format_is_named(tmp_path, tag, bits, extensible, described):
    path = tmp_path / "odd.wav"
    path.write_bytes(_wav_bytes(tag, bits, extensible=extensible))
    with pytest.raises(DataError) as info:
        load_audio(path)
    assert str(info.value) == (f"audio file {path} uses an unsupported sample format ({described}); convert it to "
                               "16/24-bit PCM or 32-bit float WAV, or FLAC")


def test_a_handwritten_pcm_header_is_read(tmp_path):
    samples = np.array([0, 1000, -1000, 32767], dtype="<i2")
    path = tmp_path / "plain.wav"
    path.write_bytes(_wav_bytes(1, 16, samples.tobytes()))
    loaded, rate = load_audio(path)
    assert rate == 8000
    np.testing.assert_allclose(loaded, samples / 32768.0)


@pytest.mark.parametrize("suffix, container, subtype", [(".wav", "WAV", "PCM_16"), (".wav", "WAV", "PCM_24"),
                                                         (".wav", "WAV", "FLOAT"), (".flac", "FLAC", "PCM_16")])
def test_truncated_files_are_named(tmp_path, suffix, container, subtype):
    whole = tmp_path / f"whole{suffix}"
    sf.write(whole, tone(seconds=1.0), RATE, format=container, subtype=subtype)
    data = whole.read_bytes()
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"truncated") as info:
        load_audio(cut)
    assert str(info.value).startswith(f"audio file {cut} ")
    assert len(str(info.value).splitlines()) == 1


def test_zero_length_and_header_only_files(tmp_path):
    (tmp_path / "zero.flac").write_bytes(b"")
    with pytest.raises(DataError, match=r"^audio file .*zero.flac is empty \(0 bytes\)$"):
        load_audio(tmp_path / "zero.flac")
    sf.write(tmp_path / "no_samples.wav", np.zeros(0, np.float32), RATE, subtype="PCM_16")
    with pytest.raises(DataError, match=r"^audio file .*no_samples.wav contains no samples$"):
        load_audio(tmp_path / "no_samples.wav")


@pytest.mark.parametrize("content", [b"this is a text file, not audio\n", b"\x89PNG\r\n\x1a\n" + bytes(200),
                                     b"RIFF\x10\x00\x00\x00WAVEjunk"])
def test_non_audio_named_wav(tmp_path, content):
    path = tmp_path / "fake.wav"
    path.write_bytes(content)
    with pytest.raises(DataError) as info:
        load_audio(path)
    message = str(info.value)
    assert message.startswith(f"audio file {path} is not readable audio (") and len(message.splitlines()) == 1
