"""sed_eval's segment- and event-based metrics with vectorized counting.

The classes subclass sed_eval's own ``SegmentBasedMetrics`` and
``EventBasedMetrics`` and replace only ``evaluate`` (the counting); every
formula, class-wise average and report is sed_eval's code. Counting follows
sed_eval 0.2.1 step by step, with the same floating-point operations:

* segments: ``floor(onset * 1 / res)`` .. ``ceil(offset * 1 / res)`` rolls, cut or
  zero-padded to ``ceil(evaluated_length * 1 / res)``, then per-segment
  TP / FP / FN / S / D / I summed over the whole roll at once;
* events: onset / offset conditions as broadcast matrices; greedy matching in
  list order (reference-major, first free estimate), or sed_eval's own
  Hopcroft-Karp ``bipartite_match`` on the same graph for ``optimal``; then
  sed_eval's greedy substitution count over the leftovers.

The tests compare every count with sed_eval on hand cases, edge cases and
hundreds of random files.
"""

from __future__ import annotations

import math
import warnings
from typing import Iterable, Sequence

import numpy as np

with warnings.catch_warnings():  # dcase_util imports the deprecated pkg_resources
    warnings.simplefilter("ignore")
    import sed_eval
    from sed_eval.util.event_matching import bipartite_match


def _arrays(events: Iterable, labels: Sequence[str], unknown: dict | None = None):
    """(onsets, offsets, label ids, raw labels) from Event objects or sed_eval-style dicts.

    Labels outside ``labels`` get negative ids (distinct per label), so they still
    count overall and never match a listed class, as in sed_eval.
    """
    onsets, offsets, raw = [], [], []
    for event in events:
        if isinstance(event, dict):
            onset = event.get("event_onset", event.get("onset"))
            offset = event.get("event_offset", event.get("offset"))
            label = event.get("event_label")
        else:
            onset, offset, label = event.onset, event.offset, event.label
        if onset is None or offset is None or label is None:
            continue  # sed_eval evaluates only complete events
        onsets.append(float(onset))
        offsets.append(float(offset))
        raw.append(label)
    index = {label: i for i, label in enumerate(labels)}
    unknown = {} if unknown is None else unknown  # shared between a file's reference and estimate
    ids = [index[l] if l in index else -1 - unknown.setdefault(l, len(unknown)) for l in raw]
    return np.asarray(onsets, dtype=float), np.asarray(offsets, dtype=float), np.asarray(ids, dtype=np.int64), raw


def _max_offset(offsets: np.ndarray) -> float:
    """dcase_util's MetaDataContainer.max_offset: starts from 0."""
    return float(max(0, offsets.max())) if offsets.size else 0


def segment_roll(onsets, offsets, ids, n_classes: int, resolution: float, length: int) -> np.ndarray:
    """sed_eval's event_list_to_event_roll + match_event_roll_lengths, for listed classes."""
    natural = int(math.ceil(_max_offset(offsets) * 1 / resolution))
    roll = np.zeros((max(natural, length), n_classes), dtype=bool)
    view = roll[:natural]  # python slicing on the natural-length roll keeps sed_eval's index semantics
    for onset, offset, class_id in zip(onsets.tolist(), offsets.tolist(), ids.tolist()):
        if class_id < 0:
            raise ValueError(f"event label outside the label list (id {class_id})")
        start = int(math.floor(onset * 1 / float(resolution)))
        stop = int(math.ceil(offset * 1 / float(resolution)))
        view[start:stop, class_id] = True
    return roll[:length]


def greedy_pairs(candidates: np.ndarray) -> list[tuple[int, int]]:
    """Greedy pairing as sed_eval's nested loops: rows in order, each takes its first column not yet taken."""
    rows, cols = np.nonzero(candidates)  # row-major: each row's columns in increasing order
    taken: set[int] = set()
    pairs = []
    last_row = -1
    for row, col in zip(rows.tolist(), cols.tolist()):
        if row == last_row or col in taken:
            continue  # this row is already paired, or the column is used
        taken.add(col)
        pairs.append((row, col))
        last_row = row
    return pairs


