"""Bad input gives one clear sentence naming what is wrong, never a traceback."""

import numpy as np
import pytest
import soundfile as sf
from conftest import run_cli

from sedbench.core.audio import load_audio
from sedbench.core.config import apply_overrides, build_config
from sedbench.core.data import Event, FeatureClip
from sedbench.core.errors import ConfigError, DataError, SystemOutputError
from sedbench.core.outputs import ClipTags, Detections, FrameActivity, check_output
from sedbench.datatools.annotations import parse_annotation_line, read_annotation_file


def test_unknown_system_and_dataset_on_the_command_line(tmp_path):
    result = run_cli(["run", "--system", "nope", "--dataset", "synth-mini", "--runs-dir", str(tmp_path)])
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]  # one line
    assert "unknown system 'nope'" in result.stderr and "crnn" in result.stderr
    assert "Traceback" not in result.stderr
    result = run_cli(["run", "--system", "crnn", "--dataset", "nope", "--runs-dir", str(tmp_path)])
    assert result.returncode == 2 and "unknown dataset 'nope'" in result.stderr and "synth" in result.stderr
    assert not list(tmp_path.rglob("*.json"))


def test_missing_empty_and_corrupt_audio_name_the_file(tmp_path):
    with pytest.raises(DataError, match="missing.wav does not exist"):
        load_audio(tmp_path / "missing.wav")
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(DataError, match=r"empty.wav is empty \(0 bytes\)"):
        load_audio(tmp_path / "empty.wav")
    (tmp_path / "text.wav").write_text("this is not audio")
    with pytest.raises(DataError, match="text.wav is not readable audio"):
        load_audio(tmp_path / "text.wav")
    sf.write(tmp_path / "good.wav", np.zeros(44100, dtype=np.float32) + 0.1, 44100, subtype="PCM_16")
    data = (tmp_path / "good.wav").read_bytes()
    (tmp_path / "cut.wav").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="cut.wav"):
        load_audio(tmp_path / "cut.wav")


def test_resampling_to_the_requested_rate(tmp_path):
    sf.write(tmp_path / "a.wav", np.zeros(22050, dtype=np.float32), 22050)
    audio, rate = load_audio(tmp_path / "a.wav", 44100)
    assert rate == 44100 and abs(audio.shape[0] - 44100) <= 1


@pytest.mark.parametrize(
    "line, message",
    [
        ("a.wav\tx\t2.0\tdog", "onset and offset must be numbers"),
        ("a.wav\t3.0\t2.0\tdog", "offset 2.0 is before onset 3.0"),
        ("a.wav\t-1\t2.0\tdog", "onset must be a number >= 0"),
        ("a.wav\t1.0", "expected 'filename onset offset label'"),
        ("a.wav\t1.0\t2.0\t", "the event label is empty"),
    ],
)
def test_unparsable_annotation_lines_name_file_and_line(line, message):
    with pytest.raises(DataError, match=message) as info:
        parse_annotation_line(line, "meta/a.txt", 7)
    assert str(info.value).startswith("meta/a.txt, line 7:")


def test_annotation_formats_accepted(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("audio/a.wav\t0.5\t1.25\tdog barking\n\n1.5 2.0 baby crying\n")
    rows = read_annotation_file(path)
    assert rows == [("audio/a.wav", Event(0.5, 1.25, "dog barking")), (None, Event(1.5, 2.0, "baby crying"))]


def test_label_outside_the_label_list(synth_mini):
    with pytest.raises(DataError, match="label 'unicorn' is not in the label list of dataset 'synth-mini'"):
        synth_mini.check_labels([Event(0, 1, "unicorn")], "x.txt")


def _clip(frames=50, classes=3):
    return FeatureClip("c.wav", np.zeros((frames, 40), np.float32), 0.02, frames * 0.02, None, np.zeros(classes))


def test_system_output_contract():
    clip = _clip()
    good = FrameActivity(np.full((50, 3), 0.5, np.float32), 0.02)
    assert check_output(good, clip, ("a", "b", "c"), "s") is good
    with pytest.raises(SystemOutputError, match=r"expected probabilities of shape \(frames, 3\), got \(50, 4\)"):
        check_output(FrameActivity(np.zeros((50, 4)), 0.02), clip, ("a", "b", "c"), "s")
    with pytest.raises(SystemOutputError, match="do not cover the clip"):
        check_output(FrameActivity(np.zeros((20, 3)), 0.02), clip, ("a", "b", "c"), "s")
    nan = np.zeros((50, 3))
    nan[3, 1] = np.nan
    with pytest.raises(SystemOutputError, match="NaN"):
        check_output(FrameActivity(nan, 0.02), clip, ("a", "b", "c"), "s")
    with pytest.raises(SystemOutputError, match=r"must lie in \[0, 1\]"):
        check_output(FrameActivity(np.full((50, 3), 1.5), 0.02), clip, ("a", "b", "c"), "s")
    with pytest.raises(SystemOutputError, match="must return FrameActivity, Detections or ClipTags"):
        check_output(np.zeros((50, 3)), clip, ("a", "b", "c"), "s")


def test_event_and_tag_outputs_are_checked():
    clip = _clip()
    labels = ("a", "b", "c")
    assert check_output(Detections([Event(0.1, 0.5, "a")]), clip, labels, "s")
    with pytest.raises(SystemOutputError, match="detected label 'z' is not in the dataset's label list"):
        check_output(Detections([Event(0.1, 0.5, "z")]), clip, labels, "s")
    with pytest.raises(SystemOutputError, match="0 <= onset <= offset"):
        check_output(Detections([Event(0.5, 0.1, "a")]), clip, labels, "s")
    assert check_output(ClipTags(np.array([0.1, 0.9, 0.0])), clip, labels, "s")
    with pytest.raises(SystemOutputError, match=r"tag probabilities of shape \(3,\), got \(2,\)"):
        check_output(ClipTags(np.array([0.1, 0.9])), clip, labels, "s")
    with pytest.raises(SystemOutputError, match="NaN"):
        check_output(ClipTags(np.array([0.1, np.nan, 0.0])), clip, labels, "s")


def test_config_overrides_are_type_checked():
    from sedbench.core import registry

    crnn = registry.systems.get("crnn")
    config = build_config(crnn, "quick", {"rnn_units": "48", "pool_sizes": "(2,2,2)", "precision": "bf16"})
    assert (config.rnn_units, config.pool_sizes, config.precision) == (48, (2, 2, 2), "bf16")
    with pytest.raises(ConfigError, match="setting 'rnn_units' expects int, got 'many'"):
        apply_overrides(config, {"rnn_units": "many"})
    with pytest.raises(ConfigError, match="unknown setting 'rnn_unit'"):
        apply_overrides(config, {"rnn_unit": "3"})
    with pytest.raises(ConfigError, match="no profile 'huge'"):
        build_config(crnn, "huge")
