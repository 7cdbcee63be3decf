"""HTTP with the retry rules every source needs: honour 429 Retry-After, back off on 5xx and
timeouts, stream bodies to disk, and never log the token."""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import requests

log = logging.getLogger(__name__)

RETRY_STATUS = {429, 500, 502, 503, 504}


def default_timeout() -> float:
    """Seconds to wait for a response (connect and each read); SVW_HTTP_TIMEOUT overrides."""
    return float(os.environ.get("SVW_HTTP_TIMEOUT", "60"))


class SourceError(RuntimeError):
    """The source answered in a way retrying will not fix (401/403/404, a bad body). `status` is
    the HTTP status when the source refused the request (callers may skip a refused item, e.g. a
    Graph day outside its retention)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class TransientSourceError(RuntimeError):
    """429, 5xx, timeouts, dropped connections or cut bodies outlasted the connector's own attempts.

    Not a SourceError: it is worth the task's retries (Airflow's, minutes apart), which outwait a
    throttled or restarting source far longer than the connector's seconds of backoff can."""


def download(url: str, token: str, params: dict | list | None = None, *, attempts: int = 5,
             timeout: float | None = None, backoff: float = 1.0, max_wait: float = 120.0,
             validate: Callable[[Path], None] | None = None) -> Path:
    """GET `url` into a temporary file and return its path; the caller deletes it.

    `validate` checks the finished file (e.g. that a ZIP is whole); a ValueError from it counts as
    a truncated body and is retried like a 5xx.
    """
    headers = {"Authorization": f"Bearer {token}"}
    timeout = timeout or default_timeout()
    for attempt in range(1, attempts + 1):
        wait = backoff * 2 ** (attempt - 1)
        try:
            with requests.get(url, params=params, headers=headers, stream=True, timeout=timeout) as resp:
                if resp.status_code in RETRY_STATUS:
                    wait = _retry_after(resp, wait)
                    raise _RetryableError(f"HTTP {resp.status_code}")
                if resp.status_code >= 400:
                    raise SourceError(f"GET {resp.url.split('?')[0]} answered HTTP {resp.status_code}: "
                                      f"{resp.text[:300]}", resp.status_code)
                target = _body_to_file(resp)
            if validate:
                try:
                    validate(target)
                except BaseException as bad:  # no file left behind; only a truncation is retried
                    target.unlink(missing_ok=True)
                    if isinstance(bad, ValueError):
                        raise _RetryableError(f"incomplete body: {bad}") from bad
                    raise
            return target
        except (_RetryableError, requests.ConnectionError, requests.Timeout,
                requests.exceptions.ChunkedEncodingError) as problem:
            if attempt == attempts:
                raise TransientSourceError(f"GET {url} failed after {attempts} attempts: {problem}"
                                           ) from problem
            wait = min(wait, max_wait)
            log.warning("GET %s: %s; retry %d/%d in %.1fs", url, problem, attempt, attempts - 1, wait)
            time.sleep(wait)
    raise AssertionError("unreachable")


def get_json(url: str, token: str, params: dict | list | None = None, **kwargs) -> object:
    """GET a JSON document with download()'s retries; a body that is not whole JSON is retried."""

    def whole_json(path: Path) -> None:
        try:
            with path.open("rb") as body:
                json.load(body)
        except ValueError as bad:
            raise ValueError(f"not a complete JSON document ({bad})") from bad

    path = download(url, token, params, validate=whole_json, **kwargs)
    try:
        with path.open("rb") as body:
            return json.load(body)
    finally:
        path.unlink(missing_ok=True)


class _RetryableError(Exception):
    pass


def _body_to_file(resp: requests.Response) -> Path:
    """Stream the body into a new temporary file; a body cut off midway leaves no file behind."""
    handle, name = tempfile.mkstemp(prefix="svw-", suffix=".download")
    try:
        with os.fdopen(handle, "wb") as out:
            for chunk in resp.iter_content(chunk_size=1 << 16):
                out.write(chunk)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)


def _retry_after(resp: requests.Response, default: float) -> float:
    value = resp.headers.get("Retry-After", "")
    return float(value) if value.replace(".", "", 1).isdigit() else default
