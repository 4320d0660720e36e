"""Training checkpoints: atomic writes, weights_only reads, and a resumed fit equal to an uninterrupted one."""

import io
import os
import pickle

import numpy as np
import pytest
import torch

from sedbench.core.config import build_config
from sedbench.core.data import FeatureClip
from sedbench.core.system import RunContext
from sedbench.pipeline.checkpoints import CheckpointError, Checkpoints, read_checkpoint


class Killed(Exception):
    """Stands for kill -9 at the end of an epoch, right after the checkpoint was written."""


class KilledAfter(Checkpoints):
    def __init__(self, path, saves: int):
        super().__init__(path)
        self.kill_after = saves

    def save(self, state):
        super().save(state)
        if self.saves == self.kill_after:
            raise Killed


def _clips(count: int, seed: int) -> list[FeatureClip]:
    rng = np.random.default_rng(seed)
    clips = []
    for index in range(count):
        targets = np.zeros((300, 3), np.float32)
        features = rng.standard_normal((300, 40)).astype(np.float32)
        for k in range(3):
            start = int(rng.integers(0, 200))
            targets[start : start + 80, k] = 1
            features[start : start + 80, 5 + 10 * k : 10 + 10 * k] += 2  # learnable
        clips.append(FeatureClip(f"c{index}", features, 0.02, 6.0, targets, targets.max(0)))
    return clips


def _crnn(checkpoints, seed=3):
    from sedbench.core import registry
    from sedbench.training.common import seed_everything

    cls = registry.systems.get("crnn")
    config = build_config(cls, "quick", {"max_epochs": "5", "patience": "50", "conv_maps": "8",
                                         "rnn_units": "8", "batch_size": "4", "sequence_frames": "64"})
    seed_everything(seed)
    torch.set_num_threads(1)
    return cls(config, RunContext(labels=("a", "b", "c"), seed=seed, device="cpu", log=lambda _: None,
                                  checkpoints=checkpoints))


def test_a_fit_killed_after_an_epoch_resumes_to_the_same_model_and_history(tmp_path):
    train, valid = _clips(4, 0), _clips(2, 1)
    reference = _crnn(Checkpoints(None))
    expected_history = reference.fit(train, valid)
    expected = reference.predict(valid)

    path = tmp_path / "checkpoint.pt"
    with pytest.raises(Killed):
        _crnn(KilledAfter(path, saves=2)).fit(train, valid)
    assert read_checkpoint(path)["epoch"] == 2
    resumed_checkpoints = Checkpoints(path)
    resumed = _crnn(resumed_checkpoints)  # a new process: fresh model, generators re-seeded
    history = resumed.fit(train, valid)
    assert resumed_checkpoints.resumed_epoch == 2
    assert history["epoch"] == expected_history["epoch"] == [1, 2, 3, 4, 5]
    assert history["train_loss"] == expected_history["train_loss"]
    assert history["valid_F1_frm"] == expected_history["valid_F1_frm"]
    for got, want in zip(resumed.predict(valid), expected):
        np.testing.assert_array_equal(got.probabilities, want.probabilities)


def test_the_last_epoch_writes_no_checkpoint_and_none_is_needed(tmp_path):
    checkpoints = Checkpoints(tmp_path / "checkpoint.pt")
    _crnn(checkpoints).fit(_clips(3, 0), _clips(1, 1))
    assert checkpoints.saves == 4  # after epochs 1-4; the 5th ends the fit, the record follows


def test_save_is_atomic_and_restores_the_global_generators(tmp_path):
    path = tmp_path / "sub" / "checkpoint.pt"
    checkpoints = Checkpoints(path)
    torch.manual_seed(1)
    np.random.seed(2)
    checkpoints.save({"epoch": 1, "weights": torch.arange(3)})
    expected = (torch.rand(2), np.random.rand(2))
    torch.rand(5), np.random.rand(5)  # the generators move on
    state = checkpoints.load()
    assert state["epoch"] == 1 and state["weights"].tolist() == [0, 1, 2]
    torch.testing.assert_close(torch.rand(2), expected[0])
    np.testing.assert_array_equal(np.random.rand(2), expected[1])
    assert [p.name for p in path.parent.iterdir()] == ["checkpoint.pt"]  # no temporary files left


