"""A database of the benchmark's own on the same Postgres server, set up as the DAGs' warehouse
(schemas, roles, key), and the logins the ingest (loader) and the build (transformer) use there."""

from __future__ import annotations

import os
from dataclasses import dataclass

import psycopg
from psycopg import sql

from social_value import runtime
from social_value.warehouse_setup import role_passwords, setup


@dataclass(frozen=True)
class BenchDatabase:
    name: str
    owner_url: str
    loader_url: str
    transformer_url: str


def _on(url: str, database: str) -> str:
    parts = runtime._parts(url)
    return runtime._url(parts, database)


def create(name: str) -> BenchDatabase:
    """Drop and recreate database `name` next to the configured warehouse and set it up."""
    owner = os.environ["SVW_WAREHOUSE_URL"]
    if name == runtime._parts(owner)["database"]:
        raise ValueError(f"the benchmark never uses the warehouse's own database ({name})")
    with psycopg.connect(_on(owner, "postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    setup(_on(owner, name), os.environ["SVW_PSEUDONYM_KEY"], role_passwords())
    return _logins(name)


def kept(name: str) -> BenchDatabase:
    """A database an earlier `make bench ... --keep` left (bench_s, bench_m, bench_l), as create()
    would have returned it."""
    if not name.startswith("bench_"):
        raise ValueError(f"only a benchmark database (bench_*), not {name}")
    return _logins(name)


def _logins(name: str) -> BenchDatabase:
    """Database `name` beside the configured warehouse, with its owner, loader and transformer URLs."""
    url = _on(os.environ["SVW_WAREHOUSE_URL"], name)
    passwords = role_passwords()
    return BenchDatabase(name, url, runtime.role_url(url, "loader", passwords["loader"]),
                         runtime.role_url(url, "transformer", passwords["transformer"]))


def drop(database: BenchDatabase) -> None:
    with psycopg.connect(_on(database.owner_url, "postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(
            sql.Identifier(database.name)))


def raw_row_counts(url: str) -> dict[str, int]:
    """Rows per landing table (raw_meta excluded), `schema.table` → count."""
    with psycopg.connect(url) as conn:
        tables = conn.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema like 'raw\\_%%' and table_schema <> 'raw_meta' "
            "and table_type = 'BASE TABLE' order by 1, 2").fetchall()
        return {f"{schema}.{name}": conn.execute(
            sql.SQL("select count(*) from {}").format(sql.Identifier(schema, name))).fetchone()[0]
            for schema, name in tables}


def environment(database: BenchDatabase) -> dict[str, str]:
    """os.environ pointed at `database`, as the runtime would set it for SVW_EMBEDDED_DB=<name>."""
    from social_value.dbt_runner import dbt_env
    from social_value.quality.gx_checks import gx_connection_string

    url = database.owner_url
    return {**os.environ, "SVW_EMBEDDED_DB": database.name, "SVW_WAREHOUSE_URL": url, **dbt_env(url),
            "SVW_GX_CONNECTION_STRING": gx_connection_string(url), "AIRFLOW_CONN_SVW_WAREHOUSE": url,
            "AIRFLOW_CONN_SVW_LOADER": database.loader_url,
            "AIRFLOW_CONN_SVW_TRANSFORMER": database.transformer_url}
