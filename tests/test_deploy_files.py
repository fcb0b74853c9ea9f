"""Docker and Kubernetes cannot run here, so the deployment files are parsed and their promises
checked: one image run as the image's numeric non-root user, migrations as their own step,
secrets only from Secrets, probes on the API, resources everywhere, real `dealnode` commands."""

from __future__ import annotations

import fnmatch
import re
import shlex
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from app.cli.main import app

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
WORKLOADS = {"Deployment", "Job", "CronJob", "StatefulSet", "DaemonSet"}
SECRET_ENV = re.compile(r"DATABASE_URL|SECRET|PASSWORD|TOKEN")

Doc = dict[str, Any]


def _final_stage(text: str) -> str:
    return text[text.rindex("\nFROM ") :]


def _dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text()


def _image_user() -> tuple[int, int]:
    """The final stage's USER as numbers (uid, gid)."""
    users = re.findall(r"^USER\s+(\S+)", _final_stage(_dockerfile()), flags=re.MULTILINE)
    assert users, "the image sets no USER"
    match = re.fullmatch(r"(\d+)(?::(\d+))?", users[-1])
    assert match, f"USER {users[-1]} is a name: Kubernetes' runAsNonRoot needs a number"
    uid = int(match[1])
    return uid, int(match[2] or uid)


def _release_image() -> str:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    return f"dealnode:{version}"


def _manifests() -> list[tuple[str, Doc]]:
    docs = []
    for path in sorted([*DEPLOY.glob("*.yaml"), *DEPLOY.glob("*.yml")]):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc is not None:
                docs.append((path.name, doc))
    return docs


def _pod_spec(doc: Doc) -> Doc:
    spec = doc["spec"]
    if doc["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    pod: Doc = spec["template"]["spec"]
    return pod


def _workloads() -> list[tuple[str, Doc, Doc]]:
    """(file, manifest, pod spec) of every workload in deploy/."""
    found = [(name, doc, _pod_spec(doc)) for name, doc in _manifests() if doc["kind"] in WORKLOADS]
    assert found
    return found


def _containers() -> Iterator[tuple[str, Doc, Doc]]:
    """(file, pod spec, container) of every container, init containers included."""
    for name, _, pod in _workloads():
        for container in [*pod.get("initContainers", []), *pod["containers"]]:
            yield name, pod, container


def _compose() -> Doc:
    compose: Doc = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return compose


def _compose_dealnode_services() -> dict[str, Doc]:
    return {k: v for k, v in _compose()["services"].items() if "postgres" not in v.get("image", "")}


def _command(container: Doc) -> list[str]:
    command = container.get("command", [])
    return shlex.split(command) if isinstance(command, str) else [str(c) for c in command]


def _memory(quantity: str) -> float:
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "K": 1e3, "M": 1e6, "G": 1e9}
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([KMG]i?)?", str(quantity))
    assert match, f"cannot read memory quantity {quantity!r}"
    return float(match[1]) * units.get(match[2] or "", 1)


# --- the image ---------------------------------------------------------------------------------


def test_dockerfile_runs_as_a_numeric_non_root_user_exposes_the_port_and_checks_readiness() -> None:
    uid, gid = _image_user()
    assert uid != 0
    assert gid != 0
    final = _final_stage(_dockerfile())
    assert f"--uid {uid}" in final  # the account exists, so tools that look it up work
    assert re.search(r"^EXPOSE\s+8000\b", final, flags=re.MULTILINE)
    assert "HEALTHCHECK" in final
    assert "/readyz" in final[final.index("HEALTHCHECK") :]


def test_dockerfile_installs_dependencies_before_copying_code() -> None:
    text = _dockerfile()
    assert text.index("pip install .") < text.index("COPY app ")
    assert len(re.findall(r"^FROM ", text, flags=re.MULTILINE)) >= 2


def test_image_serves_without_migrating_on_start() -> None:
    final = _final_stage(_dockerfile())
    cmd = re.findall(r"^CMD\s+(.+)$", final, flags=re.MULTILINE)
    assert cmd, "the image has no CMD"
    assert "upgrade" not in cmd[-1]
    assert "migrat" not in cmd[-1]
    assert "dealnode" in cmd[-1]
    assert "serve" in cmd[-1]


