"""Systems may output frame activity, events (Detections) or clip tags (ClipTags); each is scored."""

from dataclasses import dataclass

import numpy as np
import pytest

from sedbench.core import registry
from sedbench.core.data import Event, LabelKind, Paper
from sedbench.core.errors import SystemOutputError
from sedbench.core.features import LogMelSpec
from sedbench.core.outputs import ClipTags, Detections, FrameActivity
from sedbench.core.system import System
from sedbench.pipeline.inputs import FeatureMemo
from sedbench.pipeline.jobs import JobSpec, Locations
from sedbench.pipeline.runner import run_job


@dataclass(frozen=True)
class NoConfig:
    threshold: float = 0.5


class _Base(System):
    paper = Paper(key="test", citation="test system")
    label_kind = LabelKind.STRONG
    Config = NoConfig
    profiles = {"quick": {}, "paper": {}}

    @classmethod

    def features(cls, config):
        return LogMelSpec(n_mels=8)

    def fit(self, train, valid):
        self.rate = np.mean([c.tags for c in train], axis=0)
        return {}


class WholeClipDetector(_Base):
    """Detects the most frequent training class over every whole test clip."""

    name = "test-whole-clip"

    def predict(self, clips):
        label = self.context.labels[int(np.argmax(self.rate))]
        return [Detections([Event(0.0, c.duration, label)]) for c in clips]


class TagPrior(_Base):
    name = "test-tag-prior"

    def predict(self, clips):
        return [ClipTags(self.rate.astype(np.float32)) for _ in clips]


class BrokenShape(_Base):
    name = "test-broken"

    def predict(self, clips):
        return [ClipTags(np.zeros(2)) for _ in clips]


class FramesAndTags(_Base):
    """Frame activity at the training class rates, and the same rates as clip tags (a weak-label system's outputs)."""

    name = "test-frames-and-tags"
    tag_shape = None

    def predict(self, clips):
        rate = self.rate.astype(np.float32)
        tags = rate if self.tag_shape is None else np.zeros(self.tag_shape, np.float32)
        return [FrameActivity(np.tile(rate, (self.features(self.config).n_frames(c.duration), 1)), self.features(self.config).frame_hop,
                              tags=tags) for c in clips]


class WrongTagShape(FramesAndTags):
    name = "test-frames-wrong-tags"
    tag_shape = (3,)


@pytest.fixture(scope="module", autouse=True)
def registered():
    for cls in (WholeClipDetector, TagPrior, BrokenShape, FramesAndTags, WrongTagShape):
        registry.systems.add(cls.name, cls)


def _run(name, workspace, tmp_path, memo=None):
    """(the record as written, its path)"""
    where = Locations(workspace["data"], workspace["cache"], tmp_path)
    record, path = run_job(JobSpec(system=name, dataset="synth-mini", device="cpu"), where, log=lambda _: None,
                           memo=memo)
    return record.to_json(), path


def test_detections_are_scored_as_events(workspace, synth_mini, tmp_path):
    record, path = _run("test-whole-clip", workspace, tmp_path)
    head = record["headline"]
    assert 0 < head["F1_1s"] < 100 and head["ER_event"] >= 0
    frame = record["metrics"]["frame"]["overall"]["counts"]
    assert frame["Nsys"] == sum(round(c.duration / 0.02) for c in synth_mini.split("1").test)
    assert path.exists()


def test_clip_tags_are_scored_with_tagging_metrics(workspace, synth_mini, tmp_path):
    record, _ = _run("test-tag-prior", workspace, tmp_path)
    assert set(record["headline"]) == {"F1_tag", "P_tag", "R_tag", "EER"}
    assert 0 <= record["headline"]["EER"] <= 1
    assert set(record["metrics"]["tags"]["class_wise"]) == set(synth_mini.labels)


def test_wrong_output_leaves_no_record(workspace, synth_mini, tmp_path):
    with pytest.raises(SystemOutputError, match=r"expected tag probabilities of shape \(6,\), got \(2,\)"):
        _run("test-broken", workspace, tmp_path)
    assert not list(tmp_path.rglob("*.json"))


def test_later_seeds_reuse_features_without_touching_the_cache(workspace, synth_mini, tmp_path, monkeypatch):
    from sedbench.core import features as features_module

    memo = FeatureMemo()
    _run("test-tag-prior", workspace, tmp_path, memo)  # fills the memo for synth-mini
    calls = []
    original = features_module.FeatureCache.get
    monkeypatch.setattr(features_module.FeatureCache, "get", lambda self, *a: calls.append(a) or original(self, *a))
    where = Locations(workspace["data"], workspace["cache"], tmp_path)
    for seed in (1, 2):
        record, _ = run_job(JobSpec(system="test-tag-prior", dataset="synth-mini", seed=seed, device="cpu"), where,
                            log=lambda _: None, memo=memo)
        record = record.to_json()
        assert record["seed"] == seed
    assert calls == []


def test_frame_outputs_with_clip_tags_are_scored_both_ways(workspace, synth_mini, tmp_path):
    record, _ = _run("test-frames-and-tags", workspace, tmp_path)
    head = record["headline"]
    assert {"F1_frm", "ER_1s", "F1_tag", "P_tag", "R_tag", "EER"} <= set(head)
    tags = record["metrics"]["tags"]["overall"]
    assert head["F1_tag"] == tags["F1"] and head["P_tag"] == tags["precision"] and head["R_tag"] == tags["recall"]
    assert 0 < head["F1_1s"] <= 100


def test_clip_tags_of_the_wrong_shape_are_refused(workspace, synth_mini, tmp_path):
    with pytest.raises(SystemOutputError, match=r"expected clip tags of shape \(6,\), got \(3,\)"):
        _run("test-frames-wrong-tags", workspace, tmp_path)
    assert not list(tmp_path.rglob("*.json"))


def test_weakly_labelled_training_clips_show_tags_but_no_frame_targets(synth_mini):
    from sedbench.core.features import LogMelSpec, Standardizer
    from sedbench.pipeline.inputs import feature_clips

    clips = synth_mini.split("1").train[:2]
    raw = {c.clip_id: np.zeros((LogMelSpec().n_frames(c.duration), 40), np.float32) for c in clips}
    standardizer = Standardizer(np.zeros(40, np.float32), np.ones(40, np.float32))
    weak = feature_clips(clips, raw, LogMelSpec(), synth_mini.labels, standardizer, with_targets=True,
                         strong_targets=False)
    strong = feature_clips(clips, raw, LogMelSpec(), synth_mini.labels, standardizer, with_targets=True)
    for w, s, clip in zip(weak, strong, clips):
        assert w.targets is None and w.events == []
        assert s.targets is not None and s.events == clip.events
        np.testing.assert_array_equal(w.tags, s.tags)
        assert w.tags.sum() == len(clip.label_set) > 0
