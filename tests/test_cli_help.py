"""Help that renders: every help text printed as written, flags without a value type, `sedbench show`, and listings
whose columns line up."""

import re
import sys

import pytest
import typer.main
from typer.testing import CliRunner

from sedbench.cli import app
from sedbench.core import registry

WIDE = {"COLUMNS": "200"}
LONG_NAME = "a-name-longer-than-any-built-in-system-or-dataset"


def _command_tree(command, path=()):
    """(argv prefix, click command) of the root, every command and every sub-command."""
    yield path, command
    for name, child in getattr(command, "commands", {}).items():
        yield from _command_tree(child, (*path, name))


COMMANDS = list(_command_tree(typer.main.get_command(app)))


def _flat(text: str) -> str:
    """Whitespace as a single space, and no break after a hyphen: wrapping at any width reads the same."""
    return re.sub(r"(?<=\w-) (?=\w)", "", " ".join(text.split()))


def _help(path) -> str:
    result = CliRunner().invoke(app, [*path, "--help"], env=WIDE)
    assert result.exit_code == 0, result.output
    return result.output


def sedbench_cli(args: list[str], capsys, monkeypatch) -> tuple[int, str, str]:
    """The public command line in this process, as tests/test_grid.py runs it: errors are printed as users see them."""
    from sedbench import cli

    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setattr(sys, "argv", ["sedbench", *args])
    try:
        cli.main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_tree_holds_every_command_and_sub_command():
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {"run", "list", "show", "datasets", "datasets list", "datasets info", "weights fetch"} <= names


@pytest.mark.parametrize("path", [path for path, _ in COMMANDS], ids=lambda path: " ".join(path) or "sedbench")
def test_help_prints_every_text_in_full(path):
    command = dict(COMMANDS)[path]
    shown = _flat(_help(path))
    if command.help:
        assert _flat(command.help.partition("\f")[0]) in shown
    for param in command.params:
        if getattr(param, "help", None):
            assert _flat(param.help) in shown, f"{param.name}: {param.help!r} is not printed in full"
    for name, child in getattr(command, "commands", {}).items():  # a group lists each command's first sentence whole
        summary = _flat(child.get_short_help_str(limit=sys.maxsize))
        assert not summary.endswith("...") and f"{name} {summary}" in shown


def test_square_brackets_survive():
    shown = _flat(_help(["run"]))
    assert "Where datasets live [env SEDBENCH_DATA]." in shown
    assert "pip install 'sedbench[ray]'" in shown
    assert "(systems, datasets, seeds, folds, [set], [sweep])" in shown
    assert "under weights/ [env SEDBENCH_CACHE]" in _flat(_help(["weights", "list"]))


@pytest.mark.parametrize("path", [path for path, _ in COMMANDS], ids=lambda path: " ".join(path) or "sedbench")
def test_flags_show_no_value_type(path):
    shown = _help(path)
    assert "<bool>" not in shown
    flags = [opt for param in dict(COMMANDS)[path].params if getattr(param, "is_flag", False)
             for opt in (*param.opts, *param.secondary_opts)]
    for flag in [*flags, "--help"]:
        assert re.search(rf"(^|\s){re.escape(flag)}( /|$|  )", shown, re.MULTILINE), f"{flag} in:\n{shown}"


def test_show_system_lists_settings_profiles_and_paper(capsys, monkeypatch):
    code, out, err = sedbench_cli(["show", "--system", "crnn"], capsys, monkeypatch)
    assert code == 0, err
    lines = out.splitlines()
    assert "Cakir" in lines[1] and "2017" in lines[1] and "https://arxiv.org/abs/1702.06286" in lines[1]
    header = next(line for line in lines if line.split()[:4] == ["setting", "type", "default", "allowed"])
    assert header.split()[4:] == ["paper", "quick"]
    conv_maps = _cells(header, next(line for line in lines if line.split()[0] == "conv_maps"))
    assert conv_maps == {"setting": "conv_maps", "type": "int", "default": "256", "allowed": ">= 1", "paper": "",
                         "quick": "16"}
    dropout = _cells(header, next(line for line in lines if line.split()[0] == "dropout"))
    assert dropout["default"] == "0.25" and dropout["allowed"] == "between 0 and 1"
    pools = _cells(header, next(line for line in lines if line.split()[0] == "pool_sizes"))
    assert pools["type"] == "tuple[int, ...]" and pools["default"] == "(5,4,2)" and pools["allowed"] == "each >= 1"
    first = next(i for i, line in enumerate(lines) if line.startswith("profiles: paper, quick"))
    last = next(i for i, line in enumerate(lines) if line.startswith("settings"))
    profiles = dict(re.split(r"\s{2,}", line.strip(), maxsplit=1) for line in lines[first + 1:last])
    assert profiles["paper"] == "no changes" and profiles["paper on tut2009"] == "no changes"
    assert profiles["paper on tut2016"] == "pool_sizes=(2,2,2) rnn_layers=3 conv_maps=96 rnn_units=96 sequence_frames=128"
    assert {"conv_maps=16", "rnn_units=32", "sequence_frames=256"} <= set(profiles["quick"].split())


