"""Bring your own dataset: DCASE-layout folders and CSV manifests behave like registered datasets."""

import hashlib
import shutil

import numpy as np
import pytest
import soundfile as sf
from conftest import run_cli

from sedbench.core.data import Event
from sedbench.core.errors import DataError, UnknownNameError
from sedbench.core.features import FeatureCache, LogMelSpec
from sedbench.datatools.export import export_dcase_layout
from sedbench.datatools.folder import FolderDataset, dataset_class, resolve_dataset
from sedbench.datatools.splits import default_partitions, hold_out_hashed

RATE = 8000


_LEVELS: dict[str, float] = {}


def write_audio(path, seconds=3.0, rate=RATE):
    path.parent.mkdir(parents=True, exist_ok=True)
    # a level of its own for every path: recordings of a dataset differ, as real ones do (the same content in the
    # test partition and in training is refused as leakage). Steps of 1e-4 stay apart after 16-bit rounding
    # (3e-5); a level hashed from the path collided there now and then.
    level = _LEVELS.setdefault(str(path), 0.01 + (len(_LEVELS) % 4000) * 1e-4)
    sf.write(path, np.zeros(int(seconds * rate), np.float32) + level, rate, subtype="PCM_16")


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def splits_equal(a, b):
    for part in ("train", "valid", "test"):
        left, right = getattr(a, part), getattr(b, part)
        assert [c.clip_id for c in left] == [c.clip_id for c in right], part
        assert [c.duration for c in left] == [c.duration for c in right], part
        assert [c.events for c in left] == [c.events for c in right], part
        assert [(c.tags, c.scene) for c in left] == [(c.tags, c.scene) for c in right], part


# --------------------------------------------------------------------------- synth equivalence


@pytest.fixture(scope="module")
def synth_copies(synth_mini, tmp_path_factory):
    """synth-mini as a plain copy of its audio/annotations/lists, and as export_dcase_layout writes it."""
    base = tmp_path_factory.mktemp("byod")
    copy = base / "synth-copy"
    for sub in ("audio", "annotations", "evaluation_setup"):
        shutil.copytree(synth_mini.root / sub, copy / sub)
    exported = export_dcase_layout(synth_mini, base / "synth-export")
    return {"copy": copy, "export": exported}


@pytest.mark.parametrize("kind", ["copy", "export"])
def test_a_folder_copy_of_synth_mini_has_the_same_splits_labels_and_features(synth_mini, synth_copies, kind,
                                                                              tmp_path):
    folder_cls = resolve_dataset(str(synth_copies[kind]))
    assert issubclass(folder_cls, FolderDataset)
    assert folder_cls.name == f"folder:{synth_copies[kind].name}"
    assert folder_cls.labels == synth_mini.labels and folder_cls.folds == synth_mini.folds
    folder = folder_cls(tmp_path / "ignored-data-dir")
    original, copied = synth_mini.split("1"), folder.split("1")
    splits_equal(original, copied)
    assert (len(copied.train), len(copied.valid), len(copied.test)) == (12, 4, 4)
    spec = LogMelSpec()
    cache = FeatureCache(tmp_path / "cache")
    for a, b in [(original.train[0], copied.train[0]), (original.test[-1], copied.test[-1])]:
        assert a.path != b.path
        np.testing.assert_array_equal(cache.get(a, spec), cache.get(b, spec))
    # same content, different dataset name: the fingerprint is stable but names the folder dataset
    assert folder.fingerprint("1") == folder_cls(None).fingerprint("1") != synth_mini.fingerprint("1")


def test_export_writes_the_dcase_layout(synth_mini, synth_copies):
    exported = synth_copies["export"]
    assert (exported / "labels.txt").read_text().splitlines() == list(synth_mini.labels)
    split = synth_mini.split("1")
    assert (exported / "evaluation_setup" / "fold1_validate.txt").read_text().splitlines() == [c.clip_id for c in split.valid]
    first = split.train[0]
    rows = [line.split("\t") for line in (exported / "meta.txt").read_text().splitlines()
            if line.startswith(first.clip_id + "\t")]
    assert [Event(float(r[1]), float(r[2]), r[3]) for r in rows] == first.events
    with pytest.raises(DataError, match="is not empty; export into a new or empty folder"):
        export_dcase_layout(synth_mini, exported)


