"""Bad input through the public commands: one clear sentence each, no traceback, no partial record.

Every case runs `sedbench ...` in-process (``sedbench.cli.main`` with ``sys.argv`` set) and checks that

* the exit status is non-zero: 2 when the input is refused before any job starts (names, overrides, annotations,
  dataset layout), anything non-zero when the error arises inside a job (audio decoding, features, folds, devices);
* stderr holds the expected sentence, naming the offending file / line / value and what was expected, on exactly
  one line (before any job: the one ``error:`` line), and no traceback;
* no run record (``*.json`` outside hidden folders such as ``.jobs/``) and no ``*.tmp`` file is left behind.

Most cases are a small bring-your-own-data folder (``audio/f<i>.wav`` + ``meta/f<i>.ann``, 1 s at 8 kHz) with one
thing broken; each case function makes its bad input and returns the sentence it expects.
"""

from __future__ import annotations

import json
import re
import sys
import tarfile
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import test_fetch
from test_audio_formats import _wav_bytes
from test_fetch import Corpus, assert_nothing_installed, serve, special, tar_bytes, zip_bytes
from test_leaderboard import _events, _record

from sedbench import cli
from sedbench.core import registry
from sedbench.core.config import build_config
from sedbench.core.data import AudioClip
from sedbench.core.features import FeatureCache

RATE = 8000
QUICK = ("--set", "max_epochs=1", "--quiet")  # a case that reached training would stay short

# --------------------------------------------------------------------------- running the command line in-process


@dataclass
class Outcome:
    code: int | None  # exit status; None: an exception escaped sedbench.cli.main
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        return self.stderr.splitlines()


@pytest.fixture
def sedbench(monkeypatch, capsys, tmp_path):
    """``sedbench(*args)`` runs the console script's ``main()`` in this process; data and cache in tmp_path."""
    monkeypatch.setenv("SEDBENCH_DATA", str(tmp_path.resolve() / "data"))
    monkeypatch.setenv("SEDBENCH_CACHE", str(tmp_path.resolve() / "cache"))  # restored after --cache-dir sets it

    def invoke(*args) -> Outcome:
        monkeypatch.setattr(sys, "argv", ["sedbench", *map(str, args)])
        capsys.readouterr()
        escaped = ""
        try:
            cli.main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except Exception:  # a bug: reported by the assertions, with its traceback, rather than raised here
            code, escaped = None, traceback.format_exc()
        captured = capsys.readouterr()
        return Outcome(code, captured.out, captured.err + escaped)

    return invoke


def leftovers(*folders: Path) -> list[Path]:
    """Run records outside hidden folders (.jobs/, .grids/) and temporary files of any kind."""
    found = []
    for folder in folders:
        if not folder.exists():
            continue
        for path in folder.rglob("*"):
            hidden = any(part.startswith(".") for part in path.relative_to(folder).parts[:-1])
            if (path.suffix == ".json" and not hidden and not path.name.startswith(".")) or ".tmp" in path.name:
                found.append(path)
    return found


def _matches(line: str, expected: str | re.Pattern) -> bool:
    if isinstance(expected, re.Pattern):
        return expected.search(line) is not None
    return line.endswith(expected)


def assert_refused_before_any_job(outcome: Outcome, expected: str | re.Pattern, *folders: Path) -> None:
    """Exit 2, and stderr's only error line is ``error: <expected>`` (a pattern must match all of it)."""
    assert "Traceback" not in outcome.stderr, outcome.stderr
    assert outcome.code == 2, outcome.stderr
    errors = [line for line in outcome.lines if line.startswith("error:")]
    assert len(errors) == 1, outcome.stderr
    if isinstance(expected, re.Pattern):
        assert expected.fullmatch(errors[0][len("error: "):]), errors[0]
    else:
        assert errors[0] == f"error: {expected}"
    assert not any(re.match(r"== |\[\d+/\d+\] ", line) for line in outcome.lines), "a job was started"
    assert leftovers(*folders) == []


def assert_job_failed(outcome: Outcome, expected: str | re.Pattern, *folders: Path) -> None:
    """Non-zero exit, exactly one stderr line ends with the expected sentence, at most one error line."""
    assert "Traceback" not in outcome.stderr, outcome.stderr
    assert outcome.code not in (0, None), outcome.stderr
    assert len([line for line in outcome.lines if _matches(line, expected)]) == 1, outcome.stderr
    assert len([line for line in outcome.lines if line.startswith("error:")]) <= 1, outcome.stderr
    assert leftovers(*folders) == []


# --------------------------------------------------------------------------- a small folder dataset


