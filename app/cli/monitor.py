"""`dealnode monitor` and `dealnode import labels`: drift and live quality, from a shell."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from app.config import get_settings

console = Console()


def monitor(
    window_days: Annotated[
        int, typer.Option(min=1, max=365, help="Days of true states for live quality.")
    ] = 30,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the API's JSON document instead of words.")
    ] = False,
) -> None:
    """Say whether the active model still fits its customers, ending with whether to retrain."""
    from app.metrics import Metrics
    from app.monitoring.service import monitor as report_on
    from app.monitoring.wording import describe
    from app.services import build_services
    from training.errors import ModelError

    try:
        services = build_services(get_settings(), Metrics(), need_model=True)
    except ModelError as exc:
        typer.echo(f"error: {str(exc).splitlines()[0]}", err=True)
        raise typer.Exit(code=2) from None
    try:
        with services.sessions() as session:
            report = report_on(
                session,
                services.serving.model,
                now=datetime.now(UTC),
                window_days=window_days,
            )
    finally:
        services.engine.dispose()
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
        return
    for line in describe(report):
        console.print(line, markup=False, highlight=False, soft_wrap=True)


def import_labels(
    path: Annotated[Path, typer.Argument(help="CSV or Parquet: customer_id, state, observed_at.")],
) -> None:
    """Load customers' true states (safe to run again: stored rows are skipped)."""
    from app.db import make_engine, make_sessionmaker
    from app.monitoring.labels import read_labels
    from app.monitoring.observed import record
    from training.errors import DataError

    now = datetime.now(UTC)
    try:
        observations = read_labels(path, now=now)
    except DataError as exc:
        typer.echo(f"error: {str(exc).splitlines()[0]}", err=True)
        raise typer.Exit(code=2) from None
    engine = make_engine(get_settings().database_url)
    try:
        with make_sessionmaker(engine)() as session:
            new = record(session, observations, source="import", now=now)
            session.commit()
    finally:
        engine.dispose()
    console.print(f"imported {new:,} new of {len(observations):,} true states")
