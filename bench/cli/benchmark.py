"""``sedbench benchmark``: measured speed figures (not a test)."""

from __future__ import annotations

from pathlib import Path

import typer

from sedbench.core.paths import default_data_dir

from .common import CACHE_DIR_HELP, DATA_DIR_HELP, locations


def benchmark(
    data_dir: Path = typer.Option(None, help=DATA_DIR_HELP),
    system: str = typer.Option("crnn", help="A system trained by FrameModelTrainer, whose training loop is timed."),
    dataset: str = typer.Option("synth", help="The dataset whose test audio the feature extraction is timed on."),
    end_to_end: bool = typer.Option(True, help="Also time a full `sedbench run` of the system on the dataset."),
    write: Path = typer.Option(None, help="Also save the output as Markdown here (e.g. reports/performance.md)."),
    gpu: bool = typer.Option(False, "--gpu", help="Instead: one epoch of every system on the GPU and the paper-profile "
                             "epoch of --system on --dataset in fp32 / bf16 / fp16 (--write replaces the file's GPU "
                             "section)."),
    device: str = typer.Option("cuda", help="--gpu only: the device (cpu runs the same measurements as a dry run)."),
    cache_dir: Path = typer.Option(None, help=CACHE_DIR_HELP),
) -> None:
    """Print measured figures: metric engine vs sed_eval, feature cache, training-loop overhead, a full run."""
    from sedbench.benchmark import run_benchmarks, run_gpu_benchmarks

    if gpu:
        where = locations(data_dir, cache_dir, Path("runs"))
        run_gpu_benchmarks(where.data_dir, where.cache_dir, write, system=system, dataset=dataset, device=device)
        return
    run_benchmarks(data_dir or default_data_dir(), end_to_end, write, system=system, dataset=dataset)
