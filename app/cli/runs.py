"""`dealnode runs`: the nightly runs as `GET /v1/runs` shows them, for a shell or a script."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from app.cli.json_output import JsonOption, echo_json
from app.config import get_settings

if TYPE_CHECKING:
    from app.nightly.schemas import RunRead

runs_app = typer.Typer(help="Nightly rescoring runs.", no_args_is_help=True)
console = Console()
MAX_LIMIT = 200
FIELDS = (
    "id",
    "status",
    "model_version",
    "as_of",
    "started_at",
    "finished_at",
    "dry_run",
    "rows_scored",
    "state_changes",
    "shards",
    "error",
)
"""The API's names for what the table shows (the transition matrix and shards stay in the API)."""


@runs_app.command("list")
def runs_list(
    limit: Annotated[int, typer.Option(help=f"How many runs, newest first (1-{MAX_LIMIT}).")] = 20,
    as_json: JsonOption = False,
) -> None:
    """List the latest rescoring runs with their counts, joined from their shards."""
    from app.db import make_engine, make_sessionmaker
    from app.nightly.service import latest_runs

    if not 1 <= limit <= MAX_LIMIT:
        typer.echo(f"error: --limit: use 1 to {MAX_LIMIT}, not {limit}", err=True)
        raise typer.Exit(code=2)
    engine = make_engine(get_settings().database_url)
    try:
        with make_sessionmaker(engine)() as session:
            runs = latest_runs(session, limit)
    finally:
        engine.dispose()
    if as_json:
        echo_json([_document(run) for run in runs])
        return
    table = Table(
        "run",
        "status",
        "model",
        "as of",
        "started",
        "finished",
        "dry run",
        "rows",
        "changes",
        "shards",
        "error",
    )
    for run in runs:
        table.add_row(
            run.id,
            run.status,
            run.model_version,
            _time(run.as_of),
            _time(run.started_at),
            _time(run.finished_at),
            "yes" if run.dry_run else "",
            f"{run.rows_scored:,}",
            f"{run.state_changes:,}",
            str(run.shards),
            run.error or "",
        )
    console.print(table)


def _document(run: RunRead) -> dict[str, object]:
    """The run's FIELDS in their order, as the API writes them (ISO 8601 times, nulls)."""
    dumped = run.model_dump(mode="json")
    return {field: dumped[field] for field in FIELDS}


def _time(value: datetime | None) -> str:
    return "" if value is None else value.isoformat()[:19]
