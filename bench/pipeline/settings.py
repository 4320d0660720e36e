"""Settings for many jobs at once, read in one place: ``--set`` overrides, ``--sweep`` axes and TOML grid files.

A sweep is the cartesian product of its axes (keys in the order given), each combination also holding the
overrides every job shares; values stay text until a system's Config parses them (``sedbench.core.config``).
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import TYPE_CHECKING

import tomllib

from sedbench.core import registry
from sedbench.core.config import setting_text
from sedbench.core.errors import ConfigError, SedbenchError, UnknownNameError
from sedbench.core.system import DEFAULT_PROFILE

if TYPE_CHECKING:
    from .grid import GridSpec


def combinations(axes: dict[str, list[str]], common: dict[str, str]) -> list[dict[str, str]]:
    """Every combination of the axes' values (their cartesian product), each with the ``common`` settings."""
    return [{**common, **dict(zip(axes, values))} for values in itertools.product(*axes.values())]


def parse_overrides(items: list[str]) -> dict[str, str]:
    overrides = {}
    for item in items:
        for part in item.split():
            if "=" not in part:
                raise ConfigError(f"--set expects key=value, got {part!r}")
            key, value = part.split("=", 1)
            overrides[key.strip()] = value.strip()
    return overrides


def parse_sweep(items: list[str], overrides: dict[str, str] | None = None) -> list[dict[str, str]]:
    """``--sweep key=v1,v2,...`` (repeatable) -> one override dict per combination of the values (their cartesian
    product, keys in the order given), each also holding the ``--set`` overrides.

    Values are split at commas outside parentheses, so tuple settings sweep too: ``pool_sizes=(5,2,2),(2,2,2)``.
    Unknown keys and unparsable values are left to the system's config, which names the settings it has.
    """
    overrides = dict(overrides or {})
    axes: dict[str, list[str]] = {}
    for item in items:
        for part in item.split():
            key, equals, text = part.partition("=")
            key = key.strip()
            if not equals or not key:
                raise ConfigError(f"--sweep expects key=value1,value2,..., got {part!r}")
            if key in overrides:
                raise ConfigError(f"setting {key!r} is given both in --set and --sweep; give it in one of them")
            if key in axes:
                raise ConfigError(f"--sweep gives setting {key!r} twice; list all its values in one {key}=v1,v2,...")
            values = _sweep_values(key, text)
            repeated = next((v for i, v in enumerate(values) if v in values[:i]), None)
            if repeated is not None:
                raise ConfigError(f"--sweep lists value {repeated!r} of setting {key!r} twice")
            axes[key] = values
    return combinations(axes, overrides)


def _sweep_values(key: str, text: str) -> list[str]:
    values, current, depth = [], "", 0
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            break
        if char == "," and depth == 0:
            values.append(current.strip())
            current = ""
        else:
            current += char
    if depth != 0:
        raise ConfigError(f"--sweep {key}={text} has unbalanced parentheses")
    values.append(current.strip())
    if not any(values):
        raise ConfigError(f"--sweep {key}= lists no values; expected {key}=value1,value2,...")
    if not all(values):
        raise ConfigError(f"--sweep {key}={text} has an empty value; expected {key}=value1,value2,...")
    return values


GRID_FILE_KEYS = {"systems", "datasets", "seeds", "seed", "folds", "profile", "set", "sweep", "device"}


def read_grid_file(path: Path) -> "GridSpec":
    """A TOML grid file::

        systems = ["crnn", "cnn"]
        datasets = ["synth"]
        seeds = 3              # or a list of seeds; `seed` is the first one (default 0)
        folds = "all"          # or ["1", "2"]
        profile = "quick"
        [set]                  # overrides of every system
        max_epochs = 25
        [set.gmm]              # overrides of one system
        components = 8
        [sweep]                # the cartesian product of these values
        learning_rate = [0.001, 0.0001]

    A file of several parts (``[[grid]]`` tables, see ``read_grid_parts``) is refused here.
    """
    data = _load(path)
    if "grid" in data:
        raise ConfigError(f"grid file {path} has [[grid]] parts; read it with read_grid_parts")
    return _spec(data, f"grid file {path}")