def write_wav(path: Path, seconds: float = 1.0, seed: int = 0, subtype: str = "PCM_16", samples=None) -> Path:
    """Quiet noise (distinct per seed, so every file has its own content hash and feature cache entry)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if samples is None:
        samples = np.random.default_rng(seed).uniform(-0.1, 0.1, int(seconds * RATE)).astype(np.float32)
    sf.write(path, samples, RATE, subtype=subtype)
    return path


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def folder(tmp_path) -> Path:
    """A valid dataset: audio/f0..f2.wav (1 s each), meta/f0..f2.ann with one 'dog' event each."""
    root = tmp_path.resolve() / "mydata"
    for i in range(3):
        write_wav(root / "audio" / f"f{i}.wav", seed=i)
        write(root / "meta" / f"f{i}.ann", "0.1\t0.5\tdog\n")
    return root


@pytest.fixture
def runs(tmp_path) -> Path:
    return tmp_path.resolve() / "runs"


@dataclass
class Bad:
    message: str | re.Pattern  # the sentence stderr must hold
    dataset: Path | str | None = None  # what --dataset gets; None: the folder
    args: tuple = ()  # more command-line arguments


def run_on(sedbench, folder: Path, runs: Path, bad: Bad, system: str = "crnn") -> Outcome:
    dataset = folder if bad.dataset is None else bad.dataset
    return sedbench("run", "--system", system, "--dataset", dataset, "--runs-dir", runs, *QUICK, *bad.args)


# --------------------------------------------------------------------------- refused before any job (exit 2)

BEFORE_JOBS = []


def before_jobs(case):
    BEFORE_JOBS.append(case)
    return case


@before_jobs
def onset_after_offset(root):
    write(root / "meta" / "f1.ann", "0.1\t0.2\tdog\n1.5\t1.0\tdog\n")
    return Bad(f"{root / 'meta' / 'f1.ann'}, line 2: offset 1.0 is before onset 1.5")


@before_jobs
def negative_onset(root):
    write(root / "meta" / "f2.ann", "-0.5\t1.0\tdog\n")
    return Bad(f"{root / 'meta' / 'f2.ann'}, line 1: onset must be a number >= 0, got '-0.5'")


@before_jobs
def onset_not_a_number(root):
    write(root / "meta" / "f0.ann", "soon\t1.0\tdog\n")
    return Bad(f"{root / 'meta' / 'f0.ann'}, line 1: onset and offset must be numbers, got 'soon' and '1.0'")


@before_jobs
def row_without_its_label(root):
    write(root / "meta" / "f1.ann", "f1.wav\t0.1\t0.5\n")  # used to read as onset 'f1.wav'
    return Bad(f"{root / 'meta' / 'f1.ann'}, line 1: expected 'filename onset offset label' or 'onset offset label', "
               r"got 'f1.wav\t0.1\t0.5' (too few fields)")


@before_jobs
def row_with_only_an_onset(root):
    write(root / "meta" / "f2.ann", "0.1\t0.5\tdog\n0.7\n")  # used to read as a row naming an audio file '0.7'
    return Bad(f"{root / 'meta' / 'f2.ann'}, line 2: expected 'filename onset offset label' or 'onset offset label', "
               "got '0.7' (too few fields)")


@before_jobs
def combined_list_row_without_offset_and_label(root):
    write(root / "meta.txt", "audio/f0.wav\t0.1\t0.5\tdog\naudio/f1.wav\t0.2\naudio/f2.wav\n")  # used to be scene '0.2'
    return Bad(f"{root / 'meta.txt'}, line 2: expected 'filename onset offset label' or 'onset offset label', "
               r"got 'audio/f1.wav\t0.2' (too few fields)")


@before_jobs
def nan_offset(root):
    write(root / "meta" / "f1.ann", "0.1\tnan\tdog\n")
    return Bad(f"{root / 'meta' / 'f1.ann'}, line 1: offset must be a finite number, got 'nan'")


@before_jobs
def infinite_onset_and_offset(root):
    write(root / "meta" / "f2.ann", "inf\tinf\tdog\n")
    return Bad(f"{root / 'meta' / 'f2.ann'}, line 1: onset must be a finite number, got 'inf'")


@before_jobs
def annotation_file_not_in_utf8(root):
    (root / "meta" / "f2.ann").write_bytes("0.1\t0.2\tdog\n0.3\t0.4\tcaf\u00e9 noise\n".encode("latin-1"))
    return Bad(f"{root / 'meta' / 'f2.ann'}, line 2: byte 0xe9 (column 12) is not UTF-8 text; save the file as UTF-8")


@before_jobs
def manifest_not_in_utf8(root):
    manifest = root / "list.csv"
    manifest.write_bytes("filename,onset,offset,event_label\naudio/f0.wav,0,1,b\u00e9b\u00e9\n".encode("cp1252"))
    return Bad(f"{manifest}, line 2: byte 0xe9 (column 19) is not UTF-8 text; save the file as UTF-8",
               dataset=manifest)


@before_jobs
def unknown_label(root):
    write(root / "labels.txt", "cat\ndog\n")
    write(root / "meta" / "f2.ann", "0.1\t0.2\tdog\n0.3\t0.4\tunicorn\n")
    return Bad(f"{root / 'meta' / 'f2.ann'}, line 2: label 'unicorn' is not in {root / 'labels.txt'} (cat, dog)")


@before_jobs
def label_listed_twice(root):
    write(root / "labels.txt", "dog\ncat\ndog\n")
    return Bad(f"{root / 'labels.txt'}, line 3: label 'dog' is listed twice")


@before_jobs
def empty_combined_annotation_list(root):
    write(root / "meta.txt", "# filename\tonset\toffset\tlabel\n\n")  # used to blame audio/f0.wav for it
    return Bad(f"{root / 'meta.txt'} lists no audio files; expected one row 'filename onset offset label' per event, "
               "or a lone filename for a file without events")


@before_jobs
def annotations_without_any_event(root):
    for ann in (root / "meta").glob("*.ann"):
        write(ann, "")  # an empty annotation file is a file without events; with no events at all, no labels
    return Bad(f"the annotations in {root} contain no events, so there are no labels; add events or a labels.txt "
               "listing the labels")


@before_jobs
def audio_without_annotation(root):
    (root / "meta" / "f1.ann").unlink()
    return Bad(f"audio file {root / 'audio' / 'f1.wav'} has no annotation: no .ann / .txt file with its name next "
               "to it or under meta/ or annotations/")


@before_jobs
def annotation_without_audio(root):
    write(root / "meta" / "f7.ann", "0.1\t0.2\tdog\n")
    return Bad(f"annotation file {root / 'meta' / 'f7.ann'} belongs to no audio file (expected f7.wav or f7.flac "
               f"in {root})")


@before_jobs
def folder_without_audio(root):
    for wav in (root / "audio").glob("*.wav"):
        wav.unlink()
    return Bad(f"{root} contains no audio files (.wav, .flac in any sub-folder)")


@before_jobs
def same_file_name_in_two_folders(root):
    write_wav(root / "extra" / "f1.wav", seed=9)  # audio/f1.wav and extra/f1.wav
    write(root / "meta.txt", "audio/f0.wav\t0.1\t0.5\tdog\nf1.wav\t0.1\t0.5\tdog\naudio/f2.wav\nextra/f1.wav\n")
    return Bad(f"{root / 'meta.txt'}, line 2: f1.wav matches 2 audio files (audio/f1.wav, extra/f1.wav); give its "
               f"path relative to {root}")


@before_jobs
def one_annotation_for_a_wav_and_a_flac(root):
    write_wav(root / "audio" / "f1.flac", seed=5)  # f1.wav and f1.flac share the stem of meta/f1.ann
    return Bad(f"annotation file {root / 'meta' / 'f1.ann'} matches 2 audio files (audio/f1.flac, audio/f1.wav); "
               "give each a unique name or mirror the audio sub-folders")


@before_jobs
def recording_in_both_test_and_training(root):
    write(root / "evaluation_setup" / "fold1_train.txt", "audio/f0.wav\naudio/f1.wav\n")
    write(root / "evaluation_setup" / "fold1_test.txt", "audio/f1.wav\naudio/f2.wav\n")
    setup = root / "evaluation_setup"
    return Bad(f"audio/f1.wav is in both {setup / 'fold1_train.txt'} and {setup / 'fold1_test.txt'} (fold 1): a test "
               "recording must not be trained on")


def _f3_tested_beside(root, original: str) -> Bad:
    """audio/f3.wav (the same audio as ``original``) in fold 1's test list, f0 and f1 in its training list."""
    write(root / "meta" / "f3.ann", "0.1\t0.5\tdog\n")
    write(root / "evaluation_setup" / "fold1_train.txt", "audio/f0.wav\naudio/f1.wav\n")
    write(root / "evaluation_setup" / "fold1_test.txt", "audio/f2.wav\naudio/f3.wav\n")
    return Bad(re.compile(rf"audio/f3\.wav \(test\) has the same audio content as audio/{original}\.wav "
                          r"\((train|validate)\) in fold 1 \(sha256 [0-9a-f]{12}\): a recording must be in one "
                          r"partition only; remove the copy or list it in one partition$"))


