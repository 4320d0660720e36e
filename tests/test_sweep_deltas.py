"""The sweep's intersection-based deltas equal sed_scores_eval's own, per file and class, and so do the PSDS, the
PSD-ROC and the best F1 computed from them."""

import warnings

import numpy as np
import pytest
from sed_scores_eval.base_modules.scores import create_score_dataframe
from sed_scores_eval.intersection_based import best_fscore, psds
from sed_scores_eval.intersection_based.intermediate_statistics import intermediate_statistics_deltas

from sedbench.scoring.sweep_deltas import dataset_deltas, intersection_deltas
from sedbench.scoring.threshold_free import INTERSECTION_F1, PSDS1, PSDS2

CRITERIA = ("dtc_threshold", "gtc_threshold", "cttc_threshold")


def random_case(seed: int, files: int = 4, classes: int = 3, frames: int = 160, hop: float = 512 / 22050):
    """Score tables at 1-3 decimals (ties), references with 3-decimal times; the first class has no events in the
    first file, and some frames of the last file score -inf (never detected)."""
    rng = np.random.default_rng(seed)
    labels = [f"c{k}" for k in range(classes)]
    tables, references = {}, {}
    for f in range(files):
        scores = np.round(rng.random((frames, classes)), int(rng.integers(1, 4)))
        if f == files - 1:
            scores[rng.random(frames) < 0.1, 0] = -np.inf
        tables[f"f{f}"] = create_score_dataframe(scores, np.arange(frames + 1) * hop, labels)
        events = []
        for label in labels:
            t = 0.0
            while True:
                onset = t + rng.exponential(1.0)
                offset = onset + rng.exponential(0.5) + 0.01
                if offset > frames * hop:
                    break
                events.append((round(onset, 3), round(offset, 3), label))
                t = offset + 0.01
        references[f"f{f}"] = [e for e in events if not (f == 0 and e[2] == labels[0])]
    return tables, references, dict.fromkeys(tables, frames * hop)


def parameters_for(parameters: dict, classes: int) -> dict:
    return {**parameters, "cttc_threshold": None, "alpha_ct": 0.0} if classes == 1 else dict(parameters)


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("parameters", [PSDS1, PSDS2], ids=["psds1", "psds2"])
def test_deltas_equal_the_library_file_by_file(seed, parameters):
    classes = 1 + seed % 4
    tables, references, _ = random_case(seed, classes=classes, hop=0.02 if seed % 2 else 512 / 22050)
    criteria = {key: parameters_for(parameters, classes)[key] for key in CRITERIA}
    expected = intermediate_statistics_deltas(tables, references, **criteria)
    found = intersection_deltas(tables, references, **criteria)
    assert found.keys() == expected.keys()
    for audio_id in expected:
        assert found[audio_id].keys() == expected[audio_id].keys()
        for label, (scores, deltas) in expected[audio_id].items():
            found_scores, found_deltas = found[audio_id][label]
            np.testing.assert_array_equal(found_scores, scores)
            assert found_deltas.keys() == deltas.keys()
            for key in deltas:
                np.testing.assert_array_equal(found_deltas[key], deltas[key], err_msg=f"{audio_id} {label} {key}")


@pytest.mark.parametrize("seed", range(8))
def test_psds_roc_and_best_f1_from_dataset_deltas_equal_the_library(seed):
    classes = 1 + seed % 4
    tables, references, durations = random_case(100 + seed, files=5, classes=classes)
    for parameters in (PSDS1, PSDS2):
        parameters = parameters_for(parameters, classes)
        deltas = dataset_deltas(tables, references, **{key: parameters[key] for key in CRITERIA})
        value, class_wise, roc, class_rocs = psds(scores=tables, ground_truth=references, audio_durations=durations,
                                                  unit_of_time="hour", **parameters)
        found = psds(scores=tables, ground_truth=references, audio_durations=durations, unit_of_time="hour",
                     deltas=deltas, **parameters)
        assert found[0] == value and found[1] == class_wise
        for expected_curve, found_curve in zip(roc, found[2]):
            np.testing.assert_array_equal(found_curve, expected_curve)
        for label in class_rocs:
            for expected_curve, found_curve in zip(class_rocs[label], found[3][label]):
                np.testing.assert_array_equal(found_curve, expected_curve)
    deltas = dataset_deltas(tables, references, **INTERSECTION_F1)
    expected = best_fscore(scores=tables, ground_truth=references, **INTERSECTION_F1)
    found = best_fscore(scores=tables, ground_truth=references, deltas=deltas, **INTERSECTION_F1)
    for expected_part, found_part in zip(expected[:4], found[:4]):
        assert found_part == expected_part


def test_a_hand_case_counts_what_the_criteria_say():
    """One reference event 1-3 s. Above 0.9 the detection is 1-3 s: a hit. From 0.2 down it is 0-4 s, half of it
    on the event, under the DTC of 0.7: a false alarm, and the event is missed again."""
    table = create_score_dataframe(np.array([[0.2], [0.9], [0.9], [0.2]]), np.arange(5.0), ["dog"])
    found = intersection_deltas({"a": table}, {"a": [(1.0, 3.0, "dog")]}, dtc_threshold=0.7, gtc_threshold=0.7)
    scores, deltas = found["a"]["dog"]
    np.testing.assert_array_equal(scores, [0.2, 0.9])
    np.testing.assert_array_equal(deltas["tps"], [-1, 1])
    np.testing.assert_array_equal(deltas["fps"], [1, 0])


def test_the_psds1_criteria_serve_the_best_intersection_f1():
    """threshold_free reuses PSDS1's deltas for the best intersection-based F1."""
    assert {key: PSDS1[key] for key in CRITERIA} == {**dict.fromkeys(CRITERIA), **INTERSECTION_F1}


def test_a_long_recording_gives_the_library_value():
    """Two 5-minute recordings at 20 ms, noisy scores: many detections at low thresholds, where the library's cost
    grows with the square of the length; the values are equal."""
    from scipy.ndimage import uniform_filter1d

    rng = np.random.default_rng(7)
    labels, hop, frames = ["a", "b"], 0.02, 15000
    tables, references = {}, {}
    for name in ("r1", "r2"):
        activity = np.zeros((frames, 2))
        events = []
        for k, label in enumerate(labels):
            for onset in np.sort(rng.choice(np.arange(0, 290, 10), 8, replace=False)):
                offset = onset + float(rng.uniform(1, 6))
                activity[int(onset / hop):int(offset / hop), k] = rng.uniform(0.0, 0.6)  # some too weak to find
                events.append((float(onset), round(offset, 3), label))
        scores = np.round(uniform_filter1d(activity + 0.4 * rng.random(activity.shape), 9, axis=0), 3)
        tables[name] = create_score_dataframe(scores, np.arange(frames + 1) * hop, labels)
        references[name] = events
    durations = dict.fromkeys(tables, frames * hop)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = psds(scores=tables, ground_truth=references, audio_durations=durations, unit_of_time="hour",
                        **PSDS2)[0]
    found = psds(scores=tables, ground_truth=references, audio_durations=durations, unit_of_time="hour",
                 deltas=dataset_deltas(tables, references, **{key: PSDS2[key] for key in CRITERIA}), **PSDS2)[0]
    assert found == expected and 0 < found < 1
