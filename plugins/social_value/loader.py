"""Land source records in raw_<source> schemas: COPY into a temporary table, merge on the key.

One batch is one transaction: the rows, the load's bookkeeping and the watermark they cover become
visible together or not at all. Rows are streamed, never held in memory as a whole. Rows come into
the stage one by one here (checked and cleaned in Python), or as whole files parsed by Postgres
(bulk_copy, bulk_json: the fast path, which falls back to this one for any file it refuses).
Every raw row carries the load that last changed it, when, and where it came from (file/page).
Columns the source sends that we do not know are kept in `_extra` (jsonb), never dropped.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

import psycopg
from psycopg import sql

from social_value import cast_rules
from social_value.settings import ConfigError

log = logging.getLogger(__name__)

# raw_meta itself is created by the setup (the loader role owns it but may not create schemas).
META_DDL = """
create table if not exists raw_meta.loads (
    load_id bigint generated always as identity primary key,
    source text not null,
    started_at timestamptz not null default now(),
    finished_at timestamptz,
    status text not null default 'running',
    window_start timestamptz,
    window_end timestamptz,
    rows_read bigint,
    rows_loaded bigint,
    rows_quarantined bigint,
    error text
);
create table if not exists raw_meta.watermarks (
    source text not null,
    stream text not null,
    watermark timestamptz not null,
    load_id bigint not null references raw_meta.loads (load_id),
    updated_at timestamptz not null default now(),
    primary key (source, stream)
);
create table if not exists raw_meta.files (
    source text not null,
    path text not null,
    sha256 text not null,
    size_bytes bigint not null,
    load_id bigint not null references raw_meta.loads (load_id),
    loaded_at timestamptz not null default now(),
    primary key (source, path, sha256)
);
create table if not exists raw_meta.quarantine (
    quarantine_id bigint generated always as identity primary key,
    load_id bigint not null references raw_meta.loads (load_id),
    source text not null,
    stream text not null,
    origin text not null,
    reason text not null,
    payload text not null,
    quarantined_at timestamptz not null default now()
);
-- A record a later load landed after all (or found obsolete) is marked, never deleted. Altered
-- only when missing: even a no-op ALTER waits for every open load that quarantined something.
do $$ begin
    if not exists (select from information_schema.columns where table_schema = 'raw_meta'
                   and table_name = 'quarantine' and column_name = 'resolution') then
        alter table raw_meta.quarantine add column if not exists resolved_at timestamptz,
            add column if not exists resolved_load_id bigint references raw_meta.loads (load_id),
            add column if not exists resolution text;
    end if;
end $$;
"""


# Bytes that were not UTF-8, kept by readers as lone surrogates (errors="surrogateescape").
_UNDECODABLE = re.compile("[\udc80-\udcff]")


@dataclass(frozen=True)
class RawTable:
    """A landing table: the source's own column names as text, keyed like the source. `casts`
    names the columns staging casts and how (cast_rules): their values are checked at landing."""

    schema: str
    name: str
    columns: tuple[str, ...]
    key: tuple[str, ...] = ("id",)
    casts: Mapping[str, cast_rules.Kind] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if unknown := set(self.casts) - set(self.columns):
            raise ValueError(f"{self.name}: casts name columns it does not have: {sorted(unknown)}")

    def ident(self) -> sql.Composed:
        return sql.Identifier(self.schema, self.name)

    @cached_property
    def known(self) -> frozenset[str]:
        """The landing columns as a set (unknown columns go to `_extra`)."""
        return frozenset(self.columns)


@dataclass
class BatchStats:
    read: int = 0
    loaded: int = 0
    quarantined: int = 0
    unknown_columns: set[str] = field(default_factory=set)

    def add(self, other: BatchStats) -> None:
        self.read += other.read
        self.loaded += other.loaded
        self.quarantined += other.quarantined

    def counts(self) -> dict[str, int]:
        """What task summaries and logs report per table."""
        return {"read": self.read, "changed": self.loaded, "quarantined": self.quarantined}


class QuarantineError(Exception):
    """A record that cannot be landed as it is; the reason goes to raw_meta.quarantine."""


@dataclass(frozen=True)
class Rejected:
    """A reader's verdict on input it could not parse (a broken line, bad bytes): quarantined as is."""

    reason: str
    payload: str