@before_jobs
def a_copy_of_a_training_recording_in_the_test_list(root):
    import shutil

    shutil.copyfile(root / "audio" / "f0.wav", root / "audio" / "f3.wav")  # byte-identical, another name
    return _f3_tested_beside(root, "f0")


@before_jobs
def a_link_to_a_training_recording_in_the_test_list(root):
    (root / "audio" / "f3.wav").symlink_to(root / "audio" / "f1.wav")
    return _f3_tested_beside(root, "f1")


@before_jobs
def empty_manifest(root):
    manifest = root / "list.csv"
    manifest.write_bytes(b"")
    return Bad(f"manifest {manifest} is empty; expected the columns filename, onset, offset, event_label and "
               "optionally split, fold, scene, target_class", dataset=manifest)


@before_jobs
def manifest_with_an_unknown_column(root):
    manifest = write(root / "list.csv", "filename,onset,offset,event_label,sene\naudio/f0.wav,0,1,dog,home\n")
    return Bad(f"{manifest}, line 1: unknown column 'sene'; expected the columns filename, onset, offset, "
               "event_label and optionally split, fold, scene, target_class", dataset=manifest)


@before_jobs
def manifest_row_with_a_missing_field(root):
    manifest = write(root / "list.csv", "filename,onset,offset,event_label\naudio/f0.wav,0,1,dog\naudio/f1.wav,0,1\n")
    return Bad(f"{manifest}, line 3: expected 4 comma-separated fields (filename, onset, offset, event_label), got 3",
               dataset=manifest)


@before_jobs
def dataset_path_that_is_not_a_manifest(root):
    notes = write(root / "notes.tsv", "f0.wav\t0.1\t0.5\tdog\n")
    return Bad(f"dataset path {notes} is a file but not a CSV manifest (.csv); give a folder or a manifest",
               dataset=notes)


@before_jobs
def dataset_path_that_does_not_exist(root):
    return Bad(f"dataset folder or manifest {root / 'nowhere' / 'list.csv'} does not exist",
               dataset=root / "nowhere" / "list.csv")


@before_jobs
def unknown_dataset_name(root):
    return Bad(re.compile(r"unknown dataset 'synth-typo'; registered datasets: .*\bsynth\b.*; or give the path of a "
                          r"dataset folder or CSV manifest \(no file or folder 'synth-typo' exists\)"),
               dataset="synth-typo")


@before_jobs
def override_of_the_wrong_type(root):
    return Bad("setting 'max_epochs' expects int, got 'ten'", args=("--set", "max_epochs=ten"))


@before_jobs
def unknown_override_key(root):
    return Bad(re.compile(r"unknown setting 'max_epoch' for CRNNConfig; settings: .*\bmax_epochs\b.*"),
               args=("--set", "max_epoch=3"))


# Each passed the type check and then failed inside the job with a traceback, or (the last two) trained nonsense.
OUT_OF_RANGE = [
    ("crnn", "pool_sizes=(3,3,3)", "setting 'pool_sizes' must pool the 40 mel bands evenly (its product must divide "
                                   "n_mels), got (3, 3, 3)"),
    ("crnn", "kernel_size=(4,4)", "setting 'kernel_size' must be two odd sizes (frequency, time), got (4, 4)"),
    ("crnn", "conv_maps=-3", "setting 'conv_maps' must be >= 1, got -3"),
    ("crnn", "pool_sizes=(5,0,2)", "every value of setting 'pool_sizes' must be >= 1, got (5, 0, 2)"),
    ("crnn", "dropout=1.5", "setting 'dropout' must be between 0 and 1, got 1.5"),
    ("crnn", "batch_size=0", "setting 'batch_size' must be >= 1, got 0"),
    ("crnn", "learning_rate=0", "setting 'learning_rate' must be > 0, got 0.0"),
    ("crnn", "sequence_frames=0", "setting 'sequence_frames' must be >= 1, got 0"),
    ("crnn", "precision=fp8", "setting 'precision' must be one of fp32, bf16, fp16, got 'fp8'"),
    ("fnn", "context_frames=4", "setting 'context_frames' must be odd (a centred context), got 4"),
    ("fnn", "hidden_units=33", "setting 'hidden_units' must be a multiple of maxout_pool (2), got 33"),
    ("crnn", "max_epochs=0", "setting 'max_epochs' must be >= 1, got 0"),
    ("crnn", "threshold=2", "setting 'threshold' must be between 0 and 1, got 2.0"),
]


