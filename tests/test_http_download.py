"""Downloads leave nothing behind: a body cut off midway (retried, then given up) or a body whose
check fails leaves no temporary file and no open file descriptor; a whole body is one file the
caller owns. Over real
HTTP, from a server that announces more bytes than it sends."""

from __future__ import annotations

import os
import tempfile
from http.server import BaseHTTPRequestHandler

import pytest
from conftest import serve_http

from social_value.connectors import http


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
    with pytest.raises(http.SourceError, match="failed after 2 attempts"):
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
