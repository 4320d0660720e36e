"""Procedural sound sources and the TUT-SED Synthetic 2016 style polyphonic mixer.

Every source is a function ``(rng, seconds, sample_rate) -> float64 waveform``
whose parameters (pitch, rate, brightness, rhythm, ...) are drawn per instance,
so two instances of one class differ the way two recordings would. Classes
follow the 16 of TUT-SED Synthetic 2016 (Cakir et al. 2017, Table III), with
*baby crying* and *cat meowing* deliberately built from the same harmonic
voice model so that they are confusable, as in the paper.

Mixing follows the paper's recipe: isolated instances are split by partition
(different instances in train / validation / test), random 3-15 s segments are
cut from them and placed at random times so that several events overlap, and
the reference annotation is derived from the frame energy of each isolated
segment (automatic annotation).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import signal

from sedbench.core.data import Event
from sedbench.scoring.postprocess import activity_to_events

Source = Callable[[np.random.Generator, float, int], np.ndarray]


# --------------------------------------------------------------------------- helpers


def _n(seconds: float, sr: int) -> int:
    return max(1, int(round(seconds * sr)))


def _filter(x: np.ndarray, sr: int, low: float | None = None, high: float | None = None, order: int = 2) -> np.ndarray:
    nyq = sr / 2
    if low is not None and high is not None:
        sos = signal.butter(order, [max(low, 1.0) / nyq, min(high, nyq * 0.98) / nyq], btype="band", output="sos")
    elif low is not None:
        sos = signal.butter(order, max(low, 1.0) / nyq, btype="high", output="sos")
    else:
        sos = signal.butter(order, min(high, nyq * 0.98) / nyq, btype="low", output="sos")
    return signal.sosfilt(sos, x).astype(np.float64)


def _harmonic(f0: np.ndarray, sr: int, n_harmonics: int, rolloff: float, rng: np.random.Generator) -> np.ndarray:
    """Sum of harmonics following the pitch track ``f0`` (Hz per sample), amplitudes k**-rolloff."""
    phase = np.mod(2 * np.pi * np.cumsum(f0, dtype=np.float64) / sr + rng.uniform(0, 2 * np.pi), 2 * np.pi)
    phase = phase.astype(np.float64)
    limit = sr / 2 * 0.95
    always_below = int(limit // max(float(np.max(f0)), 1e-3))  # harmonics that never alias
    out = np.zeros(f0.shape[0], dtype=np.float64)
    for k in range(1, n_harmonics + 1):
        partial = np.sin(np.float64(k) * phase)
        if k > always_below:  # drop the partial where it would pass Nyquist
            partial *= (k * f0) < limit
        out += partial * np.float64(k ** -rolloff)
    return out


def _decay(n: int, sr: int, tau: float) -> np.ndarray:
    return np.exp(-np.arange(n, dtype=np.float64) / (tau * sr)).astype(np.float64)


def _place(out: np.ndarray, grain: np.ndarray, start: int) -> None:
    end = min(out.shape[0], start + grain.shape[0])
    if start < end:
        out[start:end] += grain[: end - start]


def _fade(x: np.ndarray, sr: int, seconds: float = 0.01) -> np.ndarray:
    n = min(_n(seconds, sr), x.shape[0] // 2)
    if n > 1:
        ramp = np.linspace(0, 1, n, dtype=np.float64)
        x[:n] *= ramp
        x[-n:] *= ramp[::-1]
    return x


def _smooth_random(rng: np.random.Generator, n: int, sr: int, rate_hz: float, depth: float) -> np.ndarray:
    """Slowly varying random curve around 1 (for pitch drift or loudness swells)."""
    points = max(2, int(n / sr * rate_hz) + 2)
    knots = rng.normal(0, depth, points)
    return (1 + np.interp(np.linspace(0, points - 1, n), np.arange(points), knots)).astype(np.float64)


def _voice(rng, seconds, sr, f0_range, unit_range, gap_range, harmonics, rolloff, vibrato, contour, formants):
    """Voiced calls (cries, meows): units with a pitch contour, vibrato and formant colouring."""
    n = _n(seconds, sr)
    out = np.zeros(n, dtype=np.float64)
    base = rng.uniform(*f0_range)
    vib_rate, vib_depth = rng.uniform(*vibrato[0]), rng.uniform(*vibrato[1])
    t = 0.0
    while t < seconds:
        length = min(rng.uniform(*unit_range), seconds - t)
        m = _n(length, sr)
        if m < _n(0.05, sr):
            break
        x = np.linspace(0, 1, m, dtype=np.float64)
        rise = rng.uniform(*contour)  # relative pitch excursion of the rise-fall contour
        f0 = base * rng.uniform(0.9, 1.1) * (1 + rise * np.sin(np.pi * x ** rng.uniform(0.6, 1.4)))
        f0 *= 1 + vib_depth * np.sin(2 * np.pi * vib_rate * x * length)
        unit = _harmonic(f0, sr, harmonics, rolloff, rng)
        coloured = sum(_filter(unit, sr, f * 0.8, f * 1.25) * g for f, g in formants(rng)) + 0.2 * unit
        env = np.clip(np.sin(np.pi * x), 0, None) ** rng.uniform(0.3, 0.8)
        _place(out, coloured * env, _n(t, sr))
        t += length + rng.uniform(*gap_range)
    return out


# --------------------------------------------------------------------------- sources


def alarms(rng, seconds, sr):
    n = _n(seconds, sr)
    t = np.arange(n, dtype=np.float64) / sr
    low, high = sorted(rng.uniform(500, 1800, 2))
    high = max(high, low * 1.3)
    rate = rng.uniform(0.3, 2.5)
    if rng.random() < 0.5:  # wailing siren
        sweep = 0.5 * (1 - np.cos(2 * np.pi * rate * t))
    else:  # two-tone / sawtooth sweep
        sweep = (t * rate) % 1.0
    x = _harmonic(low + (high - low) * sweep, sr, 4, 1.2, rng)
    if rng.random() < 0.35:  # beeping alarm: gate the tone
        gate_rate = rng.uniform(2, 6)
        x *= (np.sin(2 * np.pi * gate_rate * t) > 0).astype(np.float64)
    return x


def baby_crying(rng, seconds, sr):
    return _voice(
        rng, seconds, sr, f0_range=(330, 520), unit_range=(0.5, 1.6), gap_range=(0.15, 0.6), harmonics=14,
        rolloff=0.9, vibrato=((4, 8), (0.01, 0.04)), contour=(0.05, 0.25),
        formants=lambda r: [(r.uniform(900, 1300), 1.0), (r.uniform(2200, 3200), 0.7)],
    )


def cat_meowing(rng, seconds, sr):
    return _voice(
        rng, seconds, sr, f0_range=(420, 800), unit_range=(0.4, 1.1), gap_range=(0.3, 1.2), harmonics=10,
        rolloff=1.1, vibrato=((3, 6), (0.0, 0.02)), contour=(0.2, 0.5),
        formants=lambda r: [(r.uniform(700, 1100), 1.0), (r.uniform(1800, 2600), 0.5)],
    )


def dog_barking(rng, seconds, sr):
    n = _n(seconds, sr)
    out = np.zeros(n, dtype=np.float64)
    f0_base = rng.uniform(220, 520)
    t = rng.uniform(0, 0.2)
    while t < seconds - 0.1:
        for _ in range(rng.integers(1, 4)):  # barks come in short volleys
            length = rng.uniform(0.1, 0.3)
            m = _n(length, sr)
            x = np.linspace(0, 1, m, dtype=np.float64)
            f0 = f0_base * rng.uniform(0.85, 1.15) * (1.2 - 0.4 * x)
            bark = _harmonic(f0, sr, 12, 0.8, rng) + 0.5 * _filter(rng.standard_normal(m).astype(np.float64), sr, 400, 3000)
            env = np.minimum(1, x * 12) * np.exp(-x * rng.uniform(2, 5))
            _place(out, _filter(bark * env, sr, 300, 4000), _n(t, sr))
            t += length + rng.uniform(0.08, 0.25)
        t += rng.uniform(0.3, 1.2)
    return out


def glass_smash(rng, seconds, sr):
    n = _n(seconds, sr)
    out = np.zeros(n, dtype=np.float64)
    crash = _filter(rng.standard_normal(n).astype(np.float64), sr, 2500, None, 3) * _decay(n, sr, rng.uniform(0.04, 0.1))
    out += crash * 2
    for _ in range(rng.integers(25, 70)):  # falling shards: short high resonances
        start = int(abs(rng.normal(0, 0.25)) * sr)
        m = _n(rng.uniform(0.03, 0.25), sr)
        f = rng.uniform(2500, 10000)
        shard = np.sin(2 * np.pi * f * np.arange(m) / sr).astype(np.float64) * _decay(m, sr, rng.uniform(0.01, 0.06))
        _place(out, shard * rng.uniform(0.2, 0.8), start)
    return out


def gun_shot(rng, seconds, sr):
    n = _n(seconds, sr)
    out = np.zeros(n, dtype=np.float64)
    shots = 1 if rng.random() < 0.6 else rng.integers(2, 4)
    spacing = rng.uniform(0.15, 0.5)
    for i in range(shots):
        m = n - _n(i * spacing, sr)
        if m < _n(0.1, sr):
            break
        noise = rng.standard_normal(m).astype(np.float64)
        blast = noise * _decay(m, sr, rng.uniform(0.008, 0.02)) * 4
        tail = _filter(noise, sr, None, rng.uniform(600, 1800), 2) * _decay(m, sr, rng.uniform(0.12, 0.4)) * 2
        _place(out, blast + tail, _n(i * spacing, sr))
    return out


def rain(rng, seconds, sr):
    n = _n(seconds, sr)
    hiss = _filter(rng.standard_normal(n).astype(np.float64), sr, rng.uniform(800, 2500), None, 2) * 0.5
    drops = np.zeros(n, dtype=np.float64)
    rate = rng.uniform(80, 300)
    positions = rng.integers(0, n, int(rate * seconds))
    drops[positions] = rng.uniform(-1, 1, positions.size).astype(np.float64)
    drops = _filter(drops, sr, rng.uniform(2000, 4000), rng.uniform(6000, 9000), 2) * 6
    return (hiss + drops) * _smooth_random(rng, n, sr, 0.5, 0.15)


def motorcycle(rng, seconds, sr):
    n = _n(seconds, sr)
    rpm = rng.uniform(35, 90) * _smooth_random(rng, n, sr, rng.uniform(0.3, 1.0), 0.25)
    firing = _harmonic(rpm, sr, 40, 0.7, rng)
    rough = _filter(rng.standard_normal(n).astype(np.float64), sr, 100, 2500) * 0.3
    pulse = 0.6 + 0.4 * np.sin(np.cumsum(2 * np.pi * rpm / sr))
    return _filter(firing * 0.4 + rough * pulse, sr, 30, 5000)


def footsteps(rng, seconds, sr):
    n = _n(seconds, sr)
    out = np.zeros(n, dtype=np.float64)
    period = 1 / rng.uniform(1.8, 2.6)
    heel_low, scuff = rng.uniform(80, 200), rng.uniform(1500, 4000)
    t = rng.uniform(0, period)
    while t < seconds:
        m = _n(0.12, sr)
        noise = rng.standard_normal(m).astype(np.float64)
        thump = _filter(noise, sr, heel_low, heel_low * 4) * _decay(m, sr, rng.uniform(0.015, 0.04)) * 3
        scrape = _filter(noise, sr, scuff, scuff * 1.8) * _decay(m, sr, 0.02) * rng.uniform(0.2, 0.8)
        _place(out, thump + scrape, _n(t, sr))
        t += period * rng.uniform(0.92, 1.08)
    return out


def crowd_applause(rng, seconds, sr):
    n = _n(seconds, sr)
    claps = np.zeros(n, dtype=np.float64)
    rate = rng.uniform(40, 140)
    count = int(rate * seconds)
    positions = rng.integers(0, n, count)
    claps[positions] = rng.uniform(0.3, 1, count).astype(np.float64)
    grain = rng.standard_normal(_n(0.01, sr)).astype(np.float64) * _decay(_n(0.01, sr), sr, 0.003)
    x = signal.fftconvolve(claps, grain)[:n].astype(np.float64)
    x = _filter(x, sr, rng.uniform(600, 1200), rng.uniform(3000, 6000))
    swell = np.minimum(1, np.linspace(0, seconds / rng.uniform(0.5, 2), n)) * _smooth_random(rng, n, sr, 1, 0.2)
    return x * swell.astype(np.float64)


def thunder(rng, seconds, sr):
    n = _n(seconds, sr)
    brown = np.cumsum(rng.standard_normal(n)).astype(np.float64)
    brown -= _filter(brown, sr, None, 10, 1)  # remove drift
    rumble = _filter(brown, sr, 25, rng.uniform(120, 300), 2)
    rumble /= np.abs(rumble).max() + 1e-9
    env = _smooth_random(rng, n, sr, rng.uniform(0.5, 2.0), 0.5).clip(0.1) * _decay(n, sr, seconds * rng.uniform(0.3, 0.6))
    crack_len = _n(rng.uniform(0.2, 0.6), sr)
    crack = np.zeros(n, dtype=np.float64)
    crack[:crack_len] = _filter(rng.standard_normal(crack_len).astype(np.float64), sr, 200, 4000) * _decay(crack_len, sr, 0.12)
    return rumble * env + crack * rng.uniform(0.2, 0.8)


def bird_singing(rng, seconds, sr):
    n = _n(seconds, sr)
    out = np.zeros(n, dtype=np.float64)
    low, high = rng.uniform(2000, 3500), rng.uniform(4000, 7500)
    t = rng.uniform(0, 0.3)
    while t < seconds - 0.05:
        for _ in range(rng.integers(2, 8)):  # a phrase of syllables
            length = rng.uniform(0.04, 0.18)
            m = _n(length, sr)
            x = np.linspace(0, 1, m, dtype=np.float64)
            shape = rng.integers(0, 3)
            if shape == 0:
                f = low + (high - low) * x
            elif shape == 1:
                f = high - (high - low) * x
            else:
                f = (low + high) / 2 + (high - low) / 2 * np.sin(2 * np.pi * rng.uniform(15, 40) * x * length)
            syllable = _harmonic(f, sr, 2, 2.0, rng) * np.sin(np.pi * x)
            _place(out, syllable, _n(t, sr))
            t += length + rng.uniform(0.02, 0.08)
        t += rng.uniform(0.2, 1.0)
    return out


def mixer(rng, seconds, sr):
    n = _n(seconds, sr)
    speed = rng.uniform(90, 200) * _smooth_random(rng, n, sr, rng.uniform(0.5, 2), 0.06)
    hum = _harmonic(speed, sr, 25, 0.6, rng)
    whine = _filter(rng.standard_normal(n).astype(np.float64), sr, rng.uniform(1000, 2000), rng.uniform(3500, 6000))
    return hum * 0.3 + whine * rng.uniform(0.6, 1.2)


def bus(rng, seconds, sr):
    n = _n(seconds, sr)
    rpm = rng.uniform(20, 45) * _smooth_random(rng, n, sr, 0.2, 0.15)
    engine = _filter(_harmonic(rpm, sr, 20, 1.0, rng), sr, None, 800)
    road = _filter(rng.standard_normal(n).astype(np.float64), sr, 40, rng.uniform(400, 900), 2)
    x = engine * 0.6 + road * rng.uniform(0.5, 1.0)
    if rng.random() < 0.4:  # air-brake hiss
        m = _n(rng.uniform(0.4, 1.0), sr)
        hiss = _filter(rng.standard_normal(m).astype(np.float64), sr, 3000, 8000) * np.hanning(m).astype(np.float64)
        _place(x, hiss * 0.6, int(rng.uniform(0, max(seconds - 1, 0.01)) * sr))
    return x


def crowd_cheering(rng, seconds, sr):
    n = _n(seconds, sr)
    out = np.zeros(n, dtype=np.float64)
    for _ in range(rng.integers(5, 10)):
        f0 = rng.uniform(140, 380) * _smooth_random(rng, n, sr, rng.uniform(1, 4), 0.12)
        voice = _harmonic(f0, sr, 8, 1.0, rng)
        formant = rng.uniform(500, 1500)
        out += _filter(voice, sr, formant * 0.6, formant * 2.2) * _smooth_random(rng, n, sr, 2, 0.4).clip(0)
    out += _filter(rng.standard_normal(n).astype(np.float64), sr, 300, 3000) * 0.3
    return out


def horse_walk(rng, seconds, sr):
    n = _n(seconds, sr)
    out = np.zeros(n, dtype=np.float64)
    cycle = 1 / rng.uniform(0.8, 1.4)  # four hoof beats per stride
    pattern = np.sort(rng.uniform(0, 1, 4)) * 0.3 + np.array([0, 0.25, 0.5, 0.75]) * 0.7
    resonance = rng.uniform(600, 1600)
    t = 0.0
    while t < seconds:
        for p in pattern:
            m = _n(0.08, sr)
            click = _filter(rng.standard_normal(m).astype(np.float64), sr, resonance * 0.85, resonance * 1.2, 2)
            _place(out, click * _decay(m, sr, rng.uniform(0.01, 0.025)) * 4, _n(t + p * cycle, sr))
        t += cycle * rng.uniform(0.95, 1.05)
    return out


@dataclass(frozen=True)
class SoundClass:
    label: str
    source: Source
    instance_seconds: tuple[float, float]  # length range of an isolated instance


# Labels and typical lengths after TUT-SED Synthetic 2016 (Cakir et al. 2017, Table III).
SOUND_CLASSES: dict[str, SoundClass] = {
    c.label: c
    for c in [
        SoundClass("alarms", alarms, (5, 15)),
        SoundClass("baby crying", baby_crying, (3, 10)),
        SoundClass("bird singing", bird_singing, (3, 10)),
        SoundClass("bus", bus, (5, 15)),
        SoundClass("cat meowing", cat_meowing, (1, 3.5)),
        SoundClass("crowd applause", crowd_applause, (4, 12)),
        SoundClass("crowd cheering", crowd_cheering, (5, 15)),
        SoundClass("dog barking", dog_barking, (2, 8)),
        SoundClass("footsteps", footsteps, (4, 12)),
        SoundClass("glass smash", glass_smash, (0.8, 1.8)),
        SoundClass("gun shot", gun_shot, (0.8, 2.5)),
        SoundClass("horse walk", horse_walk, (3, 10)),
        SoundClass("mixer", mixer, (5, 15)),
        SoundClass("motorcycle", motorcycle, (4, 12)),
        SoundClass("rain", rain, (5, 15)),
        SoundClass("thunder", thunder, (3, 10)),
    ]
}


def render_instance(sound: SoundClass, rng: np.random.Generator, sample_rate: int) -> np.ndarray:
    """One isolated instance, RMS-normalized over its active part."""
    seconds = rng.uniform(*sound.instance_seconds)
    x = sound.source(rng, seconds, sample_rate).astype(np.float64)
    x = _fade(x, sample_rate)
    active = np.abs(x) > 0.05 * (np.abs(x).max() + 1e-12)
    rms = float(np.sqrt(np.mean(x[active] ** 2))) if active.any() else 1.0
    return (x / (rms + 1e-12)).astype(np.float64)


# --------------------------------------------------------------------------- annotation


def energy_activity(x: np.ndarray, sample_rate: int, hop_seconds: float, threshold_db: float) -> np.ndarray:
    """Boolean activity per analysis frame: frame energy within ``threshold_db`` of the loudest frame.

    Frame k covers samples [k*hop, (k+1)*hop) — non-overlapping, so an event boundary
    falls inside exactly one frame and is annotated within one hop of its true time.
    """
    hop = max(1, int(round(hop_seconds * sample_rate)))
    frames = int(np.ceil(x.shape[0] / hop))
    padded = np.zeros(frames * hop, dtype=np.float64)
    padded[: x.shape[0]] = x
    energy = np.mean(padded.reshape(frames, hop) ** 2, axis=1)
    peak = energy.max()
    if peak <= 0:
        return np.zeros(frames, dtype=bool)
    return 10 * np.log10(energy / peak + 1e-30) >= threshold_db


def bridge_gaps(active: np.ndarray, max_gap_frames: int) -> np.ndarray:
    """Fill inactive runs shorter than ``max_gap_frames`` that lie between two active frames."""
    active = active.astype(bool).copy()
    if max_gap_frames <= 0 or not active.any():
        return active
    padded = np.concatenate([[True], active, [True]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))  # alternating gap starts / ends
    first, last = np.flatnonzero(active)[[0, -1]]
    for start, stop in zip(edges[0::2], edges[1::2]):
        if stop - start < max_gap_frames and start > first and stop <= last:
            active[start:stop] = True
    return active


# --------------------------------------------------------------------------- mixing


@dataclass(frozen=True)
class MixingRecipe:
    """Parameters of the polyphonic mixer (defaults follow the CRNN paper's synthetic set)."""

    sample_rate: int = 44100
    mixture_seconds: float = 30.0
    segment_seconds: tuple[float, float] = (3.0, 15.0)
    mean_polyphony: tuple[float, float] = (1.6, 3.0)  # drawn per mixture: summed event length / duration
    gain_db: tuple[float, float] = (-6.0, 6.0)
    level: float = 0.05  # RMS of an event at 0 dB gain
    background_snr_db: float | None = None  # the paper's mixtures have no background
    annotation_hop_seconds: float = 0.01
    annotation_threshold_db: float = -30.0
    annotation_bridge_seconds: float = 0.5  # silent gaps shorter than this stay inside one event


@dataclass
class Mixture:
    audio: np.ndarray
    events: list[Event]
    placements: list[dict]


def mix(instances: dict[str, list[np.ndarray]], recipe: MixingRecipe, rng: np.random.Generator) -> Mixture:
    """Build one mixture from isolated instances (label -> waveforms of this partition)."""
    sr = recipe.sample_rate
    n = _n(recipe.mixture_seconds, sr)
    out = np.zeros(n, dtype=np.float64)
    labels = sorted(instances)
    target = rng.uniform(*recipe.mean_polyphony) * recipe.mixture_seconds
    placed_seconds = 0.0
    events: list[Event] = []
    placements: list[dict] = []
    while placed_seconds < target:
        label = labels[rng.integers(len(labels))]
        index = int(rng.integers(len(instances[label])))
        instance = instances[label][index]
        length = min(_n(rng.uniform(*recipe.segment_seconds), sr), instance.shape[0], n)
        start_in_instance = int(rng.integers(0, instance.shape[0] - length + 1))
        segment = _fade(instance[start_in_instance : start_in_instance + length].copy(), sr)
        gain_db = float(rng.uniform(*recipe.gain_db))
        segment *= recipe.level * 10 ** (gain_db / 20)
        onset_sample = int(rng.integers(0, n - length + 1))
        out[onset_sample : onset_sample + length] += segment
        active = energy_activity(segment, sr, recipe.annotation_hop_seconds, recipe.annotation_threshold_db)
        active = bridge_gaps(active, int(round(recipe.annotation_bridge_seconds / recipe.annotation_hop_seconds)))
        events += activity_to_events(
            active, recipe.annotation_hop_seconds, label, onset_sample / sr, limit_seconds=n / sr
        )
        placements.append(
            {"label": label, "instance": index, "instance_offset": start_in_instance / sr,
             "onset": onset_sample / sr, "duration": length / sr, "gain_db": round(gain_db, 3)}
        )
        placed_seconds += length / sr
    if recipe.background_snr_db is not None:
        pink = _pink_noise(rng, n)
        signal_power = float(np.mean(out**2)) + 1e-12
        pink *= np.sqrt(signal_power / (np.mean(pink**2) + 1e-12) / 10 ** (recipe.background_snr_db / 10))
        out += pink
    peak = float(np.abs(out).max())
    if peak > 0.99:  # scale the whole mixture: annotations stay valid
        out *= 0.99 / peak
    return Mixture(out, merge_overlapping(events), placements)


def merge_overlapping(events: list[Event]) -> list[Event]:
    """Merge same-label events that overlap or touch (two instances of one class sounding together)."""
    merged: list[Event] = []
    for event in sorted(events, key=lambda e: (e.label, e.onset)):
        if merged and merged[-1].label == event.label and event.onset <= merged[-1].offset:
            last = merged.pop()
            event = Event(last.onset, max(last.offset, event.offset), event.label)
        merged.append(event)
    return sorted(merged, key=lambda e: (e.onset, e.label))


def _pink_noise(rng: np.random.Generator, n: int) -> np.ndarray:
    spectrum = np.fft.rfft(rng.standard_normal(n))
    spectrum /= np.sqrt(np.maximum(np.arange(spectrum.size), 1))
    return np.fft.irfft(spectrum, n).astype(np.float64)