@pytest.mark.parametrize("system, override, message", OUT_OF_RANGE, ids=[f"{s}-{o}" for s, o, _ in OUT_OF_RANGE])
def test_override_outside_its_range_is_refused_before_any_job(system, override, message, folder, runs, sedbench):
    outcome = run_on(sedbench, folder, runs, Bad(message, args=("--set", override)), system=system)
    assert_refused_before_any_job(outcome, message, runs, folder)


@before_jobs
def override_without_a_value(root):
    return Bad("--set expects key=value, got 'max_epochs'", args=("--set", "max_epochs"))


@before_jobs
def sweep_repeating_a_value(root):
    return Bad("--sweep lists value '2' of setting 'rnn_units' twice", args=("--sweep", "rnn_units=2,4,2"))


@before_jobs
def unknown_profile(root):
    return Bad("system 'crnn' has no profile 'huge'; profiles: paper, quick", args=("--profile", "huge"))


@before_jobs
def truncated_wav(root):
    wav = root / "audio" / "f1.wav"
    data = wav.read_bytes()  # 8000 PCM_16 samples: a 16000-byte data chunk at the end of the file
    wav.write_bytes(data[:-6000])
    return Bad(f"audio file {wav} is truncated: its header declares 16000 bytes of audio but only 10000 are present")


@before_jobs
def zero_byte_wav(root):
    wav = root / "audio" / "f2.wav"
    wav.write_bytes(b"")
    return Bad(f"audio file {wav} is empty (0 bytes)")


@before_jobs
def text_file_named_wav(root):
    wav = root / "audio" / "f0.wav"
    wav.write_text("filename\tonset\toffset\tevent_label\n")
    return Bad(re.compile(rf"audio file {re.escape(str(wav))} is not readable audio \(.+\)$"))


@before_jobs
def unsupported_sample_format(root):
    wav = root / "audio" / "f1.wav"
    wav.write_bytes(_wav_bytes(0x0055, 0))  # an MP3 stream in a WAV container: libsndfile cannot decode it
    return Bad(f"audio file {wav} uses an unsupported sample format (WAV format tag 0x0055 (MPEG Layer III), 0 bits "
               "per sample); convert it to 16/24-bit PCM or 32-bit float WAV, or FLAC")


@before_jobs
def event_past_the_end_of_its_audio(root):
    write(root / "meta" / "f1.ann", "0.1\t0.2\tdog\n0.5\t1.5\tdog\n")
    return Bad(f"{root / 'meta' / 'f1.ann'}, line 2: event 'dog' ends at 1.5 s, after the end of audio/f1.wav "
               "(1.000 s)")


@before_jobs
def unknown_fold(root):
    return Bad("dataset 'folder:mydata' has no fold '7'; folds: 1", args=("--fold", "7"))


@before_jobs
def unknown_metrics_backend(root):
    return Bad("unknown metrics backend 'slow'; choose one of fast, sed_eval", args=("--metrics-backend", "slow"))


@before_jobs
def unknown_device(root):
    return Bad("--device must be auto, cpu or cuda, got 'tpu'", args=("--device", "tpu"))


@pytest.mark.parametrize("case", BEFORE_JOBS, ids=lambda case: case.__name__)
def test_refused_before_any_job(case, folder, runs, sedbench):
    bad = case(folder)
    outcome = run_on(sedbench, folder, runs, bad)
    assert_refused_before_any_job(outcome, bad.message, runs, folder)


def test_unknown_system_name(folder, runs, sedbench):
    outcome = sedbench("run", "--system", "crnnn", "--dataset", folder, "--runs-dir", runs, *QUICK)
    assert_refused_before_any_job(outcome, re.compile(r"unknown system 'crnnn'; registered systems: .*\bcrnn\b.*"),
                                  runs)


# --------------------------------------------------------------------------- failing inside a job (exit != 0)

IN_JOB = []


def in_job(case):
    IN_JOB.append(case)
    return case


@in_job
def nan_samples_in_a_float_wav(root):
    samples = np.full(RATE, 0.05, np.float32)
    samples[1234] = np.nan
    wav = write_wav(root / "audio" / "f2.wav", samples=samples, subtype="FLOAT")
    return Bad(f"audio file {wav} contains NaN or infinite samples")


def cached_feature_file(root: Path, wav: Path) -> Path:
    """Where the quick CRNN's log-mel features of ``wav`` are cached (the sedbench fixture's cache folder)."""
    crnn = registry.systems.get("crnn")
    spec = crnn.features(build_config(crnn, "quick"))
    clip = AudioClip(clip_id=wav.relative_to(root).as_posix(), path=wav, events=[], duration=1.0)
    path = FeatureCache(root.parent / "cache").path_for(clip, spec)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


@in_job
def cached_features_with_nan(root):
    wav = root / "audio" / "f1.wav"
    cached = cached_feature_file(root, wav)
    features = np.zeros((51, 40), np.float32)
    features[7, 3] = np.nan
    np.save(cached, features)
    return Bad(f"cached features {cached} of audio file {wav} contain NaN or infinite values; delete the file so that "
               "they are extracted again")


@in_job
def damaged_cached_feature_file(root):
    wav = root / "audio" / "f0.wav"
    cached = cached_feature_file(root, wav)
    cached.write_bytes(b"\x93NUMPY\x01\x00garbage")  # used to be a ValueError traceback from numpy
    return Bad(re.compile(rf"cached features {re.escape(str(cached))} of audio file {re.escape(str(wav))} cannot be "
                          r"read \(.+\); delete the file so that they are extracted again$"))


@pytest.mark.parametrize("case", IN_JOB, ids=lambda case: case.__name__)
def test_failing_job_reports_one_sentence_and_writes_no_record(case, folder, runs, tmp_path, sedbench):
    bad = case(folder)
    outcome = run_on(sedbench, folder, runs, bad)
    assert_job_failed(outcome, bad.message, runs, folder, tmp_path / "cache")


# --------------------------------------------------------------------------- the grid runner: system output, run
# directory, record writing, checkpoints


