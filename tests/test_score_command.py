"""`sedbench score` on DCASE event-list files equals the library scoring of the same events."""

import json
import re

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
        "audio/a.wav": [Event(0.5, 2.0, "dog barking"), Event(1.0, 4.0, "rain")],  # the path as written
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
    estimates = {f"audio/{k}" if k == "a.wav" else k: v for k, v in read_event_lists(est).items()}
    expected = score(read_event_lists(refs), estimates, None, ["bird singing", "dog barking", "rain"],
                     MetricSettings(frame_resolution=0.02), backend="sed_eval")
    assert written["metrics"]["event"]["overall"]["F1"] == expected["event"]["overall"]["F1"]
    assert written["metrics"]["frame"]["overall"]["ER"] == expected["frame"]["overall"]["ER"]
    assert "rain" in result.stdout  # class-wise rows


def test_score_command_errors(tmp_path):
    refs, est = _write(tmp_path)
    other = tmp_path / "other.txt"
    other.write_text("c.wav\t0\t1\tdog barking\n")
    result = run_cli(["score", "--reference", str(refs), "--estimated", str(other)])
    assert result.returncode == 2 and "'c.wav', which has no reference" in result.stderr
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
    estimates = {f"audio/{k}" if k == "a.wav" else k: v for k, v in read_event_lists(est).items()}
    result = score(read_event_lists(refs), estimates, None, ["bird singing", "dog barking", "rain", "cat"],
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


def test_two_recordings_with_one_base_name_are_never_merged(tmp_path):
    """x/a.wav and y/a.wav are two recordings: keyed by their paths, sed_eval's F1 0 / ER 2.0, not a merged 100 / 0."""
    ref = tmp_path / "ref.txt"
    ref.write_text("x/a.wav\t0.0\t1.0\tdog\ny/a.wav\t5.0\t6.0\tdog\n")
    est = tmp_path / "est.txt"
    est.write_text("x/a.wav\t5.0\t6.0\tdog\ny/a.wav\t0.0\t1.0\tdog\n")
    out = tmp_path / "scores.json"
    result = run_cli(["score", "-r", str(ref), "-e", str(est), "--json", str(out)])
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("2 reference files")
    event = json.loads(out.read_text())["metrics"]["event"]["overall"]
    expected = score({"x/a.wav": [Event(0, 1, "dog")], "y/a.wav": [Event(5, 6, "dog")]},
                     {"x/a.wav": [Event(5, 6, "dog")], "y/a.wav": [Event(0, 1, "dog")]}, None, ["dog"],
                     MetricSettings(0.02), backend="sed_eval")["event"]["overall"]
    assert (event["F1"], event["ER"]) == (expected["F1"], expected["ER"]) == (0.0, 2.0)
    ambiguous = tmp_path / "short.txt"
    ambiguous.write_text("a.wav\t0.0\t1.0\tdog\n")
    result = run_cli(["score", "-r", str(ref), "-e", str(ambiguous)])
    assert result.returncode == 2 and "whose base name 'a.wav' belongs to 2 reference recording(s) (x/a.wav, y/a.wav)" \
        in result.stderr


def test_sed_evals_own_rows_single_recording_lists_and_empty_files(tmp_path):
    # sed_eval's 5-column rows (filename, scene, onset, offset, label)
    five = tmp_path / "five.txt"
    five.write_text("audio/street/a001.wav\tstreet\t1.5\t2.0\tcar\n")
    assert read_event_lists(five) == {"audio/street/a001.wav": [Event(1.5, 2.0, "car")]}
    # two single-recording onset-offset-label lists are one recording whatever the files are called
    ref, est = tmp_path / "truth.ann", tmp_path / "system_output.txt"
    ref.write_text("1.0\t2.0\tcar\n")
    est.write_text("1.0\t2.0\tcar\n")
    result = run_cli(["score", "-r", str(ref), "-e", str(est)])
    assert result.returncode == 0, result.stderr
    assert "1 reference files" in result.stdout and "F1 100.0000" in result.stdout
    # a folder with an empty reference list: a recording without events, so its output counts as insertions
    refs, ests = tmp_path / "refs", tmp_path / "ests"
    refs.mkdir()
    ests.mkdir()
    (refs / "a.txt").write_text("1.0\t2.0\tcar\n")
    (refs / "b.txt").write_text("")
    (ests / "a.txt").write_text("1.0\t2.0\tcar\n")
    (ests / "b.txt").write_text("3.0\t4.0\tcar\n")
    out = tmp_path / "folder.json"
    result = run_cli(["score", "-r", str(refs), "-e", str(ests), "--json", str(out)])
    assert result.returncode == 0, result.stderr
    counts = json.loads(out.read_text())["metrics"]["event"]["overall"]["counts"]
    assert (counts["Nref"], counts["Nsys"], counts["Ntp"]) == (1, 2, 1)


def test_labels_with_commas_and_the_text_output(tmp_path):
    ref = tmp_path / "ref.txt"
    ref.write_text("a.wav\t0.0\t1.0\tAir horn, truck horn\na.wav\t2.0\t3.0\tCar\n")
    est = tmp_path / "est.txt"
    est.write_text("a.wav\t0.0\t1.0\tAir horn, truck horn\n")
    result = run_cli(["score", "-r", str(ref), "-e", str(est), "--labels", "Air horn, truck horn,Car,Bus",
                      "--class-wise"])
    assert result.returncode == 0, result.stderr
    assert "3 labels" in result.stdout and "Air horn, truck horn" in result.stdout
    frame = next(line for line in result.stdout.splitlines() if line.startswith("segment 0.02 s"))
    assert re.search(r"F1 66\.6667 .* Acc 0\.\d{4}$", frame), frame  # 4 decimals and sed_eval's accuracy
    help_text = run_cli(["score", "--help"]).stdout
    assert "zero_score" in " ".join(help_text.split())
