"""`sedbench report --paper adavanne2017` (the slides' loss-weight table) and `sedbench run --sweep`, without training."""

import pytest
from conftest import run_cli

from sedbench.core.errors import ConfigError
from sedbench.papers.published import load_published
from sedbench.papers.tables import compare_with_paper, paper_has_rows, paper_table
from sedbench.pipeline.settings import parse_sweep
from sedbench.publish.report import write_reports
from sedbench.publish.summary import Row

METRICS = ("P_tag", "R_tag", "F1_tag", "ER_1s", "F1_1s")


def weak_row(dataset, strong, weak, per_seed, profile="quick", config_hash=None):
    """per_seed: one (P, R, F1, ER, F1_1s) tuple per seed."""
    values = {metric: [seed[i] for seed in per_seed] for i, metric in enumerate(METRICS)}
    return Row(dataset=dataset, system="weak-crnn", profile=profile, config_hash=config_hash or f"{strong}-{weak}",
               seeds=list(range(len(per_seed))), folds=["1"], values=values, parameters=None, train_seconds=1.0,
               config={"strong_weight": strong, "weak_weight": weak})


# ------------------------------------------------------------------ the published table


def test_published_table_has_the_slides_seven_pairs():
    table = load_published("adavanne2017")
    assert table["layout"] == "loss_weights" and table["system"] == "weak-crnn"
    assert table["metrics"] == list(METRICS)
    assert table["datasets"] == {"dcase2017-task4": {"name": table["datasets"]["dcase2017-task4"]["name"],
                                                     "stand_ins": ["synth-weak"]}}
    pairs = [(r["strong_weight"], r["weak_weight"]) for r in table["rows"]]
    assert pairs == [(0.002, 1), (0.02, 1), (0.2, 1), (1, 1), (1, 0.2), (1, 0.02), (1, 0.002)]
    assert table["rows"][3]["values"] == {"P_tag": 47.5, "R_tag": 39.7, "F1_tag": 43.3, "ER_1s": 0.84, "F1_1s": 38.8}
    assert table["rows"][6]["values"] == {"P_tag": 20.5, "R_tag": 16.5, "F1_tag": 18.3, "ER_1s": 0.81, "F1_1s": 42.4}
    assert table["sweep"] == {"strong_weight": [0.002, 0.02, 0.2, 1], "weak_weight": [1]}


# ------------------------------------------------------------------ the regenerated table


def test_rows_beside_the_slides_and_commands_for_the_missing_sweep_pairs():
    rows = [
        weak_row("synth-weak", 0.2, 1.0, [(40.0, 30.0, 34.0, 0.90, 20.0), (42.0, 32.0, 36.0, 0.80, 22.0)]),
        weak_row("synth-weak", 1.0, 0.02, [(30.0, 20.0, 24.0, 0.85, 25.0)]),
        weak_row("synth-weak", 0.5, 1.0, [(41.0, 31.0, 35.0, 0.88, 21.0)]),  # not in the slides
        weak_row("crnn-data", 1.0, 1.0, [(1.0, 1.0, 1.0, 1.0, 1.0)]),  # another dataset: ignored
    ]
    text = paper_table(rows, "adavanne2017")
    assert text.startswith("# Loss-weight table (slides, Results) of adavanne2017, regenerated\n")
    assert ("## synth-weak, profile quick — a stand-in for the AudioSet subset of DCASE2017 task 4 (17 classes, "
            "51,172 training and 488 test clips): the published numbers are on different data") in text
    assert ("| 0.2 | 1 | 2 | 41.0 ± 1.4 (paper 47.5) | 31.0 ± 1.4 (paper 39.6) | 35.0 ± 1.4 (paper 43.2) | "
            "0.85 ± 0.07 (paper 0.84) | 21.0 ± 1.4 (paper 38.1) | 0.2-1.0 |") in text
    assert "| 1 | 0.02 | 1 | 30.0 (paper 25.5) | 20.0 (paper 20.6) | 24.0 (paper 22.8) | 0.85 (paper 0.81) |" in text
    assert "| 0.5 | 1 | 1 | 41.0 (paper —) |" in text
    # the slides' row order, then pairs the slides do not have
    assert text.index("| 0.2 | 1 |") < text.index("| 1 | 0.02 |") < text.index("| 0.5 | 1 |")
    assert "crnn-data" not in text
    assert "Sweep pairs (strong_weight, weak_weight) without run records here: (0.002, 1), (0.02, 1), (1, 1)." in text
    for command in ("sedbench run --system weak-crnn --dataset synth-weak --set strong_weight=0.002 --set weak_weight=1",
                    "sedbench run --system weak-crnn --dataset synth-weak --set strong_weight=0.02 --set weak_weight=1",
                    "sedbench run --system weak-crnn --dataset synth-weak --set strong_weight=1 --set weak_weight=1",
                    "sedbench run --system weak-crnn --dataset synth-weak --sweep strong_weight=0.002,0.02,1 "
                    "--set weak_weight=1"):
        assert f"\n    {command}\n" in text


