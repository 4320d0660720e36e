"""DCASE task 4 submissions (``sedbench score --durations``): a folder of sed_scores_eval score TSVs, or a DESED
detection TSV, against a ground-truth TSV and DESED's ``durations.tsv``.

Files are matched by audio id (the file name without extension), as sed_scores_eval does. A file listed in the
durations without reference events is scored as a file with no events; a file the submission or the ground truth
names that the durations do not list is an error naming it, as is a score folder that leaves a listed file out.
Score TSVs give the threshold-independent scores and, at ``threshold``, events for sed_eval's metrics (cut by
sed_scores_eval's ``scores_to_event_list``); a detection TSV is scored at its one operating point.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sedbench.core.data import Event
from sedbench.core.errors import DataError
from sedbench.datatools.annotations import open_text, read_event_lists

from . import threshold_free
from .metrics import MetricSettings, score
from .score_archive import audio_id


@dataclass
class SubmissionScores:
    labels: list[str]
    files: int
    reference_events: int
    estimated_events: int
    kind: str  # frame scores | events
    metrics: dict  # sed_eval's (frame, 1s, event) and "threshold_free"


def is_score_folder(path: Path) -> bool:
    """A folder whose first TSV starts with sed_scores_eval's ``onset offset <class> ...`` header."""
    path = Path(path)
    if not path.is_dir():
        return False
    first = next(iter(sorted(path.glob("*.tsv"))), None)
    if first is None:
        return False
    with open_text(first) as handle:
        header = handle.readline().rstrip("\r\n").split("\t")
    return header[:2] == ["onset", "offset"] and len(header) > 2


def read_score_folder(folder: Path) -> tuple[dict, list[str]]:
    """(audio id -> sed_scores_eval DataFrame, classes) of a folder of score TSVs; one-sentence errors naming the
    file and line."""
    from sed_scores_eval.base_modules.scores import create_score_dataframe

    tables, classes = {}, None
    for file in sorted(Path(folder).glob("*.tsv")):
        with open_text(file) as handle:
            rows = [line.rstrip("\r\n").split("\t") for line in handle if line.strip()]
        if not rows or rows[0][:2] != ["onset", "offset"] or len(rows[0]) < 3:
            raise DataError(f"{file}, line 1: expected the header 'onset<TAB>offset<TAB><class>...' of a "
                            f"sed_scores_eval score file, got {rows[0][:4] if rows else 'an empty file'}")
        if classes is None:
            classes = rows[0][2:]
        elif rows[0][2:] != classes:
            raise DataError(f"{file}, line 1: classes {rows[0][2:]} differ from {classes} of the other score files")
        values = np.empty((len(rows) - 1, len(rows[0])))
        for number, row in enumerate(rows[1:], start=2):
            try:
                if len(row) != len(rows[0]):
                    raise ValueError
                values[number - 2] = [float(v) for v in row]
            except ValueError:
                raise DataError(f"{file}, line {number}: expected {len(rows[0])} numbers (onset, offset and "
                                f"{len(classes)} scores), got {row!r}") from None
        if len(values) == 0:
            raise DataError(f"{file} has a header but no score rows")
        onsets, offsets = values[:, 0], values[:, 1]
        if np.any(offsets <= onsets) or np.any(np.abs(onsets[1:] - offsets[:-1]) > 1e-6):
            bad = int(np.flatnonzero((offsets <= onsets) | np.r_[False, np.abs(onsets[1:] - offsets[:-1]) > 1e-6])[0])
            raise DataError(f"{file}, line {bad + 2}: score windows must be consecutive (each onset the previous "
                            f"offset) and of positive length, got onset {onsets[bad]:g}, offset {offsets[bad]:g}")
        tables[file.stem] = create_score_dataframe(values[:, 2:], np.r_[onsets, offsets[-1]], classes)
    if not tables:
        raise DataError(f"score folder {folder} contains no .tsv files")
    return tables, classes


def read_durations(path: Path) -> dict[str, float]:
    """audio id -> seconds from DESED's ``durations.tsv`` (``filename<TAB>duration`` with a header row)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"durations file {path} does not exist; expected DESED's 'filename<TAB>duration' TSV")
    durations = {}
    with open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            fields = line.rstrip("\r\n").split("\t")
            if not line.strip() or (number == 1 and fields[:2] == ["filename", "duration"]):
                continue
            try:
                if len(fields) != 2 or float(fields[1]) <= 0:
                    raise ValueError
                durations[audio_id(fields[0])] = float(fields[1])
            except ValueError:
                raise DataError(f"{path}, line {number}: expected 'filename<TAB>duration' with a positive duration "
                                f"in seconds, got {line.strip()!r}") from None
    if not durations:
        raise DataError(f"durations file {path} lists no files")
    return durations


def score_submission(reference: Path, estimated: Path, durations_file: Path, labels: list[str] | None,
                     settings: MetricSettings, backend: str = "fast", threshold: float = 0.5) -> SubmissionScores:
    """sed_eval's metrics and the threshold-independent scores of a DCASE task 4 submission."""
    from sed_scores_eval.base_modules.detection import scores_to_event_list

    durations = read_durations(durations_file)
    references = {audio_id(name): events for name, events in read_event_lists(reference, "ground truth").items()}
    _only_listed(references, durations, reference, "ground truth")
    if is_score_folder(estimated):
        tables, classes = read_score_folder(estimated)
        _only_listed(tables, durations, estimated, "score folder")
        missing = sorted(set(durations) - set(tables))
        if missing:
            raise DataError(f"score folder {estimated} has no scores for {len(missing)} file(s) listed in "
                            f"{durations_file}, e.g. {missing[0]!r}")
        if labels and sorted(labels) != sorted(classes):
            raise DataError(f"score files in {estimated} have classes {classes}; --labels gives {labels}")
        labels = list(classes)
        detected = scores_to_event_list(tables, threshold)
        estimates = {key: [Event(float(on), float(off), label) for on, off, label in events]
                     for key, events in detected.items()}
        kind = "frame scores"
    else:
        estimates = {audio_id(name): events for name, events in
                     read_event_lists(estimated, "estimated event list").items()}
        _only_listed(estimates, durations, estimated, "detections")
        labels = labels or sorted({e.label for source in (references, estimates) for events in source.values()
                                   for e in events})
        kind = "events"
    for name, source in (("ground truth", references), ("submission", estimates)):
        extra = sorted({e.label for events in source.values() for e in events} - set(labels))
        if extra:
            raise DataError(f"the {name} uses class {extra[0]!r}, which is not among {labels}")
    files = sorted(durations)
    references = {key: references.get(key, []) for key in files}
    estimates = {key: estimates.get(key, []) for key in files}
    result = score(references, estimates, durations, labels, settings, backend=backend)
    merged = threshold_free.merged_references(references)
    if kind == "events":
        curves = threshold_free.operating_point_scores(threshold_free.merged_references(estimates), merged,
                                                       durations, labels)
    else:
        curves = threshold_free.threshold_free_scores(tables, merged, durations, labels)
    if curves is not None:
        result["threshold_free"] = curves
    return SubmissionScores(labels, len(files), sum(map(len, references.values())),
                            sum(map(len, estimates.values())), kind, result)


def _only_listed(items: dict, durations: dict, source: Path, role: str) -> None:
    unlisted = sorted(set(items) - set(durations))
    if unlisted:
        raise DataError(f"{role} {source} names {len(unlisted)} file(s) that the durations file does not list, "
                        f"e.g. {unlisted[0]!r}; list every evaluated file with its duration")
