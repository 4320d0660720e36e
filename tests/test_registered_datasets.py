"""Every registered corpus, loaded offline from a tiny fixture in its exact on-disk layout.

The parametrization walks the registry, so a newly registered dataset without a
builder in dataset_fixtures.BUILDERS fails here instead of going untested.
"""

import re
import shutil
import warnings
from pathlib import Path

import pytest
from dataset_fixtures import ABSENT, BUILDERS, TUT2016_SCENES, build_tut2017, build_tut_rare2017

from sedbench.core import registry
from sedbench.core.data import Event, LabelKind
from sedbench.core.dataset import COMPLETE_MARKER, DownloadedDataset
from sedbench.core.errors import DataError

GENERATED = {"synth", "synth-mini", "synth-rare", "synth-rare-mini", "synth-weak", "synth-weak-mini"}  # generated offline: test_synth*.py
NAMES = [name for name in registry.datasets.names() if name not in GENERATED]
TASKS = {"strong events", "clip tags", "rare events"}


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory):
    """name -> (dataset, expected), each fixture built once in its own data folder."""
    built = {}

    def get(name):
        if name not in built:
            data = tmp_path_factory.mktemp(name)
            expected = BUILDERS[name](data)
            built[name] = (registry.datasets.get(name)(data), expected)
        return built[name]

    return get


def quiet_split(dataset, fold):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # dcase2017-task4 warns about its clip without audio; tested below
        return dataset.split(fold)


def test_the_registered_corpora_are_there():
    assert set(NAMES) >= {"tut2016", "tut2016-eval", "tut-synth2016", "tut2017", "chime-home", "chime-home-eval",
                          "tut-rare2017", "dcase2017-task4", "tut2009", "itc-irst", "noiseme"}


@pytest.mark.parametrize("name", NAMES)
def test_every_registered_dataset_has_a_fixture_builder(name):
    assert name in BUILDERS, f"add a builder for {name!r} to tests/dataset_fixtures.py"


@pytest.mark.parametrize("name", NAMES)
def test_metadata_is_complete(name, fixtures):
    cls = registry.datasets.get(name)
    dataset, expected = fixtures(name)
    assert issubclass(cls, DownloadedDataset) and cls.name == name
    assert cls.description and cls.paper.citation and re.match(r"https?://\S+$", cls.paper.url)
    assert cls.license and cls.task in TASKS and isinstance(cls.label_kind, LabelKind)
    assert cls.folds == expected.folds
    assert len(dataset.labels) == expected.labels and len(set(dataset.labels)) == len(dataset.labels)
    if cls.remote_files:
        for remote in cls.remote_files:
            assert re.fullmatch(r"[0-9a-f]{32}", remote.md5), remote
            assert re.match(r"https?://\S+/[^/]+$", remote.url) and remote.size >= 0
        assert len({remote.name for remote in cls.remote_files}) == len(cls.remote_files)
    else:
        assert "dataset folder" in cls.manual_setup
        if name != "desed":  # the corpora without a published label list read it from labels.txt
            assert "labels.txt" in cls.manual_setup


def test_metadata_values():
    get = registry.datasets.get
    assert get("tut2016").labels == (
        "(object) banging", "(object) rustling", "(object) snapping", "bird singing", "car passing by",
        "children shouting", "cupboard", "cutlery", "dishes", "drawer", "glass jingling", "object impact",
        "people speaking", "people walking", "washing dishes", "water tap running", "wind blowing")
    assert get("tut2016").remote_files[2].md5 == "a6006efaa85bb69d5064b00c6802a8f8"
    assert get("tut2017").remote_files[3].size == 213232458
    assert get("chime-home").labels == ("child speech", "adult male speech", "adult female speech", "video game/tv",
                                        "percussive sound", "broadband noise", "other")
    assert (get("chime-home").label_kind, get("chime-home").task, get("chime-home").sample_rate) == (
        LabelKind.WEAK, "clip tags", 16000)
    assert (get("dcase2017-task4").label_kind, len(get("dcase2017-task4").remote_files)) == (LabelKind.WEAK, 8)
    assert all(not remote.extract for remote in get("dcase2017-task4").remote_files)
    assert (get("tut-rare2017").task, get("tut-rare2017").labels) == ("rare events", ("babycry", "glassbreak",
                                                                                      "gunshot"))
    assert len(get("tut-rare2017").remote_files) == 11
    assert [f.name for f in get("tut-synth2016").remote_files] == [
        "TUT-SED-synthetic-2016.meta.zip"] + [f"TUT-SED-synthetic-2016.audio.{n}.zip" for n in range(1, 6)]
    for manual in ("tut2009", "itc-irst", "noiseme"):
        assert get(manual).remote_files == () and get(manual).labels == ()  # the labels come from labels.txt


