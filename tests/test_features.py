"""Features: shapes, frame alignment, standardization and the content-keyed cache."""

import dataclasses

import numpy as np
import soundfile as sf

from sedbench.core.data import AudioClip, Event
from sedbench.core.features import FeatureCache, LogMelSpec, Standardizer, event_roll, extract_log_mel


def _tone_file(path, seconds=3.0, sr=44100, freq=1000.0):
    t = np.arange(int(seconds * sr)) / sr
    sf.write(path, (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32), sr, subtype="PCM_16")
    return AudioClip(clip_id=path.name, path=path, events=[], duration=seconds)


def test_log_mel_settings_follow_the_paper():
    spec = LogMelSpec()
    assert (spec.win_length, spec.hop_length, spec.n_fft, spec.n_mels) == (1764, 882, 2048, 40)
    assert spec.frame_hop == 0.02


def test_log_mel_shape_and_energy_band(tmp_path):
    clip = _tone_file(tmp_path / "tone.wav", seconds=3.0)
    audio, _ = sf.read(clip.path, dtype="float32")
    features = extract_log_mel(audio, LogMelSpec())
    assert features.shape == (150, 40)  # ceil(3.0 / 0.02) frames
    assert features.dtype == np.float32
    # a 1 kHz tone puts its energy in a mel band around 1 kHz, the same in every frame
    assert len(set(features[10:140].argmax(axis=1).tolist())) == 1
    assert 8 <= features[75].argmax() <= 14


def test_cache_hits_on_second_use_and_keys_on_settings(tmp_path):
    clip = _tone_file(tmp_path / "tone.wav")
    cache = FeatureCache(tmp_path / "cache")
    first = np.array(cache.get(clip, LogMelSpec()))
    second = cache.get(clip, LogMelSpec())
    assert (cache.misses, cache.hits) == (1, 1)
    assert isinstance(second, np.memmap)
    np.testing.assert_array_equal(first, second)
    cache.get(clip, dataclasses.replace(LogMelSpec(), n_mels=64))
    assert cache.misses == 2  # different settings, different entry
    # same content under another name is the same cache entry
    copy = tmp_path / "copy.wav"
    copy.write_bytes(clip.path.read_bytes())
    cache.get(AudioClip("copy.wav", copy, [], 3.0), LogMelSpec())
    assert cache.hits == 2


def test_standardizer_uses_training_statistics():
    rng = np.random.default_rng(0)
    train = [rng.normal(5, 2, (100, 3)).astype(np.float32), rng.normal(5, 2, (50, 3)).astype(np.float32)]
    standardize = Standardizer.fit(train)
    pooled = standardize(np.concatenate(train))
    np.testing.assert_allclose(pooled.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(pooled.std(axis=0), 1, atol=1e-4)


def test_event_roll_uses_sed_eval_rounding():
    roll = event_roll([Event(0.03, 0.05, "b"), Event(0.0, 0.02, "a")], ["a", "b"], 0.02, 5)
    np.testing.assert_array_equal(roll[:, 0], [1, 0, 0, 0, 0])
    np.testing.assert_array_equal(roll[:, 1], [0, 1, 1, 0, 0])
