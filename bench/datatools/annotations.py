"""Reading and writing DCASE annotation text: event rows, fold lists and event-list files.

Every reader names the file and line of a bad row in one sentence (a ``DataError``), reads UTF-8 (a BOM is skipped)
and accepts dcase_util's row formats. Datasets, bring-your-own folders and ``sedbench score`` all read through here.
"""

from __future__ import annotations

import math
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, TextIO

from sedbench.core.data import Event
from sedbench.core.errors import DataError


def parse_annotation_line(line: str, source: str, line_number: int) -> tuple[str | None, Event]:
    """Parse ``[filename] onset offset label`` (tab-separated, or whitespace with the label last).

    Returns (filename or None, event). Raises DataError naming the file and line.
    """
    fields = line.rstrip("\r\n").split("\t")
    if len(fields) == 1:  # whitespace-separated; the label may have spaces, so it takes the rest
        words = line.split()
        label_from = 2 if len(words) >= 3 and _is_number(words[0]) and _is_number(words[1]) else 3
        fields = words[:label_from] + ([" ".join(words[label_from:])] if len(words) > label_from else [])
    fields = [f.strip() for f in fields]
    where = f"{source}, line {line_number}"
    if len(fields) == 4:
        filename, onset_text, offset_text, label = fields
    elif len(fields) == 3:
        filename, (onset_text, offset_text, label) = None, fields
    else:
        raise DataError(f"{where}: expected 'filename onset offset label' or 'onset offset label', got {line.strip()!r}")
    try:
        onset, offset = float(onset_text), float(offset_text)
    except ValueError:
        raise DataError(f"{where}: onset and offset must be numbers, got {onset_text!r} and {offset_text!r}") from None
    for name, value, text in (("onset", onset, onset_text), ("offset", offset, offset_text)):
        if not math.isfinite(value):  # float() reads 'nan' and 'inf'
            raise DataError(f"{where}: {name} must be a finite number, got {text!r}")
    if onset < 0:
        raise DataError(f"{where}: onset must be a number >= 0, got {onset_text!r}")
    if offset < onset:
        raise DataError(f"{where}: offset {offset} is before onset {onset}")
    if not label:
        raise DataError(f"{where}: the event label is empty")
    return filename, Event(onset, offset, label)


_DECIMAL_COMMA = re.compile(r"^\d+,\d+$")


def parse_dcase_row(line: str, source: str, number: int) -> tuple[str | None, str | None, Event | None]:
    """(filename, scene, event) of one DCASE annotation row; any part may be None. Errors name file and line.

    Tab-separated rows follow dcase_util's MetaDataContainer formats: ``file``, ``file scene``,
    ``file scene identifier``, ``onset offset label``, ``file onset offset label``,
    ``file scene onset offset label [source ...]`` (columns after the label are ignored). Rows without
    tabs are split at whitespace (``file``, ``file scene``, or ``[file] onset offset label`` with the
    label taking the rest of the line). In every one of these formats a decimal comma in a time (``1,5``) is read
    as a decimal point, as dcase_util reads it: the TUT Sound Events 2016 evaluation annotations use it.
    """
    text = line.rstrip("\r\n")
    if "\t" in text:
        fields = [f.strip() for f in text.split("\t")]
        while fields and not fields[-1]:
            fields.pop()
        times = range(len(fields) - 3, len(fields) - 1) if len(fields) in (3, 4) else (2, 3)
        fields = [f.replace(",", ".") if i in times and _DECIMAL_COMMA.match(f) else f for i, f in enumerate(fields)]
        line = "\t".join(fields)
    else:
        fields = text.split()
        first = 0 if fields and (_is_number(fields[0]) or _DECIMAL_COMMA.match(fields[0])) else 1
        head = re.match(r"\s*(?:\S+\s+){%d}" % min(first + 2, max(len(fields) - 1, 0)), text)
        if head and any(_DECIMAL_COMMA.match(token) for token in head.group().split()):
            line = re.sub(r"(?<!\S)(\d+),(\d+)(?!\S)", r"\1.\2", head.group()) + text[head.end():]
            fields = line.split()
    if _missing_fields(fields):
        raise DataError(f"{source}, line {number}: expected 'filename onset offset label' or 'onset offset label', "
                        f"got {text.strip()!r} (too few fields)")
    if len(fields) == 1:
        return fields[0], None, None
    if len(fields) == 2:
        return fields[0], fields[1], None
    if "\t" in text and len(fields) == 3 and not (_is_number(fields[0]) or _is_number(fields[1])):
        return fields[0], fields[1], None  # file, scene, identifier
    if "\t" in text and len(fields) >= 5:
        filename, scene, onset, offset, label = fields[:5]
        _, event = parse_annotation_line("\t".join((filename, onset, offset, label)), source, number)
        return filename, scene, event
    filename, event = parse_annotation_line(line, source, number)
    return filename, None, event


