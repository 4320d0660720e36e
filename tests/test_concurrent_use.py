"""Two real processes on the same dataset or feature cache at once: one builds, the other waits and reuses."""

import os
import socket
import subprocess
import sys

import pytest

from sedbench.core import registry
from sedbench.core.dataset import GENERATED_MARKER
from sedbench.core.features import FeatureCache, LogMelSpec
from sedbench.core.locks import wait_lock

PREPARE = """
import sys
from pathlib import Path
from sedbench.core import registry
dataset = registry.datasets.get("synth-mini")(Path(sys.argv[1]))
dataset.prepare()
print(dataset.fingerprint("1"), (dataset.root / "COMPLETE").stat().st_mtime_ns)
"""

EXTRACT = """
import sys
from pathlib import Path
from sedbench.core import registry
from sedbench.core.data import LabelKind
from sedbench.core.features import FeatureCache, LogMelSpec
from sedbench.pipeline.inputs import prepare_inputs
dataset = registry.datasets.get("synth-mini")(Path(sys.argv[1]))
inputs = prepare_inputs(dataset.split("1"), LogMelSpec(sample_rate=dataset.sample_rate), FeatureCache(Path(sys.argv[2])),
                        dataset.labels, LabelKind.STRONG)
print(inputs.extracted, inputs.loaded)
"""

ME = f"{os.getpid()}@{socket.gethostname()}"


def _start(script: str, *args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", script, *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_line(process: subprocess.Popen) -> str:
    """The second process's "waiting for ..." line (its other stderr lines, such as warnings, are skipped)."""
    for line in process.stderr:
        if line.startswith("waiting for process"):
            return line.rstrip("\n")
    pytest.fail(f"the second process never waited; it ended with {process.wait()}")


def _finish(process: subprocess.Popen) -> list[str]:
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, err
    assert "Error" not in err, err
    return out.split()


def test_a_second_process_waits_for_the_generation_and_reuses_the_dataset(tmp_path):
    dataset = registry.datasets.get("synth-mini")(tmp_path)
    with wait_lock(dataset.generation_lock, on_wait=pytest.fail):  # this process is the first one, generating
        second = _start(PREPARE, tmp_path)
        assert _wait_line(second) == (f"waiting for process {ME}, which is generating dataset 'synth-mini' in "
                                      f"{dataset.root}")
        dataset.generate()
        marker = (dataset.root / GENERATED_MARKER).stat().st_mtime_ns
    fingerprint, second_marker = _finish(second)
    assert fingerprint == dataset.fingerprint("1") and int(second_marker) == marker  # reused, not generated again
    assert sorted(p.name for p in tmp_path.iterdir()) == [".synth-mini.lock", "synth-mini"]  # no staging left


def test_two_processes_starting_together_generate_the_dataset_once(tmp_path):
    first, second = _start(PREPARE, tmp_path), _start(PREPARE, tmp_path)
    assert _finish(first) == _finish(second)  # same fingerprint and the same marker: one generation
    assert sorted(p.name for p in tmp_path.iterdir()) == [".synth-mini.lock", "synth-mini"]


def test_a_second_process_waits_for_the_feature_extraction_and_loads_the_features(synth_mini, tmp_path):
    cache, spec = FeatureCache(tmp_path), LogMelSpec(sample_rate=synth_mini.sample_rate)
    split = synth_mini.split("1")
    clips = split.train + split.valid + split.test
    with cache.extracting(clips, spec):  # this process is the first one, extracting
        second = _start(EXTRACT, synth_mini.data_dir, tmp_path)
        assert _wait_line(second) == (f"waiting for process {ME}, which is extracting features into "
                                      f"{tmp_path / 'features' / spec.key()}")
        for clip in clips:
            cache.get(clip, spec)
    assert cache.misses == len(clips)
    assert _finish(second) == ["0", str(len(clips))]  # extracted nothing, loaded everything


def test_a_job_that_another_process_finished_after_this_grid_started_is_not_run_again(tmp_path, monkeypatch):
    """Two grid processes on one runs folder: this one planned job b as pending, the other finished it while this
    one ran job a. Taking b's lock, this grid finds b's record and skips it (it used to train b again)."""
    from types import SimpleNamespace

    from sedbench.pipeline import grid
    from sedbench.pipeline.jobstore import JobOutcome, JobStore

    a, b = (SimpleNamespace(key=SimpleNamespace(id=name), label=f"job {name}", dataset_name="d",
                            record_path=lambda runs, name=name: runs / f"{name}.json",
                            job=SimpleNamespace(system="s", fold="1", seed=0, overrides={})) for name in ("a", "b"))
    finished: dict = {}
    ran = []

    def execute(resolved, where, **kwargs):
        ran.append(resolved.key.id)
        finished["b"] = tmp_path / "b.json"  # meanwhile, the other process writes b's record
        return JobOutcome(resolved.key.id, resolved.label, "done")

    monkeypatch.setattr(JobStore, "finished_record", lambda store, resolved: finished.get(resolved.key.id))
    monkeypatch.setattr(grid, "execute", execute)
    monkeypatch.setattr(grid, "finish", lambda store, resolved, outcome: outcome)
    monkeypatch.setattr("sedbench.pipeline.jobstore.read_record", lambda path: f"record at {path.name}")
    result = grid.run_grid([a, b], SimpleNamespace(runs_dir=tmp_path), progress=lambda *args: None)
    assert ran == ["a"]
    assert [(o.key, o.status, o.record) for o in result.outcomes] == [("a", "done", None),
                                                                       ("b", "skipped", "record at b.json")]