def ensure_table(conn: psycopg.Connection, table: RawTable) -> bool:
    """Create the landing table, or add the declared columns it lacks (a connector or a mapping
    that gained one); True when it did either."""
    existing = {name for (name,) in conn.execute(
        "select attname from pg_attribute where attrelid = to_regclass(%s) and attnum > 0 "
        "and not attisdropped", (table.ident().as_string(conn),))}
    if existing:
        missing = [column for column in table.columns if column not in existing]
        if missing:  # only then: ALTER TABLE would lock out the builds reading the table
            conn.execute(sql.SQL("alter table {} {}").format(table.ident(), sql.SQL(", ").join(
                sql.SQL("add column {} text").format(sql.Identifier(column)) for column in missing)))
        return bool(missing)
    cols = [sql.SQL("{} text").format(sql.Identifier(c)) for c in table.columns]
    if not conn.execute("select 1 from pg_namespace where nspname = %s", (table.schema,)).fetchone():
        # Only the setup's owner may create schemas; the loader role gets a clear error instead.
        conn.execute(sql.SQL("create schema {}").format(sql.Identifier(table.schema)))
    conn.execute(sql.SQL(
        "create table if not exists {} ({}, _extra jsonb, _load_id bigint not null, "
        "_loaded_at timestamptz not null, _origin text not null, primary key ({}))"
    ).format(table.ident(), sql.SQL(", ").join(cols),
             sql.SQL(", ").join(map(sql.Identifier, table.key))))
    # Incremental dbt builds ask for the rows of loads newer than what they built. Rows land in
    # load order, so a BRIN index finds them by reading the last block ranges, not all history,
    # and costs loading next to nothing (a few pages, no per-row entries).
    conn.execute(sql.SQL("create index if not exists {} on {} using brin (_load_id)").format(
        sql.Identifier(f"{table.name}__load_id_brin"), table.ident()))
    return True


def start_load(conn: psycopg.Connection, source: str, window: tuple[datetime, datetime] | None) -> int:
    """Record a load before it runs (committed on its own) so a failed one is still traceable."""
    conn.execute(META_DDL)
    start, end = window or (None, None)
    load_id = conn.execute(
        "insert into raw_meta.loads (source, window_start, window_end) values (%s, %s, %s) "
        "returning load_id", (source, start, end)).fetchone()[0]
    conn.commit()
    return load_id


@contextmanager
def recorded_load(conn: psycopg.Connection, source: str,
                  window: tuple[datetime, datetime] | None) -> Iterator[int]:
    """Start a load (committed on its own, so it is traceable) and yield its id; if the block
    raises, the transaction is rolled back and the load is marked failed with the error."""
    load_id = start_load(conn, source, window)
    try:
        yield load_id
    except Exception as error:
        fail_load(conn, load_id, f"{type(error).__name__}: {error}")
        raise


def finish_load(conn: psycopg.Connection, load_id: int, stats: BatchStats) -> None:
    conn.execute(
        "update raw_meta.loads set status = 'succeeded', finished_at = clock_timestamp(), "
        "rows_read = %s, rows_loaded = %s, rows_quarantined = %s where load_id = %s",
        (stats.read, stats.loaded, stats.quarantined, load_id))


def fail_load(conn: psycopg.Connection, load_id: int, error: str) -> None:
    conn.rollback()
    conn.execute("update raw_meta.loads set status = 'failed', finished_at = clock_timestamp(), "
                 "error = %s where load_id = %s", (error[:4000], load_id))
    conn.commit()


def get_watermark(conn: psycopg.Connection, source: str, stream: str) -> datetime | None:
    conn.execute(META_DDL)
    row = conn.execute("select watermark from raw_meta.watermarks where source = %s and stream = %s",
                       (source, stream)).fetchone()
    return row[0] if row else None


def set_watermark(conn: psycopg.Connection, source: str, stream: str, value: datetime,
                  load_id: int) -> None:
    conn.execute(
        "insert into raw_meta.watermarks (source, stream, watermark, load_id) values (%s, %s, %s, %s) "
        "on conflict (source, stream) do update set "
        # A backfill of an older window never moves the watermark back.
        "watermark = greatest(raw_meta.watermarks.watermark, excluded.watermark), "
        "load_id = excluded.load_id, updated_at = now()", (source, stream, value, load_id))


def file_digest(path) -> tuple[str, int]:
    """sha256 and size of a dropped file, read in chunks."""
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def file_already_loaded(conn: psycopg.Connection, source: str, path: str, sha256: str) -> bool:
    """A dropped file with these exact contents was landed before (a changed file is loaded again)."""
    return conn.execute("select 1 from raw_meta.files where source = %s and path = %s and sha256 = %s",
                        (source, path, sha256)).fetchone() is not None


