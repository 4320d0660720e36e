"""``sedbench benchmark``: measured speed figures (not a test)."""

from __future__ import annotations

from pathlib import Path

import typer

from sedbench.core.paths import default_data_dir

from .common import DATA_DIR_HELP


def benchmark(
    data_dir: Path = typer.Option(None, help=DATA_DIR_HELP),
    system: str = typer.Option("crnn", help="A system trained by FrameModelTrainer, whose training loop is timed."),
    dataset: str = typer.Option("synth", help="The dataset whose test audio the feature extraction is timed on."),
    end_to_end: bool = typer.Option(True, help="Also time a full `sedbench run` of the system on the dataset."),
    write: Path = typer.Option(None, help="Also save the output as Markdown here (e.g. reports/performance.md)."),
) -> None:
    """Print measured figures: metric engine vs sed_eval, feature cache, training-loop overhead, a full run."""
    from sedbench.benchmark import run_benchmarks

    run_benchmarks(data_dir or default_data_dir(), end_to_end, write, system=system, dataset=dataset)
