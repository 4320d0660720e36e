"""`sedbench report --paper amiriparian2018`: Table 4 (rare-event ER per class and averaged) beside measured runs."""

from conftest import run_cli

from sedbench.papers.published import load_published
from sedbench.papers.tables import paper_table
from sedbench.pipeline.record import SCHEMA_VERSION, RunRecord, write_record
from sedbench.publish.summary import LOWER_IS_BETTER, summarize


def typed(records):
    """Hand-made record dicts as the readers take them."""
    return [RunRecord.from_json(record) for record in records]

CLASSES = ("babycry", "glassbreak", "gunshot")


def _counts(nref, ntp, nfp):
    return {"Nref": nref, "Nsys": ntp + nfp, "Ntp": ntp, "Nfp": nfp, "Nfn": nref - ntp}


def _record(dataset, system, seed, counts, fold="1"):
    """A run record as the runner writes it for a rare-event dataset (only what the report reads)."""
    class_wise = {}
    for label, c in zip(CLASSES, counts):
        c = _counts(*c)
        f1 = 100 * 2 * c["Ntp"] / (c["Nsys"] + c["Nref"])
        class_wise[label] = {"ER": (c["Nfn"] + c["Nfp"]) / c["Nref"], "F1": f1, "counts": c}
    average = {"ER": sum(c["ER"] for c in class_wise.values()) / 3, "F1": sum(c["F1"] for c in class_wise.values()) / 3}
    segment = {"overall": {"counts": {"Ntp": 5, "Nsys": 10, "Nref": 10, "S": 1, "D": 4, "I": 4}}}
    return {
        "schema_version": SCHEMA_VERSION, "dataset": {"name": dataset, "fingerprint": "f"},
        "system": {"name": system, "parameters": 1000, "citation": "c", "url": "u"},
        "profile": "quick", "config_hash": f"{system}-hash", "seed": seed, "fold": fold, "config": {},
        "headline": {"F1_frm": 50.0, "ER_frm": 0.9, "ER_rare": average["ER"], "F1_rare": average["F1"]},
        "metrics": {"frame": segment, "1s": segment,
                    "event": {"overall": {"counts": {"Ntp": 5, "Nsys": 10, "Nref": 10, "Nsubs": 0, "Nfn": 5, "Nfp": 5}}},
                    "rare": {"class_wise": class_wise, "average": average}},
        "timings": {"fit": 1.0, "total": 2.0},
    }


def test_published_table_four_is_complete():
    table = load_published("amiriparian2018")
    assert table["table"] == "Table 4" and table["rank_by"] == "ER_rare"
    assert table["metrics"] == ["ER_rare/babycry", "ER_rare/glassbreak", "ER_rare/gunshot", "ER_rare"]
    assert table["systems"] == ["rare-crnn", "rare-cnn", "rare-fnn"]
    rare = table["datasets"]["tut-rare2017"]
    assert rare["stand_ins"] == ["synth-rare"]
    published = {system: [v[m][0] for m in (*table["metrics"], "ER_rare_eval")] for system, v in rare["values"].items()}
    assert published == {"rare-crnn": [0.21, 0.19, 0.41, 0.17, 0.29], "rare-cnn": [0.48, 0.27, 0.56, 0.35, 0.43],
                         "rare-fnn": [0.80, 0.38, 0.53, 0.53, 0.63]}
    assert set(rare["other_data"]) == {"ER_rare/babycry", "ER_rare/glassbreak", "ER_rare/gunshot"}
    assert "ER_rare/babycry" in LOWER_IS_BETTER and "F1_rare/babycry" not in LOWER_IS_BETTER


