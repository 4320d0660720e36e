"""`sedbench score` on DCASE event-list files equals the library scoring of the same events."""

import json

from conftest import run_cli

from sedbench.core.data import Event
from sedbench.datatools.annotations import read_event_lists
from sedbench.scoring.metrics import MetricSettings, score


def _write(tmp_path):
    refs = tmp_path / "ref"
    refs.mkdir()
    (refs / "a.txt").write_text("audio/a.wav\t0.5\t2.0\tdog barking\naudio/a.wav\t1.0\t4.0\train\n")
    (refs / "b.ann").write_text("0.0\t1.0\tdog barking\n")  # TUT .ann: no filename column -> b.wav
    est = tmp_path / "est.tsv"
    est.write_text("filename\tonset\toffset\tevent_label\n"
                   "a.wav\t0.6\t2.1\tdog barking\na.wav\t1.0\t2.0\tbird singing\nb.wav\n")
    return refs, est


def test_event_list_reader_handles_dcase_variants(tmp_path):
    refs, est = _write(tmp_path)
    assert read_event_lists(refs) == {
        "a.wav": [Event(0.5, 2.0, "dog barking"), Event(1.0, 4.0, "rain")],
        "b.wav": [Event(0.0, 1.0, "dog barking")],
    }
    assert read_event_lists(est) == {"a.wav": [Event(0.6, 2.1, "dog barking"), Event(1.0, 2.0, "bird singing")],
                                     "b.wav": []}


def test_score_command_matches_library(tmp_path):
    refs, est = _write(tmp_path)
    out = tmp_path / "scores.json"
    result = run_cli(["score", "--reference", str(refs), "--estimated", str(est), "--json", str(out), "--class-wise"])
    assert result.returncode == 0, result.stderr
    assert "2 reference files, 3 reference events, 2 estimated events, 3 labels" in result.stdout
    written = json.loads(out.read_text())
    expected = score(read_event_lists(refs), read_event_lists(est), None, ["bird singing", "dog barking", "rain"],
                     MetricSettings(frame_resolution=0.02), backend="sed_eval")
    assert written["metrics"]["event"]["overall"]["F1"] == expected["event"]["overall"]["F1"]
    assert written["metrics"]["frame"]["overall"]["ER"] == expected["frame"]["overall"]["ER"]
    assert "rain" in result.stdout  # class-wise rows


def test_score_command_errors(tmp_path):
    refs, est = _write(tmp_path)
    other = tmp_path / "other.txt"
    other.write_text("c.wav\t0\t1\tdog barking\n")
    result = run_cli(["score", "--reference", str(refs), "--estimated", str(other)])
    assert result.returncode == 2 and "no reference" in result.stderr and "'c.wav'" in result.stderr
    result = run_cli(["score", "--reference", str(refs), "--estimated", str(est), "--labels", "rain,dog barking"])
    assert result.returncode == 2 and "'bird singing'" in result.stderr
    bad = tmp_path / "bad.txt"
    bad.write_text("a.wav\t0.5\tlate\tdog barking\n")
    result = run_cli(["score", "--reference", str(refs), "--estimated", str(bad)])
    assert result.returncode == 2 and "bad.txt, line 1" in result.stderr


def test_ratios_without_a_denominator_are_undefined_not_huge(tmp_path):
    """sed_eval divides by its eps: a class with output but no reference events has ER 2.25e17 at 20 ms. Here such
    ratios are undefined: null in JSON, n/a in text; a class with neither has no precision either."""
    refs, est = _write(tmp_path)
    result = score(read_event_lists(refs), read_event_lists(est), None, ["bird singing", "dog barking", "rain", "cat"],
                   MetricSettings(0.02))
    for level in ("frame", "1s", "event"):
        bird, cat, rain = (result[level]["class_wise"][label] for label in ("bird singing", "cat", "rain"))
        assert bird["ER"] is None and bird["recall"] is None and bird["F1"] is None and bird["precision"] == 0.0
        assert cat["ER"] is cat["recall"] is cat["precision"] is cat["F1"] is None
        assert rain["precision"] is None and rain["recall"] == 0.0 and abs(rain["ER"] - 1.0) < 1e-9  # all missed
    nothing = score({"a.wav": []}, {"a.wav": [Event(1.0, 2.0, "dog")]}, {"a.wav": 5.0}, ["dog"], MetricSettings(0.02))
    overall = nothing["frame"]["overall"]
    assert overall["ER"] is overall["S"] is overall["D"] is overall["I"] is overall["recall"] is None
    out = tmp_path / "scores.json"
    cli = run_cli(["score", "--reference", str(refs), "--estimated", str(est), "--json", str(out), "--class-wise"])
    assert cli.returncode == 0, cli.stderr
    bird_lines = [line for line in cli.stdout.splitlines() if line.strip().startswith("bird singing")]
    assert bird_lines and all("ER n/a" in line for line in bird_lines) and "e+" not in cli.stdout
    assert json.loads(out.read_text())["metrics"]["frame"]["class_wise"]["bird singing"]["ER"] is None


def test_times_that_would_need_absurd_memory_are_one_sentence(tmp_path):
    refs, _ = _write(tmp_path)
    est = tmp_path / "far.txt"
    est.write_text("a.wav\t1.0\t1000000000\tdog barking\n")
    cli = run_cli(["score", "--reference", str(refs), "--estimated", str(est)])
    assert cli.returncode != 0 and "MemoryError" not in cli.stderr and "Traceback" not in cli.stderr
    assert ("a.wav: an event ends at 1e+09 s ('dog barking'), which needs 5e+10 frames of 0.02 s for 2 class(es); "
            "expected times in seconds within the recording") in cli.stderr
