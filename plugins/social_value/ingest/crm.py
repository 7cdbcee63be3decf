"""Ingest the CRM: land Salesforce users, accounts, opportunities, their history and delivery projects.

Each object is read with `queryAll` for SystemModstamp in (watermark − OVERLAP, until], so changes
and deletions (IsDeleted true) since the last load arrive; merging on Id makes the overlap and any
rerun harmless. All objects, the load's bookkeeping and every object's new watermark (the newest
SystemModstamp seen) commit in one transaction: a load that dies half-way leaves nothing behind.

Each query page reaches Postgres as bytes (a jsonb document) and SQL makes the object's rows; the
pages stay on disk until the object has landed, so an object Postgres or a check refuses is landed
row by row from the same pages, quarantining exactly what is wrong (see _land_object).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from psycopg import sql

from social_value import bulk_copy, bulk_json, erasure, loader
from social_value.connectors import page_prefetch, salesforce
from social_value.connectors.salesforce import SalesforceSource, SObject

log = logging.getLogger(__name__)

SOURCE = "salesforce"
SCHEMA = "raw_salesforce"
SALESFORCE_CONN_ID = "salesforce"
# SystemModstamp is set when a transaction starts, so a long one can commit rows older than the
# newest we saw; re-reading an hour costs little and merging makes it harmless.
OVERLAP = timedelta(hours=1)
HISTORY_START = datetime(2000, 1, 1, tzinfo=UTC)  # only for raw_meta.loads: the first load reads all


def raw_table(schema: str, obj: SObject) -> loader.RawTable:
    return loader.RawTable(schema, obj.table, obj.columns, key=("Id",), casts=salesforce.CASTS[obj.table])


def stream(schema: str, obj: SObject) -> str:
    """The watermark's stream: per target schema and object, so landing zones stay independent."""
    return f"{schema}.{obj.name}"


class _Stamps:
    """Passes records on while noting the newest SystemModstamp; sets aside records without one."""

    def __init__(self) -> None:
        self.newest: datetime | None = None
        self.rejected: list[tuple[str, str, dict]] = []

    def watch(self, rows):
        for origin, record in rows:
            stamp = salesforce.parse_datetime(record.get("SystemModstamp"))
            if stamp is None:
                self.rejected.append((origin, f"SystemModstamp {record.get('SystemModstamp')!r} is not a "
                                      "Salesforce datetime: the record cannot be placed in time", record))
                continue
            self.newest = stamp if self.newest is None else max(self.newest, stamp)
            yield origin, record


def _land_object(conn: psycopg.Connection, source: SalesforceSource, obj: SObject,
                 since: datetime | None, until: datetime, table: loader.RawTable, load_id: int,
                 erased: erasure.ErasedPeople) -> tuple[loader.BatchStats, datetime | None]:
    """One object's changes into its landing table: its pages parsed by Postgres, or, if Postgres
    or a check refuses them, row by row from the same downloaded pages. Returns the counts and the
    newest SystemModstamp read."""
    stats, stage = loader.BatchStats(), loader.Stage(conn, table, load_id, SOURCE)
    pages = _PageFiles(source, obj.soql(since, until))
    try:
        filled: list[tuple[int, datetime | None]] = []
        if bulk_json.land(conn, lambda: filled.append(_fill(conn, stage, obj, pages))):
            stats.read, newest = filled[0]
            people = ("Email", "Id", "salesforce") if obj.name == "User" else ()
            bulk_copy.finish(stage, stats, erased, obj.table, *people)
            return stats, newest
        log.info("load %s: %s lands row by row", load_id, obj.name)
        return stats, _copy_rows(conn, stage, obj, pages.replay(), erased, stats)
    finally:
        pages.delete()


