"""`sedbench validate`: a well-behaved system passes every check, each broken system fails exactly its own check."""

import json
import re
from dataclasses import dataclass

import numpy as np
import pytest
import soundfile as sf
from conftest import run_cli
from typer.testing import CliRunner

from sedbench.cli import app
from sedbench.core import registry
from sedbench.core.data import Event, LabelKind, Paper
from sedbench.core.features import LogMelSpec
from sedbench.core.outputs import Detections, FrameActivity
from sedbench.core.paths import default_cache_dir, default_data_dir
from sedbench.core.system import System
from sedbench.pipeline.validate import CHECK_NAMES

LINE = re.compile(r"^(PASS|FAIL|SKIP)  ([a-z ]+): (.+)$")
TEST_CLIPS = [f"audio/mix_{n:03d}.wav" for n in range(16, 20)]  # synth-mini's test partition


@dataclass(frozen=True)
class FakeConfig:
    threshold: float = 0.5


class Fake(System):
    """Predicts each class's training activity rate in every frame: keeps the whole contract."""

    paper = Paper(key="fake2026", citation="a test system")
    label_kind = LabelKind.STRONG
    Config = FakeConfig
    profiles = {"quick": {}}

    @classmethod

    def features(cls, config):
        return LogMelSpec()  # crnn's features: the session's cache already holds them

    def fit(self, train, valid):
        self.rate = np.concatenate([c.targets for c in train]).mean(axis=0).astype(np.float32)
        return {"rate": self.rate.tolist()}

    def probabilities(self, clip):
        return np.tile(self.rate, (clip.features.shape[0], 1))

    def predict(self, clips):
        return [FrameActivity(self.probabilities(c), c.hop_seconds) for c in clips]


class WrongShape(Fake):
    name = "validate-test-wrong-shape"

    def probabilities(self, clip):
        return super().probabilities(clip)[:, :-1]  # one class short


class WrongFrameCount(Fake):
    name = "validate-test-wrong-frames"

    def probabilities(self, clip):
        return np.tile(self.rate, (clip.features.shape[0] + 5, 1))


class NaNOutput(Fake):
    name = "validate-test-nan"

    def probabilities(self, clip):
        p = super().probabilities(clip)
        p[10, 2] = np.nan
        return p


class AboveOne(Fake):
    name = "validate-test-above-one"

    def probabilities(self, clip):
        return super().probabilities(clip) + 1.0  # logits-ish scores, not probabilities


class Unseeded(Fake):
    """Jitters its outputs with a generator that ignores the run's seed."""

    name = "validate-test-unseeded"

    def fit(self, train, valid):
        history = super().fit(train, valid)
        self.rate = 0.9 * self.rate + 0.05 * np.random.default_rng().random(self.rate.shape, dtype=np.float32)
        return history


class BadHistory(Fake):
    name = "validate-test-bad-history"

    def fit(self, train, valid):
        super().fit(train, valid)
        return {"rate": self.rate}  # a NumPy array: the run record could not be written


class WrongCount(Fake):
    name = "validate-test-wrong-count"

    def predict(self, clips):
        return super().predict(clips)[:-1]


class RaisesInFit(Fake):
    name = "validate-test-raises"

    def fit(self, train, valid):
        raise RuntimeError("out of memory while allocating 12.0 GiB\nsecond line of the message")


class OpensTestAudio(Fake):
    """Logs the size of every recording of the dataset; harmless to its outputs, but it opens the test audio."""

    name = "validate-test-opens-audio"

    def fit(self, train, valid):
        history = super().fit(train, valid)
        total = 0
        for path in sorted((default_data_dir() / "synth-mini" / "audio").glob("*.wav")):
            with open(path, "rb") as handle:
                total += len(handle.read())
        self.context.log(f"dataset size: {total} bytes")
        return history


class ReadsFeatureCache(Fake):
    """Counts the frames of every cached feature matrix of its spec (test clips included) for its log."""

    name = "validate-test-reads-cache"

    def fit(self, train, valid):
        history = super().fit(train, valid)
        folder = default_cache_dir() / "features" / self.features(self.config).key()
        frames = sum(np.load(path, mmap_mode="r").shape[0] for path in sorted(folder.glob("*.npy")))
        self.context.log(f"{frames} cached frames")
        return history


