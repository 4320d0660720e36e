"""The embedded synthetic datasets: determinism, partitions, polyphony and energy-based annotation."""

import json
import re
from pathlib import Path

import numpy as np
import pytest

from sedbench.core.data import Event
from sedbench.datatools import synthesis
from sedbench.datatools.annotations import read_annotation_file

SR = 44100


def test_tone_placed_at_known_times_is_annotated_there_within_one_frame():
    recipe = synthesis.MixingRecipe(mixture_seconds=6.0, segment_seconds=(1.5, 1.5), mean_polyphony=(0.01, 0.01),
                                    gain_db=(0.0, 0.0))
    t = np.arange(int(1.5 * SR)) / SR
    tone = np.sin(2 * np.pi * 700 * t).astype(np.float32)
    mixture = synthesis.mix({"beep": [tone]}, recipe, np.random.default_rng(3))
    (placement,) = mixture.placements
    (event,) = mixture.events
    hop = recipe.annotation_hop_seconds
    assert abs(event.onset - placement["onset"]) <= hop
    assert abs(event.offset - (placement["onset"] + 1.5)) <= hop
    # and the audio really is there
    start = int(round(placement["onset"] * SR))
    assert np.abs(mixture.audio[start + 100 : start + 1000]).max() > 0.01
    assert np.abs(mixture.audio[: max(start - 2000, 0)]).max(initial=0) == 0


def test_energy_annotation_splits_at_long_silences_and_bridges_short_ones():
    x = np.zeros(4 * SR, dtype=np.float32)
    x[int(0.5 * SR) : int(1.0 * SR)] = 0.5  # burst 1
    x[int(1.2 * SR) : int(1.5 * SR)] = 0.5  # 0.2 s gap: bridged
    x[int(3.0 * SR) : int(3.2 * SR)] = 0.5  # 1.5 s gap: separate event
    active = synthesis.energy_activity(x, SR, 0.01, -30)
    active = synthesis.bridge_gaps(active, 50)
    events = synthesis.activity_to_events(active, 0.01, "x", offset_seconds=10.0)
    assert [(round(e.onset, 2), round(e.offset, 2)) for e in events] == [(10.5, 11.5), (13.0, 13.2)]


@pytest.mark.parametrize("label", sorted(synthesis.SOUND_CLASSES))
def test_every_source_renders_finite_varied_instances(label):
    sound = synthesis.SOUND_CLASSES[label]
    a = synthesis.render_instance(sound, np.random.default_rng(1), 22050)
    b = synthesis.render_instance(sound, np.random.default_rng(2), 22050)
    assert np.isfinite(a).all() and np.abs(a).max() > 0
    lo, hi = sound.instance_seconds
    assert lo - 0.01 <= a.shape[0] / 22050 <= hi + 0.01
    assert a.shape != b.shape or not np.allclose(a, b)  # per-instance variation


def test_at_least_twelve_classes_with_the_papers_confusable_pair():
    assert len(synthesis.SOUND_CLASSES) >= 12
    assert {"baby crying", "cat meowing"} <= set(synthesis.SOUND_CLASSES)


def test_synth_mini_layout_partitions_and_polyphony(synth_mini):
    root = synth_mini.root
    split = synth_mini.split("1")
    assert (len(split.train), len(split.valid), len(split.test)) == (12, 4, 4)
    names = [c.clip_id for c in split.train + split.valid + split.test]
    assert len(set(names)) == 20
    for clip in split.train:
        assert abs(clip.duration - 10.0) < 1e-6
        rows = read_annotation_file(root / "annotations" / (clip.path.stem + ".txt"))
        assert all(filename == clip.clip_id for filename, _ in rows)
        assert all(0 <= e.onset < e.offset <= clip.duration + 1e-6 for e in clip.events)
        assert {e.label for e in clip.events} <= set(synth_mini.labels)
    # instances never cross partitions: every placement's instance index is local to its partition
    recipe = json.loads((root / "recipe.json").read_text())
    partitions = {v["partition"] for v in recipe["mixtures"].values()}
    assert partitions == {"train", "validate", "test"}
    # polyphony reaches 3 somewhere in the dataset
    max_polyphony = 0
    for clip in split.train + split.valid + split.test:
        grid = np.zeros(1000)
        for label in {e.label for e in clip.events}:
            active = np.zeros(1000)
            for e in (e for e in clip.events if e.label == label):
                active[int(e.onset * 100) : int(np.ceil(e.offset * 100))] = 1
            grid += active
        max_polyphony = max(max_polyphony, grid.max())
    assert max_polyphony >= 3


def test_partitions_use_different_instances():
    from sedbench.datasets.synth import SynthMini, render_partition_instances

    instances = render_partition_instances(SynthMini.spec)
    label = SynthMini.labels[0]
    train, test = instances["train"][label], instances["test"][label]
    assert len(train) == 3 and len(test) == 1
    assert all(t.shape != test[0].shape or not np.allclose(t, test[0]) for t in train)


def test_generation_is_deterministic(tmp_path, synth_mini):
    from sedbench.datasets.synth import SynthMini

    again = SynthMini(tmp_path)
    again.prepare()
    for relative in ("audio/mix_000.wav", "audio/mix_019.wav", "annotations/mix_007.txt", "recipe.json"):
        assert (again.root / relative).read_bytes() == (synth_mini.root / relative).read_bytes()


def test_prepare_does_not_regenerate_a_complete_dataset(synth_mini):
    marker = synth_mini.root / "audio" / "mix_000.wav"
    before = marker.stat().st_mtime_ns
    synth_mini.prepare()
    assert marker.stat().st_mtime_ns == before


def test_events_merge_when_one_class_overlaps_itself():
    merged = synthesis.merge_overlapping([Event(0, 2, "a"), Event(1, 3, "a"), Event(1, 2, "b")])
    assert merged == [Event(0, 3, "a"), Event(1, 2, "b")]


def test_generation_is_all_or_nothing_on_a_full_disk_and_cleans_up_after_killed_runs(tmp_path, monkeypatch):
    """A full disk is one sentence and leaves no staging folder; a killed run's staging folder (its process gone)
    is removed by the next generation, which then succeeds."""
    import errno

    import soundfile

    from sedbench.core import registry
    from sedbench.core.errors import DataError

    dataset = registry.datasets.get("synth-mini")(tmp_path)
    stale = dataset.root.with_name(f".{dataset.root.name}.partial-999999999")  # no such process
    (stale / "audio").mkdir(parents=True)
    real_write = soundfile.write
    calls = []

    def write_then_disk_full(file, *args, **kwargs):
        calls.append(file)
        if len(calls) == 3:
            Path(file).write_bytes(b"RIFF")  # part of it reached the disk
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(file, *args, **kwargs)

    monkeypatch.setattr(soundfile, "write", write_then_disk_full)
    with pytest.raises(DataError, match=rf"^cannot write {re.escape(str(dataset.root))}: the disk is full \(\[Errno "
                                        r"28\] No space left on device\); nothing was kept, free space \(or choose "
                                        r"another --data-dir\) and run again$"):
        dataset.prepare()
    assert not dataset.root.exists() and not list(tmp_path.glob(".*partial-*"))  # the stale one went too
    monkeypatch.setattr(soundfile, "write", real_write)
    dataset.prepare()
    assert dataset.is_present() and len(dataset.split("1").test) > 0