def _missing_fields(fields: list[str]) -> bool:
    """A row cut short: a lone time, 'filename onset', or 'filename onset offset' without its label.

    Without this, 'file 0.5' would read as a file with scene '0.5' and 'file 0.5 1.0' as onset 'file'.
    """
    if len(fields) in (1, 2):
        return _is_number(fields[-1])
    return len(fields) == 3 and not _is_number(fields[0]) and _is_number(fields[1]) and _is_number(fields[2])


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@contextmanager
def open_text(path: Path, newline: str | None = None) -> Iterator[TextIO]:
    """``open(path)`` for reading UTF-8 text (a BOM is skipped); a byte that is not UTF-8 is one DataError naming
    its line, instead of a UnicodeDecodeError from wherever the file is read."""
    try:
        with open(path, encoding="utf-8-sig", newline=newline) as handle:
            yield handle
    except UnicodeDecodeError:
        data = Path(path).read_bytes()
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
            raise DataError(f"{path}, line {line}: byte 0x{data[exc.start]:02x} (column {column}) is not UTF-8 text; "
                            "save the file as UTF-8") from None
        raise


def read_annotation_file(path: Path) -> list[tuple[str | None, Event]]:
    path = Path(path)
    if not path.exists():
        raise DataError(f"annotation file {path} does not exist")
    rows = []
    with open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip() and not line.lstrip().startswith("#"):
                rows.append(parse_annotation_line(line, str(path), number))
    return rows


def write_annotation_file(path: Path, filename: str, events: list[Event]) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for e in sorted(events, key=lambda e: (e.onset, e.label)):
            handle.write(f"{filename}\t{e.onset:.3f}\t{e.offset:.3f}\t{e.label}\n")


def read_list_file(path: Path) -> list[str]:
    """A fold list: one audio file per line (extra columns are ignored)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"fold list {path} does not exist")
    with open_text(path) as handle:
        return [line.split("\t")[0].strip() for line in handle if line.strip()]


EVENT_FILE_SUFFIXES = (".txt", ".tsv", ".csv", ".ann")


class EventLists(dict):
    """recording -> events, keyed by the path as the lists write it; ``unnamed``: the keys made from the names of
    list files whose rows name no recording (``onset offset label`` rows, one recording per file)."""

    def __init__(self):
        super().__init__()
        self.unnamed: set[str] = set()


def recording_key(filename: str) -> str:
    """A recording's path as a list writes it, in one spelling (forward slashes, no leading './')."""
    key = filename.strip().replace("\\", "/")
    while key.startswith("./"):
        key = key[2:]
    return key


def read_event_lists(path: Path, role: str = "event list") -> EventLists:
    """Events per recording from one DCASE event-list file or a folder of them.

    Rows as ``parse_dcase_row`` reads them (``filename onset offset label``, sed_eval's ``filename scene onset
    offset label``, ``onset offset label`` naming the recording after the list file, a lone ``filename`` for a
    recording without events, decimal commas), and a DESED-style header row. Keys are paths as written, so two
    recordings with one base name in different folders stay apart. In a folder, an empty list file is a recording
    without events. ``role`` names the input in errors.
    """
    path = Path(path)
    kinds = ", ".join(EVENT_FILE_SUFFIXES)
    if not path.exists():
        raise DataError(f"{role} {path} does not exist; expected an event-list file ({kinds}) or a folder of them")
    files = sorted(p for p in path.rglob("*") if p.suffix in EVENT_FILE_SUFFIXES) if path.is_dir() else [path]
    if not files:
        raise DataError(f"{role} folder {path} contains no event-list files ({kinds})")
    result = EventLists()
    for file in files:
        unnamed = (file.relative_to(path) if path.is_dir() else Path(file.name)).with_suffix(".wav").as_posix()
        rows = 0
        with open_text(file) as handle:
            for number, line in enumerate(handle, start=1):
                text = line.strip()
                if not text or text.startswith("#"):
                    continue
                if file.suffix == ".csv" and "\t" not in line:
                    line = line.replace(",", "\t")
                fields = line.rstrip("\r\n").split("\t") if "\t" in line else line.split()
                if number == 1 and not _is_number(fields[-2] if len(fields) >= 2 else "") and "onset" in text.lower():
                    continue  # header row
                rows += 1
                filename, _, event = parse_dcase_row(line, str(file), number)
                key = recording_key(filename) if filename else unnamed
                if not filename:
                    result.unnamed.add(key)
                events = result.setdefault(key, [])
                if event is not None:
                    events.append(event)
        if rows == 0 and path.is_dir():  # an empty list in a folder: a recording without events
            result.setdefault(unnamed, [])
            result.unnamed.add(unnamed)
    return result


def dcase_rows(path: Path) -> Iterator[tuple[int, tuple[str | None, str | None, Event | None]]]:
    """(line number, ``parse_dcase_row``'s (filename, scene, event)) of every row that is not blank or a comment."""
    with open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip() and not line.lstrip().startswith("#"):
                yield number, parse_dcase_row(line, str(path), number)


def read_event_rows(path: Path) -> list[tuple[int, str | None, Event]]:
    """(line number, filename or None, event) for each row of a TUT / DCASE annotation file.

    Rows are tab-separated ``onset offset label`` (TUT .ann, Audacity labels),
    ``file onset offset label``, or the DCASE meta form ``file scene onset offset
    label [event type [identifier]]``, as `sedbench.core.dataset.parse_dcase_row` reads them;
    here every row must hold an event.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"annotation file {path} does not exist")
    rows = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            filename, _, event = parse_dcase_row(line, str(path), number)
            if event is None:
                parse_annotation_line(line, str(path), number)  # raises its "expected ... got" error
            rows.append((number, filename, event))
    return rows
