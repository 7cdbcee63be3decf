"""Downloads leave nothing behind: a body cut off midway (retried, then given up) or a body whose
check fails leaves no temporary file and no open file descriptor; a whole body is one file the
caller owns. Over real
HTTP, from a server that announces more bytes than it sends.

What outlasts the connector's attempts is classed for Airflow: throttling, 5xx, timeouts and cut
bodies fail the task as retryable; a 401 fails it at once, without retries."""

from __future__ import annotations

import os
import tempfile
import time
from http.server import BaseHTTPRequestHandler

import pytest
from conftest import serve_http

from social_value.connectors import http
from social_value.task_errors import fail_fast_on_permanent_errors


class _CutShort(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        body = b'{"records": [' + b'{"n": 1},' * 1000
        self.send_response(200)
        self.send_header("Content-Length", str(len(body) * 2))  # more than is sent
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
        self.connection.shutdown(2)


class _Whole(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        body = b'{"done": true}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def own_tempdir(tmp_path, monkeypatch):
    """tempfile writes into a folder of this test's, so what a download leaves is seen."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture
def served():
    """Serve a handler class; the base URL. Stopped after the test."""
    servers = []

    def start(handler) -> str:
        server, base = serve_http(handler)
        servers.append(server)
        return base

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _descriptors_into(folder) -> list[str]:
    """This process's open descriptors on files in folder. Counting all descriptors would race
    the server's threads, whose sockets open and close on their own time."""
    targets = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            targets.append(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:  # closed between the listing and the read
            continue
    return [t for t in targets if t.startswith(str(folder))]


def test_a_body_cut_short_leaves_no_file_and_no_descriptor(own_tempdir, served):
    base = served(_CutShort)
    with pytest.raises(http.TransientSourceError, match="failed after 2 attempts"):
        http.download(base + "/page", "t", attempts=2, backoff=0.01)
    assert list(own_tempdir.iterdir()) == []
    assert _descriptors_into(own_tempdir) == []


def test_a_whole_body_is_one_file_the_caller_owns(own_tempdir, served):
    base = served(_Whole)
    path = http.download(base + "/page", "t")
    assert list(own_tempdir.iterdir()) == [path]
    assert path.read_bytes() == b'{"done": true}'
    assert _descriptors_into(own_tempdir) == [], "the file's descriptor is closed"
    path.unlink()


def test_a_check_that_fails_otherwise_leaves_no_file(own_tempdir, served):
    def broken(path):
        raise RuntimeError("the check itself failed")

    with pytest.raises(RuntimeError, match="check itself"):
        http.download(served(_Whole) + "/page", "t", validate=broken)
    assert list(own_tempdir.iterdir()) == []


def _answering(status: int, headers: dict[str, str] | None = None, stall: float = 0.0):
    """A handler class answering every GET with `status` (after `stall` seconds); it counts requests."""

    class Answering(BaseHTTPRequestHandler):
        requests = 0

        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            type(self).requests += 1
            time.sleep(stall)
            body = b'{"error": "as configured"}'
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Answering


@pytest.mark.parametrize(("status", "headers"), [
    (429, {"Retry-After": "0"}), (500, {}), (502, {}), (503, {"Retry-After": "0"}), (504, {})])
def test_throttling_and_server_errors_that_outlast_the_attempts_are_retryable(served, status, headers):
    handler = _answering(status, headers)
    with (pytest.raises(http.TransientSourceError, match=f"failed after 3 attempts: HTTP {status}") as error,
          fail_fast_on_permanent_errors()):
        http.download(served(handler) + "/report", "t", attempts=3, backoff=0.01)
    assert not isinstance(error.value, http.SourceError), "a SourceError would fail without retries"
    assert handler.requests == 3


def test_a_timeout_that_outlasts_the_attempts_is_retryable(served):
    handler = _answering(200, stall=0.5)
    with (pytest.raises(http.TransientSourceError, match="failed after 2 attempts"),
          fail_fast_on_permanent_errors()):
        http.download(served(handler) + "/slow", "t", attempts=2, backoff=0.01, timeout=0.1)


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_login_fails_at_once_without_airflow_retries(served, status):
    from airflow.sdk.exceptions import AirflowFailException

    handler = _answering(status)
    with (pytest.raises(AirflowFailException, match=f"HTTP {status}.*not retried") as error,
          fail_fast_on_permanent_errors()):
        http.download(served(handler) + "/report", "t", attempts=3, backoff=0.01)
    assert isinstance(error.value.__cause__, http.SourceError) and error.value.__cause__.status == status
    assert handler.requests == 1, "the connector does not retry a refused login either"
