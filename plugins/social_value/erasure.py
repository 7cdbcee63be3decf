"""GDPR erasure of one person, end to end: raw rows, derived rows, and future loads.

1. raw: the person's directory rows and the messages they sent are deleted, and so are quarantined
   payloads that mention their email;
2. core and marts: every row keyed by their person key is deleted (the next build recomputes the
   aggregates without them: `python -m social_value erase` runs it);
3. raw_meta.erasures keeps the person key and source ids (no email), so later loads skip the person
   even while a source system still exports them.
"""

from __future__ import annotations

import hashlib
import hmac

import psycopg
from psycopg import sql

from social_value import loader
from social_value.warehouse_setup import require_key

PERSON_COLUMNS = ("person_key", "author_key")


def person_key(email: str, pseudonym_key: str) -> str:
    """The same keyed hash staging computes (HMAC-SHA256 of the lower-cased email)."""
    return hmac.new(pseudonym_key.encode(), email.strip().lower().encode(), hashlib.sha256).hexdigest()


def erase_person(owner_url: str, email: str, pseudonym_key: str | None) -> dict[str, int]:
    """Delete everything about the person with this email; returns rows deleted per table."""
    email = email.strip().lower()
    key = person_key(email, require_key(pseudonym_key))
    deleted: dict[str, int] = {}
    with psycopg.connect(owner_url) as conn:
        conn.execute(loader.META_DDL)
        ids = [row[0] for row in conn.execute(
            "select id from raw_viva_engage.users where lower(trim(email)) = %s", (email,))]
        deleted["raw_viva_engage.messages"] = conn.execute(
            "delete from raw_viva_engage.messages where sender_id = any(%s)", (ids,)).rowcount
        deleted["raw_viva_engage.users"] = conn.execute(
            "delete from raw_viva_engage.users where id = any(%s)", (ids,)).rowcount
        deleted["raw_meta.quarantine"] = conn.execute(
            "delete from raw_meta.quarantine where payload ilike %s", (f"%{email}%",)).rowcount
        derived = conn.execute(
            "select c.table_schema, c.table_name, c.column_name from information_schema.columns as c "
            "join information_schema.tables as t using (table_schema, table_name) "
            "where c.table_schema in ('core', 'marts') and t.table_type = 'BASE TABLE' "
            "and c.column_name = any(%s)", (list(PERSON_COLUMNS),)).fetchall()
        for schema, table, column in derived:
            deleted[f"{schema}.{table}"] = conn.execute(
                sql.SQL("delete from {} where {} = %s").format(
                    sql.Identifier(schema, table), sql.Identifier(column)), (key,)).rowcount
        conn.execute(
            "insert into raw_meta.erasures (person_key, viva_engage_user_ids) values (%s, %s) "
            "on conflict (person_key) do update set viva_engage_user_ids = "
            "array(select distinct unnest("
            "raw_meta.erasures.viva_engage_user_ids || excluded.viva_engage_user_ids)), "
            "erased_at = now()", (key, ids))
    return deleted


def erased_people(conn: psycopg.Connection) -> tuple[set[str], set[str]]:
    """(person keys, Viva Engage user ids) that loads must skip."""
    keys, ids = set(), set()
    for key, user_ids in conn.execute("select person_key, viva_engage_user_ids from raw_meta.erasures"):
        keys.add(key)
        ids.update(user_ids or ())
    return keys, ids
