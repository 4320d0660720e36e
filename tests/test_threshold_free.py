"""Stored test outputs (one archive per record) and the threshold-independent scores computed from them."""

import json
import zipfile

import numpy as np
import pytest

from sedbench.core.data import Event
from sedbench.core.outputs import ClipTags, Detections, FrameActivity
from sedbench.core.tokens import TimedToken
from sedbench.scoring.score_archive import (
    ArchiveError,
    StoredClip,
    audio_filenames,
    read_archive,
    sha256_of,
    write_archive,
)

LABELS = ("dog", "rain")


def _frames(rng, dtype, frames=50, tags=False):
    p = rng.random((frames, 2)).astype(dtype)
    return FrameActivity(p, 0.02, rng.random(2).astype(dtype) if tags else None)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_frame_scores_read_back_bit_for_bit_in_sed_scores_eval_layout(tmp_path, dtype):
    rng = np.random.default_rng(0)
    clips = [StoredClip("audio/a.wav", 1.0), StoredClip("audio/b.wav", 0.99)]
    outputs = [_frames(rng, dtype, tags=True), _frames(rng, dtype, frames=49, tags=True)]
    info = write_archive(tmp_path / "r.outputs.zip", clips, outputs, LABELS)
    assert info["kind"] == "frame scores" and info["bytes"] == (tmp_path / "r.outputs.zip").stat().st_size
    assert info["sha256"] == sha256_of(tmp_path / "r.outputs.zip")
    stored = read_archive(tmp_path / "r.outputs.zip", info["sha256"])
    assert [c.clip_id for c in stored.clips] == ["audio/a.wav", "audio/b.wav"] and stored.labels == LABELS
    for got, want in zip(stored.outputs, outputs):
        assert got.probabilities.dtype == dtype and np.array_equal(got.probabilities, want.probabilities)
        assert np.array_equal(got.tags, want.tags) and got.hop_seconds == want.hop_seconds

    # unzipped, it is a folder sed_scores_eval reads as it is
    from sed_scores_eval.base_modules.io import read_audio_durations, read_sed_scores

    with zipfile.ZipFile(tmp_path / "r.outputs.zip") as archive:
        archive.extractall(tmp_path / "x")
    scores = read_sed_scores(tmp_path / "x" / "scores")
    assert sorted(scores) == ["a", "b"] and list(scores["a"].columns) == ["onset", "offset", "dog", "rain"]
    assert scores["b"]["offset"].iloc[-1] == pytest.approx(0.98) and len(scores["b"]) == 49
    # pandas' default float parser is exact to about the last bit
    np.testing.assert_allclose(scores["a"][["dog", "rain"]].to_numpy(), outputs[0].probabilities, rtol=np.finfo(dtype).eps,
                               atol=np.finfo(dtype).eps)
    assert read_audio_durations(tmp_path / "x" / "durations.tsv") == {"a": 1.0, "b": 0.99}


def test_events_tokens_and_tags_read_back(tmp_path):
    clips = [StoredClip("a.wav", 10.0), StoredClip("b.wav", 10.0)]
    events = [Detections([Event(0.1, 1.25, "dog"), Event(2.0, 3.0, "rain")],
                         [TimedToken(0.1, "dog", "onset"), TimedToken(1.25, "dog", "offset")]),
              Detections([], [])]
    stored = read_archive(tmp_path / "e.zip", write_archive(tmp_path / "e.zip", clips, events, LABELS)["sha256"])
    assert stored.kind == "events" and [o.events for o in stored.outputs] == [o.events for o in events]
    assert [o.tokens for o in stored.outputs] == [o.tokens for o in events]
    tags = [ClipTags(np.array([0.25, 1.0], np.float32)), ClipTags(np.array([0.0, 0.5], np.float32))]
    stored = read_archive(tmp_path / "t.zip", write_archive(tmp_path / "t.zip", clips, tags, LABELS)["sha256"])
    assert stored.kind == "tags" and all(np.array_equal(g.probabilities, w.probabilities)
                                         for g, w in zip(stored.outputs, tags))


def test_same_outputs_same_bytes_and_altered_files_are_refused(tmp_path):
    rng = np.random.default_rng(1)
    outputs = [_frames(rng, np.float32)]
    clips = [StoredClip("a.wav", 1.0)]
    first = write_archive(tmp_path / "1.zip", clips, outputs, LABELS)
    assert write_archive(tmp_path / "2.zip", clips, outputs, LABELS)["sha256"] == first["sha256"]
    (tmp_path / "1.zip").write_bytes((tmp_path / "1.zip").read_bytes()[:-5])
    with pytest.raises(ArchiveError, match=r"1\.zip have changed since their record was written"):
        read_archive(tmp_path / "1.zip", first["sha256"])
    with pytest.raises(ArchiveError, match="not a zip file"):
        read_archive(tmp_path / "1.zip")
    with pytest.raises(ArchiveError, match="do not exist"):
        read_archive(tmp_path / "missing.zip")
    with zipfile.ZipFile(tmp_path / "3.zip", "w") as archive:
        archive.writestr("outputs.json", json.dumps({"format": "other"}))
    with pytest.raises(ArchiveError, match="have format 'other'; expected 'sedbench-outputs/1'"):
        read_archive(tmp_path / "3.zip")


def test_flat_file_names_keep_clips_apart():
    assert audio_filenames(["x/a.wav", "y/b.wav"]) == {"x/a.wav": "a.wav", "y/b.wav": "b.wav"}
    assert audio_filenames(["x/a.wav", "y/a.wav"]) == {"x/a.wav": "x__a.wav", "y/a.wav": "y__a.wav"}