def record_file(conn: psycopg.Connection, source: str, path: str, sha256: str, size: int,
                load_id: int) -> None:
    conn.execute("insert into raw_meta.files (source, path, sha256, size_bytes, load_id) "
                 "values (%s, %s, %s, %s, %s) on conflict do nothing", (source, path, sha256, size, load_id))


def _clean(record: Mapping[str, str | None], table: RawTable, stats: BatchStats
           ) -> tuple[list[str | None], str | None]:
    """The record as a row of the table's columns plus its unknown columns as JSON.

    Runs once per landed row, so the common case is a few C-level operations: one join of the
    record's text to look for NUL bytes and undecodable bytes, a set test for unknown columns.
    """
    values = [None if (value := record.get(column)) == "" else value for column in table.columns]
    joined = "".join([v for v in record.values() if isinstance(v, str)])
    if "\x00" in joined:
        for column in table.columns:
            value = record.get(column)
            if value is not None and "\x00" in value:
                raise QuarantineError(f"NUL byte in column {column!r}: Postgres text cannot hold it")
    if _UNDECODABLE.search(joined):
        bad = next(k for k, v in record.items() if isinstance(v, str) and _UNDECODABLE.search(v))
        raise QuarantineError(f"invalid UTF-8 in column {bad!r}")
    for column in table.key:
        if not record.get(column):
            raise QuarantineError(f"missing key column {column!r}")
    if table.known.issuperset(record):
        return values, None
    extra = {k: v for k, v in record.items() if k not in table.known and k is not None}
    if extra:
        stats.unknown_columns.update(extra)
    return values, json.dumps(extra, ensure_ascii=False) if extra else None


def merge_batch(conn: psycopg.Connection, table: RawTable, records: Iterable[tuple[str, Mapping]],
                load_id: int, source: str, stats: BatchStats | None = None) -> BatchStats:
    """Stream (origin, record) pairs into `table` inside the caller's open transaction.

    Later duplicates of a key within the batch win (a re-export repeats records); an unchanged
    row keeps its load id, so rerunning a load leaves the table exactly as it was.
    """
    stats = stats or BatchStats()
    stage = Stage(conn, table, load_id, source)
    stage.copy_records(records, stats)
    stage.merge(stats)
    return stats


