"""Ingest the CRM: land Salesforce users, accounts, opportunities, their history and delivery projects.

Each object is read with `queryAll` for SystemModstamp in (watermark − OVERLAP, until], so changes
and deletions (IsDeleted true) since the last load arrive; merging on Id makes the overlap and any
rerun harmless. All objects, the load's bookkeeping and every object's new watermark (the newest
SystemModstamp seen) commit in one transaction: a load that dies half-way leaves nothing behind.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import psycopg

from social_value import erasure, loader
from social_value.connectors import salesforce
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
    return loader.RawTable(schema, obj.table, obj.columns, key=("Id",))


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
                stamps = _Stamps()
                rows = stamps.watch(salesforce.records(source, obj, since[obj.name], until))
                if obj.name == "User" and erased.keys:  # people erased under GDPR are not landed again
                    rows = ((origin, record) for origin, record in rows
                            if not erased.matches(record, "Email", "Id", "salesforce"))
                stats = loader.merge_batch(conn, raw_table(schema, obj), rows, load_id, SOURCE)
                for origin, reason, record in stamps.rejected:
                    loader.quarantine(conn, load_id, SOURCE, obj.table, origin, reason, record)
                stats.read += len(stamps.rejected)
                stats.quarantined += len(stamps.rejected)
                newest[obj.name] = stamps.newest or marks[obj.name]
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
