"""sed_scores_eval's intersection-based statistics deltas, counted by one sweep over each class's scores.

sed_scores_eval evaluates every distinct score of a file as a threshold and compares every detection with every
reference event at each: thresholds x detections x events per file, which grows with the square of a recording's
length (35 s for PSDS1 on 23 recordings of 295 s). Lowering the threshold only ever switches frames on, so
detections only appear, grow and merge: one pass over the frames in descending score order updates the one or two
detections a frame touches, and reads the counts at each distinct score. The deltas go to sed_scores_eval's own
``psds`` / ``best_fscore`` (``deltas=``), which do everything else. Counting follows its ``statistics_fn``: the
same overlaps, rounding to ``time_decimals`` and ``>=`` comparisons. Only sums of three or more overlaps (and a
reference event's coverage, kept as a running sum) may add in another order, a last-bit difference that the
rounding to 6 decimals absorbs; the tests compare the deltas and PSDS with the library's on hand cases and random
files, and they are equal.
"""

from __future__ import annotations

import numba
import numpy as np


def intersection_deltas(scores: dict, ground_truth: dict, *, dtc_threshold: float, gtc_threshold: float,
                        cttc_threshold: float | None = None, time_decimals: int = 6) -> dict:
    """audio id -> class -> (change-point scores, deltas), as
    ``sed_scores_eval.intersection_based.intermediate_statistics_deltas`` returns them."""
    deltas: dict = {}
    for audio_id, name, others, levels, changes in _class_changes(scores, ground_truth, dtc_threshold,
                                                                  gtc_threshold, cttc_threshold, time_decimals):
        deltas.setdefault(audio_id, {})[name] = (levels, _named(changes, others, cttc_threshold is not None))
    return deltas


def dataset_deltas(scores: dict, ground_truth: dict, *, dtc_threshold: float, gtc_threshold: float,
                   cttc_threshold: float | None = None, time_decimals: int = 6) -> dict:
    """The same deltas summed over files at equal scores, filed under the first audio id (the others get none):
    what the library's accumulation (concatenate, unique scores, add, cumulative sum) makes of them is unchanged,
    and its per-row ``np.add.at`` over every file's change points, the slowest step on many short clips, becomes one
    row per distinct score. Every audio id stays a key, as the library reads references and durations by them."""
    parts: dict = {}
    audio_ids: list = []
    for audio_id, name, others, levels, changes in _class_changes(scores, ground_truth, dtc_threshold,
                                                                  gtc_threshold, cttc_threshold, time_decimals):
        if not audio_ids or audio_ids[-1] != audio_id:
            audio_ids.append(audio_id)
        parts.setdefault(name, (others, [], []))[1].append(levels)
        parts[name][2].append(changes)
    merged = {}
    for name, (others, levels, changes) in parts.items():
        levels, changes = np.concatenate(levels), np.concatenate(changes)
        if not len(levels):
            merged[name] = (levels, _named(changes, others, cttc_threshold is not None))
            continue
        order = np.argsort(levels, kind="stable")
        levels, changes = levels[order], changes[order]
        starts = np.flatnonzero(np.concatenate(([True], levels[1:] != levels[:-1])))
        merged[name] = (levels[starts], _named(np.add.reduceat(changes, starts, axis=0), others,
                                               cttc_threshold is not None))
    none = {name: (levels[:0], {key: value[:0] for key, value in deltas.items()})
            for name, (levels, deltas) in merged.items()}
    return {audio_id: merged if k == 0 else none for k, audio_id in enumerate(audio_ids)}


def load_compiled() -> None:
    """Compile the sweep, or load it from numba's cache, now rather than in the first call (for timings)."""
    one = np.ones(1)
    _sweep(one, np.arange(2.0), one * 0, one, one * 0, one, np.zeros(1, dtype=np.int64), 1, 0.7, 0.7, 0.3, 6)


