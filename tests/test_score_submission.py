"""`sedbench score` on DCASE task 4 submissions: sed_scores_eval score TSVs or a DESED detection TSV, a ground-truth
TSV and DESED's durations TSV."""

import json

import numpy as np
import pytest
from conftest import run_cli

from sedbench.core.data import Event
from sedbench.core.errors import DataError
from sedbench.scoring.metrics import MetricSettings, score
from sedbench.scoring.submission import read_score_folder, score_submission
from sedbench.scoring.threshold_free import PSDS1, PSDS2

CLASSES = ["Dog", "Speech"]
GROUND_TRUTH = ("filename\tonset\toffset\tevent_label\n"
                "Y-a_0.000_10.000.wav\t1.0\t3.0\tDog\nY-a_0.000_10.000.wav\t5.0\t9.0\tSpeech\n"
                "b.wav\t0.5\t2.0\tSpeech\n")
DURATIONS = "filename\tduration\nY-a_0.000_10.000.wav\t10.0\nb.wav\t4.0\nc.wav\t6.0\n"  # c: no events


def _scores(folder, rng):
    folder.mkdir()
    for name, seconds in (("Y-a_0.000_10.000", 10.0), ("b", 4.0), ("c", 6.0)):
        frames = int(seconds / 0.5)
        values = rng.random((frames, 2)) * 0.6
        stamps = np.arange(frames + 1) * 0.5
        lines = ["onset\toffset\tDog\tSpeech"] + [f"{stamps[i]:.3f}\t{stamps[i + 1]:.3f}\t{values[i, 0]:.4f}\t"
                                                  f"{values[i, 1]:.4f}" for i in range(frames)]
        (folder / f"{name}.tsv").write_text("\n".join(lines) + "\n")
    return folder


@pytest.fixture
def submission(tmp_path):
    (tmp_path / "gt.tsv").write_text(GROUND_TRUTH)
    (tmp_path / "durations.tsv").write_text(DURATIONS)
    return tmp_path, _scores(tmp_path / "scores", np.random.default_rng(0))


def test_score_tsvs_equal_sed_scores_eval_and_sed_eval_on_the_same_inputs(submission):
    from sed_scores_eval import collar_based, intersection_based, segment_based
    from sed_scores_eval.base_modules.detection import scores_to_event_list
    from sed_scores_eval.base_modules.io import read_audio_durations, read_ground_truth_events, read_sed_scores

    root, folder = submission
    result = score_submission(root / "gt.tsv", folder, root / "durations.tsv", None, MetricSettings(0.02),
                              threshold=0.4)
    tables = read_sed_scores(folder)
    truth = read_ground_truth_events(root / "gt.tsv")
    truth["c"] = []  # listed in the durations only: a file with no events
    durations = read_audio_durations(root / "durations.tsv")
    free = result.metrics["threshold_free"]
    for name, parameters in (("psds1", PSDS1), ("psds2", PSDS2)):
        expected = intersection_based.psds(scores=tables, ground_truth=truth, audio_durations=durations,
                                           unit_of_time="hour", **parameters)[0]
        assert free[name]["value"] == expected
    assert free["intersection_f1"]["macro_F1"] == intersection_based.best_fscore(
        scores=tables, ground_truth=truth, dtc_threshold=0.7, gtc_threshold=0.7)[0]["macro_average"]
    assert free["collar_f1"]["micro_F1"] == collar_based.best_fscore(
        scores=tables, ground_truth=truth, onset_collar=0.2, offset_collar=0.2,
        offset_collar_rate=0.2)[0]["micro_average"]
    ap = segment_based.average_precision(scores=tables, ground_truth=truth, audio_durations=durations,
                                         segment_length=1.0)[0]
    assert free["segment_ap"]["class_wise"] == {c: ap[c] for c in CLASSES}
    assert result.labels == CLASSES and result.files == 3 and result.reference_events == 3
    # sed_eval's metrics of the events the scores give at the threshold
    events = {k: [Event(on, off, label) for on, off, label in v] for k, v in scores_to_event_list(tables, 0.4).items()}
    references = {"Y-a_0.000_10.000": [Event(1.0, 3.0, "Dog"), Event(5.0, 9.0, "Speech")],
                  "b": [Event(0.5, 2.0, "Speech")], "c": []}
    expected = score(references, events, durations, CLASSES, MetricSettings(0.02), backend="sed_eval")
    assert result.metrics["event"]["overall"]["F1"] == expected["event"]["overall"]["F1"]
    assert result.metrics["1s"]["overall"]["ER"] == expected["1s"]["overall"]["ER"]


def test_perfect_detections_score_psds1_one_at_their_operating_point(tmp_path):
    (tmp_path / "gt.tsv").write_text(GROUND_TRUTH)
    (tmp_path / "durations.tsv").write_text(DURATIONS)
    (tmp_path / "det.tsv").write_text(GROUND_TRUTH)
    result = score_submission(tmp_path / "gt.tsv", tmp_path / "det.tsv", tmp_path / "durations.tsv", None,
                              MetricSettings(0.02))
    free = result.metrics["threshold_free"]
    assert result.kind == "events" and free["operating_points"] == 1 and free["library"] == "psds_eval"
    assert free["psds1"]["value"] == pytest.approx(1.0) and free["psds2"]["value"] == pytest.approx(1.0)
    assert "intersection_f1" not in free  # one operating point: no threshold to choose
    assert result.metrics["event"]["overall"]["F1"] == 100.0
    # half the events missed: the PSD-ROC of one point is flat at the recall it reaches
    (tmp_path / "half.tsv").write_text("\n".join(GROUND_TRUTH.splitlines()[:2]) + "\n")
    free = score_submission(tmp_path / "gt.tsv", tmp_path / "half.tsv", tmp_path / "durations.tsv", CLASSES,
                            MetricSettings(0.02)).metrics["threshold_free"]
    assert free["psds1"]["curve"]["etpr"][0] == free["psds1"]["curve"]["etpr"][-1] < 1.0


