"""The fast metric engine equals sed_eval 0.2.1 (to 1e-9) on hand, edge and random cases."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sedbench.core.data import Event
from sedbench.scoring.metrics import MetricSettings, score

TOLERANCE = 1e-9


def assert_same(a, b, path="scores"):
    """Recursive equality: numbers to 1e-9 (None/NaN equal each other), everything else exactly."""
    if isinstance(a, dict):
        assert set(a) == set(b), path
        for key in a:
            assert_same(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, float) or isinstance(b, float):
        if a is None or b is None or (isinstance(a, float) and math.isnan(a)):
            assert (a is None or math.isnan(a)) and (b is None or math.isnan(b)), path
        else:
            assert abs(a - b) <= TOLERANCE, f"{path}: {a} != {b}"
    else:
        assert a == b, path


def both(refs, ests, durations, labels, **kwargs):
    metric_settings = MetricSettings(**{"frame_resolution": 0.02, **kwargs})
    reference = score(refs, ests, durations, labels, metric_settings, backend="sed_eval")
    fast = score(refs, ests, durations, labels, metric_settings, backend="fast")
    assert_same(reference, fast)
    return fast


LABELS = ["a", "b", "c"]

EDGE_CASES = {
    "empty reference": ([], [Event(1.0, 2.0, "a")]),
    "empty estimate": ([Event(1.0, 2.0, "a")], []),
    "both empty": ([], []),
    "touching segment borders": ([Event(1.0, 2.0, "a"), Event(2.0, 3.0, "a")], [Event(0.98, 2.02, "a")]),
    "exact grid times": ([Event(0.06, 0.1, "b")], [Event(0.06, 0.1, "b"), Event(0.1, 0.14, "b")]),
    "zero-length events": ([Event(1.0, 1.0, "a"), Event(1.013, 1.013, "b")], [Event(1.0, 1.0, "a")]),
    "events past the file end": ([Event(8.0, 14.0, "a")], [Event(9.0, 12.5, "a"), Event(11.0, 13.0, "c")]),
    "substitution only": ([Event(1.0, 2.0, "a")], [Event(1.0, 2.0, "b")]),
    "one estimate for two references": ([Event(1.0, 2.0, "a"), Event(1.05, 2.05, "a")], [Event(1.02, 2.02, "a")]),
    "greedy differs from optimal": (  # greedy gives the first reference the estimate the second one needs
        [Event(1.0, 2.0, "a"), Event(1.35, 2.35, "a")],
        [Event(1.18, 2.18, "a"), Event(0.85, 1.85, "a")],
    ),
}


@pytest.mark.parametrize("matching", ["greedy", "optimal"])
@pytest.mark.parametrize("case", sorted(EDGE_CASES))
def test_sed_eval_edge_cases(case, matching):
    ref, est = EDGE_CASES[case]
    both({"f": ref}, {"f": est}, {"f": 10.0}, LABELS, event_matching=matching)
    both({"f": ref}, {"f": est}, None, LABELS, event_matching=matching)  # evaluated length = max offset


def test_optimal_matching_finds_more_than_greedy_where_it_should():
    ref, est = EDGE_CASES["greedy differs from optimal"]
    greedy = both({"f": ref}, {"f": est}, {"f": 10.0}, LABELS, event_matching="greedy", event_collar=0.2)
    optimal = both({"f": ref}, {"f": est}, {"f": 10.0}, LABELS, event_matching="optimal", event_collar=0.2)
    assert greedy["event"]["overall"]["counts"]["Ntp"] == 1
    assert optimal["event"]["overall"]["counts"]["Ntp"] == 2


@pytest.mark.parametrize("onset_only", [False, True])
def test_onset_only_and_percentage_of_length(onset_only):
    import sed_eval

    from sedbench.scoring.fast_metrics import FastEventBasedMetrics

    ref = [Event(1.0, 5.0, "a").as_sed_eval("f"), Event(6.0, 6.1, "b").as_sed_eval("f")]
    est = [Event(1.1, 3.9, "a").as_sed_eval("f"), Event(6.05, 7.0, "b").as_sed_eval("f")]
    kwargs = dict(t_collar=0.5, percentage_of_length=0.5, evaluate_offset=not onset_only)
    slow = sed_eval.sound_event.EventBasedMetrics(LABELS, **kwargs)
    fast = FastEventBasedMetrics(LABELS, **kwargs)
    slow.evaluate(ref, est)
    fast.evaluate(ref, est)
    assert slow.overall == fast.overall and slow.class_wise == fast.class_wise
    assert fast.overall["Ntp"] == (2 if onset_only else 1)


def _random_files(rng, n_files, labels, duration=30.0):
    refs, ests, durations = {}, {}, {}
    for n in range(n_files):
        name = f"audio/file_{n:03d}.wav"
        ref = []
        for _ in range(rng.integers(0, 12)):
            onset = float(rng.uniform(-0.0, duration))
            length = float(rng.choice([0.0, rng.uniform(0.01, 0.3), rng.uniform(0.3, 8)]))
            ref.append(Event(round(onset, int(rng.integers(2, 7))), round(onset + length, int(rng.integers(2, 7))),
                             str(rng.choice(labels))))
        est = []
        for event in ref:  # perturbed copies, some relabelled, plus false alarms
            if rng.random() < 0.7:
                jitter = rng.normal(0, 0.25, 2)
                label = event.label if rng.random() < 0.8 else str(rng.choice(labels))
                onset = max(0.0, event.onset + float(jitter[0]))
                est.append(Event(onset, max(onset, event.offset + float(jitter[1])), label))
        for _ in range(rng.integers(0, 5)):
            onset = float(rng.uniform(0, duration + 2))
            est.append(Event(onset, onset + float(rng.uniform(0, 5)), str(rng.choice(labels))))
        rng.shuffle(est)
        refs[name], ests[name], durations[name] = ref, est, duration
    return refs, ests, durations


@pytest.mark.parametrize("matching", ["greedy", "optimal"])
def test_random_files_equal_sed_eval(matching):
    rng = np.random.default_rng(2017)
    labels = [f"class {k}" for k in range(6)]
    refs, ests, durations = _random_files(rng, 250, labels)
    result = both(refs, ests, durations, labels, event_matching=matching)
    assert result["event"]["overall"]["counts"]["Nref"] > 1000


@settings(max_examples=120, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_files=st.integers(1, 4),
    resolution=st.sampled_from([0.02, 0.1, 1.0, 1024 / 44100]),
    collar=st.sampled_from([0.05, 0.2, 0.5]),
    percentage=st.sampled_from([0.0, 0.2, 0.5, 1.0]),
    matching=st.sampled_from(["greedy", "optimal"]),
)
def test_property_fast_equals_sed_eval(seed, n_files, resolution, collar, percentage, matching):
    rng = np.random.default_rng(seed)
    refs, ests, durations = _random_files(rng, n_files, LABELS, duration=float(rng.uniform(1, 20)))
    both(refs, ests, durations, LABELS, frame_resolution=resolution, event_collar=collar,
         event_offset_percentage=percentage, event_matching=matching)
