"""`sedbench report --paper wang2017` (Table 4 + Fig. 2) and `--paper phan2018` (Table 2) on hand-made records."""

import pytest
from conftest import run_cli

from sedbench.papers.published import load_published
from sedbench.papers.tables import paper_has_rows, paper_table
from sedbench.pipeline.record import SCHEMA_VERSION, RunRecord, write_record
from sedbench.publish.summary import class_event_values, summarize


def typed(records):
    """Hand-made record dicts as the readers take them."""
    return [RunRecord.from_json(record) for record in records]


def _ctc_record(seed, config, train_ter, valid_ter, test_ter, dataset="synth", config_hash=None):
    epochs = list(range(1, len(train_ter) + 1))
    return {
        "schema_version": SCHEMA_VERSION, "dataset": {"name": dataset, "fingerprint": "f"},
        "system": {"name": "ctc-rnn", "parameters": 10, "citation": "c", "url": "u"},
        "profile": "quick", "config_hash": config_hash or "-".join(f"{k}{v}" for k, v in sorted(config.items())),
        "seed": seed, "fold": "1", "config": {"epochs": len(epochs), "n_mels": 40, **config},
        "headline": {"TER": test_ter}, "metrics": {"transcription": {"TER": test_ter}},
        "history": {"epoch": epochs, "train_TER": train_ter, "valid_TER": valid_ter,
                    "train_loss": [1.0 / e for e in epochs]},
        "test_curve": {"epochs": [{"epoch": e, "TER": 90.0 - e} for e in epochs]},
        "timings": {"fit": 30.0, "total": 40.0},
    }


SOUNDNET = {"features": "soundnet", "soundnet_layer": "conv5", "soundnet_weights": "pretrained"}
LOGMEL = {"features": "logmel"}


def test_wang2017_table_four_rows_measured_beside_published():
    curve = [100.0] * 9 + [95.0] * 16 + [90.0] * 25 + [80.0]  # epochs 1..51: 95 at epoch 10 and 25, 90 at 50
    records = [
        _ctc_record(0, SOUNDNET, [60.0] * 51, curve, 78.0),
        _ctc_record(1, SOUNDNET, [50.0] * 51, curve, 82.0),
        _ctc_record(0, LOGMEL, [70.0] * 51, [99.0] * 51, 90.0),
    ]
    text = paper_table(summarize(typed(records)), "wang2017")
    assert "## synth — a stand-in for the noiseme corpus" in text
    # final-epoch train / valid TER from the history, test TER from the harness; seeds give mean ± std
    assert ("| SoundNet | conv5 | 256 | quick | pretrained | 2 | 51 | 55.0 ± 7.1 (paper 2.3) | 80.0 ± 0.0 (paper 76.6) "
            "| 80.0 ± 2.8 (paper 74.0) | 95.0 ± 0.0 / 95.0 ± 0.0 / 90.0 ± 0.0 | 30 |") in text
    assert "| Low-level | N/A | 40 | quick |  | 1 | 51 | 70.0 (paper 15.2) | 99.0 (paper 82.8) | 90.0 (paper 81.0) |" in text
    # rows of the authors' unreleased SN-F / SN-R variants stay as published-only rows
    assert "| SN-R | gru1-BN | 200 | paper | | | 200 | 1.2 | 75.8 | 76.7 |" in text
    assert "Δ" not in text  # a stand-in: no differences


def test_wang2017_without_records_says_what_to_run():
    text = paper_table([], "wang2017")
    assert "sedbench weights fetch soundnet" in text
    assert "sedbench run --system ctc-rnn --dataset synth --set features=logmel --track-test" in text
    assert not paper_has_rows([], "wang2017")


def test_report_cli_writes_table_and_ter_curve_figure(tmp_path):
    runs = tmp_path / "runs"
    write_record(runs / "a.json", _ctc_record(0, SOUNDNET, [60.0, 50.0], [90.0, 85.0], 80.0))
    write_record(runs / "b.json", _ctc_record(0, LOGMEL, [90.0, 88.0], [95.0, 94.0], 93.0))
    result = run_cli(["report", "--paper", "wang2017", "--runs-dir", str(runs), "--out-dir", str(tmp_path / "out")])
    assert result.returncode == 0, result.stderr
    svg = (tmp_path / "out" / "wang2017_ter_curves.svg").read_text()
    assert svg.startswith("<svg") and "validation TER (%)" in svg and "test TER (%)" in svg
    assert "synth: SoundNet conv5 (pretrained), quick" in svg and "synth: log-mel 40, quick" in svg
    assert (tmp_path / "out" / "wang2017.md").read_text().startswith("# Table 4 of wang2017")


# ------------------------------------------------------------------ phan2018


def _class(nref, ntp, nfp, f1=None, er=None):
    counts = {"Nref": nref, "Nsys": ntp + nfp, "Ntp": ntp, "Nfp": nfp, "Nfn": nref - ntp}
    if f1 is None and nref and ntp + nfp:
        f1 = 100 * 2 * ntp / (nref + ntp + nfp)
    if er is None and nref:
        er = (counts["Nfn"] + nfp) / nref
    return {"F1": f1, "ER": er, "counts": counts}


