"""The loader's fast path: a clean CSV file reaches Postgres as bytes, and Postgres parses it.

Row by row, Python's reading, checking and formatting cost three to four times what the database
itself needs to COPY and merge the same rows (docs/performance.md). A file COPYed whole in CSV
format costs Python nothing per row. Columns are still matched by header name: the COPY lists the
stage columns in the order of this file's header.

The result is the row-by-row path's, and where the file is not clean that path does it: a file
that is not UTF-8, holds a NUL byte, has a row of another width than its header or cannot be
parsed makes Postgres refuse the COPY. Its savepoint is then rolled back (nothing of the file
stays) and the file is landed row by row, which quarantines exactly what is wrong. What the row
path checks per row is done here once per batch, in SQL: rows without a key are quarantined with
the same reason, erased people's rows are deleted (`drop_erased`).
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO

import psycopg
from psycopg import sql

from social_value import loader
from social_value.erasure import ErasedPeople

log = logging.getLogger(__name__)

CHUNK = 1 << 16  # 1 MiB chunks left the heap 3 MiB larger after a big file (glibc keeps them)
BOM = b"\xef\xbb\xbf"
# Postgres ends a COPY at a line holding only `\.`, even in CSV: such a file goes row by row.
END_MARKERS = (b"\n\\.\n", b"\n\\.\r")


class DeclinedError(Exception):
    """The file is not for the fast path; land it row by row (the reason is logged)."""


def copy_csv(stage: loader.Stage, handle: BinaryIO, origin: str, stats: loader.BatchStats,
             rename: Callable[[str], str] = str) -> bool:
    """COPY one CSV file (header first) into the stage; False if Postgres or the checks refused it,
    in which case nothing of it is in the stage and the caller lands it row by row."""
    conn, unknown = stage.conn, dict(stage.unknown)
    # A savepoint: a refused file leaves nothing behind. Set with the file's origin (the stage's
    # _origin default) in one round trip: a Graph load COPYs hundreds of small files.
    conn.execute(sql.SQL("savepoint bulk_file; select set_config('svw.origin', {}, true)").format(
        sql.Literal(origin)))
    try:
        stats.read += _copy(stage, handle, rename)
        conn.execute("release savepoint bulk_file")
        return True
    except (DeclinedError, psycopg.errors.DataError) as why:
        conn.execute("rollback to savepoint bulk_file; release savepoint bulk_file")
        stage.unknown = unknown  # columns it added went with the savepoint
        log.info("%s: landing row by row (%s)", origin, str(why).splitlines()[0] if str(why) else why)
        return False


def _copy(stage: loader.Stage, handle: BinaryIO, rename: Callable[[str], str]) -> int:
    header = _header(handle)
    if header is None:
        return 0
    names = [rename(name) for name in header]
    if len(set(names)) < len(names) or None in names:
        raise DeclinedError("the header repeats a column")
    columns = [_stage_column(stage, name) for name in names]
    conn = stage.conn
    # force_not_null: an empty field is "" as in the row path, and NULL means "not in this file"
    # (left out of _extra and of a quarantined row's payload); the merge makes "" NULL.
    listed = sql.SQL(", ").join(map(sql.Identifier, columns))
    statement = sql.SQL("copy {} ({}) from stdin (format csv, force_not_null ({}))").format(
        stage.ident, listed, listed)
    with conn.cursor() as cur:
        with cur.copy(statement) as copy:
            for chunk in _checked(handle):
                copy.write(chunk)
        return cur.rowcount


def _header(handle: BinaryIO) -> list[str] | None:
    line = handle.readline()
    if not line.strip():
        if handle.read(1):
            raise DeclinedError("the first line is blank")
        return None
    try:
        text = line.removeprefix(BOM).decode("utf-8")
    except UnicodeDecodeError as error:
        raise DeclinedError(f"the header is not UTF-8: {error}") from error
    if text.count('"') % 2:
        raise DeclinedError("the header has a quoted line break")
    return next(csv.reader([text]))


def _stage_column(stage: loader.Stage, name: str) -> str:
    """The stage column a source column lands in; an unknown one gets its own (→ _extra)."""
    if name in stage.table.known:
        return name
    if name not in stage.unknown:
        column = f"_unknown_{len(stage.unknown)}"
        stage.conn.execute(sql.SQL("alter table {} add column {} text").format(
            stage.ident, sql.Identifier(column)))
        stage.unknown[name] = column
    return stage.unknown[name]


def _checked(handle: BinaryIO) -> Iterator[bytes]:
    tail = b"\n"  # the file's start counts as a line start
    while chunk := handle.read(CHUNK):
        window = tail + chunk
        if any(marker in window for marker in END_MARKERS) or window.endswith(b"\n\\."):
            raise DeclinedError("a line holds only '\\.', which ends a COPY")
        tail = window[-3:]
        yield chunk


def quarantine_keyless(stage: loader.Stage, stats: loader.BatchStats) -> None:
    """Rows of whole files without a key value: quarantined with the row path's reason."""
    table, conn = stage.table, stage.conn
    missing = sql.SQL(" or ").join(sql.SQL("coalesce({}, '') = ''").format(sql.Identifier(c))
                                   for c in table.key)
    reason = sql.SQL("case {} end").format(sql.SQL(" ").join(
        sql.SQL("when coalesce({}, '') = '' then {}").format(
            sql.Identifier(c), sql.Literal(f"missing key column {c!r}")) for c in table.key))
    payload = sql.SQL("jsonb_strip_nulls(jsonb_build_object({}))::text").format(sql.SQL(", ").join(
        sql.SQL("{}, {}").format(sql.Literal(name), sql.Identifier(col))
        for name, col in [*((c, c) for c in table.columns), *stage.unknown.items()]))
    count = conn.execute(sql.SQL(
        "with gone as (delete from {stage} where {missing} returning _origin, {reason} as reason, "
        "{payload} as payload) "
        "insert into raw_meta.quarantine (load_id, source, stream, origin, reason, payload) "
        "select %s, %s, %s, _origin, reason, payload from gone").format(
            stage=stage.ident, missing=missing, reason=reason, payload=payload),
        (stage.load_id, stage.source, table.name)).rowcount
    stats.quarantined += count


