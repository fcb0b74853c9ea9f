"""`dealnode` commands that run the service: serve, db, keys, deliver, import."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from app.cli.json_output import JsonOption, echo_json
from app.config import get_settings

if TYPE_CHECKING:
    from app.services import Services

db_app = typer.Typer(help="The service database.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
import_app = typer.Typer(help="Bulk loads.", no_args_is_help=True)
console = Console()


def serve(
    host: Annotated[
        str, typer.Option(envvar="DEALNODE_HOST", help="Address to listen on.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="DEALNODE_PORT", min=1, max=65535)] = 8000,
    workers: Annotated[
        int, typer.Option(envvar="DEALNODE_WORKERS", min=1, help="Worker processes.")
    ] = 1,
) -> None:
    """Serve the API (docs at /docs). Logs: DEALNODE_LOG_LEVEL, DEALNODE_LOG_FORMAT=json."""
    import uvicorn

    from app.logs import log_config
    from app.startup import checked_settings

    # Before uvicorn, whose start-up failure would be a traceback.
    settings = checked_settings(sends=False)
    with _metrics_dir(workers):
        uvicorn.run(
            "app.main:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            access_log=False,  # the app writes its own, with a request id and the route
            log_config=log_config(settings.log_level, settings.log_format),
            log_level=settings.log_level.lower(),
            timeout_worker_healthcheck=settings.worker_healthcheck_seconds,
        )


@contextmanager
def _metrics_dir(workers: int) -> Iterator[None]:
    """Give several workers a fresh shared folder for their metrics, removed afterwards.

    Workers are separate processes: without the folder each scrape would see only the
    counts of whichever worker answered. A folder set in PROMETHEUS_MULTIPROC_DIR is used
    as it is (its owner clears it between runs).
    """
    from app.metrics import MULTIPROC_ENV

    if workers == 1 or os.environ.get(MULTIPROC_ENV):
        yield
        return
    folder = tempfile.mkdtemp(prefix="dealnode-metrics-")
    os.environ[MULTIPROC_ENV] = folder
    try:
        yield
    finally:
        del os.environ[MULTIPROC_ENV]
        shutil.rmtree(folder, ignore_errors=True)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Create or migrate the database named by DEALNODE_DATABASE_URL / DATABASE_URL."""
    from app.migrate import upgrade

    url = get_settings().database_url
    upgrade(url, revision)
    console.print(f"database at {_redact(url)} is at {revision}")


@keys_app.command("create")
def keys_create(
    scope: Annotated[str, typer.Option(help="score (predict, read) or admin (also activate).")],
    name: Annotated[str, typer.Option(help="Who or what the key is for.")] = "",
) -> None:
    """Create an API key and print it once; only its hash is stored."""
    from app.keys import service

    if scope not in {"score", "admin"}:
        typer.echo(f"error: --scope: use score or admin, not {scope!r}", err=True)
        raise typer.Exit(code=2)
    with _session() as session:
        plain, row = service.create_key(session, scope=scope, name=name)  # type: ignore[arg-type]
        session.commit()
    console.print(f"created {row.scope} key {row.key_id} (shown once, store it now):")
    typer.echo(plain)


@keys_app.command("list")
def keys_list(as_json: JsonOption = False) -> None:
    """List keys (ids and scopes; the keys themselves are not stored)."""
    from app.keys import service

    with _session() as session:
        rows = service.list_keys(session)
    if as_json:
        echo_json(
            [
                {
                    "key_id": row.key_id,
                    "scope": row.scope,
                    "name": row.name,
                    "created_at": row.created_at.isoformat(),
                    "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
                }
                for row in rows
            ]
        )
        return
    table = Table("key id", "scope", "name", "created", "revoked")
    for row in rows:
        revoked = row.revoked_at.isoformat()[:19] if row.revoked_at else ""
        table.add_row(row.key_id, row.scope, row.name, row.created_at.isoformat()[:19], revoked)
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The id shown by keys list.")]) -> None:
    """Revoke a key; requests with it get 401 from then on."""
    from app.errors import NotFound
    from app.keys import service

    with _session() as session:
        try:
            service.revoke_key(session, key_id=key_id)
        except NotFound as exc:
            typer.echo(f"error: {exc.message}", err=True)
            raise typer.Exit(code=2) from None
        session.commit()
    console.print(f"revoked {key_id}")