class FastSegmentBasedMetrics(sed_eval.sound_event.SegmentBasedMetrics):
    """Drop-in for sed_eval.sound_event.SegmentBasedMetrics with vectorized counting."""

    def evaluate(self, reference_event_list, estimated_event_list, evaluated_length_seconds=None):
        labels = self.event_label_list
        r_on, r_off, r_id, _ = _arrays(reference_event_list, labels)
        e_on, e_off, e_id, _ = _arrays(estimated_event_list, labels)
        if evaluated_length_seconds is None:
            evaluated_length_seconds = max(_max_offset(r_off), _max_offset(e_off))
        length = int(math.ceil(evaluated_length_seconds * 1 / float(self.time_resolution)))
        self.evaluated_length_seconds += evaluated_length_seconds
        self.evaluated_files += 1
        ref = segment_roll(r_on, r_off, r_id, len(labels), self.time_resolution, length)
        est = segment_roll(e_on, e_off, e_id, len(labels), self.time_resolution, length)
        return self.evaluate_rolls(ref, est)

    def evaluate_rolls(self, reference_roll: np.ndarray, estimated_roll: np.ndarray):
        """Accumulate counts from two binary (segments, classes) rolls of equal shape."""
        ref = np.asarray(reference_roll, dtype=bool)
        est = np.asarray(estimated_roll, dtype=bool)
        tp = ref & est
        fp = est & ~ref
        fn = ref & ~est
        tn = ~(ref | est)
        n_ref, n_sys, n_tp = ref.sum(axis=1), est.sum(axis=1), tp.sum(axis=1)
        overall = {
            "Ntp": n_tp.sum(), "Ntn": tn.sum(), "Nfp": fp.sum(), "Nfn": fn.sum(),
            "Nref": n_ref.sum(), "Nsys": n_sys.sum(),
            "S": (np.minimum(n_ref, n_sys) - n_tp).sum(),
            "D": np.maximum(0, n_ref - n_sys).sum(),
            "I": np.maximum(0, n_sys - n_ref).sum(),
        }
        for key, value in overall.items():
            self.overall[key] += int(value)
        per_class = {"Ntp": tp.sum(0), "Ntn": tn.sum(0), "Nfp": fp.sum(0), "Nfn": fn.sum(0),
                     "Nref": ref.sum(0), "Nsys": est.sum(0)}
        for k, label in enumerate(self.event_label_list):
            counts = self.class_wise[label]
            for key, values in per_class.items():
                counts[key] += int(values[k])
        return self


class FastEventBasedMetrics(sed_eval.sound_event.EventBasedMetrics):
    """Drop-in for sed_eval.sound_event.EventBasedMetrics with vectorized condition matrices."""

    def _conditions(self, r_on, r_off, e_on, e_off) -> np.ndarray:
        ok = np.ones((r_on.size, e_on.size), dtype=bool)
        if self.evaluate_onset:
            ok &= np.abs(r_on[:, None] - e_on[None, :]) <= self.t_collar
        if self.evaluate_offset:
            tolerance = np.maximum(self.t_collar, self.percentage_of_length * (r_off - r_on))
            ok &= np.abs(r_off[:, None] - e_off[None, :]) <= tolerance[:, None]
        return ok

    def evaluate(self, reference_event_list, estimated_event_list):
        labels = self.event_label_list
        unknown: dict = {}
        r_on, r_off, r_id, _ = _arrays(reference_event_list, labels, unknown)
        e_on, e_off, e_id, _ = _arrays(estimated_event_list, labels, unknown)
        self.evaluated_length += _max_offset(r_off)
        self.evaluated_files += 1
        n_ref, n_sys = r_on.size, e_on.size
        timing_ok = self._conditions(r_on, r_off, e_on, e_off)
        hit = timing_ok & (r_id[:, None] == e_id[None, :])

        ref_correct = np.zeros(n_ref, dtype=bool)
        sys_correct = np.zeros(n_sys, dtype=bool)
        if self.event_matching_type == "optimal":
            graph: dict = {}
            for ref_i, est_i in zip(*np.where(hit)):
                graph.setdefault(est_i, []).append(ref_i)
            for a, b in sorted(bipartite_match(graph).items()):
                ref_correct[a] = True
                sys_correct[b] = True
            n_tp = int(ref_correct.sum())
        elif self.event_matching_type == "greedy":
            # references in list order, each takes the first still-free estimate it hits
            for j, i in greedy_pairs(hit):
                ref_correct[j] = True
                sys_correct[i] = True
            n_tp = int(sys_correct.sum())
        else:
            raise ValueError(f"unknown event matching type {self.event_matching_type!r}")

        # substitutions: leftover references paired greedily with leftover estimates of any label
        ref_left = np.flatnonzero(~ref_correct)
        sys_left = np.flatnonzero(~sys_correct)
        n_subs = len(greedy_pairs(timing_ok[np.ix_(ref_left, sys_left)])) if ref_left.size and sys_left.size else 0

        self.overall["Nref"] += n_ref
        self.overall["Nsys"] += n_sys
        self.overall["Ntp"] += n_tp
        self.overall["Nsubs"] += n_subs
        self.overall["Nfp"] += n_sys - n_tp - n_subs
        self.overall["Nfn"] += n_ref - n_tp - n_subs

        # Class-wise: matches never cross labels, so each class's matching is the overall one restricted
        # to it (greedy: same order; optimal: a maximum matching restricted to a component is maximum).
        k = len(labels)
        listed_ref, listed_sys = r_id >= 0, e_id >= 0
        class_ref = np.bincount(r_id[listed_ref], minlength=k)
        class_sys = np.bincount(e_id[listed_sys], minlength=k)
        class_tp = np.bincount(r_id[ref_correct & listed_ref], minlength=k)
        for c, label in enumerate(labels):
            counts = self.class_wise[label]
            counts["Nref"] += float(class_ref[c])
            counts["Nsys"] += float(class_sys[c])
            counts["Ntp"] += float(class_tp[c])
            counts["Nfp"] += float(class_sys[c] - class_tp[c])
            counts["Nfn"] += float(class_ref[c] - class_tp[c])
        return self
