"""`sedbench run --executor ray` on a local Ray instance: the same records as the local executor."""

import subprocess
import sys
import time

import pytest
from test_grid import CRNN, records_in, sedbench_cli

ray = pytest.importorskip("ray")

VOLATILE = {"created", "timings", "environment", "device"}  # when and where it ran, not what it computed


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=True)
    yield
    ray.shutdown()


def _comparable(record: dict) -> dict:
    kept = {k: v for k, v in record.items() if k not in VOLATILE}
    kept["history"] = {k: v for k, v in record["history"].items() if "seconds" not in k}
    if kept.get("tuned"):
        kept["tuned"] = {**kept["tuned"], "search": {k: v for k, v in kept["tuned"]["search"].items() if k != "seconds"}}
    return kept


def test_a_grid_on_ray_writes_the_records_the_local_executor_writes(local_ray, workspace, synth_mini, tmp_path,
                                                                     capsys, monkeypatch):
    monkeypatch.setenv("SEDBENCH_DATA", str(workspace["data"]))
    monkeypatch.setenv("SEDBENCH_CACHE", str(workspace["cache"]))
    grid = ["run", "--system", "crnn", "--dataset", "synth-mini", "--seeds", "2", "--sweep", "rnn_units=8,16",
            "--set", "max_epochs=3", *CRNN[:2], *CRNN[4:], "--quiet"]
    timings = {}
    for executor in ("local", "ray"):
        started = time.perf_counter()
        code, out, err = sedbench_cli([*grid, "--executor", executor, "--runs-dir", str(tmp_path / executor)], capsys)
        timings[executor] = time.perf_counter() - started
        assert code == 0, err
        assert "4 run, 0 already done, 0 failed" in err
        if executor == "ray":
            assert sum(l.startswith("[") and "] crnn on synth-mini" in l for l in err.splitlines()) == 4
    local, remote = records_in(tmp_path / "local"), records_in(tmp_path / "ray")
    assert sorted(local) == sorted(remote) and len(local) == 4  # the same files, named by the same job keys
    for name in local:
        assert _comparable(remote[name]) == _comparable(local[name]), name
    # a rerun on Ray skips every finished job, as the local executor does
    code, _, err = sedbench_cli([*grid, "--executor", "ray", "--runs-dir", str(tmp_path / "ray")], capsys)
    assert code == 0 and "0 run, 4 already done, 0 failed" in err
    print(f"\n4-job grid: local executor {timings['local']:.1f} s, Ray executor {timings['ray']:.1f} s")


def test_a_failing_job_on_ray_is_recorded_and_the_others_finish(local_ray, workspace, synth_mini, tmp_path, capsys,
                                                               monkeypatch):
    monkeypatch.setenv("SEDBENCH_DATA", str(workspace["data"]))
    monkeypatch.setenv("SEDBENCH_CACHE", str(workspace["cache"]))
    runs = tmp_path / "runs"
    _cache_features(synth_mini, workspace)  # the limit is for training: not a fresh worker's librosa compilation
    # the 1000-epoch job runs past the limit on its worker and is stopped there; the 1-epoch job finishes
    code, _, err = sedbench_cli(["run", "--system", "crnn", "--dataset", "synth-mini", "--sweep",
                                 "max_epochs=1,1000", *CRNN, "--job-timeout", "40", "--executor", "ray",
                                 "--runs-dir", str(runs), "--quiet"], capsys)
    assert code == 1, err
    assert "1 run, 0 already done, 1 failed" in err, err
    failed = [l for l in err.splitlines() if ": FAILED: " in l]
    assert len(failed) == 1 and "max_epochs=1000" in failed[0] and "exceeded --job-timeout of 40 s" in failed[0], err
    assert [r["config"]["max_epochs"] for r in records_in(runs).values()] == [1]
    code, out, _ = sedbench_cli(["status", "--runs-dir", str(runs)], capsys)
    # Ray may still forward a log line of the stopped worker into this output; the status line is the grid's
    status = [line for line in out.splitlines() if line.startswith("grid ")]
    assert status and "1 done, 1 failed" in status[0]


def test_a_job_that_a_live_process_runs_is_skipped_on_ray_too(local_ray, workspace, synth_mini, tmp_path, capsys,
                                                              monkeypatch):
    """Another real process holds one job of two, as a first `sedbench run` would: the Ray driver says so in one
    line, submits only the other job and leaves the held job's folder alone; once that process ends, it runs."""
    monkeypatch.setenv("SEDBENCH_DATA", str(workspace["data"]))
    monkeypatch.setenv("SEDBENCH_CACHE", str(workspace["cache"]))
    grid = ["run", "--system", "crnn", "--dataset", "synth-mini", "--sweep", "rnn_units=8,16", "--set",
            "max_epochs=1", *CRNN[:2], *CRNN[4:], "--quiet"]
    assert sedbench_cli([*grid, "--runs-dir", str(tmp_path / "keys")], capsys)[0] == 0
    held = next(r for r in records_in(tmp_path / "keys").values() if r["config"]["rnn_units"] == 8)
    runs = tmp_path / "runs"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from pathlib import Path; from sedbench.pipeline.jobstore import job_lock\n"
         f"with job_lock(Path({str(runs / '.jobs' / held['job']['key'])!r})) as h:\n"
         "    print('held' if h is None else h, flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        code, _, err = sedbench_cli([*grid, "--executor", "ray", "--runs-dir", str(runs)], capsys)
    finally:
        holder.communicate("")
    assert code == 0, err
    busy = [line for line in err.splitlines() if "is running this job" in line]
    assert len(busy) == 1 and "rnn_units=8" in busy[0] and f"process {holder.pid}@" in busy[0], err
    assert "1 run, 0 already done, 1 running in another process, 0 failed" in err
    assert [r["config"]["rnn_units"] for r in records_in(runs).values()] == [16]
    code, _, err = sedbench_cli([*grid, "--executor", "ray", "--runs-dir", str(runs)], capsys)
    assert code == 0 and "1 run, 1 already done, 0 failed" in err, err


def _cache_features(dataset, workspace) -> None:
    """Extract the CRNN's features of ``dataset`` into the shared cache, so that no job of a test waits for them."""
    from sedbench.core import registry
    from sedbench.core.config import build_config
    from sedbench.core.features import FeatureCache
    from sedbench.pipeline.inputs import load_features

    crnn = registry.systems.get("crnn")
    overrides = dict(item.split("=", 1) for item in CRNN[1::2])
    split = dataset.split("1")
    load_features(split.train + split.valid + split.test, crnn.features(build_config(crnn, "quick", overrides)),
                  FeatureCache(workspace["cache"]))
