"""``sedbench synthesize``: rare-event mixtures in the TUT Rare Sound Events 2017 layout from your own sounds."""

from __future__ import annotations

from pathlib import Path

import typer

from .common import echo_err


def synthesize(
    events: Path = typer.Option(..., "--events", help="Folder of isolated events, one sub-folder per class "
                                                     "(<class>/*.wav|flac)."),
    backgrounds: Path = typer.Option(..., "--backgrounds", help="Folder of background recordings (*.wav|flac in "
                                                               "any sub-folder), each at least a mixture long."),
    out: Path = typer.Option(..., "--out", help="Output folder; the mixtures go to OUT/SUBSET/<parameter hash>/."),
    subset: str = typer.Option("devtrain", help="Subset name: devtest / test is the test split, others train."),
    mixtures_per_class: int = typer.Option(500, help="Mixtures per class."),
    event_presence: float = typer.Option(0.5, help="Share of mixtures that hold an event."),
    ebr: str = typer.Option("-6,0,6", "--ebr", help="Event-to-background ratios to draw from, dB (write --ebr=-6,0,6)."),
    seed: int = typer.Option(42, help="Seed: the same seed and sources give the same mixtures, byte for byte."),
    mixture_seconds: float = typer.Option(30.0, help="Mixture length, seconds."),
    sample_rate: int = typer.Option(44100, help="Mixture sample rate, Hz (sources at other rates are resampled)."),
) -> None:
    """Mix isolated events into backgrounds as DCASE2017 task 2 does (TUT Rare Sound Events 2017 layout)."""
    from sedbench.datatools.mixing import MixingParameters, manifest_splits, parse_ebrs, update_manifest
    from sedbench.datatools.mixing import synthesize as synthesize_subset

    parameters = MixingParameters(mixtures_per_class=mixtures_per_class, event_presence=event_presence,
                                  ebr_db=parse_ebrs(ebr), seed=seed, mixture_seconds=mixture_seconds,
                                  sample_rate=sample_rate)
    result = synthesize_subset(events, backgrounds, out, subset, parameters, log=echo_err)
    manifest = update_manifest(out, result)
    total, present = sum(result.mixtures.values()), sum(result.events.values())
    typer.echo(f"{subset}: {total} mixtures of {mixture_seconds:g} s at {sample_rate} Hz, {present} with an event "
               f"(EBR {', '.join(f'{v:g}' for v in parameters.ebr_db)} dB, seed {seed}) -> {result.folder}")
    width = max(len(label) for label in result.mixtures)
    for label, count in result.mixtures.items():
        typer.echo(f"  {label:{width}s}  {count} mixtures, {result.events[label]} events")
    typer.echo(f"annotations: {result.folder / 'meta'}/event_list_{subset}_<class>.csv; recipes: "
               f"mixture_recipes_{subset}_<class>.yaml and .csv next to them")
    if result.resampled:
        typer.echo(f"resampled to {sample_rate} Hz: {len(result.resampled)} source file(s) "
                   f"(the recipes' *_resampled_from give their rates)")
    typer.echo(f"manifest: {manifest}")
    if "test" in manifest_splits(manifest):
        typer.echo(f"run a system on it: sedbench run --system crnn --dataset {manifest}")
    else:
        typer.echo("no test subset yet: synthesize one from other events and backgrounds with --subset devtest, "
                   f"then run a system with: sedbench run --system crnn --dataset {manifest}")