def test_stand_in_rows_show_per_class_and_average_er_ranked_lower_first():
    records = [
        _record("synth-rare", "rare-fnn", 0, [(10, 4, 5), (10, 6, 2), (10, 5, 5)]),  # 1.1, 0.6, 1.0 -> 0.9
        _record("synth-rare", "rare-crnn", 0, [(10, 8, 1), (10, 9, 0), (10, 5, 3)]),  # 0.3, 0.1, 0.8 -> 0.4
        _record("synth-rare", "rare-crnn", 1, [(10, 8, 3), (10, 9, 2), (10, 6, 0)]),  # 0.5, 0.3, 0.4 -> 0.4
        _record("synth-rare", "rare-cnn", 0, [(10, 7, 1), (10, 9, 1), (10, 4, 2)]),  # 0.4, 0.2, 0.8 -> 0.4667
        _record("synth-rare", "crnn", 0, [(10, 1, 1)] * 3),  # not a system of the paper: left out
    ]
    text = paper_table(summarize(typed(records)), "amiriparian2018")
    assert "## synth-rare — a stand-in for TUT Rare Sound Events 2017" in text
    assert "| rare-crnn | quick | 2 | 0.40 ± 0.14 (paper 0.21) | 0.20 ± 0.14 (paper 0.19) | 0.60 ± 0.28 (paper 0.41) " \
           "| 0.40 ± 0.00 (paper 0.17) |" in text
    assert "| rare-cnn | quick | 1 | 0.40 (paper 0.48) | 0.20 (paper 0.27) | 0.80 (paper 0.56) | 0.47 (paper 0.35) |" in text
    assert "| rare-fnn | quick | 1 | 1.10 (paper 0.80) | 0.60 (paper 0.38) | 1.00 (paper 0.53) | 0.90 (paper 0.53) |" in text
    assert text.index("| rare-crnn |") < text.index("| rare-cnn |") < text.index("| rare-fnn |")  # Table 4's order
    assert "| crnn |" not in text and "Δ" not in text
    assert ("ER_rare ordering, measured: rare-crnn (quick) < rare-cnn (quick) < rare-fnn (quick); "
            "published: rare-crnn < rare-cnn < rare-fnn.") in text
    assert ("Published ER_rare/babycry, ER_rare/glassbreak, ER_rare/gunshot: the DCASE2017 task 2 evaluation set "
            "(Table 4 'test').") in text


def test_on_the_papers_dataset_only_the_development_average_gets_a_difference():
    # two folds of one seed: per-class ER from the summed counts, then the class mean
    records = [_record("tut-rare2017", "rare-crnn", 0, [(10, 8, 1), (10, 9, 0), (10, 5, 3)], fold="1"),
               _record("tut-rare2017", "rare-crnn", 0, [(30, 30, 1), (10, 9, 2), (30, 27, 0)], fold="2")]
    (row,) = summarize(typed(records))
    # babycry (2 + 1 + 0 + 1) / 40 = 0.1; glassbreak (1 + 1 + 0 + 2) / 20 = 0.2; gunshot (5 + 3 + 3 + 0) / 40 = 0.275
    assert [round(row.values[f"ER_rare/{c}"][0], 4) for c in CLASSES] == [0.1, 0.2, 0.275]
    assert round(row.values["ER_rare"][0], 4) == 0.1917
    text = paper_table([row], "amiriparian2018")
    assert "| rare-crnn | quick | 1 | 0.10 (paper 0.21) | 0.20 (paper 0.19) | 0.28 (paper 0.41) " \
           "| 0.19 (paper 0.17, Δ +0.02) |" in text
    assert "(Table 4 'test'); no difference is computed." in text


def test_report_command_prints_the_table(tmp_path):
    for record in (_record("synth-rare", "rare-crnn", 0, [(10, 8, 1), (10, 9, 0), (10, 5, 3)]),
                   _record("synth-rare", "rare-fnn", 0, [(10, 4, 5), (10, 6, 2), (10, 5, 5)])):
        write_record(tmp_path / "runs" / record["system"]["name"] / "r.json", record)
    result = run_cli(["report", "--paper", "amiriparian2018", "--runs-dir", str(tmp_path / "runs"),
                      "--out-dir", str(tmp_path / "reports")])
    assert result.returncode == 0, result.stderr
    assert "# Table 4 of amiriparian2018, regenerated" in result.stdout
    assert "| rare-crnn | quick | 1 | 0.30 (paper 0.21) | 0.10 (paper 0.19) | 0.80 (paper 0.41) | 0.40 (paper 0.17) |" \
           in result.stdout
    assert (tmp_path / "reports" / "amiriparian2018.md").read_text() in result.stdout


def test_leaderboard_shows_the_comparison_with_lower_is_better_per_class():
    from sedbench.publish.leaderboard import render

    html = render(typed([_record("synth-rare", "rare-crnn", 0, [(10, 8, 1), (10, 9, 0), (10, 5, 3)]),
                         _record("synth-rare", "rare-fnn", 0, [(10, 4, 5), (10, 6, 2), (10, 5, 5)])]))
    assert "Paper vs measured: Table 4 of amiriparian2018 (stand-in data)" in html
    assert "ER_rare/babycry ↓" in html and "ER_rare ↓" in html
    assert ("ER_rare ordering, measured: rare-crnn (quick) &lt; rare-fnn (quick); "
            "published: rare-crnn &lt; rare-cnn &lt; rare-fnn.") in html
    assert "ER_rare/gunshot: the DCASE2017 task 2 evaluation set (Table 4 &#39;test&#39;).</p>" in html
