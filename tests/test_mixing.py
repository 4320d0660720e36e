"""The DCASE2017 task 2 mixture synthesizer (sedbench.datatools.mixing, `sedbench synthesize`) on tiny source folders."""

import hashlib
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml
from conftest import run_cli

from sedbench.core.audio import load_audio
from sedbench.core.data import Event
from sedbench.core.errors import ConfigError, DataError
from sedbench.datatools import mixing
from sedbench.datatools.folder import dataset_class

RATE = 16000
PARAMS = mixing.MixingParameters(mixtures_per_class=6, mixture_seconds=3.0, sample_rate=RATE, seed=3)


def noise(seconds, rate, level, seed, lead=0.0, tail=0.0):
    """A noise burst with ``lead`` / ``tail`` seconds of digital silence around it."""
    burst = level * np.random.default_rng(seed).standard_normal(int(round(seconds * rate)))
    return np.concatenate([np.zeros(int(round(lead * rate))), burst, np.zeros(int(round(tail * rate)))])


def make_sources(root: Path) -> tuple[Path, Path]:
    """events/{bell,dog}/ (1-2 s at 16 kHz, with silence around them), backgrounds/ (4 s at 22.05 kHz)."""
    events, backgrounds = root / "events", root / "backgrounds"
    for number, (label, seconds) in enumerate((("bell", 1.0), ("bell", 1.5), ("dog", 2.0))):
        (events / label).mkdir(parents=True, exist_ok=True)
        sf.write(events / label / f"{label}{number}.wav", noise(seconds, RATE, 0.3, number, lead=0.25, tail=0.5),
                 RATE, subtype="PCM_16")
    for number, scene in enumerate(("park", "park", "street")):
        (backgrounds / scene).mkdir(parents=True, exist_ok=True)
        sf.write(backgrounds / scene / f"bg{number}.wav", noise(4.0, 22050, 0.05, 10 + number), 22050)
    return events, backgrounds


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    return make_sources(tmp_path_factory.mktemp("sources"))