class ReadsAnnotations(Fake):
    """Class priors from every annotation file in the dataset folder it finds through $SEDBENCH_DATA."""

    name = "validate-test-reads-annotations"

    def fit(self, train, valid):
        history = super().fit(train, valid)
        counts = np.ones(len(self.context.labels))
        for path in sorted((default_data_dir() / "synth-mini" / "annotations").glob("*.txt")):
            for line in path.read_text().splitlines():
                counts[self.context.labels.index(line.split("\t")[3])] += 1
        self.rate = (counts / counts.sum()).astype(np.float32)
        return history


class TransductiveLoudness(Fake):
    """Scales its outputs by the mean loudness of every recording in the dataset folder, test recordings included.

    It reads the audio with soundfile, whose C library opens files without a Python audit event: only the
    behavioural probe can see it.
    """

    name = "validate-test-transductive"

    def fit(self, train, valid):
        history = super().fit(train, valid)
        folder = default_data_dir() / "synth-mini" / "audio"
        rms = [np.sqrt(np.mean(sf.read(path, dtype="float32")[0] ** 2)) for path in sorted(folder.glob("*.wav"))]
        self.rate = (0.5 * self.rate + 0.4 * np.tanh(np.mean(rms))).astype(np.float32)
        return history


class WholeClip(Fake):
    """Detects the most frequent training class over every whole test clip (Detections output)."""

    name = "validate-test-whole-clip"

    def predict(self, clips):
        label = self.context.labels[int(np.argmax(self.rate))]
        return [Detections([Event(0.0, c.duration, label)]) for c in clips]


FAKES = (WrongShape, WrongFrameCount, NaNOutput, AboveOne, Unseeded, BadHistory, WrongCount, RaisesInFit,
         OpensTestAudio, ReadsFeatureCache, ReadsAnnotations, TransductiveLoudness, WholeClip)


@pytest.fixture(scope="module", autouse=True)
def registered():
    for cls in FAKES:
        registry.systems.add(cls.name, cls)
    yield
    for cls in FAKES:
        registry.systems._entries.pop(cls.name, None)


@pytest.fixture(autouse=True)
def restored_environment(monkeypatch, workspace):
    monkeypatch.setenv("SEDBENCH_CACHE", str(workspace["cache"]))  # --cache-dir sets it for the whole process
    monkeypatch.setenv("SEDBENCH_DATA", str(workspace["data"]))


def validate(workspace, *args):
    """(exit code, {check: (status, detail)}, summary line) of an in-process `sedbench validate`."""
    result = CliRunner().invoke(app, ["validate", *args, "--device", "cpu", "--data-dir", str(workspace["data"]),
                                      "--cache-dir", str(workspace["cache"])])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = result.stdout.strip().splitlines()
    checks = {}
    for line in lines[:-1]:
        match = LINE.match(line)
        assert match, f"not a check line: {line!r}"
        checks[match.group(2)] = (match.group(1), match.group(3))
    assert list(checks) == list(CHECK_NAMES)
    assert "Traceback" not in result.output
    return result.exit_code, checks, lines[-1]


def test_a_well_behaved_crnn_passes_every_check(workspace, synth_mini, one_torch_thread):
    code, checks, summary = validate(workspace, "--system", "crnn", "--set", "max_epochs=1", "--set", "conv_maps=4",
                                     "--set", "rnn_units=4")
    assert code == 0, checks
    assert {status for status, _ in checks.values()} == {"PASS"}
    assert summary == "8 of 8 checks passed"
    assert checks["interface"][1].startswith("CRNN subclasses System; name 'crnn', paper cakir2017, Config CRNNConfig")
    assert "features() LogMelSpec with hop 0.02 s, (40,) per frame; clips 12 train / 4 valid / 4 test" \
        in checks["interface"][1]
    assert checks["fit"][1].startswith("returned a JSON-serializable dict with ")
    assert checks["predict"][1] == "returned a list of 4 outputs for 4 test clips"
    assert checks["output shape"][1] == "FrameActivity: float32 probabilities (500, 6) for each of 4 clips"
    assert checks["hop"][1].startswith("hop 0.02 s; e.g. 500 frames cover 10.000 s of a 10.000 s clip")
    assert re.fullmatch(r"12000 values over 4 clips, all finite, range \[0\.\d+, 0\.\d+\]", checks["probabilities"][1])
    assert checks["determinism"][1] == ("two fits + predicts with seed 0 agree: max |Δp| 0 "
                                        "(tolerance 0 for times, 1e-06 for probabilities)")
    assert checks["test isolation"][1] == (
        "audit probe: no test audio, annotation or feature file opened by __init__ or fit in 3 runs; behavioural "
        "probe: fit on a copy of synth-mini with noise for its 4 test recordings and empty test annotations gives "
        "the same test outputs (max |Δp| 0)")