# --------------------------------------------------------------------------- DCASE layouts


def test_tut_sed_2016_style_layout_with_scene_fold_lists(tmp_path):
    root = tmp_path / "tut"
    files = {"home": ["a001", "a002", "a003"], "residential_area": ["b001", "b002", "b003"]}
    for scene, stems in files.items():
        for stem in stems:
            write_audio(root / "audio" / scene / f"{stem}.wav")
            write(root / "meta" / scene / f"{stem}.ann", f"0.5\t1.25\t{scene} sound\n2.0\t2.5\tdoor\n")
        train = "".join(f"audio/{scene}/{s}.wav\t{scene}\t0.5\t1.25\tx\taudio/{scene}/{s}.wav\t{scene}\t2.0\t2.5\tdoor\n"
                        for s in stems[:2])
        write(root / "evaluation_setup" / f"{scene}_fold1_train.txt", train)
        write(root / "evaluation_setup" / f"{scene}_fold1_test.txt", f"audio/{scene}/{stems[2]}.wav\n")
        write(root / "evaluation_setup" / f"{scene}_fold1_evaluate.txt", f"audio/{scene}/{stems[2]}.wav\t{scene}\t0\t1\tx\n")
    write(root / "README.txt", "not an annotation\n")
    cls = dataset_class(root)
    assert cls.name == "folder:tut" and cls.folds == ("1",)
    assert cls.labels == ("door", "home sound", "residential_area sound")
    split = cls().split("1")
    train_and_valid = [c.clip_id for c in split.train + split.valid]
    assert sorted(train_and_valid) == sorted(f"audio/{s}/{x}.wav" for s in files for x in files[s][:2])
    assert len(split.valid) == 1  # no validation list: 20 % of 4 training recordings, at least one
    assert [c.clip_id for c in split.test] == ["audio/home/a003.wav", "audio/residential_area/b003.wav"]
    assert {c.clip_id: c.scene for c in split.test} == {"audio/home/a003.wav": "home",
                                                         "audio/residential_area/b003.wav": "residential_area"}
    assert split.test[0].events == [Event(0.5, 1.25, "home sound"), Event(2.0, 2.5, "door")]
    assert split.test[0].duration == 3.0


def test_combined_meta_txt_with_scene_rows_and_files_without_events(tmp_path):
    root = tmp_path / "combined"
    for name in ("x1", "x2", "x3", "x4", "x5"):
        write_audio(root / "audio" / f"{name}.flac")
    write(root / "meta.txt",
          "audio/x1.flac\toffice\t0.1\t0.9\tkeys\tm\n"
          "audio/x2.flac\toffice\n"  # a file with no events
          "x3.flac\t0\t1.5\tphone\n"  # a unique file name is enough
          "audio/x4.flac\n"
          "audio/x5.flac\t1.0\t2.0\tkeys\n")
    cls = dataset_class(root)
    clips = {c.clip_id: c for part in ("train", "valid", "test") for c in getattr(cls().split("1"), part)}
    assert clips["audio/x1.flac"].events == [Event(0.1, 0.9, "keys")] and clips["audio/x1.flac"].scene == "office"
    assert clips["audio/x2.flac"].events == [] and clips["audio/x2.flac"].scene == "office"
    assert clips["audio/x3.flac"].events == [Event(0.0, 1.5, "phone")] and clips["audio/x3.flac"].scene is None
    assert clips["audio/x4.flac"].events == []
    assert cls.labels == ("keys", "phone")


def test_default_split_is_60_20_20_by_hash_and_stable(tmp_path):
    root = tmp_path / "plain"
    names = [f"rec{i:02d}" for i in range(10)]
    for name in names:
        write_audio(root / f"{name}.wav", seconds=1.0)
        write(root / f"{name}.txt", "0.1 0.5 dog barking\n")  # whitespace-separated, label with a space
    cls = dataset_class(root)
    split = cls().split("1")
    ids = [f"{n}.wav" for n in names]
    by_hash = sorted(ids, key=lambda c: hashlib.sha256(c.encode()).hexdigest())
    assert [c.clip_id for c in split.train] == sorted(by_hash[:6])
    assert [c.clip_id for c in split.valid] == sorted(by_hash[6:8])
    assert [c.clip_id for c in split.test] == sorted(by_hash[8:])
    assert cls.labels == ("dog barking",)
    assert default_partitions(list(reversed(ids))) == default_partitions(ids)
    assert "60/20/20" in cls.description
    assert [c.clip_id for c in dataset_class(root)().split("1").train] == [c.clip_id for c in split.train]


