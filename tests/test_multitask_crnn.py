"""Multi-label multi-task CRNN of Phan et al. 2018 (multitask-crnn) and its multi-label CRNN baseline."""

import json
import math

import numpy as np
import pytest
import torch
from conftest import run_cli

from sedbench.core import registry
from sedbench.core.config import build_config
from sedbench.core.data import Event, FeatureClip
from sedbench.core.errors import ConfigError
from sedbench.core.outputs import Detections
from sedbench.core.system import RunContext
from sedbench.scoring.fast_metrics import FastEventBasedMetrics
from sedbench.scoring.metrics import MetricSettings
from sedbench.scoring.postprocess import activity_to_events
from sedbench.scoring.tuning import ScoringClip, class_event_counts, class_f1, majority_filter, median_threshold_search
from sedbench.systems.multitask_crnn import (
    MultitaskCRNN,
    MultitaskCRNNBaseline,
    SegmentStore,
    activity_losses,
    confidence_scores,
    frame_targets,
    multitask_losses,
    normalize_scores,
    value_grid,
    vote_threshold_search,
)
from sedbench.systems.rare_crnn import FrequencyMaxPool
from sedbench.training.common import count_parameters

HOP = 0.02
SETTINGS = MetricSettings(frame_resolution=HOP)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _config(cls=MultitaskCRNN, profile="quick", **overrides):
    return build_config(cls, profile, {k: str(v) for k, v in overrides.items()})


def _logit(p):
    return math.log(p / (1 - p))


# --------------------------------------------------------------------------- registration, features, sizes


def test_registered_with_the_paper_and_strong_labels():
    for name in ("multitask-crnn", "multitask-crnn-baseline"):
        cls = registry.systems.get(name)
        assert cls.name == name and cls.paper.key == "phan2018" and cls.label_kind.value == "strong"
        assert cls.paper.url == "http://arxiv.org/abs/1811.01092"


def test_features_follow_section_2_1():
    spec = MultitaskCRNN.features(_config(profile="paper"))
    assert (spec.sample_rate, spec.n_mels, spec.fmin, spec.fmax) == (44100, 40, 50.0, None)  # [50, 22050] Hz
    assert (spec.win_length, spec.hop_length, spec.frame_hop) == (1764, 882, 0.02)  # 40 ms, 50 % overlap


def test_paper_profile_sizes_and_epochs():
    config = _config(profile="paper")
    assert (config.conv_filters, config.rnn_units, config.segment_frames, config.segment_hop) == (256, 256, 512, 1)
    assert (config.batch_size, config.learning_rate, config.epochs, config.dropout) == (4, 1e-4, 10, 0.25)
    assert build_config(MultitaskCRNN, "paper", dataset="itc-irst").epochs == 100
    F, H, C = 256, 256, 16
    conv = (25 * F + F) + 2 * (25 * F * F + F) + 3 * 2 * F  # three 5x5 layers and their batch norms
    gru = 2 * 3 * (F * H + H * H + 2 * H)  # bidirectional
    body = conv + gru + (2 * H * 2 * H + 2 * H) + (F * 2 * H + 2 * H) + 2 * 2 * H  # W_z, W_x, its batch norm
    assert MultitaskCRNN.parameter_count(config, tuple(map(str, range(C)))) == body + 4 * H * 3 * C + 3 * C == 4_519_472
    assert MultitaskCRNNBaseline.parameter_count(config, tuple(map(str, range(C)))) == body + 4 * H * C + C
    system = MultitaskCRNN(_config(conv_filters=4, rnn_units=3), RunContext(("a", "b"), 0, "cpu"))
    assert count_parameters(system._model()) == MultitaskCRNN.parameter_count(system.config, ("a", "b"))


