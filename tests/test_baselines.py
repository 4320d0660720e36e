"""The CRNN paper's comparison systems: CNN / RNN as CRNN-family members, FNN and GMM baselines."""

import numpy as np
import pytest
import torch
from conftest import run_cli

from sedbench.core import registry
from sedbench.core.config import build_config
from sedbench.core.data import FeatureClip
from sedbench.core.system import RunContext

# Table I of Cakir et al. 2017 (K = 16 classes): system -> dataset column -> published parameter count.
TABLE_ONE = {
    "cnn": {None: 3.7e6, "tut2009": 3.4e6, "tut2016": 3.4e6},
    "rnn": {None: 4.5e6, "tut2009": 1.3e6, "tut2016": 1.3e6, "chime-home": 690e3},
    "crnn": {None: 3.6e6, "tut2009": 3.7e6, "tut2016": 743e3, "chime-home": 6.1e6},
}


@pytest.mark.parametrize("system", sorted(TABLE_ONE))
def test_paper_profiles_match_table_one_within_five_percent(system):
    cls = registry.systems.get(system)
    for dataset, published in TABLE_ONE[system].items():
        count = cls.parameter_count(build_config(cls, "paper", dataset=dataset), tuple(map(str, range(16))))
        assert abs(count - published) / published < 0.05, (system, dataset, count, published)


def test_chime_cnn_column_is_the_one_known_mismatch():
    # Table I says 3.6 M for the CHiME-Home CNN; its listed layers (3 conv (5,4,2), 1 FNN, 256) give 3.36 M.
    cnn = registry.systems.get("cnn")
    count = cnn.parameter_count(build_config(cnn, "paper", dataset="chime-home"), tuple(map(str, range(16))))
    assert 3.3e6 < count < 3.4e6


def test_fnn_and_gmm_sizes_match_the_paper():
    fnn, gmm = registry.systems.get("fnn"), registry.systems.get("gmm")
    assert abs(fnn.parameter_count(build_config(fnn, "paper"), tuple(map(str, range(16)))) - 1.6e6) / 1.6e6 < 0.05  # "around 1.6 million"
    for k in (1, 16, 61):
        assert gmm.parameter_count(build_config(gmm, "paper"), tuple(map(str, range(k)))) == 3808 * k  # "3808 * K"


def test_dataset_columns_are_selected_with_the_dataset():
    crnn = registry.systems.get("crnn")
    config = build_config(crnn, "paper", dataset="tut2016")
    assert (config.pool_sizes, config.rnn_layers, config.rnn_units, config.sequence_frames) == ((2, 2, 2), 3, 96, 128)
    assert build_config(crnn, "paper", dataset="synth").pool_sizes == (5, 4, 2)
    # an explicit override still wins over the dataset column
    assert build_config(crnn, "paper", {"rnn_layers": "2"}, dataset="tut2016").rnn_layers == 2


def _model(system, profile="quick", classes=6):
    cls = registry.systems.get(system)
    config = build_config(cls, profile)
    import sys

    module = sys.modules[cls.__module__]
    model_class = getattr(module, "CRNNModel", None) or getattr(module, "FNNModel")
    return model_class(40, classes, config).eval(), config


def test_cnn_has_no_recurrence_and_rnn_no_convolution():
    cnn, _ = _model("cnn")
    rnn, _ = _model("rnn")
    assert cnn.rnn is None and len(cnn.fnn) == 3 * 4  # three Linear-BN-ReLU-dropout blocks
    assert len(rnn.conv) == 0 and rnn.rnn.num_layers == 3 and len(rnn.fnn) == 2 * 4
    x = torch.randn(2, 64, 40)
    assert cnn(x).shape == rnn(x).shape == (2, 64, 6)


def test_cnn_output_depends_only_on_a_local_context_but_rnn_sees_the_past():
    cnn, _ = _model("cnn")
    rnn, _ = _model("rnn")
    x = torch.randn(1, 64, 40)
    y = x.clone()
    y[0, 0] += 5.0  # change the first frame only
    # three 5x5 convolutions see +-6 frames; frame 40 is far away for the CNN, not for the RNN
    assert torch.allclose(cnn(x)[0, 40], cnn(y)[0, 40])
    assert not torch.equal(rnn(x)[0, 40], rnn(y)[0, 40])  # small after 40 steps, but there