def test_hold_out_keeps_training_order():
    train = [f"f{i}.wav" for i in range(10)]
    kept, held = hold_out_hashed(train)
    assert len(held) == 2 and len(kept) == 8 and kept == [c for c in train if c not in held]
    assert held == [c for c in train if c in set(sorted(train, key=lambda c: hashlib.sha256(c.encode()).hexdigest())[:2])]


def test_fold_less_tut_sed_synthetic_lists(tmp_path):
    root = tmp_path / "synthetic"
    for i in range(5):
        write_audio(root / "audio" / f"m{i}.wav", seconds=1.0)
        write(root / "meta" / f"m{i}.txt", f"0.0\t0.5\tc{i % 2}\n")
    write(root / "evaluation_setup" / "train+validate.txt", "audio/m0.wav\naudio/m1.wav\naudio/m2.wav\n")
    write(root / "evaluation_setup" / "validate.txt", "audio/m2.wav\n")
    write(root / "evaluation_setup" / "evaluate.txt", "audio/m3.wav\taudio/m3.wav\t0.0\t0.5\tc1\naudio/m4.wav\n")
    split = dataset_class(root)().split("1")
    assert [c.clip_id for c in split.train] == ["audio/m0.wav", "audio/m1.wav"]
    assert [c.clip_id for c in split.valid] == ["audio/m2.wav"]
    assert [c.clip_id for c in split.test] == ["audio/m3.wav", "audio/m4.wav"]


def test_labels_file_keeps_its_order(tmp_path):
    root = tmp_path / "labelled"
    for i in range(3):
        write_audio(root / f"r{i}.wav", seconds=1.0)
        write(root / f"r{i}.ann", "0\t0.5\tzebra\n")
    write(root / "labels.txt", "zebra\nant\n")
    assert dataset_class(root).labels == ("zebra", "ant")


# --------------------------------------------------------------------------- manifests


def test_manifest_with_folds_splits_scenes_and_empty_files(tmp_path):
    root = tmp_path / "mdata"
    for name in ("a", "b", "c", "d"):
        write_audio(root / "wav" / f"{name}.wav", seconds=2.0)
    manifest = write(root / "list.csv",
                     "filename,onset,offset,event_label,split,fold,scene\n"
                     "wav/a.wav,0.1,0.4,dog,train,1,park\n"
                     "wav/a.wav,0.5,1.0,cat,train,1,park\n"
                     "wav/b.wav,,,,train,1,park\n"
                     "wav/c.wav,0,1,dog,validate,1,street\n"
                     "wav/d.wav,1,2,cat,test,1,street\n"
                     "wav/d.wav,1,2,cat,train,2,street\n"
                     "wav/a.wav,0.1,0.4,dog,test,2,park\n"
                     "wav/b.wav,,,,valid,2,park\n")
    cls = resolve_dataset(str(manifest))
    assert cls.name == "manifest:mdata:list" and cls.folds == ("1", "2") and cls.labels == ("cat", "dog")
    one, two = cls().split("1"), cls().split("2")
    assert [c.clip_id for c in one.train] == ["wav/a.wav", "wav/b.wav"]
    assert [c.clip_id for c in one.valid] == ["wav/c.wav"] and [c.clip_id for c in one.test] == ["wav/d.wav"]
    assert [c.clip_id for c in two.train] == ["wav/d.wav"] and [c.clip_id for c in two.valid] == ["wav/b.wav"]
    a = two.test[0]
    assert a.events == [Event(0.1, 0.4, "dog"), Event(0.5, 1.0, "cat")] and a.scene == "park" and a.duration == 2.0
    assert one.train[1].events == []