def drop_erased(stage: loader.Stage, erased: ErasedPeople, stream: str, stats: loader.BatchStats,
                email_field: str | None = None, id_field: str | None = None,
                id_kind: str | None = None) -> int:
    """Delete the stage's rows about erased people (by email's keyed hash, or by a source id, as
    ErasedPeople.skip does row by row); the ids met with an erased email are remembered for the
    rest of the load. Only the distinct emails are hashed, in Python (Postgres has no HMAC here)."""
    if not erased.active:
        return 0
    conn, ident = stage.conn, stage.ident
    known = erased.ids.setdefault(id_kind, set()) if id_kind else set()
    emails = []
    if email_field:
        found = conn.execute(sql.SQL("select distinct {0} from {1} where {0} is not null").format(
            sql.Identifier(email_field), ident))
        emails = [email for (email,) in found if erased.email_erased(email)]
    conditions, params = [], []
    if emails:
        conditions.append(sql.SQL("{} = any(%s)").format(sql.Identifier(email_field)))
        params.append(emails)
    if id_field and known:
        conditions.append(sql.SQL("{} = any(%s)").format(sql.Identifier(id_field)))
        params.append(sorted(known))
    if not conditions:
        return 0
    returning = sql.Identifier(id_field) if id_field else sql.SQL("null")
    deleted = conn.execute(sql.SQL("delete from {} where {} returning {}").format(
        ident, sql.SQL(" or ").join(conditions), returning), params).fetchall()
    known.update(value for (value,) in deleted if value)
    erased.skipped[stream] += len(deleted)
    stats.read -= len(deleted)  # as row by row: an erased person's rows are not read
    return len(deleted)


def land_csv(stage: loader.Stage, origin: str, opener: Callable[[], BinaryIO],
             rows: Callable[[], Iterable[dict]], stats: loader.BatchStats,
             rename: Callable[[str], str] = str) -> None:
    """One CSV file COPYed whole, or if refused, its records from `rows()` row by row."""
    with opener() as handle:
        if copy_csv(stage, handle, origin, stats, rename):
            return
    stage.copy_records(loader.tagged(origin, rows()), stats)


def finish(stage: loader.Stage, stats: loader.BatchStats, erased: ErasedPeople, stream: str,
           email_field: str | None = None, id_field: str | None = None,
           id_kind: str | None = None) -> None:
    """What the row path checks per row, once for the whole stage, then the merge."""
    quarantine_keyless(stage, stats)
    drop_erased(stage, erased, stream, stats, email_field, id_field, id_kind)
    stage.merge(stats)
