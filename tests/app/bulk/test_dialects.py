"""One place knows the database kind (`app.bulk`), and both kinds keep its contract."""

from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

import app
from app.bulk import EventRow, for_session
from app.bulk.postgres import PostgresBulk
from app.bulk.sqlite import SqliteBulk
from training.features import epoch_seconds_of

APP = Path(app.__file__).parent
ALLOWED = ("bulk/", "db.py", "migrations/")
"""Where the database kind may be asked, relative to `app/`; `main.py` may ask it only to
choose the intake's concurrency (`Intake(...)`)."""


def kind_checks(source: str, *, allow_in_call: str | None = None) -> list[int]:
    """Lines that ask which database this is: `is_postgres`, `<...>.dialect.name`, or an
    import of `sqlalchemy.dialects`; those inside a call to `allow_in_call` are left out."""
    tree = ast.parse(source)
    allowed: set[int] = set()
    if allow_in_call is not None:
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and ast.unparse(node.func) == allow_in_call:
                allowed |= {id(inner) for inner in ast.walk(node)}
    lines = []
    for node in ast.walk(tree):
        if id(node) in allowed:
            continue
        asks = (
            (isinstance(node, ast.Name) and node.id == "is_postgres")
            or (isinstance(node, ast.Attribute) and node.attr == "is_postgres")
            or (isinstance(node, ast.alias) and node.name == "is_postgres")
            or (
                isinstance(node, ast.Attribute)
                and node.attr == "name"
                and ast.unparse(node.value).split(".")[-1] == "dialect"
            )
            or (
                isinstance(node, ast.ImportFrom)
                and (node.module or "").startswith("sqlalchemy.dialects")
            )
            or (
                isinstance(node, ast.Import)
                and any(a.name.startswith("sqlalchemy.dialects") for a in node.names)
            )
        )
        if asks:
            lines.append(getattr(node, "lineno", 0))
    return sorted(set(lines))


def test_no_module_outside_the_allowed_ones_asks_which_database_it_is_on() -> None:
    offenders = []
    for path in sorted(APP.rglob("*.py")):
        name = path.relative_to(APP).as_posix()
        if name.startswith(ALLOWED):
            continue
        call = "Intake" if name == "main.py" else None
        offenders += [f"app/{name}:{n}" for n in kind_checks(path.read_text(), allow_in_call=call)]
    assert offenders == []


@pytest.mark.parametrize(
    "source",
    [
        "from app.db import is_postgres\n",
        "if db.is_postgres(session):\n    pass\n",
        "x = session.get_bind().dialect.name\n",
        "x = dialect.name == 'sqlite'\n",
        "from sqlalchemy.dialects import postgresql\n",
        "import sqlalchemy.dialects.sqlite\n",
        "Intake(sessions, at_once=1)\nx = engine.dialect.name\n",
    ],
)
def test_the_check_finds_each_way_of_asking(source: str) -> None:
    assert kind_checks(source, allow_in_call="Intake") != []


def test_the_check_leaves_the_intake_choice_and_other_names_alone() -> None:
    source = (
        "Intake(sessions, at_once=1 if engine.dialect.name == 'sqlite' else 2)\n"
        "name = table.name\n"
        "kind = settings.dialect\n"
    )
    assert kind_checks(source, allow_in_call="Intake") == []


def test_for_session_picks_the_session_database_s_statements(db: Session) -> None:
    expected = PostgresBulk if db.get_bind().dialect.name == "postgresql" else SqliteBulk
    assert type(for_session(db)) is expected


def test_events_go_in_once_and_read_back_with_their_exact_seconds(db: Session) -> None:
    now = datetime(2026, 11, 20, 9, tzinfo=UTC)
    times = [now - timedelta(days=3, microseconds=7), now - timedelta(seconds=1)]
    rows: list[EventRow] = [
        {
            "source": "events",
            "event_id": f"e{n}",
            "customer_id": "c1",
            "type": "visit",
            "occurred_at": when,
            "attributes": {},
            "payload": {"event_id": f"e{n}"},
        }
        for n, when in enumerate(times)
    ]
    bulk = for_session(db)
    bulk.create_customers(["c1"], now=now)
    assert bulk.insert_events(rows[:1], now=now) == {("events", "e0")}
    assert bulk.insert_events(rows, now=now) == {("events", "e1")}
    assert set(bulk.lock_customers(["c1"])) == {"c1"}
    history, seconds = bulk.read_history(["c1"])
    assert sorted(row[0:2] for row in history) == [("c1", "visit"), ("c1", "visit")]
    assert sorted(seconds.tolist()) == [epoch_seconds_of(t) for t in times]