@pytest.mark.parametrize("name", NAMES)
def test_layout_is_complete(name, fixtures):
    dataset, _ = fixtures(name)
    assert dataset.is_present()
    assert dataset.check_layout() == []


@pytest.mark.parametrize("name", NAMES)
def test_layout_problem_is_named(name, tmp_path):
    expected = BUILDERS[name](tmp_path)
    relative, problem = expected.breaker
    target = tmp_path / relative
    shutil.rmtree(target) if target.is_dir() else target.unlink()
    assert registry.datasets.get(name)(tmp_path).check_layout() == [problem.format(data=tmp_path)]


@pytest.mark.parametrize("name", NAMES)
def test_every_fold_loads_with_the_fixture_events(name, fixtures):
    dataset, expected = fixtures(name)
    for fold in expected.folds:
        split = quiet_split(dataset, fold)
        parts = {"train": split.train, "valid": split.valid, "test": split.test}
        assert tuple(len(p) for p in parts.values()) == expected.sizes[fold], fold
        ids = [clip.clip_id for clips in parts.values() for clip in clips]
        assert len(ids) == len(set(ids)), f"fold {fold}: train / valid / test overlap"
        paths = [clip.path for clips in parts.values() for clip in clips]
        assert len(paths) == len(set(paths))
        for clip in split.train + split.valid + split.test:
            assert clip.path.is_file() and clip.duration == pytest.approx(expected.duration)
            assert sorted(clip.events) == sorted(expected.events[clip.clip_id]), clip.clip_id
            assert set(clip.label_set) <= set(dataset.labels)
            if expected.tags:
                assert clip.tags == expected.tags[clip.clip_id], clip.clip_id
            if dataset.label_kind is LabelKind.WEAK and clip in split.train:
                assert clip.events == []


@pytest.mark.parametrize("name", NAMES)
def test_absent_dataset_says_how_to_get_it(name, tmp_path):
    assert name in ABSENT, f"add the expected message for {name!r} to ABSENT in tests/dataset_fixtures.py"
    dataset = registry.datasets.get(name)(tmp_path)
    with pytest.raises(DataError) as info:
        dataset.prepare()
    message = str(info.value)
    assert message == ABSENT[name].format(root=dataset.root)
    with pytest.raises(DataError, match=re.escape(message)):
        dataset.split(dataset.folds[0])


def test_known_events_and_tags(fixtures):
    tut2016, _ = fixtures("tut2016")
    clips = {c.clip_id: c for c in tut2016.split("3").test}
    assert clips["TUT-sound-events-2016-development/audio/home/a032.wav"].events == [
        Event(0.1, 0.5, "cupboard"), Event(0.3, 0.9, "cutlery")]
    eval_set, _ = fixtures("tut2016-eval")
    clips = {c.clip_id: c for c in eval_set.split("1").test}  # decimal commas in the evaluation annotations
    assert clips["TUT-sound-events-2016-evaluation/audio/residential_area/a008.wav"].events == [
        Event(0.1, 0.5, "bird singing"), Event(0.3, 0.9, "car passing by")]
    chime, _ = fixtures("chime-home")
    tags = {Path(c.clip_id).name: c.tags for c in chime.split("1").test}
    assert tags == {"CR_lounge_220100_0731.s0_chunk0.16kHz.wav": ("child speech", "percussive sound"),
                    "CR_lounge_220100_0731.s0_chunk1.16kHz.wav": ("adult male speech",),
                    "CR_lounge_220101_0731.s1_chunk0.16kHz.wav": ("adult female speech", "video game/tv"),
                    "CR_lounge_220101_0731.s1_chunk1.16kHz.wav": ()}  # majority vote "S": no tag
    task4, _ = fixtures("dcase2017-task4")
    test = {Path(c.clip_id).name: c for c in quiet_split(task4, "1").test}
    screaming = test["Y-Qfk_Q2ctBs_30.000_40.000.wav"]
    assert (screaming.events, screaming.tags) == ([], ("Screaming",))  # a "0 0" row: present, untimed
    assert test["Y-E0shPRxAbo_30.000_40.000.wav"].events == [Event(0.1, 0.4, "Car"), Event(0.2, 0.7, "Train horn")]
    rare, _ = fixtures("tut-rare2017")
    test = {Path(c.clip_id).name.rsplit("_", 1)[0]: c.events for c in rare.split("1").test}
    assert test == {"mixture_devtest_babycry_000": [Event(0.25, 0.75, "babycry")], "mixture_devtest_babycry_001": [],
                    "mixture_devtest_glassbreak_000": [Event(0.25, 0.75, "glassbreak")],
                    "mixture_devtest_glassbreak_001": [],
                    "mixture_devtest_gunshot_000": [Event(0.25, 0.75, "gunshot")], "mixture_devtest_gunshot_001": []}


