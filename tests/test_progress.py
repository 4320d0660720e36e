"""Progress of long steps: ETA arithmetic, plain lines for logs, live bars on a terminal, the job header first."""

import io
import re

import pytest
from conftest import run_cli

from sedbench.core import progress
from sedbench.core.progress import PlainReporter, Step, budget_eta, eta_text, reporting


@pytest.fixture
def clock(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(progress.time, "perf_counter", lambda: now[0])
    return now


def test_the_eta_counts_only_the_units_this_process_has_done(clock):
    step = Step("training", total=10, unit="epochs", completed=2)  # resumed after epoch 2
    assert step.eta_seconds() is None and budget_eta(step) == ""  # no rate yet
    clock[0] += 20
    step.advance(2)  # two epochs in 20 s: 6 to go, 60 s
    assert step.eta_seconds() == pytest.approx(60.0)
    assert eta_text(step.eta_seconds()) == "ETA 1:00" and budget_eta(step) == ", ETA 1:00 to the budget"
    assert eta_text(3725) == "ETA 1:02:05"
    step.advance(6)
    assert budget_eta(step) == ""  # the budget is spent


def test_track_advances_after_each_turn_of_the_loop_continue_included(clock):
    lines = []
    with reporting(PlainReporter(lines.append)):
        with progress.step("rescoring", total=3, unit="records") as records:
            for number in records.track([1, 2, 3]):
                clock[0] += 1.5
                if number == 2:
                    continue
        assert records.completed == 3
    assert lines == ["rescoring (3 records) ...", "rescoring: 3/3 records in 4.5 s"]


def test_steps_are_silent_unless_someone_reports_them():
    with progress.step("features", total=2, unit="files") as files:
        files.advance(status="1 extracted")
    assert files.completed == 1 and files.status == "1 extracted"


def test_a_terminal_shows_a_live_bar_with_the_epoch_the_metric_and_the_eta(clock):
    from rich.console import Console

    from sedbench.cli.display import RichReporter

    out = io.StringIO()
    reporter = RichReporter(Console(file=out, force_terminal=True, width=150))
    with reporter.progress, reporting(reporter):
        with progress.step("training", total=40, unit="epochs") as epochs:
            clock[0] += 10
            epochs.advance(status="valid F1_frm 61.0")
            reporter.progress.refresh()
            reporter.print("epoch   1/40  loss 0.4313 [not markup]")
    screen = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.getvalue())
    assert re.search(r"training .* 1/40 epochs .*ETA 6:30 valid F1_frm 61\.0", screen), screen
    assert "epoch   1/40  loss 0.4313 [not markup]" in screen


def test_run_prints_the_job_header_first_and_plain_progress_lines_in_a_log(tmp_path):
    common = ["run", "--system", "crnn", "--dataset", "synth-mini", "--set", "max_epochs=2", "--set", "conv_maps=8",
              "--set", "rnn_units=8", "--set", "sequence_frames=128", "--data-dir", str(tmp_path / "data"),
              "--cache-dir", str(tmp_path / "cache"), "--runs-dir", str(tmp_path / "runs")]
    result = run_cli(common)  # stderr is a pipe here: plain lines
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    index = {text: next(i for i, line in enumerate(lines) if line.startswith(text)) for text in (
        "generating synth-mini (20 files) ...", "generating synth-mini: 20/20 files in", "[1/1] crnn on synth-mini",
        "features (20 files) ...", "features: 20/20 files in", "training (2 epochs) ...", "epoch   1/2  loss",
        "epoch   2/2  loss", "training: 2/2 epochs in", "predicting 4 test clips ...")}
    assert list(index.values()) == sorted(index.values()), lines  # in this order: the header before the job's work
    assert re.search(r"features: 20/20 files in [\d.]+ s \(20 extracted, 0 from cache\)$",
                     lines[index["features: 20/20 files in"]])
    assert re.search(r"\(\d+\.\d s, ETA 0:\d\d to the budget\)$", lines[index["epoch   1/2  loss"]])
    assert not re.search(r"ETA", lines[index["epoch   2/2  loss"]])
    assert "\x1b[" not in result.stderr  # no terminal codes in a log
    quiet = run_cli([*common, "--force", "--quiet"])
    assert quiet.returncode == 0, quiet.stderr
    assert [line for line in quiet.stderr.splitlines() if line.strip()] == [
        line for line in quiet.stderr.splitlines() if line.startswith("[1/1] crnn on synth-mini") and " -> " in line]
