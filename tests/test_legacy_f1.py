"""The legacy TUT-SED 2009 F1: per 1 s segment, averaged over each scene's segments, then over scenes."""

from dataclasses import dataclass

import numpy as np
import pytest
import soundfile as sf

from sedbench.core import registry
from sedbench.core.data import Event, LabelKind, Paper
from sedbench.core.features import LogMelSpec
from sedbench.core.outputs import Detections
from sedbench.core.system import System
from sedbench.pipeline.jobs import JobSpec, Locations
from sedbench.pipeline.record import SCHEMA_VERSION, RunRecord
from sedbench.pipeline.runner import run_job
from sedbench.publish.summary import summarize
from sedbench.scoring.metrics import MetricSettings, headline, legacy_f1, score

# Scene "home": one 3 s file.
#   segment 0: R {dog}        E {dog}   -> F1 1
#   segment 1: R {dog}        E {cat}   -> F1 0
#   segment 2: R {}           E {}      -> skipped
# Scene "street": a 2 s file and a 1 s file.
#   h1 segment 0: R {dog, car} E {dog}  -> 2*1 / (2+1) = 2/3
#   h1 segment 1: R {}         E {car}  -> F1 0 (output without reference still counts)
#   s2 segment 0: R {bird}     E {bird} -> F1 1
# home = 1/2 over 2 segments, street = (2/3 + 0 + 1) / 3 = 5/9, overall = (1/2 + 5/9) / 2 = 19/36.
REFERENCE = {
    "home/a.wav": [Event(0.0, 2.0, "dog")],
    "street/b.wav": [Event(0.0, 1.0, "dog"), Event(0.2, 0.8, "car")],
    "street/c.wav": [Event(0.1, 0.9, "bird")],
}
ESTIMATED = {
    "home/a.wav": [Event(0.0, 1.0, "dog"), Event(1.0, 2.0, "cat")],
    "street/b.wav": [Event(0.0, 0.5, "dog"), Event(1.5, 2.0, "car")],
    "street/c.wav": [Event(0.0, 1.0, "bird")],
}
DURATIONS = {"home/a.wav": 3.0, "street/b.wav": 2.0, "street/c.wav": 1.0}
SCENES = {"home/a.wav": "home", "street/b.wav": "street", "street/c.wav": "street"}


def test_two_scenes_hand_computed():
    result = legacy_f1(REFERENCE, ESTIMATED, DURATIONS, SCENES)
    assert result["scenes"]["home"] == {"F1": pytest.approx(50.0), "F1_sum": pytest.approx(1.0), "segments": 2,
                                        "skipped": 1}
    assert result["scenes"]["street"] == {"F1": pytest.approx(500 / 9), "F1_sum": pytest.approx(5 / 3),
                                          "segments": 3, "skipped": 0}
    assert result["F1"] == pytest.approx(100 * 19 / 36)
    assert result["empty_segments"] == "skipped" and result["segment_seconds"] == 1.0


def test_scenes_weigh_equally_not_by_segment_count():
    # pooling all 5 scored segments would give (1 + 0 + 2/3 + 0 + 1) / 5 = 8/15; the scene mean differs
    assert legacy_f1(REFERENCE, ESTIMATED, DURATIONS, SCENES)["F1"] != pytest.approx(100 * 8 / 15)


def test_segment_boundaries_follow_sed_eval_and_the_partial_last_segment_counts():
    # 0.5-1.2 s is active in segments 0 and 1; the 2.5 s file has 3 segments, the last partial one included
    reference = {"x.wav": [Event(0.5, 1.2, "dog"), Event(2.1, 2.4, "cat")]}
    estimated = {"x.wav": [Event(1.0, 1.1, "dog")]}
    result = legacy_f1(reference, estimated, {"x.wav": 2.5}, {"x.wav": "s"})
    # segment 0: R {dog} E {} -> 0; segment 1: R {dog} E {dog} -> 1; segment 2: R {cat} E {} -> 0
    assert result["scenes"]["s"]["segments"] == 3 and result["scenes"]["s"]["skipped"] == 0
    assert result["F1"] == pytest.approx(100 / 3)


def test_output_past_the_file_end_is_cut_at_the_evaluated_length():
    result = legacy_f1({"x.wav": [Event(0, 1, "dog")]}, {"x.wav": [Event(0, 5, "dog")]}, {"x.wav": 1.0}, {"x.wav": "s"})
    assert result["scenes"]["s"] == {"F1": 100.0, "F1_sum": 1.0, "segments": 1, "skipped": 0}


def test_a_scene_with_only_empty_segments_is_left_out_and_all_empty_is_none():
    reference = {"a.wav": [Event(0, 1, "dog")], "b.wav": []}
    estimated = {"a.wav": [Event(0, 1, "dog")], "b.wav": []}
    result = legacy_f1(reference, estimated, {"a.wav": 1.0, "b.wav": 4.0}, {"a.wav": "home", "b.wav": "office"})
    assert result["scenes"]["office"] == {"F1": None, "F1_sum": 0.0, "segments": 0, "skipped": 4}
    assert result["F1"] == 100.0  # only "home" has scored segments
    assert legacy_f1({"b.wav": []}, {}, {"b.wav": 2.0}, {"b.wav": "office"})["F1"] is None


