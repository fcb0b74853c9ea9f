"""`dealnode rescore`: the nightly rescoring, for cron, Kubernetes and people at a terminal."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from app.config import get_settings

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

    from sqlalchemy.orm import Session, sessionmaker

    from app.config import Settings
    from app.nightly.run_records import Shard, Transitions
    from app.services import Services

console = Console()


def rescore(
    as_of: Annotated[
        str | None, typer.Option(help="Rescore as of this time (UTC); default now.")
    ] = None,
    chunk_size: Annotated[int, typer.Option(min=1, help="Customers per transaction.")] = 10_000,
    dry_run: Annotated[bool, typer.Option(help="Score and report, write no scores.")] = False,
    break_lock: Annotated[
        bool, typer.Option(help="Remove a run's lock now, not waiting for its lease, and exit.")
    ] = False,
    resume: Annotated[str | None, typer.Option(help="Finish run RUN after a crash.")] = None,
    model: Annotated[
        str | None, typer.Option(help="Model version; default: the active one, as served.")
    ] = None,
    shard: Annotated[
        str | None, typer.Option(help="Score part I of N (e.g. 0/3) of run --run; default all.")
    ] = None,
    run_name: Annotated[
        str | None,
        typer.Option("--run", help="Name the run, so the processes of its shards join it."),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=0, help="Processes that read and score chunks while this one writes; 0: none."
        ),
    ] = 1,
) -> None:
    """Rescore every customer as of now (scores decay without events): the nightly job."""
    import sys

    from app.errors import AppError, InvalidInput

    settings = get_settings()
    if model is not None:  # a pin, as DEALNODE_MODEL_VERSION is for a server
        settings = settings.model_copy(update={"model_version": model})
    # Workers first: their start-up (a Python, the scoring stack's imports) runs beside ours.
    pool = _start_workers(settings, workers) if workers and not break_lock else None

    from app import heap
    from app.metrics import Metrics
    from app.nightly import rescore as job
    from app.nightly import run_records as runs
    from app.services import build_services
    from training.errors import ModelError
    from training.features import to_utc

    services: Services | None = None
    try:
        if break_lock:
            _break_lock(settings)
            return
        # The model the servers serve (or --model); ModelError names why it cannot load.
        services = build_services(settings, Metrics(), need_model=True)
        when = None if as_of is None else to_utc(as_of).to_pydatetime()
        part = runs.Shard() if shard is None else runs.Shard.parse(shard)
        heap.settle()  # a million customers' scores come and go
        heap.keep_freed_memory()

        def run(on_chunk: Callable[[int], None]) -> job.RunSummary:
            return job.rescore_all(
                services.sessions,
                services.serving,
                services.advisor,
                as_of=when,
                chunk_size=chunk_size,
                dry_run=dry_run,
                run=run_name,
                shard=part,
                resume=resume,
                on_chunk=on_chunk,
                workers=workers,
                pool=pool,
                lease_seconds=settings.rescore_lease_seconds,
            )

        if sys.stderr.isatty():
            with _progress_bar(services.sessions, part) as advance:
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
        if services is not None:
            services.engine.dispose()
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
    if summary.abandoned:
        typer.echo(
            f"note: run {summary.abandoned} had died unfinished (its lease expired); it is "
            "marked abandoned and this run rescored every customer in its place",
            err=True,
        )
    shard_note = f" shard {summary.shard}" if summary.shard.count > 1 else ""
    _print_summary(
        f"run {summary.run_id}{shard_note}", summary.rows, summary.changes, summary.transitions
    )


def _break_lock(settings: Settings) -> None:
    """Remove a dead run's lock: no model needed, only the database."""
    from app.db import make_engine, make_sessionmaker
    from app.nightly import run_records as runs

    engine = make_engine(settings.database_url)
    try:
        owner = runs.break_lock(make_sessionmaker(engine))
    finally:
        engine.dispose()
    console.print(f"removed the lock of run {owner}" if owner else "no lock was held")


def _start_workers(settings: Settings, workers: int) -> ProcessPoolExecutor:
    """The run's worker processes, started before anything heavy is imported here."""
    from app.errors import InvalidInput
    from app.nightly.worker_setup import WorkerSetup
    from app.nightly.workers import start_workers

    try:
        setup = WorkerSetup.scoring_as(
            settings.database_url,
            settings.models_dir,
            settings.playbook,
            settings.low_confidence,
            settings.at_risk_threshold,
        )
        return start_workers(workers, setup)
    except (InvalidInput, ValueError, OSError) as exc:  # an in-memory database, a bad playbook
        message = exc.message if isinstance(exc, InvalidInput) else str(exc)
        typer.echo(f"error: {message.splitlines()[0]}", err=True)
        raise typer.Exit(code=2) from None


def _print_summary(title: str, rows: int, changes: int, transitions: Transitions) -> None:
    from training.features import STATES

    table = Table(
        "from \\ to", *STATES, title=f"{title}: {rows:,} customers, {changes:,} state changes"
    )
    for old in STATES:
        table.add_row(old, *(f"{transitions[old][new]:,}" for new in STATES))
    console.print(table)


@contextmanager
def _progress_bar(sessions: sessionmaker[Session], shard: Shard) -> Iterator[Callable[[int], None]]:
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
    with sessions() as session:
        total = session.scalar(count) or 0
    columns = (BarColumn(), MofNCompleteColumn(), Rate(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True)) as bar:
        task = bar.add_task("rescoring", total=total)
        yield lambda rows: bar.update(task, completed=rows)
