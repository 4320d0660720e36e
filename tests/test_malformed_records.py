"""One malformed run record never hides the others: it is named in one warning line and left out, and the page and
the tables are built from every other record."""

import copy
import json
import re

import pytest
from conftest import run_cli
from test_leaderboard import _events, _record

from sedbench.pipeline.record import load_records, write_record
from sedbench.publish.leaderboard import render
from sedbench.publish.report import write_reports
from sedbench.publish.summary import summarize


def _good(seed: int) -> dict:
    record = _record("synth", "crnn", seed, _events(60.0 + seed, 0.5))
    counts = {"Ntp": 60.0, "Nsys": 100.0, "Nref": 100.0, "S": 10.0, "D": 30.0, "I": 30.0}
    for level in ("frame", "1s", "event"):
        record["metrics"].setdefault(level, {})["overall"] = {"F1": 60.0, "ER": 0.7, "counts": dict(counts)}
    record["metrics"]["threshold_free"] = {"psds1": {"value": 0.3, "curve": {"efpr": [0.0, 100.0],
                                                                              "etpr": [0.1, 0.4]}}}
    return record


def _set(path: str, value):
    """A change at a dotted path ('a.b.c'; a missing last key is removed when value is ...)."""
    def change(record):
        *parents, last = path.split(".")
        target = record
        for key in parents:
            target = target[key]
        if value is ...:
            del target[last]
        else:
            target[last] = value
    return change


CLASS = "bird singing"
MALFORMED = [  # (what is wrong, the change, the field the warning names)
    ("headline value", _set("headline.F1_frm", "high"), "headline.F1_frm"),
    ("metrics not an object", _set("metrics", []), "metrics"),
    ("class-wise results a list", _set("metrics.frame.class_wise", [1]), "metrics.frame.class_wise"),
    ("class-wise F1 a string", _set(f"metrics.frame.class_wise.{CLASS}.F1", "x"), f"metrics.frame.class_wise.{CLASS}.F1"),
    ("no counts", _set("metrics.event.overall.counts", ...), "metrics.event.overall.counts"),
    ("a count a string", _set("metrics.1s.overall.counts.Ntp", "many"), "metrics.1s.overall.counts.Ntp"),
    ("a PSD-ROC curve a number", _set("metrics.threshold_free.psds1.curve", 3), "metrics.threshold_free.psds1.curve"),
    ("a PSDS a string", _set("metrics.threshold_free.psds1.value", "0.3"), "metrics.threshold_free.psds1.value"),
    ("seed a string", _set("seed", "zero"), "seed"),
    ("no dataset name", _set("dataset.name", ...), "dataset.name"),
    ("dataset labels a string", _set("dataset.labels", "dog"), "dataset.labels"),
    ("no system", _set("system", ...), "system"),
    ("epochs not a list", _set("history.epoch", 3), "history.epoch"),
    ("a training curve of strings", _set("history.train_loss", ["a"]), "history.train_loss[0]"),
    ("excerpt event of two values", _set("excerpt.reference", [[1.0, 2.0]]), "excerpt.reference[0]"),
    ("excerpt without its start", _set("excerpt.start", ...), "excerpt.start"),
    ("a timing a string", _set("timings.fit", "slow"), "timings.fit"),
    ("study shifts a list", _set("robustness.pitch_shift.shifts", [1]), "robustness.pitch_shift.shifts"),
    ("tuned without metrics", _set("tuned", {"headline": {}}), "tuned.metrics"),
    ("tuned headline a number", _set("tuned", {"headline": 3, "metrics": {}}), "tuned.headline"),
    ("convergence flag a string", _set("convergence", {"converged": "yes"}), "convergence.converged"),
    ("config hash a number", _set("config_hash", 5), "config_hash"),
]


@pytest.mark.parametrize("what, change, field", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_a_malformed_record_is_named_and_left_out(what, change, field, tmp_path):
    runs = tmp_path / "runs"
    for seed in (0, 1):
        write_record(runs / "synth" / "crnn" / f"good-seed{seed}.json", _good(seed))
    bad = copy.deepcopy(_good(2))
    change(bad)
    bad_path = runs / "synth" / "crnn" / "bad-seed2.json"
    bad_path.write_text(json.dumps(bad))
    warnings = []
    records = load_records(runs, warn=warnings.append)
    assert [r.seed for r in records] == [0, 1]
    assert len(warnings) == 1 and warnings[0].startswith(f"skipped: run record {bad_path}")
    assert f"'{field}'" in warnings[0] and "\n" not in warnings[0]
    html = render(records)
    assert "crnn" in html and "61.0" in html  # the good records' row (mean of 60 and 61 over two seeds)
    written = write_reports(summarize(records), tmp_path / "reports")
    assert "| crnn |" in (tmp_path / "reports" / "results.md").read_text() and written


def test_the_commands_print_one_line_and_build_everything_else(tmp_path):
    runs = tmp_path / "runs"
    write_record(runs / "synth" / "crnn" / "good-seed0.json", _good(0))
    bad = _good(1)
    bad["timings"]["fit"] = "slow"
    (runs / "synth" / "crnn" / "bad-seed1.json").write_text(json.dumps(bad))
    expected = re.compile(rf"^skipped: run record {re.escape(str(runs))}/synth/crnn/bad-seed1\.json: 'timings\.fit' "
                          r"must be a number, got str$")
    for command in (["leaderboard", "--runs-dir", str(runs), "--out", str(tmp_path / "lb.html")],
                    ["report", "--runs-dir", str(runs), "--out-dir", str(tmp_path / "reports")]):
        result = run_cli(command)
        assert result.returncode == 0, result.stderr
        lines = [line for line in result.stderr.splitlines() if line.startswith("skipped:")]
        assert len(lines) == 1 and expected.match(lines[0]), result.stderr
        assert "1 run records ->" in result.stdout