@pytest.fixture(scope="module")
def devtrain(sources, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    return mixing.synthesize(*sources, out, "devtrain", PARAMS)


def test_layout_follows_the_official_one(devtrain):
    folder = devtrain.folder
    assert folder.parent.name == "devtrain" and folder.name == PARAMS.hash and re.fullmatch(r"[0-9a-f]{32}", folder.name)
    assert sorted(p.name for p in (folder / "meta").iterdir()) == [
        "event_list_devtrain_bell.csv", "event_list_devtrain_dog.csv", "mixing_params.yaml",
        "mixture_recipes_devtrain_bell.csv", "mixture_recipes_devtrain_bell.yaml",
        "mixture_recipes_devtrain_dog.csv", "mixture_recipes_devtrain_dog.yaml"]
    names = sorted(p.name for p in (folder / "audio").iterdir())
    assert len(names) == 12
    for label in ("bell", "dog"):
        numbered = [n for n in names if n.startswith(f"mixture_devtrain_{label}_")]
        assert [n[len(f"mixture_devtrain_{label}_"):][:3] for n in numbered] == [f"{i:03d}" for i in range(6)]
        assert all(re.fullmatch(rf"mixture_devtrain_{label}_\d{{3}}_[0-9a-f]{{32}}\.wav", n) for n in numbered)
    info = sf.info(str(folder / "audio" / names[0]))
    assert (info.samplerate, info.frames, info.channels, info.subtype) == (RATE, 3 * RATE, 1, "PCM_24")
    assert (devtrain.mixtures, devtrain.events) == ({"bell": 6, "dog": 6}, {"bell": 3, "dog": 3})
    assert devtrain.resampled == ["backgrounds/park/bg0.wav", "backgrounds/park/bg1.wav",
                                  "backgrounds/street/bg2.wav"]


def test_event_lists_match_the_recipes_and_read_back(devtrain, sources):
    folder = devtrain.folder
    for label in ("bell", "dog"):
        recipes = mixing.read_recipes(folder, "devtrain", label)
        rows = mixing.event_list_path(folder, "devtrain", label).read_text().splitlines()
        assert rows == [r["annotation_string"] for r in recipes]
        read = mixing.read_mixture_list(folder, "devtrain", label)
        assert [audio.name for audio, _ in read] == [r["mixture_audio_filename"] for r in recipes]
        for recipe, row, (_, events) in zip(recipes, rows, read):
            fields = row.split("\t")
            assert recipe["bg_path"].startswith(recipe["bg_classname"] + "/") and recipe["bg_resampled_from"] == 22050
            assert "event_resampled_from" not in recipe and recipe["sample_rate"] == RATE
            if not recipe["event_present"]:
                assert fields == [recipe["mixture_audio_filename"]] and events == []
                assert recipe["ebr"] == -np.inf and "event_path" not in recipe
                continue
            onset, offset = recipe["event_start_in_mixture_seconds"], float(fields[2])
            assert fields == [recipe["mixture_audio_filename"], repr(onset), fields[2], label]
            assert offset == pytest.approx(onset + recipe["event_length_seconds"], abs=1e-9) and offset <= 3.0
            assert events == [Event(onset, offset, label)]
            assert recipe["event_class"] == label and recipe["event_path"].startswith(f"{label}/")
            assert recipe["ebr"] in (-6.0, 0.0, 6.0)
            # the filename's hash is the md5 of the recipe without the filename and annotation, as officially
            core = {k: v for k, v in recipe.items() if k not in ("mixture_audio_filename", "annotation_string")}
            digest = hashlib.md5(yaml.safe_dump(core, default_flow_style=False).encode()).hexdigest()
            assert recipe["mixture_audio_filename"].endswith(f"_{digest}.wav")
        table = mixing.recipe_path(folder, "devtrain", label, ".csv").read_text().splitlines()
        assert table[0].split(",") == list(mixing.RECIPE_COLUMNS) and len(table) == 7


def test_the_achieved_event_to_background_ratio_is_the_recipes(devtrain, sources):
    events_dir, backgrounds_dir = sources
    checked = set()
    for label in ("bell", "dog"):
        for recipe in mixing.read_recipes(devtrain.folder, "devtrain", label):
            mixture, rate = load_audio(devtrain.folder / "audio" / recipe["mixture_audio_filename"])
            background, _ = load_audio(backgrounds_dir / recipe["bg_path"], RATE)
            start = int(round(recipe["bg_start_seconds"] * RATE))
            background = recipe["mixture_gain"] * background[start:start + 3 * RATE].astype(np.float64)
            if not recipe["event_present"]:
                assert np.abs(mixture - background).max() < 1e-6
                continue
            onset = int(round(recipe["event_start_in_mixture_seconds"] * RATE))
            length = int(round(recipe["event_length_seconds"] * RATE))
            event_part = mixture[onset:onset + length] - background[onset:onset + length]
            achieved = 20 * np.log10(np.sqrt(np.mean(event_part ** 2)) / np.sqrt(np.mean(background[onset:onset + length] ** 2)))
            assert achieved == pytest.approx(recipe["ebr"], abs=0.1)
            # the event part is the trimmed event file, scaled; nothing outside the span
            isolated, _ = load_audio(events_dir / recipe["event_path"], RATE)
            segment = isolated[int(round(recipe["segment_start_seconds"] * RATE)):
                               int(round(recipe["segment_end_seconds"] * RATE))]
            expected = recipe["mixture_gain"] * recipe["scaling_factor"] * segment
            assert np.abs(event_part - expected).max() < 1e-5
            outside = np.r_[0:onset, onset + length:3 * RATE]
            assert np.abs(mixture[outside] - background[outside]).max() < 1e-6
            checked.add(recipe["ebr"])
    assert checked  # at least one mixture with an event was measured


def test_events_are_trimmed_of_their_silence(devtrain):
    for label, lead, seconds in (("bell", 0.25, (1.0, 1.5)), ("dog", 0.25, (2.0,))):
        for recipe in mixing.read_recipes(devtrain.folder, "devtrain", label):
            if recipe["event_present"]:
                # up to half a 40 ms frame of silence may stay on either side
                assert lead - 0.02 - 1e-9 <= recipe["segment_start_seconds"] <= lead
                length = recipe["segment_end_seconds"] - recipe["segment_start_seconds"]
                assert any(s <= length <= s + 0.04 + 1e-9 for s in seconds)
                assert recipe["event_length_seconds"] == pytest.approx(length)


@pytest.mark.parametrize("presence, expected", [(0.0, 0), (0.25, 2), (0.5, 4), (1.0, 8)])
def test_presence_is_the_share_of_mixtures_with_an_event(sources, tmp_path, presence, expected):
    parameters = mixing.MixingParameters(mixtures_per_class=8, event_presence=presence, mixture_seconds=3.0,
                                         sample_rate=RATE, ebr_db=(0,))
    result = mixing.synthesize(*sources, tmp_path, "devtrain", parameters)
    assert result.events == {"bell": expected, "dog": expected}
    for label in ("bell", "dog"):
        read = mixing.read_mixture_list(result.folder, "devtrain", label)
        assert sum(bool(events) for _, events in read) == expected
    flags = [mixing.presence_flags(parameters, "devtrain", label) for label in ("bell", "dog")]
    assert [int(f.sum()) for f in flags] == [expected, expected]


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_other_seed_other_mixtures(devtrain, sources, tmp_path):
    again = mixing.synthesize(*sources, tmp_path / "again", "devtrain", PARAMS)
    assert again.folder.name == devtrain.folder.name
    assert tree(again.folder) == tree(devtrain.folder)
    other_params = mixing.MixingParameters(mixtures_per_class=6, mixture_seconds=3.0, sample_rate=RATE, seed=4)
    other = mixing.synthesize(*sources, tmp_path / "other", "devtrain", other_params)
    assert other.folder.name != devtrain.folder.name
    ours, theirs = tree(devtrain.folder), tree(other.folder)
    assert sorted(ours) != sorted(theirs)  # the audio file names hash their recipes
    assert [v for k, v in sorted(ours.items()) if k.startswith("audio/")] != \
        [v for k, v in sorted(theirs.items()) if k.startswith("audio/")]
    # another subset draws independently
    devtest = mixing.synthesize(*sources, tmp_path / "again", "devtest", PARAMS)
    assert [r["bg_start_seconds"] for r in mixing.read_recipes(devtest.folder, "devtest", "dog")] != \
        [r["bg_start_seconds"] for r in mixing.read_recipes(devtrain.folder, "devtrain", "dog")]


def test_parameter_hash_is_computed_as_the_official_one(devtrain):
    official = {"event_presence_prob": 0.5, "mixtures_per_class": 500, "ebrs": [-6, 0, 6], "seed": 42}
    assert mixing.parameter_hash(official) == "20b255387a2d0cddc0a3dff5014875e7"  # tut-rare2017's folder
    default = mixing.MixingParameters()
    assert default.as_mapping() == {**official, "mixture_seconds": 30, "sample_rate": 44100,
                                    "synthesizer": mixing.SYNTHESIZER}
    assert default.hash != "20b255387a2d0cddc0a3dff5014875e7"  # sedbench's mixtures are not the official ones
    written = (devtrain.folder / "meta" / "mixing_params.yaml").read_text()
    assert hashlib.md5(written.encode()).hexdigest() == devtrain.folder.name
    assert yaml.safe_load(written) == PARAMS.as_mapping()
    changed = [mixing.MixingParameters(mixtures_per_class=5), mixing.MixingParameters(event_presence=0.4),
               mixing.MixingParameters(ebr_db=(-6, 6)), mixing.MixingParameters(seed=1),
               mixing.MixingParameters(mixture_seconds=10), mixing.MixingParameters(sample_rate=16000)]
    assert len({p.hash for p in changed} | {default.hash}) == 7
    assert mixing.MixingParameters(ebr_db=(-6.0, 0.0, 6.0)).hash == mixing.MixingParameters(ebr_db=(-6, 0, 6)).hash


def write_wav(path: Path, samples, rate=RATE):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.asarray(samples, dtype=np.float32), rate)