def test_the_papers_own_dataset_gets_differences_and_its_profile_in_the_commands():
    rows = [weak_row("dcase2017-task4", 1.0, 1.0, [(45.0, 40.0, 42.0, 0.90, 40.0)], profile="paper")]
    text = paper_table(rows, "adavanne2017")
    assert "## dcase2017-task4, profile paper\n" in text
    assert ("| 1 | 1 | 1 | 45.0 (paper 47.5, Δ -2.5) | 40.0 (paper 39.7, Δ +0.3) | 42.0 (paper 43.3, Δ -1.3) | "
            "0.90 (paper 0.84, Δ +0.06) | 40.0 (paper 38.8, Δ +1.2) |") in text
    assert ("    sedbench run --system weak-crnn --dataset dcase2017-task4 --profile paper --sweep "
            "strong_weight=0.002,0.02,0.2 --set weak_weight=1\n") in text


def test_without_records_the_table_says_how_to_run_the_sweep():
    text = paper_table([], "adavanne2017")
    assert "No run records of weak-crnn on dcase2017-task4, synth-weak yet" in text
    assert text.count("\n    sedbench run --system weak-crnn --dataset synth-weak --set strong_weight=") == 4
    assert ("\n    sedbench run --system weak-crnn --dataset synth-weak --sweep strong_weight=0.002,0.02,0.2,1 "
            "--set weak_weight=1\n") in text


def test_other_paper_tables_and_the_page_are_unaffected(tmp_path):
    rows = [weak_row("synth-weak", 1.0, 1.0, [(45.0, 40.0, 42.0, 0.9, 40.0)])]
    assert compare_with_paper(rows, "adavanne2017").datasets == []  # the leaderboard's comparisons skip it
    assert paper_has_rows(rows, "adavanne2017") and not paper_has_rows(rows, "cakir2017")
    written = [path.name for path in write_reports(rows, tmp_path)]
    assert written == ["results.md", "results.csv", "adavanne2017.md"]
    assert (tmp_path / "adavanne2017.md").read_text() == paper_table(rows, "adavanne2017")


def test_report_command_prints_the_table_without_any_records(tmp_path):
    result = run_cli(["report", "--paper", "adavanne2017", "--runs-dir", str(tmp_path / "none"),
                      "--out-dir", str(tmp_path / "out")])
    assert result.returncode == 0, result.stderr
    assert "--sweep strong_weight=0.002,0.02,0.2,1 --set weak_weight=1" in result.stdout
    assert (tmp_path / "out" / "adavanne2017.md").exists()


# ------------------------------------------------------------------ --sweep


def test_sweep_is_the_cartesian_product_with_the_set_overrides():
    combos = parse_sweep(["strong_weight=0.002,0.02,0.2,1"], {"weak_weight": "1"})
    assert combos == [{"weak_weight": "1", "strong_weight": v} for v in ("0.002", "0.02", "0.2", "1")]
    combos = parse_sweep(["strong_weight=0.2,1", "weak_weight=1,0.2 max_epochs=3"])
    assert combos == [
        {"strong_weight": s, "weak_weight": w, "max_epochs": "3"} for s in ("0.2", "1") for w in ("1", "0.2")]
    assert parse_sweep([], {"weak_weight": "1"}) == [{"weak_weight": "1"}]  # no sweep: the one --set run


def test_sweep_values_may_be_tuples():
    assert parse_sweep(["pool_sizes=(5,2,2),(2,2,2,5)"]) == [{"pool_sizes": "(5,2,2)"}, {"pool_sizes": "(2,2,2,5)"}]


@pytest.mark.parametrize("items, overrides, message", [
    (["strong_weight"], {}, "--sweep expects key=value1,value2,..., got 'strong_weight'"),
    (["=1,2"], {}, "--sweep expects key=value1,value2,..., got '=1,2'"),
    (["strong_weight="], {}, "--sweep strong_weight= lists no values; expected strong_weight=value1,value2,..."),
    (["strong_weight=0.2,,1"], {}, "--sweep strong_weight=0.2,,1 has an empty value; expected "
                                   "strong_weight=value1,value2,..."),
    (["strong_weight=0.2,0.2"], {}, "--sweep lists value '0.2' of setting 'strong_weight' twice"),
    (["strong_weight=1", "strong_weight=2"], {}, "--sweep gives setting 'strong_weight' twice; list all its values "
                                                 "in one strong_weight=v1,v2,..."),
    (["weak_weight=0.2,1"], {"weak_weight": "1"}, "setting 'weak_weight' is given both in --set and --sweep; give "
                                                  "it in one of them"),
    (["pool_sizes=(5,2,2"], {}, "--sweep pool_sizes=(5,2,2 has unbalanced parentheses"),
])
def test_sweep_errors_are_one_sentence(items, overrides, message):
    with pytest.raises(ConfigError) as info:
        parse_sweep(items, overrides)
    assert str(info.value) == message


def test_unknown_sweep_key_is_caught_by_the_config_before_training(tmp_path):
    from typer.testing import CliRunner

    from sedbench.cli import app

    result = CliRunner().invoke(app, ["run", "--system", "weak-crnn", "--dataset", "synth-weak",
                                      "--sweep", "strong_wieght=0.2,1", "--set", "weak_weight=1",
                                      "--runs-dir", str(tmp_path / "runs"), "--data-dir", str(tmp_path / "data")])
    assert isinstance(result.exception, ConfigError)  # `sedbench` prints it as one line and exits 2
    assert str(result.exception).startswith("unknown setting 'strong_wieght' for WeakCRNNConfig; settings: ")
    assert not (tmp_path / "data").exists() and not (tmp_path / "runs").exists()  # nothing generated or trained
