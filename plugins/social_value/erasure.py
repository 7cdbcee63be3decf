"""GDPR erasure of one person, end to end: raw rows, mentions, derived rows, and future loads.

1. raw: every landed record about the person — their intranet directory rows and messages (Viva
   Engage, Slack), their daily activity report rows (Graph), their activity events, their CRM user
   record — and quarantined payloads that hold their email, a source user id or their directory
   name are deleted; their ids in other people's records (Slack `<@U…>` mentions and reactions,
   Viva Engage participants, Salesforce owners and creators) are masked;
2. core and marts: every row keyed by their person key is deleted (the next build recomputes the
   aggregates without them: `python -m social_value erase` runs it);
3. svw_private.erasures keeps an erasure hash of their email and their source user ids (never the
   email), so later loads skip the person while a source system still exports them (ErasedPeople).

The erasure hash is an HMAC with a key of its own (svw_private.erasure_key), generated once by the
setup and never rotated: rotating SVW_PSEUDONYM_KEY changes every person key, and a register of
person keys alone would then match no one. The loader reads that key from the database, so no
process needs the pseudonym key to honour an erasure. The register lives in svw_private, which
the loader does not own: the owner of a schema may drop any table in it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
from collections import Counter
from collections.abc import Iterable, Iterator

import psycopg
from psycopg import sql

from social_value import loader
from social_value.warehouse_setup import require_key

PERSON_COLUMNS = ("person_key", "author_key", "owner_key")
REGISTER = "svw_private.erasures"

# One full address: no wildcard, list or bare domain can erase someone else.
EMAIL = re.compile(r"[a-z0-9!#$&'+/=?^_`{|}~.-]+@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9-]+)+")
# Source user ids the loaders land: digits, letters, '_' and '-' (checked before they enter a regex).
SOURCE_ID = re.compile(r"[A-Za-z0-9_-]+")

# Raw records found by the person's email: (table, email column, id column, id kind or None).
BY_EMAIL = [
    ("raw_viva_engage.users", "email", "id", "viva_engage"),
    ("raw_slack.users", "email", "id", "slack"),
    ("raw_msgraph.yammer_activity_user_detail", "user_principal_name", None, None),
    ("raw_activity_events.events", "user_email", None, None),
    ("raw_salesforce.users", "Email", "Id", "salesforce"),
]
# Their directory display names (looked for in quarantined payloads): (table, column).
NAMES = [("raw_viva_engage.users", "name"), ("raw_slack.users", "real_name"),
         ("raw_salesforce.users", "Name")]
# Raw records found by a source user id: (table, id column, id kind).
BY_ID = [
    ("raw_viva_engage.messages", "sender_id", "viva_engage"),
    ("raw_slack.messages", "user", "slack"),
]
# Their ids in other people's records: (table, column, id kind, pattern, mask). Pattern None: the
# column is the id and becomes NULL; else a regular expression around the ids ({}), replaced by mask.
MENTIONS = [
    ("raw_slack.messages", "text", "slack", r"<@{}(\|[^>]*)?>", "<@erased>"),
    ("raw_slack.messages", "reactions", "slack", r'"{}"', '"erased"'),
    ("raw_slack.messages", "parent_user_id", "slack", None, None),
    ("raw_viva_engage.messages", "participants", "viva_engage", r"user:{}\M", "user:erased"),
    ("raw_viva_engage.messages", "body", "viva_engage", r"\[\[user:{}\]\]", "[[user:erased]]"),
    ("raw_viva_engage.messages", "delegate_id", "viva_engage", None, None),
    ("raw_viva_engage.messages", "deleted_by_id", "viva_engage", None, None),
    ("raw_viva_engage.users", "deleted_by_id", "viva_engage", None, None),
    ("raw_viva_engage.users", "suspended_by_id", "viva_engage", None, None),
    ("raw_salesforce.opportunities", "OwnerId", "salesforce", None, None),
    ("raw_salesforce.accounts", "OwnerId", "salesforce", None, None),
    ("raw_salesforce.opportunity_history", "CreatedById", "salesforce", None, None),
]

REGISTER_DDL = """
create table if not exists svw_private.erasure_key (
    singleton boolean primary key default true check (singleton),
    erasure_key bytea not null
);
create table if not exists svw_private.erasures (
    erasure_id bigint generated always as identity primary key,
    email_hash text unique,
    person_key text,
    source_ids jsonb not null default '{}',
    erased_at timestamptz not null default now()
);
comment on table svw_private.erasures is 'People erased under GDPR: an HMAC of the email with the'
    ' never-rotated erasure key, the person key at the time, and source user ids; no email.';
