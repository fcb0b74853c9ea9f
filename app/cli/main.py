"""The `dealnode` command.

Every user-fixable problem (bad data, bad mapping, a model that cannot be used) ends as one
line on stderr and exit code 2, so scripts and cron can tell "your input" from "our bug".
"""

from __future__ import annotations

import os
from collections.abc import Callable
from importlib.metadata import version as package_version
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from app.cli.json_output import JsonOption, echo_json
from app.cli.monitor import import_labels, monitor
from app.cli.operations import db_app, deliver, demo, import_app, keys_app, serve
from app.cli.rescore import rescore
from app.cli.runs import runs_app
from app.cli.tuning_options import parse_budget, parse_trials
from training.errors import DataError, ModelError
from training.features import to_utc

if TYPE_CHECKING:
    from training.registry import ModelEntry

app = typer.Typer(
    help="DealNode: customer states, why, and the next sales action.", no_args_is_help=True
)
models_app = typer.Typer(help="The model registry.", no_args_is_help=True)
app.add_typer(models_app, name="models")
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.add_typer(import_app, name="import")
app.add_typer(runs_app, name="runs")
app.command()(serve)
app.command()(deliver)
app.command()(demo)
app.command()(rescore)
app.command()(monitor)
import_app.command("labels")(import_labels)
console = Console()
T = TypeVar("T")

ModelsDir = Annotated[
    Path,
    typer.Option("--models-dir", envvar="DEALNODE_MODELS_DIR", help="Model registry folder."),
]
DEFAULT_DATA = Path("data/processed")


