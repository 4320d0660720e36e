"""Download, check, safely extract and verify the files of a `DownloadedDataset`.

``fetch`` downloads every ``RemoteFile`` into ``<root>/.download/<name>.part``
(resuming with HTTP Range requests), checks its size and md5 before anything is
extracted, unpacks the archives into a staging folder next to the root, moves
the result into place and writes FILE_INDEX and then COMPLETE_MARKER, so a
dataset is never marked complete unless every step succeeded.

``verify`` re-checks the files against FILE_INDEX, or, for a manual-only corpus
placed by hand, runs the dataset's ``check_layout`` and, when that passes,
writes the index and the marker that make the dataset usable.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import stat
import tarfile
import time
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Callable, Iterator
from urllib.error import HTTPError, URLError
from urllib.request import Request, urlopen

from sedbench import __version__
from sedbench.core.dataset import COMPLETE_MARKER, FILE_INDEX, HASH_MEMO, DownloadedDataset, RemoteFile, human_size
from sedbench.core.errors import DataError
from sedbench.core.locks import try_lock

DOWNLOAD_DIR = ".download"  # inside the dataset root; removed once the dataset is complete
RESERVED_NAMES = frozenset({DOWNLOAD_DIR, COMPLETE_MARKER, FILE_INDEX})  # no archive may write these at the top
RESERVED_PREFIX = ".sedbench"  # markers, indexes, hash memos and their temporary files, at any depth
CHUNK = 1 << 16
MAX_EXPANSION = 20  # an archive may unpack to at most this many times its registered size (audio compresses little)
MIN_RATE = 20_000  # bytes per second: a download slower than this over the whole file misses its deadline
MIN_DEADLINE = 300.0  # seconds, for small files
_TAR_FILTER_ERROR = getattr(tarfile, "FilterError", ())  # Python < 3.11.4 has no extraction filters
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")

Log = Callable[[str], None]


def _no_log(message: str) -> None:
    pass


# --------------------------------------------------------------------------- results


@dataclass
class FetchResult:
    dataset: str
    root: Path
    already_present: bool = False
    downloaded_bytes: int = 0  # bytes received over the network in this call
    files: int = 0  # files in the finished dataset (from FILE_INDEX)


@dataclass(frozen=True)
class Mismatch:
    path: str  # relative to the dataset root
    expected: str
    actual: str


@dataclass
class VerifyReport:
    dataset: str
    root: Path
    checked: int = 0  # files compared with FILE_INDEX
    missing: list[str] = field(default_factory=list)
    wrong_size: list[Mismatch] = field(default_factory=list)
    wrong_md5: list[Mismatch] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # layout problems, or why nothing could be checked
    accepted: bool = False  # a hand-placed layout passed check_layout; index and marker were written now
    marked_complete: bool = False  # the marker was (re)written by this call

    @property
    def ok(self) -> bool:
        return not (self.missing or self.wrong_size or self.wrong_md5 or self.problems)

    def lines(self) -> list[str]:
        """Human-readable report, one finding per line."""
        out = [f"{self.dataset} in {self.root}:"]
        out += [f"  problem: {problem}" for problem in self.problems]
        out += [f"  missing: {path}" for path in self.missing]
        out += [f"  size mismatch: {m.path} is {m.actual} bytes, expected {m.expected}" for m in self.wrong_size]
        out += [f"  md5 mismatch: {m.path} has md5 {m.actual}, expected {m.expected}" for m in self.wrong_md5]
        if self.ok:
            if self.accepted:
                out.append(f"  layout accepted; indexed {self.checked} files and marked the dataset complete")
            else:
                out.append(f"  all {self.checked} indexed files present with the recorded size and md5")
        else:
            bad = len(self.missing) + len(self.wrong_size) + len(self.wrong_md5)
            if bad:
                out.append(f"  {bad} of {self.checked} indexed files missing or changed")
        return out


# --------------------------------------------------------------------------- fetch


def fetch(
    dataset: DownloadedDataset,
    *,
    force: bool = False,
    progress: bool = True,
    timeout: float = 60.0,
    retries: int = 5,
    keep_downloads: bool = False,
    log: Log | None = None,
) -> FetchResult:
    """Download, check and extract every remote file of ``dataset``; mark it complete.

    ``retries``: how many times a connection that broke after delivering data is
    resumed within this call (a connection that delivers nothing fails at once).
    An interrupted call leaves ``<root>/.download/<name>.part``; the next call
    resumes from there. ``keep_downloads`` keeps the verified archives.
    """
    log = log or _no_log
    try:
        return _fetch(dataset, force=force, progress=progress, timeout=timeout, retries=retries,
                      keep_downloads=keep_downloads, log=log)
    except OSError as exc:  # disk full, permissions, ...: one sentence, and no marker was written
        raise DataError(f"fetching dataset {dataset.name!r} into {dataset.root} failed: {exc}") from None


def _fetch(dataset: DownloadedDataset, *, force: bool, progress: bool, timeout: float, retries: int,
           keep_downloads: bool, log: Log) -> FetchResult:
    root = dataset.root
    result = FetchResult(dataset=dataset.name, root=root)
    if not dataset.remote_files:
        raise DataError(f"dataset {dataset.name!r} has no files to download; set it up by hand in {root}: "
                        f"{dataset.manual_setup.strip()} Then run `sedbench datasets verify {dataset.name}`.")
    if dataset.is_present() and not force:
        result.already_present = True
        result.files = _indexed_file_count(root)
        log(f"{dataset.name} is already complete in {root}; nothing to do (use --force to fetch it again)")
        return result
    downloads = root / DOWNLOAD_DIR
    downloads.mkdir(parents=True, exist_ok=True)
    with _exclusive(downloads / "lock", dataset.name):
        _check_free_space(dataset, downloads)
        archives = []
        for remote in dataset.remote_files:
            path, received = _obtain(remote, downloads, timeout=timeout, retries=retries, progress=progress, log=log)
            result.downloaded_bytes += received
            archives.append((remote, path))
        real_root = root.resolve()  # stage on the root's own file system (the root may be a link), so moves are renames
        staging = real_root.with_name(f".{real_root.name}.staging-{os.getpid()}")
        for stale in real_root.parent.glob(f".{real_root.name}.staging-*"):  # left by a killed run; we hold the lock
            shutil.rmtree(stale, ignore_errors=True)
        try:
            staging.mkdir()
            for remote, path in archives:
                log(f"extracting {remote.name}" if remote.extract else f"placing {remote.name}")
                if remote.extract:
                    extract_archive(path, staging, max_bytes=remote.size * MAX_EXPANSION)
                else:
                    shutil.copyfile(path, _inside(staging, remote.name, path))
            index = build_index(staging, progress=progress)
            _install(staging, root, log)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        write_index_and_marker(dataset, index, source="fetched")
        result.files = len(index)
        if not keep_downloads:
            for _, path in archives:
                path.unlink(missing_ok=True)
    if not keep_downloads:
        shutil.rmtree(downloads, ignore_errors=True)
    return result


def _obtain(remote: RemoteFile, downloads: Path, *, timeout: float, retries: int, progress: bool,
            log: Log) -> tuple[Path, int]:
    """The verified download of ``remote`` (re-using one from an earlier call), and the bytes received now."""
    done = downloads / remote.name
    if done.exists():
        if done.stat().st_size == remote.size and file_md5(done) == remote.md5.lower():
            log(f"{remote.name}: already downloaded and verified")
            return done, 0
        done.unlink()
    part = downloads / f"{remote.name}.part"
    received = download(remote, part, timeout=timeout, retries=retries, progress=progress, log=log)
    check_download(remote, part)
    os.replace(part, done)
    return done, received


def download(remote: RemoteFile, part: Path, *, timeout: float = 60.0, retries: int = 5, progress: bool = True,
             log: Log | None = None, deadline: float | None = None) -> int:
    """Download ``remote.url`` into ``part``, continuing from the bytes already there. Returns bytes received.

    Stops once the file has ``remote.size`` bytes or the server's body ends; the caller checks size and md5. Never
    writes more than ``remote.size`` bytes (a server without Content-Length cannot fill the disk), and gives up after
    ``deadline`` seconds in all (default: the time at 20 kB/s, at least 5 minutes), besides ``timeout`` per socket
    operation. Raises DataError naming the URL on failure.
    """
    log = log or _no_log
    url = remote.url
    received_total = 0
    resumes = 0
    restarted = False
    allowed = deadline if deadline is not None else max(MIN_DEADLINE, remote.size / MIN_RATE)
    ends = time.monotonic() + allowed
    with _progress_bar(progress, remote.name, remote.size) as bar:
        while True:
            have = part.stat().st_size if part.exists() else 0
            if have > remote.size:  # not the published file; start over
                part.unlink()
                have = 0
            if have == remote.size:
                return received_total
            headers = {"User-Agent": f"sedbench/{__version__} (+python urllib)"}
            if have:
                headers["Range"] = f"bytes={have}-"
            try:
                response = urlopen(Request(url, headers=headers), timeout=timeout)
            except HTTPError as exc:
                if exc.code == 416 and have and not restarted:  # the partial file does not fit the server's
                    part.unlink()
                    restarted = True
                    continue
                raise DataError(f"download of {url} failed: HTTP {exc.code} {exc.reason}") from None
            except (URLError, OSError, http.client.HTTPException) as exc:
                reason = getattr(exc, "reason", None) or exc
                raise DataError(f"download of {url} failed: {reason}; check the network connection "
                                f"and run the same command again") from None
            with response:
                mode, offset, body_length = _response_plan(response, remote, have, url, log)
                bar(offset, None)
                received, error = _copy_body(response, part, mode, lambda done: bar(offset + done, done),
                                             remote.size - offset, ends)
                if isinstance(error, _Overlong):
                    part.unlink(missing_ok=True)
                    raise DataError(f"download of {url} failed: the server sent more than the registered "
                                    f"{remote.size} bytes; stopped there and deleted the partial file (the server's "
                                    "file is not the published one)")
                if isinstance(error, _Overdue):
                    raise DataError(f"download of {url} did not finish within its deadline of {allowed:.0f} s "
                                    f"(at least {MIN_RATE // 1000} kB/s over {human_size(remote.size)}); the "
                                    f"{part.stat().st_size if part.exists() else 0} bytes received are kept, run "
                                    "the same command again to resume")
                received_total += received
            size_now = part.stat().st_size if part.exists() else 0
            if error is None and (received >= body_length if body_length is not None else size_now >= remote.size):
                return received_total  # the body ended as announced; size and md5 are checked by the caller
            expected = body_length if body_length is not None else remote.size - offset
            reason = error or f"the server closed the connection after {received} of {expected} bytes"
            if received and resumes < retries:
                resumes += 1
                log(f"{remote.name}: connection lost after {size_now} bytes ({reason}); resuming")
                continue
            raise DataError(f"download of {url} was interrupted after {size_now} of {remote.size} bytes "
                            f"({reason}); run the same command again to resume")


class _Overlong(Exception):
    """The body went past the registered size."""


class _Overdue(Exception):
    """The file's overall deadline passed."""