"""


def person_key(email: str, pseudonym_key: str) -> str:
    """The same keyed hash staging computes (HMAC-SHA256 of the lower-cased email)."""
    return hmac.new(pseudonym_key.encode(), email.strip().lower().encode(), hashlib.sha256).hexdigest()


def erasure_hash(email: str, erasure_key: bytes) -> str:
    """HMAC-SHA256 of the lower-cased email with the erasure key (which is never rotated)."""
    return hmac.new(erasure_key, email.strip().lower().encode(), hashlib.sha256).hexdigest()


def valid_email(text: str) -> str:
    """The one full email address erase may act on, lower-cased; anything else is refused."""
    email = (text or "").strip().lower()
    if not EMAIL.fullmatch(email):
        raise ValueError(f"erase needs one full email address (name@domain.tld), not {text!r}: "
                         "no bare domain, wildcard, list or white space")
    return email


def ensure_register(conn: psycopg.Connection) -> None:
    """As the owner (the setup): the register, its key (made once, never replaced) and the move
    of an older raw_meta.erasures, which the loader owned, into it."""
    conn.execute(REGISTER_DDL)
    conn.execute("insert into svw_private.erasure_key (erasure_key) values (%s) on conflict do nothing",
                 (secrets.token_bytes(32),))
    if conn.execute("select to_regclass('raw_meta.erasures') is not null").fetchone()[0]:
        conn.execute("insert into svw_private.erasures (person_key, source_ids, erased_at) "
                     "select person_key, source_ids, erased_at from raw_meta.erasures as old "
                     "where not exists (select 1 from svw_private.erasures as new "
                     "where new.person_key = old.person_key)")
        conn.execute("drop table raw_meta.erasures")
    conn.execute("revoke all on svw_private.erasures, svw_private.erasure_key from public")
    # Loads skip erased people; a build checks whether someone was erased since it last published.
    conn.execute("grant select on svw_private.erasures, svw_private.erasure_key to loader")
    conn.execute("grant select on svw_private.erasures to transformer")
    conn.execute("grant usage on schema svw_private to loader")


def _erasure_key(conn: psycopg.Connection) -> bytes:
    row = conn.execute("select erasure_key from svw_private.erasure_key").fetchone()
    if row is None:
        raise RuntimeError("svw_private.erasure_key is empty: run the setup (python -m social_value setup)")
    return bytes(row[0])


def _exists(conn: psycopg.Connection, table: str) -> bool:
    return conn.execute("select to_regclass(%s) is not null", (table,)).fetchone()[0]


def _ident(table: str) -> sql.Identifier:
    return sql.Identifier(*table.split("."))


def erase_person(owner_url: str, email: str, pseudonym_key: str | None,
                 dry_run: bool = False) -> dict[str, int]:
    """Delete everything about the person with this email and mask their ids in other records;
    returns rows deleted or masked per table. A dry run does the same and rolls it back."""
    email = valid_email(email)
    key = person_key(email, require_key(pseudonym_key))
    with psycopg.connect(owner_url) as conn:
        conn.execute(loader.META_DDL)
        email_hash = erasure_hash(email, _erasure_key(conn))
        changed = _erase(conn, email, email_hash, key)
        if dry_run:
            conn.rollback()
    return changed


def _erase(conn: psycopg.Connection, email: str, email_hash: str, key: str) -> dict[str, int]:
    changed: Counter = Counter()
    ids: dict[str, set[str]] = {}
    names: set[str] = set()
    # Ids an earlier erasure of the same person recorded (their directory rows are gone since).
    for (source_ids,) in conn.execute(f"select source_ids from {REGISTER} where email_hash = %s",
                                      (email_hash,)):
        for kind, values in source_ids.items():
            ids.setdefault(kind, set()).update(values)
    email_match = sql.SQL("lower(trim({})) = %s")
    for table, email_column, id_column, kind in BY_EMAIL:
        if id_column and _exists(conn, table):
            found = conn.execute(sql.SQL("select {} from {} where ").format(
                sql.Identifier(id_column), _ident(table)) + email_match.format(sql.Identifier(email_column)),
                (email,))
            ids.setdefault(kind, set()).update(value for (value,) in found if value)
    for table, column in NAMES:
        if _exists(conn, table):
            id_column = next(c for t, _, c, _ in BY_EMAIL if t == table)
            kind = next(k for t, _, _, k in BY_EMAIL if t == table)
            found = conn.execute(sql.SQL("select {} from {} where {} = any(%s)").format(
                sql.Identifier(column), _ident(table), sql.Identifier(id_column)),
                (sorted(ids.get(kind, ())),))
            # A single word ('Jan') would match other people's records too.
            names.update(name.strip() for (name,) in found if name and len(name.split()) >= 2)
    for table, column, kind in BY_ID:
        if ids.get(kind) and _exists(conn, table):
            changed[table] += conn.execute(sql.SQL("delete from {} where {} = any(%s)").format(
                _ident(table), sql.Identifier(column)), (sorted(ids[kind]),)).rowcount
    for table, email_column, _, _ in BY_EMAIL:
        if _exists(conn, table):
            where = email_match.format(sql.Identifier(email_column))
            changed[table] += conn.execute(sql.SQL("delete from {} where ").format(_ident(table)) + where,
                                           (email,)).rowcount
    for table, column, kind, pattern, mask in MENTIONS:
        if ids.get(kind) and _exists(conn, table):
            changed[f"{table}.{column} (masked)"] += _mask(conn, table, column, sorted(ids[kind]),
                                                           pattern, mask)
    needles = [email, *sorted(i for values in ids.values() for i in values if len(i) >= 6), *sorted(names)]
    changed["raw_meta.quarantine"] += conn.execute(
        "delete from raw_meta.quarantine where exists (select 1 from unnest(%s::text[]) as needle "
        "where strpos(lower(payload), lower(needle)) > 0)", (needles,)).rowcount
    derived = conn.execute(
        "select c.table_schema, c.table_name, c.column_name from information_schema.columns as c "
        "join information_schema.tables as t using (table_schema, table_name) "
        "where c.table_schema in ('core', 'marts', 'marts_candidate') and t.table_type = 'BASE TABLE' "
        "and c.column_name = any(%s)", (list(PERSON_COLUMNS),)).fetchall()
    for schema, table, column in derived:
        changed[f"{schema}.{table}"] += conn.execute(
            sql.SQL("delete from {} where {} = %s").format(
                sql.Identifier(schema, table), sql.Identifier(column)), (key,)).rowcount
    conn.execute(
        f"insert into {REGISTER} (email_hash, person_key, source_ids) values (%s, %s, %s) "
        "on conflict (email_hash) do update set source_ids = excluded.source_ids, "
        "person_key = excluded.person_key, erased_at = now()",
        (email_hash, key, json.dumps({kind: sorted(values) for kind, values in ids.items()})))
    return dict(changed)


def _mask(conn: psycopg.Connection, table: str, column: str, ids: list[str], pattern: str | None,
          mask: str | None) -> int:
    target = sql.Identifier(column)
    if pattern is None:
        return conn.execute(sql.SQL("update {} set {} = null where {} = any(%s)").format(
            _ident(table), target, target), (ids,)).rowcount
    if not all(SOURCE_ID.fullmatch(value) for value in ids):
        raise ValueError(f"unexpected characters in a source user id of {table}: not masked")
    regex = pattern.format("(" + "|".join(ids) + ")")
    return conn.execute(sql.SQL("update {} set {} = regexp_replace({}, %s, %s, 'g') where {} ~ %s").format(
        _ident(table), target, target, target), (regex, mask, regex)).rowcount


class ErasedPeople:
    """Skips erased people in a load: records carrying their email (compared by erasure hash, as
    the register holds no emails; registers written before the erasure key by person key, with the
    pseudonym key) or one of their source user ids. An id met with an erased email is remembered,
    so that person's messages later in the same load are skipped too."""

    def __init__(self, keys: set[str], ids: dict[str, set[str]], pseudonym_key: str | None,
                 email_hashes: set[str] | None = None, erasure_key: bytes | None = None) -> None:
        pseudonym_key = pseudonym_key or os.environ.get("SVW_PSEUDONYM_KEY")
        if keys and not pseudonym_key:
            require_key(pseudonym_key)  # raises: such entries can only be matched with the key
        self.keys, self.ids, self.pseudonym_key = keys, ids, pseudonym_key
        self.email_hashes, self.erasure_key = email_hashes or set(), erasure_key
        self.skipped: Counter = Counter()

    @property
    def active(self) -> bool:
        return bool(self.keys or self.email_hashes or any(self.ids.values()))

    @classmethod
    def load(cls, conn: psycopg.Connection, pseudonym_key: str | None = None) -> ErasedPeople:
        conn.execute(loader.META_DDL)
        keys, hashes, ids = set(), set(), {}
        for key, email_hash, source_ids in conn.execute(
                f"select person_key, email_hash, source_ids from {REGISTER}"):
            if email_hash:
                hashes.add(email_hash)
            elif key:
                keys.add(key)
            for kind, values in (source_ids or {}).items():
                ids.setdefault(kind, set()).update(values)
        return cls(keys, ids, pseudonym_key, hashes, _erasure_key(conn) if hashes else None)

    def email_erased(self, email: str) -> bool:
        email = (email or "").strip()
        if not email:
            return False
        if self.email_hashes and erasure_hash(email, self.erasure_key) in self.email_hashes:
            return True
        return bool(self.keys) and person_key(email, self.pseudonym_key) in self.keys

    def skip(self, rows: Iterable, stream: str, email_field: str | None = None,
             id_field: str | None = None, id_kind: str | None = None) -> Iterator:
        for row in rows:
            if self.active and isinstance(row, dict) and self.matches(row, email_field, id_field, id_kind):
                self.skipped[stream] += 1
                continue
            yield row

    def matches(self, row: dict, email_field: str | None, id_field: str | None = None,
                id_kind: str | None = None) -> bool:
        """Is this record about an erased person?"""
        known = self.ids.setdefault(id_kind, set()) if id_kind else set()
        if id_field and row.get(id_field) in known:
            return True
        if email_field and self.email_erased(row.get(email_field)):
            if id_field and row.get(id_field):
                known.add(row[id_field])
            return True
        return False
