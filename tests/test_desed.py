"""``desed`` read offline from a tiny fixture in DESED_task's on-disk layout (``data/dcase/dataset``).

The fixture builder (``build_desed``) lives with the other corpora's in dataset_fixtures.py.
"""

import re
import warnings
from pathlib import Path

import pytest
from dataset_fixtures import (
    REAL_AUDIO,
    REAL_META,
    SYNTH,
    build_desed,
    manual_message,
)

from sedbench.core import registry
from sedbench.core.data import Event, LabelKind
from sedbench.core.dataset import COMPLETE_MARKER, dataset_kind
from sedbench.core.errors import DataError
from sedbench.datatools.fetch import verify


@pytest.fixture
def desed(tmp_path):
    expected = build_desed(tmp_path)
    return registry.datasets.get("desed")(tmp_path), expected


def quiet_split(dataset):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the clip gone from YouTube; its warning is tested below
        return dataset.split("1")


def test_registered_with_its_metadata():
    assert "desed" in registry.datasets.names()
    cls = registry.datasets.get("desed")
    assert cls.labels == ("Alarm_bell_ringing", "Blender", "Cat", "Dishes", "Dog", "Electric_shaver_toothbrush",
                          "Frying", "Running_water", "Speech", "Vacuum_cleaner")
    assert (cls.task.value, cls.label_kind, cls.folds, cls.sample_rate) == ("strong events", LabelKind.STRONG,
                                                                            ("1",), 44100)
    assert cls.headline_metric == "PSDS1"
    assert (cls.paper.key, cls.paper.url) == ("turpault2019", "https://hal.inria.fr/hal-02160855")
    assert "Sound event detection in domestic environments" in cls.paper.citation


def test_split_sizes_and_events_read_back(desed):
    dataset, expected = desed
    split = quiet_split(dataset)
    assert (len(split.train), len(split.valid), len(split.test)) == expected.sizes["1"]
    assert [c.clip_id for c in split.train] == [f"dcase_synth/audio/train/synthetic21_train/soundscapes/{n}.wav"
                                                for n in range(3)]
    for clip in split.train + split.valid + split.test:
        assert clip.events == expected.events[clip.clip_id], clip.clip_id
        assert clip.duration == pytest.approx(1.0) and clip.path == dataset.root / clip.clip_id
    test = {Path(c.clip_id).name: c.events for c in split.test}
    assert test["Y00pbt6aJV8Y_350.000_360.000.wav"] == [Event(0.0, 0.997, "Vacuum_cleaner"),
                                                        Event(0.1, 0.4, "Speech")]


def test_clips_without_events_are_kept_with_no_events(desed):
    dataset, _ = desed
    split = quiet_split(dataset)
    test = {Path(c.clip_id).name: c.events for c in split.test}
    assert test["YU0Cg_t_3TdI_30.000_40.000.wav"] == []  # empty row in validation.tsv
    assert test["Y70CtvdsGQf4_2.000_12.000.wav"] == []  # only in validation_durations.tsv
    valid = {Path(c.clip_id).name: c.events for c in split.valid}
    assert valid == {"0.wav": [Event(0.2, 0.4, "Dishes"), Event(0.2, 0.6, "Cat")], "1.wav": []}


def test_missing_youtube_clips_are_counted(desed):
    dataset, _ = desed
    with pytest.warns(UserWarning) as caught:
        split = dataset.split("1")
    assert [str(w.message) for w in caught] == [
        f"desed: 3 of the 4 clips listed in {dataset.root / REAL_META} have audio in {dataset.root / REAL_AUDIO}; "
        f"the other 1 are left out"]
    assert "Y-gone_from_youtube_0.000_10.000.wav" not in {Path(c.clip_id).name for c in split.test}


def test_a_partition_without_audio_names_its_folder(desed):
    dataset, _ = desed
    folder = dataset.root / SYNTH.format(kind="audio", subset="validation") / "soundscapes"
    for wav in folder.iterdir():
        wav.unlink()
    metadata = dataset.root / SYNTH.format(kind="metadata", subset="validation") / "soundscapes.tsv"
    message = f"none of the 2 clips listed in {metadata} has its audio in {folder}: {dataset.manual_setup}"
    with pytest.raises(DataError) as info:
        quiet_split(dataset)
    assert str(info.value) == message
    assert dataset.check_layout() == [message]


