"""Registry: lookups, unknown names, collisions, and a third-party system found through entry points."""

import json
import textwrap

import pytest
from conftest import run_cli

from sedbench.core import registry
from sedbench.core.errors import UnknownNameError
from sedbench.core.registry import Registry, RegistryCollisionError


def test_builtin_entries_resolve_through_entry_points():
    assert {"crnn"} <= set(registry.systems.names())
    assert {"synth", "synth-mini"} <= set(registry.datasets.names())
    assert registry.systems.get("crnn").name == "crnn"


def test_unknown_name_lists_what_exists():
    with pytest.raises(UnknownNameError) as info:
        registry.systems.get("crnnn")
    message = str(info.value)
    assert "unknown system 'crnnn'" in message and "crnn" in message
    with pytest.raises(UnknownNameError, match="synth-mini"):
        registry.datasets.get("tut2099")


def test_decorator_registration_and_collisions():
    reg = Registry(kind="system", group="sedbench.tests.no-such-group")

    @reg.register("one")
    class One:
        pass

    reg.register("one")(One)  # same object again is fine
    assert reg.get("one") is One

    class Other:
        pass

    with pytest.raises(RegistryCollisionError, match="already registered"):
        reg.register("one")(Other)


PLUGIN = '''
import numpy as np
from dataclasses import dataclass
from sedbench.core.data import LabelKind, Paper
from sedbench.core.outputs import FrameActivity
from sedbench.core.features import LogMelSpec
from sedbench.core.system import System


@dataclass(frozen=True)
class PriorConfig:
    n_mels: int = 16


class ClassPrior(System):
    """Predicts each class's training-set activity rate in every frame."""
    name = "class-prior"
    paper = Paper(key="demo2026", citation="A. Plugin, demo system")
    label_kind = LabelKind.STRONG
    Config = PriorConfig
    profiles = {"paper": {}, "quick": {}}

    @classmethod

    def features(cls, config):
        return LogMelSpec(n_mels=config.n_mels)

    def fit(self, train, valid):
        targets = np.concatenate([c.targets for c in train])
        self.prior = targets.mean(axis=0)
        return {"prior": self.prior.tolist()}

    def predict(self, clips):
        return [FrameActivity(np.tile(self.prior, (c.features.shape[0], 1)).astype(np.float32), c.hop_seconds)
                for c in clips]
'''


def make_plugin(root):
    """A package laid out as pip installs it: module + dist-info with entry_points.txt."""
    (root / "sedbench_demo_plugin").mkdir(parents=True)
    (root / "sedbench_demo_plugin" / "__init__.py").write_text(PLUGIN)
    info = root / "sedbench_demo_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: sedbench-demo-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        textwrap.dedent(
            """
            [sedbench.systems]
            class-prior = sedbench_demo_plugin:ClassPrior
            """
        )
    )
    return root


def test_third_party_system_is_runnable_by_name(tmp_path, workspace, synth_mini):
    plugin = make_plugin(tmp_path / "site")
    env = {"PYTHONPATH": str(plugin), "SEDBENCH_DATA": str(workspace["data"]), "SEDBENCH_CACHE": str(workspace["cache"])}
    listing = run_cli(["list"], env)
    assert listing.returncode == 0, listing.stderr
    assert "class-prior" in listing.stdout and "A. Plugin, demo system" in listing.stdout

    runs = tmp_path / "runs"
    result = run_cli(["run", "--system", "class-prior", "--dataset", "synth-mini", "--runs-dir", str(runs)], env)
    assert result.returncode == 0, result.stderr
    (path,) = list(runs.rglob("*.json"))
    record = json.loads(path.read_text())
    assert record["system"]["name"] == "class-prior"
    assert record["system"]["paper"] == "demo2026"
    assert record["features"]["n_mels"] == 16
    assert len(record["history"]["prior"]) == len(synth_mini.labels)
