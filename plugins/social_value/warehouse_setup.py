"""Idempotent warehouse setup: schemas, least-privilege roles, grants, the pseudonymisation key.

Roles (passwords from the environment, never defaults):
- loader:      owns the raw_* schemas and raw_meta; writes landing tables. Reads nothing else.
- transformer: reads raw_*, owns staging, core, marts and marts_candidate (dbt and GX run as it),
               and may read the key table in svw_private. Builds write the marts into
               marts_candidate (no reader may use it) and publish them into marts (publish.py).
               It appends to audit, which the setup's login owns: it cannot rewrite or delete a
               recorded result (only the build's dbt invocation id is stamped, once).
- bi_reader:   CONNECT, and SELECT on marts only. No CREATE anywhere.
None of them may connect to the server's other databases the setup can reach (`postgres`, Airflow's).
- auditor:     SELECT on audit and marts.
- analyst:     SELECT on restricted only: the row-level facts (keyed, not suppressed), for analysts
               with a documented purpose.
The transformer's sessions get work_mem SVW_TRANSFORMER_WORK_MEM (default 64MB): with Postgres's
4MB, the metric facts' per-month distinct counts sorted a month's person-days on disk instead of
hashing them (at 20,000 employees, 14 s against 9 s for one month).
Default privileges make tables created later (by loader or dbt) readable by the right roles; a
publish moves tables (with their grants) into marts, so the marts schema and its grants stay put.

The key is stored as HMAC-SHA256's inner and outer padded keys, so dbt computes person keys in plain
SQL (sha256 is built in; pgcrypto is not needed) and the key never appears in rendered SQL,
dbt's target/ folder or a task log.
"""

from __future__ import annotations

import hashlib
import os

import psycopg
from psycopg import sql

from social_value import cast_rules, landing_tables
from social_value.settings import ConfigError

BLOCK = 64  # SHA-256 block size in bytes

RAW_SCHEMAS = ("raw_meta", "raw_viva_engage", "raw_msgraph", "raw_slack", "raw_activity_events",
               "raw_salesforce", "raw_surveymonkey", "raw_qualtrics")
TRANSFORMER_SCHEMAS = ("staging", "core", "marts", "marts_candidate", "restricted", "restricted_candidate")
ROLES = {
    "loader": "SVW_LOADER_PASSWORD",
    "transformer": "SVW_TRANSFORMER_PASSWORD",
    "bi_reader": "SVW_BI_READER_PASSWORD",
    "auditor": "SVW_AUDITOR_PASSWORD",
    "analyst": "SVW_ANALYST_PASSWORD",
}


def hmac_pads(key: bytes) -> tuple[bytes, bytes]:
    """RFC 2104 inner and outer padded keys: HMAC(k, m) = H(outer || H(inner || m))."""
    if len(key) > BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(BLOCK, b"\0")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def require_key(pseudonym_key: str | None) -> str:
    if not pseudonym_key:
        raise ConfigError(
            "SVW_PSEUDONYM_KEY is not set: person keys are an HMAC with a secret key of your own "
            "(e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`); there is no default")
    return pseudonym_key


def role_passwords(environ: dict | None = None) -> dict[str, str]:
    environ = os.environ if environ is None else environ
    missing = [var for var in ROLES.values() if not environ.get(var)]
    if missing:
        raise ConfigError(f"{', '.join(missing)} not set: every warehouse role logs in with a "
                          "password of your own (see README, 'Pointing it at a real Postgres')")
    return {role: environ[var] for role, var in ROLES.items()}


def setup(warehouse_url: str, pseudonym_key: str | None, passwords: dict[str, str]) -> None:
    """Create or repair everything; safe to run before every build."""
    inner, outer = hmac_pads(require_key(pseudonym_key).encode())
    with psycopg.connect(warehouse_url) as conn:
        database = sql.Identifier(conn.info.dbname)
        for role, password in passwords.items():
            _ensure_login(conn, role, password)
        conn.execute(sql.SQL("alter role transformer set work_mem = {}").format(
            sql.Literal(os.environ.get("SVW_TRANSFORMER_WORK_MEM", "64MB"))))
        conn.execute(sql.SQL("revoke all on database {} from public").format(database))
        conn.execute("revoke create on schema public from public")
        conn.execute(sql.SQL("grant connect on database {} to {}").format(
            database, sql.SQL(", ").join(map(sql.Identifier, ROLES))))
        # The loader stages batches in temporary tables; dbt may too. Readers get no TEMP.
        conn.execute(sql.SQL("grant temporary on database {} to loader, transformer").format(database))
        for schema in RAW_SCHEMAS:
            _own_schema(conn, schema, "loader")
            conn.execute(sql.SQL("grant usage on schema {0} to transformer; "
                                 "grant select on all tables in schema {0} to transformer; "
                                 "alter default privileges for role loader in schema {0} "
                                 "grant select on tables to transformer").format(sql.Identifier(schema)))
        landing_tables.create_all(conn)  # empty until their source sends something
        for schema in TRANSFORMER_SCHEMAS:
            _own_schema(conn, schema, "transformer")
        _append_only_audit(conn)
        _close_other_databases(conn)
        readers_of = (("marts", "bi_reader, auditor"), ("restricted", "analyst"), ("audit", "auditor"))
        for schema, readers in readers_of:
            conn.execute(sql.SQL(
                "grant usage on schema {0} to {1}; grant select on all tables in schema {0} to {1}; "
                "alter default privileges for role transformer in schema {0} grant select on tables to {1}"
            ).format(sql.Identifier(schema), sql.SQL(readers)))
        cast_rules.create_functions(conn)
        _store_key(conn, inner, outer)
        from social_value.erasure import ensure_register

        ensure_register(conn)


