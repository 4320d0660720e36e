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
    as_stored,
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
def test_frame_scores_read_back_at_their_stored_precision_in_sed_scores_eval_layout(tmp_path, dtype):
    rng = np.random.default_rng(0)
    clips = [StoredClip("audio/a.wav", 1.0), StoredClip("audio/b.wav", 0.99)]
    outputs = [_frames(rng, dtype, tags=True), _frames(rng, dtype, frames=49, tags=True)]
    info = write_archive(tmp_path / "r.outputs.zip", clips, outputs, LABELS)
    assert info["kind"] == "frame scores" and info["bytes"] == (tmp_path / "r.outputs.zip").stat().st_size
    assert info["sha256"] == sha256_of(tmp_path / "r.outputs.zip")
    stored = read_archive(tmp_path / "r.outputs.zip", info["sha256"])
    assert [c.clip_id for c in stored.clips] == ["audio/a.wav", "audio/b.wav"] and stored.labels == LABELS
    for got, want, kept in zip(stored.outputs, outputs, as_stored(outputs)):
        # frame scores: 3 decimals, exactly the values the runner scores (as_stored); tags: every bit
        assert np.array_equal(got.probabilities, kept.probabilities) and got.probabilities.dtype == np.float64
        assert np.abs(got.probabilities - want.probabilities).max() <= 0.0005 + 1e-9
        assert got.tags.dtype == dtype and np.array_equal(got.tags, want.tags) and got.hop_seconds == want.hop_seconds
    assert np.array_equal(as_stored(stored.outputs)[0].probabilities, stored.outputs[0].probabilities)

    # unzipped, it is a folder sed_scores_eval reads as it is
    from sed_scores_eval.base_modules.io import read_audio_durations, read_sed_scores

    with zipfile.ZipFile(tmp_path / "r.outputs.zip") as archive:
        archive.extractall(tmp_path / "x")
    scores = read_sed_scores(tmp_path / "x" / "scores")
    assert sorted(scores) == ["a", "b"] and list(scores["a"].columns) == ["onset", "offset", "dog", "rain"]
    assert scores["b"]["offset"].iloc[-1] == pytest.approx(0.98) and len(scores["b"]) == 49
    np.testing.assert_array_equal(scores["a"][["dog", "rain"]].to_numpy(), stored.outputs[0].probabilities)
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


# ------------------------------------------------------------------------------------------ runs and rescoring


@pytest.fixture(scope="module")
def stored_run(workspace, synth_mini, tmp_path_factory):
    """One short CRNN run on synth-mini (frame scores, tuned post-processing) and one CTC run (events + tokens)."""
    from conftest import run_cli

    runs = tmp_path_factory.mktemp("stored-runs")
    env = {"SEDBENCH_DATA": str(workspace["data"]), "SEDBENCH_CACHE": str(workspace["cache"])}
    for system, settings in (("crnn", ["max_epochs=3", "conv_maps=8", "rnn_units=8"]),
                             ("ctc-rnn", ["epochs=2", "units=8", "features=logmel"])):
        args = ["run", "--system", system, "--dataset", "synth-mini", "--runs-dir", str(runs), "--quiet"]
        for setting in settings:
            args += ["--set", setting]
        result = run_cli(args, env)
        assert result.returncode == 0, result.stderr[-2000:]
    return runs, env


def _records(runs):
    from sedbench.pipeline.record import load_records

    return {r.system.name: r for r in load_records(runs)}


def test_every_run_stores_its_outputs_and_threshold_free_scores(stored_run):
    runs, _ = stored_run
    records = _records(runs)
    crnn, ctc = records["crnn"], records["ctc-rnn"]
    assert crnn.outputs.kind == "frame scores" and ctc.outputs.kind == "events"
    for record in (crnn, ctc):
        path = record.outputs_path()
        assert path.name == record.path.stem + ".outputs.zip" and path.stat().st_size == record.outputs.bytes
        assert sha256_of(path) == record.outputs.sha256
        free = record.metrics["threshold_free"]
        assert record.headline["PSDS1"] == free["psds1"]["value"] and 0 <= free["psds2"]["value"] <= 1
        assert len(free["psds1"]["curve"]["efpr"]) == 101 and free["psds1"]["curve"]["efpr"][-1] == 100.0
        assert record.environment.versions["sed_scores_eval"] == "0.0.4"
    assert crnn.metrics["threshold_free"]["operating_points"] is None
    # the tuned view: PSDS of the scores median-filtered with the validation-tuned windows
    tuned = crnn.tuned["metrics"]["threshold_free"]
    assert crnn.tuned["headline"]["PSDS1"] == tuned["psds1"]["value"] and tuned["operating_points"] is None
    assert ctc.metrics["threshold_free"]["operating_points"] == 1
    stored = read_archive(crnn.outputs_path(), crnn.outputs.sha256)
    assert len(stored.outputs) == crnn.dataset.clips["test"] and stored.labels == tuple(crnn.dataset.labels)
    assert read_archive(ctc.outputs_path()).outputs[0].tokens is not None  # the CTC's decoded tokens too


def test_rescore_recomputes_every_metric_without_training(stored_run, tmp_path):
    import shutil

    from conftest import run_cli

    runs, env = stored_run
    copy = tmp_path / "runs"
    shutil.copytree(runs, copy)
    before = _records(copy)
    # metrics lost or out of date: rescoring brings back exactly what the runs computed
    for record in before.values():
        data = json.loads(record.path.read_text())
        data["metrics"]["event"]["overall"]["F1"] = data["headline"]["F1_event"] = -1.0
        del data["metrics"]["threshold_free"], data["headline"]["PSDS1"]
        if data.get("tuned"):
            data["tuned"]["headline"]["F1_event"] = -1.0
        record.path.write_text(json.dumps(data))
    result = run_cli(["rescore", "--runs-dir", str(copy)], env)
    assert result.returncode == 0, result.stderr
    assert "2 rescored, 0 skipped (no stored outputs), 0 failed" in result.stdout
    assert "F1_event -1.000 ->" in result.stdout
    after = _records(copy)
    for name, record in after.items():
        original = before[name]
        assert record.metrics == original.metrics and record.headline == original.headline
        assert record.tuned == original.tuned and record.excerpt == original.excerpt
        assert record.history == original.history  # the fit is not touched
        assert record.rescored["metric_versions"]["sed_scores_eval"] == "0.0.4"
        assert record.rescored["metric_versions"]["sed_eval"] == "0.2.1"

    # an altered outputs file fails its record only; a record without outputs is skipped
    crnn, ctc = after["crnn"], after["ctc-rnn"]
    crnn.outputs_path().write_bytes(b"not the outputs")
    data = json.loads(ctc.path.read_text())
    del data["outputs"]
    ctc.path.write_text(json.dumps(data))
    result = run_cli(["rescore", "--runs-dir", str(copy)], env)
    assert result.returncode == 1
    assert "0 rescored, 1 skipped (no stored outputs), 1 failed" in result.stdout
    assert "have changed since their record was written" in result.stderr


def test_rescore_refuses_references_of_another_dataset_version(stored_run, tmp_path):
    import shutil

    from sedbench.core.errors import DataError
    from sedbench.pipeline.rescore import TestSets, rescore_record

    runs, env = stored_run
    shutil.copytree(runs, tmp_path / "runs")
    record = _records(tmp_path / "runs")["crnn"]
    record.dataset.fingerprint = "0" * 16
    with pytest.raises(DataError, match="has fingerprint .* the record 0000000000000000"):
        rescore_record(record, TestSets(env["SEDBENCH_DATA"]))