def test_a_failed_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    checkpoints = Checkpoints(path)
    checkpoints.save({"epoch": 1})

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", disk_full)
    with pytest.raises(CheckpointError, match=r"^cannot write checkpoint .*checkpoint\.pt: No space left on device "
                                              r"\(the disk is full\); free space"):
        checkpoints.save({"epoch": 2})
    monkeypatch.undo()
    assert Checkpoints(path).load()["epoch"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt"]


def test_a_corrupted_checkpoint_is_one_clear_error(tmp_path):
    path = tmp_path / "checkpoint.pt"
    Checkpoints(path).save({"epoch": 1, "model": {"w": torch.ones(100)}})
    path.write_bytes(path.read_bytes()[:150])
    with pytest.raises(CheckpointError, match=r"checkpoint .*checkpoint.pt cannot be read \(.*\); delete it"):
        Checkpoints(path).load()


def test_a_checkpoint_with_pickled_code_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "checkpoint.pt"
    buffer = io.BytesIO()
    torch.save({"epoch": 1, "rng": {}, "model": Payload()}, buffer)
    path.write_bytes(buffer.getvalue())
    with pytest.raises(CheckpointError, match=r"holds pickled code or objects \(posix.system\).*weights_only=True"):
        Checkpoints(path).load()
    assert not marker.exists()
    path.write_bytes(pickle.dumps({"epoch": 1}) + b"junk")
    with pytest.raises(CheckpointError, match="cannot be read"):
        read_checkpoint(path)


def test_a_checkpoint_holding_a_numpy_value_names_it_instead_of_calling_the_file_corrupted(tmp_path):
    path = tmp_path / "checkpoint.pt"
    torch.save({"epoch": 1, "rng": {}, "history": {"f1": [np.float64(0.5)]}}, path)  # NumPy scalars are refused
    with pytest.raises(CheckpointError, match=r"holds pickled code or objects \(numpy\._core\.multiarray\.scalar\)"):
        Checkpoints(path).load()


def test_attached_harness_state_is_saved_and_restored_with_the_checkpoint(tmp_path):
    curve = [{"epoch": 1, "F1_frm": 10.0}]
    writer = Checkpoints(tmp_path / "checkpoint.pt")
    writer.attach("test_curve", lambda: {"epochs": list(curve)}, lambda value: None)
    writer.save({"epoch": 1})
    curve.append({"epoch": 2, "F1_frm": 12.0})
    writer.save({"epoch": 2})
    restored = []
    reader = Checkpoints(tmp_path / "checkpoint.pt")
    reader.attach("test_curve", lambda: {}, restored.append)
    assert reader.load() == {"epoch": 2}  # the harness's entry is not handed to the system
    assert restored == [{"epochs": [{"epoch": 1, "F1_frm": 10.0}, {"epoch": 2, "F1_frm": 12.0}]}]
    Checkpoints(None).attach("x", lambda: 1, restored.append)  # a disabled store keeps nothing
    assert Checkpoints(None)._harness == {}


def test_a_checkpoint_names_its_job_and_only_that_job_resumes_from_it(tmp_path):
    job = {"system": "crnn", "config_hash": "aaaaaaaaaaaa", "dataset_fingerprint": "f" * 16, "fold": "1", "seed": 0,
           "sedbench_version": "1.0"}
    writer = Checkpoints(tmp_path / "checkpoint.pt")
    writer.bind(job, max_epoch=5)
    writer.save({"epoch": 3, "model": {"w": torch.ones(2)}})
    assert read_checkpoint(writer.path)["job"] == job
    same = Checkpoints(writer.path)
    same.bind(job, max_epoch=5)
    assert same.load()["epoch"] == 3 and same.resumed_epoch == 3
    other = Checkpoints(writer.path)
    other.bind({**job, "seed": 1, "config_hash": "bbbbbbbbbbbb"}, max_epoch=5)
    with pytest.raises(CheckpointError, match=r"belongs to another job \(config_hash 'aaaaaaaaaaaa', not "
                                              r"'bbbbbbbbbbbb'; seed 0, not 1\)"):
        other.load()
    shorter = Checkpoints(writer.path)
    shorter.bind(job, max_epoch=2)
    with pytest.raises(CheckpointError, match="is at epoch 3, beyond this job's budget of 2 epochs"):
        shorter.load()