def test_tut2016_validation_is_20_percent_per_scene_and_deterministic(fixtures):
    dataset, _ = fixtures("tut2016")
    again = registry.datasets.get("tut2016")(dataset.data_dir)
    chosen = {}
    for fold in dataset.folds:
        split, repeat = dataset.split(fold), again.split(fold)
        assert [c.clip_id for c in split.valid] == [c.clip_id for c in repeat.valid]
        for scene, (recordings, fold_tests) in TUT2016_SCENES.items():
            tested = set(fold_tests[int(fold) - 1])
            official_train = {r for r in recordings if r not in tested}
            valid = {Path(c.clip_id).stem for c in split.valid if f"/{scene}/" in c.clip_id}
            train = {Path(c.clip_id).stem for c in split.train if f"/{scene}/" in c.clip_id}
            test = {Path(c.clip_id).stem for c in split.test if f"/{scene}/" in c.clip_id}
            assert test == tested and train | valid == official_train and not train & valid
            assert len(valid) == max(1, round(0.2 * len(official_train))) == 1
            if fold in ("1", "2"):
                assert len(valid) / len(official_train) == 0.2  # 1 of 5
            chosen[fold, scene] = valid
    # the draw is fixed across machines: a CRC-32 seed of dataset, fold and scene
    assert chosen == {("1", "home"): {"a031"}, ("1", "residential_area"): {"a005"},
                      ("2", "home"): {"a033"}, ("2", "residential_area"): {"a004"},
                      ("3", "home"): {"a034"}, ("3", "residential_area"): {"a002"},
                      ("4", "home"): {"a031"}, ("4", "residential_area"): {"a003"}}


def test_tut2016_eval_needs_the_development_set(tmp_path):
    BUILDERS["tut2016-eval"](tmp_path)
    (tmp_path / "tut2016" / COMPLETE_MARKER).unlink()
    dataset = registry.datasets.get("tut2016-eval")(tmp_path)
    with pytest.raises(DataError) as info:
        dataset.split("1")
    assert str(info.value) == (f"dataset 'tut2016-eval' trains on the development set, which is not in "
                               f"{tmp_path / 'tut2016'}; run `sedbench datasets fetch tut2016` to download it")


def test_tut2017_reads_a_copy_without_the_package_folder(tmp_path):
    expected = build_tut2017(tmp_path, flat=True)
    dataset = registry.datasets.get("tut2017")(tmp_path)
    assert dataset.check_layout() == []
    split = dataset.split("4")
    assert [c.clip_id for c in split.test] == ["audio/street/a004.wav", "audio/street/a005.wav"]
    assert split.test[1].events == expected.events["audio/street/a005.wav"]


def test_unknown_label_names_file_and_line(tmp_path):
    build_tut2017(tmp_path)
    annotation = tmp_path / "tut2017" / "TUT-sound-events-2017-development" / "meta" / "street" / "a002.ann"
    annotation.write_text("0.100000\t0.500000\tcar\n0.200000\t0.400000\ttram\n")
    with pytest.raises(DataError) as info:
        registry.datasets.get("tut2017")(tmp_path).split("1")
    assert str(info.value) == (
        f"{annotation}, line 2: label 'tram' is not in the label list of dataset 'tut2017' (brakes squeaking, car, "
        f"children, large vehicle, people speaking, people walking)")


def test_malformed_rows_name_file_and_line(tmp_path):
    build_tut2017(tmp_path)
    annotation = tmp_path / "tut2017" / "TUT-sound-events-2017-development" / "meta" / "street" / "a003.ann"
    annotation.write_text("0.1\t0.5\tcar\n0.9\t0.2\tcar\n")
    with pytest.raises(DataError, match=re.escape(f"{annotation}, line 2: offset 0.2 is before onset 0.9")):
        registry.datasets.get("tut2017")(tmp_path).split("2")


