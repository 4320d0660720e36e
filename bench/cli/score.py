"""``sedbench score``: any system's event lists, or a DCASE task 4 submission (score TSVs or detections with
DESED's durations), against references, with every metric."""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from pathlib import Path

import typer

from .common import fmt as common_fmt


def fmt(value) -> str:
    return common_fmt(value, decimals=4)  # as sed_eval prints its results


def score(
    reference: Path = typer.Option(..., "--reference", "-r", help="Reference event list file or folder "
                                   "(a DESED ground-truth TSV)."),
    estimated: Path = typer.Option(..., "--estimated", "-e", help="System output: event list file or folder, a "
                                   "DESED detection TSV, or a folder of sed_scores_eval score TSVs."),
    durations: Path = typer.Option(None, "--durations", "-d", help="DESED durations TSV (filename, duration): "
                                   "scores the files it lists (those without reference events as empty) and adds "
                                   "PSDS and the other threshold-independent scores. Needed for score TSVs."),
    threshold: float = typer.Option(0.5, help="Score TSVs: the decision threshold for sed_eval's metrics."),
    labels: str = typer.Option("", help="Label list, separated by commas; a comma followed by a space stays inside a "
                               "label (AudioSet's 'Air horn, truck horn'). Default: the labels found in the inputs."),
    frame_resolution: float = typer.Option(0.02, help="Segment length of the frame-level metrics, seconds."),
    collar: float = typer.Option(0.2, help="Event onset collar, seconds."),
    offset_percentage: float = typer.Option(0.2, help="Offset tolerance as a fraction of the event length."),
    matching: str = typer.Option("greedy", help="Event matching: greedy (sed_eval's original) | optimal."),
    backend: str = typer.Option("fast", help="fast | sed_eval"),
    class_wise: bool = typer.Option(False, "--class-wise", help="Also print class-wise F1 / ER."),
    json_out: Path = typer.Option(None, "--json", help="Write every metric as JSON here."),
) -> None:
    """Score any system's output files against references with every metric.

    Recordings are matched by their path as the lists write it (or by base name where that names one recording on
    each side). A class or file with no system output scores precision and F1 0, not sed_eval's default NaN
    (empty_system_output_handling='zero_score'); ratios without a denominator are n/a.
    """
    from sedbench.core.errors import DataError
    from sedbench.scoring.event_lists import score_event_lists
    from sedbench.scoring.metrics import MetricSettings
    from sedbench.scoring.submission import is_score_folder, score_submission

    settings = MetricSettings(frame_resolution=frame_resolution, event_collar=collar,
                              event_offset_percentage=offset_percentage, event_matching=matching)
    label_list = [label.strip() for label in re.split(r",(?!\s)", labels) if label.strip()] or None
    if durations is None and is_score_folder(estimated):
        raise DataError(f"{estimated} holds sed_scores_eval score files; scoring them needs --durations "
                        "(DESED's durations TSV: filename<TAB>duration)")
    if durations is not None:
        scores = score_submission(reference, estimated, durations, label_list, settings, backend, threshold)
        result = scores.metrics
        typer.echo(f"{scores.files} files, {scores.reference_events} reference events, {scores.kind}"
                   + (f" (events at threshold {threshold:g}: {scores.estimated_events})" if scores.kind ==
                      "frame scores" else f": {scores.estimated_events} estimated events")
                   + f", {len(scores.labels)} classes")
    else:
        scores = score_event_lists(reference, estimated, label_list, settings, backend)
        refs, ests, result = scores.references, scores.estimates, scores.metrics
        typer.echo(f"{len(refs)} reference files, {sum(map(len, refs.values()))} reference events, "
                   f"{sum(map(len, ests.values()))} estimated events, {len(scores.labels)} labels")
    titles = {"frame": f"segment {frame_resolution:g} s", "1s": "segment 1 s",
              "event": f"event (collar {collar:g} s, offset {offset_percentage:.0%}, {matching})"}
    for level, title in titles.items():
        o = result[level]["overall"]
        accuracy = f"  Acc {fmt(o['accuracy'])}" if "accuracy" in o else ""
        typer.echo(f"{title:40s} F1 {fmt(o['F1'])}  P {fmt(o['precision'])}  R {fmt(o['recall'])}  "
                   f"ER {fmt(o['ER'])}  S {fmt(o['S'])}  D {fmt(o['D'])}  I {fmt(o['I'])}{accuracy}")
        if class_wise:
            for label, c in result[level]["class_wise"].items():
                typer.echo(f"    {label:36s} F1 {fmt(c['F1'])}  ER {fmt(c['ER'])}")
    if "threshold_free" in result:
        echo_threshold_free(result["threshold_free"], class_wise)
    if json_out:
        json_out.write_text(json.dumps({"labels": list(scores.labels), "settings": asdict(settings),
                                        "backend": backend, "metrics": result}, indent=1, default=str))
        typer.echo(f"-> {json_out}")


def echo_threshold_free(scores: dict, class_wise: bool) -> None:
    single = " (psds_eval, at the detections' one operating point)" if scores["operating_points"] == 1 else ""
    for name in ("psds1", "psds2"):
        p = scores[name]["parameters"]
        typer.echo(f"{name.upper()} {fmt(scores[name]['value'])}{single}   (dtc {p['dtc_threshold']:g}, gtc "
                   f"{p['gtc_threshold']:g}, cttc {p['cttc_threshold']}, alpha_ct {p['alpha_ct']:g}, "
                   f"alpha_st {p['alpha_st']:g}, max_efpr {p['max_efpr']:g}/h)")
    if scores["classes_without_references"]:
        typer.echo(f"    (left out, no reference events: {', '.join(scores['classes_without_references'])})")
    if "intersection_f1" not in scores:  # detections: one operating point, no threshold to choose
        return
    for name, title in (("intersection_f1", "intersection-based F1, best threshold per class"),
                        ("collar_f1", "collar-based F1, best threshold per class")):
        typer.echo(f"{title:52s} macro {fmt(scores[name]['macro_F1'])}  micro {fmt(scores[name]['micro_F1'])}")
    typer.echo(f"{'segment-based (1 s) AP / AUROC, class mean':52s} AP {fmt(scores['segment_ap']['mean'])}  "
               f"AUROC {fmt(scores['segment_auroc']['mean'])}")
    if class_wise:
        for label, ap in scores["segment_ap"]["class_wise"].items():
            typer.echo(f"    {label:36s} AP {fmt(ap)}  AUROC {fmt(scores['segment_auroc']['class_wise'][label])}  "
                       f"PSDS1 {fmt(scores['psds1']['class_wise'][label])}")