def _dockerignored(path: str, rules: list[str]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for rule in rules:
        negated = rule.startswith("!")
        pattern = rule.removeprefix("!").strip("/")
        patterns = {pattern, pattern.removeprefix("**/")}
        if any(fnmatch.fnmatchcase(p, pat) for p in prefixes for pat in patterns):
            ignored = not negated
    return ignored


def test_dockerignore_keeps_local_state_out_and_lets_the_build_copy_its_sources() -> None:
    text = (ROOT / ".dockerignore").read_text()
    rules = [r.strip() for r in text.splitlines() if r.strip() and not r.startswith("#")]
    copied = re.findall(r"^COPY\s+(?!--from)(.+?)\s+\S+$", _dockerfile(), flags=re.MULTILINE)
    sources = [s for line in copied for s in line.split()]
    assert {"pyproject.toml", "README.md", "app", "training"} <= set(sources)
    for source in sources:
        assert not _dockerignored(source, rules), f"{source} is copied but ignored"
    assert not _dockerignored("app/scoring/playbook.toml", rules)
    for local in (
        ".git/HEAD",
        ".venv/bin/python",
        ".env",
        "models/2026-11-24_abc/model.txt",
        "data/processed/snapshot.parquet",
        "var/dealnode.db",
        "app/__pycache__/cli.cpython-311.pyc",
    ):
        assert _dockerignored(local, rules), f"{local} would be sent to the build"


# --- compose ------------------------------------------------------------------------------------


def test_compose_runs_postgresql_a_migration_step_the_api_the_worker_and_the_nightly_run() -> None:
    services = _compose()["services"]
    assert services["db"]["image"].startswith("postgres:")
    commands = {name: _command(s) for name, s in _compose_dealnode_services().items()}
    assert commands["migrate"] == ["dealnode", "db", "upgrade"]
    assert commands["api"][:2] == ["dealnode", "serve"]
    assert commands["deliver"][:2] == ["dealnode", "deliver"]
    assert commands["rescore"][:2] == ["dealnode", "rescore"]
    assert sum(c[1:3] == ["db", "upgrade"] for c in commands.values()) == 1
    for name in ("api", "deliver", "rescore"):
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )
    assert services["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert "up" not in services["rescore"].get("profiles", ["up"])  # run on demand, not by `up`


def test_compose_runs_the_release_image_as_its_user_without_secrets_in_the_file() -> None:
    text = (ROOT / "compose.yaml").read_text()
    assert re.search(r"POSTGRES_PASSWORD:\s*\$\{POSTGRES_PASSWORD", text)
    uid, gid = _image_user()
    for name, service in _compose_dealnode_services().items():
        assert service["image"] == _release_image(), name
        assert str(service["user"]) == f"{uid}:{gid}", name
        assert service["read_only"] is True, name
        env = service["environment"]
        assert env["DEALNODE_DATABASE_URL"].startswith("postgresql+psycopg://"), name
        assert "${POSTGRES_PASSWORD" in env["DEALNODE_DATABASE_URL"], name
        for key, value in env.items():
            if SECRET_ENV.search(key) and key != "DEALNODE_DATABASE_URL":
                assert value is None, f"{name}: {key} must come from the shell"


# --- Kubernetes manifests -------------------------------------------------------------------------


def test_every_manifest_parses_names_its_kind_and_commits_no_secret() -> None:
    docs = _manifests()
    assert {doc["kind"] for _, doc in docs} >= {
        "Deployment",
        "Service",
        "Job",
        "CronJob",
        "ConfigMap",
    }
    for name, doc in docs:
        assert doc.get("apiVersion"), name
        assert doc.get("metadata", {}).get("name"), name
        assert doc["kind"] != "Secret", f"{name}: create Secrets in the cluster, not in git"


def test_every_workload_runs_the_release_image() -> None:
    for name, _, container in _containers():
        assert container["image"] == _release_image(), name


def test_every_workload_runs_as_the_images_user_without_privileges() -> None:
    uid, gid = _image_user()
    for name, _, pod in _workloads():
        context = pod["securityContext"]
        assert context["runAsNonRoot"] is True, name
        assert context["runAsUser"] == uid, name
        assert context["runAsGroup"] == gid, name
        assert pod.get("automountServiceAccountToken") is False, name
    for name, pod, container in _containers():
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False, name
        assert context["readOnlyRootFilesystem"] is True, name
        assert "ALL" in context["capabilities"]["drop"], name
        mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert "emptyDir" in volumes[mounts["/tmp"]], f"{name}: /tmp must stay writable"


def test_every_container_requests_and_caps_its_resources() -> None:
    for name, _, container in _containers():
        resources = container["resources"]
        assert resources["requests"]["cpu"], name
        request, limit = resources["requests"]["memory"], resources["limits"]["memory"]
        assert _memory(request) <= _memory(limit), name


def test_the_api_is_probed_on_healthz_and_readyz_behind_a_service() -> None:
    apis = [
        (doc, pod)
        for _, doc, pod in _workloads()
        if doc["kind"] == "Deployment" and _command(pod["containers"][0])[1:2] == ["serve"]
    ]
    assert len(apis) == 1
    deployment, pod = apis[0]
    container = pod["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert 8000 in ports.values()  # the image's EXPOSE and serve --port
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    for probe in ("livenessProbe", "readinessProbe"):
        port = container[probe]["httpGet"]["port"]
        assert ports.get(port, port) == 8000, probe
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    services = [doc for _, doc in _manifests() if doc["kind"] == "Service"]
    assert any(
        s["spec"]["selector"].items() <= labels.items()
        and all(
            p["targetPort"] in ports or p["targetPort"] in ports.values()
            for p in s["spec"]["ports"]
        )
        for s in services
    )


def test_migrations_are_one_job_and_no_long_running_workload_migrates() -> None:
    migrating = [
        (doc["kind"], name)
        for name, doc, pod in _workloads()
        for container in pod["containers"]
        if _command(container)[1:3] == ["db", "upgrade"]
    ]
    assert [kind for kind, _ in migrating] == ["Job"]
    deliver = [
        doc["kind"]
        for _, doc, pod in _workloads()
        if _command(pod["containers"][0])[1:2] == ["deliver"]
    ]
    assert deliver == ["Deployment"]


def test_secrets_reach_containers_only_through_secret_refs() -> None:
    for name, _, container in _containers():
        for env in container.get("env", []):
            if SECRET_ENV.search(env["name"]):
                assert "value" not in env, f"{name}: {env['name']} is written in the file"
                assert "secretKeyRef" in env["valueFrom"], f"{name}: {env['name']}"
    names = {env["name"] for _, _, c in _containers() for env in c.get("env", [])}
    assert {
        "DEALNODE_DATABASE_URL",
        "DEALNODE_WEBHOOK_SECRETS",
        "DEALNODE_OUTBOUND_SECRET",
    } <= names


def test_the_playbook_configmap_holds_the_default_playbook_where_dealnode_playbook_points() -> None:
    maps = {doc["metadata"]["name"]: doc for _, doc in _manifests() if doc["kind"] == "ConfigMap"}
    default = tomllib.loads((ROOT / "app" / "scoring" / "playbook.toml").read_text())
    assert tomllib.loads(maps["dealnode-playbook"]["data"]["playbook.toml"]) == default
    pointed = 0
    for name, pod, container in _containers():
        env = {e["name"]: e.get("value") for e in container.get("env", [])}
        if "DEALNODE_PLAYBOOK" not in env:
            continue
        path = Path(env["DEALNODE_PLAYBOOK"])
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        volume = {v["name"]: v for v in pod["volumes"]}[mounts[str(path.parent)]]
        assert path.name in maps[volume["configMap"]["name"]]["data"], name
        pointed += 1
    assert pointed >= 2  # the API and the nightly run


def test_every_claimed_volume_is_defined() -> None:
    claims = {
        doc["metadata"]["name"] for _, doc in _manifests() if doc["kind"] == "PersistentVolumeClaim"
    }
    claimed = {
        volume["persistentVolumeClaim"]["claimName"]
        for _, _, pod in _workloads()
        for volume in pod.get("volumes", [])
        if "persistentVolumeClaim" in volume
    }
    assert claimed  # the model registry, at least
    assert claimed <= claims


def _commands_everywhere() -> list[list[str]]:
    commands = [_command(c) for _, _, c in _containers()]
    commands += [_command(s) for s in _compose_dealnode_services().values()]
    return commands


@pytest.mark.parametrize("command", _commands_everywhere(), ids=" ".join)
def test_every_command_is_a_real_dealnode_command_with_real_options(command: list[str]) -> None:
    assert command[0] == "dealnode"
    result = CliRunner().invoke(app, [*command[1:], "--help"])
    assert result.exit_code == 0, result.output


def test_rescore_cronjob_runs_the_rescore_command_once_at_a_time() -> None:
    text = (DEPLOY / "rescore-cronjob.yaml").read_text()
    assert "kind: CronJob" in text
    assert '["dealnode", "rescore"' in text
    assert "concurrencyPolicy: Forbid" in text
    assert "runAsNonRoot: true" in text


def test_sharded_cronjob_gives_each_pod_its_index_and_one_run_name() -> None:
    text = (DEPLOY / "rescore-sharded-cronjob.yaml").read_text()
    completions = re.search(r"completions: (\d+)", text)
    shard = re.search(r"\$\(JOB_COMPLETION_INDEX\)/(\d+)", text)
    assert completions is not None
    assert shard is not None
    assert completions[1] == shard[1]  # as many pods as shards
    assert "completionMode: Indexed" in text
    assert "$(JOB_NAME)" in text
    assert "batch.kubernetes.io/job-name" in text