def test_chime_home_rejects_an_unknown_tag_code(tmp_path):
    BUILDERS["chime-home"](tmp_path)
    chunk = tmp_path / "chime-home" / "chime_home" / "chunks" / "CR_lounge_220100_0731.s0_chunk0.csv"
    chunk.write_text("segmentname,CR_lounge_220100_0731.s0\nmajorityvote,cx\n")
    with pytest.raises(DataError) as info:
        registry.datasets.get("chime-home")(tmp_path).split("2")
    assert str(info.value) == (f"{chunk}, line 2: unknown tag code 'x' in majority vote 'cx' "
                               f"(known: cmfvpbo, S, U)")


def test_chime_home_eval_shares_the_development_folder(tmp_path):
    development = registry.datasets.get("chime-home")(tmp_path)
    evaluation = registry.datasets.get("chime-home-eval")(tmp_path)
    assert evaluation.root == development.root == tmp_path / "chime-home"
    assert evaluation.remote_files == development.remote_files


def test_chime_home_validation_keeps_segments_whole(fixtures):
    dataset, _ = fixtures("chime-home")
    for fold in dataset.folds:
        split = dataset.split(fold)
        segments = [{c.clip_id.split("_chunk")[0] for c in part} for part in (split.train, split.valid, split.test)]
        assert not segments[0] & segments[1] and not segments[0] & segments[2] and not segments[1] & segments[2]
        assert (len(segments[1]), len(segments[2])) == (2, 2)


def test_rare_events_without_generated_mixtures_say_how_to_make_them(tmp_path):
    build_tut_rare2017(tmp_path, with_mixtures=False)
    dataset = registry.datasets.get("tut-rare2017")(tmp_path)
    assert dataset.check_layout() == []  # what fetch unpacks is complete
    with pytest.raises(DataError) as info:
        dataset.split("1")
    base = tmp_path / "tut-rare2017" / "TUT-rare-sound-events-2017-development"
    message = str(info.value)
    assert message.startswith(
        f"the devtrain mixtures of 'babycry' are not there ({base}/data/mixture_data/devtrain/"
        f"20b255387a2d0cddc0a3dff5014875e7/meta/event_list_devtrain_babycry.csv does not exist); generate them "
        f"with the official synthesizer shipped with the dataset: cd {base}/TUT_Rare_sound_events_mixture_synthesizer "
        f"&& python generate_devtrain_mixtures.py -data_path ../data -params mixing_params.yaml")


def test_rare_events_hold_out_one_fifth_of_each_class(fixtures):
    dataset, _ = fixtures("tut-rare2017")
    split = dataset.split("1")
    for label in dataset.labels:
        assert sum(f"_{label}_" in c.clip_id for c in split.valid) == 1
        assert sum(f"_{label}_" in c.clip_id for c in split.train) == 4
    for clip in split.train + split.valid + split.test:  # each mixture is scored on the class it was made for
        assert clip.target_class == Path(clip.clip_id).name.split("_")[2]


def test_dcase2017_task4_leaves_out_clips_without_audio(fixtures):
    dataset, _ = fixtures("dcase2017-task4")
    with pytest.warns(UserWarning, match=re.escape(
            f"dcase2017-task4: 5 of the 6 clips listed in {dataset.root / 'groundtruth_weak_label_training_set.csv'} "
            f"have audio in {dataset.root / 'audio'}; the other 1 are left out")):
        split = dataset.split("1")
    names = {Path(c.clip_id).name for c in split.train + split.valid}
    assert "Ygone_from_youtube_0.000_10.000.wav" not in names and len(names) == 5


def test_dcase2017_task4_without_audio_says_what_to_place(tmp_path):
    BUILDERS["dcase2017-task4"](tmp_path)
    shutil.rmtree(tmp_path / "dcase2017-task4" / "audio")
    dataset = registry.datasets.get("dcase2017-task4")(tmp_path)
    assert dataset.check_layout() == []  # the fetched label files are all there
    with pytest.raises(DataError) as info:
        dataset.split("1")
    assert str(info.value) == (f"dataset 'dcase2017-task4' has its labels in {dataset.root} but no audio in "
                               f"{dataset.root / 'audio'}: {dataset.manual_setup}")