class Stage:
    """A batch's temporary table: rows are COPYed in (row by row here, or whole files by
    bulk_copy), then merged into the landing table by one set-based statement.

    `_seq` numbers rows in arrival order, so later duplicates of a key win. Files landed whole may
    bring columns the table does not know: they get stage columns of their own (`unknown`) and
    are folded into `_extra` by the merge.
    """

    def __init__(self, conn: psycopg.Connection, table: RawTable, load_id: int, source: str) -> None:
        self.conn, self.table, self.load_id, self.source = conn, table, load_id, source
        self.unknown: dict[str, str] = {}  # unknown source column -> its stage column
        ensure_table(conn, table)
        self.ident = sql.Identifier(f"_stage_{table.name}")
        conn.execute(sql.SQL("create temporary table {} (like {} including defaults, "
                             "_seq bigint generated by default as identity) on commit drop"
                             ).format(self.ident, table.ident()))
        # Keyless rows of whole files reach the stage and are quarantined from there.
        conn.execute(sql.SQL("alter table {} {}").format(self.ident, sql.SQL(", ").join(
            sql.SQL("alter column {} drop not null").format(sql.Identifier(c))
            for c in ("_load_id", "_loaded_at", *table.key))))
        # Whole files name their origin in a setting (cheaper than a default changed per file).
        conn.execute(sql.SQL("alter table {} alter column _origin set default "
                             "current_setting('svw.origin', true)").format(self.ident))

    def copy_records(self, records: Iterable[tuple[str, Mapping]], stats: BatchStats) -> None:
        """Row by row: every record is checked and cleaned here; bad ones are quarantined."""
        table = self.table
        columns = [*table.columns, "_extra", "_origin"]
        copy_sql = sql.SQL("copy {} ({}) from stdin").format(
            self.ident, sql.SQL(", ").join(map(sql.Identifier, columns)))
        rejected = []  # written after COPY: the connection is busy until it ends
        with self.conn.cursor() as cur, cur.copy(copy_sql) as copy:
            for origin, record in records:
                stats.read += 1
                if isinstance(record, Rejected):
                    rejected.append((origin, record.reason, record.payload))
                    continue
                try:
                    values, extra = _clean(record, table, stats)
                except QuarantineError as reason:
                    rejected.append((origin, str(reason), record))
                    continue
                copy.write_row([*values, extra, origin])
        for origin, reason, record in rejected:
            quarantine(self.conn, self.load_id, self.source, table.name, origin, reason, record)
        stats.quarantined += len(rejected)

    def merge(self, stats: BatchStats) -> None:
        """Quarantine the rows staging could not cast, merge the rest into the landing table and
        drop the stage (a batch may merge into one table again); counts the rows that changed."""
        self.quarantine_uncastable(stats)
        stats.loaded += _merge_stage(self.conn, self.table, self.ident, self.load_id, self.unknown)
        self.conn.execute(sql.SQL("drop table {}").format(self.ident))
        if stats.unknown_columns:
            log.warning("%s.%s: kept unknown columns in _extra: %s", self.table.schema, self.table.name,
                        ", ".join(sorted(stats.unknown_columns)))


    def quarantine_uncastable(self, stats: BatchStats) -> None:
        """Rows with a value staging would not cast as the source meant it (cast_rules), moved to
        the quarantine with the first such column, its value and why: one pass over the stage in
        SQL, whichever path filled it."""
        if not self.table.casts:
            return
        reasons = [_cast_reason(column, kind) for column, kind in self.table.casts.items()]
        reason = reasons[0] if len(reasons) == 1 else sql.SQL("coalesce({})").format(
            sql.SQL(", ").join(reasons))
        payload = sql.SQL("(jsonb_strip_nulls(jsonb_build_object({})) || coalesce(_extra, '{{}}'))::text"
                          ).format(sql.SQL(", ").join(
            sql.SQL("{}, {}").format(sql.Literal(name), sql.Identifier(column))
            for name, column in [*((c, c) for c in self.table.columns), *self.unknown.items()]))
        # The reason is worked out once per row; RETURNING works it out again for the few deleted.
        statement = sql.SQL(
            "with gone as (delete from {stage} where {reason} is not null "
            "returning _origin, {reason} as reason, {payload} as payload) "
            "insert into raw_meta.quarantine (load_id, source, stream, origin, reason, payload) "
            "select %(load_id)s, %(source)s, %(stream)s, _origin, reason, payload from gone").format(
                reason=reason, stage=self.ident, payload=payload)
        try:
            count = self.conn.execute(statement, {"load_id": self.load_id, "source": self.source,
                                                  "stream": self.table.name}).rowcount
        except (psycopg.errors.UndefinedFunction, psycopg.errors.InvalidSchemaName) as error:
            # new code on a warehouse set up before it
            raise ConfigError(f"{error.diag.message_primary}: run the warehouse setup (`python -m "
                              "social_value setup`; make demo, make airflow and airflow-init run it)"
                              ) from error
        stats.quarantined += count


def _cast_reason(column: str, kind: cast_rules.Kind) -> sql.Composed:
    """Why `column` of a stage row cannot land (NULL if it can): its value breaks the kind's rule,
    or it is an event later than the load (its transaction's start) + FUTURE_SLACK."""
    value = sql.Identifier(column)

    def call(function: str) -> sql.Composed:
        return sql.SQL("{}.{}({})").format(sql.Identifier(cast_rules.SCHEMA), sql.Identifier(function), value)

    def said(why: sql.Composable) -> sql.Composed:
        return sql.SQL("format('%%s %%s (%%s): %%s', {}, quote_literal(left({}, 80)), {}, {})").format(
            sql.Literal(column), value, sql.Literal(kind.name), why)

    checks = [sql.SQL("when {0} is not null then {1}").format(call(kind.problem), said(call(kind.problem)))]
    if kind.event:
        checks.append(sql.SQL("when {} > now() + interval {} then {}").format(
            call(kind.moment), sql.Literal(cast_rules.FUTURE_SLACK), said(sql.Literal(
            f"later than its landing (by more than the {cast_rules.FUTURE_SLACK} clocks may differ)"))))
    return sql.SQL("case {} end").format(sql.SQL(" ").join(checks))


