"""Rare-event systems of Amiriparian et al. 2018 (rare-crnn, rare-cnn) and the DCASE2017 task 2 FNN baseline."""

import math
import re

import numpy as np
import pytest
import torch
from conftest import run_cli

from sedbench.core import registry
from sedbench.core.config import build_config
from sedbench.core.data import FeatureClip
from sedbench.core.errors import ConfigError
from sedbench.core.outputs import Detections
from sedbench.core.system import RunContext
from sedbench.systems.rare_crnn import (
    BaselineMelSpec,
    RareCNN,
    RareCRNN,
    RareEventNet,
    RareFNN,
    average_overlapping,
    count_parameters,
    detect_event,
    frames_to_event,
    sliding_ensemble,
)

LABELS = ("babycry", "glassbreak", "gunshot")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _config(cls=RareCRNN, profile="quick", **overrides):
    return build_config(cls, profile, {k: str(v) for k, v in overrides.items()})


# --------------------------------------------------------------------------- registration, profiles, sizes


def test_registered_with_their_papers_and_strong_labels():
    for name, paper in (("rare-crnn", "amiriparian2018"), ("rare-cnn", "amiriparian2018"), ("rare-fnn", "mesaros2017")):
        cls = registry.systems.get(name)
        assert cls.name == name and cls.paper.key == paper and cls.label_kind.value == "strong"


def test_features_follow_section_2_1_and_synth_rare_is_not_upsampled():
    spec = RareCRNN.features(_config())
    assert (spec.n_mels, spec.sample_rate, spec.window) == (128, 44100, "hann")
    assert spec.win_length == 2029 and spec.hop_length == 1014  # 46 ms, 50 % overlap
    rare = build_config(RareCRNN, "quick", dataset="synth-rare")
    assert rare.sample_rate == 22050 and build_config(RareFNN, "paper", dataset="synth-rare").sample_rate == 22050
    assert RareCRNN.features(rare).hop_length == 507


def test_paper_profile_sizes():
    # conv 2-D 640 + BN 128, conv 1-D 12352 + BN 128, LSTM 328704 + 132096, dense 16512 + BN 256, output 129
    assert count_parameters(RareEventNet(_config(profile="paper"))) == 490_945
    assert count_parameters(RareEventNet(_config(RareCNN, "paper"))) == 79_297  # dense reads 64 x 8 features
    # Table 2: six networks for the three classes
    assert RareCRNN.parameter_count(_config(profile="paper"), LABELS) == 6 * 490_945
    # the baseline MLP: 200 -> 50 -> 50 -> 1 per class
    assert RareFNN.parameter_count(_config(RareFNN, "paper"), LABELS) == 3 * (200 * 50 + 50 + 50 * 50 + 50 + 51)


# --------------------------------------------------------------------------- the network


@pytest.mark.parametrize("cls", [RareCRNN, RareCNN])
def test_a_chunk_of_tau_frames_gives_tau_outputs(cls):
    model = RareEventNet(_config(cls)).eval()
    for tau in (3, 5, 50):
        assert model(torch.randn(4, tau, 128)).shape == (4, tau)
    assert (model.rnn is None) == (cls is RareCNN)


def test_lstm_runs_backwards_in_time():
    # A time kernel of 1 keeps the convolutions frame by frame, so any dependence across time is the LSTM's.
    torch.manual_seed(0)
    model = RareEventNet(_config(kernel_2d="(3,1)")).eval()
    x = torch.randn(1, 8, 128)
    changed = x.clone()
    changed[0, 4] += 1.0
    with torch.no_grad():
        before, after = model(x)[0], model(changed)[0]
    differs = (before - after).abs() > 1e-6
    assert differs[:5].all()  # steps 0..4 see the input at step 4
    assert not differs[5:].any()  # steps 5..7 only see steps >= themselves


def test_network_settings_are_checked():
    with pytest.raises(ConfigError, match=r"setting 'kernel_2d' needs two odd sizes \(frequency, time\), got \(3, 2\)"):
        _config(kernel_2d="(3,2)")
    with pytest.raises(ConfigError, match=r"setting 'pool_sizes' needs two positive sizes"):
        _config(pool_sizes="(4,)")


# --------------------------------------------------------------------------- post-processing (Sec. 2.5)