class _PageFiles:
    """An object's query pages as downloaded files, kept until the object has landed, so pages
    Postgres refused are landed row by row from the same bytes (one page in memory at a time)."""

    def __init__(self, source: SalesforceSource, soql: str) -> None:
        self.source = source
        self.files: list[tuple[str, dict | None, Path]] = []
        self.pending: tuple[str, dict | None] | None = (salesforce.query_path(source), {"q": soql})
        # The next page downloads while Postgres takes this one (Postgres's reading decides).
        self.prefetch = page_prefetch.PagePrefetch(
            lambda path, params: salesforce.fetch_page(source, path, params),
            lambda file: page_prefetch.guess_link(file, "nextRecordsUrl"))

    def fetch(self) -> tuple[str, Path] | None:
        """The next page's (URL path, file), or None after the last (see `follow`)."""
        if self.pending is None:
            return None
        path, params = self.pending
        self.pending = None
        self.files.append((path, params, self.prefetch.get(path, params)))
        return path, self.files[-1][2]

    def follow(self, path: str | None) -> None:
        """The next page of the one just fetched (None: it was the last)."""
        self.pending = (path, None) if path else None

    def replay(self) -> Iterator[tuple[str, list[dict]]]:
        """Every page as the row path reads it: the downloaded ones, then any not fetched yet."""
        self.prefetch.close()  # one request at a time: the row path asks for its own
        page = None
        for path, params, file in self.files:
            # A page Postgres refused for not being whole JSON is fetched again, with retries.
            page = salesforce.read_page(path, file) or salesforce.get_page(self.source, path, params)
            yield path, page["records"]
        rest = self.pending if page is None else (salesforce.next_path(page), None)
        if rest is not None and rest[0] is not None:
            yield from salesforce.follow_pages(self.source, *rest)

    def delete(self) -> None:
        self.prefetch.close()
        for *_, file in self.files:
            file.unlink(missing_ok=True)


def _fill(conn: psycopg.Connection, stage: loader.Stage, obj: SObject, pages: _PageFiles
          ) -> tuple[int, datetime | None]:
    """COPY each page as one document (Postgres tells the next page), expand the records into the
    stage in SQL; returns the records read and the newest SystemModstamp. Raises DeclinedError for
    what the row path must handle: a page that is not a query result, a record without a readable
    SystemModstamp."""
    docs = bulk_json.JsonDocs(conn, obj.table)
    n = 0
    while (page := pages.fetch()) is not None:
        n += 1
        path, file = page
        with docs:
            docs.add(file.read_bytes(), salesforce.page_origin(obj, n, path))
        pages.follow(_next_page(conn, docs))
    read, unreadable, newest = conn.execute(_stamps_sql(_expand_sql(stage, obj, docs)),
                                            (STAMP_SHAPES,)).fetchone()
    if unreadable:
        raise bulk_copy.DeclinedError(f"{unreadable} record(s) without a readable SystemModstamp")
    conn.execute(sql.SQL("drop table {}").format(docs.ident))
    return read, newest.astimezone(UTC) if newest else None


def _next_page(conn: psycopg.Connection, docs: bulk_json.JsonDocs) -> str | None:
    """Paging of the page just COPYed, read by Postgres: Python never parses the records. One
    jsonb_each reads the top level (each `doc ->` would fetch the whole page from TOAST again);
    on a body that is not an object it fails, and the row path raises the source's error."""
    fields = dict(conn.execute(sql.SQL(
        "select key, case when key = 'records' then jsonb_typeof(value) else value::text end "
        "from {0}, jsonb_each(doc) where _seq = (select max(_seq) from {0}) "
        "and key in ('records', 'done', 'nextRecordsUrl')").format(docs.ident)).fetchall())
    if fields.get("records") != "array":
        raise bulk_copy.DeclinedError("not a query result")
    done, url = fields.get("done"), fields.get("nextRecordsUrl")
    return salesforce.next_of(True if done is None else json.loads(done), url and json.loads(url))


def _expand_sql(stage: loader.Stage, obj: SObject, docs: bulk_json.JsonDocs) -> sql.Composed:
    """Records in page order, renamed to landing columns, fields the mapping does not know in
    `_extra` (`attributes` dropped). jsonb_to_record gives text_of's text for text columns (a
    string as itself, anything else as JSON) in one call per record."""
    fields = list(obj.fields.values())
    typed = sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(f)) for f in fields)
    values = [sql.SQL("x.{}").format(sql.Identifier(f)) for f in fields]
    # The stage's key is NOT NULL: a record without an Id comes in as '' and finish() quarantines it.
    key = obj.columns.index("Id")
    values[key] = sql.SQL("coalesce({}, '')").format(values[key])
    extra = bulk_json.extra_of(sql.SQL("r.record"), {*fields, "attributes"})
    return sql.SQL(
        "insert into {stage} ({columns}, _extra, _origin) select {values}, {extra}, d._origin "
        "from {docs} as d cross join lateral jsonb_array_elements(d.doc -> 'records') "
        "with ordinality as r (record, n) cross join lateral jsonb_to_record(r.record) as x ({typed}) "
        "order by d._seq, r.n").format(
            stage=stage.ident, columns=sql.SQL(", ").join(map(sql.Identifier, obj.columns)),
            values=sql.SQL(", ").join(values), extra=extra, docs=docs.ident, typed=typed)