def fail(message: str) -> typer.Exit:
    """Print one line and return the exit that says 'your input is wrong'."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


def guarded(action: Callable[[], T]) -> T:
    """Run `action`, turning user-fixable errors into exit code 2 with one line."""
    try:
        return action()
    except (DataError, ModelError) as exc:
        raise fail(str(exc).splitlines()[0]) from None


def _print_version(requested: bool) -> None:
    if requested:
        typer.echo(f"dealnode {package_version('dealnode')}")
        raise typer.Exit()


@app.callback()
def _options(
    _version: Annotated[
        bool,
        typer.Option(
            "--version",
            is_eager=True,
            callback=_print_version,
            help="Print the installed version and exit.",
        ),
    ] = False,
) -> None:
    """Hold the options that come before any command."""


@app.command()
def simulate(
    out: Annotated[
        Path, typer.Option(help="Folder for snapshot, events and simulation.json.")
    ] = DEFAULT_DATA,
    customers: Annotated[int, typer.Option(min=1, help="How many customers.")] = 100_000,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same data.")] = 0,
    as_of: Annotated[
        str, typer.Option(help="Snapshot time (UTC, ISO 8601).")
    ] = "2026-11-01T00:00:00Z",
    fmt: Annotated[str, typer.Option("--format", help="parquet or csv.")] = "parquet",
    events: Annotated[bool, typer.Option(help="Also write the event log.")] = True,
) -> None:
    """Simulate customer journeys: an event log and a labelled snapshot."""
    from training.simulation import simulate as run_simulation
    from training.simulation import write_simulation

    if fmt not in {"parquet", "csv"}:
        raise fail(f"--format: use parquet or csv, not {fmt!r}")
    try:
        sim = run_simulation(customers, seed=seed, as_of=as_of, with_events=events)
    except ValueError as exc:
        raise fail(str(exc)) from None
    for path in write_simulation(sim, out, fmt="csv" if fmt == "csv" else "parquet"):
        console.print(f"wrote {path}")


@app.command()
def train(
    data: Annotated[Path, typer.Argument(help="Snapshot or CRM export (CSV or Parquet).")],
    models_dir: ModelsDir = Path("models"),
    mapping: Annotated[Path | None, typer.Option(help="TOML mapping for a CRM export.")] = None,
    split: Annotated[
        str, typer.Option(help="stratified or time (by first contact).")
    ] = "stratified",
    seed: Annotated[int, typer.Option(help="Seed for the split and the model.")] = 0,
    promote: Annotated[
        bool | None,
        typer.Option("--promote/--no-promote", help="Default: promote only if none is promoted."),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(help="Snapshot time (UTC) of data that has none in its mapping or columns."),
    ] = None,
    costs: Annotated[
        Path | None,
        typer.Option(
            help="TOML cost file for choosing the shown state (docs/decision-rule.md); "
            "default: weights fitted on validation."
        ),
    ] = None,
    budget: Annotated[
        str | None,
        typer.Option(
            help="Search hyperparameters for this long first (90s, 5m, 1h or seconds). "
            "The seed fixes the order of the settings tried, but how many fit in the time "
            "depends on the machine: add --trials for a repeatable choice."
        ),
    ] = None,
    trials: Annotated[
        str | None,
        typer.Option(
            help="Search at most this many settings, the defaults first; the same data, "
            "seed and --trials give the same choice."
        ),
    ] = None,
    segment_by: Annotated[
        str | None,
        typer.Option(
            help="A categorical input (industry, region, team): its 10 largest values may get "
            "models of their own, used where they beat the global model "
            "(docs/segment-models.md)."
        ),
    ] = None,
) -> None:
    """Train a model, compare it with the baselines, and register it."""
    from training.report import comparison_table
    from training.train import TrainConfig
    from training.train import train as run_training

    if split not in {"stratified", "time"}:
        raise fail(f"--split: use stratified or time, not {split!r}")
    when = _parse_time(as_of, "--as-of") if as_of else None
    try:
        budget_seconds = None if budget is None else parse_budget(budget)
        trial_limit = None if trials is None else parse_trials(trials)
    except ValueError as exc:
        raise fail(str(exc)) from None
    config = TrainConfig(
        data=data,
        models_dir=models_dir,
        mapping=mapping,
        split=split,  # type: ignore[arg-type]
        seed=seed,
        promote=promote,
        as_of=when,
        costs=costs,
        budget_seconds=budget_seconds,
        trials=trial_limit,
        segment_by=segment_by,
    )
    result = guarded(lambda: run_training(config))
    console.print(comparison_table(result.metrics), markup=False)
    state = "promoted" if result.promoted else "not promoted"
    console.print(f"model {result.version} ({state}); report: {result.path / 'report.md'}")


@app.command()
def score(
    source: Annotated[Path, typer.Argument(help="File to score (CSV or Parquet).")],
    destination: Annotated[Path, typer.Argument(help="Output file (.csv or .parquet).")],
    models_dir: ModelsDir = Path("models"),
    model: Annotated[str | None, typer.Option(help="Model version; default: promoted.")] = None,
    mapping: Annotated[Path | None, typer.Option(help="TOML mapping for a CRM export.")] = None,
    as_of: Annotated[str | None, typer.Option(help="Score as of this time (UTC).")] = None,
) -> None:
    """Score a file of customers with a chosen or the promoted model."""
    from training import registry
    from training.mapping import load_mapping
    from training.offline_scoring import score_file

    def run() -> int:
        loaded = registry.load(models_dir, model)
        when = _parse_time(as_of, "--as-of") if as_of else None
        parsed = load_mapping(mapping) if mapping else None
        return score_file(loaded, source, destination, mapping=parsed, as_of=when)

    rows = guarded(run)
    console.print(f"scored {rows} customers into {destination}")


@models_app.command("list")
def models_list(models_dir: ModelsDir = Path("models"), as_json: JsonOption = False) -> None:
    """List registered models and which one is promoted."""
    from training import registry

    entries = registry.list_models(models_dir)
    if as_json:
        echo_json([registry.summary(entry) for entry in entries])
        return
    # A segments column only when a family is registered: it would squeeze every other table.
    families = any(entry.segment_by is not None for entry in entries)
    columns = ["version", "created", "macro-F1", "promoted", "problem"]
    table = Table(*columns[:4], *(["segments"] if families else []), columns[4])
    for entry in entries:
        f1 = "" if entry.macro_f1 is None else f"{entry.macro_f1:.3f}"
        segments = [] if not families else [_segments_cell(entry)]
        table.add_row(
            entry.version,
            entry.created_at[:19],
            f1,
            "*" if entry.promoted else "",
            *segments,
            entry.problem or "",
        )
    console.print(table)


def _segments_cell(entry: ModelEntry) -> str:
    """`column: used, segments` for a family; empty for a model without segments."""
    if entry.segment_by is None:
        return ""
    return f"{entry.segment_by}: {', '.join(entry.segments_used) or 'none used'}"


@models_app.command("promote")
def models_promote(
    version: Annotated[str, typer.Argument(help="Version to promote.")],
    models_dir: ModelsDir = Path("models"),
    force: Annotated[bool, typer.Option(help="Promote even if it scores worse.")] = False,
) -> None:
    """Promote a model, refusing one that scores worse than the promoted one."""
    from training import registry

    comparison = guarded(lambda: registry.promote(models_dir, version, force=force))
    if comparison is not None:
        console.print(
            f"macro-F1 on {comparison.incumbent}'s {comparison.rows} test customers: "
            f"{comparison.candidate_f1:.4f} (was {comparison.incumbent_f1:.4f})"
        )
    console.print(f"promoted {version}")


@app.command()
def run(
    models_dir: ModelsDir = Path("models"),
    data: Annotated[Path, typer.Option(help="Where simulated data goes.")] = DEFAULT_DATA,
    customers: Annotated[int, typer.Option(min=100)] = 100_000,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
) -> None:
    """Train the default model if none is promoted, migrate the database, and serve."""
    from app.cli.operations import db_upgrade
    from training import registry

    if registry.promoted_version(models_dir) is None:
        snapshot = data / "snapshot.parquet"
        if not snapshot.exists():
            console.print(f"simulating {customers:,} customers into {data} ...")
            simulate(
                out=data,
                customers=customers,
                seed=0,
                as_of="2026-11-01T00:00:00Z",
                fmt="parquet",
                events=True,
            )
        console.print("training the default model ...")
        train(
            data=snapshot,
            models_dir=models_dir,
            mapping=None,
            split="stratified",
            seed=0,
            promote=True,
            as_of=None,
        )
    path = guarded(lambda: registry.resolve(models_dir))
    console.print(f"serving model {path.name} (report: {path / 'report.md'})")
    db_upgrade()
    os.environ["DEALNODE_MODELS_DIR"] = str(models_dir)  # the server reads its settings anew
    console.print(
        "API key: run `.venv/bin/dealnode keys create --scope admin` in another shell; "
        f"docs at http://{host}:{port}/docs"
    )
    serve(host=host, port=port, workers=1)


def _parse_time(value: str, option: str) -> pd.Timestamp:
    try:
        return to_utc(value)
    except ValueError:
        raise fail(f"{option}: cannot parse {value!r} as a time") from None


def main() -> None:
    """Entry point of the `dealnode` console script."""
    app()


if __name__ == "__main__":
    main()
