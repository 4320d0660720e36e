"""The structure the code promises (docs/architecture.md): one-way imports between sub-packages, a core and a run
pipeline that know no registered system or dataset, and optional system hooks that are declared, not guessed."""

import ast
from dataclasses import asdict
from pathlib import Path

import pytest

from sedbench.core import registry
from sedbench.core.system import System

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"bench": "sedbench", "systems": "sedbench.systems", "datasets": "sedbench.datasets"}
HARNESS = ("core", "scoring", "datatools", "training", "pipeline", "papers", "publish", "cli", "benchmark")
ALLOWED = {  # what a part may import besides itself (the flow of docs/architecture.md)
    "core": set(),
    "scoring": {"core", "datatools"},
    "datatools": {"core", "scoring"},
    "training": {"core", "scoring"},
    "pipeline": {"core", "scoring", "datatools", "training"},
    "papers.citations": {"core"},
    "papers": {"core", "pipeline", "publish", "papers.citations"},
    "publish": {"core", "scoring", "pipeline", "papers", "papers.citations"},
    "benchmark": {"core", "scoring", "training", "pipeline"},
    "cli": set(HARNESS) | {"papers.citations"},
    "systems": {"core", "scoring", "datatools", "training", "papers.citations"},
    "datasets": {"core", "datatools", "papers.citations"},
}


def _modules() -> dict[str, Path]:
    found = {}
    for folder, prefix in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join([prefix, *parts])] = path
    return found


def _part(module: str) -> str:
    """The part of the code a module belongs to: a harness sub-package, papers.citations, systems or datasets."""
    if module == "sedbench.papers.citations":
        return "papers.citations"
    name = module.split(".")
    return name[1] if len(name) > 1 else "sedbench"


def _imports(module: str, path: Path) -> set[str]:
    """Every sedbench module ``module`` imports, lazy imports included."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    targets = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            targets |= {base} | {f"{base}.{alias.name}" for alias in node.names}
    modules = _modules()
    found = set()
    for target in targets:
        while target and target not in modules:
            target = target.rpartition(".")[0]
        if target and target != module:
            found.add(target)
    return found


@pytest.mark.parametrize("module", sorted(_modules()))
def test_imports_follow_the_one_way_flow(module):
    part = _part(module)
    if part == "sedbench":  # the package's __init__: its version only
        assert _imports(module, _modules()[module]) == set()
        return
    allowed = ALLOWED[part] | {part}
    wrong = sorted(m for m in _imports(module, _modules()[module])
                   if _part(m) not in allowed and m != "sedbench")
    assert not wrong, f"{module} ({part}) imports {wrong}; {part} may import {sorted(allowed)}"


def test_no_two_modules_import_each_other_even_through_others():
    modules = _modules()
    graph = {m: _imports(m, p) for m, p in modules.items()}
    seen, on_path, cycles = set(), [], []

    def visit(module):
        if module in on_path:
            cycles.append(on_path[on_path.index(module):] + [module])
            return
        if module in seen:
            return
        seen.add(module)
        on_path.append(module)
        for target in sorted(graph[module]):
            visit(target)
        on_path.pop()

    for module in sorted(graph):
        visit(module)
    assert cycles == []


def test_the_harness_never_imports_a_registered_system_or_dataset():
    plugins = {f"sedbench.systems.{name}" for name in ("crnn", "fnn", "gmm", "rare_crnn", "weak_crnn", "ctc_rnn",
                                                        "multitask_crnn")}
    for module, path in _modules().items():
        if _part(module) in ("core", "pipeline", "scoring", "datatools", "training", "publish"):
            imported = _imports(module, path)
            assert not {m for m in imported if m in plugins or m.startswith("sedbench.datasets")}, module


def test_every_optional_hook_is_declared_on_the_base_class():
    for hook in ("dataset_profiles", "search_spaces", "weights", "parameter_count", "decision_threshold"):
        assert hasattr(System, hook), hook
    crnn = registry.systems.get("crnn")
    assert set(crnn.search_spaces) == {"paper", "quick"}
    assert crnn.search_spaces["quick"].profile == "quick" and crnn.search_spaces["paper"].profile == "paper"
    assert registry.systems.get("ctc-rnn").weights[0].name == "soundnet"


@pytest.mark.parametrize("name", ["crnn", "cnn", "rnn", "fnn", "gmm", "rare-crnn", "rare-cnn", "rare-fnn",
                                  "weak-crnn", "ctc-rnn", "multitask-crnn", "multitask-crnn-baseline"])
def test_features_and_parameter_counts_come_from_the_config_alone(name):
    from sedbench.core.config import build_config

    cls = registry.systems.get(name)
    config = build_config(cls, "quick")
    spec = cls.features(config)
    assert spec.frame_hop > 0 and asdict(spec) == asdict(cls.features(build_config(cls, "quick")))
    assert cls.parameter_count(config, ("babycry", "glassbreak", "gunshot")) > 0


def test_committed_records_keep_their_parameter_counts():
    """The classmethod gives what the old instance method wrote into the committed quick records."""
    from dataclasses import fields

    from sedbench.core.config import build_config, setting_text
    from sedbench.pipeline.record import load_records

    seen = set()
    for record in load_records(ROOT / "reports" / "runs"):
        cls = registry.systems.get(record.system.name)
        known = {f.name for f in fields(cls.Config)}
        settings = {k: setting_text(v) for k, v in record.config.items() if k in known}  # the config it ran with
        config = build_config(cls, record.profile, settings, dataset=record.dataset.name)
        assert cls.parameter_count(config, tuple(record.dataset.labels)) == record.system.parameters, record.path
        seen.add(record.system.name)
    assert len(seen) >= 10
