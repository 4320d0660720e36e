"""sedbench's PSDS checked against sed_scores_eval called directly and against psds_eval 0.5.3 on psds_eval's own
published test cases.

sedbench computes every threshold-independent score through sed_scores_eval 0.0.4 (``bench/scoring/threshold_free.py``)
and so follows sed_scores_eval's definitions wherever the two libraries differ. psds_eval 0.5.3 is the older reference
implementation of PSDS (Bilen et al., ICASSP 2020); its published cases and expected values are copied from its
repository, tag v0.5.3 (``tests/data/psds_eval/README.md``). Each of those cases is one set of detections, i.e. one
operating point, scored with ``PSDSEval(dtc_threshold=0.5, gtc_threshold=0.5, cttc_threshold=0.3)`` and
``psds(alpha_ct=0, alpha_st=0, max_efpr=100)``.

Tolerances, and where they are documented
-----------------------------------------
* psds_eval's own tests compare its values with ``pytest.approx`` (relative 1e-6): used for its published values.
* sed_scores_eval's ``tests/test_intersection_based/test_psds.py`` (fgnt/sed_scores_eval) feeds psds_eval the
  detections at every threshold where sed_scores_eval's curve changes (minus 1e-15) and asserts
  ``1e-3 > psds - psds_eval >= 0`` and that its PSD-ROC lies above psds_eval's by less than 2e-2 (with
  ``alpha_st <= 1/sqrt(K - 1)``, K classes). Those bounds are asserted here (with 1e-12 of room below 0 for
  floating-point rounding); on every case below the measured difference is in fact at most 2.2e-16, so the tests also
  assert agreement to 1e-12.

Differences between psds_eval 0.5.3 and sed_scores_eval 0.0.4, their size on the published cases, and what sedbench
does
-----------------------------------------------------------------------------------------------------------------------
1. Curve resolution. psds_eval builds the PSD-ROC from the operating points it is given (typically detections at
   50 thresholds), so its PSDS approximates the curve; sed_scores_eval computes the exact curve over every threshold
   of the scores (README: "Performance curves can at most be approximated using a limited subset of thresholds").
   The exact value is >= the approximation (for alpha_st <= 1/sqrt(K - 1)). Published cases: each is a single
   operating point, so there is nothing to approximate; difference 0 (at most 2.2e-16). On the synthetic nested
   case below (scores in steps of 0.05, change points 0.55-0.75): 0 when psds_eval gets every change point; at the
   thresholds 0.3, 0.5, 0.7, 0.9 psds_eval underestimates PSDS1 by 0.3889 (0.2444 vs 0.6333) and PSDS2 by 0.1946
   (0.7405 vs 0.9351). sedbench: exact curve (sed_scores_eval).
2. Threshold comparison. A point of sed_scores_eval's curve at score s stands for the detections ``score >= s``,
   while ``sed_scores_eval...detection.scores_to_event_list`` (which writes psds_eval's detection files) detects
   ``score > threshold``; sed_scores_eval's test therefore passes ``thresholds - 1e-15``. No effect on the published
   cases (they are detections, not scores).
3. Events as scores: the extra "everything active" operating point. sed_scores_eval evaluates a threshold at every
   distinct score value, the lowest included, so a finite score for "inactive" adds one more operating point at which
   every class is active over every whole clip; only -inf scores never become detections
   (``detection.onset_deltas`` multiplies by ``scores > -inf``). Scoring events as 0/1 score tables therefore scores
   the union of their operating point and that all-active one: measured against psds_eval at the one point on the
   published files, PSDS1 was equal on all six, PSDS2 higher by 0.121-0.486 on five (test_1 +0.390873, test_2
   +0.390873, test_3 +0.485714, test_4 +0.339204, Y23R6 +0.121429; the DCASE validation set 0), and with the
   published parameters test_2 gained 0.161905 (``test_zero_for_inactive_adds_an_all_active_operating_point``).
   With -inf for inactive, sed_scores_eval equals psds_eval on every published case and parameter set where it runs
   (difference <= 2.2e-16), but see 4. sedbench: a system's detections are scored by psds_eval at their one
   operating point (``threshold_free.operating_point_scores``); no class-wise PSDS (psds_eval has none).
4. A class whose detections never change any count (no change point in any clip) makes sed_scores_eval 0.0.4 fail
   with ``IndexError`` in ``_unique_cummax_sort`` (``intersection_based/psds.py``): the statistics
   ``_intermediate_statistics_from_deltas`` (``base_modules/statistics.py``) returns are empty, because
   ``np.zeros_like(deltas_unique[:1])`` is empty when there are no deltas (the same code is in fgnt/sed_scores_eval's
   master of 2026-02). Only -inf scores reach it (with finite scores the lowest one always detects something), e.g.
   a class a system never detects. Published cases: test_2 with dtc=gtc=0.5 and with PSDS1's parameters (class c2's
   only detection passes the DTC but not the GTC). psds_eval scores that case, and so does sedbench.
5. Classes without reference events. psds_eval takes its classes from the ground truth (plus ``class_names``);
   sed_scores_eval refuses any class with no ground-truth event (``AssertionError: No ground truth events for
   classes [...]``), and counts TPR = TP / max(n_ref, 1). Published case ``test_det_on_file_no_gt``: psds_eval 0.0,
   sed_scores_eval raises. sedbench leaves such classes out of its threshold-independent scores and names them
   (``classes_without_references``); with none left there are no such scores.
6. Touching same-class events. psds_eval 0.5.3 refuses overlapping same-class events (``PSDSEvalError``) but accepts
   touching ones and counts them as separate events; sed_scores_eval refuses reference events that overlap or touch
   (``AssertionError: Connected/overlapping ... events``), and a score table cannot hold two touching detections of
   one class (they merge). sedbench merges such reference events and such detections (``merged_references``).
   Published files ``test_1_nonoverlap.{gt,det}``: psds_eval counts 2 c1 references (both hit), sedbench 1 merged
   reference (hit); PSDS 0.914286 both, difference 2.2e-16.
7. Floating point. sed_scores_eval rounds intersections and ``threshold * length`` to ``time_decimals=6`` before the
   DTC/GTC/CTTC comparisons; psds_eval compares raw float ratios. No effect on the published cases.
8. Parameters. psds_eval accepts a cttc_threshold with alpha_ct = 0 (unused); sed_scores_eval raises ``ValueError``
   for it (so sedbench's PSDS1 has ``cttc_threshold=None``) and requires one when alpha_ct > 0. psds_eval also offers
   linear interpolation of the PSD-ROC (``en_interp=True``); sed_scores_eval only the staircase, which is psds_eval's
   default, and both close the staircase at max_efpr with the last eTPR. Same definitions otherwise: DTC and GTC
   ratios, cross-trigger rate over the other class's total reference duration, eFPR = FPR + alpha_ct * mean CTR over
   the other classes, eTPR = mean - alpha_st * std (numpy's std, ddof 0), clipped at 0, per-class curves made
   monotone (cummax) and read as steps ("previous") on the union of eFPR values.
9. Metadata. psds_eval drops duplicate file names from its metadata table: ``baseline_validation_metadata.csv`` has
   4251 rows for 1168 files, so the dataset lasts 11680 s (3.24 h), not 42510 s. sedbench and sed_scores_eval take
   durations as a dict keyed by file, so the same deduplication is applied here.
10. Versions. psds_eval 0.4.0 corrected overlapping labels in ``baseline_validation_gt.csv`` (and its published
    multi-operating-point value moved from 0.07211376 to 0.07224284); the published single-operating-point value on
    the DCASE validation set (0.0044306914546640595) is the same in v0.3.0 and v0.5.3. The values and files used here
    are v0.5.3's.

psds_eval 0.5.3 imports and runs with numpy 2.3 and pandas 2.3 as they are; no shim is needed. It warns: numpy's
DeprecationWarning for ``int(np.argwhere(...))`` in ``PSDSEval._auc`` (an error in a future numpy), pandas'
FutureWarning for ``fillna(method="ffill")`` in ``PSDSEval.step_curve`` (it raises in pandas 3, which sedbench's
``pandas<3`` pin keeps out) and for ``pd.concat`` with empty frames in ``_update_world_detections``; those warnings
are silenced here (and in ``operating_point_scores``). psds_eval is a dependency of sedbench (detections' PSDS); the
tests that need it still skip, saying so, where another version is installed.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sedbench.core.data import Event
from sedbench.core.outputs import Detections, FrameActivity
from sedbench.scoring.evaluate import score_threshold_free
from sedbench.scoring.threshold_free import (
    COLLAR_F1,
    INTERSECTION_F1,
    PSDS1,
    PSDS2,
    SEGMENT_SECONDS,
    audio_ids,
    merged_references,
    operating_point_scores,
    score_tables,
    threshold_free_scores,
)

pytestmark = [
    pytest.mark.filterwarnings("ignore:Conversion of an array with ndim > 0 to a scalar:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:.*fillna with 'method' is deprecated:FutureWarning"),
    pytest.mark.filterwarnings("ignore:The behavior of DataFrame concatenation with empty or all-NA:FutureWarning"),
]

DATA = Path(__file__).parent / "data" / "psds_eval"

# psds_eval 0.5.3, tests/test_psds_examples.py: the test, its files and the value it asserts for
# PSDSEval(dtc_threshold=0.5, gtc_threshold=0.5, cttc_threshold=0.3).psds(0.0, 0.0, 100.0)
PUBLISHED = {
    "test_1": ("test_example_1_paper_icassp", "test_1.det", "test_1.gt", "test.metadata", 0.9142857142857143),
    "test_2": ("test_example_2_paper_icassp", "test_2.det", "test_2.gt", "test.metadata", 0.29047619047619044),
    "test_3": ("test_example_3_paper_icassp", "test_3.det", "test_3.gt", "test.metadata", 0.6238095238095237),
    "test_4": ("test_example_4", "test_4.det", "test_4.gt", "test.metadata", 0.5),
    "Y23R6": ("test_files_from_dcase", "Y23R6_ppquxs_247.000_257000.det", "Y23R6_ppquxs_247.000_257000.gt",
              "test.metadata", 0.6089285714285714),
    "dcase_validation": ("test_full_dcase_validset", "baseline_validation_AA_0.005.csv.gz",
                         "baseline_validation_gt.csv.gz", "baseline_validation_metadata.csv.gz",
                         0.0044306914546640595),
}
# the same parameters in sed_scores_eval's terms (it refuses a cttc_threshold when alpha_ct is 0)
PUBLISHED_PARAMETERS = {"dtc_threshold": 0.5, "gtc_threshold": 0.5, "cttc_threshold": None, "alpha_ct": 0.0,
                        "alpha_st": 0.0, "max_efpr": 100.0}
PARAMETER_SETS = {"published": PUBLISHED_PARAMETERS, "psds1": PSDS1, "psds2": PSDS2}

# Measured here, not published: psds_eval 0.5.3 at its one operating point with sedbench's PSDS1 / PSDS2 parameters
# (sedbench's values for these events), and sed_scores_eval's for the events as 0/1 score tables (difference 3).
ONE_POINT = {
    "test_1": {"psds1": 0.0, "psds2": 0.19526214587563495},
    "test_2": {"psds1": 0.0, "psds2": 0.19526214587563495},
    "test_3": {"psds1": 0.17015701283448187, "psds2": 0.0},
    "test_4": {"psds1": 0.0, "psds2": 0.23936376976732027},
    "Y23R6": {"psds1": 0.21785714285714286, "psds2": 0.75},
    "dcase_validation": {"psds1": 0.0, "psds2": 0.0},
}
ZERO_FOR_INACTIVE = {
    "test_1": {"psds1": 0.0, "psds2": 0.586134817878898},
    "test_2": {"psds1": 0.0, "psds2": 0.586134817878898},
    "test_3": {"psds1": 0.17015701283448187, "psds2": 0.48571428571428577},
    "test_4": {"psds1": 0.0, "psds2": 0.57856819654246},
    "Y23R6": {"psds1": 0.21785714285714286, "psds2": 0.8714285714285714},
    "dcase_validation": {"psds1": 0.0, "psds2": 0.0},
}
NO_CHANGE_POINT = "sed_scores_eval 0.0.4 fails on a class with no change point (difference 4 of the module docstring)"


@pytest.fixture(scope="module")
def PSDSEval():
    psds_eval = pytest.importorskip("psds_eval", reason="psds_eval (the PSDS reference implementation) is not "
                                                       "installed; pip install psds_eval==0.5.3")
    if psds_eval.__version__ != "0.5.3":
        pytest.skip(f"the published values are psds_eval 0.5.3's; psds_eval {psds_eval.__version__} is installed")
    return psds_eval.PSDSEval


@dataclass(frozen=True)
class Case:
    detections: pd.DataFrame
    ground_truth: pd.DataFrame
    metadata: pd.DataFrame  # as published (psds_eval drops duplicate file names itself)

    @property
    def files(self) -> list[str]:
        return list(self.metadata.drop_duplicates("filename").filename)

    @property
    def durations(self) -> dict[str, float]:
        first = self.metadata.drop_duplicates("filename")
        return dict(zip(first.filename, first.duration.astype(float)))

    @property
    def labels(self) -> list[str]:
        return sorted(self.ground_truth.dropna().event_label.unique())

    def events(self, table: str) -> dict[str, list[Event]]:
        frame = getattr(self, table).dropna()
        by_file = {f: [] for f in self.files}
        for row in frame.itertuples():
            by_file[row.filename].append(Event(float(row.onset), float(row.offset), row.event_label))
        return by_file


@lru_cache(maxsize=None)
def published_case(name: str) -> Case:
    _, det, gt, meta, _ = PUBLISHED[name]
    return Case(*(pd.read_csv(DATA / f, sep="\t") for f in (det, gt, meta)))


def all_active(case: Case) -> pd.DataFrame:
    """The detections of the extra operating point of 0/1 score tables: every class over every whole clip (to the
    later of the clip's end and its last detection's offset, as ``event_tables`` lays out its grid)."""
    ends = case.detections.groupby("filename").offset.max().to_dict()
    rows = [(f, 0.0, max(duration, ends.get(f, 0.0)), label) for f, duration in case.durations.items()
            for label in case.labels]
    return pd.DataFrame(rows, columns=["filename", "onset", "offset", "event_label"])


def psds_eval_value(PSDSEval, case: Case, parameters: dict, *operating_points: pd.DataFrame) -> float:
    evaluator = PSDSEval(dtc_threshold=parameters["dtc_threshold"], gtc_threshold=parameters["gtc_threshold"],
                         cttc_threshold=1.0 if parameters["cttc_threshold"] is None else parameters["cttc_threshold"],
                         ground_truth=case.ground_truth, metadata=case.metadata)
    for detections in operating_points or (case.detections,):
        evaluator.add_operating_point(detections)
    return evaluator.psds(alpha_ct=parameters["alpha_ct"], alpha_st=parameters["alpha_st"],
                          max_efpr=parameters["max_efpr"]).value


def references_and_durations(case: Case) -> tuple[dict, dict]:
    """The reference events (merged as sedbench merges them) and durations, keyed by audio id."""
    ids, reference = audio_ids(case.files), case.events("ground_truth")
    return (merged_references({ids[f]: reference[f] for f in case.files}),
            {ids[f]: case.durations[f] for f in case.files})


def sedbench_event_scores(case: Case) -> dict | None:
    """What a run records for a system whose outputs are these detections."""
    files, detected = case.files, case.events("detections")
    return score_threshold_free([Detections(detected[f]) for f in files], files, [case.durations[f] for f in files],
                                case.events("ground_truth"), tuple(case.labels))


def event_tables(case: Case, inactive: float) -> dict:
    """The detections as sed_scores_eval score tables on the grid of their boundaries: 1 where detected,
    ``inactive`` elsewhere (-inf: exactly one operating point; 0: also the all-active one)."""
    from sed_scores_eval.base_modules.scores import create_score_dataframe

    ids, detected, labels = audio_ids(case.files), case.events("detections"), case.labels
    tables = {}
    for f, duration in case.durations.items():
        events = detected[f]
        end = max([duration] + [e.offset for e in events])
        stamps = np.unique(np.round([0.0, end] + [t for e in events for t in (e.onset, e.offset)], 6))
        values = np.full((len(stamps) - 1, len(labels)), inactive)
        for e in events:
            first, last = np.searchsorted(stamps, [round(e.onset, 6), round(e.offset, 6)])
            values[first:last, labels.index(e.label)] = 1.0
        tables[ids[f]] = create_score_dataframe(values, stamps, labels)
    return tables


def sed_scores_eval_psds(tables: dict, references: dict, durations: dict, parameters: dict):
    from sed_scores_eval import intersection_based

    return intersection_based.psds(scores=tables, ground_truth=references, audio_durations=durations,
                                   unit_of_time="hour", **parameters)


def assert_documented_agreement(exact: float, approximation: float) -> None:
    """sed_scores_eval's documented bound against psds_eval (0 <= exact - psds_eval < 1e-3), and the agreement
    measured on these cases (1e-12)."""
    assert -1e-12 <= exact - approximation < 1e-3
    assert exact == pytest.approx(approximation, abs=1e-12)


# --- (b) psds_eval on its own published cases ---


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_psds_eval_reproduces_its_published_value(PSDSEval, name):
    expected = PUBLISHED[name][-1]
    case = published_case(name)
    assert psds_eval_value(PSDSEval, case, PUBLISHED_PARAMETERS) == pytest.approx(expected)


def _one_point_cases():
    for name in PUBLISHED:
        for parameters in PARAMETER_SETS:
            marks = []
            if name == "test_2" and parameters in ("published", "psds1"):
                marks = [pytest.mark.xfail(raises=IndexError, strict=True, reason=NO_CHANGE_POINT)]
            yield pytest.param(name, parameters, marks=marks, id=f"{name}-{parameters}")


@pytest.mark.parametrize("name,parameters", list(_one_point_cases()))
def test_sed_scores_eval_at_the_one_operating_point_equals_psds_eval(PSDSEval, name, parameters):
    case = published_case(name)
    references, durations = references_and_durations(case)
    reference_value = psds_eval_value(PSDSEval, case, PARAMETER_SETS[parameters])
    value, _, (etpr, efpr), _ = sed_scores_eval_psds(event_tables(case, -np.inf), references, durations,
                                                    PARAMETER_SETS[parameters])
    assert_documented_agreement(value, reference_value)
    if parameters == "published":
        assert value == pytest.approx(PUBLISHED[name][-1])
    else:
        assert value == pytest.approx(ONE_POINT[name][parameters], abs=1e-12)
    if name == "test_1" and parameters == "published":
        # psds_eval's tests/test_psds.py::test_full_psds also publishes this PSD-ROC: xp [0, 12.857], yp [1/3, 1];
        # sed_scores_eval closes the staircase with a point at max_efpr
        np.testing.assert_allclose(efpr, [0.0, 12.857142857142858, 100.0])
        np.testing.assert_allclose(etpr, [1 / 3, 1.0, 1.0])


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_sedbench_scores_detections_by_psds_eval_at_their_one_operating_point(PSDSEval, name):
    case = published_case(name)
    result = sedbench_event_scores(case)
    assert result["library"] == "psds_eval" and result["operating_points"] == 1
    assert result["classes_without_references"] == []
    for key, parameters in (("psds1", PSDS1), ("psds2", PSDS2)):
        assert result[key]["parameters"] == parameters
        assert result[key]["value"] == pytest.approx(ONE_POINT[name][key], abs=1e-12)
        assert result[key]["value"] == pytest.approx(psds_eval_value(PSDSEval, case, parameters), abs=1e-12)
        curve = result[key]["curve"]
        assert len(curve["efpr"]) == 101 and curve["etpr"] == sorted(curve["etpr"])  # a staircase read at 0..100


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_zero_for_inactive_adds_an_all_active_operating_point(PSDSEval, name):
    """Why detections do not go through sed_scores_eval as 0/1 scores: it scores the union of their operating point
    and the all-active one (difference 3)."""
    case = published_case(name)
    tables, (references, durations) = event_tables(case, 0.0), references_and_durations(case)
    for key, parameters in (("psds1", PSDS1), ("psds2", PSDS2)):
        value = sed_scores_eval_psds(tables, references, durations, parameters)[0]
        two_points = psds_eval_value(PSDSEval, case, parameters, case.detections, all_active(case))
        assert value == pytest.approx(ZERO_FOR_INACTIVE[name][key], abs=1e-12)
        assert value == pytest.approx(two_points, abs=1e-12)
    # and with psds_eval's published parameters: only test_2 gains (its c2 reference is hit by the whole-clip c2
    # detection, 50 s of test2.wav against 25 s of reference, at 4 false positives in 280 s = 51.4 per hour)
    value = sed_scores_eval_psds(tables, references, durations, PUBLISHED_PARAMETERS)[0]
    expected = PUBLISHED[name][-1] + (0.16190476190476188 if name == "test_2" else 0.0)
    assert value == pytest.approx(expected, abs=1e-12)


def test_touching_events_count_apart_in_psds_eval_and_merged_in_sedbench(PSDSEval):
    case = Case(*(pd.read_csv(DATA / f, sep="\t") for f in
                  ("test_1_nonoverlap.det", "test_1_nonoverlap.gt", "test.metadata")))
    evaluator = PSDSEval(dtc_threshold=0.5, gtc_threshold=0.5, cttc_threshold=0.3, ground_truth=case.ground_truth,
                         metadata=case.metadata)
    evaluator.add_operating_point(case.detections)
    assert evaluator.operating_points.counts[0][0, 0] == 2  # both touching c1 references hit
    reference_value = evaluator.psds(0.0, 0.0, 100.0).value
    references, durations = references_and_durations(case)
    assert references["test"] == [(2.0, 30.0, "c1"), (12.0, 35.0, "c2"), (42.0, 47.0, "c3")]
    detections = merged_references(case.events("detections"))["test.wav"]
    assert [event[:2] for event in detections if event[2] == "c1"] == [(0.0, 30.0), (40.0, 45.0)]  # 0-19 + 19-30
    value, _, _, single_class = sed_scores_eval_psds(event_tables(case, -np.inf), references, durations,
                                                     PUBLISHED_PARAMETERS)
    assert single_class["c1"][0].max() == 1.0  # the one merged reference, hit
    assert reference_value == pytest.approx(0.9142857142857143)
    assert_documented_agreement(value, reference_value)
    result = sedbench_event_scores(case)  # psds_eval on the merged events: the same as on the touching ones
    for key, parameters in (("psds1", PSDS1), ("psds2", PSDS2)):
        assert result[key]["value"] == pytest.approx(psds_eval_value(PSDSEval, case, parameters), abs=1e-12)


@pytest.mark.filterwarnings("ignore:Mean of empty slice:RuntimeWarning")  # psds_eval: no other class to average
@pytest.mark.filterwarnings("ignore:Degrees of freedom <= 0 for slice:RuntimeWarning")
def test_a_class_without_reference_events_is_scored_by_psds_eval_refused_by_sed_scores_eval_left_out_by_sedbench(
        PSDSEval):
    # psds_eval 0.5.3 tests/test_psds_examples.py::test_det_on_file_no_gt
    detections = pd.DataFrame({"filename": ["test.wav"], "onset": [2.4], "offset": [5.9], "event_label": ["c1"]})
    ground_truth = pd.DataFrame(columns=["filename", "onset", "offset", "event_label"])
    metadata = pd.DataFrame({"filename": ["test.wav"], "duration": [10.0]})
    evaluator = PSDSEval(class_names=["c1"], ground_truth=ground_truth, metadata=metadata)
    evaluator.add_operating_point(detections)
    assert evaluator.psds(0.0, 0.0, 100.0).value == pytest.approx(0.0)
    tables = score_tables([FrameActivity(np.array([[0.0], [1.0]]), 5.0)], ["test.wav"], ["c1"])
    with pytest.raises(AssertionError, match=r"No ground truth events for classes \['c1'\]"):
        sed_scores_eval_psds(tables, {"test": []}, {"test": 10.0}, PSDS1)
    for outputs in ([Detections([Event(2.4, 5.9, "c1")])], [FrameActivity(np.array([[0.0], [1.0]]), 5.0)]):
        assert score_threshold_free(outputs, ["test.wav"], [10.0], {"test.wav": []}, ("c1",)) is None


# --- nested operating points and score tables: sed_scores_eval's own comparison with psds_eval ---


def synthetic(seed: int, labels=("dog", "rain"), clips=4, frames=120, hop=1.0, levels=None):
    """Frame scores that follow sparse reference events through noise, and those references (by clip id)."""
    rng = np.random.default_rng(seed)
    outputs, references = [], {}
    for i in range(clips):
        activity, events = np.zeros((frames, len(labels))), []
        for k, label in enumerate(labels):
            t = 0.0
            while True:
                onset = t + rng.uniform(10, 60)
                offset = onset + rng.uniform(1, 8)
                if offset > frames * hop:
                    break
                events.append(Event(round(onset, 3), round(offset, 3), label))
                activity[int(onset / hop):int(np.ceil(offset / hop)), k] = 1.0
                t = offset
        scores = 0.4 * activity + 0.6 * rng.random(activity.shape)
        scores = np.apply_along_axis(lambda x: np.convolve(x, np.ones(3) / 3, "same"), 0, scores)
        if levels:
            scores = np.round(scores * levels) / levels
        outputs.append(FrameActivity(np.clip(scores, 0.0, 1.0), hop))
        references[f"clip{i}.wav"] = events
    return list(labels), list(references), outputs, [frames * hop] * clips, references


def frame_inputs(seed: int, **kwargs):
    labels, clips, outputs, durations, events = synthetic(seed, **kwargs)
    ids = audio_ids(clips)
    tables = score_tables(outputs, clips, labels)
    references = merged_references({ids[c]: events[c] for c in clips})
    return tables, references, {ids[c]: d for c, d in zip(clips, durations)}, labels


def test_nested_operating_points_are_one_score_table(PSDSEval):
    """sed_scores_eval's test_psds_vs_psds_eval on sedbench's frame-score path: psds_eval fed the detections at every
    change point of the exact curve (minus 1e-15, difference 2) gives sedbench's PSDS; fewer thresholds give less."""
    from sed_scores_eval.intersection_based.reference import approximate_psds
    from sed_scores_eval.utils.test import assert_roc_geq_roc_ref

    tables, references, durations, labels = frame_inputs(0, levels=20)
    assert len(labels) == 2  # alpha_st = 1 = 1/sqrt(K - 1): the exact curve bounds any approximation from above
    result = threshold_free_scores(tables, references, durations, labels)
    assert result["operating_points"] is None and result["library"] == "sed_scores_eval"
    coarse = np.array([0.3, 0.5, 0.7, 0.9])
    expected = {"psds1": (0.6333333333333333, 0.24444444444444444), "psds2": (0.9351242989602917, 0.7404971958411672)}
    for key, parameters in (("psds1", PSDS1), ("psds2", PSDS2)):
        value, _, roc, single_class = sed_scores_eval_psds(tables, references, durations, parameters)
        assert result[key]["value"] == value == pytest.approx(expected[key][0], abs=1e-12)
        change_points = np.unique(np.concatenate([roc[2] for roc in single_class.values()]))
        change_points = change_points[np.isfinite(change_points)]
        assert len(change_points) >= 3
        every, _, every_roc, _ = approximate_psds(tables, references, durations, thresholds=change_points - 1e-15,
                                                  unit_of_time="hour", **parameters)
        assert_documented_agreement(value, every)
        assert_roc_geq_roc_ref(roc, every_roc, key, upper_bound=2e-2)  # sed_scores_eval's test's bound on the curve
        fewer, *_ = approximate_psds(tables, references, durations, thresholds=coarse, unit_of_time="hour",
                                     **parameters)
        assert fewer == pytest.approx(expected[key][1], abs=1e-12)
        assert value - fewer > 0.1