def test_manifest_without_split_column_uses_the_default_split(tmp_path):
    for i in range(5):
        write_audio(tmp_path / f"s{i}.wav", seconds=1.0)
    manifest = write(tmp_path / "m.csv", "filename,onset,offset,event_label\n"
                     + "".join(f"s{i}.wav,0,0.5,bird\n" for i in range(5)))
    split = dataset_class(manifest)().split("1")
    assert (len(split.train), len(split.valid), len(split.test)) == (3, 1, 1)
    assert all(c.scene is None for c in split.train)


def test_manifest_with_target_classes_is_a_rare_event_dataset(tmp_path):
    for name in ("a", "b", "c", "d", "e"):
        write_audio(tmp_path / f"{name}.wav", seconds=2.0)
    manifest = write(tmp_path / "m.csv", "filename,onset,offset,event_label,split,target_class\n"
                     "a.wav,0.5,1.0,gunshot,train,gunshot\n"
                     "b.wav,,,,train,gunshot\n"
                     "c.wav,0.2,0.4,babycry,train,babycry\n"
                     "d.wav,,,,test,glassbreak\n"
                     "e.wav,1,1.5,babycry,test,babycry\n")
    cls = dataset_class(manifest)
    assert cls.task == "rare events" and cls.labels == ("babycry", "glassbreak", "gunshot")  # a class without events
    split = cls().split("1")
    clips = {c.clip_id: c for c in split.train + split.valid + split.test}
    assert {k: c.target_class for k, c in clips.items()} == {"a.wav": "gunshot", "b.wav": "gunshot", "c.wav": "babycry",
                                                            "d.wav": "glassbreak", "e.wav": "babycry"}
    assert clips["e.wav"].events == [Event(1.0, 1.5, "babycry")] and clips["d.wav"].events == []
    plain = write(tmp_path / "plain.csv", "filename,onset,offset,event_label\na.wav,0,1,dog\nb.wav,,,\nc.wav,,,\n")
    assert dataset_class(plain).task == "strong events"
    assert all(c.target_class is None for c in dataset_class(plain)().split("1").test)


@pytest.mark.parametrize("rows, labels, message", [
    ("a.wav,0,1,dog,\n", None, "line 2: the target class is empty (a manifest with a target_class column names the "
                                "class of every file's mixture)"),
    ("a.wav,0,1,dog,dog\na.wav,1,2,dog,cat\n", None,
     "line 3: target class 'cat' of a.wav contradicts target class 'dog' from {manifest}, line 2"),
    ("a.wav,0,1,dog,dog\nb.wav,,,,cat\n", "dog\n", "line 3: target class 'cat' is not in {labels} (dog)"),
])
def test_bad_target_classes(tmp_path, rows, labels, message):
    for name in ("a", "b", "c"):
        write_audio(tmp_path / f"{name}.wav")
    if labels:
        write(tmp_path / "labels.txt", labels)
    manifest = write(tmp_path / "m.csv", "filename,onset,offset,event_label,target_class\n" + rows + "c.wav,,,,dog\n")
    with pytest.raises(DataError) as info:
        dataset_class(manifest)
    assert str(info.value) == f"{manifest}, " + message.format(manifest=manifest, labels=tmp_path / "labels.txt")


# --------------------------------------------------------------------------- errors


def _folder(tmp_path, annotation="0.5\t1.0\tdog\n", n=3):
    root = tmp_path / "data"
    for i in range(n):
        write_audio(root / "audio" / f"f{i}.wav", seconds=2.0)
        write(root / "meta" / f"f{i}.ann", annotation)
    return root


@pytest.mark.parametrize(
    "line, message",
    [
        ("0.5\tsoon\tdog", "onset and offset must be numbers, got '0.5' and 'soon'"),
        ("1.5\t1.0\tdog", "offset 1.0 is before onset 1.5"),
        ("-0.5\t1.0\tdog", "onset must be a number >= 0, got '-0.5'"),
        ("a\tb\tc\td", "onset and offset must be numbers, got 'b' and 'c'"),
    ],
)
def test_bad_annotation_rows_name_file_and_line(tmp_path, line, message):
    root = _folder(tmp_path)
    write(root / "meta" / "f1.ann", "0.1\t0.2\tdog\n" + line + "\n")
    with pytest.raises(DataError) as info:
        dataset_class(root)
    assert str(info.value) == f"{root / 'meta' / 'f1.ann'}, line 2: {message}"


