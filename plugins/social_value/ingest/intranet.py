"""Ingest the intranet: pull the Viva Engage export since the stored watermark and land it.

The window overlaps the previous one by OVERLAP so late-arriving messages are not missed; merging
on the source ids makes the overlap harmless. Data and watermark commit together.
"""

from __future__ import annotations

import logging
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg

from social_value import erasure, loader
from social_value.connectors import viva_engage_export as export

log = logging.getLogger(__name__)

SOURCE = "viva_engage"
OVERLAP = timedelta(days=1)
# The export's earliest useful date when no watermark exists yet (full history).
HISTORY_START = datetime(2000, 1, 1, tzinfo=UTC)


class _Erased:
    """Filters erased people out of the export: users by keyed email hash or id, their messages."""

    def __init__(self, keys: set[str], user_ids: set[str], pseudonym_key: str | None) -> None:
        if keys and not pseudonym_key:
            erasure.require_key(pseudonym_key)  # raises: erased people need the key to match
        self.keys, self.user_ids, self.pseudonym_key = keys, user_ids, pseudonym_key
        self.skipped: dict[str, int] = {}

    def skip(self, member: str, rows):
        for row in rows:
            if self.keys and self._is_erased(member, row):
                self.skipped[member] = self.skipped.get(member, 0) + 1
                continue
            yield row

    def _is_erased(self, member: str, row: dict) -> bool:
        if member == "Users.csv":
            email = (row.get("email") or "").strip()
            if row.get("id") in self.user_ids or (
                    email and erasure.person_key(email, self.pseudonym_key) in self.keys):
                self.user_ids.add(row.get("id"))  # their messages in this export go too
                return True
        return member == "Messages.csv" and row.get("sender_id") in self.user_ids


@dataclass(frozen=True)
class SourceConnection:
    base_url: str
    token: str


def ingest_viva_engage(warehouse_url: str, source: SourceConnection, until: datetime,
                       schema: str = export.SCHEMA, pseudonym_key: str | None = None) -> dict:
    """Land one export window into `schema`; returns counts per table for the task log and XCom.

    The watermark is kept per target schema (its stream), so a second landing zone is independent.
    People erased under GDPR (raw_meta.erasures) are skipped, never landed again.
    """
    with psycopg.connect(warehouse_url) as conn:
        watermark = loader.get_watermark(conn, SOURCE, schema)
        erased = _Erased(*erasure.erased_people(conn), pseudonym_key)
        since = watermark - OVERLAP if watermark else HISTORY_START
        load_id = loader.start_load(conn, SOURCE, (since, until))
        log.info("load %s: Viva Engage export %s → %s", load_id, since.isoformat(), until.isoformat())
        zip_path = None
        try:
            zip_path = export.fetch_export(source.base_url, source.token, since, until)
            summary = {"load_id": load_id, "window_start": since.isoformat(),
                       "window_end": until.isoformat(), "tables": {}}
            total = loader.BatchStats()
            with zipfile.ZipFile(zip_path) as archive:
                present = set(archive.namelist())
                for member, table in export.tables(schema).items():
                    if member not in present:
                        log.warning("load %s: %s is not in this export", load_id, member)
                        continue
                    records = erased.skip(member, export.read_csv(archive, member))
                    rows = loader.tagged(f"{zip_path.name}:{member}", records)
                    stats = loader.merge_batch(conn, table, rows, load_id, SOURCE)
                    summary["tables"][table.name] = {
                        "read": stats.read, "changed": stats.loaded, "quarantined": stats.quarantined,
                        "skipped_erased": erased.skipped.get(member, 0)}
                    log.info("load %s: %s read %d, changed %d, quarantined %d", load_id, member,
                             stats.read, stats.loaded, stats.quarantined)
                    total.read += stats.read
                    total.loaded += stats.loaded
                    total.quarantined += stats.quarantined
            loader.set_watermark(conn, SOURCE, schema, until, load_id)
            loader.finish_load(conn, load_id, total)
            conn.commit()
            log.info("load %s committed; watermark now %s", load_id, until.isoformat())
            return summary
        except Exception as error:
            loader.fail_load(conn, load_id, f"{type(error).__name__}: {error}")
            raise
        finally:
            if zip_path:
                zip_path.unlink(missing_ok=True)