def deliver(
    once: Annotated[bool, typer.Option(help="One pass over what is due, then exit.")] = False,
    poll: Annotated[float, typer.Option(min=0.1, help="Seconds between passes.")] = 1.0,
) -> None:
    """Send state-change notifications to the subscribers (DEALNODE_SUBSCRIBERS)."""
    from app.db import make_engine, make_sessionmaker
    from app.notifications.delivery import run_worker
    from app.startup import checked_settings

    settings = checked_settings(sends=True)
    engine = make_engine(settings.database_url)
    try:
        stats = run_worker(make_sessionmaker(engine), settings, once=once, poll_seconds=poll)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None
    finally:
        engine.dispose()
    console.print(f"delivered {stats.delivered}, to retry {stats.failed}, dead {stats.dead}")


@import_app.command("events")
def import_events(
    path: Annotated[Path, typer.Argument(help="Event log (CSV or Parquet).")],
    as_of: Annotated[
        str | None, typer.Option(help="Compute inputs as of (UTC); default now.")
    ] = None,
    chunk: Annotated[int, typer.Option(min=1, help="Customers per transaction.")] = 2000,
) -> None:
    """Load a historical event log through the webhook code path (safe to run again)."""
    from datetime import UTC, datetime

    from app.webhooks import importer
    from training.features import to_utc

    with _one_line_errors():
        when = datetime.now(UTC) if as_of is None else to_utc(as_of).to_pydatetime()
        events = importer.read_events(path)
        with _services_with_model() as services:
            result = importer.import_events(
                services.sessions,
                services.serving,
                services.advisor,
                events,
                as_of=when,
                customers_per_chunk=chunk,
            )
    console.print(
        f"imported {result.accepted:,} new of {result.events:,} events "
        f"for {result.customers:,} customers"
    )


@contextmanager
def _one_line_errors() -> Iterator[None]:
    """Bad input or a model that cannot serve: exit code 2 with the error's first line."""
    from training.errors import DataError, ModelError

    try:
        yield
    except (DataError, ModelError, ValueError) as exc:
        typer.echo(f"error: {str(exc).splitlines()[0]}", err=True)
        raise typer.Exit(code=2) from None


@contextmanager
def _services_with_model() -> Iterator[Services]:
    """The app's services with the promoted model loaded, their engine disposed after."""
    from app.metrics import Metrics
    from app.services import build_services

    services = build_services(get_settings(), Metrics(), need_model=True)
    try:
        yield services
    finally:
        services.engine.dispose()


@contextmanager
def _session() -> Iterator[Session]:
    from app.db import make_engine, make_sessionmaker

    engine = make_engine(get_settings().database_url)
    try:
        with make_sessionmaker(engine)() as session:
            yield session
    finally:
        engine.dispose()


def _redact(url: str) -> str:
    """Hide a password in a database URL before printing it."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def demo(
    customers: Annotated[
        int, typer.Option(min=1, max=100_000, help="Customers to simulate.")
    ] = 500,
    seed: Annotated[int, typer.Option(help="The same seed gives the same customers.")] = 1,
) -> None:
    """Load simulated customers and their events into the configured database (needs a model:
    `make run` trains one), then open http://127.0.0.1:8000/app."""
    from datetime import UTC, datetime

    from app.demo import load_demo

    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    with _one_line_errors(), _services_with_model() as services:
        result = load_demo(
            services.sessions,
            services.serving,
            services.advisor,
            customers=customers,
            seed=seed,
            now=now,
        )
    console.print(
        f"loaded {result.accepted:,} events for {result.customers:,} simulated customers; "
        "see them at http://127.0.0.1:8000/app (a key: dealnode keys create)"
    )