@pytest.mark.parametrize("setting, value, message", [
    ("kernel_size", "(5,4)", "setting 'kernel_size' needs two odd sizes (frequency, time), got (5, 4)"),
    ("pool_sizes", "(5,4,4)", "setting 'pool_sizes' (5, 4, 4) pools 40 mel bands to nothing"),
    ("keep_weights", "best", "setting 'keep_weights' must be 'last' or 'best_valid_loss', got 'best'"),
    ("segment_hop", "0", "setting 'segment_hop' must be at least 1, got 0"),
    ("beta_step", "0", "setting 'beta_step' must be in (0, 1], got 0.0"),
    ("median_window_step", "5", "median filter windows must be odd: 'median_window_min' (1) needs to be odd and "
                                "'median_window_step' (5) even"),
])
def test_setting_errors_are_one_sentence(setting, value, message):
    with pytest.raises(ConfigError) as error:
        _config(**{setting: value})
    assert str(error.value) == message


def test_search_grids():
    config = _config(profile="paper")
    alphas, betas, windows = config.alphas(), config.betas(), config.median_windows()
    assert alphas.size == 101 and alphas[0] == 0.0 and alphas[-1] == 1.0 and alphas[37] == 0.37
    assert betas.size == 21 and betas[3] == 0.15 and betas[-1] == 1.0
    assert windows.tolist() == list(range(1, 254, 6)) and windows.size == 43  # [1, 256] step 6
    assert value_grid(0.25).tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]


# --------------------------------------------------------------------------- network


def test_output_shapes_and_frequency_pooling_40_8_2_1():
    config = _config(conv_filters=4, rnn_units=3)
    model = MultitaskCRNN.build_model(config, 5).eval()
    bands = []
    for module in model.modules():
        if isinstance(module, FrequencyMaxPool):
            module.register_forward_hook(lambda _, __, out: bands.append(out.shape[-1]))
    x = torch.randn(2, 512, 40)
    with torch.no_grad():
        assert model(x).shape == (2, 512, 5, 3)  # C triplets per frame
        assert bands == [8, 2, 1]
        assert model.convolutional_features(x).shape == (2, 512, 4)  # x_t in R^F
    assert model.gru.bidirectional and model.gru.hidden_size == 3
    assert (model.recurrent_projection.in_features, model.recurrent_projection.out_features) == (6, 6)  # 2H -> 2H
    assert (model.residual.in_features, model.residual.out_features) == (4, 6)  # F -> 2H
    assert (model.output.in_features, model.output.out_features) == (12, 15)  # 4H -> 3C
    baseline = MultitaskCRNNBaseline.build_model(config, 5).eval()
    with torch.no_grad():
        assert baseline(x[:, :64]).shape == (2, 64, 5, 1)


# --------------------------------------------------------------------------- targets and losses


def test_target_triplets_on_a_hand_made_roll():
    roll = np.zeros((10, 2), np.float32)
    roll[2:6, 0] = 1  # a run [2, 6): last frame 5
    roll[0:1, 1] = 1  # a one-frame run at the clip start
    roll[7:10, 1] = 1  # a run to the clip's end
    triplets = frame_targets(roll, segment_frames=4)
    np.testing.assert_array_equal(triplets[..., 0], roll)
    np.testing.assert_allclose(triplets[:, 0, 1], [0, 0, 0, 0.25, 0.5, 0.75, 0, 0, 0, 0])  # (t - 2) / 4
    np.testing.assert_allclose(triplets[:, 0, 2], [0, 0, 0.75, 0.5, 0.25, 0, 0, 0, 0, 0])  # (5 - t) / 4
    np.testing.assert_allclose(triplets[:, 1, 1], [0, 0, 0, 0, 0, 0, 0, 0, 0.25, 0.5])
    np.testing.assert_allclose(triplets[:, 1, 2], [0, 0, 0, 0, 0, 0, 0, 0.5, 0.25, 0])
    # distances longer than T are clipped to 1
    long = frame_targets(np.ones((7, 1)), segment_frames=2)
    np.testing.assert_allclose(long[:, 0, 1], [0, 0.5, 1, 1, 1, 1, 1])
    np.testing.assert_allclose(long[:, 0, 2], [1, 1, 1, 1, 1, 0.5, 0])