@pytest.fixture
def fake_system(monkeypatch):
    from test_grid import FakeSystem

    monkeypatch.setitem(registry.systems._entries, "fake", FakeSystem)
    return FakeSystem


@pytest.mark.parametrize("mode, message", [
    ("nan", re.compile(r"FAILED: system 'fake' on audio/f\d\.wav: output contains NaN or infinite values$")),
    ("shape", re.compile(r"FAILED: system 'fake' on audio/f\d\.wav: expected probabilities of shape \(frames, 1\), "
                         r"got \(\d+, 0\)$")),
])
def test_bad_system_output_fails_its_job(mode, message, fake_system, folder, runs, tmp_path, sedbench):
    outcome = sedbench("run", "--system", "fake", "--dataset", folder, "--set", f"mode={mode}", "--runs-dir", runs,
                       "--quiet")
    assert_job_failed(outcome, message, runs, folder, tmp_path / "cache")
    assert outcome.code == 1


def test_a_grid_file_with_an_unknown_system(folder, runs, tmp_path, sedbench):
    grid = write(tmp_path / "grid.toml", f'systems = ["crnn", "crnm"]\ndatasets = ["{folder}"]\n')
    outcome = sedbench("run", "--grid", grid, "--runs-dir", runs)
    assert_refused_before_any_job(outcome, re.compile(
        rf"grid file {re.escape(str(grid))}: unknown system 'crnm'; registered systems: .*\bcrnn\b.*"), runs)


def test_a_read_only_run_directory(folder, tmp_path, sedbench):
    import os

    if os.geteuid() == 0:  # root writes through file modes: use a folder on a read-only file system instead
        runs = Path("/sys/sedbench-runs")
    else:
        runs = tmp_path / "runs"
        runs.mkdir()
        runs.chmod(0o555)
    outcome = sedbench("run", "--system", "crnn", "--dataset", folder, "--runs-dir", runs, *QUICK)
    assert_refused_before_any_job(outcome, re.compile(
        rf"run directory {re.escape(str(runs))} is not writable \((Permission denied|Operation not permitted|"
        r"Read-only file system)\); choose another with --runs-dir"), tmp_path)
    assert not runs.exists() or not any(runs.iterdir())


def test_a_full_disk_while_the_record_is_written(fake_system, folder, runs, tmp_path, sedbench, monkeypatch):
    import errno
    import json as json_module

    real_dump = json_module.dump

    def dump_then_disk_full(obj, out, **kwargs):
        if "headline" not in obj:  # job states are bookkeeping; the record is what must not be half-written
            return real_dump(obj, out, **kwargs)
        out.write('{"schema_version": 1, "headline": {')  # part of it reached the disk
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("sedbench.pipeline.record.json.dump", dump_then_disk_full)
    outcome = sedbench("run", "--system", "fake", "--dataset", folder, "--runs-dir", runs, "--quiet")
    assert_job_failed(outcome, re.compile(rf"FAILED: cannot write run record {re.escape(str(runs))}/folder:mydata/fake/"
                                          r"fold1/\w+-\w+-seed0\.json: No space left on device \(the disk is "
                                          r"full\)$"), runs, folder)
    assert outcome.code == 1


def _disk_full_once(monkeypatch, target: str, partial: bytes):
    """``target`` writes ``partial`` to its file argument and fails with ENOSPC until the test frees space."""
    import errno

    def write_then_disk_full(obj, file, *args, **kwargs):
        file.write(partial)  # part of it reached the disk
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(target, write_then_disk_full)


def test_a_full_disk_while_a_checkpoint_is_saved(folder, runs, tmp_path, sedbench, monkeypatch):
    _disk_full_once(monkeypatch, "torch.save", b"PK\x03\x04")
    two_epochs = ("--set", "max_epochs=2", "--set", "patience=5", "--quiet")  # the first epoch saves one
    outcome = sedbench("run", "--system", "crnn", "--dataset", folder, "--runs-dir", runs, *two_epochs)
    assert_job_failed(outcome, re.compile(
        rf"FAILED: cannot write checkpoint {re.escape(str(runs))}/\.jobs/\w+/checkpoint\.pt: No space left on device "
        r"\(the disk is full\); free space \(or choose another --runs-dir\) and run again to resume from the last "
        r"checkpoint saved$"), runs, folder)
    assert "raised" not in outcome.stderr
    assert not [p for p in runs.rglob("*") if p.name.startswith(".checkpoint.pt") or p.suffix in (".pt", ".json")]
    monkeypatch.undo()  # space freed: the same command runs
    outcome = sedbench("run", "--system", "crnn", "--dataset", folder, "--runs-dir", runs, *two_epochs)
    assert outcome.code == 0 and len(list(runs.rglob("*-seed0.json"))) == 1, outcome.stderr


def test_a_full_disk_while_the_outputs_are_stored(fake_system, folder, runs, tmp_path, sedbench, monkeypatch):
    import zipfile

    real_writestr = zipfile.ZipFile.writestr

    def writestr_then_disk_full(archive, info, data, *args, **kwargs):
        real_writestr(archive, info, data, *args, **kwargs)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(zipfile.ZipFile, "writestr", writestr_then_disk_full)
    outcome = sedbench("run", "--system", "fake", "--dataset", folder, "--runs-dir", runs, "--quiet")
    assert_job_failed(outcome, re.compile(
        rf"FAILED: cannot write the outputs {re.escape(str(runs))}/folder:mydata/fake/fold1/(\w+-\w+-seed0)"
        r"\.outputs\.zip of run record \S+/\1\.json: No space left on device \(the disk is full\)$"), runs, folder)
    assert not [p for p in runs.rglob("*") if p.is_file() and not any(q.startswith(".") for q in
                                                                      p.relative_to(runs).parts)]
    assert not list(runs.rglob(".*.tmp"))
    monkeypatch.setattr(zipfile.ZipFile, "writestr", real_writestr)  # space freed: the same command runs
    outcome = sedbench("run", "--system", "fake", "--dataset", folder, "--runs-dir", runs, "--quiet")
    assert outcome.code == 0, outcome.stderr
    assert len(list(runs.rglob("*-seed0.json"))) == 1 and len(list(runs.rglob("*-seed0.outputs.zip"))) == 1


