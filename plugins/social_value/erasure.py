"""GDPR erasure of one person, end to end: raw rows, derived rows, and future loads.

1. raw: every landed record about the person — their intranet directory rows and messages (Viva
   Engage, Slack), their daily activity report rows (Graph), their activity events, their CRM user
   record — and quarantined payloads that mention their email are deleted;
2. core and marts: every row keyed by their person key is deleted (the next build recomputes the
   aggregates without them: `python -m social_value erase` runs it);
3. raw_meta.erasures keeps the person key and their source user ids (never the email), so later
   loads skip the person while a source system still exports them (ErasedPeople below).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections import Counter
from collections.abc import Iterable, Iterator

import psycopg
from psycopg import sql

from social_value import loader
from social_value.warehouse_setup import require_key

PERSON_COLUMNS = ("person_key", "author_key")

# Raw records found by the person's email: (table, email column, id column, id kind or None).
BY_EMAIL = [
    ("raw_viva_engage.users", "email", "id", "viva_engage"),
    ("raw_slack.users", "email", "id", "slack"),
    ("raw_msgraph.yammer_activity_user_detail", "user_principal_name", None, None),
    ("raw_activity_events.events", "user_email", None, None),
    ("raw_salesforce.users", "Email", "Id", "salesforce"),
]
# Raw records found by a source user id: (table, id column, id kind).
BY_ID = [
    ("raw_viva_engage.messages", "sender_id", "viva_engage"),
    ("raw_slack.messages", "user", "slack"),
]


def person_key(email: str, pseudonym_key: str) -> str:
    """The same keyed hash staging computes (HMAC-SHA256 of the lower-cased email)."""
    return hmac.new(pseudonym_key.encode(), email.strip().lower().encode(), hashlib.sha256).hexdigest()


def _exists(conn: psycopg.Connection, table: str) -> bool:
    return conn.execute("select to_regclass(%s) is not null", (table,)).fetchone()[0]


def _ident(table: str) -> sql.Identifier:
    return sql.Identifier(*table.split("."))


def erase_person(owner_url: str, email: str, pseudonym_key: str | None) -> dict[str, int]:
    """Delete everything about the person with this email; returns rows deleted per table."""
    email = email.strip().lower()
    key = person_key(email, require_key(pseudonym_key))
    deleted: dict[str, int] = {}
    ids: dict[str, list[str]] = {}
    with psycopg.connect(owner_url) as conn:
        conn.execute(loader.META_DDL)
        for table, email_column, id_column, kind in BY_EMAIL:
            if not _exists(conn, table):
                continue
            where = sql.SQL("lower(trim({})) = %s").format(sql.Identifier(email_column))
            if id_column:
                ids.setdefault(kind, []).extend(row[0] for row in conn.execute(
                    sql.SQL("select {} from {} where ").format(sql.Identifier(id_column), _ident(table))
                    + where, (email,)))
            for id_table, column, id_kind in BY_ID:
                if id_kind == kind and ids.get(kind) and _exists(conn, id_table):
                    deleted[id_table] = conn.execute(
                        sql.SQL("delete from {} where {} = any(%s)").format(
                            _ident(id_table), sql.Identifier(column)), (ids[kind],)).rowcount
            deleted[table] = conn.execute(sql.SQL("delete from {} where ").format(_ident(table)) + where,
                                          (email,)).rowcount
        deleted["raw_meta.quarantine"] = conn.execute(
            "delete from raw_meta.quarantine where payload ilike %s", (f"%{email}%",)).rowcount
        derived = conn.execute(
            "select c.table_schema, c.table_name, c.column_name from information_schema.columns as c "
            "join information_schema.tables as t using (table_schema, table_name) "
            "where c.table_schema in ('core', 'marts', 'marts_candidate') and t.table_type = 'BASE TABLE' "
            "and c.column_name = any(%s)", (list(PERSON_COLUMNS),)).fetchall()
        for schema, table, column in derived:
            deleted[f"{schema}.{table}"] = conn.execute(
                sql.SQL("delete from {} where {} = %s").format(
                    sql.Identifier(schema, table), sql.Identifier(column)), (key,)).rowcount
        conn.execute(
            "insert into raw_meta.erasures (person_key, source_ids) values (%s, %s) "
            "on conflict (person_key) do update set source_ids = raw_meta.erasures.source_ids || "
            "excluded.source_ids, erased_at = now()", (key, json.dumps(ids)))
    return deleted


class ErasedPeople:
    """Skips erased people in a load: records carrying their email (compared by keyed hash, as the
    register holds no emails) or one of their source user ids. An id met with an erased email is
    remembered, so that person's messages later in the same load are skipped too."""

    def __init__(self, keys: set[str], ids: dict[str, set[str]], pseudonym_key: str | None) -> None:
        pseudonym_key = pseudonym_key or os.environ.get("SVW_PSEUDONYM_KEY")
        if keys and not pseudonym_key:
            require_key(pseudonym_key)  # raises: erased people can only be matched with the key
        self.keys, self.ids, self.pseudonym_key = keys, ids, pseudonym_key
        self.skipped: Counter = Counter()

    @classmethod
    def load(cls, conn: psycopg.Connection, pseudonym_key: str | None) -> ErasedPeople:
        conn.execute(loader.META_DDL)
        keys, ids = set(), {}
        for key, source_ids in conn.execute("select person_key, source_ids from raw_meta.erasures"):
            keys.add(key)
            for kind, values in (source_ids or {}).items():
                ids.setdefault(kind, set()).update(values)
        return cls(keys, ids, pseudonym_key)

    def skip(self, rows: Iterable, stream: str, email_field: str | None = None,
             id_field: str | None = None, id_kind: str | None = None) -> Iterator:
        for row in rows:
            if self.keys and isinstance(row, dict) and self.matches(row, email_field, id_field, id_kind):
                self.skipped[stream] += 1
                continue
            yield row

    def matches(self, row: dict, email_field: str | None, id_field: str | None = None,
                id_kind: str | None = None) -> bool:
        """Is this record about an erased person?"""
        known = self.ids.setdefault(id_kind, set()) if id_kind else set()
        if id_field and row.get(id_field) in known:
            return True
        email = (row.get(email_field) or "").strip() if email_field else ""
        if email and person_key(email, self.pseudonym_key) in self.keys:
            if id_field and row.get(id_field):
                known.add(row[id_field])
            return True
        return False
