"""Download, resume, checksum, safe extraction and verify, against a local HTTP server (no network)."""

from __future__ import annotations

import hashlib
import io
import json
import re
import stat
import tarfile
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import run_cli
from typer.testing import CliRunner

from sedbench.cli import app
from sedbench.core import registry
from sedbench.core.data import Paper, Split
from sedbench.core.dataset import COMPLETE_MARKER, FILE_INDEX, DownloadedDataset, RemoteFile
from sedbench.core.errors import DataError
from sedbench.datatools import fetch as fetch_module
from sedbench.datatools.annotations import read_annotation_file
from sedbench.datatools.fetch import Mismatch, check_download, download, fetch, verify

# --------------------------------------------------------------------------- fixture data


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def _wav_bytes() -> bytes:
    rate = 16000
    tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(rate) / rate)  # 1 s: 32 kB of PCM_16
    buffer = io.BytesIO()
    sf.write(buffer, tone, rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


WAV = _wav_bytes()
NOISE = np.random.default_rng(0).integers(0, 256, 120_000, dtype=np.uint8).tobytes()  # incompressible
META = b"corpus/audio/a.wav\t0.100\t0.600\tbeep\n"
AUDIO_MEMBERS = {"corpus/audio/a.wav": WAV, "corpus/noise.bin": NOISE}
META_MEMBERS = {"corpus/meta.txt": META}


def zip_bytes(members: dict[str, bytes], symlinks: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as bundle:
        for name, data in members.items():
            bundle.writestr(zipfile.ZipInfo(name), data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            bundle.writestr(info, target)
    return buffer.getvalue()


def tar_bytes(members: dict[str, bytes], specials: list[tarfile.TarInfo] = ()) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as bundle:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            bundle.addfile(info, io.BytesIO(data))
        for info in specials:
            bundle.addfile(info)
    return buffer.getvalue()


def special(name: str, kind: bytes, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info


# --------------------------------------------------------------------------- test datasets


class Corpus(DownloadedDataset):
    """Test-only corpus: corpus/audio/a.wav, corpus/noise.bin, corpus/meta.txt."""

    name = "fetchtest-corpus"
    paper = Paper(key="test", citation="A. Tester, \"A corpus for tests\", 2024")
    license = "CC0-1.0"
    labels = ("beep", "noise")
    REQUIRED = ("corpus/audio/a.wav", "corpus/meta.txt")

    def check_layout(self) -> list[str]:
        problems = super().check_layout()
        if not problems:
            problems = [f"{self.root / path} is missing" for path in self.REQUIRED if not (self.root / path).is_file()]
        return problems

    def split(self, fold: str) -> Split:
        self.prepare()
        rows = read_annotation_file(self.root / "corpus" / "meta.txt")
        clips = [self.clip(filename, [event]) for filename, event in rows]
        return Split(fold=fold, train=[], valid=[], test=clips)


class ManualCorpus(Corpus):
    name = "fetchtest-manual"
    manual_setup = "Place corpus/audio/a.wav and corpus/meta.txt from the test corpus in the dataset folder."


def corpus_with(*remote_files: RemoteFile) -> type[Corpus]:
    return type("ServedCorpus", (Corpus,), {"remote_files": tuple(remote_files)})


# --------------------------------------------------------------------------- local HTTP server


class RangeHandler(BaseHTTPRequestHandler):
    """Serves server.files; honours ``Range: bytes=N-`` unless told not to; can cut one response short."""

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        server = self.server
        server.requests.append((self.path, self.headers.get("Range")))
        body = server.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        start = 0
        wanted = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        if wanted and server.honour_range:
            start = int(wanted.group(1))
            if start >= len(body):
                self.send_error(416)
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        payload = body[start:]
        if server.send_length:
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        cut = server.cut_after.pop(self.path, None)
        payload = payload if cut is None else payload[:cut]
        if server.trickle:  # a server that keeps every socket read within its timeout but never finishes
            for start in range(0, len(payload), 256):
                self.wfile.write(payload[start:start + 256])
                self.wfile.flush()
                time.sleep(server.trickle)
        else:
            self.wfile.write(payload)
        self.close_connection = True  # with a cut, the client sees the body end early


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), RangeHandler)
    httpd.files, httpd.requests, httpd.cut_after, httpd.honour_range, httpd.send_length = {}, [], {}, True, True
    httpd.trickle = 0.0
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def serve(server, path: str, data: bytes, **overrides) -> RemoteFile:
    server.files[path] = data
    fields = {"url": f"http://127.0.0.1:{server.server_port}{path}", "size": len(data), "md5": _md5(data)}
    fields.update(overrides)
    return RemoteFile(**fields)


def served_corpus(server, data_dir: Path) -> Corpus:
    audio = serve(server, "/files/audio.zip", zip_bytes(AUDIO_MEMBERS))
    meta = serve(server, "/files/meta.tar.gz", tar_bytes(META_MEMBERS))
    return corpus_with(audio, meta)(data_dir)


def assert_nothing_installed(dataset: Corpus) -> None:
    """No marker, no index, no dataset files in the root, no staging folder beside it."""
    root = dataset.root
    assert not (root / COMPLETE_MARKER).exists() and not (root / FILE_INDEX).exists()
    assert not dataset.is_present()
    if root.exists():
        assert sorted(p.name for p in root.iterdir()) in ([], [".download"])
    assert list(root.parent.glob(f".{root.name}.staging-*")) == []


# --------------------------------------------------------------------------- fetch


def test_fetch_extracts_zip_and_targz_writes_index_and_marker(server, tmp_path):
    dataset = served_corpus(server, tmp_path)
    result = fetch(dataset, progress=False)

    root = dataset.root
    assert (root / "corpus/audio/a.wav").read_bytes() == WAV
    assert (root / "corpus/noise.bin").read_bytes() == NOISE
    assert (root / "corpus/meta.txt").read_bytes() == META
    index = json.loads((root / FILE_INDEX).read_text())
    assert index["dataset"] == "fetchtest-corpus"
    assert index["files"] == {name: {"size": len(data), "md5": _md5(data)}
                              for name, data in {**AUDIO_MEMBERS, **META_MEMBERS}.items()}
    marker = json.loads((root / COMPLETE_MARKER).read_text())
    assert marker["source"] == "fetched" and marker["files"] == 3
    assert not (root / ".download").exists()  # verified archives are removed once extracted
    assert list(tmp_path.glob(".*staging*")) == []
    assert result.files == 3 and not result.already_present
    assert result.downloaded_bytes == len(server.files["/files/audio.zip"]) + len(server.files["/files/meta.tar.gz"])

    dataset.prepare()  # present: no error
    clip = dataset.split("1").test[0]
    assert clip.clip_id == "corpus/audio/a.wav" and clip.duration == pytest.approx(1.0)
    assert [(e.onset, e.offset, e.label) for e in clip.events] == [(0.1, 0.6, "beep")]

    requests = len(server.requests)
    again = fetch(dataset, progress=False)
    assert again.already_present and again.files == 3 and len(server.requests) == requests


def test_fetch_force_replaces_the_dataset(server, tmp_path):
    dataset = served_corpus(server, tmp_path)
    fetch(dataset, progress=False)
    (dataset.root / "stale.txt").write_text("from an older copy")
    (dataset.root / "corpus/noise.bin").write_bytes(b"damaged")
    fetch(dataset, progress=False, force=True)
    assert not (dataset.root / "stale.txt").exists()
    assert (dataset.root / "corpus/noise.bin").read_bytes() == NOISE
    assert verify(dataset).ok


def test_plain_file_is_placed_without_extraction(server, tmp_path):
    audio = serve(server, "/files/audio.zip", zip_bytes(AUDIO_MEMBERS))
    readme = serve(server, "/files/README.txt", b"read me\n", extract=False)
    meta = serve(server, "/files/meta.tar.gz", tar_bytes(META_MEMBERS))
    dataset = corpus_with(audio, readme, meta)(tmp_path)
    fetch(dataset, progress=False)
    assert (dataset.root / "README.txt").read_bytes() == b"read me\n"
    assert json.loads((dataset.root / FILE_INDEX).read_text())["files"]["README.txt"] == {"size": 8,
                                                                                         "md5": _md5(b"read me\n")}


def test_second_call_resumes_a_cut_download_with_a_range_request(server, tmp_path):
    dataset = served_corpus(server, tmp_path)
    archive = server.files["/files/audio.zip"]
    server.cut_after["/files/audio.zip"] = 50_000

    with pytest.raises(DataError) as error:
        fetch(dataset, progress=False, retries=0)
    url = dataset.remote_files[0].url
    assert str(error.value).startswith(f"download of {url} was interrupted after 50000 of {len(archive)} bytes (")
    assert str(error.value).endswith("); run the same command again to resume")
    part = dataset.root / ".download" / "audio.zip.part"
    assert part.read_bytes() == archive[:50_000]
    assert_nothing_installed(dataset)

    result = fetch(dataset, progress=False, retries=0)
    assert server.requests[:2] == [("/files/audio.zip", None), ("/files/audio.zip", "bytes=50000-")]
    assert result.downloaded_bytes == len(archive) - 50_000 + len(server.files["/files/meta.tar.gz"])
    assert (dataset.root / "corpus/noise.bin").read_bytes() == NOISE
    index = json.loads((dataset.root / FILE_INDEX).read_text())["files"]
    assert index["corpus/noise.bin"]["md5"] == _md5(NOISE)
    assert dataset.is_present()


def test_a_cut_connection_is_resumed_within_the_same_call(server, tmp_path):
    dataset = served_corpus(server, tmp_path)
    server.cut_after["/files/audio.zip"] = 70_000
    messages = []
    fetch(dataset, progress=False, log=messages.append)
    assert server.requests[:2] == [("/files/audio.zip", None), ("/files/audio.zip", "bytes=70000-")]
    assert any(m.startswith("audio.zip: connection lost after 70000 bytes") for m in messages)
    assert dataset.is_present()


def test_a_cut_without_content_length_keeps_the_partial_file_for_resuming(server, tmp_path):
    dataset = served_corpus(server, tmp_path)
    server.send_length = False  # the body just ends when the connection closes
    server.cut_after["/files/audio.zip"] = 50_000
    size = len(server.files["/files/audio.zip"])
    with pytest.raises(DataError, match=rf"interrupted after 50000 of {size} bytes \(the server closed the "
                                        rf"connection after 50000 of {size} bytes\)"):
        fetch(dataset, progress=False, retries=0)
    fetch(dataset, progress=False, retries=0)
    assert server.requests[1] == ("/files/audio.zip", "bytes=50000-")
    assert (dataset.root / "corpus/noise.bin").read_bytes() == NOISE


def test_a_server_that_ignores_range_makes_the_download_start_over(server, tmp_path):
    dataset = served_corpus(server, tmp_path)
    server.honour_range = False
    server.cut_after["/files/audio.zip"] = 50_000
    with pytest.raises(DataError, match="interrupted after 50000 of"):
        fetch(dataset, progress=False, retries=0)
    messages = []
    result = fetch(dataset, progress=False, retries=0, log=messages.append)
    assert server.requests[1] == ("/files/audio.zip", "bytes=50000-")
    assert "audio.zip: the server does not resume downloads; starting again from the beginning" in messages
    assert result.downloaded_bytes == len(server.files["/files/audio.zip"]) + len(server.files["/files/meta.tar.gz"])
    assert (dataset.root / "corpus/noise.bin").read_bytes() == NOISE


def test_md5_mismatch_is_refused_before_extraction(server, tmp_path):
    archive = zip_bytes(AUDIO_MEMBERS)
    remote = serve(server, "/files/audio.zip", archive, md5="0" * 32)
    dataset = corpus_with(remote)(tmp_path)
    with pytest.raises(DataError) as error:
        fetch(dataset, progress=False)
    assert str(error.value) == (f"audio.zip from {remote.url} has md5 {_md5(archive)}, expected {'0' * 32}; "
                                f"the file was deleted, run the command again to download it anew")
    assert list((dataset.root / ".download").glob("audio.zip*")) == []
    assert_nothing_installed(dataset)


def test_size_mismatch_announced_by_the_server_is_refused(server, tmp_path):
    archive = zip_bytes(AUDIO_MEMBERS)
    remote = serve(server, "/files/audio.zip", archive, size=len(archive) + 1)
    dataset = corpus_with(remote)(tmp_path)
    with pytest.raises(DataError) as error:
        fetch(dataset, progress=False)
    assert str(error.value) == (f"download of {remote.url} failed: the server's file has {len(archive)} bytes, "
                                f"the dataset expects {len(archive) + 1}")
    assert_nothing_installed(dataset)


def test_size_mismatch_of_a_downloaded_file_deletes_it(tmp_path):
    path = tmp_path / "audio.zip.part"
    path.write_bytes(b"12345")
    remote = RemoteFile(url="https://example.org/audio.zip", size=6, md5=_md5(b"12345"))
    with pytest.raises(DataError) as error:
        check_download(remote, path)
    assert str(error.value) == ("audio.zip from https://example.org/audio.zip has 5 bytes, expected 6; "
                                "the file was deleted, run the command again to download it anew")
    assert not path.exists()


def test_http_error_and_unreachable_server_name_the_url(server, tmp_path):
    missing = RemoteFile(url=f"http://127.0.0.1:{server.server_port}/nothing.zip", size=10, md5="0" * 32)
    with pytest.raises(DataError) as error:
        fetch(corpus_with(missing)(tmp_path), progress=False)
    assert str(error.value) == f"download of {missing.url} failed: HTTP 404 Not Found"

    closed = ThreadingHTTPServer(("127.0.0.1", 0), RangeHandler)
    port = closed.server_port
    closed.server_close()  # nothing listens there now
    unreachable = RemoteFile(url=f"http://127.0.0.1:{port}/a.zip", size=10, md5="0" * 32)
    with pytest.raises(DataError, match=rf"^download of http://127\.0\.0\.1:{port}/a\.zip failed: .*refused.*; "
                                        r"check the network connection and run the same command again$"):
        fetch(corpus_with(unreachable)(tmp_path / "other"), progress=False, timeout=5)


# --------------------------------------------------------------------------- unsafe archives

UNSAFE = {
    "parent zip": ("evil.zip", lambda: zip_bytes({"corpus/../../evil.txt": b"x"}), "corpus/../../evil.txt",
                   "'..' in the path could write outside the dataset folder"),
    "parent tar": ("evil.tar.gz", lambda: tar_bytes({"../evil.txt": b"x"}), "../evil.txt",
                   "'..' in the path could write outside the dataset folder"),
    "absolute zip": ("evil.zip", lambda: zip_bytes({"/tmp/evil.txt": b"x"}), "/tmp/evil.txt", "absolute path"),
    "absolute tar": ("evil.tar.gz", lambda: tar_bytes({"/tmp/evil.txt": b"x"}), "/tmp/evil.txt", "absolute path"),
    "symlink zip": ("evil.zip", lambda: zip_bytes({}, symlinks={"corpus/link": "/etc/passwd"}), "corpus/link",
                    "symbolic link"),
    "symlink tar": ("evil.tar.gz", lambda: tar_bytes({}, [special("corpus/link", tarfile.SYMTYPE, "/etc/passwd")]),
                    "corpus/link", "link to '/etc/passwd'"),
    "hardlink tar": ("evil.tar.gz", lambda: tar_bytes({"corpus/a.txt": b"x"},
                                                      [special("corpus/b.txt", tarfile.LNKTYPE, "corpus/a.txt")]),
                     "corpus/b.txt", "link to 'corpus/a.txt'"),
    "device tar": ("evil.tar.gz", lambda: tar_bytes({}, [special("corpus/dev", tarfile.CHRTYPE)]), "corpus/dev",
                   "device file or other special file"),
    "marker in archive": ("evil.zip", lambda: zip_bytes({COMPLETE_MARKER: b"{}"}), COMPLETE_MARKER,
                          "the name is reserved for sedbench's own bookkeeping"),
}


@pytest.mark.parametrize("case", list(UNSAFE))
def test_unsafe_archive_is_refused_and_leaves_nothing(server, tmp_path, case):
    filename, build, member, reason = UNSAFE[case]
    good = serve(server, "/files/audio.zip", zip_bytes(AUDIO_MEMBERS))  # extracted first, must not stay either
    evil = serve(server, f"/files/{filename}", build())
    dataset = corpus_with(good, evil)(tmp_path / "data")
    with pytest.raises(DataError) as error:
        fetch(dataset, progress=False)
    archive = dataset.root / ".download" / filename
    assert str(error.value) == f"{archive}: refusing to extract member {member!r}: {reason}; nothing was extracted"
    assert_nothing_installed(dataset)
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file() and ".download" not in p.parts) == []


def test_failure_in_the_middle_of_extraction_leaves_no_visible_dataset(server, tmp_path):
    good = serve(server, "/files/audio.zip", zip_bytes(AUDIO_MEMBERS))
    whole = tar_bytes({"corpus/meta.txt": META, "corpus/more.bin": NOISE})
    truncated = whole[: len(whole) // 2]  # a corrupt archive whose published checksum matches
    broken = serve(server, "/files/meta.tar.gz", truncated)
    dataset = corpus_with(good, broken)(tmp_path)
    with pytest.raises(DataError, match=rf"^{re.escape(str(dataset.root / '.download' / 'meta.tar.gz'))} "
                                        r"could not be extracted: "):
        fetch(dataset, progress=False)
    assert_nothing_installed(dataset)
    assert not (dataset.root / "corpus").exists()


def test_failure_before_the_marker_leaves_the_dataset_incomplete(server, tmp_path, monkeypatch):
    dataset = served_corpus(server, tmp_path)
    real = fetch_module._write_atomic

    def fail_on_marker(path, text):
        if path.name == COMPLETE_MARKER:
            raise OSError("disk full")
        real(path, text)

    monkeypatch.setattr(fetch_module, "_write_atomic", fail_on_marker)
    with pytest.raises(DataError) as error:
        fetch(dataset, progress=False)
    assert str(error.value) == f"fetching dataset 'fetchtest-corpus' into {dataset.root} failed: disk full"
    assert not dataset.is_present()
    with pytest.raises(DataError, match="run `sedbench datasets fetch fetchtest-corpus`"):
        dataset.prepare()
    monkeypatch.setattr(fetch_module, "_write_atomic", real)
    report = verify(dataset)  # the index is complete and every file matches it: the marker follows
    assert report.ok and report.marked_complete and dataset.is_present()


# --------------------------------------------------------------------------- verify


def test_verify_reports_corrupted_resized_and_deleted_files(server, tmp_path):
    dataset = served_corpus(server, tmp_path)
    fetch(dataset, progress=False)
    assert verify(dataset).ok

    damaged = bytearray(NOISE)
    damaged[1000] ^= 0xFF
    (dataset.root / "corpus/noise.bin").write_bytes(bytes(damaged))
    (dataset.root / "corpus/audio/a.wav").write_bytes(WAV + b"\0")
    (dataset.root / "corpus/meta.txt").unlink()

    report = verify(dataset)
    assert not report.ok and report.checked == 3
    assert report.missing == ["corpus/meta.txt"]
    assert report.wrong_size == [Mismatch("corpus/audio/a.wav", str(len(WAV)), str(len(WAV) + 1))]
    assert report.wrong_md5 == [Mismatch("corpus/noise.bin", _md5(NOISE), _md5(bytes(damaged)))]
    assert report.problems == [f"{dataset.root / 'corpus/meta.txt'} is missing"]  # from check_layout
    assert report.lines()[1:] == [
        f"  problem: {dataset.root / 'corpus/meta.txt'} is missing",
        "  missing: corpus/meta.txt",
        f"  size mismatch: corpus/audio/a.wav is {len(WAV) + 1} bytes, expected {len(WAV)}",
        f"  md5 mismatch: corpus/noise.bin has md5 {_md5(bytes(damaged))}, expected {_md5(NOISE)}",
        "  3 of 3 indexed files missing or changed",
    ]


def test_verify_accepts_a_hand_placed_copy_of_a_downloadable_dataset(tmp_path):
    """A copy placed by hand (from another machine, an institute mirror) is checked like a manual corpus: its
    layout, and the size and md5 of the published plain files it holds; then indexed and marked complete."""
    labels = b"beep\nnoise\n"
    archive = RemoteFile(url="https://example.org/audio.zip", size=10, md5="0" * 32)
    plain = RemoteFile(url="https://example.org/labels.txt", size=len(labels), md5=_md5(labels), extract=False)
    dataset = corpus_with(archive, plain)(tmp_path)
    dataset.root.mkdir()
    report = verify(dataset)
    assert not report.ok and report.problems == [f"{dataset.root / 'corpus/audio/a.wav'} is missing",
                                                 f"{dataset.root / 'corpus/meta.txt'} is missing"]
    place_manual_corpus(dataset)
    other = b"beep\nnoisy\n"  # same size, other content
    (dataset.root / "labels.txt").write_bytes(other)
    report = verify(dataset)
    assert report.problems == [f"{dataset.root / 'labels.txt'} has md5 {_md5(other)}; the published file has "
                               f"{_md5(labels)}"]
    assert not (dataset.root / FILE_INDEX).exists() and not dataset.is_present()
    (dataset.root / "labels.txt").write_bytes(labels)
    report = verify(dataset)
    assert report.ok and report.accepted and report.marked_complete and report.checked == 3
    assert json.loads((dataset.root / COMPLETE_MARKER).read_text())["source"] == "verified hand-placed layout"
    assert dataset.is_present()


def place_manual_corpus(dataset: Corpus, with_meta: bool = True) -> None:
    (dataset.root / "corpus/audio").mkdir(parents=True)
    (dataset.root / "corpus/audio/a.wav").write_bytes(WAV)
    if with_meta:
        (dataset.root / "corpus/meta.txt").write_bytes(META)


def test_verify_accepts_a_hand_placed_manual_corpus(tmp_path):
    dataset = ManualCorpus(tmp_path)
    with pytest.raises(DataError, match=r"cannot be downloaded and is not set up in .*Place corpus/audio/a\.wav"):
        dataset.prepare()
    place_manual_corpus(dataset)
    report = verify(dataset)
    assert report.ok and report.accepted and report.checked == 2
    assert report.lines()[-1] == "  layout accepted; indexed 2 files and marked the dataset complete"
    assert json.loads((dataset.root / FILE_INDEX).read_text())["files"] == {
        "corpus/audio/a.wav": {"size": len(WAV), "md5": _md5(WAV)},
        "corpus/meta.txt": {"size": len(META), "md5": _md5(META)}}
    assert json.loads((dataset.root / COMPLETE_MARKER).read_text())["source"] == "verified hand-placed layout"
    dataset.prepare()
    assert dataset.split("1").test[0].events[0].label == "beep"

    (dataset.root / "corpus/audio/a.wav").unlink()  # later checks use the index
    assert verify(dataset).missing == ["corpus/audio/a.wav"]


def test_verify_rejects_an_incomplete_manual_corpus(tmp_path):
    dataset = ManualCorpus(tmp_path)
    assert verify(dataset).problems == [f"{dataset.root} does not exist; set it up by hand: "
                                        f"{ManualCorpus.manual_setup}"]
    place_manual_corpus(dataset, with_meta=False)
    report = verify(dataset)
    assert not report.ok and not report.accepted
    assert report.problems == [f"{dataset.root / 'corpus/meta.txt'} is missing"]
    assert not (dataset.root / FILE_INDEX).exists() and not dataset.is_present()


# --------------------------------------------------------------------------- CLI


@pytest.fixture
def registered():
    """Registers test datasets for in-process CLI calls; unregisters them afterwards."""
    names = []

    def add(cls):
        registry.datasets.add(cls.name, cls)  # raises if the name were taken by anything else
        names.append(cls.name)
        return cls

    yield add
    for name in names:
        registry.datasets._entries.pop(name, None)


def test_cli_fetch_and_verify_of_a_manual_corpus(registered, tmp_path):
    registered(ManualCorpus)
    runner = CliRunner()
    where = ["--data-dir", str(tmp_path)]
    fetched = runner.invoke(app, ["datasets", "fetch", "fetchtest-manual", *where])
    assert fetched.exit_code == 1
    assert ManualCorpus.manual_setup in fetched.output
    assert f"fetchtest-manual cannot be downloaded; place it by hand in {tmp_path / 'fetchtest-manual'}:" \
        in fetched.output

    dataset = ManualCorpus(tmp_path)
    place_manual_corpus(dataset, with_meta=False)
    rejected = runner.invoke(app, ["datasets", "verify", "fetchtest-manual", "--quiet", *where])
    assert rejected.exit_code == 1
    assert f"problem: {dataset.root / 'corpus/meta.txt'} is missing" in rejected.output

    (dataset.root / "corpus/meta.txt").write_bytes(META)
    accepted = runner.invoke(app, ["datasets", "verify", "fetchtest-manual", "--quiet", *where])
    assert accepted.exit_code == 0
    assert "layout accepted; indexed 2 files and marked the dataset complete" in accepted.output
    again = runner.invoke(app, ["datasets", "fetch", "fetchtest-manual", *where])
    assert again.exit_code == 0 and "fetchtest-manual is set up and verified" in again.output

    listed = runner.invoke(app, ["datasets", "list", *where])
    row = next(line for line in listed.output.splitlines() if line.startswith("fetchtest-manual"))
    assert row.split()[:8] == ["fetchtest-manual", "strong", "events", "2", "1", "manual", "yes", "CC0-1.0"]


class ServedCorpus(Corpus):
    name = "fetchtest-served"  # registered once; each test points remote_files at its own server


def test_cli_info_fetch_verify_of_a_downloadable_corpus(server, tmp_path, monkeypatch, registered):
    audio = serve(server, "/files/audio.zip", zip_bytes(AUDIO_MEMBERS))
    meta = serve(server, "/files/meta.tar.gz", tar_bytes(META_MEMBERS))
    monkeypatch.setattr(ServedCorpus, "remote_files", (audio, meta))
    registered(ServedCorpus)
    runner = CliRunner()
    where = ["--data-dir", str(tmp_path)]

    info = runner.invoke(app, ["datasets", "info", "fetchtest-served", *where])
    assert info.exit_code == 0
    assert f"  {audio.url}  {audio.size} bytes ({audio.size / 1e3:.1f} kB)  md5 {audio.md5}" in info.output
    assert "present:  no" in info.output

    fetched = runner.invoke(app, ["datasets", "fetch", "fetchtest-served", "--quiet", *where])
    assert fetched.exit_code == 0
    assert f"fetchtest-served: 3 files in {tmp_path / 'fetchtest-served'}" in fetched.output
    again = runner.invoke(app, ["datasets", "fetch", "fetchtest-served", "--quiet", *where])
    assert again.output.strip() == (f"fetchtest-served is already complete in {tmp_path / 'fetchtest-served'}; "
                                    f"nothing to do (use --force to fetch it again)")

    verified = runner.invoke(app, ["datasets", "verify", "fetchtest-served", "--quiet", *where])
    assert verified.exit_code == 0
    assert "all 3 indexed files present with the recorded size and md5" in verified.output
    (tmp_path / "fetchtest-served/corpus/noise.bin").unlink()
    broken = runner.invoke(app, ["datasets", "verify", "fetchtest-served", "--quiet", *where])
    assert broken.exit_code == 1
    assert "  missing: corpus/noise.bin" in broken.output


def test_cli_list_and_info_for_synth(tmp_path):
    env = {"SEDBENCH_DATA": str(tmp_path)}
    listed = run_cli(["datasets", "list"], env)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["name", "task", "classes", "folds", "download", "present", "license"]
    synth = next(line for line in lines if line.startswith("synth "))
    assert synth.split() == ["synth", "strong", "events", "16", "1", "generated", "no", "CC0-1.0", "(generated",
                             "by", "sedbench)"]
    assert any(line.startswith("synth-mini ") for line in lines)
    assert lines[-1] == f"data folder: {tmp_path}"

    info = run_cli(["datasets", "info", "synth"], env)
    assert info.returncode == 0, info.stderr
    out = info.stdout
    assert "Cakir" in out and "https://arxiv.org/abs/1702.06286" in out
    assert "license:  CC0-1.0 (generated by sedbench)" in out
    assert "task:     strong events (strong labels)" in out
    assert "labels:   16: " in out and "dog barking" in out
    assert f"location: {tmp_path / 'synth'}" in out and "present:  no" in out
    assert "generated by sedbench on first use (or with `sedbench datasets fetch synth`)" in out


def test_cli_fetch_of_a_generated_dataset_that_is_present(synth_mini, workspace):
    done = run_cli(["datasets", "fetch", "synth-mini", "--data-dir", str(workspace["data"])])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"synth-mini is already generated in {synth_mini.root}"


@pytest.mark.parametrize("command", ["info", "fetch", "verify"])
def test_cli_unknown_dataset_lists_the_registered_ones(command):
    result = run_cli(["datasets", command, "no-such-corpus"])
    assert result.returncode == 2
    assert result.stderr.startswith("error: unknown dataset 'no-such-corpus'; registered datasets: ")
    assert "synth, synth-mini" in result.stderr.strip().splitlines()[-1]


# --------------------------------------------------------------------------- bounded downloads and archives


def test_a_server_without_content_length_cannot_write_past_the_registered_size(server, tmp_path):
    served = serve(server, "/files/big.bin", NOISE * 4, size=len(NOISE), md5=_md5(NOISE))
    server.send_length = False
    part = tmp_path / "big.bin.part"
    with pytest.raises(DataError, match=rf"download of {re.escape(served.url)} failed: the server sent more than "
                                        rf"the registered {len(NOISE)} bytes; stopped there and deleted the partial "
                                        r"file \(the server's file is not the published one\)$"):
        download(served, part, progress=False)
    assert not part.exists()


def test_a_download_has_an_overall_deadline_besides_the_socket_timeout(server, tmp_path):
    served = serve(server, "/files/slow.bin", NOISE)
    server.trickle = 0.05  # every read returns within the socket timeout; the whole file takes seconds
    part = tmp_path / "slow.bin.part"
    started = time.monotonic()
    with pytest.raises(DataError, match=rf"download of {re.escape(served.url)} did not finish within its deadline "
                                        r"of 1 s .*the \d+ bytes received are kept, run the same command again to "
                                        r"resume$"):
        download(served, part, progress=False, timeout=5.0, deadline=1.0)
    assert time.monotonic() - started < 4.0
    assert 0 < part.stat().st_size < len(NOISE)  # kept for the resume


def test_extraction_stops_past_a_size_limit_derived_from_the_registered_archive(server, tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, data in {**AUDIO_MEMBERS, "corpus/zeros.bin": bytes(20 * 10**6)}.items():  # zeros: about 1000:1
            bundle.writestr(name, data)
    bomb = buffer.getvalue()
    dataset = corpus_with(serve(server, "/files/bomb.zip", bomb))(tmp_path)
    with pytest.raises(DataError, match=r"bomb\.zip would unpack to .* more than 20 times its registered size "
                                        r".*refusing to extract it \(nothing was extracted\)$"):
        fetch(dataset, progress=False)
    assert_nothing_installed(dataset)


@pytest.mark.parametrize("member", [".sedbench-complete", "corpus/.sedbench-hashes.json", ".sedbench-index.json",
                                    "corpus/audio/.sedbench-hashes.json.123.tmp", ".download/x.part"])
def test_names_sedbench_writes_itself_are_refused_from_an_archive(server, tmp_path, member):
    archive = zip_bytes({**AUDIO_MEMBERS, member: b"{}"})
    dataset = corpus_with(serve(server, "/files/audio.zip", archive))(tmp_path)
    with pytest.raises(DataError, match=rf"refusing to extract member {re.escape(repr(member))}: the name is "
                                        r"reserved for sedbench's own bookkeeping; nothing was extracted$"):
        fetch(dataset, progress=False)
    assert_nothing_installed(dataset)
