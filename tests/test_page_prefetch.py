"""The next API page downloads while Postgres takes the current one; Postgres's reading decides.

Over real HTTP (the `recorded` fixture) and, for the ingest, a real Postgres: a right guess is used
and no page is asked for twice, a wrong guess is thrown away (its file deleted) and the right page
fetched, and the error of a prefetched page is the error of that page.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from social_value.connectors import page_prefetch
from social_value.connectors import salesforce as sf
from social_value.connectors.http import SourceError, download
from social_value.ingest import crm

UNTIL = datetime(2026, 11, 1, tzinfo=UTC)


def _user(n: int) -> dict:
    return {"attributes": {"type": "User"}, "Id": f"005{n:04d}", "Email": f"u{n}@example.org",
            "SystemModstamp": f"2026-10-{1 + n % 28:02d}T10:00:00.000+0000"}


def _salesforce_pages(served: list[str], pages: int = 3, per_page: int = 4, fail_page: int | None = None):
    """A route answering User queries in `pages` pages, with Salesforce's own key order:
    nextRecordsUrl before records (the simulator writes it after them)."""
    def route(path, query):
        if "q" in query:
            if " FROM User " not in query["q"]:
                return 200, json.dumps({"totalSize": 0, "done": True, "records": []})
            page = 1
        else:
            page = int(path.rsplit("-", 1)[1])
        served.append(f"User page {page}")
        if page == fail_page:
            return 404, json.dumps([{"errorCode": "INVALID_QUERY_LOCATOR", "message": "gone"}])
        body = {"totalSize": pages * per_page, "done": page == pages}
        if page < pages:
            body["nextRecordsUrl"] = f"/services/data/v59.0/query/01gLOCATOR-{page + 1}"
        body["records"] = [_user(n) for n in range((page - 1) * per_page, page * per_page)]
        return 200, json.dumps(body)
    return route


def test_salesforce_pages_come_from_the_prefetch_once_each(warehouse_url, conn, make_schema, recorded,
                                                           forget_salesforce_marks):
    served: list[str] = []
    source = sf.SalesforceSource(recorded(_salesforce_pages(served)), "t")
    schema = make_schema()
    summary = crm.ingest_salesforce(warehouse_url, source, UNTIL, schema=schema)
    assert served == ["User page 1", "User page 2", "User page 3"], "each page asked for once"
    assert summary["tables"]["users"]["changed"] == 12
    ids = [i for (i,) in conn.execute(f'select "Id" from {schema}.users order by "Id"')]
    assert ids == [f"005{n:04d}" for n in range(12)]


def test_error_of_a_prefetched_page_is_that_pages_error(warehouse_url, make_schema, recorded,
                                                        forget_salesforce_marks):
    served: list[str] = []
    source = sf.SalesforceSource(recorded(_salesforce_pages(served, fail_page=2)), "t")
    with pytest.raises(SourceError, match=r"INVALID_QUERY_LOCATOR|404"):
        crm.ingest_salesforce(warehouse_url, source, UNTIL, schema=make_schema())
    assert "User page 3" not in served


def test_wrong_guess_is_discarded_and_the_named_page_fetched(recorded, tmp_path):
    served: list[str] = []

    def route(path, query):
        served.append(path)
        return 200, json.dumps({"page": path, "next": "/decoy" if path == "/one" else None})

    base = recorded(route)
    files: list[Path] = []

    def fetch(url: str, params: dict | None) -> Path:
        files.append(download(base + url, "t", params))
        return files[-1]

    with page_prefetch.PagePrefetch(fetch, lambda file: page_prefetch.guess_link(file, "next")) as pages:
        first = pages.get("/one", None)
        assert json.loads(first.read_text())["page"] == "/one"
        second = pages.get("/two", None)  # what the page really says comes next (not the guess)
        assert json.loads(second.read_text())["page"] == "/two"
        assert (pages.hits, pages.misses) == (0, 1)
    assert served == ["/one", "/decoy", "/two"]
    decoy = files[1]
    assert not decoy.exists(), "the page nobody asked for is deleted"
    for page in (first, second):  # the caller's to delete
        page.unlink()


def test_at_most_one_request_in_flight(recorded):
    flying, most, lock = [0], [0], threading.Lock()

    def route(path, query):
        with lock:
            flying[0] += 1
            most[0] = max(most[0], flying[0])
        try:
            n = int(path.strip("/"))
            return 200, json.dumps({"n": n, "next": f"/{n + 1}" if n < 5 else None})
        finally:
            with lock:
                flying[0] -= 1

    base = recorded(route)
    with page_prefetch.PagePrefetch(lambda url, params: download(base + url, "t", params),
                                    lambda file: page_prefetch.guess_link(file, "next")) as pages:
        url, seen = "/1", []
        while url:
            page = pages.get(url, None)
            body = json.loads(page.read_text())
            page.unlink()  # the caller's to delete
            seen.append(body["n"])
            url = body["next"]
        assert pages.hits == 4
    assert seen == [1, 2, 3, 4, 5] and most[0] == 1


@pytest.mark.parametrize(("body", "expected"), [
    (b'{"done": false, "nextRecordsUrl": "/q/01g-2000", "records": []}', "/q/01g-2000"),
    (b'{"records": [], "done": false, "nextRecordsUrl": "/q/01g-2000"}', "/q/01g-2000"),
    (b'{"done": true, "records": [{"Note": "\\"nextRecordsUrl\\": \\"/x\\""}]}', None),
    (b'{"done": true, "nextRecordsUrl": null, "records": []}', None),
    (b'{"records": [' + b'{"a": 1},' * 2000 + b'{"a": 1}], "done": true}', None),
])
def test_guess_link_reads_the_paging_field_only(tmp_path, body, expected):
    page = tmp_path / "page.json"
    page.write_bytes(body)
    assert page_prefetch.guess_link(page, "nextRecordsUrl") == expected
