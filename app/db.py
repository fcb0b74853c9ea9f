"""Database plumbing: the declarative base, engines and sessions.

SQLite is the embedded default and PostgreSQL the production database; both run the same
Alembic migrations and the same tests. The edge (a route or a job chunk) owns the transaction:
services add and flush, and the caller commits once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import DateTime, Dialect, Engine, MetaData, TypeDecorator, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and read back as an aware UTC datetime, on every database.

    SQLite keeps no time zone: without this, 10:00+02:00 would be stored as 10:00 and read back
    as 10:00 UTC, two hours off.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(
        self,
        value: datetime | None,
        dialect: Dialect,  # noqa: ARG002  (SQLAlchemy's signature)
    ) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: DealNode stores only aware UTC times")
        return value.astimezone(UTC)

    def process_result_value(
        self,
        value: datetime | None,
        dialect: Dialect,  # noqa: ARG002  (SQLAlchemy's signature)
    ) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Base of every table; the naming convention keeps migrations portable."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine with the per-dialect settings this project relies on.

    JSON columns go through orjson: events, score documents and notifications are JSON, and
    the standard library's encoder and decoder were a visible share of a webhook delivery.
    """
    kwargs = {"json_serializer": json_text, "json_deserializer": orjson.loads, **kwargs}
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def json_text(value: Any) -> str:
    """JSON text as the engine writes it: orjson, taking what the standard library's encoder
    took too (numpy numbers, non-string keys)."""
    options = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
    return orjson.dumps(value, option=options).decode()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers work while a writer commits; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # 64 MiB of pages rather than 2: the nightly run reads and rewrites every customer.
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()


def is_postgres(session: Session) -> bool:
    """Whether the session's database is PostgreSQL (else SQLite)."""
    return session.get_bind().dialect.name == "postgresql"


def driver_connection(session: Session) -> Any:
    """The driver's own connection under the session's transaction, for the bulk paths
    (COPY, executemany, one statement over many rows) where SQLAlchemy's per-row work
    would cost more than the database's."""
    raw = session.connection().connection.driver_connection
    assert raw is not None
    return raw


def stored_time(session: Session, value: datetime) -> Any:
    """`value` as SQLAlchemy binds it for this database, so raw and ORM writes agree."""
    process = _time_binder(session.get_bind().dialect)
    return value if process is None else process(value)


@lru_cache(maxsize=8)
def _time_binder(dialect: Dialect) -> Callable[[Any], Any] | None:
    # Looked up once per dialect: building it cost more than the rest of a history row.
    return UTCDateTime().dialect_impl(dialect).bind_processor(dialect)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit (responses read them)."""
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)


def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """Yield a session and roll back whatever the caller did not commit."""
    session = factory()
    try:
        yield session
    finally:
        session.rollback()
        session.close()
