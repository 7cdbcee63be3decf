"""Download an API's next page while Postgres takes the current one.

Paged APIs (Salesforce query results, SurveyMonkey bulk responses) name the next page inside the
page. The fast path lets Postgres read that link once the page is COPYed, which leaves the HTTP
request waiting on the database and the database waiting on the request. Here the link is guessed
from the raw bytes (the page's first or last few KiB, where APIs put their paging fields) and
fetched in a thread; the link Postgres reads still decides which page comes next, so a wrong or
missing guess only costs the prefetched request, never a wrong page. At most one request is in
flight at a time, as without prefetching.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

log = logging.getLogger(__name__)

WINDOW = 4096
_DECODER = json.JSONDecoder()

Request = tuple[str, tuple[tuple[str, str], ...] | None]


def guess_link(file: Path, key: str) -> str | None:
    """The string value of the last `"key": "…"` in the file's first or last WINDOW bytes, or None."""
    pattern = re.compile(rb'"' + re.escape(key.encode()) + rb'"\s*:\s*(?=")')
    with file.open("rb") as body:
        head = body.read(WINDOW)
        size = file.stat().st_size
        body.seek(max(0, size - WINDOW))
        tail = body.read()
    for window in (tail, head):
        found = list(pattern.finditer(window))
        if not found:
            continue
        try:
            value, _ = _DECODER.raw_decode(window[found[-1].end():].decode("utf-8", "replace"))
        except ValueError:
            return None
        return value if isinstance(value, str) and value else None
    return None


class PagePrefetch:
    """`get(url, params)` returns a page's downloaded file, from the prefetch when it guessed right.

    `download(url, params) -> Path` fetches one page to a file the caller deletes; `guess(file)` names
    the next page's URL (requested without params), or None. `close()` waits for and deletes a
    prefetched page nobody asked for.
    """

    def __init__(self, download: Callable[[str, dict | None], Path],
                 guess: Callable[[Path], str | None]) -> None:
        self._download, self._guess = download, guess
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="page-prefetch")
        self._ahead: tuple[Request, Future[Path]] | None = None
        self.hits = self.misses = 0

    def get(self, url: str, params: dict | None) -> Path:
        request = _request(url, params)
        if self._ahead is not None and self._ahead[0] == request:
            file = self._ahead[1].result()  # its error is the page's error, as fetched here
            self._ahead = None
            self.hits += 1
        else:
            if self._ahead is not None:
                self.misses += 1
            self._discard()
            file = self._download(url, params)
        following = self._guess(file)
        if following:
            self._ahead = (_request(following, None), self._pool.submit(self._download, following, None))
        return file

    def close(self) -> None:
        self._discard()
        self._pool.shutdown(wait=True)
        if self.hits or self.misses:
            log.debug("page prefetch: %d pages from the prefetch, %d guesses wrong", self.hits, self.misses)

    def _discard(self) -> None:
        if self._ahead is None:
            return
        future, self._ahead = self._ahead[1], None
        try:
            future.result().unlink(missing_ok=True)
        except Exception as error:  # a page nobody asked for: its error does not matter
            log.debug("a prefetched page was not needed and failed: %s", error)

    def __enter__(self) -> PagePrefetch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _request(url: str, params: dict | None) -> Request:
    return url, tuple(sorted((str(k), str(v)) for k, v in params.items())) if params else None
