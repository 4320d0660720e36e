"""README.md's "Add a system" guide works as written: its example system, exposed through its entry point, passes
`sedbench validate`; a system without a 'quick' profile validates and runs with its defaults, recorded as such."""

import importlib.util
import json
import re
from pathlib import Path

import pytest
import tomllib
from conftest import run_cli
from typer.testing import CliRunner

from sedbench.cli import app
from sedbench.core import registry
from sedbench.core.config import build_config, defaults_note, resolve_profile
from sedbench.core.errors import ConfigError

README = Path(__file__).resolve().parents[1] / "README.md"


def guide_blocks() -> dict[str, list[str]]:
    """The fenced code blocks of the README's "Add a system" section (up to its next heading), by language."""
    text = README.read_text(encoding="utf-8")
    section = re.split(r"\n#{2,3} ", text.split("\n## Add a system\n", 1)[1], maxsplit=1)[0]
    blocks: dict[str, list[str]] = {}
    for language, body in re.findall(r"^```(\w+)\n(.*?)^```$", section, flags=re.M | re.S):
        blocks.setdefault(language, []).append(body)
    return blocks


@pytest.fixture(scope="module")
def guide(tmp_path_factory) -> dict:
    """The guide's system as pip would lay out its package: the module at the path its entry point names, and a
    dist-info whose entry_points.txt holds the README's TOML entry point; nothing is installed."""
    blocks = guide_blocks()
    (code,) = blocks["python"]
    (pyproject,) = blocks["toml"]
    groups = tomllib.loads(pyproject)["project"]["entry-points"]
    assert list(groups) == [registry.systems.group]  # the group the registry loads
    ((name, target),) = groups[registry.systems.group].items()
    module, _, attribute = target.partition(":")
    site = tmp_path_factory.mktemp("site")
    folder = site
    for package in module.split(".")[:-1]:
        folder = folder / package
        folder.mkdir()
        (folder / "__init__.py").write_text("")
    path = folder / f"{module.rpartition('.')[2]}.py"
    path.write_text(code)
    info = site / "guide_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: guide-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[{registry.systems.group}]\n{name} = {target}\n")
    return {"site": site, "name": name, "module_file": path, "class": attribute}


def test_the_guides_example_passes_validate_through_its_entry_point(guide, workspace, synth_mini):
    env = {"PYTHONPATH": str(guide["site"]), "SEDBENCH_DATA": str(workspace["data"]),
           "SEDBENCH_CACHE": str(workspace["cache"])}
    result = run_cli(["validate", "--system", guide["name"], "--device", "cpu"], env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().splitlines()[-1] == "8 of 8 checks passed"


@pytest.fixture
def without_quick(guide):
    """The guide's system with only a 'paper' profile, registered under a name of its own."""
    spec = importlib.util.spec_from_file_location("guide_example", guide["module_file"])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    class PaperOnly(getattr(module, guide["class"])):
        name = "guide-paper-only"
        profiles = {"paper": {"steps": 30}}

    registry.systems.add(PaperOnly.name, PaperOnly)
    yield PaperOnly
    registry.systems._entries.pop(PaperOnly.name, None)


def test_only_the_default_profile_falls_back_to_the_configs_defaults(without_quick):
    assert resolve_profile(without_quick, "quick") == "default"
    assert resolve_profile(without_quick, "default") == "default"
    assert resolve_profile(without_quick, "paper") == "paper"
    assert build_config(without_quick, "quick") == without_quick.Config()
    assert build_config(without_quick, "paper").steps == 30
    with pytest.raises(ConfigError) as info:
        resolve_profile(without_quick, "fast")
    assert str(info.value) == "system 'guide-paper-only' has no profile 'fast'; profiles: paper"
    crnn = registry.systems.get("crnn")
    assert resolve_profile(crnn, "quick") == "quick"


def test_a_system_without_quick_validates_and_runs_with_its_defaults(without_quick, workspace, synth_mini, tmp_path,
                                                                      monkeypatch):
    monkeypatch.setenv("SEDBENCH_CACHE", str(workspace["cache"]))  # --cache-dir sets it for the whole process
    where = ["--device", "cpu", "--data-dir", str(workspace["data"]), "--cache-dir", str(workspace["cache"])]
    note = defaults_note(without_quick.name)
    assert note == ("system 'guide-paper-only' has no 'quick' profile; it runs with its defaults, recorded as "
                    "profile 'default'")

    checked = CliRunner().invoke(app, ["validate", "--system", without_quick.name, *where])
    assert checked.exit_code == 0, checked.output
    assert checked.stdout.strip().splitlines()[-1] == "8 of 8 checks passed"
    assert "profile 'default' (profiles: paper)" in checked.stdout
    assert f"validate: {note}" in checked.stderr.splitlines()

    runs = tmp_path / "runs"
    ran = CliRunner().invoke(app, ["run", "--system", without_quick.name, "--dataset", "synth-mini",
                                   "--runs-dir", str(runs), *where])
    assert ran.exit_code == 0, ran.output
    assert ran.stderr.splitlines().count(note) == 1
    assert f"{without_quick.name} on synth-mini (default, 1 seed(s), folds 1):" in ran.stdout
    (path,) = runs.rglob("*.json")
    record = json.loads(path.read_text())
    assert record["profile"] == "default" and record["config"] == {"steps": 300}
    assert record["headline"]["F1_frm"] > 50  # the example learns (78.5 when this was written)

    again = CliRunner().invoke(app, ["run", "--system", without_quick.name, "--dataset", "synth-mini",
                                     "--runs-dir", str(runs), "--profile", "default", *where])
    assert again.exit_code == 0, again.output
    assert "already done, skipped" in again.stderr  # the recorded profile names the same job
    assert note not in again.stderr
