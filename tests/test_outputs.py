"""Systems may output frame activity, events (Detections) or clip tags (ClipTags); each is scored."""

from dataclasses import dataclass

import numpy as np
import pytest

from sedbench import registry
from sedbench.data import ClipTags, Detections, Event, LabelKind, Paper
from sedbench.errors import SystemOutputError
from sedbench.features import LogMelSpec
from sedbench.runner import JobSpec, Locations, run_job
from sedbench.system import System


@dataclass(frozen=True)
class NoConfig:
    threshold: float = 0.5


class _Base(System):
    paper = Paper(key="test", citation="test system")
    label_kind = LabelKind.STRONG
    Config = NoConfig
    profiles = {"quick": {}, "paper": {}}

    def features(self):
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


@pytest.fixture(scope="module", autouse=True)
def registered():
    for cls in (WholeClipDetector, TagPrior, BrokenShape):
        registry.systems.add(cls.name, cls)


def _run(name, workspace, tmp_path):
    where = Locations(workspace["data"], workspace["cache"], tmp_path)
    return run_job(JobSpec(system=name, dataset="synth-mini", device="cpu"), where, log=lambda _: None)


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
    from sedbench import features as features_module

    _run("test-tag-prior", workspace, tmp_path)  # fills the in-process memo for synth-mini
    calls = []
    original = features_module.FeatureCache.get
    monkeypatch.setattr(features_module.FeatureCache, "get", lambda self, *a: calls.append(a) or original(self, *a))
    where = Locations(workspace["data"], workspace["cache"], tmp_path)
    for seed in (1, 2):
        record, _ = run_job(JobSpec(system="test-tag-prior", dataset="synth-mini", seed=seed, device="cpu"), where,
                            log=lambda _: None)
        assert record["seed"] == seed
    assert calls == []