def _copy_body(response, part: Path, mode: str, advance: Callable[[int], None], limit: int,
               ends: float) -> tuple[int, Exception | None]:
    """Append the response body to ``part``, at most ``limit`` bytes, until ``ends`` (time.monotonic): (bytes
    received, the reason it stopped short: a connection error, _Overlong or _Overdue, or None)."""
    received = 0
    read = getattr(response, "read1", response.read)  # what has arrived, so the deadline is checked between reads
    try:
        with open(part, mode) as out:
            while True:
                if time.monotonic() > ends:
                    return received, _Overdue()
                try:
                    chunk = read(CHUNK)
                except (OSError, http.client.HTTPException) as exc:  # timeouts and resets are OSErrors
                    return received, exc
                if not chunk:
                    return received, None
                if received + len(chunk) > limit:
                    out.write(chunk[:limit - received])
                    return limit, _Overlong()
                out.write(chunk)
                received += len(chunk)
                advance(received)
    except OSError as exc:  # writing, not reading, failed
        raise DataError(f"writing {part} failed: {exc}") from None


def _response_plan(response, remote: RemoteFile, have: int, url: str, log: Log) -> tuple[str, int, int | None]:
    """(file mode, offset the body starts at, body length or None) for a response; rejects a wrong size early."""
    length_header = response.headers.get("Content-Length")
    body_length = int(length_header) if length_header and length_header.isdigit() else None
    if have and response.status == 206:
        content_range = response.headers.get("Content-Range", "")  # "bytes START-END/TOTAL"
        try:
            span, total = content_range.split(" ", 1)[1].split("/")
            start = int(span.split("-")[0])
        except (IndexError, ValueError):
            raise DataError(f"download of {url} failed: the server answered a Range request with "
                            f"an unreadable Content-Range {content_range!r}") from None
        if start != have:
            raise DataError(f"download of {url} failed: asked for bytes from {have}, the server sent them from "
                            f"{start}; delete {remote.name}.part and run again")
        if total.isdigit() and int(total) != remote.size:
            raise DataError(f"download of {url} failed: the server's file has {int(total)} bytes, "
                            f"the dataset expects {remote.size}")
        return "ab", have, body_length
    if have:
        log(f"{remote.name}: the server does not resume downloads; starting again from the beginning")
    if body_length is not None and body_length != remote.size:
        raise DataError(f"download of {url} failed: the server's file has {body_length} bytes, "
                        f"the dataset expects {remote.size}")
    return "wb", 0, body_length