def test_overlapping_window_outputs_are_averaged_per_frame():
    outputs = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]])  # windows at frames 0, 1, 2; tau 3
    # frame 0: 1; frame 1: (2 + 4) / 2; frame 2: (3 + 5 + 7) / 3; frame 3: (6 + 8) / 2; frame 4: 9
    np.testing.assert_allclose(average_overlapping(outputs), [1.0, 3.0, 5.0, 7.0, 9.0])


class _PositionInWindow(torch.nn.Module):
    """Logit = the frame's position k in its window (band 0 holds the frame index)."""

    def forward(self, x):
        return x[..., 0] - x[:, :1, 0]


def test_sliding_ensemble_uses_every_window_with_hop_one():
    features = np.arange(5, dtype=np.float32)[:, None]
    s = lambda k: 1 / (1 + math.exp(-k))  # noqa: E731
    expected = [s(0), (s(1) + s(0)) / 2, (s(2) + s(1) + s(0)) / 3, (s(2) + s(1)) / 2, s(2)]
    np.testing.assert_allclose(sliding_ensemble(_PositionInWindow(), features, 3, "cpu", batch=2), expected, rtol=1e-6)
    # a clip shorter than tau is padded to one window
    np.testing.assert_allclose(sliding_ensemble(_PositionInWindow(), features[:2], 3, "cpu"), [s(0), s(1)], rtol=1e-6)


def test_presence_needs_the_maximum_above_the_class_threshold():
    curve = np.array([0.1, 0.6, 0.7, 0.4, 0.3])
    config = _config()
    assert detect_event(curve, config.threshold_for("babycry")) is None  # 0.7 < 0.8
    assert detect_event(curve, config.threshold_for("glassbreak")) is None
    assert detect_event(curve, config.threshold_for("gunshot")) == (1, 3)  # 0.7 > 0.5
    assert detect_event(np.array([0.2, 0.8, 0.2]), 0.8) is None  # "exceeds": strictly above


def test_onset_walks_back_to_the_start_of_the_run_containing_the_peak():
    curve = np.array([0.1, 0.6, 0.7, 0.4, 0.6, 0.9, 0.95, 0.7, 0.3, 0.9])
    assert detect_event(curve, 0.8) == (4, 8)  # peak at 6; run 4..7; the earlier run 1..2 is not it
    assert detect_event(np.array([0.9, 0.95, 0.6]), 0.8) == (0, 3)  # runs to the clip's edges
    assert detect_event(np.array([0.1, 0.4, 0.2]), 0.3) == (1, 2)  # peak not above 0.5: one frame
    event = frames_to_event(4, 8, 10, 0.02, "gunshot", duration=0.15)
    assert event.label == "gunshot" and event.onset == pytest.approx(0.08) and event.offset == 0.15  # cut at the end


# --------------------------------------------------------------------------- per-class settings


def test_ensembles_and_thresholds_default_to_tables_two_and_section_2_5():
    config = _config(profile="paper")
    assert [config.ensemble_for(c) for c in LABELS] == [(5, 9, 50), (3,), (3, 5)]
    assert [config.threshold_for(c) for c in LABELS] == [0.8, 0.8, 0.5]
    assert config.ensemble_for("dog") == (5,) and config.threshold_for("dog") == 0.5  # not listed: defaults
    changed = _config(ensembles="babycry=5+9,gunshot=3", thresholds="babycry=0.7", default_ensemble="3+7")
    assert [changed.ensemble_for(c) for c in LABELS] == [(5, 9), (3, 7), (3,)]
    assert [changed.threshold_for(c) for c in LABELS] == [0.7, 0.5, 0.5]


@pytest.mark.parametrize("setting, value, message", [
    ("ensembles", "babycry", "setting 'ensembles': 'babycry' is not of the form class=value, e.g. babycry=5+9+50"),
    ("ensembles", "babycry=5+x", "setting 'ensembles': 'babycry=5+x' needs positive whole timesteps joined by '+', "
                                 "e.g. babycry=5+9+50"),
    ("ensembles", "babycry=0", "setting 'ensembles': 'babycry=0' needs positive whole timesteps"),
    ("ensembles", "babycry=5+5", "setting 'ensembles': 'babycry=5+5' lists a timestep twice"),
    ("ensembles", "gunshot=3,gunshot=5", "setting 'ensembles' lists class 'gunshot' twice"),
    ("thresholds", "=0.5", "setting 'thresholds': '=0.5' is not of the form class=value, e.g. babycry=0.8"),
    ("thresholds", "gunshot=1.5", "setting 'thresholds': 'gunshot=1.5' needs a threshold between 0 and 1, "
                                  "e.g. gunshot=0.5"),
    ("thresholds", "gunshot=high", "setting 'thresholds': 'gunshot=high' needs a threshold between 0 and 1"),
    ("default_ensemble", "3+-1", "setting 'default_ensemble': '3+-1' needs positive whole timesteps"),
    ("onset_threshold", "1.5", "setting 'onset_threshold': '1.5' needs a threshold between 0 and 1"),
])
def test_per_class_setting_errors_are_one_sentence(setting, value, message):
    with pytest.raises(ConfigError) as error:
        _config(**{setting: value})
    assert str(error.value).startswith(message)