def _merge_stage(conn: psycopg.Connection, table: RawTable, stage: sql.Identifier, load_id: int,
                 unknown: Mapping[str, str] | None = None) -> int:
    data_cols = [*table.columns, "_extra"]
    # Files landed whole bring "" where the row-by-row path had None, and unknown columns of their
    # own (absent from a file: NULL, so left out of its rows' _extra, as the row path does).
    values = [sql.SQL("nullif({0}, '')").format(sql.Identifier(c)) for c in table.columns]
    if unknown:
        pairs = sql.SQL(", ").join(sql.SQL("{}, {}").format(sql.Literal(name), sql.Identifier(col))
                                   for name, col in unknown.items())
        values.append(sql.SQL("nullif(coalesce(_extra, '{{}}') || jsonb_strip_nulls(jsonb_build_object({})), "
                              "'{{}}')").format(pairs))
    else:
        values.append(sql.Identifier("_extra"))
    all_cols = sql.SQL(", ").join(map(sql.Identifier, [*data_cols, "_origin"]))
    key = sql.SQL(", ").join(map(sql.Identifier, table.key))
    updates = sql.SQL(", ").join(
        sql.SQL("{0} = excluded.{0}").format(sql.Identifier(c))
        for c in [*data_cols, "_origin", "_load_id", "_loaded_at"])
    changed = sql.SQL("({}) is distinct from ({})").format(
        sql.SQL(", ").join(sql.SQL("{}.{}").format(table.ident(), sql.Identifier(c)) for c in data_cols),
        sql.SQL(", ").join(sql.SQL("excluded.{}").format(sql.Identifier(c)) for c in data_cols))
    rows = sql.SQL("{values}, _origin, %s, clock_timestamp() from {stage}").format(
        values=sql.SQL(", ").join(values), stage=stage)
    insert = sql.SQL(
        "insert into {target} ({cols}, _load_id, _loaded_at) select distinct on ({key}) {rows} "
        "order by {key}, _seq desc").format(target=table.ident(), cols=all_cols, key=key, rows=rows)
    if _is_empty(conn, table):
        append = sql.SQL("insert into {} ({}, _load_id, _loaded_at) select {}").format(
            table.ident(), all_cols, rows)
        return _append_to_empty(conn, table, append, insert, load_id)
    upsert = insert + sql.SQL(" on conflict ({key}) do update set {updates} where {changed}").format(
        key=key, updates=updates, changed=changed)
    return conn.execute(upsert, (load_id,)).rowcount


def _is_empty(conn: psycopg.Connection, table: RawTable) -> bool:
    return conn.execute(sql.SQL("select not exists (select from {})").format(table.ident())).fetchone()[0]


def _append_to_empty(conn: psycopg.Connection, table: RawTable, append: sql.Composed,
                     deduplicated: sql.Composed, load_id: int) -> int:
    """A first load (or a backfill into a new landing zone): nothing to merge with, so the rows are
    appended with the primary key dropped and the key built once afterwards, which costs about half
    of maintaining it row by row (docs/performance.md). The key is rebuilt in the same transaction,
    and the table is locked until it commits, as any first load's table is in effect.

    The stage is appended as it is, unsorted: a batch rarely holds a key twice, and sorting whole
    rows for "the latest of each key" spilled most of a first load's merge to disk (Slack's 1.1
    million messages at L: 330 MB, 4 of 8 s). If building the key finds a key twice, the append is
    rolled back and `deduplicated` (the latest row of each key) is appended instead."""
    name, definition = conn.execute(
        "select conname, pg_get_constraintdef(oid) from pg_constraint "
        "where conrelid = %s::regclass and contype = 'p'", (table.ident().as_string(conn),)).fetchone()
    conn.execute(sql.SQL("alter table {} drop constraint {}").format(table.ident(), sql.Identifier(name)))
    add_key = sql.SQL("alter table {} add constraint {} {}").format(
        table.ident(), sql.Identifier(name), sql.SQL(definition))
    try:
        with conn.transaction():
            rows = conn.execute(append, (load_id,)).rowcount
            conn.execute(add_key)
        return rows
    except psycopg.errors.UniqueViolation:
        log.info("%s.%s: the batch holds a key more than once; appending the latest row of each",
                 table.schema, table.name)
    rows = conn.execute(deduplicated, (load_id,)).rowcount
    conn.execute(add_key)
    return rows


def quarantine(conn: psycopg.Connection, load_id: int, source: str, stream: str, origin: str,
               reason: str, record: Mapping | str) -> None:
    payload = record if isinstance(record, str) else json.dumps(record, ensure_ascii=False)
    payload = payload.encode("utf-8", "backslashreplace").decode("utf-8")  # undecodable bytes as \xNN
    conn.execute(
        "insert into raw_meta.quarantine (load_id, source, stream, origin, reason, payload) "
        "values (%s, %s, %s, %s, %s, %s)",
        (load_id, source, stream, origin, reason, payload.replace("\x00", "\\u0000")))


def tagged(origin: str, records: Iterable[Mapping]) -> Iterator[tuple[str, Mapping]]:
    for record in records:
        yield origin, record