def check_download(remote: RemoteFile, path: Path) -> None:
    """Size, then md5 of a downloaded file; a mismatch deletes it and raises one DataError."""
    size = path.stat().st_size
    if size != remote.size:
        path.unlink()
        raise DataError(f"{remote.name} from {remote.url} has {size} bytes, expected {remote.size}; "
                        f"the file was deleted, run the command again to download it anew")
    actual = file_md5(path)
    if actual != remote.md5.lower():
        path.unlink()
        raise DataError(f"{remote.name} from {remote.url} has md5 {actual}, expected {remote.md5.lower()}; "
                        f"the file was deleted, run the command again to download it anew")


# --------------------------------------------------------------------------- safe extraction


def extract_archive(archive: Path, target: Path, max_bytes: int | None = None) -> None:
    """Unpack a .zip or .tar[.gz|.bz2|.xz] into ``target``, refusing anything that could escape it.

    Refused: absolute paths, ``..`` components, links, device files and other
    special members, and names sedbench reserves. The caller extracts into a
    staging folder and deletes it on any error, so nothing of a refused archive stays.
    """
    archive = Path(archive)
    name = archive.name.lower()
    try:
        if name.endswith(".zip"):
            _extract_zip(archive, target, max_bytes)
        elif name.endswith(ARCHIVE_SUFFIXES):
            _extract_tar(archive, target, max_bytes)
        else:
            raise DataError(f"{archive} is not an archive sedbench can extract ({', '.join(ARCHIVE_SUFFIXES)}); "
                            f"declare it with extract=False to place it as it is")
    except DataError:
        raise
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        raise DataError(f"{archive} could not be extracted: {exc}") from None


