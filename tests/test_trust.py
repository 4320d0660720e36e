"""What makes a published number honest about itself: convergence, tuned post-processing chosen on validation
data only, rows named by what they change, claim verdicts, and a significance test with a known answer."""

import json

import numpy as np
import pytest
import torch

from sedbench.core.data import Convergence, Event, FeatureClip
from sedbench.pipeline.record import SCHEMA_VERSION, RunRecord
from sedbench.publish.summary import format_cell, summarize
from sedbench.training.early_stopping import EarlyStopping

# --------------------------------------------------------------------------- convergence


def _run(values, mode="max", patience=3, budget=10, min_epochs=0, plateau=None):
    stopper = EarlyStopping(mode=mode, patience=patience, min_epochs=min_epochs)
    epochs = 0
    for epoch, value in enumerate(values[:budget]):
        stopper.update(epoch, value)
        epochs = epoch + 1
        if stopper.should_stop(epoch):
            break
    return stopper.convergence(epochs, budget, "valid", plateau=plateau)


def test_patience_that_runs_out_before_the_budget_is_convergence():
    c = _run([1, 2, 3, 3, 2, 1, 1, 0, 0, 0], patience=3)
    assert (c.converged, c.best_epoch, c.epochs_run, c.max_epochs, c.patience) == (True, 3, 6, 10, 3)


def test_a_best_epoch_at_the_end_of_the_budget_is_not_convergence():
    c = _run([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], patience=3)
    assert (c.converged, c.best_epoch, c.epochs_run) == (False, 10, 10)
    # improving until three epochs before the end: the rule fires exactly at the budget, which counts
    assert _run([1, 2, 3, 4, 5, 6, 7, 7, 7, 7], patience=3).converged


def test_without_early_stopping_a_plateau_judges_and_min_epochs_holds():
    assert _run([3, 2, 1, 1, 1, 1, 1, 1, 1, 1], mode="min", patience=None, plateau=5).converged
    assert not _run([3, 2, 1, 1, 1, 1, 0.5, 1, 1, 1], mode="min", patience=None, plateau=5).converged
    assert not _run([3, 2, 1, 1, 1, 1], mode="min", patience=None).converged  # nothing to judge by
    early = _run([5, 4, 4, 4, 4, 4, 4, 4, 4, 4], mode="min", patience=2, min_epochs=8)
    assert early.converged and early.epochs_run == 8  # not before min_epochs


def test_parts_converge_together_only_when_each_does():
    done = Convergence(True, 12, 15, best_epoch=9, patience=3)
    open_ = Convergence(False, 15, 15, best_epoch=15, patience=3)
    both = Convergence.of_parts({"a": done, "b": open_})
    assert (both.converged, both.epochs_run, both.best_epoch, set(both.parts)) == (False, 15, 15, {"a", "b"})
    assert Convergence.of_parts({"a": done}).converged and not Convergence.of_parts({}).converged


# --------------------------------------------------------------------------- tuned post-processing


def _clip(name, frames, events, hop=0.02):
    return FeatureClip(name, np.zeros((frames, 1), np.float32), hop, frames * hop, None, np.zeros(1, np.float32),
                       events=events)


def test_tuning_finds_the_known_best_threshold_and_window():
    from sedbench.scoring.metrics import MetricSettings
    from sedbench.scoring.postprocess import PostProcessing
    from sedbench.scoring.tuning import tune_postprocessing

    # one event at 1-3 s. The output is 0.2 outside it (a threshold below 0.2 merges the whole clip into one
    # event), 0.4 inside with one-frame drops to 0.1 every 10 frames (a window of 1 splits the event), and
    # one-frame spikes of 0.45 outside (a window of 1 keeps them as false events). Only thresholds 0.2-0.35 with a
    # median window of 3 frames or more give the single right event; the first of them in grid order is chosen.
    p = np.full((250, 1), 0.2)
    p[50:150, 0] = 0.4
    p[55:150:10, 0] = 0.1
    p[[10, 20, 200, 230], 0] = 0.45
    clip = _clip("v.wav", 250, [Event(1.0, 3.0, "a")])
    tuned, search = tune_postprocessing([p], [clip], ("a",), MetricSettings(frame_resolution=0.02))
    assert (tuned.thresholds, tuned.windows) == ({"a": 0.2}, {"a": 3})
    assert search["valid_F1_event"] == {"a": 100.0} and search["windows"][:2] == [1, 3]
    assert [(round(e.onset, 2), round(e.offset, 2)) for e in tuned.events(p, 0.02, ("a",), 5.0)] == [(1.0, 3.0)]
    assert PostProcessing().events(p, 0.02, ("a",), 5.0) == []  # the papers' protocol: nothing above 0.5