def _event_record(system, seed, class_wise, overall_f1, overall_er, fold="1"):
    return {
        "schema_version": SCHEMA_VERSION, "dataset": {"name": "synth", "fingerprint": "f"},
        "system": {"name": system, "parameters": 10, "citation": "c", "url": "u"},
        "profile": "quick", "config_hash": f"{system}-h", "seed": seed, "fold": fold, "config": {},
        "headline": {"F1_event": overall_f1, "ER_event": overall_er},
        "metrics": {"event": {"class_wise": class_wise, "overall": {"F1": overall_f1, "ER": overall_er, "counts": {
            key: sum(c["counts"][key] for c in class_wise.values()) for key in ("Nref", "Nsys", "Ntp", "Nfp", "Nfn")}}}},
        "timings": {"fit": 1.0, "total": 2.0},
    }


def test_class_values_follow_sed_eval_average_leaving_undefined_f1_out():
    values = class_event_values(typed([_event_record("x", 0, {
        "alarms": _class(4, 2, 0),  # F1 66.7, ER 0.5
        "bus": _class(2, 0, 0),  # never detected: F1 undefined (sed_eval: NaN), ER 1.0
    }, 50.0, 0.8)]))
    assert values["F1_event/alarms"] == pytest.approx(200 / 3) and values["F1_event/bus"] is None
    assert values["F1_event/average"] == pytest.approx(200 / 3)  # NaN-ignoring, as sed_eval's class average
    assert values["ER_event/average"] == pytest.approx(0.75)


def test_class_values_over_folds_come_from_summed_counts():
    records = [_event_record("x", 0, {"bus": _class(4, 2, 2)}, 0, 0, fold="1"),
               _event_record("x", 0, {"bus": _class(6, 6, 0)}, 0, 0, fold="2")]
    values = class_event_values(typed(records))
    assert values["F1_event/bus"] == pytest.approx(100 * 2 * 8 / (10 + 10))
    assert values["ER_event/bus"] == pytest.approx((2 + 2) / 10)


def test_phan2018_table_two_layout_with_paper_class_names():
    records = [
        _event_record("multitask-crnn", 0, {"alarms": _class(10, 8, 2), "horse walk": _class(10, 5, 5)}, 65.0, 0.7),
        _event_record("multitask-crnn", 1, {"alarms": _class(10, 6, 2), "horse walk": _class(10, 5, 5)}, 55.0, 0.9),
        _event_record("multitask-crnn-baseline", 0, {"alarms": _class(10, 4, 4), "horse walk": _class(10, 2, 0)},
                      40.0, 1.1),
    ]
    text = paper_table(summarize(typed(records)), "phan2018")
    assert "## synth, profile quick — a stand-in for TUT-SED Synthetic 2016" in text
    # alarms = the paper's "alarms & sirens"; F1 2*8/(10+10) = 80 and 2*6/(10+8) = 66.7; ER 0.4 / 0.6
    assert ("| alarms | 73.3 ± 9.4 (72.6) | 0.50 ± 0.14 (0.50) | 44.4 (78.7) | 1.00 (0.37) |") in text
    assert "| horse walk | 50.0 ± 0.0 (60.2) | 1.00 ± 0.00 (1.02) | 33.3 (49.0) | 0.80 (1.10) |" in text
    assert "| Average | 61.7 ± 4.7 (64.0) | 0.75 ± 0.07 (0.84) | 38.9 (62.8) | 0.90 (0.86) |" in text
    assert "| Overall | 60.0 ± 7.1 (60.4) | 0.80 ± 0.14 (1.07) | 40.0 (56.3) | 1.10 (1.26) |" in text
    assert "Seeds per system: multitask-crnn: 2, multitask-crnn-baseline: 1." in text


def test_published_tables_are_the_papers():
    phan = load_published("phan2018")
    synthetic = phan["datasets"]["tut-synth2016"]["values"]
    assert synthetic["multitask-crnn"]["Overall"] == [60.4, 1.074]
    assert synthetic["multitask-crnn-baseline"]["gun shot"] == [47.7, 2.165]
    assert len(synthetic["multitask-crnn"]) == 18  # 16 classes + Average + Overall
    itc = phan["datasets"]["itc-irst"]["values"]
    assert itc["multitask-crnn"]["Average"] == [97.6, 0.102] and len(itc["multitask-crnn-baseline"]) == 14
    wang = load_published("wang2017")
    by_layer = {(r["feature"], r["layer"]): r["values"] for r in wang["rows"]}
    assert by_layer[("SoundNet", "conv5")] == {"TER_train": 2.3, "TER_valid": 76.6, "TER": 74.0}
    assert by_layer[("Low-level", "N/A")]["TER"] == 81.0 and len(wang["rows"]) == 15


def test_phan2018_one_table_per_shared_setting():
    records = [
        _event_record("multitask-crnn", 0, {"alarms": _class(10, 8, 2)}, 65.0, 0.7),
        _event_record("multitask-crnn-baseline", 0, {"alarms": _class(10, 4, 4)}, 40.0, 1.1),
    ]
    longer = [dict(r, config={"epochs": 30}, config_hash=r["config_hash"] + "30") for r in records]
    for r in records:
        r["config"] = {"epochs": 10}
    text = paper_table(summarize(typed(records + longer)), "phan2018")
    assert "## synth, profile quick, epochs=10 — a stand-in" in text
    assert "## synth, profile quick, epochs=30 — a stand-in" in text
    assert text.count("| Overall | 65.0 (60.4) | 0.70 (1.07) | 40.0 (56.3) | 1.10 (1.26) |") == 2