@pytest.mark.parametrize("case", ["no events folder", "no backgrounds folder", "no class folders", "empty class",
                                  "no backgrounds", "empty file", "not audio", "silent event", "short background",
                                  "long event", "silent background"])
def test_source_errors_are_one_sentence(tmp_path, case):
    events, backgrounds = make_sources(tmp_path)
    out = tmp_path / "out"
    if case == "no events folder":
        events = tmp_path / "nothing"
        message = f"events folder {events} does not exist"
    elif case == "no backgrounds folder":
        backgrounds = tmp_path / "nothing"
        message = f"backgrounds folder {backgrounds} does not exist"
    elif case == "no class folders":
        events = tmp_path / "flat"
        write_wav(events / "a.wav", noise(1, RATE, 0.3, 1))
        message = f"events folder {events} has no class sub-folders; put each class's isolated events in {events}/<class>/"
    elif case == "empty class":
        (events / "cat").mkdir()
        (events / "cat" / "notes.txt").write_text("no audio here\n")
        message = f"class folder {events / 'cat'} contains no .wav or .flac files"
    elif case == "no backgrounds":
        shutil.rmtree(backgrounds)
        (backgrounds / "park").mkdir(parents=True)
        message = f"backgrounds folder {backgrounds} contains no .wav or .flac files (in any sub-folder)"
    elif case == "empty file":
        (events / "dog" / "empty.wav").write_bytes(b"")
        message = f"audio file {events / 'dog' / 'empty.wav'} is empty (0 bytes)"
    elif case == "not audio":
        (backgrounds / "park" / "notes.flac").write_text("not audio\n")
        message = f"audio file {backgrounds / 'park' / 'notes.flac'} is not readable audio ("
    elif case == "silent event":
        write_wav(events / "dog" / "quiet.wav", np.zeros(RATE))
        message = f"event file {events / 'dog' / 'quiet.wav'} is silent (all its samples are zero)"
    elif case == "short background":
        write_wav(backgrounds / "street" / "short.wav", noise(2.5, RATE, 0.05, 1))
        message = f"background {backgrounds / 'street' / 'short.wav'} is 2.500 s long, shorter than the 3 s mixtures"
    elif case == "long event":
        write_wav(events / "bell" / "long.wav", noise(3.5, RATE, 0.3, 1, lead=0.5))
        message = f"event file {events / 'bell' / 'long.wav'} is 3.5"  # the trimmed length, then the reason
    else:
        shutil.rmtree(backgrounds)
        write_wav(backgrounds / "silent.wav", np.zeros(4 * RATE))
        message = f"background {backgrounds / 'silent.wav'} is silent from "
    with pytest.raises(DataError) as info:
        mixing.synthesize(events, backgrounds, out, "devtrain", PARAMS)
    text = str(info.value)
    if message.endswith("(") or case in ("long event", "silent background"):
        assert text.startswith(message), text
    else:
        assert text == message
    if case == "long event":
        assert re.fullmatch(rf"{re.escape(message)}\d\d s long after trimming its silence, longer than the 3 s "
                            r"mixtures", text), text
    if case == "silent background":
        assert re.fullmatch(rf"{re.escape(message)}\d+\.\d{{3}} to \d+\.\d{{3}} s, where an event of '(bell|dog)' "
                            r"goes, so the event-to-background ratio is undefined", text), text
    assert not out.exists()  # nothing written, not even the folders