def test_the_harness_tunes_on_validation_clips_only(workspace, synth_mini, tmp_path, monkeypatch):
    from sedbench.core import registry
    from sedbench.pipeline import runner
    from sedbench.pipeline.jobs import JobSpec, Locations

    seen = []
    original = runner.tune_postprocessing

    def spy(probabilities, clips, labels, settings):
        seen.extend(c.clip_id for c in clips)
        return original(probabilities, clips, labels, settings)

    monkeypatch.setattr(runner, "tune_postprocessing", spy)
    record, _ = runner.run_job(JobSpec(system="crnn", dataset="synth-mini", device="cpu",
                                       overrides={"max_epochs": "1", "conv_maps": "4", "rnn_units": "4"}),
                               Locations(workspace["data"], workspace["cache"], tmp_path), log=lambda _: None)
    split = synth_mini.split("1")
    assert seen == [c.clip_id for c in split.valid] and not set(seen) & {c.clip_id for c in split.test}
    tuned = record.tuned
    assert set(tuned["postprocessing"]["thresholds"]) == set(synth_mini.labels)
    assert all(w % 2 == 1 for w in tuned["postprocessing"]["median_windows"].values())
    assert set(tuned["headline"]) >= {"F1_event", "ER_event"} and record.postprocessing["threshold"] == 0.5
    assert record.convergence is not None and record.convergence.max_epochs == 1
    assert registry.systems.get("crnn").decision_threshold(record.config) == 0.5


# --------------------------------------------------------------------------- rows, best cells, verdicts


def _record(system, seed, headline, config=None, overrides=None, dataset="synth", converged=None, per_file=None,
            fingerprint=""):
    data = {"schema_version": SCHEMA_VERSION, "system": {"name": system},
            "dataset": {"name": dataset, "fingerprint": fingerprint},
            "fold": "1", "seed": seed, "profile": "quick", "config_hash": json.dumps(config or {}, sort_keys=True),
            "config": config or {}, "overrides": overrides or {}, "headline": headline}
    if converged is not None:
        data["convergence"] = {"converged": converged, "epochs_run": 25, "max_epochs": 25}
    if per_file is not None:
        data["metrics"] = {"frame": {"per_file": per_file}}
    return RunRecord.from_json(data)


def test_rows_say_what_their_config_changes():
    from dataclasses import asdict

    from sedbench.core import registry
    from sedbench.core.config import build_config

    weak = asdict(build_config(registry.systems.get("weak-crnn"), "quick", dataset="synth-weak"))
    ctc = asdict(build_config(registry.systems.get("ctc-rnn"), "quick", dataset="synth"))
    crnn = asdict(build_config(registry.systems.get("crnn"), "quick", dataset="synth"))
    rows = summarize([
        _record("weak-crnn", 0, {"F1_tag": 40.0}, {**weak, "strong_weight": 0.02}, dataset="synth-weak"),
        _record("weak-crnn", 0, {"F1_tag": 41.0}, {**weak, "strong_weight": 1.0}, dataset="synth-weak"),
        _record("ctc-rnn", 0, {"TER": 80.0}, {**ctc, "features": "logmel"}),
        _record("ctc-rnn", 0, {"TER": 79.0}, {**ctc, "soundnet_layer": "pool5"}),
        _record("crnn", 0, {"F1_frm": 50.0}, {**crnn, "max_epochs": 3, "conv_maps": 8}),
    ])
    labels = {row.label for row in rows}
    assert labels == {"weak-crnn quick · strong_weight=0.02", "weak-crnn quick",
                      "ctc-rnn quick · features=logmel", "ctc-rnn quick · soundnet_layer=pool5",
                      "crnn custom · max_epochs=3, conv_maps=8"}  # in the Config's field order


