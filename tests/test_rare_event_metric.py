"""DCASE2017 task 2's evaluation: onset-only event matching with a 500 ms collar, per class, then averaged."""

import pytest

from sedbench.core.data import Event
from sedbench.scoring.metrics import headline, score_rare_events

REFERENCE = {
    "a1": [Event(1.0, 2.0, "a")],
    "a2": [Event(5.0, 6.0, "a")],
    "a3": [],
    "b1": [Event(2.0, 3.0, "b")],
}
ESTIMATE = {
    "a1": [Event(1.4, 9.0, "a")],  # onset 0.4 s late, offset far off: a hit (offsets are not evaluated)
    "a2": [Event(5.6, 6.0, "a")],  # onset 0.6 s late: a miss and a false alarm
    "a3": [Event(3.0, 4.0, "a")],  # nothing to find: a false alarm
    "b1": [Event(2.5, 3.0, "b"), Event(0.0, 1.0, "a")],  # 0.5 s is inside the collar; "a" here is not a's mixture
}
TARGETS = {"a1": "a", "a2": "a", "a3": "a", "b1": "b"}


def test_each_class_is_scored_on_its_own_mixtures():
    scores = score_rare_events(REFERENCE, ESTIMATE, ["a", "b"], TARGETS)
    a, b = scores["class_wise"]["a"], scores["class_wise"]["b"]
    assert a["counts"] == {"Nref": 2.0, "Nsys": 3.0, "Ntp": 1.0, "Nfp": 2.0, "Nfn": 1.0}
    assert a["ER"] == pytest.approx(1.5)  # (FN + FP) / Nref
    assert a["F1"] == pytest.approx(40.0)  # P 1/3, R 1/2
    assert a["clips"] == 3
    assert b["ER"] == pytest.approx(0.0) and b["F1"] == pytest.approx(100.0)
    assert scores["average"] == {"ER": pytest.approx(0.75), "F1": pytest.approx(70.0)}
    assert scores["collar"] == 0.5 and scores["evaluate_offset"] is False


def test_without_target_classes_every_clip_counts_for_every_class():
    scores = score_rare_events(REFERENCE, ESTIMATE, ["a", "b"])
    a = scores["class_wise"]["a"]
    assert a["counts"]["Nfp"] == 3.0 and a["clips"] == 4  # b1's "a" detection is now a false alarm
    assert a["ER"] == pytest.approx(2.0)


def test_a_wider_collar_turns_the_late_onset_into_a_hit():
    scores = score_rare_events(REFERENCE, ESTIMATE, ["a", "b"], TARGETS, collar=1.0)
    assert scores["class_wise"]["a"]["counts"]["Ntp"] == 2.0


def test_headline_carries_the_class_averages():
    rare = score_rare_events(REFERENCE, ESTIMATE, ["a", "b"], TARGETS)
    scores = {level: {"overall": {"F1": 50.0, "ER": 0.5}} for level in ("frame", "1s", "event")}
    scores["rare"] = rare
    head = headline(scores)
    assert head["ER_rare"] == pytest.approx(0.75) and head["F1_rare"] == pytest.approx(70.0)