@pytest.mark.parametrize("make, message", [
    (lambda: mixing.MixingParameters(mixtures_per_class=0), "mixtures per class must be a whole number >= 1, got 0"),
    (lambda: mixing.MixingParameters(event_presence=1.5),
     "the event presence probability must be between 0 and 1, got 1.5"),
    (lambda: mixing.MixingParameters(ebr_db=()), "the event-to-background ratios must be one or more finite numbers "
                                                 "of dB, got []"),
    (lambda: mixing.MixingParameters(seed=-1), "the seed must be a whole number >= 0, got -1"),
    (lambda: mixing.MixingParameters(mixture_seconds=0), "the mixture length must be a positive number of seconds, "
                                                         "got 0"),
    (lambda: mixing.MixingParameters(sample_rate=8), "the sample rate must be a whole number of Hz >= 1000, got 8"),
    (lambda: mixing.parse_ebrs("-6,loud"), "--ebr expects comma-separated numbers of dB, e.g. -6,0,6; got '-6,loud'"),
    (lambda: mixing.synthesize("e", "b", "o", "dev/train"),
     "subset name 'dev/train' must be letters, digits, '_' and '-' (e.g. devtrain, devtest)"),
])
def test_parameter_errors(make, message):
    with pytest.raises(ConfigError) as info:
        make()
    assert str(info.value) == message