def test_label_outside_labels_file(tmp_path):
    root = _folder(tmp_path)
    write(root / "labels.txt", "cat\ndog\n")
    write(root / "meta" / "f2.ann", "0.1\t0.2\tdog\n0.3\t0.4\tunicorn\n")
    with pytest.raises(DataError) as info:
        dataset_class(root)
    assert str(info.value) == f"{root / 'meta' / 'f2.ann'}, line 2: label 'unicorn' is not in {root / 'labels.txt'} (cat, dog)"


def test_event_past_the_end_of_the_file(tmp_path):
    root = _folder(tmp_path)
    write(root / "meta" / "f0.ann", "0.1\t0.2\tdog\n1.5\t2.5\tdog\n")
    cls = dataset_class(root)
    with pytest.raises(DataError) as info:
        cls().split("1")
    assert str(info.value) == (f"{root / 'meta' / 'f0.ann'}, line 2: event 'dog' ends at 2.5 s, after the end of "
                               "audio/f0.wav (2.000 s)")
    write(root / "meta" / "f0.ann", "1.5\t2.005\tdog\n")  # rounding of the annotation is tolerated
    assert dataset_class(root)().split("1")


def test_ambiguous_file_names(tmp_path):
    root = _folder(tmp_path)
    write_audio(root / "other" / "f1.wav")
    write(root / "evaluation_setup" / "fold1_train.txt", "audio/f0.wav\nf1.wav\n")
    write(root / "evaluation_setup" / "fold1_test.txt", "audio/f2.wav\n")
    with pytest.raises(DataError) as info:
        dataset_class(root)
    assert str(info.value) == (f"annotation file {root / 'meta' / 'f1.ann'} matches 2 audio files "
                               "(audio/f1.wav, other/f1.wav); give each a unique name or mirror the audio sub-folders")
    write(root / "meta" / "f1.ann", "")
    shutil.move(root / "meta" / "f1.ann", root / "audio" / "f1.ann")  # next to its audio: unambiguous
    write(root / "other" / "f1.ann", "")
    with pytest.raises(DataError) as info:
        dataset_class(root)
    assert str(info.value) == (f"{root / 'evaluation_setup' / 'fold1_train.txt'}, line 2: f1.wav matches 2 audio "
                               f"files (audio/f1.wav, other/f1.wav); give its path relative to {root}")


def test_missing_file_in_a_fold_list(tmp_path):
    root = _folder(tmp_path)
    write(root / "evaluation_setup" / "fold1_train.txt", "audio/f0.wav\naudio/f1.wav\n")
    write(root / "evaluation_setup" / "fold1_test.txt", "audio/f2.wav\naudio/f9.wav\n")
    with pytest.raises(DataError) as info:
        dataset_class(root)
    assert str(info.value) == f"{root / 'evaluation_setup' / 'fold1_test.txt'}, line 2: audio/f9.wav is not an audio file in {root}"


def test_test_file_also_in_training(tmp_path):
    root = _folder(tmp_path)
    write(root / "evaluation_setup" / "fold1_train.txt", "audio/f0.wav\naudio/f1.wav\n")
    write(root / "evaluation_setup" / "fold1_test.txt", "audio/f1.wav\n")
    with pytest.raises(DataError, match=r"audio/f1.wav is in both .*fold1_train.txt and .*fold1_test.txt \(fold 1\)"):
        dataset_class(root)


def test_folder_without_audio_and_audio_without_annotation(tmp_path):
    empty = tmp_path / "empty"
    write(empty / "notes.txt", "hello\n")
    with pytest.raises(DataError) as info:
        dataset_class(empty)
    assert str(info.value) == f"{empty} contains no audio files (.wav, .flac in any sub-folder)"
    root = _folder(tmp_path)
    (root / "meta" / "f1.ann").unlink()
    with pytest.raises(DataError) as info:
        dataset_class(root)
    assert str(info.value) == (f"audio file {root / 'audio' / 'f1.wav'} has no annotation: no .ann / .txt file with "
                               "its name next to it or under meta/ or annotations/")
    write(root / "meta" / "f1.ann", "")
    write(root / "meta" / "f7.ann", "")
    with pytest.raises(DataError, match=r"annotation file .*f7.ann belongs to no audio file"):
        dataset_class(root)


