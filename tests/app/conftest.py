"""API test fixtures: every API test runs on SQLite and, when TEST_DATABASE_URL is set, on
PostgreSQL too. Each backend is migrated once per session with Alembic; tables are emptied
after each test so no test sees another's rows."""

from __future__ import annotations

import base64
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from app.config import Settings, get_settings
from app.db import Base, make_engine, make_sessionmaker
from app.keys.service import create_key
from app.main import create_app
from app.migrate import upgrade
from training.reliability import METADATA_KEY
from training.train import TrainResult

PG_SCHEMA = f"dealnode_test_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
"""A schema per pytest-xdist worker, so parallel workers never empty each other's tables."""
EVENTS_SECRET = "whsec_" + base64.b64encode(b"dealnode-test-secret-for-events!").decode()
OLD_EVENTS_SECRET = "whsec_" + base64.b64encode(b"the-secret-being-rotated-out-now").decode()
HUBSPOT_SECRET = "test-hubspot-app-secret"
"""Test-only secrets, generated here; real ones come from DEALNODE_WEBHOOK_SECRETS."""
BACKENDS = ["sqlite", "postgresql"]


def postgres_url(schema: str = PG_SCHEMA) -> str:
    """A URL of TEST_DATABASE_URL's server whose tables live in `schema`, made afresh."""
    base = os.environ["TEST_DATABASE_URL"]
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    engine = make_engine(base)
    with engine.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    engine.dispose()
    return url.render_as_string(hide_password=False)


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated database per backend."""
    if request.param == "postgresql":
        if not os.environ.get("TEST_DATABASE_URL"):
            pytest.skip("TEST_DATABASE_URL is not set")
        url = postgres_url()
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'dealnode.db'}"
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def db_engine(database_url: str) -> Iterator[Engine]:
    """An engine for tests to read and seed the database directly."""
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def db(db_engine: Engine) -> Iterator[Session]:
    """A session for the test; every table is emptied afterwards."""
    session = make_sessionmaker(db_engine)()
    yield session
    session.rollback()
    with db_engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())
    session.close()


@pytest.fixture
def second_version(registry_dir: Path, trained: TrainResult) -> str:
    """Another valid model in the test's registry (a copy under a new version)."""
    name = "2000-01-01_second"
    target = registry_dir / name
    shutil.copytree(registry_dir / trained.version, target)
    meta = json.loads((target / "metadata.json").read_text())
    meta["version"] = name
    (target / "metadata.json").write_text(json.dumps(meta))
    return name


@pytest.fixture
def settings(database_url: str, registry_dir: Path) -> Settings:
    """Settings pointing at the test database and a private model registry."""
    return Settings(
        database_url=database_url,
        models_dir=registry_dir,
        key_cache_seconds=0,  # revocation must show at once in tests
        webhook_secrets={
            "events": [EVENTS_SECRET, OLD_EVENTS_SECRET],
            "hubspot": [HUBSPOT_SECRET],
        },
    )


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Point the CLI (which reads the environment) at the test database and registry."""
    monkeypatch.setenv("DEALNODE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("DEALNODE_MODELS_DIR", str(settings.models_dir))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def client(settings: Settings, db: Session) -> Iterator[TestClient]:  # noqa: ARG001
    """A client of a freshly started app; `db` is asked for so tables are emptied after it."""
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def score_key(db: Session) -> dict[str, str]:
    """Headers with a score-scope key."""
    plain, _ = create_key(db, scope="score", name="test")
    db.commit()
    return {"Authorization": f"Bearer {plain}"}


@pytest.fixture
def admin_key(db: Session) -> dict[str, str]:
    """Headers with an admin key."""
    plain, _ = create_key(db, scope="admin", name="test-admin")
    db.commit()
    return {"Authorization": f"Bearer {plain}"}


@pytest.fixture
def segmented_registry_dir(segmented: TrainResult, tmp_path: Path) -> Path:
    """A private copy of a registry whose promoted model is a segment family (`segmented`);
    a test module serves it by returning it from its own `registry_dir` fixture."""
    target = tmp_path / "segmented-models"
    shutil.copytree(segmented.path.parent, target)
    return target


def _client_of_a_model_without(
    settings: Settings, registry_dir: Path, version: str, key: str
) -> Iterator[TestClient]:
    """A client serving `version` with `key` taken out of its metadata, as a model trained
    before training wrote that key."""
    path = registry_dir / version / "metadata.json"
    metadata = json.loads(path.read_text())
    del metadata[key]
    path.write_text(json.dumps(metadata))
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def old_model_client(
    settings: Settings,
    registry_dir: Path,
    trained: TrainResult,
    db: Session,  # noqa: ARG001
) -> Iterator[TestClient]:
    """A client serving a model trained before monitoring references existed."""
    yield from _client_of_a_model_without(
        settings, registry_dir, trained.version, "monitoring_reference"
    )


@pytest.fixture
def older_model_client(
    settings: Settings,
    registry_dir: Path,
    trained: TrainResult,
    db: Session,  # noqa: ARG001
) -> Iterator[TestClient]:
    """A client serving a model trained before training stored its test calibration."""
    yield from _client_of_a_model_without(settings, registry_dir, trained.version, METADATA_KEY)
