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