@pytest.mark.parametrize("fake, failing, detail", [
    (WrongShape, "output shape",
     r"clip audio/mix_016\.wav: expected FrameActivity probabilities of shape \(frames, 6\), got \(500, 5\)"),
    (WrongFrameCount, "hop",
     r"clip audio/mix_016\.wav: 505 frames x 0\.02 s = 10\.100 s, but the clip is 10\.000 s long "
     r"\(expected 500 ± 1 frames\)"),
    (NaNOutput, "probabilities", r"clip audio/mix_016\.wav: 1 of 3000 probability values are NaN or infinite"),
    (AboveOne, "probabilities",
     r"clip audio/mix_016\.wav: 3000 of 3000 probability values lie outside \[0, 1\] \(range \[1\.\d+, 1\.\d+\]\)"),
    (Unseeded, "determinism",
     r"two fits \+ predicts with seed 0 differ: max \|Δp\| 0\.0\d+ \(largest on audio/mix_01\d\.wav\) "
     r"\(tolerance 0 for times, 1e-06 for probabilities\)"),
    (BadHistory, "fit",
     r"the returned dict is not JSON-serializable after json_safe: TypeError: Object of type ndarray is not JSON "
     r"serializable"),
    (OpensTestAudio, "test isolation",
     r"audit probe: __init__ or fit opened test file .*/synth-mini/audio/mix_016\.wav and \d+ more test files; "
     r"behavioural probe: .* gives the same test outputs \(max \|Δp\| 0\)"),
    (ReadsFeatureCache, "test isolation",
     r"audit probe: __init__ or fit opened test file .*/features/[0-9a-f]{16}/[0-9a-f]{64}\.npy and 3 more test "
     r"files; behavioural probe: .* gives the same test outputs \(max \|Δp\| 0\)"),
    (ReadsAnnotations, "test isolation",
     r"audit probe: __init__ or fit opened test file .*/synth-mini/annotations/mix_016\.txt and \d+ more test files; "
     r"behavioural probe: .* changes the test outputs \(max \|Δp\| 0\.0\d+ \(largest on audio/mix_016\.wav\)\): "
     r"fit depends on test data"),
    (TransductiveLoudness, "test isolation",
     r"audit probe: no test audio, annotation or feature file opened by __init__ or fit in 3 runs; behavioural "
     r"probe: fit on a copy of synth-mini with noise for its 4 test recordings and empty test annotations changes "
     r"the test outputs \(max \|Δp\| 0\.\d+ \(largest on audio/mix_016\.wav\)\): fit depends on test data"),
])
def test_a_broken_system_fails_exactly_its_check(workspace, synth_mini, fake, failing, detail):
    code, checks, summary = validate(workspace, "--system", fake.name)
    assert code == 1
    assert {name for name, (status, _) in checks.items() if status != "PASS"} == {failing}, checks
    status, text = checks[failing]
    assert status == "FAIL" and re.fullmatch(detail, text), text
    assert summary == "7 of 8 checks passed, 1 failed"


def test_the_unseeded_system_skips_only_the_behavioural_probe(workspace, synth_mini):
    _, checks, _ = validate(workspace, "--system", Unseeded.name)
    assert checks["test isolation"] == (
        "PASS", "audit probe: no test audio, annotation or feature file opened by __init__ or fit in 2 runs; "
                "behavioural probe not run: it needs deterministic outputs")


