"""The one preparation step before a system sees data: cached features -> training-set standardization ->
``FeatureClip`` lists with targets (hidden for test clips). ``sedbench run``, ``search`` and ``validate`` all go
through ``prepare_inputs``; a grid keeps the last result in a ``FeatureMemo`` so further seeds and trials on the
same data reuse it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Hashable

import numpy as np

from sedbench.core import progress
from sedbench.core.data import AudioClip, FeatureClip, LabelKind, Split
from sedbench.core.errors import DataError
from sedbench.core.features import FeatureCache, FeatureSpec, Standardizer, event_roll


@dataclass
class PreparedInputs:
    train: list[FeatureClip]
    valid: list[FeatureClip]
    test: list[FeatureClip]
    raw: dict[str, np.ndarray]  # clip id -> features before standardization
    standardizer: Standardizer
    extracted: int = 0  # cache misses while preparing
    loaded: int = 0  # cache hits

    def test_clips(self, clips: list[AudioClip], raw: dict[str, np.ndarray], spec: FeatureSpec,
                   labels: tuple[str, ...]) -> list[FeatureClip]:
        """Other test audio (e.g. pitch-shifted) prepared like the test set: training statistics, no targets."""
        return feature_clips(clips, raw, spec, labels, self.standardizer, with_targets=False)


def load_features(clips: list[AudioClip], spec: FeatureSpec, cache: FeatureCache) -> dict[str, np.ndarray]:
    raw, hits, misses = {}, cache.hits, cache.misses
    with progress.step("features", total=len(clips), unit="files") as files:
        for clip in clips:
            matrix = cache.get(clip, spec)
            if not np.all(np.isfinite(matrix)):
                raise DataError(f"features of {clip.path} contain NaN or infinite values")
            raw[clip.clip_id] = matrix
            files.advance(status=f"{cache.misses - misses} extracted, {cache.hits - hits} from cache")
    return raw


def feature_clips(
    clips: list[AudioClip], raw: dict[str, np.ndarray], spec: FeatureSpec, labels: tuple[str, ...],
    standardizer: Standardizer, with_targets: bool, strong_targets: bool = True,
) -> list[FeatureClip]:
    """Standardized features plus targets on the feature frame grid (targets hidden for test clips).

    ``strong_targets`` False (weakly labelled training data): only the clip tags are shown, frame targets are None.
    """
    result = []
    for clip in clips:
        features = standardizer(raw[clip.clip_id])
        features.setflags(write=False)  # shared by later seeds of this process: systems must not edit it
        tags = np.zeros(len(labels), dtype=np.float32)
        for label in clip.label_set:
            tags[labels.index(label)] = 1
        result.append(
            FeatureClip(
                clip_id=clip.clip_id,
                features=features,
                hop_seconds=spec.frame_hop,
                duration=clip.duration,
                targets=(event_roll(clip.events, labels, spec.frame_hop, features.shape[0])
                         if with_targets and strong_targets else None),
                tags=tags if with_targets else np.zeros(len(labels), dtype=np.float32),
                events=list(clip.events) if with_targets and strong_targets else [],
                target_class=clip.target_class,
            )
        )
    return result


def prepare_inputs(split: Split, spec: FeatureSpec, cache: FeatureCache, labels: tuple[str, ...],
                   label_kind: LabelKind, with_test: bool = True) -> PreparedInputs:
    """What a system is fitted on and predicts: every partition's cached features, standardized with the training
    set's statistics. Weakly labelled training and validation clips show their tags only. ``with_test`` False
    leaves the test clips out (their features are neither extracted nor returned)."""
    hits, misses = cache.hits, cache.misses
    clips = split.train + split.valid + (split.test if with_test else [])
    with cache.extracting(clips, spec):
        raw = load_features(clips, spec, cache)
    standardizer = Standardizer.fit([raw[c.clip_id] for c in split.train])
    strong = label_kind is LabelKind.STRONG
    train = feature_clips(split.train, raw, spec, labels, standardizer, with_targets=True, strong_targets=strong)
    valid = feature_clips(split.valid, raw, spec, labels, standardizer, with_targets=True, strong_targets=strong)
    test = feature_clips(split.test, raw, spec, labels, standardizer, with_targets=False) if with_test else []
    return PreparedInputs(train, valid, test, raw, standardizer, extracted=cache.misses - misses,
                          loaded=cache.hits - hits)


class FeatureMemo:
    """The prepared inputs of the last (data, fold, features, cache) a grid used: the next seed or trial on the same
    data reuses them instead of reading the cache again. Features are read-only, so systems cannot alter them."""

    def __init__(self):
        self._key: Hashable | None = None
        self._inputs: PreparedInputs | None = None

    def get(self, key: Hashable, prepare: Callable[[], PreparedInputs]) -> tuple[PreparedInputs, bool]:
        """(inputs, reused): the memo's when ``key`` is the last one, else ``prepare()``'s (then remembered)."""
        if self._inputs is not None and self._key == key:
            return self._inputs, True
        self._key, self._inputs = None, None  # a failed prepare leaves nothing stale behind
        inputs = prepare()
        self._key, self._inputs = key, inputs
        return inputs, False


def memo_key(dataset: Any, fold: str, fingerprint: str, spec: FeatureSpec, cache: FeatureCache) -> tuple:
    return (str(dataset.root), fold, fingerprint, spec.key(), str(cache.cache_dir))