def test_a_full_disk_while_features_are_cached(fake_system, folder, runs, tmp_path, sedbench, monkeypatch):
    import errno

    def save_then_disk_full(file, array, *args, **kwargs):
        Path(file).write_bytes(b"\x93NUMPY")  # part of it reached the disk
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("sedbench.core.features.np.save", save_then_disk_full)
    outcome = sedbench("run", "--system", "fake", "--dataset", folder, "--runs-dir", runs, "--cache-dir",
                       tmp_path / "cache", "--quiet")
    assert_job_failed(outcome, re.compile(
        rf"FAILED: cannot write the feature cache file {re.escape(str(tmp_path / 'cache'))}/features/\S+\.npy: No "
        r"space left on device \(the disk is full\); free space or choose another --cache-dir \(\$SEDBENCH_CACHE\), "
        r"then run again$"), runs, folder)
    assert "raised" not in outcome.stderr
    assert not [p for p in (tmp_path / "cache").rglob("*.npy")]  # no temporary or half-written cache file left


def _checkpoint_of_the_job(folder: Path, runs: Path, tmp_path: Path) -> Path:
    """Where `sedbench run --system crnn --dataset FOLDER --set max_epochs=1` keeps its checkpoint."""
    from sedbench.pipeline.grid import plan
    from sedbench.pipeline.jobs import JobSpec, Locations
    from sedbench.pipeline.jobstore import JobStore

    where = Locations(data_dir=tmp_path.resolve() / "data", cache_dir=tmp_path.resolve() / "cache", runs_dir=runs)
    (job,) = plan([JobSpec("crnn", str(folder), overrides={"max_epochs": "1"})], where)
    path = JobStore(runs).checkpoints(job.key.id).path
    path.parent.mkdir(parents=True)
    return path


def test_a_corrupted_checkpoint(folder, runs, tmp_path, sedbench):
    checkpoint = _checkpoint_of_the_job(folder, runs, tmp_path)
    checkpoint.write_bytes(b"PK\x03\x04" + b"\x00" * 200)  # a zip header and nothing after it
    outcome = sedbench("run", "--system", "crnn", "--dataset", folder, "--runs-dir", runs, *QUICK)
    assert_job_failed(outcome, re.compile(rf"FAILED: checkpoint {re.escape(str(checkpoint))} cannot be read \(.+\); "
                                          r"delete it to restart this job from scratch$"), runs, folder)


def test_a_checkpoint_with_pickled_code_is_refused(folder, runs, tmp_path, sedbench):
    import io
    import os

    import torch

    marker = tmp_path / "code-ran"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    checkpoint = _checkpoint_of_the_job(folder, runs, tmp_path)
    buffer = io.BytesIO()
    torch.save({"epoch": 1, "model": Payload()}, buffer)
    checkpoint.write_bytes(buffer.getvalue())
    outcome = sedbench("run", "--system", "crnn", "--dataset", folder, "--runs-dir", runs, *QUICK)
    assert_job_failed(outcome, f"FAILED: checkpoint {checkpoint} holds pickled code or objects (posix.system), not "
                               "only tensors and plain values; refused to load it (weights_only=True); delete it to "
                               "restart this job from scratch", runs, folder)
    assert not marker.exists()


def _bound_checkpoint(folder: Path, runs: Path, tmp_path: Path, epoch: int, model: dict | None = None,
                      **job_changes) -> Path:
    """A checkpoint in the job's folder, naming the job (with ``job_changes``) as `bind` does."""
    from dataclasses import asdict

    import torch

    from sedbench import __version__
    from sedbench.pipeline.checkpoints import rng_state
    from sedbench.pipeline.grid import plan
    from sedbench.pipeline.jobs import JobSpec, Locations

    where = Locations(data_dir=tmp_path.resolve() / "data", cache_dir=tmp_path.resolve() / "cache", runs_dir=runs)
    (job,) = plan([JobSpec("crnn", str(folder), overrides={"max_epochs": "1"})], where)
    path = _checkpoint_of_the_job(folder, runs, tmp_path)
    identity = {**asdict(job.key), "sedbench_version": __version__, **job_changes}
    torch.save({"epoch": epoch, "model": model or {}, "rng": rng_state(), "job": identity}, path)
    return path


def test_a_checkpoint_of_another_config_is_refused(folder, runs, tmp_path, sedbench):
    # same system, data, fold and seed, another learning rate: the shapes fit, the settings do not
    checkpoint = _bound_checkpoint(folder, runs, tmp_path, 1, config_hash="0123456789ab")
    outcome = sedbench("run", "--system", "crnn", "--dataset", folder, "--runs-dir", runs, *QUICK)
    assert_job_failed(outcome, re.compile(
        rf"FAILED: checkpoint {re.escape(str(checkpoint))} belongs to another job \(config_hash '0123456789ab', not "
        r"'\w{12}'\); refused to resume from it: delete it to start this job over$"), runs, folder)


def test_a_checkpoint_of_another_sedbench_version_or_without_its_job_is_refused(folder, runs, tmp_path, sedbench):
    checkpoint = _bound_checkpoint(folder, runs, tmp_path, 1, sedbench_version="0.0.1")
    outcome = sedbench("run", "--system", "crnn", "--dataset", folder, "--runs-dir", runs, *QUICK)
    assert_job_failed(outcome, re.compile(rf"FAILED: checkpoint {re.escape(str(checkpoint))} belongs to another job "
                                          r"\(sedbench_version '0\.0\.1', not '.+'\); refused"), runs, folder)
    import torch

    from sedbench.pipeline.checkpoints import rng_state

    torch.save({"epoch": 1, "model": {}, "rng": rng_state()}, checkpoint)  # written before checkpoints named jobs
    outcome = sedbench("run", "--system", "crnn", "--dataset", folder, "--runs-dir", runs, *QUICK)
    assert_job_failed(outcome, f"FAILED: checkpoint {checkpoint} does not name the job that wrote it (an older "
                               "sedbench wrote it); refused to resume from it: delete it to start this job over",
                      runs, folder)


