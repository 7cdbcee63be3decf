"""Idempotent warehouse setup: schemas, the read-only BI role, and the pseudonymisation key.

The key is stored as HMAC-SHA256's inner and outer padded keys in a private table, so dbt can
compute person keys in plain SQL (sha256 is built in; pgcrypto is not needed) without the key ever
appearing in rendered SQL, dbt's target/ folder or a task log.
"""

from __future__ import annotations

import hashlib

import psycopg
from psycopg import sql

from social_value import loader
from social_value.settings import ConfigError

BLOCK = 64  # SHA-256 block size in bytes


def hmac_pads(key: bytes) -> tuple[bytes, bytes]:
    """RFC 2104 inner and outer padded keys: HMAC(k, m) = H(outer || H(inner || m))."""
    if len(key) > BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(BLOCK, b"\0")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def setup(warehouse_url: str, pseudonym_key: str | None, bi_reader_password: str | None) -> None:
    if not pseudonym_key:
        raise ConfigError(
            "SVW_PSEUDONYM_KEY is not set: person keys are an HMAC with a secret key of your own "
            "(e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`); there is no default")
    inner, outer = hmac_pads(pseudonym_key.encode())
    with psycopg.connect(warehouse_url) as conn:
        conn.execute(loader.META_DDL)
        for schema in ("svw_private", "marts", "audit"):
            conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))
        conn.execute("revoke all on schema svw_private from public")
        conn.execute("create table if not exists svw_private.pseudonym_key ("
                     "singleton boolean primary key default true check (singleton), "
                     "inner_key bytea not null, outer_key bytea not null)")
        conn.execute("insert into svw_private.pseudonym_key (inner_key, outer_key) values (%s, %s) "
                      "on conflict (singleton) do update set inner_key = excluded.inner_key, "
                      "outer_key = excluded.outer_key", (inner, outer))
        if bi_reader_password:
            _ensure_bi_reader(conn, bi_reader_password)


def _ensure_bi_reader(conn: psycopg.Connection, password: str) -> None:
    exists = conn.execute("select 1 from pg_roles where rolname = 'bi_reader'").fetchone()
    verb = "alter" if exists else "create"
    conn.execute(sql.SQL(verb + " role bi_reader login password {}").format(sql.Literal(password)))
    database = conn.info.dbname
    conn.execute(sql.SQL("grant connect on database {} to bi_reader").format(sql.Identifier(database)))
    conn.execute("grant usage on schema marts to bi_reader")
    conn.execute("grant select on all tables in schema marts to bi_reader")
    conn.execute("alter default privileges in schema marts grant select on tables to bi_reader")