def test_runs_on_another_version_of_the_data_make_their_own_row_and_are_not_compared():
    """The same system and config on two versions of synth: two rows that name their data, no seeds pooled across
    them, and no bootstrap between them (their test files differ)."""
    from sedbench.publish.report import csv_text
    from sedbench.publish.significance import compare_with_best, paired_bootstrap

    rows = summarize([_record("crnn", 0, {"F1_frm": 70.0}, per_file=_files([7] * 6), fingerprint="52337d05" * 2),
                      _record("crnn", 1, {"F1_frm": 72.0}, per_file=_files([7] * 6), fingerprint="52337d05" * 2),
                      _record("crnn", 0, {"F1_frm": 64.0}, per_file=_files([6] * 6), fingerprint="c3125214" * 2),
                      _record("cnn", 0, {"F1_frm": 60.0}, per_file=_files([6] * 6), fingerprint="52337d05" * 2)])
    assert sorted(row.label for row in rows) == ["cnn quick · data 52337d05", "crnn quick · data 52337d05",
                                                 "crnn quick · data c3125214"]
    new, old = sorted((row for row in rows if row.system == "crnn"), key=lambda row: row.fingerprint)
    assert (new.seeds, old.seeds) == ([0, 1], [0])
    assert paired_bootstrap(old, new, "F1_frm") is None
    best, comparisons = compare_with_best(rows, "F1_frm")
    assert best is new and [rows[i] for i in comparisons] == [r for r in rows if r.system == "cnn"]
    lines = [line.split(",") for line in csv_text(rows).splitlines()]
    column = lines[0].index("dataset_fingerprint")
    assert {line[column] for line in lines[1:]} == {"52337d05" * 2, "c3125214" * 2}
    one_version = summarize([_record("crnn", 0, {"F1_frm": 70.0}, fingerprint="52337d05" * 2)])
    assert one_version[0].label == "crnn quick"


def test_one_seed_shows_no_spread_and_convergence_is_counted():
    rows = summarize([_record("crnn", 0, {"F1_frm": 50.0}, converged=False),
                      _record("cnn", 0, {"F1_frm": 40.0}, converged=True),
                      _record("cnn", 1, {"F1_frm": 42.0}, converged=True)])
    crnn, = [r for r in rows if r.system == "crnn"]
    cnn, = [r for r in rows if r.system == "cnn"]
    assert format_cell(crnn, "F1_frm") == "50.0" and format_cell(cnn, "F1_frm") == "41.0 ± 1.4"
    assert crnn.budget_bound and crnn.convergence_text() == "0/1 ⚠ stopped at budget"
    assert not cnn.budget_bound and cnn.convergence_text() == "2/2"


def test_a_near_silent_row_never_holds_the_best_error_rate():
    from sedbench.publish.leaderboard import _best_rows

    rows = summarize([_record("crnn", 0, {"F1_event": 20.0, "ER_event": 2.5}),
                      _record("silent", 0, {"F1_event": 0.4, "ER_event": 1.0}),
                      _record("gmm", 0, {"F1_event": 10.0, "ER_event": 3.0})])
    names = [row.system for row in rows]
    assert [names[i] for i in _best_rows(rows, "ER_event")] == ["crnn"]
    assert [names[i] for i in _best_rows(rows, "F1_event")] == ["crnn"]


def test_claim_verdicts_on_hand_made_rows():
    from sedbench.papers.claims import NOT_REPRODUCED, NOT_TESTABLE, REPRODUCED, claim_verdicts

    published = {"paper": "p", "datasets": {"real": {"name": "Real", "stand_ins": ["synth"]}}, "claims": [
        {"statement": "a beats b", "kind": "better", "metric": "ER_frm", "row": {"system": "a"},
         "than": [{"system": "b"}]},
        {"statement": "order", "kind": "order", "metric": "F1_frm",
         "rows": [{"system": "a"}, {"system": "b"}, {"system": "c"}]},
        {"statement": "d's setting", "kind": "better", "metric": "F1_frm",
         "row": {"system": "d", "config": {"w": 1}}, "than": [{"system": "d", "config": {"w": 0.5}}]},
    ]}
    rows = summarize([_record("a", 0, {"F1_frm": 60.0, "ER_frm": 0.5}, converged=False),
                      _record("b", 0, {"F1_frm": 55.0, "ER_frm": 0.6}, converged=True),
                      _record("c", 0, {"F1_frm": 58.0, "ER_frm": 0.7})])
    first, second, third = claim_verdicts(rows, published)
    assert (first.verdict, first.dataset, first.stand_in) == (REPRODUCED, "synth", True)
    assert first.evidence == "ER_frm: a 0.50 (1 seed), b 0.60 (1 seed)" and first.unconverged == ["a"]
    assert second.verdict == NOT_REPRODUCED  # b 55 < c 58
    assert (third.verdict, third.dataset, third.evidence) == (NOT_TESTABLE, None, "no records of d (w=0.5), d (w=1)")
    assert "**reproduced** on synth (stand-in data)" in first.text() and "stopped at their epoch budget" in first.text()