BAD_ROWS = [  # (file relative to the dataset folder, line number, its new text, the error after "<file>, line <n>: ")
    (REAL_META, 3, "YU0Cg_t_3TdI_30.000_40.000.wav\t0.900\t0.200\tDog",
     "offset 0.2 is before onset 0.9"),
    (REAL_META, 2, "Y00pbt6aJV8Y_350.000_360.000.wav\t0.000\t0.997\tToaster",
     "label 'Toaster' is not in the label list of dataset 'desed' (Alarm_bell_ringing, Blender, Cat, Dishes, Dog, "
     "Electric_shaver_toothbrush, Frying, Running_water, Speech, Vacuum_cleaner)"),
    (REAL_META, 2, "Y00pbt6aJV8Y_350.000_360.000.wav\tVacuum_cleaner",
     "expected 'filename<TAB>onset<TAB>offset<TAB>event_label', got 'Y00pbt6aJV8Y_350.000_360.000.wav\\tVacuum_cleaner'"),
    (REAL_META, 1, "filename\tonset\toffset",
     "expected the header row 'filename\\tonset\\toffset\\tevent_label', got 'filename\\tonset\\toffset'"),
    ("dcase_synth/metadata/validation/synthetic21_validation/durations.tsv", 2, "0.wav\tten",
     "expected 'filename<TAB>duration' with a duration in seconds above 0, got '0.wav\\tten'"),
]


@pytest.mark.parametrize("relative, number, text, error", BAD_ROWS)
def test_a_bad_line_names_file_and_line(desed, relative, number, text, error):
    dataset, _ = desed
    path = dataset.root / relative
    lines = path.read_text().splitlines()
    lines[number - 1] = text
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as info:
        quiet_split(dataset)
    assert str(info.value) == f"{path}, line {number}: {error}"


def test_setup_description_is_manual_and_names_the_sources_and_folders():
    cls = registry.datasets.get("desed")
    assert cls.remote_files == () and dataset_kind(cls) == "manual"  # no published md5 for dcase_synth.zip
    assert "{" not in cls.manual_setup  # dataset_fixtures.ABSENT formats the message with {root}
    for needed in ("https://zenodo.org/record/6026841", "https://github.com/DCASE-REPO/DESED_task",
                   "generate_dcase_task4_2024.py", "dataset folder", REAL_META, REAL_AUDIO, "dcase_synth/",
                   "metadata/train/synthetic21_train/soundscapes.tsv", "audio/train/synthetic21_train/",
                   "metadata/validation/synthetic21_validation/soundscapes.tsv",
                   "audio/validation/synthetic21_validation/"):
        assert needed in cls.manual_setup, needed
    from sedbench.datasets import desed as module

    assert re.fullmatch(r"https://zenodo\.org/record/6026841/files/dcase_synth\.zip", module.SYNTH_ARCHIVE)
    assert [p.metadata for p in module.PARTITIONS] == [
        "dcase_synth/metadata/train/synthetic21_train/soundscapes.tsv",
        "dcase_synth/metadata/validation/synthetic21_validation/soundscapes.tsv", REAL_META]


def test_absent_dataset_says_how_to_get_it(tmp_path):
    dataset = registry.datasets.get("desed")(tmp_path)
    with pytest.raises(DataError) as info:
        dataset.split("1")
    assert str(info.value) == manual_message("desed", dataset.manual_setup).format(root=dataset.root)


def test_verify_accepts_the_hand_placed_layout(tmp_path):
    expected = build_desed(tmp_path, complete=False)
    dataset = registry.datasets.get("desed")(tmp_path)
    assert not dataset.is_present() and dataset.check_layout() == []
    report = verify(dataset)
    assert report.ok and report.accepted and report.checked == 13  # 5 TSVs + 8 wavs
    assert (dataset.root / COMPLETE_MARKER).is_file()
    assert len(quiet_split(dataset).test) == expected.sizes["1"][2]


def test_a_missing_metadata_file_is_a_layout_problem(tmp_path):
    expected = build_desed(tmp_path)
    relative, problem = expected.breaker
    (tmp_path / relative).unlink()
    assert registry.datasets.get("desed")(tmp_path).check_layout() == [problem.format(data=tmp_path)]
