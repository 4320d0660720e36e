"""Boundary tokens, the token error rate, and the CTC-RNN of Wang & Metze 2017."""

import json
import math

import numpy as np
import pytest
import torch
from conftest import run_cli

from sedbench.core.config import build_config
from sedbench.core.data import Event, FeatureClip
from sedbench.core.errors import ConfigError, SystemOutputError
from sedbench.core.outputs import Detections, check_output
from sedbench.core.system import RunContext
from sedbench.core.tokens import TimedToken, boundary_tokens, token_vocabulary, tokens_to_events
from sedbench.scoring import metrics
from sedbench.systems.ctc_rnn import (
    CTCRNN,
    CTCConfig,
    CTCRNNModel,
    best_path,
    reverse_padded,
    training_sequences,
)

LABELS = ("bird", "car", "dog")
ON, OFF = "onset", "offset"


# ------------------------------------------------------------------ tokens


def test_boundary_tokens_in_time_order_with_offsets_first_on_ties():
    events = [Event(2.0, 5.0, "car"), Event(0.5, 2.0, "dog"), Event(2.0, 3.0, "bird")]
    assert boundary_tokens(events, LABELS) == [
        ("dog", ON), ("dog", OFF), ("bird", ON), ("car", ON), ("bird", OFF), ("car", OFF),
    ]


def test_boundary_tokens_of_a_window_keep_only_boundaries_inside_it():
    events = [Event(1.0, 4.0, "car"), Event(3.0, 9.0, "dog")]
    assert boundary_tokens(events, LABELS, start=2.0, stop=5.0) == [("dog", ON), ("car", OFF)]


def test_vocabulary_has_onset_and_offset_per_class_in_label_order():
    assert token_vocabulary(LABELS) == [("bird", ON), ("bird", OFF), ("car", ON), ("car", OFF),
                                        ("dog", ON), ("dog", OFF)]


def test_tokens_pair_into_events_per_class():
    tokens = [TimedToken(1.0, "car", ON), TimedToken(1.5, "dog", ON), TimedToken(2.0, "car", OFF),
              TimedToken(2.5, "car", ON), TimedToken(3.0, "car", ON), TimedToken(4.0, "car", OFF),
              TimedToken(5.0, "bird", OFF)]
    # a second onset while one is open is ignored; an orphan offset is dropped; an open event runs to the end
    assert tokens_to_events(tokens, duration=10.0) == [
        Event(1.0, 2.0, "car"), Event(1.5, 10.0, "dog"), Event(2.5, 4.0, "car"),
    ]


# ------------------------------------------------------------------ token error rate


def tokens(*names):
    return [(name.split(":")[0], ON if name.endswith(":on") else OFF) for name in names]


@pytest.mark.parametrize("hypothesis, expected", [
    (tokens("a:on", "a:off", "b:on", "b:off"), {"S": 0, "D": 0, "I": 0, "TER": 0.0}),
    (tokens("a:on", "a:off"), {"S": 0, "D": 2, "I": 0, "TER": 50.0}),
    (tokens("a:on", "a:off", "c:on", "b:off"), {"S": 1, "D": 0, "I": 0, "TER": 25.0}),
    (tokens("a:on", "a:off", "b:on", "b:off", "c:on", "c:off"), {"S": 0, "D": 0, "I": 2, "TER": 50.0}),
    ([], {"S": 0, "D": 4, "I": 0, "TER": 100.0}),
    (tokens("b:off", "b:on", "a:off", "a:on"), {"TER": 100.0}),  # reversed: 4 edits, no order is free
])
def test_token_error_rate_of_one_file_by_hand(hypothesis, expected):
    reference = tokens("a:on", "a:off", "b:on", "b:off")
    result = metrics.token_error_rate({"f": reference}, {"f": hypothesis})
    assert result["N"] == 4
    for key, value in expected.items():
        assert result[key] == pytest.approx(value), key


def test_token_error_rate_accumulates_over_files_like_wer():
    references = {"f1": tokens("a:on", "a:off"), "f2": tokens("a:on", "a:off", "b:on", "b:off"), "f3": []}
    hypotheses = {"f1": tokens("a:on"), "f2": tokens("a:on", "a:off", "b:on", "b:off"),
                  "f3": tokens("c:on")}
    result = metrics.token_error_rate(references, hypotheses)
    # (1 deletion + 1 insertion) / 6 reference tokens, not the mean of the per-file rates (50 %, 0 %, undefined)
    assert result["errors"] == 2 and result["N"] == 6
    assert result["TER"] == pytest.approx(100 * 2 / 6)
    assert result["files"]["f3"] == {"S": 0, "D": 0, "I": 1, "N": 0}