def test_a_checkpoint_past_the_epoch_budget_is_refused(folder, runs, tmp_path, sedbench):
    checkpoint = _bound_checkpoint(folder, runs, tmp_path, 7)
    outcome = sedbench("run", "--system", "crnn", "--dataset", folder, "--runs-dir", runs, *QUICK)
    assert_job_failed(outcome, f"FAILED: checkpoint {checkpoint} is at epoch 7, beyond this job's budget of 1 "
                               "epochs; delete it to start this job over", runs, folder)


def test_a_checkpoint_that_cannot_be_restored_is_a_checkpoint_problem_not_a_system_bug(folder, runs, tmp_path,
                                                                                      sedbench):
    import torch

    checkpoint = _bound_checkpoint(folder, runs, tmp_path, 0, model={"no.such.layer": torch.zeros(3)})
    outcome = sedbench("run", "--system", "crnn", "--dataset", folder, "--runs-dir", runs, *QUICK)
    assert_job_failed(outcome, re.compile(
        rf"FAILED: resuming from checkpoint {re.escape(str(checkpoint))} \(after epoch 0\) failed \(\w+: .*\); it "
        r"does not fit this system's code: delete it to start this job over$"), runs, folder)
    assert "system 'crnn' raised" not in outcome.stderr


def test_a_job_that_a_live_process_runs_is_skipped_not_taken_over(folder, runs, tmp_path, sedbench):
    """This test's process holds the job, as a first `sedbench run` would; a second one says so in one line,
    skips the job and leaves the first one's checkpoint and half-written files alone."""
    import os
    import socket

    from sedbench.pipeline.jobstore import job_lock

    checkpoint = _checkpoint_of_the_job(folder, runs, tmp_path)
    half_written = checkpoint.with_name(f".{checkpoint.name}.abc123.tmp")
    half_written.write_bytes(b"being written")
    with job_lock(checkpoint.parent) as holder:
        assert holder is None
        outcome = sedbench("run", "--system", "crnn", "--dataset", folder, "--runs-dir", runs, *QUICK)
    assert outcome.code == 0 and "Traceback" not in outcome.stderr, outcome.stderr
    holder_name = f"{os.getpid()}@{socket.gethostname()}"
    assert [line for line in outcome.lines if "is running this job" in line] == [
        f"[1/1] crnn on folder:mydata, fold 1, seed 0, profile quick, max_epochs=1: process {holder_name} is running "
        "this job; skipped it (its checkpoint and record are that process's), run again once it has ended"]
    assert "0 run, 0 already done, 1 running in another process, 0 failed" in outcome.stderr
    assert half_written.read_bytes() == b"being written" and not list(runs.rglob("*seed0.json"))
    # once that process has let go, the job runs
    outcome = sedbench("run", "--system", "crnn", "--dataset", folder, "--runs-dir", runs, *QUICK)
    assert outcome.code == 0 and len(list(runs.rglob("*-seed0.json"))) == 1


# --------------------------------------------------------------------------- archives (sedbench datasets fetch)


server = test_fetch.server  # the fetch tests' local HTTP server fixture


class ArchiveCorpus(Corpus):
    name = "badinput-archive"  # each test points remote_files at its own server


@pytest.fixture
def archive_corpus(server, monkeypatch):
    """Registers ArchiveCorpus for one test; ``serve_archive(filename, data)`` makes it download that archive."""

    def serve_archive(filename: str, data: bytes):
        monkeypatch.setattr(ArchiveCorpus, "remote_files", (serve(server, f"/files/{filename}", data),))

    registry.datasets.add(ArchiveCorpus.name, ArchiveCorpus)
    yield serve_archive
    registry.datasets._entries.pop(ArchiveCorpus.name, None)


@pytest.mark.parametrize(
    "filename, build, member, reason",
    [
        ("parent.zip", lambda: zip_bytes({"corpus/a.wav": b"RIFF", "corpus/../../escaped.txt": b"x"}),
         "corpus/../../escaped.txt", "'..' in the path could write outside the dataset folder"),
        ("absolute.tar.gz", lambda: tar_bytes({"corpus/a.wav": b"RIFF", "/tmp/sedbench-absolute.txt": b"x"}),
         "/tmp/sedbench-absolute.txt", "absolute path"),
        ("symlink.zip", lambda: zip_bytes({"corpus/a.wav": b"RIFF"}, symlinks={"corpus/passwd": "/etc/passwd"}),
         "corpus/passwd", "symbolic link"),
        ("symlink.tar.gz", lambda: tar_bytes({"corpus/a.wav": b"RIFF"},
                                             [special("corpus/up", tarfile.SYMTYPE, "../../..")]),
         "corpus/up", "link to '../../..'"),
    ],
    ids=["parent-dir-member", "absolute-member", "zip-symlink", "tar-symlink"],
)
def test_unsafe_archive_members_are_refused_by_fetch(filename, build, member, reason, archive_corpus, tmp_path,
                                                     sedbench):
    archive_corpus(filename, build())
    data_dir = tmp_path / "data"
    outcome = sedbench("datasets", "fetch", ArchiveCorpus.name, "--quiet", "--data-dir", data_dir)
    dataset = ArchiveCorpus(data_dir)
    archive = dataset.root / ".download" / filename
    assert_refused_before_any_job(
        outcome, f"{archive}: refusing to extract member {member!r}: {reason}; nothing was extracted", data_dir)
    assert_nothing_installed(dataset)
    assert not (tmp_path / "escaped.txt").exists() and not Path("/tmp/sedbench-absolute.txt").exists()


# --------------------------------------------------------------------------- other commands


def test_report_of_an_unknown_paper(runs, sedbench, tmp_path):
    outcome = sedbench("report", "--paper", "nosuch2099", "--runs-dir", runs, "--out-dir", tmp_path / "reports")
    assert_refused_before_any_job(outcome, re.compile(r"no published table for paper 'nosuch2099'; papers with "
                                                      r"tables: .*\bcakir2017\b.*"), runs)
    assert not (tmp_path / "reports").exists()


