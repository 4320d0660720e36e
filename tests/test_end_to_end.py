"""The README's main job on synth-mini: CLI run, record contents, seeds summary and report tables."""

import json

import pytest
from conftest import run_cli


@pytest.fixture(scope="module")
def crnn_runs(workspace, synth_mini, tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    env = {"SEDBENCH_DATA": str(workspace["data"]), "SEDBENCH_CACHE": str(workspace["cache"])}
    result = run_cli(
        ["run", "--system", "crnn", "--dataset", "synth-mini", "--seeds", "2", "--runs-dir", str(runs),
         "--set", "max_epochs=25", "--quiet"],
        env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return runs, result


def test_trained_crnn_is_clearly_above_an_all_zero_output(crnn_runs):
    runs, _ = crnn_runs
    records = [json.loads(p.read_text()) for p in sorted(runs.rglob("*.json"))]
    assert len(records) == 2
    for record in records:
        head = record["headline"]
        # all-zero output scores F1 = 0 and ER = 1 (every reference frame deleted)
        assert head["F1_frm"] > 40, head
        assert head["ER_frm"] < 0.8, head
        assert head["F1_1s"] > 40, head


def test_record_says_how_to_reproduce_it(crnn_runs, synth_mini):
    runs, _ = crnn_runs
    record = json.loads(next(runs.rglob("*seed0.json")).read_text())
    assert record["schema_version"] == 1
    assert record["seed"] == 0 and record["fold"] == "1" and record["profile"] == "quick"
    assert record["config"]["max_epochs"] == 25 and record["overrides"] == {"max_epochs": "25"}
    assert record["dataset"]["fingerprint"] == synth_mini.fingerprint("1")
    assert record["device"]["type"] == "cpu"
    for package in ("torch", "librosa", "sed_eval", "numpy", "dcase_util", "sedbench"):
        assert record["environment"]["versions"][package]
    assert record["environment"]["versions"]["torch"].startswith("2.13.0")
    assert "git_commit" in record["environment"]
    assert set(record["timings"]) >= {"prepare", "features", "fit", "predict", "metrics", "total"}
    assert record["metric_settings"]["frame_resolution"] == 0.02
    assert record["metrics"]["event"]["collar"] == 0.2
    assert set(record["metrics"]["frame"]["class_wise"]) == set(synth_mini.labels)
    assert len(record["history"]["valid_F1_frm"]) == len(record["history"]["epoch"]) <= 25
    assert not list(runs.rglob("*.tmp"))


def test_record_keeps_an_activity_excerpt_of_the_first_test_clip(crnn_runs, synth_mini):
    runs, _ = crnn_runs
    record = json.loads(next(runs.rglob("*seed0.json")).read_text())
    excerpt = record["excerpt"]
    first = min(synth_mini.split("1").test, key=lambda c: c.clip_id)
    assert excerpt["clip"] == first.clip_id
    assert excerpt["start"] == 0.0 and excerpt["end"] == pytest.approx(min(first.duration, 30.0), abs=1e-3)
    assert len(excerpt["reference"]) == len([e for e in first.events if e.onset < excerpt["end"]]) > 0
    assert excerpt["estimated"], "a trained CRNN detects something in the first test clip"
    for onset, offset, label in excerpt["reference"] + excerpt["estimated"]:
        assert 0 <= onset <= offset <= excerpt["end"] and label in synth_mini.labels


def test_seeds_summary_printed_as_mean_and_std(crnn_runs):
    _, result = crnn_runs
    assert "2 seed(s)" in result.stdout
    assert "F1_frm" in result.stdout and "±" in result.stdout


def test_second_run_recomputes_no_features(crnn_runs, workspace, tmp_path):
    env = {"SEDBENCH_DATA": str(workspace["data"]), "SEDBENCH_CACHE": str(workspace["cache"])}
    result = run_cli(["run", "--system", "crnn", "--dataset", "synth-mini", "--runs-dir", str(tmp_path),
                      "--set", "max_epochs=1"], env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "0 extracted" in result.stderr


def test_report_writes_markdown_and_csv(crnn_runs, tmp_path):
    runs, _ = crnn_runs
    result = run_cli(["report", "--runs-dir", str(runs), "--out-dir", str(tmp_path)])
    assert result.returncode == 0, result.stderr
    md = (tmp_path / "results.md").read_text()
    assert "| crnn | custom · max_epochs=25 | 2 |" in md and "±" in md  # the row says what it changed
    csv_lines = (tmp_path / "results.csv").read_text().splitlines()
    assert csv_lines[0].startswith("dataset,system,profile")
    assert csv_lines[1].startswith("synth-mini,crnn,quick")


def test_leaderboard_page_from_real_records(crnn_runs, tmp_path):
    runs, _ = crnn_runs
    result = run_cli(["leaderboard", "--runs-dir", str(runs), "--out", str(tmp_path / "lb.html")])
    assert result.returncode == 0, result.stderr
    html = (tmp_path / "lb.html").read_text()
    assert 'data-dataset="synth-mini"' in html and "F1_frm ↑" in html
    assert html.count('class="best"') >= 6  # one system: it is best in every metric column
    for figure in ("Event activity", "Class-wise F1", "PSD-ROC", "Training curves"):
        assert figure in html
    assert html.count("<svg") == 4 and "PSDS1 ↑" in html and "PSDS2_tuned ↑" in html


def test_leaderboard_without_records_is_one_clear_error(tmp_path):
    result = run_cli(["leaderboard", "--runs-dir", str(tmp_path / "nothing"), "--out", str(tmp_path / "lb.html")])
    assert result.returncode != 0
    assert "no run records found under" in result.stderr and not (tmp_path / "lb.html").exists()
