"""`dealnode` commands that run the service: serve, db, keys, deliver, import."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from app.config import get_settings

db_app = typer.Typer(help="The service database.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
import_app = typer.Typer(help="Bulk loads.", no_args_is_help=True)
console = Console()


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Serve the API (OpenAPI docs at /docs)."""
    import uvicorn

    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        log_level="info",
    )


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
def keys_list() -> None:
    """List keys (ids and scopes; the keys themselves are not stored)."""
    from app.keys import service

    table = Table("key id", "scope", "name", "created", "revoked")
    with _session() as session:
        for row in service.list_keys(session):
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
    from app.webhooks.delivery import run_worker

    settings = get_settings()
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

    from app.main import build_runtime
    from app.metrics import Metrics
    from app.webhooks import importer
    from training.errors import DataError, ModelError
    from training.features import to_utc

    try:
        when = datetime.now(UTC) if as_of is None else to_utc(as_of).to_pydatetime()
        events = importer.read_events(path)
        runtime = build_runtime(get_settings(), Metrics(), need_model=True)
        try:
            result = importer.import_events(
                runtime.sessions, runtime.scorer, events, as_of=when, customers_per_chunk=chunk
            )
        finally:
            runtime.engine.dispose()
    except (DataError, ModelError, ValueError) as exc:
        typer.echo(f"error: {str(exc).splitlines()[0]}", err=True)
        raise typer.Exit(code=2) from None
    console.print(
        f"imported {result.accepted:,} new of {result.events:,} events "
        f"for {result.customers:,} customers"
    )


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
