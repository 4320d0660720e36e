"""The CRNN module: Table I sizes, shapes, and the sequence protocol."""

import numpy as np
import torch

from sedbench import registry
from sedbench.data import FeatureClip
from sedbench.system import RunContext, build_config
from sedbench.torch_training import SequenceSampler, count_parameters, sequences_for_inference


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
    assert conv_out.shape == (2, 32, 100, 1)  # 40 bands -> 8 -> 2 -> 1, time untouched


def test_pooling_that_does_not_divide_the_bands_is_refused():
    import pytest

    with pytest.raises(ValueError, match="do not divide 40 mel bands"):
        _model("quick", pool_sizes="(3,)")


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
