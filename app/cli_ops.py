"""`dealnode` commands that run the service: serve, db, keys."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from app.config import get_settings

if TYPE_CHECKING:
    from app.jobs.runs import Shard
    from app.runtime import Runtime

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


def rescore(
    as_of: Annotated[
        str | None, typer.Option(help="Rescore as of this time (UTC); default now.")
    ] = None,
    chunk_size: Annotated[int, typer.Option(min=1, help="Customers per transaction.")] = 5000,
    dry_run: Annotated[bool, typer.Option(help="Score and report, write no scores.")] = False,
    break_lock: Annotated[bool, typer.Option(help="Remove a dead run's lock and exit.")] = False,
    resume: Annotated[str | None, typer.Option(help="Finish run RUN after a crash.")] = None,
    model: Annotated[str | None, typer.Option(help="Model version; default: promoted.")] = None,
    shard: Annotated[
        str | None, typer.Option(help="Score part I of N (e.g. 0/3) of run --run; default all.")
    ] = None,
    run_name: Annotated[
        str | None,
        typer.Option("--run", help="Name the run, so the processes of its shards join it."),
    ] = None,
) -> None:
    """Rescore every customer as of now (scores decay without events): the nightly job."""
    import gc
    import sys

    from app.errors import AppError, InvalidInput
    from app.jobs import rescore as job
    from app.jobs import runs
    from app.main import build_runtime
    from app.metrics import Metrics
    from training.errors import ModelError
    from training.features import STATES, to_utc

    runtime = build_runtime(get_settings(), Metrics())
    try:
        if break_lock:
            owner = runs.break_lock(runtime.sessions)
            console.print(f"removed the lock of run {owner}" if owner else "no lock was held")
            return
        if model is not None:
            runtime.scorer.activate(model)  # ModelError names a missing or unusable version
        if not runtime.scorer.loaded:
            raise ModelError("no model is loaded: train and promote one first")
        when = None if as_of is None else to_utc(as_of).to_pydatetime()
        part = runs.Shard() if shard is None else runs.Shard.parse(shard)
        # What is loaded now lives as long as the process: keep the garbage collector from
        # walking it again and again while a million customers' scores come and go.
        gc.freeze()

        def run(on_chunk: Callable[[int], None]) -> job.RunSummary:
            return job.rescore_all(
                runtime.sessions,
                runtime.scorer,
                as_of=when,
                chunk_size=chunk_size,
                dry_run=dry_run,
                run=run_name,
                shard=part,
                resume=resume,
                on_chunk=on_chunk,
            )

        if sys.stderr.isatty():
            with _progress_bar(runtime, part) as advance:
                summary = run(advance)
        else:  # cron, Kubernetes: plain lines
            summary = run(lambda rows: typer.echo(f"rescored {rows:,} customers", err=True))
    except (AppError, ModelError, ValueError) as exc:
        message = exc.message if isinstance(exc, AppError) else str(exc)
        typer.echo(f"error: {message.splitlines()[0]}", err=True)
        usage = isinstance(exc, InvalidInput) or not isinstance(exc, AppError)
        raise typer.Exit(code=2 if usage else 1) from None
    except Exception as exc:  # database gone and the like: one line, non-zero, for cron
        typer.echo(
            f"error: rescoring failed: {type(exc).__name__}: {str(exc).splitlines()[0]}", err=True
        )
        raise typer.Exit(code=1) from None
    finally:
        runtime.engine.dispose()
    shard_note = f" shard {summary.shard}" if summary.shard.count > 1 else ""
    table = Table(
        "from \\ to",
        *STATES,
        title=f"run {summary.run_id}{shard_note}: {summary.rows:,} customers, "
        f"{summary.changes:,} state changes",
    )
    for old in STATES:
        table.add_row(old, *(f"{summary.transitions[old][new]:,}" for new in STATES))
    console.print(table)


@contextmanager
def _progress_bar(runtime: Runtime, shard: Shard) -> Iterator[Callable[[int], None]]:
    """A rich progress bar with rows/s and ETA, for a person watching a terminal."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        Task,
        TimeRemainingColumn,
    )
    from rich.text import Text
    from sqlalchemy import func, select

    from app.tables import Customer

    class Rate(ProgressColumn):
        def render(self, task: Task) -> Text:
            return Text(f"{task.speed or 0:,.0f} rows/s")

    count = select(func.count()).select_from(Customer)
    if shard.count > 1:
        count = count.where(Customer.shard_key % shard.count == shard.index)
    with runtime.sessions() as session:
        total = session.scalar(count) or 0
    columns = (BarColumn(), MofNCompleteColumn(), Rate(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True)) as bar:
        task = bar.add_task("rescoring", total=total)
        yield lambda rows: bar.update(task, completed=rows)


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
        runtime = build_runtime(get_settings(), Metrics())
        try:
            if not runtime.scorer.loaded:
                raise ModelError("no model is loaded: train and promote one first")
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
