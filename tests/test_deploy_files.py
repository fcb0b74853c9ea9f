"""The Dockerfile and compose file cannot be built here, so their promises are read and checked."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _final_stage(text: str) -> str:
    return text[text.rindex("\nFROM ") :]


def test_dockerfile_runs_as_non_root_exposes_the_port_and_checks_readiness() -> None:
    final = _final_stage((ROOT / "Dockerfile").read_text())
    users = re.findall(r"^USER\s+(\S+)", final, flags=re.MULTILINE)
    assert users
    assert users[-1] not in {"root", "0"}
    assert re.search(r"^EXPOSE\s+8000\b", final, flags=re.MULTILINE)
    assert "HEALTHCHECK" in final
    assert "/readyz" in final[final.index("HEALTHCHECK") :]


def test_dockerfile_installs_dependencies_before_copying_code() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert text.index("pip install .") < text.index("COPY app ")
    assert len(re.findall(r"^FROM ", text, flags=re.MULTILINE)) >= 2


def test_compose_runs_the_api_on_postgresql_without_a_password_in_the_file() -> None:
    text = (ROOT / "compose.yaml").read_text()
    assert "postgresql+psycopg://" in text
    assert re.search(r"POSTGRES_PASSWORD:\s*\$\{POSTGRES_PASSWORD", text)
    assert "image: postgres" in text


def test_rescore_cronjob_runs_the_rescore_command_once_at_a_time() -> None:
    text = (ROOT / "deploy" / "rescore-cronjob.yaml").read_text()
    assert "kind: CronJob" in text
    assert '["dealnode", "rescore"' in text
    assert "concurrencyPolicy: Forbid" in text
    assert "runAsNonRoot: true" in text


def test_sharded_cronjob_gives_each_pod_its_index_and_one_run_name() -> None:
    text = (ROOT / "deploy" / "rescore-sharded-cronjob.yaml").read_text()
    completions = re.search(r"completions: (\d+)", text)
    shard = re.search(r"\$\(JOB_COMPLETION_INDEX\)/(\d+)", text)
    assert completions is not None
    assert shard is not None
    assert completions[1] == shard[1]  # as many pods as shards
    assert "completionMode: Indexed" in text
    assert "$(JOB_NAME)" in text
    assert "batch.kubernetes.io/job-name" in text
