"""The database's own floor for a load's end state, per landing table: the rows dumped to a local
file (COPY TO), then timed, on the same server in the same run: a bare COPY of the file into an
empty unlogged staging table, and one set-based merge (insert … on conflict on the table's key,
updating only rows that differ, as the loader merges) into an empty copy of the table with the
same keys and indexes. Scratch tables live in a schema of their own, dropped afterwards.
"""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
from psycopg import sql

SCRATCH = "bench_floor"
CHUNK = 1 << 20


def _key(conn: psycopg.Connection, schema: str, table: str) -> list[str]:
    return [row[0] for row in conn.execute(
        "select a.attname from pg_index as i join pg_attribute as a "
        "on a.attrelid = i.indrelid and a.attnum = any(i.indkey) "
        "where i.indrelid = %s::regclass and i.indisprimary order by array_position(i.indkey, a.attnum)",
        (f'"{schema}"."{table}"',))]


def _columns(conn: psycopg.Connection, schema: str, table: str) -> list[str]:
    return [row[0] for row in conn.execute(
        "select column_name from information_schema.columns where table_schema = %s and table_name = %s "
        "order by ordinal_position", (schema, table))]


def dump(conn: psycopg.Connection, schema: str, table: str, path: Path) -> int:
    """COPY the table's rows to a local file; returns its size in bytes."""
    with path.open("wb") as out, conn.cursor().copy(
            sql.SQL("copy {} to stdout").format(sql.Identifier(schema, table))) as copy:
        for chunk in copy:
            out.write(chunk)
    conn.commit()
    return path.stat().st_size


def measure_table(conn: psycopg.Connection, schema: str, table: str, path: Path) -> dict:
    """Seconds of the bare COPY and of the merge, for the rows in `path` (dumped from the table)."""
    columns, key = _columns(conn, schema, table), _key(conn, schema, table)
    stage, target = sql.Identifier(SCRATCH, f"stage_{table}"), sql.Identifier(SCRATCH, f"target_{table}")
    source = sql.Identifier(schema, table)
    conn.execute(sql.SQL("create unlogged table {} (like {})").format(stage, source))
    conn.execute(sql.SQL("create table {} (like {} including all)").format(target, source))
    conn.commit()
    data = [c for c in columns if c not in key]
    cols = sql.SQL(", ").join(map(sql.Identifier, columns))
    merge = sql.SQL("insert into {} ({}) select {} from {}").format(target, cols, cols, stage) if not key \
        else sql.SQL(
        "insert into {target} ({cols}) select {cols} from {stage} on conflict ({key}) do update set {sets} "
        "where ({old}) is distinct from ({new})").format(
        target=target, cols=cols, stage=stage, key=sql.SQL(", ").join(map(sql.Identifier, key)),
        sets=sql.SQL(", ").join(sql.SQL("{0} = excluded.{0}").format(sql.Identifier(c)) for c in data),
        old=sql.SQL(", ").join(sql.SQL("{}.{}").format(target, sql.Identifier(c)) for c in data),
        new=sql.SQL(", ").join(sql.SQL("excluded.{}").format(sql.Identifier(c)) for c in data))
    try:
        started = time.perf_counter()
        with path.open("rb") as data_file, conn.cursor().copy(
                sql.SQL("copy {} from stdin").format(stage)) as copy:
            while chunk := data_file.read(CHUNK):
                copy.write(chunk)
        conn.commit()
        copied = time.perf_counter()
        rows = conn.execute(merge).rowcount
        conn.commit()
        merged = time.perf_counter()
    finally:
        conn.rollback()
        conn.execute(sql.SQL("drop table if exists {}, {}").format(stage, target))
        conn.commit()
    return {"rows": rows, "copy_s": copied - started, "merge_s": merged - copied,
            "copy_merge_s": merged - started}


def measure(url: str, tables: list[str], folder: Path, progress=print) -> dict[str, dict]:
    """The floor of every `schema.table` in `tables` (dumps go to `folder` and are deleted)."""
    results = {}
    with psycopg.connect(url) as conn:
        conn.execute(sql.SQL("drop schema if exists {0} cascade; create schema {0}").format(
            sql.Identifier(SCRATCH)))
        conn.commit()
        try:
            for name in tables:
                schema, table = name.split(".")
                path = folder / f"{name}.copy"
                size = dump(conn, schema, table, path)
                try:
                    results[name] = {"bytes": size, **measure_table(conn, schema, table, path)}
                finally:
                    path.unlink(missing_ok=True)
                result = results[name]
                progress(f"  floor {name}: {result['rows']:,} rows, COPY {result['copy_s']:.2f}s, "
                         f"+ merge {result['merge_s']:.2f}s")
        finally:
            conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(SCRATCH)))
            conn.commit()
    return results