def test_show_dataset_lists_folds_classes_size_and_license(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("SEDBENCH_DATA", str(tmp_path))
    code, out, err = sedbench_cli(["show", "--dataset", "synth"], capsys, monkeypatch)
    assert code == 0, err
    assert "labels:   16: alarms, baby crying, bird singing" in out and "dog barking" in out
    assert "license:  CC0-1.0 (generated by sedbench)" in out
    assert "folds:    1 (each splits the clips into train, validation and test)" in out
    assert "size:     not in place yet" in out
    assert "Cakir" in out


@pytest.mark.parametrize("args, given", [([], "neither"), (["--system", "crnn", "--dataset", "synth"], "both")])
def test_show_takes_exactly_one_name(args, given, capsys, monkeypatch):
    code, out, err = sedbench_cli(["show", *args], capsys, monkeypatch)
    assert code == 2 and out == ""
    assert err == f"error: `sedbench show` takes exactly one of --system NAME and --dataset NAME, got {given}\n"


@pytest.mark.parametrize("option, kind", [("--system", "system"), ("--dataset", "dataset")])
def test_show_of_an_unknown_name_lists_the_registered_ones(option, kind, capsys, monkeypatch):
    code, out, err = sedbench_cli(["show", option, "no-such-thing"], capsys, monkeypatch)
    assert code == 2
    assert err.startswith(f"error: unknown {kind} 'no-such-thing'; registered {kind}s: ") and len(err.splitlines()) == 1
    assert ("crnn, ctc-rnn" if kind == "system" else "synth, synth-mini") in err


# --------------------------------------------------------------------------- listings


def _cells(header: str, line: str) -> dict[str, str]:
    """A table row cut where the header's column names start (a name may hold single spaces: "on dataset")."""
    starts = [(m.start(), m.group()) for m in re.finditer(r"\S+(?: \S+)*", header)]
    ends = [start for start, _ in starts[1:]] + [None]
    return {name: line[start:end].strip() for (start, name), end in zip(starts, ends)}


def _assert_columns_line_up(header: str, rows: list[str], numbers_last: bool = False) -> None:
    """Every cell starts where its header does, two spaces after the column before; a row that only continues the
    last cell starts where the last column does. ``numbers_last``: the last column is right-aligned instead, so
    every row ends where the header does."""
    starts = [m.start() for m in re.finditer(r"\S+(?: \S+)*", header)]
    if numbers_last:
        assert {len(row) for row in rows} == {len(header)}
        starts.pop()
    for row in rows:
        if row[: starts[1]].strip() == "":
            assert len(row) - len(row.lstrip()) == starts[-1], f"\n{header}\n{row}"
            continue
        for start in starts[1:]:
            assert row[start - 2:start] == "  " and row[start] != " ", f"\n{header}\n{row}"


@pytest.fixture
def long_names():
    """A system and a dataset with longer names than any built-in, unregistered afterwards."""
    system = type("LongNamedSystem", (registry.systems.get("crnn"),), {"name": LONG_NAME})
    dataset = type("LongNamedDataset", (registry.datasets.get("synth-mini"),), {"name": LONG_NAME})
    registry.systems.add(LONG_NAME, system)
    registry.datasets.add(LONG_NAME, dataset)
    yield
    registry.systems._entries.pop(LONG_NAME, None)
    registry.datasets._entries.pop(LONG_NAME, None)


def _section(lines: list[str], title: str) -> list[str]:
    start = lines.index(title) + 1
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith(" ")), len(lines))
    return lines[start:end]


def test_list_columns_line_up_whatever_the_name_lengths(long_names, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("SEDBENCH_DATA", str(tmp_path))
    code, out, err = sedbench_cli(["list"], capsys, monkeypatch)
    assert code == 0, err
    lines = out.splitlines()
    for title, columns in (("Systems:", ["name", "labels", "profiles", "paper"]),
                           ("Datasets:", ["name", "task", "labels", "classes", "description"])):
        header, *rows = _section(lines, title)
        assert list(_cells(header, header)) == columns
        assert any(row.split()[0] == LONG_NAME for row in rows)
        _assert_columns_line_up(header, rows)


def test_list_params_columns_line_up(long_names, capsys, monkeypatch):
    code, out, err = sedbench_cli(["list", "--params"], capsys, monkeypatch)
    assert code == 0, err
    header, *rows = out.splitlines()[1:]
    assert list(_cells(header, header)) == ["system", "profile", "on dataset", "parameters"]
    assert [LONG_NAME, "quick", "default", "18,672"] in [row.split() for row in rows]  # crnn's quick count
    _assert_columns_line_up(header, rows, numbers_last=True)


def test_list_and_datasets_list_name_each_task_the_same(long_names, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("SEDBENCH_DATA", str(tmp_path))
    code, out, err = sedbench_cli(["list"], capsys, monkeypatch)
    assert code == 0, err
    header, *rows = _section(out.splitlines(), "Datasets:")
    in_list = {cells["name"]: cells["task"] for cells in (_cells(header, row) for row in rows) if cells["name"]}
    code, out, err = sedbench_cli(["datasets", "list"], capsys, monkeypatch)
    assert code == 0, err
    header, *rows = out.splitlines()[:-1]  # the last line names the data folder
    _assert_columns_line_up(header, rows)
    in_datasets_list = {cells["name"]: cells["task"] for cells in (_cells(header, row) for row in rows)}
    assert in_list == in_datasets_list
    assert in_list["synth"] == "strong events" and in_list["chime-home"] == "clip tags"
    assert in_list["synth-rare"] == "rare events" and in_list[LONG_NAME] == "strong events"