def test_a_failure_leaves_no_half_written_output(sources, tmp_path):
    events, backgrounds = sources
    first = mixing.synthesize(events, backgrounds, tmp_path / "out", "devtrain", PARAMS)
    before = tree(first.folder)
    # a background that is silent only where events go: detected in the middle of writing mixtures
    broken = tmp_path / "broken"
    shutil.copytree(backgrounds, broken)
    for path in broken.rglob("*.wav"):
        write_wav(path, np.r_[0.05 * np.ones(10), np.zeros(4 * 22050 - 10)], 22050)
    with pytest.raises(DataError, match="is silent from"):
        mixing.synthesize(events, broken, tmp_path / "out", "devtrain", PARAMS)
    assert tree(first.folder) == before  # the earlier output is untouched
    assert sorted(p.name for p in (tmp_path / "out" / "devtrain").iterdir()) == [first.folder.name]
    with pytest.raises(DataError):
        mixing.synthesize(events, broken, tmp_path / "new", "devtrain", PARAMS)
    assert not (tmp_path / "new").exists()


def test_reader_errors_name_the_file(devtrain, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(devtrain.folder, copy)
    with pytest.raises(DataError) as info:
        mixing.read_mixture_list(copy, "devtrain", "cat", hint="make them first")
    assert str(info.value) == (f"the devtrain mixtures of 'cat' are not there ({copy}/meta/event_list_devtrain_cat.csv "
                               f"does not exist); make them first")
    event_list = mixing.event_list_path(copy, "devtrain", "dog")
    first = event_list.read_text().splitlines()[0].split("\t")[0]
    event_list.write_text(f"{first}\t0.5\t1.0\tbell\n")
    with pytest.raises(DataError) as info:
        mixing.read_mixture_list(copy, "devtrain", "dog")
    assert str(info.value) == f"{event_list}, line 1: event label 'bell' in the event list of class 'dog'"
    event_list.write_text("mixture_gone.wav\n")
    with pytest.raises(DataError) as info:
        mixing.read_mixture_list(copy, "devtrain", "dog")
    assert str(info.value) == f"{event_list} lists 'mixture_gone.wav', but {copy}/audio/mixture_gone.wav does not exist"
    assert mixing.mixture_classes(copy, "devtrain") == ["bell", "dog"]


@pytest.mark.parametrize("subset, split", [("devtrain", "train"), ("devtest", "test"), ("test", "test"),
                                           ("evaluate", "test"), ("devvalidate", "validate"), ("mine", "train")])
def test_subset_names_map_to_splits(subset, split):
    assert mixing.subset_split(subset) == split


def test_manifest_makes_a_rare_event_dataset(sources, tmp_path):
    out = tmp_path / "out"
    train = mixing.synthesize(*sources, out, "devtrain", PARAMS)
    manifest = mixing.update_manifest(out, train)
    assert mixing.manifest_splits(manifest) == {"train"}
    test = mixing.synthesize(*sources, out, "devtest", mixing.MixingParameters(
        mixtures_per_class=3, mixture_seconds=3.0, sample_rate=RATE, seed=3))
    again = mixing.update_manifest(out, test)
    assert again == manifest == out / "mixtures.csv" and mixing.manifest_splits(manifest) == {"train", "test"}
    rows = manifest.read_text().splitlines()
    assert rows[0] == "filename,onset,offset,event_label,split,target_class"
    mixing.update_manifest(out, train)  # synthesizing a subset again replaces its rows, in a fixed order
    assert manifest.read_text().splitlines() == rows

    dataset = dataset_class(manifest)()
    assert dataset.task == "rare events" and dataset.labels == ("bell", "dog")
    split = dataset.split("1")
    assert (len(split.train) + len(split.valid), len(split.test)) == (12, 6)
    for clip in split.train + split.valid + split.test:
        label = clip.clip_id.split("_")[2]
        assert clip.target_class == label and all(e.label == label for e in clip.events)
        assert clip.duration == pytest.approx(3.0)
    expected = {f"devtest/{test.folder.name}/audio/{audio.name}": events
                for label in ("bell", "dog") for audio, events in mixing.read_mixture_list(test.folder, "devtest", label)}
    assert {clip.clip_id: clip.events for clip in split.test} == expected


def test_cli_synthesize_end_to_end(sources, tmp_path):
    events, backgrounds = sources
    out = tmp_path / "mixtures"
    common = ["synthesize", "--events", str(events), "--backgrounds", str(backgrounds), "--out", str(out),
              "--mixture-seconds", "3", "--sample-rate", str(RATE), "--seed", "3"]
    first = run_cli([*common, "--mixtures-per-class", "6", "--ebr=-6,0,6"])
    assert first.returncode == 0, first.stderr
    folder = out / "devtrain" / PARAMS.hash
    manifest = out / "mixtures.csv"
    assert first.stdout.splitlines() == [
        f"devtrain: 12 mixtures of 3 s at {RATE} Hz, 6 with an event (EBR -6, 0, 6 dB, seed 3) -> {folder}",
        "  bell  6 mixtures, 3 events",
        "  dog   6 mixtures, 3 events",
        f"annotations: {folder / 'meta'}/event_list_devtrain_<class>.csv; recipes: mixture_recipes_devtrain_<class>.yaml "
        "and .csv next to them",
        f"resampled to {RATE} Hz: 3 source file(s) (the recipes' *_resampled_from give their rates)",
        f"manifest: {manifest}",
        "no test subset yet: synthesize one from other events and backgrounds with --subset devtest, then run a "
        f"system with: sedbench run --system crnn --dataset {manifest}",
    ]
    assert tree(folder) == tree(mixing.synthesize(events, backgrounds, tmp_path / "api", "devtrain", PARAMS).folder)
    second = run_cli([*common, "--subset", "devtest", "--mixtures-per-class", "2", "--event-presence", "1",
                      "--ebr", "-3"])
    assert second.returncode == 0, second.stderr
    assert second.stdout.splitlines()[0].startswith("devtest: 4 mixtures of 3 s at 16000 Hz, 4 with an event "
                                                    "(EBR -3 dB, seed 3) -> ")
    assert second.stdout.splitlines()[-1] == f"run a system on it: sedbench run --system crnn --dataset {manifest}"


def test_a_system_runs_on_the_manifest_as_rare_events(sources, tmp_path):
    from sedbench.pipeline.jobs import JobSpec, Locations
    from sedbench.pipeline.runner import run_job

    out = tmp_path / "out"
    for subset, count in (("devtrain", 6), ("devtest", 2)):
        parameters = mixing.MixingParameters(mixtures_per_class=count, mixture_seconds=3.0, sample_rate=RATE, seed=3)
        manifest = mixing.update_manifest(out, mixing.synthesize(*sources, out, subset, parameters))
    where = Locations(tmp_path / "data", tmp_path / "cache", tmp_path / "runs")
    record, _ = run_job(JobSpec(system="gmm", dataset=str(manifest), device="cpu", overrides={"components": "2", "max_iter": "5"}),
                        where, log=lambda _: None)
    record = record.to_json()
    assert {"ER_rare", "F1_rare"} <= set(record["headline"])
