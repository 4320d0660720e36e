"""``sedbench score``: any system's event lists against references, with every metric."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import typer

from .common import fmt


def score(
    reference: Path = typer.Option(..., "--reference", "-r", help="Reference event list file or folder."),
    estimated: Path = typer.Option(..., "--estimated", "-e", help="System output event list file or folder."),
    labels: str = typer.Option("", help="Comma-separated label list (default: labels found in both inputs)."),
    frame_resolution: float = typer.Option(0.02, help="Segment length of the frame-level metrics, seconds."),
    collar: float = typer.Option(0.2, help="Event onset collar, seconds."),
    offset_percentage: float = typer.Option(0.2, help="Offset tolerance as a fraction of the event length."),
    matching: str = typer.Option("greedy", help="Event matching: greedy (sed_eval's original) | optimal."),
    backend: str = typer.Option("fast", help="fast | sed_eval"),
    class_wise: bool = typer.Option(False, "--class-wise", help="Also print class-wise F1 / ER."),
    json_out: Path = typer.Option(None, "--json", help="Write every metric as JSON here."),
) -> None:
    """Score any system's output files against references with every metric."""
    from sedbench.scoring.event_lists import score_event_lists
    from sedbench.scoring.metrics import MetricSettings

    settings = MetricSettings(frame_resolution=frame_resolution, event_collar=collar,
                              event_offset_percentage=offset_percentage, event_matching=matching)
    label_list = [label.strip() for label in labels.split(",") if label.strip()] or None
    scores = score_event_lists(reference, estimated, label_list, settings, backend)
    refs, ests, result = scores.references, scores.estimates, scores.metrics
    typer.echo(f"{len(refs)} reference files, {sum(map(len, refs.values()))} reference events, "
               f"{sum(map(len, ests.values()))} estimated events, {len(scores.labels)} labels")
    titles = {"frame": f"segment {frame_resolution:g} s", "1s": "segment 1 s",
              "event": f"event (collar {collar:g} s, offset {offset_percentage:.0%}, {matching})"}
    for level, title in titles.items():
        o = result[level]["overall"]
        typer.echo(f"{title:40s} F1 {fmt(o['F1'])}  P {fmt(o['precision'])}  R {fmt(o['recall'])}  "
                   f"ER {fmt(o['ER'])}  S {fmt(o['S'])}  D {fmt(o['D'])}  I {fmt(o['I'])}")
        if class_wise:
            for label, c in result[level]["class_wise"].items():
                typer.echo(f"    {label:36s} F1 {fmt(c['F1'])}  ER {fmt(c['ER'])}")
    if json_out:
        json_out.write_text(json.dumps({"labels": scores.labels, "settings": asdict(settings),
                                        "backend": backend, "metrics": result}, indent=1, default=str))
        typer.echo(f"-> {json_out}")
