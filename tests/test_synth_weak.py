"""synth-weak / synth-weak-mini: weakly labelled training data, strong test labels, several labels per clip."""

import json
from collections import Counter

import numpy as np
import pytest

from sedbench.core import registry
from sedbench.core.data import LabelKind
from sedbench.datasets.synth_weak import SynthWeak, SynthWeakMini, chosen_classes
from sedbench.datatools.annotations import read_annotation_file


@pytest.fixture(scope="module")
def mini(tmp_path_factory):
    dataset = registry.datasets.get("synth-weak-mini")(tmp_path_factory.mktemp("weak"))
    dataset.prepare()
    return dataset


def test_registered_as_weakly_labelled_generated_datasets():
    for name, cls in (("synth-weak", SynthWeak), ("synth-weak-mini", SynthWeakMini)):
        assert registry.datasets.get(name) is cls
        assert cls.label_kind is LabelKind.WEAK and cls.task == "strong events" and not cls.remote_files
        assert cls.license.startswith("CC0") and cls.paper.key == "adavanne2017" and cls.sample_rate == 22050
    assert len(SynthWeak.labels) == 16 and SynthWeak.spec.clips == (300, 60, 100)


def test_full_size_is_bounded():
    spec = SynthWeak.spec
    size = sum(spec.clips) * spec.recipe.mixture_seconds * spec.recipe.sample_rate * 2  # 16-bit mono
    assert size == 202_860_000  # about 203 MB of audio


def test_full_dataset_has_several_labels_per_clip():
    spec = SynthWeak.spec
    counts = Counter(len(chosen_classes(spec, number)) for number in range(sum(spec.clips)))
    assert counts == {1: 88, 2: 178, 3: 143, 4: 51}
    assert sum(k * n for k, n in counts.items()) / sum(counts.values()) > 2.3
    assert sum(n for k, n in counts.items() if k >= 2) / sum(counts.values()) > 0.8


def test_train_and_validation_expose_only_tags_test_has_events(mini):
    split = mini.split("1")
    assert (len(split.train), len(split.valid), len(split.test)) == (8, 3, 4)
    for clip in split.train + split.valid:
        assert clip.events == [] and clip.tags and set(clip.tags) <= set(mini.labels)
        assert abs(clip.duration - 10.0) < 1e-6
    for clip in split.test:
        assert clip.events and clip.tags == tuple(l for l in mini.labels if l in {e.label for e in clip.events})
        assert all(0 <= e.onset < e.offset <= clip.duration + 1e-6 for e in clip.events)
    clips = split.train + split.valid + split.test
    assert np.mean([len(c.tags) for c in clips]) >= 2
    # the strong annotation of every clip stays on disk; the tags are exactly its labels
    for clip in split.train:
        rows = read_annotation_file(mini.root / "annotations" / (clip.path.stem + ".txt"))
        assert rows and all(filename == clip.clip_id for filename, _ in rows)
        assert tuple(l for l in mini.labels if l in {e.label for _, e in rows}) == clip.tags
    recipe = json.loads((mini.root / "recipe.json").read_text())
    assert [recipe["clips"][c.clip_id]["partition"] for c in clips] == ["train"] * 8 + ["validate"] * 3 + ["test"] * 4


def test_generation_is_deterministic_and_atomic(tmp_path, mini):
    again = SynthWeakMini(tmp_path)
    again.prepare()
    for relative in ("audio/clip_000.wav", "audio/clip_014.wav", "annotations/clip_009.txt", "recipe.json"):
        assert (again.root / relative).read_bytes() == (mini.root / relative).read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".synth-weak-mini.lock", "synth-weak-mini"]  # no staging left
    before = (again.root / "audio" / "clip_000.wav").stat().st_mtime_ns
    again.prepare()  # complete: not regenerated
    assert (again.root / "audio" / "clip_000.wav").stat().st_mtime_ns == before


def test_runner_hides_frame_targets_of_weak_training_clips(mini):
    from sedbench.core.features import LogMelSpec, Standardizer
    from sedbench.pipeline.inputs import feature_clips

    split = mini.split("1")
    raw = {c.clip_id: np.zeros((500, 4), dtype=np.float32) for c in split.train}
    clips = feature_clips(split.train, raw, LogMelSpec(), mini.labels, Standardizer(np.zeros(4), np.ones(4)),
                          with_targets=True, strong_targets=False)
    assert all(c.targets is None and c.events == [] and c.tags.sum() == len(a.tags) for c, a in zip(clips, split.train))


def test_dcase2017_task4_names_its_size_and_the_manual_audio():
    cls = registry.datasets.get("dcase2017-task4")
    assert "51,172 training" in cls.description and "488 testing" in cls.description
    assert "17 vehicle/warning classes" in cls.description and len(cls.labels) == 17
    assert all(remote.md5 for remote in cls.remote_files)
    assert "the audio comes from YouTube and cannot be fetched automatically" in cls.manual_setup


@pytest.mark.slow
def test_weak_crnn_runs_end_to_end_on_tags_and_is_scored_on_events_and_tags(mini, tmp_path):
    from sedbench.pipeline.jobs import JobSpec, Locations
    from sedbench.pipeline.runner import run_job

    tiny = {"conv_maps": "4", "rnn_units": "(4,)", "fc_units": "(4,)", "max_epochs": "1", "batch_size": "8",
            "strong_weight": "0.2", "weak_weight": "1"}
    job = JobSpec(system="weak-crnn", dataset="synth-weak-mini", overrides=tiny, device="cpu")
    record, path = run_job(job, Locations(mini.data_dir, tmp_path / "cache", tmp_path / "runs"), log=lambda m: None)
    record = record.to_json()
    assert path.exists() and record["dataset"]["clips"] == {"train": 8, "valid": 3, "test": 4}
    assert record["config"]["strong_weight"] == 0.2 and record["history"]["criterion"] == "valid_loss"
    assert {"F1_1s", "ER_1s", "F1_tag", "P_tag", "R_tag", "EER"} <= set(record["headline"])
    assert set(record["metrics"]["tags"]["class_wise"]) == set(mini.labels)
    assert record["metrics"]["1s"]["overall"]["counts"]["Nref"] > 0  # test clips are scored on their events


@pytest.mark.slow
def test_one_sweep_command_runs_every_weight_pair(mini, tmp_path):
    from typer.testing import CliRunner

    from sedbench.cli import app
    from sedbench.pipeline.record import load_records

    tiny = ["conv_maps=4", "rnn_units=(4,)", "fc_units=(4,)", "max_epochs=1", "batch_size=8"]
    result = CliRunner().invoke(app, [
        "run", "--system", "weak-crnn", "--dataset", "synth-weak-mini", "--sweep", "strong_weight=0.02,1",
        "--set", "weak_weight=1", *[arg for item in tiny for arg in ("--set", item)], "--quiet",
        "--data-dir", str(mini.data_dir), "--cache-dir", str(tmp_path / "cache"), "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    records = [record.to_json() for record in load_records(tmp_path / "runs")]
    assert sorted((r["config"]["strong_weight"], r["config"]["weak_weight"]) for r in records) == [(0.02, 1), (1, 1)]
    assert sorted(r["overrides"]["strong_weight"] for r in records) == ["0.02", "1"]
    assert "weak-crnn on synth-weak-mini (quick, strong_weight=0.02, 1 seed(s), folds 1):" in result.output
    assert "weak-crnn on synth-weak-mini (quick, strong_weight=1.0, 1 seed(s), folds 1):" in result.output
