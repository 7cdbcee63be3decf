"""Shared fixtures. Integration tests run on a real Postgres: the embedded server (in databases
of their own, never the demo's) or, when SVW_TEST_WAREHOUSE_URL is set, that server."""

from __future__ import annotations

import os

os.environ.pop("SVW_WAREHOUSE_URL", None)
if os.environ.get("SVW_TEST_WAREHOUSE_URL"):
    os.environ["SVW_WAREHOUSE_URL"] = os.environ["SVW_TEST_WAREHOUSE_URL"]
os.environ.setdefault("SVW_EMBEDDED_DB", "warehouse_test")
os.environ.setdefault("SVW_AIRFLOW_DB", "airflow_test")
os.environ.setdefault("SVW_SIMULATOR_PORT", "18765")

import threading  # after the variables above: social_value reads them on import
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from social_value import runtime

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples"


@pytest.fixture(scope="session")
def env() -> dict[str, str]:
    """The full runtime environment (starts the embedded Postgres when no URL is configured)."""
    runtime.apply_env()
    return dict(os.environ)


@pytest.fixture(scope="session")
def warehouse_url(env) -> str:
    return env["SVW_WAREHOUSE_URL"]


@pytest.fixture
def conn(warehouse_url) -> Iterator[psycopg.Connection]:
    with psycopg.connect(warehouse_url) as connection:
        yield connection


@pytest.fixture
def scratch_schema(conn) -> Iterator[str]:
    """A schema of its own for one test, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:10]}"
    conn.execute(f"create schema {name}")
    conn.commit()
    yield name
    conn.rollback()
    conn.execute(f"drop schema {name} cascade")
    conn.commit()


@pytest.fixture
def simulator(env):
    """The source simulator on a free port over real HTTP; yields (base_url, token)."""
    from social_value.simulator import organisation, server

    token = "test-token-" + uuid.uuid4().hex
    httpd = server.serve(0, token, organisation.Scale(employees=30, months=3))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", token
    httpd.shutdown()
    httpd.server_close()
