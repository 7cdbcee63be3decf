"""Shared fixtures. Integration tests run on a real Postgres: the embedded server (in databases
of their own, never the demo's) or, when SVW_TEST_WAREHOUSE_URL is set, that server."""

from __future__ import annotations

import os

os.environ.pop("SVW_WAREHOUSE_URL", None)
if os.environ.get("SVW_TEST_WAREHOUSE_URL"):
    os.environ["SVW_WAREHOUSE_URL"] = os.environ["SVW_TEST_WAREHOUSE_URL"]
# Tests use databases of their own, recreated empty each session (SVW_TEST_DB / SVW_TEST_AIRFLOW_DB
# name them), whatever SVW_EMBEDDED_DB says: a developer's own database is never dropped.
os.environ["SVW_EMBEDDED_DB"] = os.environ.get("SVW_TEST_DB", "warehouse_test")
os.environ["SVW_AIRFLOW_DB"] = os.environ.get("SVW_TEST_AIRFLOW_DB", "airflow_test")
os.environ.setdefault("SVW_SIMULATOR_PORT", "18765")
# Airflow's retries a second or so apart, not minutes: a DAG run against a failing source ends fast.
os.environ.setdefault("SVW_TASK_RETRY_DELAY", "1")

import subprocess  # after the variables above: social_value reads them on import
import sys
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest

from social_value import runtime

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples"


def _fresh_test_databases() -> None:
    """Each test session starts from empty databases of its own, so no test depends on what an
    earlier session (or an older simulator) left behind. The demo's databases are never touched."""
    from social_value import embedded_postgres, settings

    secrets = runtime.ensure_embedded_server()
    names = [settings.EMBEDDED_DB, settings.AIRFLOW_DB]
    assert "warehouse" not in names and "airflow" not in names, "tests never use the demo's databases"
    admin = embedded_postgres.url(secrets["SVW_OWNER_PASSWORD"], database="postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        for name in names:
            conn.execute(f'drop database if exists "{name}" with (force)')
            conn.execute(f'create database "{name}"')


@pytest.fixture(scope="session")
def env() -> dict[str, str]:
    """The full runtime environment (starts the embedded Postgres when no URL is configured), with
    the warehouse set up (schemas, roles, key) as `make demo` and the build DAG do."""
    from social_value.warehouse_setup import role_passwords, setup

    if not os.environ.get("SVW_WAREHOUSE_URL"):
        _fresh_test_databases()
    runtime.apply_env()
    setup(os.environ["SVW_WAREHOUSE_URL"], os.environ["SVW_PSEUDONYM_KEY"], role_passwords())
    return dict(os.environ)


@pytest.fixture(scope="session")
def warehouse_url(env) -> str:
    return env["SVW_WAREHOUSE_URL"]


@pytest.fixture
def conn(warehouse_url) -> Iterator[psycopg.Connection]:
    with psycopg.connect(warehouse_url) as connection:
        yield connection


@pytest.fixture
def make_schema(conn) -> Iterator:
    """`make_schema()` creates a schema of the test's own; all are dropped afterwards."""
    names = []

    def create() -> str:
        name = f"t_{uuid.uuid4().hex[:10]}"
        conn.execute(f"create schema {name}")
        conn.commit()
        names.append(name)
        return name

    yield create
    conn.rollback()
    for name in names:
        conn.execute(f"drop schema {name} cascade")
    conn.commit()


@pytest.fixture
def scratch_schema(make_schema) -> str:
    return make_schema()


@pytest.fixture
def serve_simulator(env):
    """Start simulators over real HTTP on free ports: `serve_simulator(scale, faults="",
    cache_dir=None)` returns (base_url, token); every server started is stopped after the test."""
    from social_value.simulator import server
    from social_value.simulator.api import Faults

    servers = []

    def start(scale, faults: str = "", cache_dir: Path | None = None) -> tuple[str, str]:
        token = "test-token-" + uuid.uuid4().hex
        httpd = server.serve(0, token, scale, Faults.parse(faults), cache_dir)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
        return f"http://127.0.0.1:{httpd.server_address[1]}", token

    yield start
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def simulator(serve_simulator):
    """The simulator at a small scale; yields (base_url, token)."""
    from social_value.simulator import organisation

    return serve_simulator(organisation.Scale(employees=30, months=3))


ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, timeout: int = 900, **kwargs) -> subprocess.CompletedProcess:
    """`python -m social_value ...` in the test environment; fails the test on a non-zero exit."""
    result = subprocess.run([sys.executable, "-m", "social_value", *args], cwd=ROOT, env=os.environ,
                            capture_output=True, text=True, timeout=timeout, **kwargs)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def metric_values(conn) -> list[tuple]:
    return conn.execute("select * from marts.metric_values order by 1, 2, 3, 4, 5").fetchall()


@pytest.fixture(scope="session")
def demo(env, warehouse_url):
    """`make demo`'s job run twice for real (Airflow, dbt, GX); yields both outputs and the marts
    after the first run. Shared by every test that needs a built warehouse."""
    first = run_cli("demo").stdout
    with psycopg.connect(warehouse_url) as conn:
        after_first = metric_values(conn), raw_fingerprints(conn)
    second = run_cli("demo").stdout
    with psycopg.connect(warehouse_url) as conn:
        after_second = metric_values(conn), raw_fingerprints(conn)
    return first, second, after_first, after_second


def raw_fingerprints(conn) -> dict[str, tuple[int, str]]:
    """Row count and an md5 over every row (load ids and load times included) of each raw table."""
    tables = conn.execute("select table_schema || '.' || table_name from information_schema.tables "
                          "where table_schema like 'raw\\_%%' and table_schema <> 'raw_meta' "
                          "and table_type = 'BASE TABLE' order by 1").fetchall()
    digest = "select count(*), md5(coalesce(string_agg(t::text, '|' order by t::text), '')) from {} as t"
    return {table: conn.execute(digest.format(table)).fetchone() for (table,) in tables}


def serve_http(handler_class) -> tuple[ThreadingHTTPServer, str]:
    """A handler class served on a free port in a daemon thread: (server, base URL)."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}"


@pytest.fixture
def recorded() -> Iterator:
    """Serve recorded responses over real HTTP: route(path, query) → (status, JSON text)."""
    servers = []

    def start(route) -> str:
        class Recorded(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                status, body = route(url.path, {k: v[0] for k, v in parse_qs(url.query).items()})
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        httpd, url = serve_http(Recorded)
        servers.append(httpd)
        return url

    yield start
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def forget_salesforce_marks(conn):
    """Deletes the Salesforce watermarks a test left for its own landing schemas (t_*)."""
    yield
    conn.rollback()
    conn.execute("delete from raw_meta.watermarks where source = 'salesforce' and stream like 't\\_%'")
    conn.commit()