def _logits(values):
    """Logits whose sigmoids are ``values``."""
    return torch.tensor(np.vectorize(_logit)(np.asarray(values, dtype=np.float64)), dtype=torch.float64)


def test_the_three_losses_on_hand_computed_values():
    # one segment, T = 2 frames, C = 1 class; (y, p, q) targets and (y^, p^, q^) outputs
    targets = torch.tensor([[[[1.0, 0.25, 0.5]], [[0.0, 0.0, 0.0]]]], dtype=torch.float64)
    logits = _logits([[[[0.8, 0.5, 0.25]], [[0.1, 0.2, 0.1]]]])
    losses = multitask_losses(logits, targets)
    expected_class = (-math.log(0.8) - math.log(0.9)) / 2
    expected_distance = ((0.25 - 0.5) ** 2 + (0.5 - 0.25) ** 2 + 0.2 ** 2 + 0.1 ** 2) / 2
    # frame 0: (min(.25, .5) + min(.5, .25)) / (max + max) = 0.5 / 1.0; frame 1: numerator 0, y 0
    expected_confidence = ((1 - 0.5) ** 2 + 0.0) / 2
    assert float(losses["class"]) == pytest.approx(expected_class)
    assert float(losses["distance"]) == pytest.approx(expected_distance)
    assert float(losses["confidence"]) == pytest.approx(expected_confidence, abs=1e-7)
    assert float(losses["total"]) == pytest.approx(expected_class + expected_distance + expected_confidence, abs=1e-7)
    # classes are summed, segments averaged: a second class and a second (all-zero-error) segment
    two_classes = multitask_losses(torch.cat([logits, logits], dim=2), torch.cat([targets, targets], dim=2))
    assert float(two_classes["distance"]) == pytest.approx(2 * expected_distance)
    perfect_targets = torch.tensor([[[[0.0, 0.5, 0.5]], [[0.0, 0.5, 0.5]]]], dtype=torch.float64)
    batch = multitask_losses(torch.cat([logits, torch.zeros_like(logits)]), torch.cat([targets, perfect_targets]))
    assert float(batch["distance"]) == pytest.approx(expected_distance / 2)