# The shapes of datetime parse_datetime reads that Salesforce sends (digits as 9, '+' as '-'):
# checked by translate(), a tenth of a regular expression's cost. Anything else (rare) sends the
# object row by row, where the record is quarantined with its reason.
FRACTIONS = ["", *("." + "9" * n for n in range(1, 7))]
STAMP_SHAPES = [f"9999-99-99T99:99:99{fraction}{zone}" for fraction in FRACTIONS
                for zone in ("Z", "-99:99", "-9999")]
READABLE = ("translate(\"SystemModstamp\", '0123456789+', '9999999999-') = any(%s) "
            "and substr(\"SystemModstamp\", 12, 2) <= '23' and substr(\"SystemModstamp\", 15, 2) <= '59' "
            "and substr(\"SystemModstamp\", 18, 2) <= '59'")


def _stamps_sql(insert: sql.Composed) -> sql.Composed:
    """The insert, counted, with the newest SystemModstamp of what it inserted and how many of its
    records have none readable (an impossible date such as February 30 makes Postgres refuse the
    cast: the same result)."""
    return sql.SQL(
        "with inserted as ({} returning \"SystemModstamp\"), stamps as (select \"SystemModstamp\" as stamp, "
        "coalesce(" + READABLE + ", false) as readable from inserted) "
        "select count(*), count(*) filter (where not readable), "
        "max(stamp::timestamptz) filter (where readable) from stamps").format(insert)


def _copy_rows(conn: psycopg.Connection, stage: loader.Stage, obj: SObject,
               pages: Iterator[tuple[str, list[dict]]], erased: erasure.ErasedPeople,
               stats: loader.BatchStats) -> datetime | None:
    """The row-by-row path: records checked in Python, bad ones quarantined precisely."""
    stamps = _Stamps()
    rows = stamps.watch(salesforce.records_of(obj, pages))
    if obj.name == "User" and erased.active:  # people erased under GDPR are not landed again
        rows = ((origin, record) for origin, record in rows
                if not erased.matches(record, "Email", "Id", "salesforce"))
    stage.copy_records(rows, stats)
    stage.merge(stats)
    for origin, reason, record in stamps.rejected:
        loader.quarantine(conn, stage.load_id, SOURCE, obj.table, origin, reason, record)
    stats.read += len(stamps.rejected)
    stats.quarantined += len(stamps.rejected)
    return stamps.newest


def ingest_salesforce(warehouse_url: str, source: SalesforceSource, until: datetime,
                      schema: str = SCHEMA, pseudonym_key: str | None = None) -> dict:
    """Land every object's changes up to `until` into `schema`; returns counts per table.

    The summary (also logged) has, per table: rows read, changed (inserted or updated),
    quarantined, the SystemModstamp lower bound used (None on the first load) and the watermark.
    """
    if until.tzinfo is None:
        raise ValueError("until needs a time zone")
    objects = source.config.objects()
    with psycopg.connect(warehouse_url) as conn:
        marks = {obj.name: loader.get_watermark(conn, SOURCE, stream(schema, obj)) for obj in objects}
        erased = erasure.ErasedPeople.load(conn, pseudonym_key)
        since = {name: mark - OVERLAP if mark else None for name, mark in marks.items()}
        window_start = min((s for s in since.values() if s), default=HISTORY_START)
        with loader.recorded_load(conn, SOURCE, (window_start, until)) as load_id:
            log.info("load %s: Salesforce %s (API v%s) up to %s", load_id, source.base_url,
                     source.config.api_version, until.isoformat())
            summary: dict = {"load_id": load_id, "window_end": until.isoformat(), "tables": {}}
            total = loader.BatchStats()
            newest = {}
            for obj in objects:
                stats, stamp = _land_object(conn, source, obj, since[obj.name], until,
                                            raw_table(schema, obj), load_id, erased)
                newest[obj.name] = stamp or marks[obj.name]
                summary["tables"][obj.table] = {
                    "read": stats.read, "changed": stats.loaded, "quarantined": stats.quarantined,
                    "since": since[obj.name].isoformat() if since[obj.name] else None,
                    "watermark": newest[obj.name].isoformat() if newest[obj.name] else None}
                log.info("load %s: %s read %d, changed %d, quarantined %d, watermark %s", load_id,
                         obj.name, stats.read, stats.loaded, stats.quarantined,
                         summary["tables"][obj.table]["watermark"])
                total.add(stats)
            for obj in objects:
                if newest[obj.name]:
                    loader.set_watermark(conn, SOURCE, stream(schema, obj), newest[obj.name], load_id)
            loader.finish_load(conn, load_id, total)
            conn.commit()
            log.info("load %s committed: read %d, changed %d, quarantined %d", load_id, total.read,
                     total.loaded, total.quarantined)
            return summary