# --- (a) sedbench's scores are sed_scores_eval's, called directly on the same inputs ---


def _number(value):
    value = float(value)
    return value if np.isfinite(value) else None


def test_operating_point_scores_equal_psds_eval_called_directly(PSDSEval):
    from sed_scores_eval.base_modules.detection import scores_to_event_list

    tables, references, durations, labels = frame_inputs(1, labels=("dog", "rain", "car"))
    detected = scores_to_event_list(tables, 0.5)  # the scores detected at 0.5, as a system that outputs events
    assert sum(map(len, detected.values())) > 20
    result = operating_point_scores(detected, references, durations, labels)
    columns = ["filename", "onset", "offset", "event_label"]
    truth = pd.DataFrame([(k, *e) for k, events in references.items() for e in events], columns=columns)
    metadata = pd.DataFrame(list(durations.items()), columns=["filename", "duration"])
    for key, p in (("psds1", PSDS1), ("psds2", PSDS2)):
        evaluator = PSDSEval(dtc_threshold=p["dtc_threshold"], gtc_threshold=p["gtc_threshold"],
                             cttc_threshold=p["cttc_threshold"] or 0.0, ground_truth=truth, metadata=metadata)
        evaluator.add_operating_point(pd.DataFrame([(k, *e) for k, events in detected.items() for e in events],
                                                   columns=columns))
        psds = evaluator.psds(alpha_ct=p["alpha_ct"], alpha_st=p["alpha_st"], max_efpr=p["max_efpr"])
        assert result[key]["value"] == psds.value and 0.0 < psds.value < 1.0
        assert result[key]["parameters"] == p and result[key]["class_wise"] == dict.fromkeys(labels)
        grid = np.arange(101.0)
        expected = [max([y for x, y in zip(psds.plt.xp, psds.plt.yp) if x <= g], default=0.0) for g in grid]
        np.testing.assert_allclose(result[key]["curve"]["etpr"], expected, atol=5e-7, rtol=0)
    assert set(result) == {"library", "operating_points", "classes_without_references", "psds1", "psds2"}


