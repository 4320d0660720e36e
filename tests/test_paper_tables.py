"""`sedbench report --paper cakir2017`: Table II regenerated with the published numbers beside."""

import pytest

from sedbench.core.errors import SedbenchError
from sedbench.papers.published import load_published
from sedbench.papers.tables import paper_table
from sedbench.publish.summary import Row


def _row(dataset, system, f1s, profile="quick"):
    values = {"F1_frm": f1s, "ER_frm": [0.5] * len(f1s), "F1_1s": f1s, "ER_1s": [0.5] * len(f1s)}
    return Row(dataset=dataset, system=system, profile=profile, config_hash=system, seeds=list(range(len(f1s))),
               folds=["1"], values=values, parameters=None, train_seconds=1.0)


def test_published_table_two_is_complete():
    table = load_published("cakir2017")
    assert table["table"] == "Table II"
    for dataset in ("tut-synth2016", "tut2009", "tut2016"):
        for system in ("gmm", "fnn", "cnn", "rnn", "crnn"):
            assert set(table["datasets"][dataset]["values"][system]) == {"F1_frm", "ER_frm", "F1_1s", "ER_1s"}
    assert table["datasets"]["tut-synth2016"]["values"]["crnn"]["F1_frm"] == [66.4, 0.6]
    assert table["datasets"]["tut2016"]["values"]["gmm"]["ER_1s"] == [1.13, None]


def test_matching_dataset_gets_differences_and_stand_in_does_not():
    rows = [_row("tut2016", "crnn", [30.0, 31.0]), _row("tut2016", "gmm", [10.0]), _row("synth", "cnn", [60.0, 62.0])]
    text = paper_table(rows, "cakir2017")
    # tut2016 CRNN: measured 30.5 ± 0.7 vs published 27.5 ± 2.6 -> +3.0
    assert "| crnn | quick | 2 | 30.5 ± 0.7 (paper 27.5 ± 2.6, Δ +3.0)" in text
    assert "| gmm | quick | 1 | 10.0 (paper 14.1, Δ -4.1)" in text
    assert "## synth — a stand-in for TUT-SED Synthetic 2016" in text
    assert "61.0 ± 1.4 (paper 59.8 ± 0.9) |" in text  # no difference on different data
    assert text.index("| gmm |") < text.index("| crnn |")  # the paper's row order
    assert "F1_frm ordering, measured: crnn (quick) > gmm (quick); published: rnn > crnn > fnn > cnn > gmm." in text


def test_unknown_paper_is_one_clear_error():
    # every published table is listed, in name order (other papers' tables join the list)
    with pytest.raises(SedbenchError, match=r"^no published table for paper 'cakir2099'; papers with tables: "
                                            r"adavanne2017, amiriparian2018, cakir2017, phan2018, wang2017$"):
        load_published("cakir2099")
