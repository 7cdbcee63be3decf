"""Days a source would not serve: skipped and recorded, so a gap in the data is visible, not silent.

Graph serves its daily activity reports for the past 28 days only and answers HTTP 400 for an older
day ("Invalid date value specified: … Only support data for the past 28 days."), e.g. when a
paused DAG resumes a month later. Such a day is recorded in raw_meta.skipped_days with the
source's answer while the other days land; a later load that lands it marks the gap filled. Every
build copies the table to audit.skipped_source_days, where auditors read it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import psycopg

# Run by the loader, which owns raw_meta (as loader.META_DDL).
DDL = """
create table if not exists raw_meta.skipped_days (
    source text not null,
    stream text not null,
    day date not null,
    reason text not null,
    load_id bigint not null references raw_meta.loads (load_id),
    skipped_at timestamptz not null default now(),
    filled_by_load_id bigint references raw_meta.loads (load_id),
    primary key (source, stream, day)
);
"""

# Run by the transformer with publish.AUDIT_DDL.
AUDIT_DDL = """
create table if not exists audit.skipped_source_days (
    source text not null,
    stream text not null,
    day date not null,
    reason text not null,
    load_id bigint not null,
    skipped_at timestamptz not null,
    filled_by_load_id bigint,
    refreshed_at timestamptz not null default now(),
    primary key (source, stream, day)
);
comment on table audit.skipped_source_days is 'Days a source refused to serve (e.g. Graph days past'
    ' its 28-day retention): a gap in the data unless filled_by_load_id is set. Refreshed by every build.';
"""

AUDIT_REFRESH = """
insert into audit.skipped_source_days (source, stream, day, reason, load_id, skipped_at, filled_by_load_id)
select source, stream, day, reason, load_id, skipped_at, filled_by_load_id from raw_meta.skipped_days
on conflict (source, stream, day) do update set
    reason = excluded.reason, load_id = excluded.load_id, skipped_at = excluded.skipped_at,
    filled_by_load_id = excluded.filled_by_load_id, refreshed_at = now()
"""


def ensure_table(conn: psycopg.Connection) -> None:
    conn.execute(DDL)


def record(conn: psycopg.Connection, source: str, stream: str, day: date, reason: str, load_id: int) -> None:
    """A day the source refused, in the caller's transaction (it commits with the load)."""
    conn.execute(
        "insert into raw_meta.skipped_days (source, stream, day, reason, load_id) "
        "values (%s, %s, %s, %s, %s) "
        "on conflict (source, stream, day) do update set reason = excluded.reason, "
        "load_id = excluded.load_id, skipped_at = now(), filled_by_load_id = null",
        (source, stream, day, reason[:2000], load_id))


def mark_filled(conn: psycopg.Connection, source: str, stream: str, days: Iterable[date],
                load_id: int) -> int:
    """Days recorded as skipped that this load landed after all; how many."""
    return conn.execute(
        "update raw_meta.skipped_days set filled_by_load_id = %s where source = %s and stream = %s "
        "and day = any(%s) and filled_by_load_id is null", (load_id, source, stream, list(days))).rowcount


def refresh_audit(conn: psycopg.Connection) -> None:
    """Copy raw_meta.skipped_days to the audit schema (nothing to copy before any source skipped)."""
    if conn.execute("select to_regclass('raw_meta.skipped_days') is not null").fetchone()[0]:
        conn.execute(AUDIT_REFRESH)