@pytest.mark.parametrize(
    "rows, message",
    [
        ("a.wav,0,1,dog\nb.wav,0,x,dog\n", "line 3: onset and offset must be numbers, got '0' and 'x'"),
        ("a.wav,0,1,dog\nb.wav,0,1\n", "line 3: expected 4 comma-separated fields (filename, onset, offset, event_label), got 3"),
        ("a.wav,0,1,\n", "line 2: give onset, offset and event_label together, or leave all three empty for a file without events"),
        ("a.wav,2,1,dog\n", "line 2: offset 1.0 is before onset 2.0"),
        ("a.wav,0,1,dog\nmissing.wav,0,1,dog\n", "line 3: audio file {root}/missing.wav does not exist (paths are relative to the manifest's folder)"),
    ],
)
def test_bad_manifest_rows(tmp_path, rows, message):
    for name in ("a", "b", "c"):
        write_audio(tmp_path / f"{name}.wav")
    manifest = write(tmp_path / "m.csv", "filename,onset,offset,event_label\n" + rows + "c.wav\n")
    with pytest.raises(DataError) as info:
        dataset_class(manifest)
    assert str(info.value) == f"{manifest}, " + message.format(root=tmp_path)


def test_manifest_header_and_split_conflicts(tmp_path):
    for name in ("a", "b", "c"):
        write_audio(tmp_path / f"{name}.wav")
    manifest = write(tmp_path / "m.csv", "filename,onset,offset,event_label,sene\n")
    with pytest.raises(DataError, match=r"line 1: unknown column 'sene'; expected the columns filename, onset, "
                                        r"offset, event_label and optionally split, fold, scene, target_class"):
        dataset_class(manifest)
    write(manifest, "filename,onset,offset,event_label,split\na.wav,0,1,dog,train\na.wav,1,2,dog,test\n")
    with pytest.raises(DataError) as info:
        dataset_class(manifest)
    assert str(info.value) == f"{manifest}, line 3: a.wav is in split 'test' here but in 'train' at {manifest}, line 2"


def test_unknown_name_mentions_paths():
    with pytest.raises(UnknownNameError) as info:
        resolve_dataset("no-such-dataset")
    assert "unknown dataset 'no-such-dataset'" in str(info.value) and "folder or CSV manifest" in str(info.value)


# --------------------------------------------------------------------------- command line (errors before training)


def test_cli_bad_manifest_row_fails_with_file_and_line_and_writes_no_record(tmp_path):
    for name in ("a", "b", "c"):
        write_audio(tmp_path / "d" / f"{name}.wav")
    manifest = write(tmp_path / "d" / "m.csv", "filename,onset,offset,event_label\na.wav,0,1,dog\nb.wav,3,1,dog\nc.wav\n")
    runs = tmp_path / "runs"
    result = run_cli(["run", "--system", "crnn", "--dataset", str(manifest), "--runs-dir", str(runs)])
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {manifest}, line 3: offset 1.0 is before onset 3.0"
    assert not runs.exists()
    result = run_cli(["search", "--system", "crnn", "--dataset", str(manifest), "--runs-dir", str(runs)])
    assert result.returncode == 2 and f"{manifest}, line 3" in result.stderr and not runs.exists()


def test_cli_event_past_the_end_fails_before_training(tmp_path):
    root = _folder(tmp_path)
    write(root / "meta" / "f2.ann", "1.0\t3.0\tdog\n")
    runs = tmp_path / "runs"
    result = run_cli(["run", "--system", "crnn", "--dataset", str(root), "--runs-dir", str(runs),
                      "--cache-dir", str(tmp_path / "cache")])
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (f"error: {root / 'meta' / 'f2.ann'}, line 1: event 'dog' ends at "
                                                      "3 s, after the end of audio/f2.wav (2.000 s)")
    assert not runs.exists()


def test_a_missing_path_is_reported_as_a_path(tmp_path):
    with pytest.raises(UnknownNameError) as info:
        resolve_dataset(str(tmp_path / "nowhere" / "m.csv"))
    assert str(info.value) == f"dataset folder or manifest {tmp_path / 'nowhere' / 'm.csv'} does not exist"