def _refuse(archive: Path, member: str, reason: str) -> DataError:
    return DataError(f"{archive}: refusing to extract member {member!r}: {reason}; nothing was extracted")


def _check_member_name(archive: Path, member: str) -> PurePosixPath:
    """The member's relative path, or a DataError for names that are absolute, escape or are reserved."""
    normalized = member.replace("\\", "/")
    if normalized.startswith("/") or (len(normalized) > 1 and normalized[1] == ":"):
        raise _refuse(archive, member, "absolute path")
    parts = [part for part in normalized.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise _refuse(archive, member, "'..' in the path could write outside the dataset folder")
    if not parts:
        raise _refuse(archive, member, "empty path")
    if parts[0] in RESERVED_NAMES or any(part.startswith(RESERVED_PREFIX) for part in parts):
        raise _refuse(archive, member, "the name is reserved for sedbench's own bookkeeping")
    return PurePosixPath(*parts)


def _inside(target: Path, relative: str | PurePosixPath, archive: Path) -> Path:
    """``target / relative``, made sure to stay inside ``target`` even through existing links."""
    path = target / relative
    root = target.resolve()
    if not path.resolve().is_relative_to(root):
        raise _refuse(archive, str(relative), "it resolves outside the dataset folder")
    return path


def _check_total(archive: Path, total: int, max_bytes: int | None) -> None:
    if max_bytes is not None and total > max_bytes:
        raise DataError(f"{archive} would unpack to {human_size(total)}, more than {MAX_EXPANSION} times its "
                        f"registered size ({human_size(max_bytes)} at most); refusing to extract it (nothing was "
                        "extracted)")


def _extract_zip(archive: Path, target: Path, max_bytes: int | None = None) -> None:
    with zipfile.ZipFile(archive) as bundle:
        _check_total(archive, sum(info.file_size for info in bundle.infolist()), max_bytes)
        members = []
        for info in bundle.infolist():  # check everything before writing anything
            relative = _check_member_name(archive, info.filename)
            mode = info.external_attr >> 16
            kind = stat.S_IFMT(mode)
            if stat.S_ISLNK(mode):
                raise _refuse(archive, info.filename, "symbolic link")
            if kind and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                raise _refuse(archive, info.filename, "device file or other special file")
            members.append((info, relative))
        for info, relative in members:
            path = _inside(target, relative, archive)
            if info.is_dir():
                path.mkdir(parents=True, exist_ok=True)
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            with bundle.open(info) as source, open(path, "wb") as out:
                shutil.copyfileobj(source, out, CHUNK)


def _extract_tar(archive: Path, target: Path, max_bytes: int | None = None) -> None:
    with tarfile.open(archive, "r:*") as bundle:
        members = []
        _check_total(archive, sum(member.size for member in bundle.getmembers()), max_bytes)
        for member in bundle.getmembers():  # reads the whole index first, so a refused archive writes nothing
            _check_member_name(archive, member.name)
            if member.issym() or member.islnk():
                raise _refuse(archive, member.name, f"link to {member.linkname!r}")
            if not (member.isfile() or member.isdir()):
                raise _refuse(archive, member.name, "device file or other special file")
            members.append(member)
        options = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        try:
            bundle.extractall(target, members=members, **options)
        except _TAR_FILTER_ERROR as exc:  # defence in depth; our own checks should have caught it
            member = getattr(exc, "tarinfo", None)
            raise _refuse(archive, member.name if member else "?", str(exc)) from None


# --------------------------------------------------------------------------- index, marker, install


def build_index(root: Path, *, progress: bool = False) -> dict[str, dict[str, int | str]]:
    """Relative path -> {"size", "md5"} of every file under ``root`` except sedbench's own bookkeeping."""
    files = sorted(_indexable_files(root))
    index: dict[str, dict[str, int | str]] = {}
    total = sum(path.stat().st_size for path in files)
    with _progress_bar(progress and total > 0, "checksums", total) as bar:
        done = 0
        for path in files:
            size = path.stat().st_size
            index[path.relative_to(root).as_posix()] = {"size": size, "md5": file_md5(path)}
            done += size
            bar(done, size)
    return index


def _indexable_files(root: Path) -> Iterator[Path]:
    for path in root.rglob("*"):
        relative = path.relative_to(root)
        if relative.parts[0] in RESERVED_NAMES or path.name == HASH_MEMO or not path.is_file():
            continue
        yield path


def _install(staging: Path, root: Path, log: Log) -> None:
    """Replace the root's contents (except the downloads) with the staging folder's, marker removed first."""
    root.mkdir(parents=True, exist_ok=True)
    (root / COMPLETE_MARKER).unlink(missing_ok=True)
    (root / FILE_INDEX).unlink(missing_ok=True)
    old = [entry for entry in root.iterdir() if entry.name != DOWNLOAD_DIR]
    if old:
        log(f"removing {len(old)} entries left in {root} by an earlier, incomplete or replaced copy")
    for entry in old:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    for entry in staging.iterdir():
        os.replace(entry, root / entry.name)


def write_index_and_marker(dataset: DownloadedDataset, index: dict, source: str) -> None:
    """FILE_INDEX, then COMPLETE_MARKER, each written atomically: the marker only ever follows a full index."""
    root = dataset.root
    _write_atomic(root / FILE_INDEX, json.dumps({"dataset": dataset.name, "files": index}, indent=1, sort_keys=True))
    marker = {"dataset": dataset.name, "source": source, "files": len(index), "sedbench_version": __version__,
              "written": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    _write_atomic(root / COMPLETE_MARKER, json.dumps(marker, indent=1))


def read_index(root: Path) -> dict[str, dict[str, int | str]] | None:
    """The file index under ``root``, or None when there is none. A damaged index is a DataError."""
    path = Path(root) / FILE_INDEX
    if not path.exists():
        return None
    try:
        files = json.loads(path.read_text(encoding="utf-8"))["files"]
        return {str(k): {"size": int(v["size"]), "md5": str(v["md5"])} for k, v in files.items()}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DataError(f"file index {path} is damaged ({exc}); fetch the dataset again with --force, "
                        f"or delete the index and run `sedbench datasets verify` for a hand-placed corpus") from None


def _indexed_file_count(root: Path) -> int:
    try:
        return len(read_index(root) or {})
    except DataError:
        return 0


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


# --------------------------------------------------------------------------- verify


def verify(dataset: DownloadedDataset, *, progress: bool = False) -> VerifyReport:
    """Check the files against FILE_INDEX; accept a hand-placed manual-only corpus whose layout passes."""
    root = dataset.root
    report = VerifyReport(dataset=dataset.name, root=root)
    if not root.is_dir():
        how = (f"run `sedbench datasets fetch {dataset.name}`" if dataset.remote_files
               else f"set it up by hand: {dataset.manual_setup.strip()}")
        report.problems.append(f"{root} does not exist; {how}")
        return report
    index = read_index(root)
    if index is None:  # placed by hand (a manual-only corpus, or a copy of a downloadable one): check, then index
        report.problems.extend(dataset.check_layout())
        report.problems.extend(_placed_file_problems(dataset))
        if report.problems:
            return report
        index = build_index(root, progress=progress)
        if not index:
            report.problems.append(f"{root} contains no files")
            return report
        write_index_and_marker(dataset, index, source="verified hand-placed layout")
        report.checked = len(index)
        report.accepted = report.marked_complete = True
        return report
    total = sum(int(entry["size"]) for entry in index.values())
    with _progress_bar(progress and total > 0, "verifying", total) as bar:
        done = 0
        for relative, entry in sorted(index.items()):
            report.checked += 1
            path = root / relative
            if not path.is_file():
                report.missing.append(relative)
                continue
            size = path.stat().st_size
            if size != entry["size"]:
                report.wrong_size.append(Mismatch(relative, str(entry["size"]), str(size)))
                continue
            actual = file_md5(path)
            if actual != entry["md5"]:
                report.wrong_md5.append(Mismatch(relative, str(entry["md5"]), actual))
            done += size
            bar(done, size)
    report.problems.extend(dataset.check_layout())
    if report.ok and not dataset.is_present():  # the run that wrote the index died before the marker
        write_index_and_marker(dataset, index, source="verified")
        report.marked_complete = True
    return report


def _placed_file_problems(dataset: DownloadedDataset) -> list[str]:
    """The published plain files (not archives) of a hand-placed copy that differ from their size or md5; archives
    are unpacked, so only the layout check speaks for their contents."""
    problems = []
    for remote in dataset.remote_files:
        path = dataset.root / remote.name
        if remote.extract or not path.is_file():
            continue
        size = path.stat().st_size
        if size != remote.size:
            problems.append(f"{path} has {size} bytes; the published file has {remote.size}")
        elif file_md5(path) != remote.md5:
            problems.append(f"{path} has md5 {file_md5(path)}; the published file has {remote.md5}")
    return problems


# --------------------------------------------------------------------------- helpers


def file_md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_free_space(dataset: DownloadedDataset, downloads: Path) -> None:
    needed = 0
    for remote in dataset.remote_files:
        done, part = downloads / remote.name, downloads / f"{remote.name}.part"
        have = done.stat().st_size if done.exists() else part.stat().st_size if part.exists() else 0
        needed += max(0, remote.size - have)
    free = shutil.disk_usage(downloads).free
    if needed > free:
        raise DataError(f"dataset {dataset.name!r} needs {human_size(needed)} more to download into {downloads}, "
                        f"but only {human_size(free)} is free; choose another --data-dir or SEDBENCH_DATA")


@contextmanager
def _exclusive(lock_path: Path, name: str):
    """One fetch per dataset at a time."""
    with try_lock(lock_path) as holder:
        if holder is not None:
            raise DataError(f"another sedbench process ({holder}) is fetching dataset {name!r} (it holds "
                            f"{lock_path}); wait for it to finish")
        yield


@contextmanager
def _progress_bar(enabled: bool, description: str, total: int):
    """Yields ``update(completed, advanced_or_None)``: a rich bar with bytes and rate, or a no-op."""
    if not enabled:
        yield lambda completed, advanced: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
               TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=False) as bar:
        task = bar.add_task(description, total=total)

        def update(completed: int, advanced: int | None) -> None:
            if advanced is None:  # a (re)started transfer: restart the rate estimate at this offset
                bar.reset(task, total=total, completed=completed)
            else:
                bar.update(task, completed=completed)

        yield update


__all__ = ["FetchResult", "Mismatch", "VerifyReport", "build_index", "check_download", "download",
           "extract_archive", "fetch", "file_md5", "human_size", "read_index", "verify",
           "write_index_and_marker"]