def test_claims_are_judged_on_each_version_of_the_data_apart():
    from sedbench.papers.claims import NOT_REPRODUCED, REPRODUCED, claim_verdicts

    published = {"paper": "p", "datasets": {"synth": {"name": "Synth"}}, "claims": [
        {"statement": "a beats b", "kind": "better", "metric": "F1_frm", "row": {"system": "a"},
         "than": [{"system": "b"}]}]}
    new, old = "52337d05" * 2, "c3125214" * 2
    rows = summarize([_record("a", 0, {"F1_frm": 60.0}, fingerprint=new),
                      _record("b", 0, {"F1_frm": 55.0}, fingerprint=new),
                      _record("a", 0, {"F1_frm": 50.0}, fingerprint=old),
                      _record("b", 0, {"F1_frm": 58.0}, fingerprint=old),
                      _record("b", 1, {"F1_frm": 58.0}, fingerprint="0" * 16)])  # no a on this version
    verdicts = {v.data_version: v for v in claim_verdicts(rows, published)}
    assert set(verdicts) == {new, old}
    assert (verdicts[new].verdict, verdicts[old].verdict) == (REPRODUCED, NOT_REPRODUCED)
    assert "**reproduced** on synth (data 52337d05)" in verdicts[new].text()


# --------------------------------------------------------------------------- significance


def _files(tp_by_file, n=10):
    return {f"f{i}": {"Ntp": float(tp), "Nsys": float(n), "Nref": float(n), "S": 0.0, "D": float(n - tp),
                      "I": 0.0, "Ntn": 0.0, "Nfp": float(n - tp), "Nfn": float(n - tp)}
            for i, tp in enumerate(tp_by_file)}


def test_bootstrap_of_identical_rows_is_zero_and_not_significant():
    from sedbench.publish.significance import paired_bootstrap

    a, b = summarize([_record("a", 0, {"F1_frm": 50.0}, per_file=_files([5] * 8)),
                      _record("b", 0, {"F1_frm": 50.0}, per_file=_files([5] * 8))])
    comparison = paired_bootstrap(a, b, "F1_frm")
    assert (comparison.difference, comparison.low, comparison.high, comparison.significant) == (0.0, 0.0, 0.0, False)


def test_bootstrap_of_a_row_better_on_every_file_is_significant_with_the_exact_difference():
    from sedbench.publish.significance import compare_with_best

    # row a finds 9 of 10 frames in every file, row b 5 of 10: F1 90 vs 50 on any resample of the files
    rows = summarize([_record("a", 0, {"F1_frm": 90.0}, per_file=_files([9] * 12)),
                      _record("b", 0, {"F1_frm": 50.0}, per_file=_files([5] * 6)),
                      _record("b", 1, {"F1_frm": 50.0}, per_file={f"f{i + 6}": v for i, v in
                                                                 enumerate(_files([5] * 6).values())})])
    best, comparisons = compare_with_best(rows, "F1_frm")
    assert best.system == "a"
    (comparison,) = comparisons.values()
    assert comparison.difference == pytest.approx(-40.0) and comparison.files == 12
    assert comparison.low == pytest.approx(-40.0) and comparison.high == pytest.approx(-40.0)
    assert comparison.significant and "significant" in comparison.text(1)


def test_bootstrap_interval_covers_a_mixed_case_and_is_seeded():
    from sedbench.publish.significance import paired_bootstrap

    rng = np.random.default_rng(3)
    ours, theirs = rng.integers(3, 9, 30), rng.integers(3, 9, 30)
    a, b = summarize([_record("a", 0, {"F1_frm": 1.0}, per_file=_files(ours)),
                      _record("b", 0, {"F1_frm": 1.0}, per_file=_files(theirs))])
    first, again = paired_bootstrap(a, b, "F1_frm"), paired_bootstrap(a, b, "F1_frm")
    assert first == again and first.low <= first.difference <= first.high
    assert first.difference == pytest.approx(100 * (ours.sum() - theirs.sum()) / 300)


def test_records_keep_per_file_counts_that_add_up_to_the_overall_counts():
    from sedbench.scoring.metrics import MetricSettings, score

    refs = {"a.wav": [Event(0.0, 1.0, "x")], "b.wav": [Event(0.5, 2.0, "y"), Event(1.0, 1.5, "x")]}
    ests = {"a.wav": [Event(0.1, 0.9, "x")], "b.wav": [Event(0.5, 1.2, "y")]}
    result = score(refs, ests, {"a.wav": 2.0, "b.wav": 3.0}, ["x", "y"], MetricSettings(frame_resolution=0.02))
    for level in ("frame", "1s", "event"):
        files = result[level]["per_file"]
        assert set(files) == {"a.wav", "b.wav"}
        for key, total in result[level]["overall"]["counts"].items():
            assert sum(f[key] for f in files.values()) == pytest.approx(total), (level, key)


def test_torch_is_only_needed_for_the_early_stopping_weights():
    stopper = EarlyStopping(mode="min", patience=1)
    model = torch.nn.Linear(2, 1)
    assert stopper.update(0, 1.0, model) and stopper.best_state is not None