def _class_changes(scores, ground_truth, dtc_threshold, gtc_threshold, cttc_threshold, time_decimals):
    """(audio id, class, other classes, change-point scores, changes as columns tps, fps, cts...) per file and
    class, in the library's order."""
    from sed_scores_eval.base_modules.ground_truth import multi_label_to_single_label_ground_truths
    from sed_scores_eval.base_modules.io import parse_inputs
    from sed_scores_eval.base_modules.scores import validate_score_dataframe
    from sed_scores_eval.intersection_based.intermediate_statistics import acceleration_fn

    scores, ground_truth, audio_ids = parse_inputs(scores, ground_truth)
    _, classes = validate_score_dataframe(scores[audio_ids[0]])
    single_label = multi_label_to_single_label_ground_truths(ground_truth, classes)
    criteria = dict(dtc_threshold=dtc_threshold, gtc_threshold=gtc_threshold, cttc_threshold=cttc_threshold,
                    time_decimals=time_decimals)
    others_of = {name: [c for c in classes if c != name] for name in classes}
    for audio_id in audio_ids:
        table = scores[audio_id]
        timestamps, _ = validate_score_dataframe(table, event_classes=classes)
        timestamps = np.asarray(timestamps, dtype=np.float64)
        values = table.to_numpy(dtype=np.float64)[:, table.columns.get_indexer(classes)]
        events = {c: _onsets_offsets(single_label[c][audio_id]) for c in classes}
        for k, name in enumerate(classes):
            others = others_of[name]
            target_on, target_off = events[name]
            if len(target_on) == 0 and cttc_threshold is None:  # only false alarms: the library's O(n) shortcut
                _, levels, found = acceleration_fn(
                    scores=values[:, k], timestamps=timestamps, target_onset_times=target_on,
                    target_offset_times=target_off, other_onset_times={c: events[c][0] for c in others},
                    other_offset_times={c: events[c][1] for c in others}, **criteria)
                yield audio_id, name, others, levels, np.stack([found["tps"], found["fps"], found["cts"]], axis=1)
                continue
            other_on = np.concatenate([events[c][0] for c in others] or [np.empty(0)])
            other_off = np.concatenate([events[c][1] for c in others] or [np.empty(0)])
            other_class = np.repeat(np.arange(len(others), dtype=np.int64), [len(events[c][0]) for c in others])
            levels, counts = _sweep(np.ascontiguousarray(values[:, k]), timestamps, target_on, target_off,
                                    other_on, other_off, other_class, len(others), float(dtc_threshold),
                                    float(gtc_threshold), -1.0 if cttc_threshold is None else float(cttc_threshold),
                                    int(time_decimals))
            changes = counts - np.concatenate((np.zeros_like(counts[:1]), counts[:-1]))
            keep = np.flatnonzero(np.abs(changes).sum(axis=1) > 0)[::-1]  # ascending scores, changes only
            changes = changes[keep]
            if cttc_threshold is None:
                changes = np.concatenate((changes[:, :2], np.zeros_like(changes[:, :1])), axis=1)
            yield audio_id, name, others, levels[keep], changes


def _onsets_offsets(events: list) -> tuple[np.ndarray, np.ndarray]:
    if not events:
        return np.empty(0), np.empty(0)
    onsets, offsets = np.array(events, dtype=np.float64).T
    return np.ascontiguousarray(onsets), np.ascontiguousarray(offsets)


def _named(changes: np.ndarray, others: list[str], cross_triggers: bool) -> dict:
    """Columns tps, fps, cts... -> the library's keys ("cts" alone without cross-triggers, else one per class)."""
    deltas = {"tps": changes[:, 0], "fps": changes[:, 1]}
    if cross_triggers:
        deltas.update({f"cts\\{name}": changes[:, 2 + k] for k, name in enumerate(others)})
    else:
        deltas["cts"] = changes[:, 2]
    return deltas


@numba.njit(cache=True)
def _round(x, decimals):
    factor = 10.0 ** decimals  # numpy's float round: multiply, rint, divide
    return np.rint(x * factor) / factor


@numba.njit(cache=True)
def _overlap(a, b, onset, offset):
    return max(min(b, offset) - max(a, onset), 0.0)


@numba.njit(cache=True)
def _cover(a, b, sign, target_on, target_off, covered, covering, hit, gt_needed, decimals):
    """Add (sign 1) or take away (-1) a relevant detection a..b from the reference events it overlaps; returns the
    change in hit events. An event no relevant detection overlaps any more is covered by exactly 0."""
    change = 0
    for g in range(target_on.shape[0]):
        part = _overlap(a, b, target_on[g], target_off[g])
        if part > 0.0:
            covering[g] += sign
            covered[g] = covered[g] + sign * part if covering[g] > 0 else 0.0
            now = _round(covered[g], decimals) >= gt_needed[g]
            change += int(now) - int(hit[g])
            hit[g] = now
    return change


