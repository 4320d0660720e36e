"""The weak-label CRNN (Adavanne & Virtanen 2017): two outputs in sequence, two weighted losses, tags-only training."""

import numpy as np
import pytest
import torch

from sedbench.core import registry
from sedbench.core.config import build_config
from sedbench.core.data import FeatureClip, LabelKind
from sedbench.core.errors import ConfigError
from sedbench.core.outputs import FrameActivity, check_output
from sedbench.core.system import RunContext
from sedbench.systems.weak_crnn import (
    WeakCRNN,
    WeakCRNNConfig,
    WeakCRNNModel,
    clip_frames,
    strong_targets,
    weighted_loss,
    window_tags,
    windows,
)

LABELS = ("a", "b", "c")
# a few milliseconds per step: 8 mel bands, 2 s clips (100 frames at a 20 ms hop)
TINY = WeakCRNNConfig(n_mels=8, clip_seconds=2.0, conv_maps=4, pool_sizes=(2, 2), rnn_units=(4,), fc_units=(4,),
                      dropout=0.0, batch_size=4, max_epochs=2, patience=5)


def tiny_clip(name, seconds, tags, rng, targets=None):
    frames = int(round(seconds / 0.02))
    return FeatureClip(clip_id=name, features=rng.standard_normal((frames, 8)).astype(np.float32), hop_seconds=0.02,
                       duration=seconds, targets=targets, tags=np.asarray(tags, dtype=np.float32))


def system(config=TINY, seed=0):
    torch.manual_seed(seed)
    return WeakCRNN(config, RunContext(labels=LABELS, seed=seed, device="cpu", log=lambda message: None))


def test_registered_as_a_weak_label_system_with_both_weights_in_its_config():
    cls = registry.systems.get("weak-crnn")
    assert cls is WeakCRNN and cls.label_kind is LabelKind.WEAK and set(cls.profiles) == {"paper", "quick"}
    config = build_config(cls, "quick", {"strong_weight": "0.2", "weak_weight": "1"})
    assert (config.strong_weight, config.weak_weight) == (0.2, 1.0)
    assert (build_config(cls, "paper").strong_weight, build_config(cls, "paper").weak_weight) == (1.0, 1.0)


def test_paper_profile_size_against_the_slides():
    cls = registry.systems.get("weak-crnn")
    paper = build_config(cls, "paper")
    assert clip_frames(paper) == 500  # 10 s at a 20 ms hop
    # 17 classes as DCASE2017 task 4; the slides say "218,000 trainable weights"; the weak layer alone has 144,517
    assert cls.parameter_count(paper, tuple(map(str, range(17)))) == 226_102
    quick = build_config(cls, "quick")
    assert clip_frames(quick) == 250 and cls.parameter_count(quick, tuple(map(str, range(16)))) == 77_520


def test_output_shapes_frames_by_classes_and_classes():
    model = WeakCRNNModel(8, 3, 100, TINY)
    strong, weak = model(torch.randn(5, 100, 8))
    assert strong.shape == (5, 100, 3) and weak.shape == (5, 3)


def test_output_two_is_computed_from_output_one_only():
    model = WeakCRNNModel(8, 3, 100, TINY).eval()
    x = torch.randn(2, 100, 8)
    strong, weak = model(x)
    expected = model.weak(torch.sigmoid(strong).reshape(2, -1))
    assert torch.allclose(weak, expected)


def test_strong_targets_are_the_tags_repeated_over_every_frame():
    tags = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    targets = strong_targets(tags, 7)
    assert targets.shape == (2, 7, 3)
    assert all(torch.equal(targets[:, t], tags) for t in range(7))


def test_loss_is_the_weighted_sum_of_the_two_cross_entropies():
    torch.manual_seed(1)
    strong, weak, tags = torch.randn(2, 6, 3), torch.randn(2, 3), torch.tensor([[1.0, 0, 0], [0, 1, 1]])
    total, strong_loss, weak_loss = weighted_loss(strong, weak, tags, 0.2, 1.0)
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    assert torch.isclose(strong_loss, bce(strong, tags[:, None, :].expand(2, 6, 3)))
    assert torch.isclose(weak_loss, bce(weak, tags))
    assert torch.isclose(total, 0.2 * strong_loss + weak_loss)


@pytest.mark.parametrize("strong_weight, weak_weight", [(1.0, 0.0), (0.0, 1.0)])
def test_a_zero_weight_stops_the_gradient_of_its_own_output_layer(strong_weight, weak_weight):
    torch.manual_seed(0)
    model = WeakCRNNModel(8, 3, 100, TINY)
    strong, weak = model(torch.randn(4, 100, 8))
    total, _, _ = weighted_loss(strong, weak, torch.tensor([[1.0, 0, 1]] * 4), strong_weight, weak_weight)
    total.backward()
    weak_layer = torch.cat([model.weak.weight.grad.flatten(), model.weak.bias.grad])
    shared = model.rnns[0].weight_ih_l0.grad
    if weak_weight == 0:
        assert torch.count_nonzero(weak_layer) == 0  # the weak layer learns nothing from the strong loss
    else:
        assert torch.count_nonzero(weak_layer) > 0
    assert torch.count_nonzero(shared) > 0  # either loss reaches the shared layers (the weak one through output 1)


