import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

warnings.filterwarnings("ignore", message="pkg_resources is deprecated")


@pytest.fixture(scope="session")
def workspace(tmp_path_factory) -> dict[str, Path]:
    """Shared data / cache folders so synth-mini is generated and featurized once per session."""
    root = tmp_path_factory.mktemp("sedbench")
    return {"data": root / "data", "cache": root / "cache", "runs": root / "runs"}


@pytest.fixture(scope="session")
def synth_mini(workspace):
    from sedbench.core import registry

    dataset = registry.datasets.get("synth-mini")(workspace["data"])
    dataset.prepare()
    return dataset


def run_cli(args: list[str], env_extra: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run the installed console script as a user would."""
    env = dict(os.environ)
    env.update(env_extra or {})
    exe = Path(sys.executable).with_name("sedbench")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=900)


@pytest.fixture
def one_torch_thread():
    """Tensors in unit tests are tiny: a second thread only adds hand-offs, which cost seconds on a busy shared CPU."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
