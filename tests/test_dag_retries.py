"""Through Airflow itself (`airflow dags test`): a source still failing with 503 after the
connector's attempts fails its task as retryable, so Airflow's retries run, and one answering
401 fails at once without them. With the tests' one-second retry delay this takes seconds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import psycopg
import pytest
from conftest import ROOT, serve_http


class _Failing(BaseHTTPRequestHandler):
    """Graph's reports answer 503 (retry at once); the Viva Engage export refuses the token."""

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        status = 503 if "getYammerActivityUserDetail" in self.path else 401
        body = json.dumps({"error": f"HTTP {status} as configured"}).encode()
        self.send_response(status)
        self.send_header("Retry-After", "0")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def failing_sources():
    server, base = serve_http(_Failing)
    yield base
    server.shutdown()
    server.server_close()


def _airflow(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([str(Path(sys.executable).with_name("airflow")), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)


def test_transient_failures_are_retried_and_a_refused_token_is_not(env, failing_sources, tmp_path):
    connection = {"conn_type": "http", "host": failing_sources, "password": "t", "extra": {"history_days": 1}}
    run_env = {**os.environ, "SVW_DROP_DIR": str(tmp_path),  # no drops: those tasks succeed
               "AIRFLOW_CONN_MSGRAPH": json.dumps(connection),
               "AIRFLOW_CONN_VIVA_ENGAGE": json.dumps(connection)}
    migrated = _airflow("db", "migrate", env=run_env)
    assert migrated.returncode == 0, migrated.stdout[-2000:] + migrated.stderr[-2000:]

    started = time.monotonic()
    result = _airflow("dags", "test", "ingest_intranet", env=run_env)
    elapsed = time.monotonic() - started

    with psycopg.connect(os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].replace("+psycopg2", "")) as conn:
        tries = dict(((task, (state, number)) for task, state, number in conn.execute(
            "select task_id, state, try_number from task_instance where run_id = (select run_id from dag_run "
            "where dag_id = 'ingest_intranet' order by id desc limit 1) and dag_id = 'ingest_intranet'")))
    output = result.stdout + result.stderr
    log = output[-3000:]
    assert tries["msgraph_activity"] == ("failed", 4), log  # the first try and Airflow's 3 retries
    assert tries["viva_engage_export"] == ("failed", 1), log  # a 401: no retries
    assert tries["slack_export"][0] == tries["activity_events"][0] == "success", log
    assert "TransientSourceError: GET" in output and "HTTP 401" in output and "not retried" in output
    assert elapsed < 180, f"airflow dags test took {elapsed:.0f}s: retries should wait seconds in tests"