def test_token_error_rate_missing_file_counts_as_empty_and_no_reference_is_undefined():
    assert metrics.token_error_rate({"f": tokens("a:on", "a:off")}, {})["TER"] == 100.0
    assert metrics.token_error_rate({"f": []}, {"f": []})["TER"] is None


# ------------------------------------------------------------------ decoding and model pieces


def test_best_path_collapses_repeats_and_drops_blanks():
    #            frame: 0  1  2  3  4  5  6
    best = np.array([0, 1, 1, 0, 1, 3, 3])
    log_probabilities = np.log(np.full((7, 4), 0.1))
    log_probabilities[np.arange(7), best] = np.log(0.7)
    # 1 1 -> one token; the blank between the two runs of 1 keeps them apart
    assert best_path(log_probabilities) == [(1, 1), (4, 1), (5, 3)]


def test_reverse_padded_reverses_each_sequence_within_its_length():
    x = torch.arange(8, dtype=torch.float32).reshape(2, 4, 1)
    out = reverse_padded(x, torch.tensor([4, 2]))
    assert out[:, :, 0].tolist() == [[3, 2, 1, 0], [5, 4, 6, 7]]


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_model_gives_log_probabilities_over_2n_plus_1_tokens(activation):
    torch.manual_seed(0)
    model = CTCRNNModel(5, len(LABELS), CTCConfig(units=6, cell_activation=activation))
    x = torch.randn(2, 9, 5)
    out = model(x, torch.tensor([9, 4]))
    assert out.shape == (2, 9, 2 * len(LABELS) + 1)
    assert torch.allclose(out.exp().sum(dim=2), torch.ones(2, 9), atol=1e-5)


def test_relu_backward_direction_ignores_padding():
    torch.manual_seed(0)
    model = CTCRNNModel(3, 1, CTCConfig(units=4, cell_activation="relu")).eval()
    x = torch.randn(1, 5, 3)
    padded = torch.cat([x, torch.randn(1, 3, 3) * 100], dim=1)
    assert torch.allclose(model(x, torch.tensor([5]))[0], model(padded, torch.tensor([5]))[0, :5], atol=1e-5)


def test_initialization_glorot_and_forget_gate_bias_one():
    model = CTCRNNModel(5, 2, CTCConfig(units=4, cell_activation="relu"))
    bias = model.forward_rnn.input_weights.bias.detach()
    assert bias[4:8].tolist() == [1.0] * 4 and bias[:4].abs().sum() == 0 and bias[8:].abs().sum() == 0
    bound = math.sqrt(6 / (5 + 16))
    assert model.forward_rnn.input_weights.weight.abs().max() <= bound
    tanh = CTCRNNModel(5, 2, CTCConfig(units=4, cell_activation="tanh"))
    assert tanh.rnn.bias_ih_l0.detach()[4:8].tolist() == [1.0] * 4


def clip(name, frames, events, dims=4, hop=0.1, rng=None):
    rng = rng or np.random.default_rng(0)
    return FeatureClip(name, rng.standard_normal((frames, dims)).astype(np.float32), hop, frames * hop,
                       None, np.zeros(len(LABELS), np.float32), events)


def test_training_sequences_cut_long_clips_and_split_their_transcripts():
    events = [Event(0.2, 0.8, "car"), Event(1.1, 2.5, "dog")]
    sequences = training_sequences([clip("c", 25, events)], LABELS, max_frames=10)
    assert [s.features.shape[0] for s in sequences] == [10, 10, 5]
    # ids: bird 1/2, car 3/4, dog 5/6; the last piece also takes the offset at the clip's very end
    assert [s.targets for s in sequences] == [[3, 4], [5], [6]]


def test_unknown_feature_kind_or_activation_is_one_clear_error():
    with pytest.raises(ConfigError, match="setting 'features' must be one of soundnet, logmel, got 'mfcc'"):
        build_config(CTCRNN, "quick", {"features": "mfcc"})
    with pytest.raises(ConfigError, match="'cell_activation' must be one of relu, tanh"):
        build_config(CTCRNN, "quick", {"cell_activation": "sigmoid"})