def test_manual_corpus_reads_labels_from_labels_txt(fixtures, tmp_path):
    dataset, _ = fixtures("tut2009")
    assert dataset.labels == ("applause", "ball bouncing", "cheering", "footsteps", "speech", "whistle")
    BUILDERS["noiseme"](tmp_path)
    (tmp_path / "noiseme" / "labels.txt").write_text("speech\nmusic\nspeech\n")
    problem = f"{tmp_path / 'noiseme' / 'labels.txt'} lists label 'speech' more than once"
    noiseme = registry.datasets.get("noiseme")(tmp_path)
    assert noiseme.check_layout() == [problem]
    with pytest.raises(DataError, match=re.escape(problem)):
        noiseme.split("1")


def test_manual_corpus_check_layout_reads_every_listed_file(tmp_path):
    BUILDERS["itc-irst"](tmp_path)
    listed = tmp_path / "itc-irst" / "evaluation_setup" / "fold1_test.txt"
    listed.write_text(listed.read_text() + "audio/session3/missing.wav\n")
    problems = registry.datasets.get("itc-irst")(tmp_path).check_layout()
    assert problems == [f"{listed} lists 'audio/session3/missing.wav', but "
                        f"{tmp_path / 'itc-irst' / 'audio' / 'session3' / 'missing.wav'} does not exist"]


def test_wrong_fold_is_refused(fixtures):
    dataset, _ = fixtures("tut2017")
    with pytest.raises(DataError, match=re.escape("dataset 'tut2017' has folds 1, 2, 3, 4; got fold '5'")):
        dataset.split("5")



def test_dcase2017_task4_label_files_are_those_of_one_commit_and_exist_there():
    """The remote list points at one commit of the task's repository, with each file's size and md5 at that commit
    (checked against a mirror): README.txt was renamed README.md in 2017, and its old md5 was that of GitHub's
    404 page."""
    from sedbench.core import registry

    cls = registry.datasets.get("dcase2017-task4")
    commit = "96dc262e3869580c0ff4c4de622995a8e3573ad9"
    names = {remote.url.rsplit("/", 1)[1]: remote for remote in cls.remote_files}
    assert all(f"/{commit}/" in remote.url for remote in cls.remote_files)
    assert "README.txt" not in names
    assert (names["README.md"].size, names["README.md"].md5) == (10046, "fefe79c9f21b14ee3c8a958531d39b83")
    assert names["groundtruth_strong_label_testing_set.csv"].md5 == "da6079ac7c196c679b450cefdd0e8700"


@pytest.mark.parametrize("row, expected", [
    ("a.wav\t1,5\t2,25\tdog", ("a.wav", None, Event(1.5, 2.25, "dog"))),
    ("1,5\t2,25\tdog", (None, None, Event(1.5, 2.25, "dog"))),
    ("audio/street/a001.wav\tstreet\t1,5\t2,25\tcar\tm\ta001\r\n", ("audio/street/a001.wav", "street",
                                                                    Event(1.5, 2.25, "car"))),
    ("a.wav\thome\t3,0\t4,5\tcar", ("a.wav", "home", Event(3.0, 4.5, "car"))),
    ("a.wav 1,5 2,25 dog barking", ("a.wav", None, Event(1.5, 2.25, "dog barking"))),
    ("1,5 2,25 dog barking", (None, None, Event(1.5, 2.25, "dog barking"))),
    ("a.wav\t1.5\t2.0\tAir horn, truck horn", ("a.wav", None, Event(1.5, 2.0, "Air horn, truck horn"))),
])
def test_decimal_commas_are_read_in_every_dcase_row_format(row, expected):
    """As dcase_util reads them: in 3/4-column rows, the 5- and 7-column rows and whitespace-separated rows; a comma
    in a label stays."""
    from sedbench.datatools.annotations import parse_dcase_row

    assert parse_dcase_row(row, "meta.txt", 1) == expected


def test_tut2017_reads_its_published_seven_column_crlf_rows_with_a_zero_length_event(fixtures):
    dataset, _ = fixtures("tut2017")
    ann = next((dataset.base / "meta" / "street").glob("a001.ann"))
    raw = ann.read_bytes()
    assert raw.count(b"\r\n") == 3 and raw.split(b"\r\n")[0].count(b"\t") == 6
    clips = {Path(c.clip_id).stem: c for c in dataset.split("1").test + dataset.split("2").train}
    zero = [e for e in clips["a001"].events if e.onset == e.offset]
    assert zero == [Event(0.7, 0.7, "people walking")]