def test_fnn_uses_five_frames_of_context():
    fnn, config = _model("fnn")
    assert config.context_frames == 5
    x = torch.randn(1, 30, 40)
    base = fnn(x)
    for offset, changes in ((2, True), (3, False)):
        y = x.clone()
        y[0, 15 + offset] += 3.0
        assert (not torch.allclose(base[0, 15], fnn(y)[0, 15])) == changes


def _gmm_clips(rng, n=4, frames=400):
    """Two classes whose active frames are drawn from shifted Gaussians in 59 dimensions."""
    clips = []
    for i in range(n):
        targets = np.zeros((frames, 2), np.float32)
        targets[100:200, 0] = 1
        targets[250:350, 1] = 1
        x = rng.normal(0, 1, (frames, 59)).astype(np.float32)
        x[:, :5] += 4 * targets[:, :1]
        x[:, 5:10] += 4 * targets[:, 1:2]
        clips.append(FeatureClip(f"c{i}", x, 0.02, frames * 0.02, targets, np.ones(2, np.float32)))
    return clips


def test_gmm_detects_classes_from_likelihood_ratios():
    gmm_cls = registry.systems.get("gmm")
    config = build_config(gmm_cls, "quick", {"components": "4"})
    system = gmm_cls(config, RunContext(labels=("a", "b"), seed=0, device="cpu", log=lambda _: None))
    rng = np.random.default_rng(0)
    history = system.fit(_gmm_clips(rng), [])
    assert history["positive_frames"] == [400, 400]
    (out,) = system.predict(_gmm_clips(np.random.default_rng(1), n=1))
    active = out.probabilities > 0.5
    assert active.shape == (400, 2)
    # within a 1 s (50-frame) accumulation window of the true boundaries, everything else is right
    assert active[125:175, 0].all() and not active[:75, 0].any() and not active[225:, 0].any()
    assert active[275:325, 1].all() and not active[:225, 1].any()


def test_mfcc_features_have_59_dimensions(tmp_path):
    from sedbench.core.features import MfccSpec

    t = np.arange(44100 * 2) / 44100
    audio = (0.1 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    features = MfccSpec().extract(audio)
    assert features.shape == (100, 59) and np.isfinite(features).all()
    crnn = registry.systems.get("crnn")
    assert MfccSpec().key() != crnn.features(build_config(crnn, "quick")).key()


def test_list_params_prints_every_profile():
    result = run_cli(["list", "--params"])
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()]
    assert ["crnn", "paper", "default", "3,684,368"] in rows
    assert ["gmm", "paper", "default", "60,928"] in rows


@pytest.mark.parametrize("system", ["cnn", "rnn", "fnn", "gmm"])
def test_each_baseline_runs_end_to_end_on_synth_mini(system, workspace, synth_mini, tmp_path):
    import json

    env = {"SEDBENCH_DATA": str(workspace["data"]), "SEDBENCH_CACHE": str(workspace["cache"])}
    extra = [] if system == "gmm" else ["--set", "max_epochs=3"]
    result = run_cli(["run", "--system", system, "--dataset", "synth-mini", "--runs-dir", str(tmp_path), "--quiet",
                      *extra], env)
    assert result.returncode == 0, result.stderr[-2000:]
    (path,) = list(tmp_path.rglob("*.json"))
    record = json.loads(path.read_text())
    cls = registry.systems.get(system)
    assert record["system"]["name"] == system
    assert record["system"]["parameters"] == cls.parameter_count(build_config(cls, "quick", dict(
        item.split("=") for item in extra[1:])), synth_mini.labels)
    assert 0 <= record["headline"]["F1_frm"] <= 100 and record["headline"]["ER_frm"] >= 0
    if system == "gmm":
        assert record["features"]["n_mfcc"] == 20  # MFCC features, not log mel
        assert record["headline"]["F1_frm"] > 40  # the mini set's classes are easy to separate