def test_changed_settings_must_name_the_datasets_classes():
    with pytest.raises(ConfigError, match=r"^setting 'thresholds' names class 'babycri', which is not one of the "
                                          r"dataset's labels \(babycry, glassbreak, gunshot\)$"):
        RareCRNN(_config(thresholds="babycri=0.8"), RunContext(LABELS, 0, "cpu"))
    # the paper's defaults name the DCASE classes and are fine on any dataset (other classes use the defaults)
    system = RareCRNN(_config(), RunContext(("dog", "car"), 0, "cpu"))
    assert system.ensembles == {"dog": (5,), "car": (5,)}


def test_a_bad_setting_stops_the_cli_with_one_line():
    result = run_cli(["run", "--system", "rare-crnn", "--dataset", "synth-mini", "--set", "thresholds=gunshot"])
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "error: setting 'thresholds': 'gunshot' is not of the form class=value, e.g. babycry=0.8")


# --------------------------------------------------------------------------- fit and predict


def _clips(n, frames, bands, hop, seed=0, target=True):
    rng = np.random.default_rng(seed)
    clips = []
    for i in range(n):
        label = i % 3
        targets = np.zeros((frames, 3), np.float32)
        start = int(rng.integers(0, frames - 20))
        targets[start: start + 15, label] = 1
        features = rng.standard_normal((frames, bands)).astype(np.float32)
        features[start: start + 15] += 1.5
        clips.append(FeatureClip(f"c{i}", features, hop, frames * hop, targets, targets.max(0),
                                 target_class=LABELS[label] if target else None))
    return clips


def _check_detections(outputs, clips, at_most_one=True):
    assert len(outputs) == len(clips) and all(isinstance(o, Detections) for o in outputs)
    for output, clip in zip(outputs, clips):
        labels = [e.label for e in output.events]
        assert set(labels) <= ({clip.target_class} if clip.target_class else set(LABELS))
        if at_most_one:
            assert len(labels) == len(set(labels))
        for event in output.events:
            assert 0 <= event.onset <= event.offset <= clip.duration


@pytest.mark.parametrize("cls", [RareCRNN, RareCNN])
def test_fit_and_predict_give_one_event_per_class_at_most(cls):
    torch.manual_seed(0)
    config = _config(cls, min_epochs=1, max_epochs=2, ensembles="babycry=3+5,glassbreak=3,gunshot=4",
                     thresholds="babycry=0,glassbreak=0,gunshot=0")  # threshold 0: every clip has its event
    system = cls(config, RunContext(LABELS, 0, "cpu", log=lambda _: None))
    clips = _clips(6, 120, 128, 0.023)
    history = system.fit(clips, clips[:3])
    assert sorted(history["models"]) == ["babycry/t3", "babycry/t5", "glassbreak/t3", "gunshot/t4"]
    assert all(h["epoch"] == [1, 2] and h["monitor"] == "valid_loss" for h in history["models"].values())
    assert cls.parameter_count(config, LABELS) == 4 * count_parameters(RareEventNet(config))
    outputs = system.predict(clips[:3])
    _check_detections(outputs, clips[:3])
    assert [[e.label for e in o.events] for o in outputs] == [["babycry"], ["glassbreak"], ["gunshot"]]
    # clips made for no class are searched for every class
    untargeted = _clips(2, 40, 128, 0.023, seed=1, target=False)
    outputs = system.predict(untargeted)
    _check_detections(outputs, untargeted)
    assert all(sorted(e.label for e in o.events) == list(LABELS) for o in outputs)