def _append_only_audit(conn: psycopg.Connection) -> None:
    """audit belongs to the setup's login; the transformer may add rows, never change or delete
    them. load_quarantine is a summary each build refreshes, so it may be updated, not emptied."""
    from social_value import skipped_days
    from social_value.publish import AUDIT_DDL

    conn.execute("create schema if not exists audit")
    conn.execute("alter schema audit owner to current_user")
    for (name, kind) in conn.execute(
            "select c.relname, c.relkind from pg_class as c join pg_namespace as n on n.oid = c.relnamespace "
            "where n.nspname = 'audit' and c.relkind in ('r', 'v') "
            "and c.relowner <> (select oid from pg_roles where rolname = current_user)").fetchall():
        conn.execute(sql.SQL("alter {} {} owner to current_user").format(
            sql.SQL("view" if kind == "v" else "table"), sql.Identifier("audit", name)))
    conn.execute(AUDIT_DDL)
    conn.execute(skipped_days.AUDIT_DDL)
    conn.execute("revoke all on all tables in schema audit from transformer")
    conn.execute("grant usage on schema audit to transformer; "
                 "grant select on all tables in schema audit to transformer; "
                 "grant insert on audit.builds, audit.test_results, audit.publications, "
                 "audit.load_quarantine to transformer; "
                 "grant update (dbt_invocation_id) on audit.builds to transformer; "
                 "grant update on audit.load_quarantine to transformer; "
                 # refreshed copies of raw_meta's registers: rows are added or brought up to date
                 "grant insert on audit.rejected_files, audit.skipped_source_days to transformer; "
                 "grant update on audit.skipped_source_days to transformer")
    conn.execute("""
        create or replace function audit.stamp_once() returns trigger language plpgsql as $$
        begin
            if old.dbt_invocation_id is not null or (to_jsonb(new) - 'dbt_invocation_id')
                    is distinct from (to_jsonb(old) - 'dbt_invocation_id') then
                raise exception 'audit.builds rows are append-only (build %)', old.build_id;
            end if;
            return new;
        end $$""")
    conn.execute("create or replace trigger builds_stamp_once before update on audit.builds "
                 "for each row execute function audit.stamp_once()")


def _close_other_databases(conn: psycopg.Connection) -> None:
    """PUBLIC may connect to every new database; take that away on `postgres` and Airflow's
    metadata database when they are on this server and the setup's login may, so the warehouse
    roles reach their own database only. Airflow's own login, when it is another one, keeps its
    way in. Other databases (another warehouse on the same server) are left to their own setup."""
    from urllib.parse import unquote, urlsplit

    airflow = urlsplit(os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", ""))
    names = ["postgres", airflow.path.lstrip("/") or "airflow"]
    airflow_user = unquote(airflow.username or "")
    others = conn.execute(
        "select datname from pg_database where datname = any(%s) and datname <> current_database() "
        "and (pg_has_role(datdba, 'MEMBER') or (select rolsuper from pg_roles where rolname = current_user))",
        (names,)).fetchall()
    for (name,) in others:
        database = sql.Identifier(name)
        if airflow_user and conn.execute("select 1 from pg_roles where rolname = %s",
                                         (airflow_user,)).fetchone():
            conn.execute(sql.SQL("grant connect, temporary on database {} to {}").format(
                database, sql.Identifier(airflow_user)))
        conn.execute(sql.SQL("revoke connect, temporary on database {} from public").format(database))


def _ensure_login(conn: psycopg.Connection, role: str, password: str) -> None:
    exists = conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone()
    verb = "alter" if exists else "create"
    conn.execute(sql.SQL(verb + " role {} login nocreatedb nocreaterole password {}").format(
        sql.Identifier(role), sql.Literal(password)))


def _own_schema(conn: psycopg.Connection, schema: str, role: str) -> None:
    """The schema and everything in it belongs to `role` (repairs objects made by another owner)."""
    ident = sql.Identifier(schema)
    owner = sql.Identifier(role)
    conn.execute(sql.SQL("create schema if not exists {} authorization {}").format(ident, owner))
    conn.execute(sql.SQL("alter schema {} owner to {}").format(ident, sql.Identifier(role)))
    objects = conn.execute(
        "select c.relname, c.relkind from pg_class as c join pg_namespace as n on n.oid = c.relnamespace "
        "join pg_roles as r on r.oid = c.relowner "
        "where n.nspname = %s and c.relkind in ('r', 'v', 'm', 'p') and r.rolname <> %s",
        (schema, role)).fetchall()
    for name, kind in objects:
        noun = {"v": "view", "m": "materialized view"}.get(kind, "table")
        conn.execute(sql.SQL("alter {} {} owner to {}").format(
            sql.SQL(noun), sql.Identifier(schema, name), sql.Identifier(role)))


def _store_key(conn: psycopg.Connection, inner: bytes, outer: bytes) -> None:
    conn.execute("create schema if not exists svw_private")
    conn.execute("revoke all on schema svw_private from public")
    conn.execute("create table if not exists svw_private.pseudonym_key ("
                 "singleton boolean primary key default true check (singleton), "
                 "inner_key bytea not null, outer_key bytea not null)")
    conn.execute("insert into svw_private.pseudonym_key (inner_key, outer_key) values (%s, %s) "
                 "on conflict (singleton) do update set inner_key = excluded.inner_key, "
                 "outer_key = excluded.outer_key", (inner, outer))
    # One row: without statistics the planner assumes hundreds, so every staging view that joins
    # it (the person_key HMAC) is estimated hundreds of times too large.
    conn.execute("analyze svw_private.pseudonym_key")
    conn.execute("grant usage on schema svw_private to transformer")
    conn.execute("grant select on svw_private.pseudonym_key to transformer")
