"""Grids that survive: kill -9 and resume, crash isolation, timeouts, `sedbench status`, grid files."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from sedbench.core import registry
from sedbench.core.data import Paper
from sedbench.core.features import LogMelSpec
from sedbench.core.outputs import FrameActivity
from sedbench.core.system import System
from sedbench.pipeline.jobstore import JobTimeout, time_limit
from sedbench.pipeline.settings import read_grid_file

# crnn small enough for seconds per job on synth-mini, large enough that an epoch takes a moment
CRNN = ["--set", "conv_maps=16", "--set", "rnn_units=16", "--set", "sequence_frames=128", "--set", "batch_size=8",
        "--set", "patience=100"]


def records_in(runs: Path) -> dict[str, dict]:
    """Records by file name, outside the grid runner's hidden folders."""
    return {p.name: json.loads(p.read_text()) for p in runs.rglob("*.json") if not any(
        part.startswith(".") for part in p.relative_to(runs).parts)}


def sedbench_cli(args: list[str], capsys) -> tuple[int, str, str]:
    """The public command line in this process (so systems registered by a test are visible)."""
    from sedbench import cli

    argv = sys.argv
    sys.argv = ["sedbench", *args]
    try:
        cli.main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.argv = argv
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# --------------------------------------------------------------------------- kill -9 and resume


def _env(workspace):
    return {**os.environ, "SEDBENCH_DATA": str(workspace["data"]), "SEDBENCH_CACHE": str(workspace["cache"])}


def _grid_command(runs: Path, seeds: int = 3, seed: int = 0) -> list[str]:
    exe = Path(sys.executable).with_name("sedbench")
    return [str(exe), "run", "--system", "crnn", "--dataset", "synth-mini", "--seed", str(seed), "--seeds",
            str(seeds), "--set", "max_epochs=8", *CRNN, "--runs-dir", str(runs)]