def test_rare_fnn_stacks_five_frames_with_repeated_edges():
    system = RareFNN(_config(RareFNN), RunContext(LABELS, 0, "cpu"))
    features = np.arange(6, dtype=np.float32).reshape(3, 2)  # frames [0 1], [2 3], [4 5]
    stacked = system.stacked(features)
    assert stacked.shape == (3, 10)
    np.testing.assert_array_equal(stacked[0], [0, 1, 0, 1, 0, 1, 2, 3, 4, 5])
    np.testing.assert_array_equal(stacked[2], [0, 1, 2, 3, 4, 5, 4, 5, 4, 5])


def test_rare_fnn_fit_and_predict():
    torch.manual_seed(0)
    system = RareFNN(_config(RareFNN, max_epochs=2), RunContext(LABELS, 0, "cpu", log=lambda _: None))
    clips = _clips(6, 150, 40, 0.02)
    history = system.fit(clips, clips[:3])
    assert sorted(history["models"]) == list(LABELS)
    assert all(h["monitor"] == "valid_accuracy" and h["weights"] == "last epoch" for h in history["models"].values())
    assert system.config.median_filter_frames == 27  # 0.54 s at 20 ms
    _check_detections(system.predict(clips[:3]), clips[:3], at_most_one=False)
    # everything active: one event over the whole clip, for the clip's own class
    system.config = _config(RareFNN, threshold=0.0)
    outputs = system.predict(clips[:3])
    assert [[(e.label, e.onset, e.offset) for e in o.events] for o in outputs] == [
        [(label, 0.0, clip.duration)] for label, clip in zip(LABELS, clips[:3])]


def test_baseline_features_are_magnitude_mel_energies():
    spec = BaselineMelSpec(sample_rate=22050, n_mels=40, frame_seconds=0.04, hop_seconds=0.02)
    tone = np.sin(2 * np.pi * 1000 * np.arange(22050) / 22050).astype(np.float32)
    features = spec.extract(tone)
    assert features.shape == (spec.n_frames(1.0), 40) and np.isfinite(features).all()
    # magnitude: twice the amplitude adds log 2 (a power spectrogram would add log 4)
    louder = spec.extract(2 * tone)
    np.testing.assert_allclose((louder - features)[:, 5:30], math.log(2), atol=1e-3)
    np.testing.assert_allclose(spec.extract(np.zeros(22050, np.float32)), math.log(np.spacing(1)), rtol=1e-6)
    assert spec.key() != BaselineMelSpec(sample_rate=22050, n_mels=40, power=2.0).key()


def test_rare_fnn_runs_through_the_harness(workspace, synth_mini, tmp_path):
    from sedbench.pipeline.jobs import JobSpec, Locations
    from sedbench.pipeline.runner import run_job

    where = Locations(data_dir=workspace["data"], cache_dir=workspace["cache"], runs_dir=tmp_path)
    record, path = run_job(JobSpec(system="rare-fnn", dataset="synth-mini", overrides={"max_epochs": "2"}), where,
                           log=lambda _: None)
    record = record.to_json()
    assert path.exists() and record["system"]["paper"] == "mesaros2017"
    labels = list(synth_mini.labels)
    assert record["system"]["parameters"] == len(labels) * 12_651
    assert sorted(record["history"]["models"]) == sorted(labels)  # no target classes: every clip for every class
    assert record["features"]["fft_length"] == 2048 and record["features"]["n_mels"] == 40
    assert 0 <= record["headline"]["ER_event"]


# --------------------------------------------------------------------------- checkpoints


def _trained_epochs(messages):
    """(network, epoch) of every epoch a fit trained, from its log."""
    found = [re.match(r"^(\S+(?: t\d+)?) epoch +(\d+)/\d+ ", m) for m in messages]
    return [(match.group(1), int(match.group(2))) for match in found if match]


def _assert_same_fit(history, expected, resumed, reference, clips):
    assert list(history["models"]) == list(expected["models"])
    for name, want in expected["models"].items():
        assert want["epoch"] == [1, 2, 3]
        for key in set(want) - {"seconds"}:
            assert history["models"][name][key] == want[key], (name, key)
    for clip in clips:
        for label in LABELS:
            np.testing.assert_array_equal(resumed.class_probabilities(clip, label),
                                          reference.class_probabilities(clip, label))
    assert resumed.predict(clips) == reference.predict(clips)