@numba.njit(cache=True)
def _sweep(scores, timestamps, target_on, target_off, other_on, other_off, other_class, n_other,
           dtc, gtc, cttc, decimals):
    """Distinct scores (descending) and, at each, [tps, fps, cts with each other class] when every frame scoring
    at least that much is on."""
    n, n_target, n_others_events = scores.shape[0], target_on.shape[0], other_on.shape[0]
    cross = cttc >= 0.0
    active = np.zeros(n, dtype=np.bool_)
    run_end = np.zeros(n, dtype=np.int64)     # at a run's first frame: its last frame
    run_start = np.zeros(n, dtype=np.int64)   # at a run's last frame: its first frame
    run_dtc = np.zeros(n, dtype=np.bool_)     # at a run's first frame
    run_ct = np.zeros((n, max(n_other, 1)), dtype=np.bool_)
    covered = np.zeros(n_target)              # a reference event's intersection with relevant detections
    covering = np.zeros(n_target, dtype=np.int64)
    hit = np.zeros(n_target, dtype=np.bool_)
    gt_needed = np.empty(n_target)
    for g in range(n_target):
        gt_needed[g] = _round(gtc * (target_off[g] - target_on[g]), decimals)
    has_events = np.zeros(max(n_other, 1), dtype=np.bool_)
    for e in range(n_others_events):
        has_events[other_class[e]] = True
    other_sums = np.zeros(max(n_other, 1))
    ct_count = np.zeros(max(n_other, 1), dtype=np.int64)
    detections = relevant = tps = 0

    order = np.argsort(-scores, kind="mergesort")
    levels = np.empty(n)
    counts = np.zeros((n, 2 + n_other), dtype=np.int64)
    n_levels = 0
    i = 0
    while i < n and scores[order[i]] > -np.inf:
        level = scores[order[i]]
        while i < n and scores[order[i]] == level:
            f = order[i]
            i += 1
            first, last = f, f
            for side in range(2):  # the neighbouring runs this frame joins: take them out
                if side == 0 and f > 0 and active[f - 1]:
                    s, t = run_start[f - 1], f - 1
                    first = s
                elif side == 1 and f < n - 1 and active[f + 1]:
                    s, t = f + 1, run_end[f + 1]
                    last = t
                else:
                    continue
                a, b = timestamps[s], timestamps[t + 1]
                detections -= 1
                if run_dtc[s]:
                    relevant -= 1
                    tps += _cover(a, b, -1, target_on, target_off, covered, covering, hit, gt_needed, decimals)
                if cross:
                    for k in range(n_other):
                        if run_ct[s, k]:
                            ct_count[k] -= 1
            active[f] = True
            run_end[first], run_start[last] = last, first
            a, b = timestamps[first], timestamps[last + 1]
            length = b - a
            total = 0.0
            for g in range(n_target):
                total += _overlap(a, b, target_on[g], target_off[g])
            is_relevant = _round(total, decimals) >= _round(dtc * length, decimals)
            run_dtc[first] = is_relevant
            detections += 1
            if is_relevant:
                relevant += 1
                tps += _cover(a, b, 1, target_on, target_off, covered, covering, hit, gt_needed, decimals)
            if cross:
                other_sums[:] = 0.0
                if not is_relevant:
                    for e in range(n_others_events):
                        other_sums[other_class[e]] += _overlap(a, b, other_on[e], other_off[e])
                needed = _round(cttc * length, decimals)
                for k in range(n_other):
                    flag = has_events[k] and _round(other_sums[k], decimals) >= needed
                    run_ct[first, k] = flag
                    ct_count[k] += int(flag)
        levels[n_levels] = level
        counts[n_levels, 0] = tps
        counts[n_levels, 1] = detections - relevant
        for k in range(n_other):
            counts[n_levels, 2 + k] = ct_count[k]
        n_levels += 1
    return levels[:n_levels], counts[:n_levels]
