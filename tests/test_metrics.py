"""Metrics: hand-computed cases, and the fast segment counter against sed_eval itself."""

import math

import numpy as np
import pytest

from sedbench.core.data import Event
from sedbench.scoring.metrics import MetricSettings, score, score_tags
from sedbench.scoring.postprocess import PostProcessing, activity_to_events, grid_time

LABELS = ["a", "b"]


@pytest.mark.parametrize("backend", ["sed_eval", "fast"])
def test_segment_metrics_hand_computed(backend):
    # 1 s segments over 4 s. Reference: a in [0,2), b in [1,3). Estimate: a in [0,1), b in [1,4).
    ref = {"f": [Event(0.0, 2.0, "a"), Event(1.0, 3.0, "b")]}
    est = {"f": [Event(0.0, 1.0, "a"), Event(1.0, 4.0, "b")]}
    result = score(ref, est, {"f": 4.0}, LABELS, MetricSettings(frame_resolution=0.5), backend=backend)
    one = result["1s"]["overall"]
    # segments: s0 ref{a} est{a}; s1 ref{a,b} est{b}; s2 ref{b} est{b}; s3 ref{} est{b}
    # TP=3, FP=1, FN=1 -> P=R=0.75, F1=75 %
    assert one["F1"] == pytest.approx(75.0)
    # per segment: s1 D=1; s3 I=1 -> ER = (0+1+1)/4 = 0.5
    assert one["ER"] == pytest.approx(0.5)
    assert one["D"] == pytest.approx(0.25) and one["I"] == pytest.approx(0.25) and one["S"] == 0
    assert result["1s"]["class_wise"]["a"]["F1"] == pytest.approx(2 * 1 * 0.5 / 1.5 * 100)


@pytest.mark.parametrize("backend", ["sed_eval", "fast"])
def test_event_metrics_hand_computed(backend):
    # collar 200 ms; offset tolerance max(200 ms, 20 % of reference length)
    ref = {"f": [Event(1.0, 2.0, "a"), Event(5.0, 9.0, "b")]}
    est = {"f": [Event(1.15, 2.1, "a"), Event(5.1, 8.3, "b"), Event(3.0, 3.5, "a")]}
    result = score(ref, est, {"f": 10.0}, LABELS, MetricSettings(frame_resolution=0.02), backend=backend)
    ev = result["event"]["overall"]
    # a: onset within 0.15 s, offset within 0.1 s -> TP. b: offset off by 0.7 s (< 20 % of 4 s = 0.8 s) -> TP.
    # one extra 'a' -> FP. P = 2/3, R = 1 -> F1 = 80 %; ER = (0 + 0 + 1) / 2
    assert ev["F1"] == pytest.approx(80.0)
    assert ev["ER"] == pytest.approx(0.5)


@pytest.mark.parametrize("backend", ["sed_eval", "fast"])
def test_empty_estimate_scores_zero_f1_and_full_deletion(backend):
    ref = {"f": [Event(0.0, 1.0, "a")]}
    result = score(ref, {"f": []}, {"f": 2.0}, LABELS, MetricSettings(frame_resolution=0.02), backend=backend)
    assert result["frame"]["overall"]["F1"] == 0.0
    assert result["frame"]["overall"]["ER"] == pytest.approx(1.0)


def test_grid_time_round_trips_through_sed_eval_rounding():
    for hop in (0.02, 0.01, 1024 / 44100, 0.1):
        for i in range(0, 5000, 7):
            assert math.floor(grid_time(i, hop, "onset") * 1 / float(hop)) == i
            assert math.ceil(grid_time(i, hop, "offset") * 1 / float(hop)) == i


def test_activity_to_events_runs():
    active = np.array([0, 1, 1, 0, 0, 1, 0, 1, 1, 1], dtype=bool)
    events = activity_to_events(active, 0.5, "a")
    assert [(e.onset, e.offset) for e in events] == [(0.5, 1.5), (2.5, 3.0), (3.5, 5.0)]


def test_median_filter_removes_single_frame_blips():
    p = np.zeros((20, 1))
    p[5, 0] = 0.9  # isolated blip
    p[10:16, 0] = 0.9
    p[12, 0] = 0.1  # one-frame hole
    active = PostProcessing(median_filter_frames=3).binarize(p)
    assert not active[5, 0]
    assert active[10:16, 0].all()


def test_tags_with_commas_are_scored_as_one_label():
    """DCASE2017 task 4 labels contain commas ("Air horn, truck horn"); they must not be split into two tags."""
    labels = ["Air horn, truck horn", "Car"]
    scores = score_tags({"a": ("Air horn, truck horn",), "b": ("Car",), "c": ()},
                        {"a": np.array([0.1, 0.9]), "b": np.array([0.1, 0.9]), "c": np.array([0.1, 0.1])}, labels)
    # a: the reference tag is missed and "Car" is a false positive; b: a hit; c: nothing either way
    assert (scores["overall"]["precision"], scores["overall"]["recall"]) == (50.0, 50.0)