@pytest.mark.parametrize("kill_after, network, epoch", [
    (8, "glassbreak/t3", 2),  # saves: 2 epochs and 1 hand-over per network, so the 8th is inside the 3rd network
    (6, "glassbreak/t3", 0),  # the hand-over from the 2nd network to the 3rd
])
def test_rare_crnn_killed_in_a_later_network_resumes_inside_it(tmp_path, kill_after, network, epoch):
    from test_checkpoints import Killed, KilledAfter

    from sedbench.pipeline.checkpoints import Checkpoints, read_checkpoint

    config = _config(n_mels=32, min_epochs=1, max_epochs=3, patience=10, lr_decay=0.01,
                     ensembles="babycry=3+5,glassbreak=3,gunshot=4", thresholds="babycry=0,glassbreak=0,gunshot=0")
    clips = _clips(6, 120, 32, 0.023)

    def rare_crnn(checkpoints, messages):
        torch.manual_seed(4)  # a new process: the harness seeds, then builds the system
        return RareCRNN(config, RunContext(LABELS, 4, "cpu", log=messages.append, checkpoints=checkpoints))

    reference = rare_crnn(Checkpoints(None), [])
    expected = reference.fit(clips, clips[:3])
    path = tmp_path / "checkpoint.pt"
    with pytest.raises(Killed):
        rare_crnn(KilledAfter(path, saves=kill_after), []).fit(clips, clips[:3])
    checkpoint = read_checkpoint(path)
    assert (checkpoint["network"], checkpoint["epoch"]) == (network, epoch)
    assert list(checkpoint["finished"]) == ["babycry/t3", "babycry/t5"]
    messages = []
    resumed = rare_crnn(Checkpoints(path), messages)
    history = resumed.fit(clips, clips[:3])
    assert f"resumed from the checkpoint after epoch {epoch} of network {network} (2 of 4 networks finished)" in messages
    assert _trained_epochs(messages) == [("glassbreak t3", e) for e in range(epoch + 1, 4)] + [
        ("gunshot t4", e) for e in (1, 2, 3)]  # the finished networks were not trained again
    _assert_same_fit(history, expected, resumed, reference, clips)
    # the Keras-style decay went on from the update count of the checkpoint
    assert history["models"]["glassbreak/t3"]["learning_rate"][-1] < 1e-3


def test_rare_fnn_killed_in_its_last_network_resumes_inside_it(tmp_path):
    from test_checkpoints import Killed, KilledAfter

    from sedbench.pipeline.checkpoints import Checkpoints, read_checkpoint

    config = _config(RareFNN, max_epochs=3, patience=10)
    clips = _clips(6, 150, 40, 0.02)

    def rare_fnn(checkpoints, messages):
        torch.manual_seed(4)
        return RareFNN(config, RunContext(LABELS, 4, "cpu", log=messages.append, checkpoints=checkpoints))

    reference = rare_fnn(Checkpoints(None), [])
    expected = reference.fit(clips, clips[:3])
    path = tmp_path / "checkpoint.pt"
    with pytest.raises(Killed):
        rare_fnn(KilledAfter(path, saves=7), []).fit(clips, clips[:3])
    checkpoint = read_checkpoint(path)
    assert (checkpoint["network"], checkpoint["epoch"], list(checkpoint["finished"])) == (
        "gunshot", 1, ["babycry", "glassbreak"])
    messages = []
    resumed = rare_fnn(Checkpoints(path), messages)
    history = resumed.fit(clips, clips[:3])
    assert "resumed from the checkpoint after epoch 1 of network gunshot (2 of 3 networks finished)" in messages
    assert _trained_epochs(messages) == [("gunshot", 2), ("gunshot", 3)]
    _assert_same_fit(history, expected, resumed, reference, clips)


def test_a_checkpoint_of_other_networks_is_one_clear_error(tmp_path):
    from sedbench.pipeline.checkpoints import CheckpointError, Checkpoints

    path = tmp_path / "checkpoint.pt"
    Checkpoints(path).save({"network": "siren/t3", "epoch": 1, "training": None, "finished": {}})
    system = RareCRNN(_config(n_mels=32, ensembles="babycry=3,glassbreak=3,gunshot=3"),
                      RunContext(LABELS, 0, "cpu", log=lambda _: None, checkpoints=Checkpoints(path)))
    message = (f"checkpoint {path} holds network 'siren/t3', which this configuration does not train (babycry/t3, "
               "glassbreak/t3, gunshot/t3); delete it to restart this job from scratch")
    with pytest.raises(CheckpointError, match=f"^{re.escape(message)}$"):
        system.fit(_clips(3, 60, 32, 0.023), [])