def test_feature_choice_sets_the_frame_rate():
    logmel = CTCRNN.features(build_config(CTCRNN, "quick", {"features": "logmel"}))
    assert logmel.sample_rate == 22050 and logmel.hop_length == 2048 and logmel.n_mels == 40
    assert logmel.frame_hop == pytest.approx(1 / 10.7666, rel=1e-4)


def test_learns_a_toy_transcription_to_zero_error():
    """Features that flag each boundary frame: a small CTC-RNN must learn to transcribe them exactly."""
    rng = np.random.default_rng(1)
    vocabulary = token_vocabulary(LABELS)
    clips = []
    for i in range(12):
        events, features = [], rng.normal(0, 0.1, (40, 7)).astype(np.float32)
        for k, start in enumerate(sorted(rng.choice(np.arange(2, 30, 4), 2, replace=False))):
            label = LABELS[(i + k) % 3]
            events.append(Event(start * 0.1, (start + 3) * 0.1, label))
            features[start, vocabulary.index((label, ON))] += 3
            features[start + 3, vocabulary.index((label, OFF))] += 3
        clips.append(FeatureClip(f"c{i}", features, 0.1, 4.0, None, np.zeros(3, np.float32), events))
    config = build_config(CTCRNN, "quick", {"units": "32", "epochs": "80", "learning_rate": "1.0",
                                             "batch_size": "2", "gradient_clip": "0", "decay_patience": "1000",
                                             "patience": "none"})
    torch.manual_seed(0)
    system = CTCRNN(config, RunContext(labels=LABELS, seed=0, device="cpu", log=lambda m: None))
    history = system.fit(clips[:8], clips[8:])
    assert history["train_TER"][0] == 100.0  # CTC's warm-up: only blanks at first
    assert history["train_TER"][-1] <= 10 and history["valid_TER"][-1] <= 25
    decoded = system.predict(clips[:1])[0]
    assert [t.token for t in decoded.tokens] == boundary_tokens(clips[0].events, LABELS)
    # CTC places its spikes near, not at, the boundaries; pairing them gives the events back within a few frames
    assert len(decoded.events) == len(clips[0].events)
    assert all(abs(a.onset - b.onset) <= 0.5 for a, b in zip(decoded.events, sorted(clips[0].events)))


def test_early_stopping_waits_for_min_epochs():
    """A rate of 0 keeps the validation TER flat: patience 2 stops after 3 epochs, unless min_epochs asks for 6."""
    rng = np.random.default_rng(3)
    clips = [clip(f"c{i}", 20, [Event(0.5, 1.2, LABELS[i % 3])], rng=rng) for i in range(6)]
    epochs_run = {}
    for min_epochs in ("0", "6"):
        config = build_config(CTCRNN, "quick", {"features": "logmel", "units": "4", "epochs": "20", "learning_rate": "0",
                                                 "patience": "2", "min_epochs": min_epochs})
        history = CTCRNN(config, RunContext(labels=LABELS, seed=0, device="cpu")).fit(clips[:4], clips[4:])
        assert len(set(history["valid_TER"])) == 1
        epochs_run[min_epochs] = (history["epoch"][-1], history["convergence"]["converged"])
    assert epochs_run == {"0": (3, True), "6": (6, True)}
    with pytest.raises(ConfigError, match="setting 'min_epochs' must be 0 or more, got -1"):
        build_config(CTCRNN, "quick", {"min_epochs": "-1"})


def test_output_contract_checks_decoded_tokens():
    test_clip = clip("c", 10, [])
    bad = Detections(events=[], tokens=[TimedToken(0.5, "cat", ON)])
    with pytest.raises(SystemOutputError, match="token label 'cat' is not in the dataset's label list"):
        check_output(bad, test_clip, LABELS, "ctc-rnn")
    with pytest.raises(SystemOutputError, match="token kind must be 'onset' or 'offset', got 'peak'"):
        check_output(Detections(events=[], tokens=[TimedToken(0.5, "car", "peak")]), test_clip, LABELS, "ctc-rnn")
    with pytest.raises(SystemOutputError, match="token time must be finite and >= 0, got nan"):
        check_output(Detections(events=[], tokens=[TimedToken(float("nan"), "car", ON)]), test_clip, LABELS, "x")


