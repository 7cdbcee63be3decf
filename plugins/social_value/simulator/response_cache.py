"""An on-disk cache of the simulator's answers, so a benchmark can time the connectors against a
source that answers at once rather than against the simulator generating its data.

Off unless the server is given a directory (`--cache-dir` or SVW_SIMULATOR_CACHE_DIR). Then every
200 answer to an authorised GET is written to a file, and a later identical request is answered
from that file, streamed to the socket, without calling the route's handler. The server applies
its transport faults before the lookup (429, 5xx, timeout) and to what is served (truncate), so a
cache changes how fast the simulator answers, never what.

The key is everything an answer depends on: the scale (employees, months, seed, end), the format
fault switches, the method, path and query exactly as sent, the Host header (answers carry URLs:
Graph's download location, SurveyMonkey's hrefs), the headers a route reads
(Sforce-Query-Options), the SVW_SIM_* settings the routes read per request, and a digest of the
simulator's own source, so a changed generator never serves old bytes. Entries live in a folder
per scale as well (`<employees>x<months>-seed<seed>/`). Only GET is cached: no route reads a
request body.

What this relies on: every cached route answers the same bytes for the same key. Generation is
seeded per scale; the Viva Engage export's members carry zipfile's fixed 1980-01-01 stamp, not the
clock; Salesforce's locators and SurveyMonkey's page links are functions of the query. The one
state a route keeps is Salesforce's cursor table: a cached `nextRecordsUrl` page is answered
without its locator being open, so there a cursor never expires (SVW_SIM_SF_LOCATOR_TTL is in the
key, so a test that expires cursors never meets entries made under another TTL). The other side
of it: a query's first page served from the cache opens no locator, so in a fresh server process
a later page missing from the cache answers 400 INVALID_QUERY_LOCATOR, as an expired cursor does
(a cache is meant to be filled whole, as the benchmark's warm-up does). Graph's 302 to
the download URL is not a 200 and is generated each time (a string: nothing to save).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from social_value.simulator.api import FORMAT_FAULTS, Faults, Response
from social_value.simulator.organisation import Scale

CACHE_DIR_VARIABLE = "SVW_SIMULATOR_CACHE_DIR"
# Request headers some route reads (salesforce.query: the page size).
VARYING_HEADERS = ("Sforce-Query-Options",)
# Settings routes read from the environment on each request (salesforce.py).
VARYING_SETTINGS = ("SVW_SIM_SF_PAGE_SIZE", "SVW_SIM_CRM_AS_OF", "SVW_SIM_SF_LOCATOR_TTL")


def _source_digest() -> str:
    """sha256 over the simulator package's modules: a cache never outlives the code that filled it."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


SOURCE_DIGEST = _source_digest()


@dataclass
class CachedResponse:
    """A stored answer: status and headers, and its body open at `offset` in `file`."""

    status: int
    content_type: str
    headers: dict[str, str]
    file: BinaryIO
    offset: int
    length: int

    def close(self) -> None:
        self.file.close()


class ResponseCache:
    def __init__(self, directory: Path | str, scale: Scale, faults: Faults) -> None:
        self.directory = Path(directory) / f"{scale.employees}x{scale.months}-seed{scale.seed}"
        self.directory.mkdir(parents=True, exist_ok=True)
        self._fixed = {"simulator": SOURCE_DIGEST, "scale": repr(scale),
                       "format_faults": sorted(faults.enabled & FORMAT_FAULTS)}

    def key(self, method: str, target: str, headers: Mapping[str, str]) -> str | None:
        """The entry's name for a request (`target`: path and query as sent), None if not cacheable."""
        if method != "GET":
            return None
        parts = {**self._fixed, "method": method, "target": target, "host": headers.get("Host", ""),
                 "headers": {name: headers.get(name) for name in VARYING_HEADERS},
                 "settings": {name: os.environ.get(name) for name in VARYING_SETTINGS}}
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.directory / f"{key}.response"

    def get(self, key: str) -> CachedResponse | None:
        """The stored answer, its file open (the caller closes it), or None."""
        try:
            file = self._path(key).open("rb")
        except FileNotFoundError:
            return None
        meta = json.loads(file.readline())
        offset = file.tell()
        return CachedResponse(meta["status"], meta["content_type"], meta["headers"], file, offset,
                              os.fstat(file.fileno()).st_size - offset)

    def put(self, key: str, response: Response) -> None:
        """Store a 200 answer: one file, a JSON line of status and headers, then the body. Written
        beside and renamed into place, so a concurrent reader sees a whole entry or none."""
        if response.status != 200:
            return
        meta = {"status": response.status, "content_type": response.content_type,
                "headers": response.headers}
        handle, temporary = tempfile.mkstemp(dir=self.directory, suffix=".partial")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(json.dumps(meta).encode() + b"\n")
                out.write(response.body)
            os.replace(temporary, self._path(key))
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


def entries(directory: Path | str) -> tuple[int, int]:
    """(entries, bytes) under a cache directory, every scale's folder together."""
    sizes = [path.stat().st_size for path in Path(directory).glob("*/*.response")]
    return len(sizes), sum(sizes)