def test_pitch_shift_moves_a_tone_up_by_quartertones(tmp_path):
    import soundfile as sf

    from sedbench.core.data import AudioClip
    from sedbench.core.features import FeatureCache, LogMelSpec

    t = np.arange(44100 * 2) / 44100
    sf.write(tmp_path / "tone.wav", (0.3 * np.sin(2 * np.pi * 2000 * t)).astype(np.float32), 44100)
    clip = AudioClip("tone.wav", tmp_path / "tone.wav", [], 2.0)
    cache = FeatureCache(tmp_path / "cache")
    spec = LogMelSpec(n_mels=128)
    base = np.asarray(cache.get(clip, spec))[20:80].mean(axis=0).argmax()
    up = np.asarray(cache.get(clip, spec, pitch_shift=24))[20:80].mean(axis=0).argmax()  # one octave up
    assert up > base
    assert cache.path_for(clip, spec, 2) != cache.path_for(clip, spec)


def test_pitch_shift_study_is_recorded(workspace, synth_mini, tmp_path):
    from sedbench.papers.pitch_shift import PitchShiftStudy
    from sedbench.pipeline.jobs import JobSpec, Locations
    from sedbench.pipeline.runner import run_job

    where = Locations(workspace["data"], workspace["cache"], tmp_path)
    record, _ = run_job(JobSpec(system="gmm", dataset="synth-mini", device="cpu",
                                studies=(PitchShiftStudy((-2.0, 2.0)),)), where, log=lambda _: None)
    record = record.to_json()
    study = record["robustness"]["pitch_shift"]
    assert set(study["shifts"]) == {"-2", "+2"}
    for entry in study["shifts"].values():
        assert 0 <= entry["F1_frm"] <= 100
        assert entry["abs_change_F1_frm"] == pytest.approx(abs(entry["F1_frm"] - record["headline"]["F1_frm"]))
    assert "pitch_shift" in record["timings"]


def test_grid_trials_tie_axes_and_take_the_product():
    from sedbench.core.config import SearchSpace

    grid = SearchSpace(axes=({"conv_maps": [96, 256], "rnn_units": [96, 256]}, {"rnn_layers": [1, 2, 3]}), fixed={"x": 1})
    trials = grid.trials()
    assert len(trials) == 6
    assert {"conv_maps": 256, "rnn_units": 256, "rnn_layers": 3, "x": 1} in trials
    assert all(t["conv_maps"] == t["rnn_units"] for t in trials)
    crnn = registry.systems.get("crnn")
    assert len(crnn.search_spaces["paper"].trials()) == 2 * 3 * 8  # the paper's grid


def test_search_picks_on_validation_and_records_every_trial(workspace, synth_mini, tmp_path, monkeypatch):
    import json

    from sedbench.core.config import SearchSpace
    from sedbench.pipeline.jobs import Locations
    from sedbench.pipeline.search import run_search

    crnn = registry.systems.get("crnn")
    tiny = SearchSpace(axes=({"rnn_units": [8, 16]},), studies=({"sequence_frames": [64]},),
                fixed={"max_epochs": 2, "conv_maps": 8})
    monkeypatch.setitem(crnn.search_spaces, "tiny", tiny)
    summary = run_search("crnn", "synth-mini", "tiny", 0, "cpu", Locations(workspace["data"], workspace["cache"], tmp_path),
                         log=lambda _: None)
    assert [t["stage"] for t in summary["trials"]] == ["grid", "grid", "study:sequence_frames"]
    assert summary["chosen"]["valid_F1_frm"] == max(t["valid_F1_frm"] for t in summary["trials"])
    for trial in summary["trials"]:
        record = json.loads(open(trial["record"]).read())
        assert record["config"]["max_epochs"] == 2
        assert record["headline"] == trial["test"]
    assert json.loads(open(summary["path"]).read())["chosen"] == summary["chosen"]