# ------------------------------------------------------------------ through the harness


def test_cli_run_scores_ter_and_tracks_the_test_curve(workspace, synth_mini, tmp_path):
    env = {"SEDBENCH_DATA": str(workspace["data"]), "SEDBENCH_CACHE": str(workspace["cache"])}
    result = run_cli(["run", "--system", "ctc-rnn", "--dataset", "synth-mini", "--set", "features=logmel",
                      "--set", "units=8", "--set", "epochs=2", "--track-test", "--runs-dir", str(tmp_path),
                      "--quiet"], env)
    assert result.returncode == 0, result.stderr[-3000:]
    record = json.loads(next(tmp_path.rglob("*.json")).read_text())
    transcription = record["metrics"]["transcription"]
    assert record["headline"]["TER"] == pytest.approx(100 * transcription["errors"] / transcription["N"])
    assert transcription["N"] == 2 * sum(1 for c in synth_mini.split("1").test for _ in c.events)
    assert record["history"]["epoch"] == [1, 2] and len(record["history"]["valid_TER"]) == 2
    curve = record["test_curve"]
    assert [e["epoch"] for e in curve["epochs"]] == [1, 2]
    assert curve["epochs"][-1]["TER"] == pytest.approx(record["headline"]["TER"])  # last epoch = final model
    assert record["features"]["hop_seconds"] == pytest.approx(2048 / 22050)
    assert "TER" in result.stdout


def test_predict_returns_one_output_per_clip_whatever_the_batch_size():
    clips = [clip(f"c{i}", 12, [], rng=np.random.default_rng(i)) for i in range(23)]
    for batch_size in ("5", "20"):
        config = build_config(CTCRNN, "quick", {"units": "4", "batch_size": batch_size})
        outputs = CTCRNN(config, RunContext(labels=LABELS, seed=0, device="cpu")).predict(clips)
        assert len(outputs) == 23 and all(isinstance(o, Detections) for o in outputs)


def test_a_fit_killed_after_an_epoch_resumes_with_the_same_learning_rate_decay_and_history(tmp_path, one_torch_thread):
    from test_checkpoints import Killed, KilledAfter

    from sedbench.pipeline.checkpoints import Checkpoints, read_checkpoint

    rng = np.random.default_rng(2)
    clips = [clip(f"c{i}", 30, [Event(0.5, 1.2, LABELS[i % 3]), Event(1.5, 2.5, LABELS[(i + 1) % 3])], rng=rng)
             for i in range(8)]
    # the rate decays when the validation TER has not improved for 2 epochs: the counter spans the kill
    config = build_config(CTCRNN, "quick", {"features": "logmel", "units": "8", "epochs": "5", "batch_size": "3",
                                             "decay_patience": "2"})

    def ctc_rnn(checkpoints, messages):
        torch.manual_seed(0)  # a new process: the harness seeds, then builds the system
        return CTCRNN(config, RunContext(labels=LABELS, seed=0, device="cpu", log=messages.append,
                                         checkpoints=checkpoints))

    reference = ctc_rnn(Checkpoints(None), [])
    expected = reference.fit(clips[:6], clips[6:])
    assert expected["learning_rate"] == [1.0, 1.0, 1.0, 0.8, 0.8]  # no new minimum after epoch 1: decays after 3, 5
    path = tmp_path / "checkpoint.pt"
    with pytest.raises(Killed):
        ctc_rnn(KilledAfter(path, saves=2), []).fit(clips[:6], clips[6:])
    checkpoint = read_checkpoint(path)
    assert (checkpoint["epoch"], checkpoint["epochs_since_best"]) == (2, 1)
    messages = []
    resumed = ctc_rnn(Checkpoints(path), messages)
    history = resumed.fit(clips[:6], clips[6:])
    assert "resumed from the checkpoint after epoch 2" in messages
    assert [m.split()[1] for m in messages if m.startswith("epoch")] == ["3/5", "4/5", "5/5"]
    assert history["epoch"] == expected["epoch"] == [1, 2, 3, 4, 5]
    for key in set(expected) - {"seconds"}:
        assert history[key] == expected[key], key
    for got, want in zip(resumed.log_probabilities(clips), reference.log_probabilities(clips)):
        np.testing.assert_array_equal(got, want)