def test_windows_and_their_tags():
    rng = np.random.default_rng(0)
    short = tiny_clip("short", 1.3, [1, 0, 0], rng)
    long_targets = np.zeros((250, 3), dtype=np.float32)
    long_targets[120:130, 1] = 1  # class b only in the second 2 s window
    long = tiny_clip("long", 5.0, [0, 1, 0], rng, targets=long_targets)
    tagged_long = tiny_clip("tagged", 5.0, [0, 1, 1], rng)
    assert [(w.clip, w.start) for w in windows([short, long], 100)] == [(0, 0), (1, 0), (1, 100), (1, 200)]
    assert window_tags(short, 0, 100).tolist() == [1, 0, 0]
    assert [window_tags(long, s, 100).tolist() for s in (0, 100, 200)] == [[0, 0, 0], [0, 1, 0], [0, 0, 0]]
    assert window_tags(tagged_long, 200, 100).tolist() == [0, 1, 1]  # only tags known: every window gets them


def test_fit_on_tags_only_then_predict_frame_outputs_with_clip_tags():
    rng = np.random.default_rng(3)
    train = [tiny_clip(f"t{i}", 2.0, rng.integers(0, 2, 3), rng) for i in range(6)]
    valid = [tiny_clip(f"v{i}", 2.0, rng.integers(0, 2, 3), rng) for i in range(3)]
    assert all(c.targets is None for c in train + valid)
    weak = system()
    history = weak.fit(train, valid)
    assert history["epoch"] == [1, 2] and history["criterion"] == "valid_loss"
    assert len(history["valid_loss"]) == 2 and 1 <= history["best_epoch"] <= 2
    assert history["best_valid_loss"] == min(history["valid_loss"])
    test = [tiny_clip("short", 1.3, [0, 0, 0], rng), tiny_clip("long", 4.5, [0, 0, 0], rng)]
    outputs = weak.predict(test)
    assert [type(o) for o in outputs] == [FrameActivity, FrameActivity]
    assert [o.probabilities.shape for o in outputs] == [(65, 3), (225, 3)]
    assert all(o.tags.shape == (3,) and o.hop_seconds == pytest.approx(0.02) for o in outputs)
    for output, clip in zip(outputs, test):
        assert check_output(output, clip, LABELS, "weak-crnn") is output  # the harness' contract


def test_training_is_reproducible_from_the_seed():
    rng = np.random.default_rng(4)
    train = [tiny_clip(f"t{i}", 2.0, rng.integers(0, 2, 3), rng) for i in range(5)]
    valid = [tiny_clip("v", 2.0, [1, 0, 1], rng)]
    first = system(seed=5).fit(train, valid)  # the harness seeds, then builds the system, then fits
    second = system(seed=5).fit(train, valid)
    assert first["train_loss"] == second["train_loss"] and first["valid_loss"] == second["valid_loss"]


def test_bad_settings_are_one_clear_error():
    with pytest.raises(ConfigError, match=r"^strong_weight and weak_weight must be >= 0 and not both 0, got 0 and 0$"):
        WeakCRNN(WeakCRNNConfig(strong_weight=0, weak_weight=0), RunContext(labels=LABELS, seed=0, device="cpu"))
    with pytest.raises(ConfigError, match=r"^pool_sizes \(3, 2\) must divide the 40 mel bands evenly$"):
        WeakCRNN(WeakCRNNConfig(pool_sizes=(3, 2)), RunContext(labels=LABELS, seed=0, device="cpu"))


def test_a_fit_killed_after_an_epoch_resumes_to_the_same_history_and_outputs(tmp_path, one_torch_thread):
    from test_checkpoints import Killed, KilledAfter

    from sedbench.pipeline.checkpoints import Checkpoints, read_checkpoint

    rng = np.random.default_rng(6)
    train = [tiny_clip(f"t{i}", 2.0, rng.integers(0, 2, 3), rng) for i in range(6)]
    valid = [tiny_clip(f"v{i}", 2.0, rng.integers(0, 2, 3), rng) for i in range(2)]
    config = WeakCRNNConfig(**{**TINY.__dict__, "dropout": 0.25, "max_epochs": 4})  # dropout draws from the RNG

    def weak_crnn(checkpoints, messages):
        torch.manual_seed(7)  # a new process: the harness seeds, then builds the system
        return WeakCRNN(config, RunContext(labels=LABELS, seed=7, device="cpu", log=messages.append,
                                           checkpoints=checkpoints))

    reference = weak_crnn(Checkpoints(None), [])
    expected = reference.fit(train, valid)
    path = tmp_path / "checkpoint.pt"
    with pytest.raises(Killed):
        weak_crnn(KilledAfter(path, saves=2), []).fit(train, valid)
    assert read_checkpoint(path)["epoch"] == 2
    messages = []
    resumed = weak_crnn(Checkpoints(path), messages)
    history = resumed.fit(train, valid)
    assert "resumed from the checkpoint after epoch 2" in messages
    assert [m.split()[1] for m in messages if m.startswith("epoch")] == ["3/4", "4/4"]  # only the missing epochs ran
    assert history["epoch"] == expected["epoch"] == [1, 2, 3, 4]
    for key in set(expected) - {"seconds"}:
        assert history[key] == expected[key], key
    for got, want in zip(resumed.predict(valid), reference.predict(valid)):
        np.testing.assert_array_equal(got.probabilities, want.probabilities)
        np.testing.assert_array_equal(got.tags, want.tags)