def test_threshold_free_scores_equal_sed_scores_eval_called_directly():
    from sed_scores_eval import collar_based, intersection_based, segment_based

    tables, references, durations, labels = frame_inputs(1, labels=("dog", "rain", "car"))
    result = threshold_free_scores(tables, references, durations, labels)

    for key, parameters in (("psds1", PSDS1), ("psds2", PSDS2)):
        value, class_wise, (etpr, efpr), _ = intersection_based.psds(
            scores=tables, ground_truth=references, audio_durations=durations, unit_of_time="hour", **parameters)
        assert result[key]["value"] == float(value)
        assert result[key]["class_wise"] == {label: float(class_wise[label]) for label in labels}
        assert result[key]["parameters"] == parameters
        # the stored curve reads the staircase at efpr = 0, 1, ..., 100
        grid = np.asarray(result[key]["curve"]["efpr"])
        np.testing.assert_array_equal(grid, np.arange(101.0))
        expected = [max([y for x, y in zip(efpr, etpr) if x <= g], default=0.0) for g in grid]
        np.testing.assert_allclose(result[key]["curve"]["etpr"], expected, atol=5e-7, rtol=0)
    assert 0.0 < result["psds1"]["value"] < 1.0 and 0.0 < result["psds2"]["value"] < 1.0

    for key, function, parameters in (("intersection_f1", intersection_based.best_fscore, INTERSECTION_F1),
                                      ("collar_f1", collar_based.best_fscore, COLLAR_F1)):
        f1, precision, recall, thresholds, _ = function(scores=tables, ground_truth=references, **parameters)
        assert result[key]["parameters"] == parameters
        assert result[key]["macro_F1"] == float(f1["macro_average"])
        assert result[key]["micro_F1"] == float(f1["micro_average"])
        assert result[key]["class_wise"] == {
            label: {"F1": float(f1[label]), "precision": float(precision[label]), "recall": float(recall[label]),
                    "threshold": _number(thresholds[label])} for label in labels}
        assert 0.0 < result[key]["macro_F1"] <= 1.0

    ap, _ = segment_based.average_precision(scores=tables, ground_truth=references, audio_durations=durations,
                                            segment_length=SEGMENT_SECONDS)
    auroc, _ = segment_based.auroc(scores=tables, ground_truth=references, audio_durations=durations,
                                   segment_length=SEGMENT_SECONDS)
    for key, direct in (("segment_ap", ap), ("segment_auroc", auroc)):
        assert result[key]["segment_seconds"] == SEGMENT_SECONDS
        assert result[key]["mean"] == float(direct["mean"])
        assert result[key]["class_wise"] == {label: float(direct[label]) for label in labels}
        assert 0.0 < result[key]["mean"] <= 1.0