def test_score_adds_it_to_the_headline_only_with_scenes():
    settings = MetricSettings(frame_resolution=0.02)
    labels = ["bird", "car", "cat", "dog"]
    without = score(REFERENCE, ESTIMATED, DURATIONS, labels, settings)
    assert "legacy_1s" not in without and "F1_1s_legacy" not in headline(without)
    with_scenes = score(REFERENCE, ESTIMATED, DURATIONS, labels, settings, scenes=SCENES)
    assert headline(with_scenes)["F1_1s_legacy"] == pytest.approx(100 * 19 / 36)
    assert headline(with_scenes)["F1_1s"] == headline(without)["F1_1s"]  # the micro-averaged metrics are unchanged


def _record(fold, scenes_totals):
    return {"dataset": {"name": "d"}, "system": {"name": "s"}, "profile": "quick", "config_hash": "h", "seed": 0,
            "fold": fold, "timings": {"fit": 1.0}, "config": {},
            "headline": {"F1_1s_legacy": 0.0},
            "metrics": {level: {"overall": {"counts": {k: 1.0 for k in ("Ntp", "Nsys", "Nref", "S", "D", "I", "Nsubs",
                                                                            "Nfn", "Nfp")}}}
                        for level in ("frame", "1s", "event")}
            | {"legacy_1s": {"scenes": scenes_totals}}}


def test_report_pools_folds_by_adding_each_scenes_segment_sums():
    # fold 1: home 1.0 / 2 segments; fold 2: home 1.0 / 1 segment, street 0.5 / 2 segments
    # pooled: home 2.0 / 3, street 0.5 / 2 -> (2/3 + 1/4) / 2 = 11/24
    fold1 = _record("1", {"home": {"F1_sum": 1.0, "segments": 2, "skipped": 0}})
    fold2 = _record("2", {"home": {"F1_sum": 1.0, "segments": 1, "skipped": 3},
                          "street": {"F1_sum": 0.5, "segments": 2, "skipped": 0}})
    (row,) = summarize([RunRecord.from_json({"schema_version": SCHEMA_VERSION, **record}) for record in (fold1, fold2)])
    assert row.values["F1_1s_legacy"] == [pytest.approx(100 * 11 / 24)]


@dataclass(frozen=True)
class NoConfig:
    threshold: float = 0.5


class FixedDog(System):
    """A non-learning system that detects 'dog' in the first second of every clip."""

    name = "test-fixed-dog"
    paper = Paper(key="test", citation="test system")
    label_kind = LabelKind.STRONG
    Config = NoConfig
    profiles = {"quick": {}, "paper": {}}

    @classmethod

    def features(cls, config):
        return LogMelSpec(n_mels=8)

    def fit(self, train, valid):
        return {}

    def predict(self, clips):
        return [Detections([Event(0.0, 1.0, "dog")]) for _ in clips]


def test_a_dataset_with_scenes_gets_the_legacy_f1_in_its_record(tmp_path):
    root = tmp_path / "scenes"
    events = {"home/h1": "0\t1\tdog\n", "home/h2": "1\t2\tcat\n", "home/h3": "0\t1\tdog\n",
              "street/s1": "0\t2\tcat\n", "street/s3": "1\t2\tcat\n"}
    for index, (stem, rows) in enumerate(events.items()):
        (root / "audio" / stem).parent.mkdir(parents=True, exist_ok=True)
        level = 0.01 + 0.001 * index  # distinct recordings (a copy in test and training is refused as leakage)
        sf.write(root / "audio" / f"{stem}.wav", np.full(16000, level, np.float32), 8000, subtype="PCM_16")
        (root / "meta" / stem).parent.mkdir(parents=True, exist_ok=True)
        (root / "meta" / f"{stem}.ann").write_text(rows)
    setup = root / "evaluation_setup"
    setup.mkdir()
    (setup / "fold1_train.txt").write_text("audio/home/h1.wav\naudio/street/s1.wav\n")
    (setup / "fold1_validate.txt").write_text("audio/home/h2.wav\n")
    (setup / "fold1_test.txt").write_text("audio/home/h3.wav\naudio/street/s3.wav\n")
    registry.systems.add(FixedDog.name, FixedDog)
    record, path = run_job(JobSpec(system=FixedDog.name, dataset=str(root), device="cpu"),
                           Locations(tmp_path / "data", tmp_path / "cache", tmp_path / "runs"), log=lambda _: None)
    record = record.to_json()
    # home/h3: segment 0 R {dog} E {dog} -> 1, segment 1 empty -> skipped: home 100
    # street/s3: segment 0 R {} E {dog} -> 0, segment 1 R {cat} E {} -> 0: street 0; mean 50
    assert record["headline"]["F1_1s_legacy"] == pytest.approx(50.0)
    assert record["metrics"]["legacy_1s"]["scenes"] == {
        "home": {"F1": 100.0, "F1_sum": 1.0, "segments": 1, "skipped": 1},
        "street": {"F1": 0.0, "F1_sum": 0.0, "segments": 2, "skipped": 0},
    }
    assert record["dataset"]["name"] == "folder:scenes" and record["dataset"]["source"] == str(root)
    assert record["dataset"]["labels"] == ["cat", "dog"]
    assert path.relative_to(tmp_path / "runs").parts[:3] == ("folder:scenes", "test-fixed-dog", "fold1")