def test_confidence_loss_guards_zero_over_zero():
    # p = q = 0 and p^ = q^ = 0 exactly (sigmoid of -200 underflows): the ratio is 0 / (0 + eps) = 0
    targets = torch.tensor([[[[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]]])
    logits = torch.tensor([[[[5.0, -200.0, -200.0], [-5.0, -200.0, -200.0]]]], requires_grad=True)
    assert torch.sigmoid(logits[..., 1:]).eq(0).all()
    losses = multitask_losses(logits, targets, epsilon=1e-8)
    assert float(losses["confidence"].detach()) == 1.0  # (1 - 0)^2 + (0 - 0)^2
    losses["total"].backward()
    assert torch.isfinite(logits.grad).all()
    # without the guard the same case is NaN
    y, p, q = targets.unbind(-1)
    p_hat, q_hat = torch.sigmoid(logits[..., 1]), torch.sigmoid(logits[..., 2])
    unguarded = (torch.minimum(p, p_hat) + torch.minimum(q, q_hat)) / (torch.maximum(p, p_hat) + torch.maximum(q, q_hat))
    assert torch.isnan(unguarded).all()


def test_baseline_loss_is_the_class_loss_alone():
    targets = torch.tensor([[[[1.0], [0.0]], [[0.0], [1.0]]]], dtype=torch.float64)  # T = 2, C = 2
    logits = _logits([[[[0.7], [0.4]], [[0.2], [0.9]]]])
    expected = (-math.log(0.7) - math.log(0.6) - math.log(0.8) - math.log(0.9)) / 2
    assert float(activity_losses(logits, targets)["total"]) == pytest.approx(expected)


def _clip(frames, events=(), n_classes=1, labels=("a",), duration=None, bands=3):
    roll = np.zeros((frames, n_classes), np.float32)
    return FeatureClip("c", np.zeros((frames, bands), np.float32), HOP, duration or frames * HOP, roll,
                       np.zeros(n_classes, np.float32), events=list(events))


def test_segments_cover_every_start_with_hop_one_and_pad_short_clips():
    clips = [_clip(10), _clip(3)]
    store = SegmentStore(clips, [np.zeros((10, 1, 3)), np.ones((3, 1, 3))], segment_frames=4)
    assert store.segment_starts(1).tolist() == [0, 1, 2, 3, 4, 5, 6, 10]  # the short clip is one padded segment
    assert store.segment_starts(4).tolist() == [0, 4, 6, 10]  # every 4th start plus the last segment
    assert store.segment_starts(4, offset=73).tolist() == [0, 1, 5, 6, 10]  # the grid moves 73 % 4 = 1 frame
    x, y = store.gather(np.array([10]))
    assert x.shape == (1, 4, 3) and y[0, :, 0, 0].tolist() == [1, 1, 1, 0]


# --------------------------------------------------------------------------- inference (Sec. 3)


def _pointing(frames, runs, classes=1, segment_frames=64):
    """Outputs where frames [a, b] of each run (a, b, y^, class) point exactly at [a, b]."""
    out = np.zeros((frames, classes, 3))
    for a, b, y, c in runs:
        t = np.arange(a, b + 1)
        out[t, c, 0] = y
        out[t, c, 1] = (t - a) / segment_frames
        out[t, c, 2] = (b - t) / segment_frames
    return out


def test_voting_on_a_hand_made_segment():
    # one segment of T = 8 frames: frames 2..5 (y^ 0.9) point at [2, 5]; frame 7 (y^ 0.3) points at [6, 7]
    T = 8
    out = np.zeros((8, 1, 3))
    out[2:6, 0, 0] = 0.9
    out[2:6, 0, 1] = (np.arange(2, 6) - 2) / T
    out[2:6, 0, 2] = (5 - np.arange(2, 6)) / T
    out[7, 0] = (0.3, 1 / T, 0.0)
    votes = confidence_scores(out[..., 0], out[..., 1], out[..., 2], 0.5, T)
    np.testing.assert_allclose(votes[:, 0], [0, 0, 3.6, 3.6, 3.6, 3.6, 0, 0])
    scores = normalize_scores(votes)
    np.testing.assert_allclose(scores[:, 0], [0, 0, 1, 1, 1, 1, 0, 0])
    events = activity_to_events(scores[:, 0] > 0.5, HOP, "a", limit_seconds=8 * HOP)
    assert [(round(e.onset, 9), round(e.offset, 9)) for e in events] == [(0.04, 0.12)]  # frames [2, 6)
    # alpha gating: with alpha 0.2 frame 7 also votes 0.3 for frames 6 and 7
    votes = confidence_scores(out[..., 0], out[..., 1], out[..., 2], 0.2, T)
    np.testing.assert_allclose(votes[:, 0], [0, 0, 3.6, 3.6, 3.6, 3.6, 0.3, 0.3])
    # y^ must be above alpha, not equal to it
    assert not confidence_scores(out[..., 0], out[..., 1], out[..., 2], 0.9, T)[:, 0].any()
    # beta thresholding of the normalized score: 1 on [2, 5], 0.3 / 3.6 on [6, 7]
    scores = normalize_scores(votes)[:, 0]
    assert (scores > 0.05).tolist() == [False, False, True, True, True, True, True, True]
    assert (scores > 0.1).tolist() == [False, False, True, True, True, True, False, False]


def test_voting_regions_are_denormalized_summed_and_cut_at_the_clip_ends():
    T = 10
    out = np.zeros((6, 2, 3))
    out[0, 0] = (0.5, 0.9, 0.2)  # [0 - 9, 0 + 2] -> frames 0..2
    out[5, 0] = (0.25, 0.3, 0.6)  # [5 - 3, 5 + 6] -> frames 2..5
    out[3, 1] = (0.8, 0.0, 0.0)  # itself only
    votes = confidence_scores(out[..., 0], out[..., 1], out[..., 2], np.array([0.1, 0.9]), T)  # alpha per class
    np.testing.assert_allclose(votes[:, 0], [0.5, 0.5, 0.75, 0.25, 0.25, 0.25])
    assert not votes[:, 1].any()  # 0.8 is below class 1's alpha
    np.testing.assert_allclose(normalize_scores(votes)[:, 0], np.array([0.5, 0.5, 0.75, 0.25, 0.25, 0.25]) / 0.75)
    assert not normalize_scores(votes)[:, 1].any()  # an all-zero score stays zero


# --------------------------------------------------------------------------- validation event F1 and searches


def _sed_eval_class_f1(clips, estimates, labels):
    """Class-wise event F1 by the harness's metric (sed_eval's definition), NaN kept."""
    metric = FastEventBasedMetrics(list(labels), t_collar=0.2, percentage_of_length=0.2, evaluate_onset=True,
                                   evaluate_offset=True, event_matching_type="greedy")
    metric.empty_system_output_handling = "zero_score"
    for index, clip in enumerate(clips):
        metric.evaluate([e.as_sed_eval(f"f{index}") for e in clip.events],
                        [e.as_sed_eval(f"f{index}") for e in estimates[index]])
    return np.array([metric.class_wise_f_measure(label)["f_measure"] for label in labels])


def _random_case(rng, n_clips, labels, frames=300):
    clips = []
    for _ in range(n_clips):
        events = []
        for label in labels:
            for _ in range(rng.integers(0, 4)):  # same-class events may overlap
                onset = round(float(rng.uniform(0, frames * HOP - 0.5)), 3)
                events.append(Event(onset, round(onset + float(rng.uniform(0.05, 2.0)), 3), label))
        rng.shuffle(events)
        clips.append(_clip(frames, events, len(labels), labels, duration=frames * HOP - 0.013))
    return clips


def test_class_event_counts_equal_sed_eval_on_random_cases():
    rng = np.random.default_rng(1)
    labels = ("a", "b", "c")
    clips = _random_case(rng, 6, labels)
    scoring = [ScoringClip.from_clip(clip, labels) for clip in clips]
    rows = 5
    # K = 5 candidate activities per clip and class: random frames, median-filtered into runs of realistic length
    densities = np.linspace(0.3, 0.7, rows)[:, None, None]
    activities = [rng.random((rows, 300, 3)) < densities for _ in clips]
    smoothed = [np.stack([[majority_filter(a[k, :, c], [15])[0] for c in range(3)] for k in range(rows)])
                for a in activities]  # (K, classes, frames)
    found, estimated = np.zeros((rows, 3)), np.zeros((rows, 3))
    for activity, clip in zip(smoothed, scoring):
        for c in range(3):
            tp, n_sys = class_event_counts(activity[:, c], clip, c, SETTINGS)
            found[:, c] += tp
            estimated[:, c] += n_sys
    n_ref = np.array([sum(e.label == label for clip in clips for e in clip.events) for label in labels])
    ours = class_f1(found, estimated, n_ref)
    for k in range(rows):
        estimates = []
        for activity, clip in zip(smoothed, clips):
            events = []
            for c, label in enumerate(labels):
                events += activity_to_events(activity[k, c], HOP, label, limit_seconds=clip.duration)
            estimates.append(sorted(events, key=lambda e: (e.onset, e.label)))
        np.testing.assert_array_equal(ours[k], _sed_eval_class_f1(clips, estimates, labels))
    assert (found > 0).any() and (estimated > found).any()  # the case has hits and false alarms


def _search_case():
    """One 5 s clip, class 'a' with a reference event on frames [50, 100), class 'b' without events.

    Outputs for 'a': the event's frames vote 0.8 each for [50, 99] (40 in all); a false alarm region [130, 229]
    votes 0.4 x 100 = 40 (normalized 1: no beta removes it, only alpha >= 0.4); a spike on [232, 236] with y^ 0.9
    votes 4.5 (normalized 0.1125: beta >= 0.15 removes it, alpha cannot without losing the event); frames
    [0, 49] vote 0.05 for themselves (noise below any useful alpha).
    Best: alpha 0.40 (0.4 is not above it), beta 0.15.
    """
    T = 128
    out = _pointing(250, [(50, 99, 0.8, 0), (130, 229, 0.4, 0), (232, 236, 0.9, 0)], classes=2, segment_frames=T)
    out[:50, 0, 0] = 0.05
    clip = _clip(250, [Event(1.0, 2.0, "a")], 2, ("a", "b"))
    return out, clip, T


def test_vote_threshold_search_finds_the_optimum_of_a_constructed_case():
    out, clip, T = _search_case()
    labels = ("a", "b")
    config = _config(profile="paper", segment_frames=T)
    result = vote_threshold_search([out], [ScoringClip.from_clip(clip, labels)], T, config.alphas(), config.betas(),
                                   SETTINGS)
    assert result.first.tolist() == [0.4, 0.0] and result.second.tolist() == [0.15, 0.0]
    assert result.f1[0] == 100.0 and math.isnan(result.f1[1])
    assert (result.true_positives.tolist(), result.estimated.tolist(), result.references.tolist()) == (
        [1, 0], [1, 0], [1, 0])
    # the chosen thresholds do what the search says: one event on frames [50, 100)
    system = MultitaskCRNN(config, RunContext(labels, 0, "cpu"))
    system.first_thresholds, system.second_thresholds = result.first, result.second
    active = system.activity(out)
    assert np.flatnonzero(active[:, 0]).tolist() == list(range(50, 100)) and not active[:, 1].any()


def test_vote_threshold_search_equals_a_brute_force_search_with_sed_eval():
    rng = np.random.default_rng(3)
    labels = ("a", "b")
    clips = _random_case(rng, 3, labels, frames=260)
    T = 64
    outputs = []
    for clip in clips:
        out = np.zeros((260, 2, 3))
        for e in clip.events:  # noisy pointers around each reference event, plus random clutter
            c = labels.index(e.label)
            a, b = int(e.onset / HOP), min(int(e.offset / HOP), 259)
            out[a:b + 1] = _pointing(260, [(a, b, 1.0, c)], 2, T)[a:b + 1]
        out[..., 0] = np.clip(out[..., 0] * rng.uniform(0.3, 1.0, (260, 2)) + rng.uniform(0, 0.4, (260, 2)), 0, 1)
        out[..., 1:] = np.clip(out[..., 1:] + rng.uniform(0, 0.05, (260, 2, 2)), 0, 1)
        outputs.append(out)
    alphas, betas = value_grid(0.1), value_grid(0.25)
    result = vote_threshold_search(outputs, [ScoringClip.from_clip(c, labels) for c in clips], T, alphas, betas,
                                   SETTINGS)
    brute = np.zeros((alphas.size, betas.size, 2))
    events_found = np.zeros((alphas.size, betas.size, 2))
    for i, alpha in enumerate(alphas):
        for j, beta in enumerate(betas):
            estimates = []
            for out, clip in zip(outputs, clips):
                active = normalize_scores(confidence_scores(out[..., 0], out[..., 1], out[..., 2], alpha, T)) > beta
                estimates.append(sorted((e for c, label in enumerate(labels)
                                         for e in activity_to_events(active[:, c], HOP, label, limit_seconds=clip.duration)),
                                        key=lambda e: (e.onset, e.label)))
            brute[i, j] = np.nan_to_num(_sed_eval_class_f1(clips, estimates, labels))
            events_found[i, j] = [sum(e.label == label for es in estimates for e in es) for label in labels]
    for c in range(2):
        best = brute[..., c].max()
        assert result.f1[c] / 100 == pytest.approx(best)
        ties = np.argwhere(brute[..., c] == best)
        fewest = min(events_found[i, j, c] for i, j in ties)
        i, j = min((i, j) for i, j in ties if events_found[i, j, c] == fewest)
        assert (result.first[c], result.second[c]) == (alphas[i], betas[j])
    assert all(np.unique(brute[..., c]).size > 2 for c in range(2))  # a case where the thresholds matter


def test_majority_filter_equals_scipy_median_filter():
    from scipy.ndimage import median_filter

    rng = np.random.default_rng(0)
    x = rng.random(300) < 0.6
    windows = np.arange(1, 254, 6)
    filtered = majority_filter(x, windows)
    assert filtered.shape == (43, 300)
    for k, w in enumerate(windows):
        np.testing.assert_array_equal(filtered[k], median_filter(x.astype(np.uint8), size=w, mode="nearest") > 0)


def test_median_threshold_search_finds_the_optimum_of_a_constructed_case():
    # class 'a': reference on frames [50, 100); y^ 0.8 there except a 3-frame dip to 0.3 (split without a
    # filter), a 2-frame spike of 0.9 (a false alarm unless filtered) and a 50-frame false alarm of 0.5 (only
    # alpha >= 0.5 removes it). Best: alpha 0.50, window 7 (the smallest that bridges the dip).
    activity = np.zeros((250, 2))
    activity[50:100, 0] = 0.8
    activity[60:63, 0] = 0.3
    activity[150:152, 0] = 0.9
    activity[180:230, 0] = 0.5
    labels = ("a", "b")
    clip = _clip(250, [Event(1.0, 2.0, "a")], 2, labels)
    config = _config(profile="paper")
    result = median_threshold_search([activity], [ScoringClip.from_clip(clip, labels)], config.alphas(),
                                     config.median_windows(), SETTINGS)
    assert result.first.tolist() == [0.5, 0.0] and result.second.tolist() == [7, 1]
    assert result.f1[0] == 100.0 and math.isnan(result.f1[1])
    system = MultitaskCRNNBaseline(config, RunContext(labels, 0, "cpu"))
    system.first_thresholds, system.second_thresholds = result.first, result.second
    active = system.activity(activity[..., None])
    assert np.flatnonzero(active[:, 0]).tolist() == list(range(50, 100)) and not active[:, 1].any()


# --------------------------------------------------------------------------- fit and predict


def _training_clips(n, frames, labels, seed=0):
    rng = np.random.default_rng(seed)
    clips = []
    for i in range(n):
        start = int(rng.integers(0, frames - 40))
        label = labels[i % len(labels)]
        features = rng.standard_normal((frames, 40)).astype(np.float32)
        features[start:start + 30] += 2.0
        roll = np.zeros((frames, len(labels)), np.float32)
        roll[start:start + 30, labels.index(label)] = 1
        events = [Event(start * HOP, (start + 30) * HOP, label)]
        clips.append(FeatureClip(f"c{i}", features, HOP, frames * HOP, roll, roll.max(0), events=events))
    return clips


@pytest.mark.parametrize("cls", [MultitaskCRNN, MultitaskCRNNBaseline])
def test_fit_records_losses_and_thresholds_and_predict_returns_detections(cls):
    torch.manual_seed(0)
    labels = ("a", "b")
    config = _config(cls, conv_filters=4, rnn_units=4, segment_frames=32, segment_hop=16, epochs=2,
                     keep_weights="best_valid_loss", alpha_step=0.1, beta_step=0.25, median_window_max=13)
    system = cls(config, RunContext(labels, 0, "cpu", log=lambda _: None))
    clips = _training_clips(6, 100, labels)
    history = system.fit(clips[:4], clips[4:])
    assert history["epoch"] == [1, 2] and len(history["valid_loss"]) == 2
    parts = ("class", "distance", "confidence") if cls is MultitaskCRNN else ("class",)
    for part in parts:
        assert len(history[f"train_{part}_loss"]) == 2 and history[f"valid_{part}_loss"][0] > 0
    assert history["weights"] == "epoch of the lowest validation loss"
    assert history["segments"][0] == 4 * 6  # starts 0, 16, 32, 48, 64 and the last, 68
    second = "beta" if cls is MultitaskCRNN else "median_window"
    assert sorted(history["thresholds"]) == list(labels)
    assert all(set(v) >= {"alpha", second, "valid_F1_event"} for v in history["thresholds"].values())
    assert history["threshold_search"]["clips"] == "valid"
    json.dumps(history, allow_nan=False)  # records refuse NaN
    outputs = system.predict(clips[4:])
    assert all(isinstance(o, Detections) for o in outputs)
    for output, clip in zip(outputs, clips[4:]):
        assert all(e.label in labels and 0 <= e.onset < e.offset <= clip.duration for e in output.events)


def test_tiny_runs_through_the_harness(workspace, synth_mini, tmp_path):
    env = {"SEDBENCH_DATA": str(workspace["data"]), "SEDBENCH_CACHE": str(workspace["cache"])}
    tiny = ["--set", "conv_filters=4", "--set", "rnn_units=4", "--set", "segment_frames=64", "--set", "epochs=1",
            "--set", "segment_hop=64"]
    labels = list(synth_mini.labels)
    for system, second in (("multitask-crnn", "beta"), ("multitask-crnn-baseline", "median_window")):
        result = run_cli(["run", "--system", system, "--dataset", "synth-mini", "--runs-dir", str(tmp_path),
                          "--device", "cpu", *tiny], env)
        assert result.returncode == 0, result.stderr[-2000:]
        paths = list(tmp_path.glob(f"synth-mini/{system}/fold1/*.json"))
        assert len(paths) == 1
        record = json.loads(paths[0].read_text())
        assert record["system"]["paper"] == "phan2018" and record["features"]["fmin"] == 50.0
        assert record["system"]["parameters"] == registry.systems.get(system).parameter_count(
            build_config(registry.systems.get(system), "quick", {"conv_filters": "4", "rnn_units": "4",
                                                                  "segment_frames": "64"}), labels)
        class_wise = record["metrics"]["event"]["class_wise"]
        assert sorted(class_wise) == sorted(labels) and all("F1" in v and "ER" in v for v in class_wise.values())
        thresholds = record["history"]["thresholds"]
        assert sorted(thresholds) == sorted(labels)
        assert all(0 <= v["alpha"] <= 1 and v[second] is not None for v in thresholds.values())
        assert record["history"]["epoch"] == [1]



@pytest.mark.parametrize("cls", [MultitaskCRNN, MultitaskCRNNBaseline])
def test_a_fit_killed_after_an_epoch_resumes_to_the_same_history_and_detections(cls, tmp_path):
    from test_checkpoints import Killed, KilledAfter

    from sedbench.pipeline.checkpoints import Checkpoints, read_checkpoint

    labels = ("a", "b")
    config = _config(cls, conv_filters=4, rnn_units=4, segment_frames=32, segment_hop=16, epochs=4,
                     keep_weights="best_valid_loss", alpha_step=0.1, beta_step=0.25, median_window_max=13)
    clips = _training_clips(6, 100, labels)

    def system(checkpoints, messages):
        torch.manual_seed(5)  # a new process: the harness seeds, then builds the system
        return cls(config, RunContext(labels, 5, "cpu", log=messages.append, checkpoints=checkpoints))

    reference = system(Checkpoints(None), [])
    expected = reference.fit(clips[:4], clips[4:])
    path = tmp_path / "checkpoint.pt"
    with pytest.raises(Killed):
        system(KilledAfter(path, saves=3), []).fit(clips[:4], clips[4:])
    assert read_checkpoint(path)["epoch"] == 3
    messages = []
    resumed = system(Checkpoints(path), messages)
    history = resumed.fit(clips[:4], clips[4:])
    assert "resumed from the checkpoint after epoch 3" in messages
    assert [m.split()[1] for m in messages if m.startswith("epoch")] == ["4/4"]  # only the missing epoch ran
    assert history["epoch"] == expected["epoch"] == [1, 2, 3, 4]
    history["threshold_search"].pop("seconds")
    expected["threshold_search"].pop("seconds")
    for key in set(expected) - {"seconds"}:
        assert history[key] == expected[key], key
    for got, want in zip(resumed.frame_outputs(clips), reference.frame_outputs(clips)):
        np.testing.assert_array_equal(got, want)
    assert resumed.predict(clips) == reference.predict(clips)
