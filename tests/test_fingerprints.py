"""Every generated dataset is the same on every machine: its content fingerprint is pinned here.

The generators compute in float64 before the audio is quantized to 16 bits: float32 sin / exp take other SIMD paths
on other CPUs (numpy dispatches them at run time) and differed by a few ulps, enough to flip 16-bit rounding and so
the data, the fingerprint and every score. A machine that generates other data fails here, loudly.
"""

import os
import subprocess
import sys

import pytest

from sedbench.core import registry

PINNED = {
    "synth": "52337d05fff58ad3",
    "synth-mini": "c4145f3dbb2f77a8",
    "synth-weak": "69031f71577c3903",
    "synth-weak-mini": "301451c240b9635d",
    "synth-rare": "6bf2bdaa79b67a94",
    "synth-rare-mini": "3c53f7388d4b8b27",
}
AVX = "AVX2 FMA3 AVX512F AVX512CD AVX512_SKX AVX512_CLX AVX512_CNL AVX512_ICL AVX512_SPR AVX512_KNL AVX512_KNM"


@pytest.mark.parametrize("name", ["synth-mini", "synth-weak-mini", "synth-rare-mini"])
def test_mini_datasets_have_their_pinned_fingerprints(name, workspace):
    dataset = registry.datasets.get(name)(workspace["data"])
    dataset.prepare()
    assert dataset.fingerprint("1") == PINNED[name], f"{name} generated other data on this machine"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["synth", "synth-weak", "synth-rare"])
def test_full_datasets_have_their_pinned_fingerprints(name, tmp_path):
    dataset = registry.datasets.get(name)(tmp_path)
    dataset.prepare()
    assert dataset.fingerprint("1") == PINNED[name], f"{name} generated other data on this machine"


@pytest.mark.parametrize("disabled", ["", AVX])
def test_generation_does_not_depend_on_the_cpu_features_numpy_uses(disabled, tmp_path):
    """With numpy's AVX2 / AVX-512 kernels switched off (as on an older CPU) the same data comes out."""
    script = ("import sys; from sedbench.core import registry; d = registry.datasets.get('synth-mini')(sys.argv[1]); "
              "d.prepare(); print(d.fingerprint('1'))")
    env = {**os.environ, "NPY_DISABLE_CPU_FEATURES": disabled}
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, env=env,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == PINNED["synth-mini"]