def test_cli_prints_psds_and_writes_json(submission):
    root, folder = submission
    out = root / "s.json"
    result = run_cli(["score", "-r", str(root / "gt.tsv"), "-e", str(folder), "-d", str(root / "durations.tsv"),
                      "--json", str(out), "--class-wise"])
    assert result.returncode == 0, result.stderr
    assert "3 files, 3 reference events, frame scores" in result.stdout and "PSDS1 " in result.stdout
    written = json.loads(out.read_text())
    assert 0.0 <= written["metrics"]["threshold_free"]["psds2"]["value"] <= 1.0
    result = run_cli(["score", "-r", str(root / "gt.tsv"), "-e", str(folder)])
    assert result.returncode == 2 and "needs --durations" in result.stderr


def test_submission_errors_name_the_file(submission):
    root, folder = submission
    settings = MetricSettings(0.02)
    (root / "short.tsv").write_text("filename\tduration\nY-a_0.000_10.000.wav\t10.0\nb.wav\t4.0\n")
    with pytest.raises(DataError, match=r"score folder .*scores names 1 file\(s\) that the durations file does not "
                                        r"list, e\.g\. 'c'"):
        score_submission(root / "gt.tsv", folder, root / "short.tsv", None, settings)
    (root / "only_a.tsv").write_text("filename\tduration\nY-a_0.000_10.000.wav\t10.0\n")
    with pytest.raises(DataError, match=r"ground truth .*gt\.tsv names 1 file\(s\).*e\.g\. 'b'"):
        score_submission(root / "gt.tsv", folder, root / "only_a.tsv", None, settings)
    (folder / "c.tsv").unlink()
    with pytest.raises(DataError, match=r"has no scores for 1 file\(s\) listed in .*durations\.tsv, e\.g\. 'c'"):
        score_submission(root / "gt.tsv", folder, root / "durations.tsv", None, settings)
    (folder / "b.tsv").write_text("onset\toffset\tDog\tSpeech\n0.0\t0.5\t0.1\tx\n")
    with pytest.raises(DataError, match=r"b\.tsv, line 2: expected 4 numbers"):
        read_score_folder(folder)
    (folder / "b.tsv").write_text("onset\toffset\tDog\tSpeech\n0.0\t0.5\t0.1\t0.2\n0.6\t1.0\t0.1\t0.2\n")
    with pytest.raises(DataError, match=r"b\.tsv, line 3: score windows must be consecutive"):
        read_score_folder(folder)
    (folder / "b.tsv").write_text("onset\toffset\tDog\n0.0\t0.5\t0.1\n")
    with pytest.raises(DataError, match=r"b\.tsv, line 1: classes \['Dog'\] differ"):
        read_score_folder(folder)
    (root / "bad_durations.tsv").write_text("filename\tduration\nb.wav\tlong\n")
    with pytest.raises(DataError, match=r"bad_durations\.tsv, line 2: expected 'filename<TAB>duration'"):
        score_submission(root / "gt.tsv", folder, root / "bad_durations.tsv", None, settings)


def test_a_class_without_reference_events_is_left_out_of_the_threshold_free_scores_and_named(submission):
    from sed_scores_eval import intersection_based
    from sed_scores_eval.base_modules.io import read_audio_durations, read_sed_scores

    root, folder = submission
    (root / "gt_dog.tsv").write_text("filename\tonset\toffset\tevent_label\nY-a_0.000_10.000.wav\t1.0\t3.0\tDog\n")
    result = score_submission(root / "gt_dog.tsv", folder, root / "durations.tsv", None, MetricSettings(0.02),
                              threshold=0.4)
    free = result.metrics["threshold_free"]
    assert free["classes_without_references"] == ["Speech"]
    assert free["psds1"]["class_wise"]["Speech"] is None and free["segment_ap"]["class_wise"]["Speech"] is None
    assert free["intersection_f1"]["class_wise"]["Speech"] is None
    # the same as sed_scores_eval on the Dog column alone; one class has no cross-triggers, so PSDS2 drops them
    tables = {key: table[["onset", "offset", "Dog"]] for key, table in read_sed_scores(folder).items()}
    truth = {"Y-a_0.000_10.000": [(1.0, 3.0, "Dog")], "b": [], "c": []}
    durations = read_audio_durations(root / "durations.tsv")
    single = {**PSDS2, "cttc_threshold": None, "alpha_ct": 0.0}
    assert free["psds2"]["parameters"] == single
    for name, parameters in (("psds1", PSDS1), ("psds2", single)):
        assert free[name]["value"] == intersection_based.psds(scores=tables, ground_truth=truth,
                                                              audio_durations=durations, unit_of_time="hour",
                                                              **parameters)[0]
    # sed_eval still counts the Speech false alarms
    assert result.metrics["frame"]["class_wise"]["Speech"]["F1"] in (0.0, None)


def test_no_reference_events_at_all_gives_no_threshold_free_scores(submission):
    root, folder = submission
    (root / "gt_empty.tsv").write_text("filename\tonset\toffset\tevent_label\n")
    result = score_submission(root / "gt_empty.tsv", folder, root / "durations.tsv", ["Dog", "Speech"],
                              MetricSettings(0.02), threshold=0.4)
    assert "threshold_free" not in result.metrics