def test_a_grid_killed_mid_training_resumes_without_recomputing_or_losing_a_record(workspace, synth_mini, tmp_path):
    runs = tmp_path / "runs"
    env = _env(workspace)
    started = time.perf_counter()
    process = subprocess.Popen(_grid_command(runs), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    # wait until job 1 has its record and job 2 has begun its 3rd epoch (so it saved after its 2nd), then kill -9
    deadline = time.time() + 600
    checkpoint = None
    while time.time() < deadline and process.poll() is None:
        done = records_in(runs) if runs.exists() else {}
        checkpoints = list(runs.glob(".jobs/*/checkpoint.pt")) if len(done) == 1 else []
        if checkpoints:
            state = json.loads((checkpoints[0].parent / "job.state").read_text())
            log = (checkpoints[0].parent / "job.log").read_text()
            if "epoch   3" in log and "seed 1" in state["label"]:
                checkpoint = checkpoints[0]
                process.send_signal(signal.SIGKILL)
                break
        time.sleep(0.02)
    process.wait(timeout=60)
    killed_after = time.perf_counter() - started
    assert checkpoint is not None, f"job 2 never checkpointed before the grid ended: {process.stderr.read()[-2000:]}"
    assert process.returncode == -signal.SIGKILL
    first = records_in(runs)
    assert [r["seed"] for r in first.values()] == [0]
    first_bytes = {p: p.read_bytes() for p in runs.rglob("*seed0.json")}
    # a kill during a checkpoint write leaves its temporary file (never a broken checkpoint); nothing else
    assert all(p.parent.parent.name == ".jobs" for p in runs.rglob("*.tmp"))

    rerun = subprocess.run(_grid_command(runs), env=env, capture_output=True, text=True, timeout=900)
    resumed_seconds = time.perf_counter() - started - killed_after
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    lines = rerun.stderr.splitlines()
    assert any("seed 0" in l and "already done, skipped" in l for l in lines), rerun.stderr
    assert any(l.startswith("resumed from the checkpoint after epoch ") for l in lines), rerun.stderr
    assert not any(l.startswith("epoch   1/") for l in lines[: lines.index(
        next(l for l in lines if l.startswith("resumed from")))]), "job 2 trained again from epoch 1"
    assert {p: p.read_bytes() for p in runs.rglob("*seed0.json")} == first_bytes  # not recomputed, not lost
    records = {r["seed"]: r for r in records_in(runs).values()}
    assert sorted(records) == [0, 1, 2]
    resumed_epoch = records[1]["job"]["resumed_from_epoch"]
    assert resumed_epoch >= 2 and records[0]["job"]["resumed_from_epoch"] is None
    assert records[1]["history"]["epoch"] == list(range(1, 9))
    assert not list(runs.glob(".jobs/*/checkpoint.pt"))  # cleared once the records exist
    assert not list(runs.rglob("*.tmp"))

    # the resumed job ends exactly as the same job run without interruption
    alone = tmp_path / "alone"
    reference = subprocess.run(_grid_command(alone, seeds=1, seed=1), env=env, capture_output=True, text=True,
                               timeout=900)
    assert reference.returncode == 0, reference.stderr[-3000:]
    uninterrupted = next(iter(records_in(alone).values()))
    assert uninterrupted["job"]["key"] == records[1]["job"]["key"]
    assert records[1]["metrics"] == uninterrupted["metrics"]
    assert records[1]["headline"] == uninterrupted["headline"]
    for series in ("train_loss", "valid_F1_frm", "valid_ER_frm"):
        assert records[1]["history"][series] == uninterrupted["history"][series]
    print(f"\nkill-and-resume: killed {killed_after:.1f} s after the start (job 2 after epoch {resumed_epoch}); "
          f"the rerun took {resumed_seconds:.1f} s")


# --------------------------------------------------------------------------- crash isolation


@dataclass(frozen=True)
class FakeConfig:
    mode: str = "good"
    seconds: float = 0.0


class FakeSystem(System):
    """Predicts each class's training prior; ``mode`` makes it misbehave in one way."""

    name = "fake"
    paper = Paper(key="fake", citation="A test system")
    Config = FakeConfig
    profiles = {"quick": {}, "paper": {}}

    @classmethod

    def features(cls, config):
        return LogMelSpec()

    def fit(self, train, valid):
        if self.config.mode == "raise":
            raise RuntimeError("boom in fit\nsecond line")
        if self.config.mode == "slow":
            time.sleep(self.config.seconds)
        self.prior = np.mean(np.concatenate([c.targets for c in train]), axis=0)
        return {"epoch": [1]}

    def predict(self, clips):
        outputs = []
        for clip in clips:
            p = np.tile(self.prior, (clip.features.shape[0], 1)).astype(np.float32)
            if self.config.mode == "nan":
                p[0, 0] = np.nan
            if self.config.mode == "shape":
                p = p[:, :-1]
            outputs.append(FrameActivity(p, clip.hop_seconds))
        return outputs


@pytest.fixture
def fake_system(monkeypatch):
    monkeypatch.setitem(registry.systems._entries, "fake", FakeSystem)
    return FakeSystem


def test_failing_jobs_are_recorded_with_their_reason_and_the_grid_goes_on(fake_system, workspace, synth_mini,
                                                                           tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SEDBENCH_DATA", str(workspace["data"]))
    monkeypatch.setenv("SEDBENCH_CACHE", str(workspace["cache"]))
    runs = tmp_path / "runs"
    args = ["run", "--system", "fake", "--dataset", "synth-mini", "--sweep", "mode=raise,nan,shape,slow,good",
            "--set", "seconds=60", "--job-timeout", "6", "--runs-dir", str(runs), "--quiet"]
    started = time.perf_counter()
    code, out, err = sedbench_cli(args, capsys)
    assert time.perf_counter() - started < 45  # the 60 s job was stopped after 6 s
    assert code == 1
    assert "Traceback" not in err
    failed = [l for l in err.splitlines() if ": FAILED: " in l]
    assert len(failed) == 4, err
    assert failed[0].endswith("FAILED: system 'fake' raised RuntimeError: boom in fit")
    assert "output contains NaN or infinite values" in failed[1]
    assert "expected probabilities of shape (frames, 6), got (1000, 5)" in failed[2] or "got (" in failed[2]
    assert "job exceeded --job-timeout of 6 s" in failed[3]
    assert "1 run, 0 already done, 4 failed" in err
    records = records_in(runs)
    assert [r["overrides"]["mode"] for r in records.values()] == ["good"]
    assert not list(runs.rglob("*.tmp"))

    code, out, _ = sedbench_cli(["status", "--runs-dir", str(runs)], capsys)
    assert code == 0
    lines = out.splitlines()
    assert "5 jobs" in lines[0] and "1 done, 4 failed" in lines[0]
    raised = next(l for l in lines[2:] if "mode=raise" in l)
    assert raised.lstrip().startswith("failed") and "raised RuntimeError: boom in fit" in raised
    log_path = Path(raised.split("(traceback: ")[1].rstrip(")"))
    text = log_path.read_text()
    assert "Traceback (most recent call last)" in text and "RuntimeError: boom in fit" in text
    assert next(l for l in lines[2:] if "mode=good" in l).lstrip().startswith("done")

    # a rerun skips the finished job and retries the failed ones
    code, out, err = sedbench_cli(args, capsys)
    assert code == 1
    assert "0 run, 1 already done, 4 failed" in err
    assert len(records_in(runs)) == 1


def test_force_recomputes_a_finished_job(fake_system, workspace, synth_mini, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SEDBENCH_DATA", str(workspace["data"]))
    monkeypatch.setenv("SEDBENCH_CACHE", str(workspace["cache"]))
    runs = tmp_path / "runs"
    args = ["run", "--system", "fake", "--dataset", "synth-mini", "--runs-dir", str(runs), "--quiet"]
    assert sedbench_cli(args, capsys)[0] == 0
    (path,) = runs.rglob("*seed0.json")
    before = json.loads(path.read_text())["created"]
    time.sleep(1.1)
    code, _, err = sedbench_cli(args, capsys)
    assert code == 0 and "already done, skipped" in err
    assert json.loads(path.read_text())["created"] == before
    code, _, err = sedbench_cli(args + ["--force"], capsys)
    assert code == 0 and "already done" not in err
    assert json.loads(path.read_text())["created"] > before


def test_status_shows_pending_and_interrupted_jobs(fake_system, workspace, synth_mini, tmp_path, capsys, monkeypatch):
    from sedbench.pipeline.grid import plan
    from sedbench.pipeline.jobs import JobSpec, Locations
    from sedbench.pipeline.jobstore import JobStore

    where = Locations(workspace["data"], workspace["cache"], tmp_path / "runs")
    jobs = plan([JobSpec("fake", "synth-mini", seed=s) for s in range(3)], where)
    store = JobStore(where.runs_dir)
    store.check_writable()
    store.write_manifest(jobs, "sedbench run ...")
    store.set_state(jobs[0].key.id, status="running", label="x", pid=2**22 + 12345, host=os.uname().nodename)
    store.checkpoints(jobs[0].key.id).save({"epoch": 3})
    store.set_state(jobs[1].key.id, status="running", label="y", pid=os.getpid(), host=os.uname().nodename)
    code, out, _ = sedbench_cli(["status", "--runs-dir", str(where.runs_dir)], capsys)
    assert code == 0
    assert "1 running, 1 interrupted, 1 pending" in out.splitlines()[0]
    interrupted = next(l for l in out.splitlines() if l.lstrip().startswith("interrupted"))
    assert "seed 0" in interrupted and "checkpoint saved" in interrupted
    code, _, err = sedbench_cli(["status", "--runs-dir", str(tmp_path / "empty")], capsys)
    assert code == 2 and "no grids under" in err


def test_time_limit_interrupts_the_main_thread_and_other_threads():
    started = time.perf_counter()
    with pytest.raises(JobTimeout):
        with time_limit(0.3):
            time.sleep(5)
    assert time.perf_counter() - started < 2
    with time_limit(5):  # no effect on a body that ends in time, and nothing fires later
        pass
    time.sleep(0.05)

    outcome = []

    def busy():
        try:
            with time_limit(0.3):
                while True:
                    sum(range(1000))
        except JobTimeout:
            outcome.append("stopped")

    thread = threading.Thread(target=busy)
    thread.start()
    thread.join(5)
    assert outcome == ["stopped"]


# --------------------------------------------------------------------------- grid files


def test_a_grid_file_expands_to_jobs(tmp_path, synth_mini):
    path = tmp_path / "grid.toml"
    path.write_text('systems = ["crnn", "gmm"]\ndatasets = ["synth-mini"]\nseeds = 2\nseed = 5\n'
                    '[set]\nthreshold = 0.4\n[set.crnn]\nmax_epochs = 3\npool_sizes = [5, 2, 2]\n'
                    '[sweep]\nmedian = [1, 3]\n')
    spec = read_grid_file(path)
    assert spec.systems == ("crnn", "gmm") and spec.seeds == (5, 6)
    assert spec.settings == ({"threshold": "0.4", "median": "1"}, {"threshold": "0.4", "median": "3"})
    assert spec.system_overrides == {"crnn": {"max_epochs": "3", "pool_sizes": "(5,2,2)"}}
    jobs = spec.jobs()
    assert len(jobs) == 2 * 1 * 2 * 2
    assert jobs[0].overrides == {"threshold": "0.4", "median": "1", "max_epochs": "3", "pool_sizes": "(5,2,2)"}
    assert jobs[-1].system == "gmm" and jobs[-1].overrides == {"threshold": "0.4", "median": "3"}


@pytest.mark.parametrize("text, message", [
    ('systems = ["crnn", "nosuch"]\ndatasets = ["synth-mini"]\n', "unknown system 'nosuch'; registered systems: "),
    ('systems = "crnn"\ndatasets = []\n', "'datasets' must be a non-empty list of names, got []"),
    ('systems = ["crnn"]\ndatasets = ["synth-mini"]\nseed = 1\nextra = 2\n', "unknown key 'extra'"),
    ('systems = ["crnn"]\ndatasets = ["synth-mini"]\nseeds = "three"\n', "'seeds' must be a positive count"),
    ('systems = ["crnn"\n', "is not valid TOML"),
    ('systems = ["crnn"]\ndatasets = ["synth-mini"]\n[set.gmm]\nx = 1\n', "[set.gmm] names a system that is not"),
])
def test_grid_file_errors_name_the_file_and_the_value(tmp_path, text, message):
    path = tmp_path / "grid.toml"
    path.write_text(text)
    with pytest.raises(Exception) as error:
        read_grid_file(path)
    assert str(path) in str(error.value) and message in str(error.value)
