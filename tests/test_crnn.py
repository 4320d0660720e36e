"""The CRNN module: Table I sizes, shapes, and the sequence protocol."""

import numpy as np
import torch

from sedbench.core import registry
from sedbench.core.config import build_config
from sedbench.core.data import FeatureClip
from sedbench.training.common import count_parameters
from sedbench.training.frames import SequenceSampler, sequences_for_inference


def _model(profile, classes=16, **overrides):
    crnn = registry.systems.get("crnn")
    from sedbench.systems.crnn import CRNNModel

    config = build_config(crnn, profile, overrides)
    return CRNNModel(config.n_mels, classes, config), config


def test_paper_profile_matches_table_one():
    model, config = _model("paper")
    assert (config.conv_maps, config.pool_sizes, config.rnn_layers, config.rnn_units) == (256, (5, 4, 2), 1, 256)
    assert config.sequence_frames * 0.02 == 20.48
    # Table I, TUT-SED Synthetic 2016 CRNN (K = 16): 3.6 M parameters
    assert abs(count_parameters(model) - 3.6e6) / 3.6e6 < 0.05


def test_forward_shapes_and_frequency_only_pooling():
    model, _ = _model("quick", classes=6)
    model.eval()
    x = torch.randn(2, 100, 40)
    assert model(x).shape == (2, 100, 6)
    conv_out = model.conv(x.unsqueeze(1))
    assert conv_out.shape == (2, 16, 100, 1)  # the quick profile's 16 maps; 40 bands -> 8 -> 2 -> 1, time untouched


def test_pooling_that_does_not_divide_the_bands_is_refused():
    import pytest

    from sedbench.core.errors import ConfigError
    from sedbench.systems.crnn import CRNNConfig, CRNNModel

    with pytest.raises(ConfigError, match=r"setting 'pool_sizes' must pool the 40 mel bands evenly"):
        _model("quick", pool_sizes="(3,)")  # refused with the config, before any job
    with pytest.raises(ValueError, match="do not divide 40 mel bands"):  # the model's own guard, for hand-made configs
        CRNNModel(40, 16, CRNNConfig(pool_sizes=(3,)))


def _clips(lengths, bands=4, classes=2):
    clips = []
    start = 0
    for n in lengths:
        frames = np.arange(start, start + n, dtype=np.float32)[:, None].repeat(bands, 1)
        clips.append(FeatureClip(f"c{n}", frames, 0.02, n * 0.02, np.zeros((n, classes), np.float32), np.zeros(classes)))
        start += n
    return clips


def test_training_sequences_shift_by_73_frames_each_epoch():
    sampler = SequenceSampler(_clips([300, 500]), sequence_frames=128, shift=73)
    x0, y0 = sampler.epoch(0)
    x1, _ = sampler.epoch(1)
    x2, _ = sampler.epoch(2)
    assert x0.shape == (6, 128, 4) and y0.shape == (6, 128, 2)
    assert x0[0, 0, 0] == 0 and x1[0, 0, 0] == 73 and x2[0, 0, 0] == 146 % 128
    assert x0[1, 0, 0] == 128  # consecutive, non-overlapping within an epoch


def test_inference_sequences_do_not_overlap_and_cover_each_clip():
    clips = _clips([300, 50])
    sequences, spans = sequences_for_inference(clips, 128)
    assert sequences.shape == (3 + 1, 128, 4)
    assert spans == [(0, 3, 300), (3, 1, 50)]
    np.testing.assert_array_equal(sequences[:3].reshape(-1, 4)[:300], clips[0].features)
    assert (sequences[:3].reshape(-1, 4)[300:] == 0).all()


def _random_clips(n=6, frames=300, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    return [FeatureClip(f"c{i}", rng.standard_normal((frames, 40)).astype(np.float32), 0.02, frames * 0.02,
                        (rng.random((frames, classes)) < 0.3).astype(np.float32), np.zeros(classes)) for i in range(n)]


import pytest


@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
def test_training_precisions_give_finite_probabilities(precision):
    from sedbench.training.common import seed_everything
    from sedbench.training.frames import FrameModelTrainer, TrainingSettings

    seed_everything(0)
    model, config = _model("quick", classes=4)
    settings = TrainingSettings(sequence_frames=64, sequence_shift=73, batch_size=4, learning_rate=1e-3,
                                max_epochs=2, patience=2, threshold=0.5, device="cpu", precision=precision)
    trainer = FrameModelTrainer(model, settings, log=lambda _: None)
    clips = _random_clips()
    history = trainer.fit(clips, clips[:2])
    assert len(history["train_loss"]) == 2 and all(np.isfinite(history["train_loss"]))
    (p,) = trainer.predict(clips[:1])
    assert p.shape == (300, 4) and np.isfinite(p).all() and 0 <= p.min() and p.max() <= 1


def test_training_is_deterministic_on_cpu_for_a_seed():
    from sedbench.training.common import seed_everything
    from sedbench.training.frames import FrameModelTrainer, TrainingSettings

    outputs = []
    for _ in range(2):
        seed_everything(3)
        model, _ = _model("quick", classes=4)
        settings = TrainingSettings(sequence_frames=64, sequence_shift=73, batch_size=4, learning_rate=1e-3,
                                    max_epochs=2, patience=2, threshold=0.5, device="cpu")
        trainer = FrameModelTrainer(model, settings, log=lambda _: None)
        trainer.fit(_random_clips(), _random_clips()[:2])
        outputs.append(trainer.predict(_random_clips()[:1])[0])
    np.testing.assert_array_equal(outputs[0], outputs[1])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine (CI has none)")
def test_cuda_training_path_matches_cpu_shapes():
    from sedbench.training.common import seed_everything
    from sedbench.training.frames import FrameModelTrainer, TrainingSettings

    seed_everything(0)
    model, _ = _model("quick", classes=4)
    settings = TrainingSettings(sequence_frames=64, sequence_shift=73, batch_size=4, learning_rate=1e-3,
                                max_epochs=1, patience=1, threshold=0.5, device="cuda", precision="bf16")
    trainer = FrameModelTrainer(model, settings, log=lambda _: None)
    trainer.fit(_random_clips(), _random_clips()[:2])
    (p,) = trainer.predict(_random_clips()[:1])
    assert p.shape == (300, 4) and np.isfinite(p).all()