def test_a_system_that_raises_in_fit_fails_once_and_skips_what_depends_on_fit(workspace, synth_mini):
    code, checks, summary = validate(workspace, "--system", RaisesInFit.name)
    assert code == 1
    assert checks["interface"][0] == "PASS"
    assert checks["fit"] == ("FAIL", "fit raised RuntimeError: out of memory while allocating 12.0 GiB")
    assert all(checks[name] == ("SKIP", "fit raised") for name in CHECK_NAMES[2:])
    assert summary == "1 of 8 checks passed, 1 failed, 6 skipped"


def test_a_wrong_number_of_outputs_skips_the_output_checks_but_still_audits_fit(workspace, synth_mini):
    code, checks, summary = validate(workspace, "--system", WrongCount.name)
    assert code == 1
    assert checks["predict"] == ("FAIL", "returned 3 outputs for 4 test clips; expected a list with one output per "
                                         "clip")
    reason = "predict did not return one output per clip"
    assert all(checks[name] == ("SKIP", reason) for name in ("output shape", "hop", "probabilities", "determinism"))
    assert checks["test isolation"] == ("PASS", "audit probe: no test audio, annotation or feature file opened by "
                                                f"__init__ or fit in 1 run; behavioural probe not run: {reason}")
    assert summary == "3 of 8 checks passed, 1 failed, 4 skipped"


def test_event_outputs_skip_the_frame_checks_and_pass(workspace, synth_mini):
    code, checks, summary = validate(workspace, "--system", WholeClip.name)
    assert code == 0
    assert checks["output shape"] == (
        "PASS", "Detections: 4 events over 4 clips, labels from the 6-label list, finite 0 <= onset <= offset <= "
                "clip duration (+ 0.02 s)")
    assert checks["hop"] == ("SKIP", "applies to FrameActivity outputs; these are Detections")
    assert checks["probabilities"] == ("SKIP", "applies to probabilities; these outputs are Detections")
    assert checks["determinism"][1].startswith("two fits + predicts with seed 0 agree: max |Δt| 0 s")
    assert summary == "6 of 8 checks passed, 2 skipped"


def test_a_missing_profile_fails_the_interface_check(workspace):
    code, checks, summary = validate(workspace, "--system", WholeClip.name, "--profile", "paper")
    assert code == 1
    assert checks["interface"] == ("FAIL", "WholeClip has no profile 'paper'; profiles: quick")
    assert summary == "0 of 8 checks passed, 1 failed, 7 skipped"


def test_unknown_system_is_one_sentence_listing_the_registered_ones():
    result = run_cli(["validate", "--system", "nosuch"])
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith("error: unknown system 'nosuch'; registered systems: ")
    assert "crnn" in result.stderr and "Traceback" not in result.stderr


def test_the_blinded_copy_is_used_as_stored_with_only_the_test_data_changed(synth_mini, tmp_path):
    copy = synth_mini.blinded_copy(tmp_path, "1", seed=0)
    assert copy.root == tmp_path / "synth-mini" and copy.is_present()  # the generator's marker: no regeneration
    original, blinded = synth_mini.split("1"), copy.split("1")
    for mine, theirs in zip(original.train + original.valid, blinded.train + blinded.valid):
        assert theirs.path.read_bytes() == mine.path.read_bytes() and theirs.events == mine.events
    assert [c.clip_id for c in blinded.test] == TEST_CLIPS
    for mine, theirs in zip(original.test, blinded.test):
        assert mine.events and theirs.events == []
        noise, rate = sf.read(theirs.path)
        mixture, _ = sf.read(mine.path)
        assert rate == 44100 and noise.shape == mixture.shape and not np.array_equal(noise, mixture)
    recipe = json.loads((copy.root / "recipe.json").read_text())["mixtures"]
    assert all(recipe[clip]["placements"] == [] for clip in TEST_CLIPS)
    assert all(recipe[c.clip_id]["placements"] for c in original.train)
    assert copy.fingerprint("1") != synth_mini.fingerprint("1")
