"""docker-compose.yml can't run here (no Docker engine): check what can be checked of it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
AIRFLOW_SERVICES = ["airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-worker",
                    "airflow-triggerer", "airflow-init"]
MOUNTED = ["dags", "plugins", "dbt", "expectations"]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_has_the_official_topology(compose):
    services = compose["services"]
    assert set(services) == {*AIRFLOW_SERVICES, "postgres", "redis", "warehouse"}
    commands = {name: services[name].get("command") for name in AIRFLOW_SERVICES[:-1]}
    assert commands == {"airflow-apiserver": "api-server", "airflow-scheduler": "scheduler",
                        "airflow-dag-processor": "dag-processor", "airflow-worker": "celery worker",
                        "airflow-triggerer": "triggerer"}
    for name in ("postgres", "warehouse", "redis"):
        assert services[name].get("healthcheck"), f"{name} has a healthcheck"
    assert services["postgres"]["image"] != services["warehouse"].get("build")
    assert services["warehouse"]["volumes"] != services["postgres"]["volumes"], "separate data"


@pytest.mark.parametrize("service", AIRFLOW_SERVICES)
def test_airflow_services_build_the_project_image_and_mount_the_project(compose, service):
    spec = compose["services"][service]
    assert spec["build"] == "."
    mounts = dict(volume.rsplit(":", 1) for volume in spec["volumes"])  # host path may hold ':-'
    for folder in MOUNTED:
        assert mounts.get(f"${{SVW_PROJECT_DIR:-.}}/{folder}") == f"/opt/airflow/{folder}"
    env = spec["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://")
    assert "@postgres/airflow" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert "@warehouse:5432/warehouse" in env["AIRFLOW_CONN_SVW_WAREHOUSE"]
    for role in ("loader", "transformer"):
        assert env[f"AIRFLOW_CONN_SVW_{role.upper()}"].startswith(f"postgresql://{role}:")
    for secret in ("SVW_PSEUDONYM_KEY", "SVW_LOADER_PASSWORD", "SVW_TRANSFORMER_PASSWORD",
                   "SVW_BI_READER_PASSWORD", "SVW_AUDITOR_PASSWORD"):
        assert re.fullmatch(r"\$\{" + secret + r":\?.+\}", env[secret]), f"{secret} must be required"
    deps = spec["depends_on"]
    assert {"postgres", "redis", "warehouse"} <= set(deps)


def test_no_secret_is_written_into_compose():
    text = (ROOT / "docker-compose.yml").read_text()
    secrets = [m for m in re.finditer(r"\$\{([A-Z_]*(PASSWORD|SECRET|KEY)[A-Z_]*)(:?[-?])?([^}]*)\}", text)]
    assert secrets
    for match in secrets:
        assert match.group(3) in (":?", None), f"{match.group(0)}: a secret has no default"
    for match in re.finditer(r"^\s+[A-Z_]*(PASSWORD|SECRET)[A-Z_]*:\s*(\S+)", text, re.M):
        assert match.group(2).startswith("${"), match.group(0)


def test_dockerfile_extends_official_airflow_with_the_lock_file():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM apache/airflow:3\.3\.\d+-python3\.11$", dockerfile, re.M)
    assert "requirements.lock" in dockerfile
    lock = (ROOT / "requirements.lock").read_text()
    assert re.search(r"^apache-airflow==3\.3\.\d+$", lock, re.M)
    version = re.search(r"^FROM apache/airflow:(3\.3\.\d+)", dockerfile, re.M).group(1)
    assert f"apache-airflow=={version}\n" in lock, "image and lock agree on the Airflow version"


def test_env_example_names_every_variable_compose_requires():
    text = (ROOT / "docker-compose.yml").read_text()
    required = set(re.findall(r"\$\{([A-Z_]+):\?", text))
    example = (ROOT / ".env.example").read_text()
    assert required <= set(re.findall(r"^([A-Z_]+)=", example, re.M))