def test_leaderboard_of_a_runs_dir_without_records(runs, sedbench, tmp_path):
    write(runs / "notes" / "broken.json", "{not json")  # not a record: skipped, so there is nothing to show
    outcome = sedbench("leaderboard", "--runs-dir", runs, "--out", tmp_path / "page.html")
    assert outcome.code == 2 and "Traceback" not in outcome.stderr
    assert outcome.lines == [f"skipped: run record {runs / 'notes' / 'broken.json'} is not valid JSON "
                             "(Expecting property name enclosed in double quotes: line 1 column 2 (char 1))",
                             f"error: no run records found under {runs}; run `sedbench run ...` first"]
    assert not (tmp_path / "page.html").exists()


def test_score_with_a_reference_that_does_not_exist(tmp_path, sedbench):
    estimated = write(tmp_path / "est.txt", "a.wav\t0.5\t2.0\tdog\n")
    outcome = sedbench("score", "--reference", tmp_path / "ref.txt", "--estimated", estimated)
    assert_refused_before_any_job(outcome, f"reference {tmp_path / 'ref.txt'} does not exist; expected an event-list "
                                           "file (.txt, .tsv, .csv, .ann) or a folder of them")


def test_score_with_an_estimated_folder_without_event_lists(tmp_path, sedbench):
    reference = write(tmp_path / "ref.txt", "a.wav\t0.5\t2.0\tdog\n")
    write(tmp_path / "out" / "a.json", "{}")
    outcome = sedbench("score", "--reference", reference, "--estimated", tmp_path / "out")
    assert_refused_before_any_job(outcome, f"estimated event list folder {tmp_path / 'out'} contains no event-list "
                                           "files (.txt, .tsv, .csv, .ann)")


def test_score_with_a_malformed_estimated_row(tmp_path, sedbench):
    reference = write(tmp_path / "ref.txt", "a.wav\t0.5\t2.0\tdog\n")
    estimated = write(tmp_path / "est.txt", "a.wav\t0.5\t2.0\tdog\na.wav\t0.5\tlate\tdog\n")
    outcome = sedbench("score", "--reference", reference, "--estimated", estimated)
    assert_refused_before_any_job(outcome, f"{estimated}, line 2: onset and offset must be numbers, got '0.5' and "
                                           "'late'")


def test_score_with_a_reference_not_in_utf8(tmp_path, sedbench):
    reference = tmp_path / "ref.txt"
    reference.write_bytes("a.wav\t0.5\t2.0\tdog\nb.wav\t0.5\t2.0\tc\u00f4ne\n".encode("latin-1"))
    estimated = write(tmp_path / "est.txt", "a.wav\t0.5\t2.0\tdog\n")
    outcome = sedbench("score", "--reference", reference, "--estimated", estimated)
    assert_refused_before_any_job(outcome, f"{reference}, line 2: byte 0xf4 (column 16) is not UTF-8 text; save the "
                                           "file as UTF-8")


def test_html_in_names_labels_and_datasets_is_escaped_on_the_leaderboard(runs, sedbench, tmp_path):
    unsafe = "<script>alert(1)</script>\"'&"
    record = _record("data" + unsafe, "system" + unsafe, 0, _events(60.0, 0.5))
    record["dataset"]["labels"] = ["car", "dog barking", "label" + unsafe]
    for events in (record["excerpt"]["reference"], record["excerpt"]["estimated"]):
        events.append([7.0, 8.0, "label" + unsafe])
    record["metrics"]["frame"]["class_wise"]["label" + unsafe] = {"F1": 12.0}
    record["system"]["citation"] = "cited as" + unsafe
    record["system"]["url"] = " JavaScript:alert(document.cookie)"  # escaping alone would keep this link clickable
    record["profile"] = "profile" + unsafe
    record["config"]["name"] = "config" + unsafe
    write(runs / "data" / "record.json", json.dumps(record))
    page = tmp_path / "page.html"
    outcome = sedbench("leaderboard", "--runs-dir", runs, "--out", page)
    assert outcome.code == 0 and "Traceback" not in outcome.stderr, outcome.stderr
    html = page.read_text(encoding="utf-8")
    assert "<script>alert" not in html and "alert(1)</script>" not in html
    assert "javascript:" not in html.lower()  # not its link: a search for the (escaped) citation instead
    assert ('<a href="https://scholar.google.com/scholar?q=cited+as%3Cscript%3Ealert%281%29%3C%2Fscript%3E%22%27%26" '
            'title="cited as&lt;script&gt;') in html
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;&#34;&#39;&amp;"  # jinja2's escapes in the page's HTML
    for name in ("data", "system", "label", "cited as", "profile"):
        assert name + escaped in html, name
    in_svg = "&lt;script&gt;alert(1)&lt;/script&gt;\"'&amp;"  # matplotlib's escapes of SVG text
    assert "system" + in_svg in html and "label" + in_svg in html
    assert leftovers(tmp_path.resolve()) == [runs / "data" / "record.json"]  # the input record; no temporary page


def test_dollar_signs_in_names_and_labels_are_text_on_the_leaderboard(runs, sedbench, tmp_path):
    label, system = "cost $x^$ y", "gain $5 to $6"  # matplotlib used to parse these as mathtext: an error, or math
    record = _record("dollars", system, 0, _events(60.0, 0.5))
    record["dataset"]["labels"] = ["car", "dog barking", label]
    record["excerpt"]["reference"].append([7.0, 8.0, label])
    record["metrics"]["frame"]["class_wise"][label] = {"F1": 12.0}
    write(runs / "dollars" / "record.json", json.dumps(record))
    page = tmp_path / "page.html"
    outcome = sedbench("leaderboard", "--runs-dir", runs, "--out", page)
    assert outcome.code == 0 and "Traceback" not in outcome.stderr, outcome.stderr
    html = page.read_text(encoding="utf-8")
    svg_text = re.findall(r"<text[^>]*>([^<]*)</text>", html)
    assert label in svg_text and system in svg_text  # each written as it is, not as math