def read_grid_parts(path: Path) -> list["GridSpec"]:
    """The grids of a file: one, or one per ``[[grid]]`` table, each part taking the top-level keys as defaults::

        seeds = 3
        [[grid]]
        systems = ["crnn", "cnn"]
        datasets = ["synth"]
        [[grid]]
        systems = ["weak-crnn"]
        datasets = ["synth-weak"]
        sweep = {strong_weight = [0.002, 0.02, 0.2, 1]}
    """
    data = _load(path)
    parts = data.pop("grid", None)
    if parts is None:
        return [_spec(data, f"grid file {path}")]
    if not isinstance(parts, list) or not parts or not all(isinstance(part, dict) for part in parts):
        raise ConfigError(f"grid file {path}: 'grid' must be [[grid]] tables")
    return [_spec({**data, **part}, f"grid file {path}, [[grid]] {index}") for index, part in enumerate(parts, 1)]


def _load(path: Path) -> dict:
    path = Path(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SedbenchError(f"cannot read grid file {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"grid file {path} is not valid TOML ({exc})") from None


def _spec(data: dict, where: str) -> "GridSpec":
    unknown = sorted(set(data) - GRID_FILE_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; keys: {', '.join(sorted(GRID_FILE_KEYS))}")

    def names(key: str) -> tuple[str, ...]:
        value = data.get(key)
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
            raise ConfigError(f"{where}: {key!r} must be a non-empty list of names, got {value!r}")
        return tuple(value)

    systems, datasets = names("systems"), names("datasets")
    for system in systems:
        if system not in registry.systems.names():
            raise UnknownNameError(
                f"{where}: unknown system {system!r}; registered systems: "
                f"{', '.join(registry.systems.names())}"
            )
    seed = data.get("seed", 0)
    seeds = data.get("seeds", 1)
    if isinstance(seeds, int) and not isinstance(seeds, bool) and isinstance(seed, int) and seeds >= 1:
        seeds = list(range(seed, seed + seeds))
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise ConfigError(f"{where}: 'seeds' must be a positive count or a list of integers, got {seeds!r}")
    folds = data.get("folds", "all")
    if folds != "all" and not (isinstance(folds, list) and folds and all(isinstance(f, (str, int)) for f in folds)):
        raise ConfigError(f"{where}: 'folds' must be \"all\" or a list of fold names, got {folds!r}")
    overrides = data.get("set", {})
    sweep = data.get("sweep", {})
    if not isinstance(overrides, dict) or not isinstance(sweep, dict):
        raise ConfigError(f"{where}: [set] and [sweep] must be tables")
    for key, values in sweep.items():
        if not isinstance(values, list) or not values:
            raise ConfigError(f"{where}: sweep {key!r} must be a non-empty list of values, got {values!r}")
        if key in overrides:
            raise ConfigError(f"{where}: setting {key!r} is in both [set] and [sweep]; give it in one")
    for system, table in overrides.items():
        if isinstance(table, dict) and system not in systems:
            raise ConfigError(f"{where}: [set.{system}] names a system that is not in 'systems'")
    common = {k: setting_text(v) for k, v in overrides.items() if not isinstance(v, dict)}
    settings = tuple(combinations({key: [setting_text(v) for v in values] for key, values in sweep.items()}, common))
    from .grid import GridSpec
    from .jobs import JobSpec

    return GridSpec(systems=systems, datasets=datasets, seeds=tuple(seeds),
                    folds="all" if folds == "all" else tuple(str(f) for f in folds),
                    profile=str(data.get("profile", DEFAULT_PROFILE)), settings=settings,
                    system_overrides={system: {k: setting_text(v) for k, v in table.items()}
                                      for system, table in overrides.items() if isinstance(table, dict)},
                    job=JobSpec(system="", dataset="", device=str(data.get("device", "auto"))))
