"""Slack workspace export (a ZIP dropped in a folder): users, channels and per-day message files.

Fields are read by name; nested values (reactions, files, replies) land as JSON text and anything we
do not map is kept in `_extra`. Private channels (groups.json) are flagged, DMs are not read:
they are not team activity. Each day file is small; users.json and channels.json are streamed.

The fast path (`copy_export`) COPYs users.json, channels.json, groups.json and every day file as
jsonb documents, one COPY per export (each file read whole: a document is one COPY field), and
expands them in SQL exactly as the readers below do. It
declines what Postgres refuses (invalid JSON or UTF-8, `\\u0000`, a BOM, a file that is not an
array of objects, a `members` that is neither an array nor null): the export is then read row by row.
Two differences keep the value: a number keeps its written form, and a JSON-valued field (profile,
topic, reactions, …) has jsonb's key order (bulk_json).
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Iterable, Iterator

import psycopg
from psycopg import sql

from social_value.bulk_json import JsonDocs, extra_of, text_of
from social_value.cast_rules import BOOLEAN, INTEGER, UNIX_TIME
from social_value.connectors.json_expand import ELEMENT_SEQ, field, insert, record
from social_value.connectors.json_stream import iter_json_array
from social_value.loader import RawTable, Stage

SCHEMA = "raw_slack"
USER_COLUMNS = ("id", "team_id", "name", "real_name", "deleted", "is_bot", "email", "title", "tz")
CHANNEL_COLUMNS = ("id", "name", "created", "creator", "is_archived", "is_general", "is_private",
                   "member_count")
MESSAGE_COLUMNS = ("channel_id", "channel_name", "ts", "type", "subtype", "user", "bot_id", "text",
                   "thread_ts", "parent_user_id", "reply_count", "reactions", "files", "edited_ts",
                   "export_day")
# Columns the readers derive rather than copy from the document's own field of that name.
_DERIVED = {"email", "title", "is_private", "member_count", "channel_id", "channel_name", "edited_ts",
            "export_day"}
DAY_FILE = re.compile(r"(?P<channel>[^/]+)/(?P<day>\d{4}-\d{2}-\d{2})\.json")


def tables(schema: str = SCHEMA) -> dict[str, RawTable]:
    return {
        "users": RawTable(schema, "users", USER_COLUMNS, casts={"deleted": BOOLEAN, "is_bot": BOOLEAN}),
        "channels": RawTable(schema, "channels", CHANNEL_COLUMNS, casts={
            "created": UNIX_TIME, "is_archived": BOOLEAN, "is_general": BOOLEAN, "is_private": BOOLEAN,
            "member_count": INTEGER}),
        "messages": RawTable(schema, "messages", MESSAGE_COLUMNS, key=("channel_id", "ts"),
                             casts={"ts": UNIX_TIME, "edited_ts": UNIX_TIME}),
    }


def _text(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def _json_array(archive: zipfile.ZipFile, member: str) -> Iterator[dict]:
    with archive.open(member) as raw:
        yield from iter_json_array(io.TextIOWrapper(raw, encoding="utf-8-sig"))


def read_users(archive: zipfile.ZipFile) -> Iterator[dict]:
    for user in _json_array(archive, "users.json"):
        profile = user.pop("profile", {}) or {}
        row = {k: _text(v) for k, v in user.items()}
        row.update(email=_text(profile.pop("email", None)), title=_text(profile.pop("title", None)))
        if profile:
            row["profile"] = _text(profile)
        yield row


def read_channels(archive: zipfile.ZipFile) -> Iterator[dict]:
    names = set(archive.namelist())
    for member, private in (("channels.json", False), ("groups.json", True)):
        if member not in names:
            continue
        for channel in _json_array(archive, member):
            members = channel.pop("members", None)
            row = {k: _text(v) for k, v in channel.items()}
            row.update(is_private=_text(private), member_count=_text(len(members) if members else None))
            yield row


def channel_ids(archive: zipfile.ZipFile) -> dict[str, str]:
    return {row["name"]: row["id"] for row in read_channels(archive)}


def read_messages(archive: zipfile.ZipFile) -> Iterator[dict]:
    """Messages of every public and private channel folder, in file order."""
    ids = channel_ids(archive)
    for member in sorted(archive.namelist()):
        match = DAY_FILE.fullmatch(member)
        if not match or match["channel"] not in ids:
            continue  # DM folders and unknown folders are not channels
        for message in _json_array(archive, member):
            edited = message.pop("edited", None) or {}
            row = {k: _text(v) for k, v in message.items()}
            row.update(channel_id=ids[match["channel"]], channel_name=match["channel"],
                       export_day=match["day"], edited_ts=_text(edited.get("ts")))
            yield row


def copy_export(conn: psycopg.Connection, archive: zipfile.ZipFile, stages: dict[str, Stage],
                origin: str) -> dict[str, int]:
    """The export's documents into the stages of `tables()`, as read_users, read_channels and
    read_messages give them; rows staged per table. Raises psycopg's DataError (run it in
    bulk_json.land) where the export must be read row by row."""
    names = archive.namelist()
    with JsonDocs(conn, "slack", ("member", "channel", "day")) as docs:
        # Streamed: users.json grows with the organisation (3.7 MB at 20,000 people).
        for member in ("users.json", "channels.json", "groups.json"):
            if member in names or member == "users.json":
                with archive.open(member) as document:
                    docs.add(document, member, None, None)
        for member in sorted(names):  # read_messages' order: later duplicates of a key win
            if match := DAY_FILE.fullmatch(member):
                docs.add(archive.read(member), member, match["channel"], match["day"])
    staged = {"users": _expand_users(stages["users"], docs.ident, f"{origin}:users"),
              "channels": _expand_channels(stages["channels"], docs.ident, f"{origin}:channels"),
              "messages": _expand_messages(stages["messages"], stages["channels"], docs.ident,
                                           f"{origin}:messages")}
    conn.execute(sql.SQL("drop table {}").format(docs.ident))
    return staged


def _elements(docs: sql.Identifier, columns: Iterable[str], where: str = "",
              join: sql.Composable | None = None) -> tuple[sql.Composable, dict[str, sql.Composable]]:
    """The objects of the documents' arrays (`elements.value`, numbered `elements.n`) with their
    `columns` as text, and those columns for `insert`."""
    fields, texts = record("elements.value", [c for c in columns if c not in _DERIVED])
    rows = sql.SQL("cross join lateral jsonb_array_elements(docs.doc) with ordinality as elements(value, n)")
    clause = sql.SQL("from {} as docs{} {}{} {}").format(
        docs, join or sql.SQL(""), rows, fields, sql.SQL(where))
    return clause, texts


def _expand_users(stage: Stage, docs: sql.Identifier, origin: str) -> int:
    """read_users: profile.email and profile.title pulled up, the rest of profile as JSON text."""
    profile = sql.SQL("(case when jsonb_typeof(elements.value -> 'profile') = 'object' "
                      "then elements.value -> 'profile' else '{{}}' end)").format()
    rest = sql.SQL("({} - '{{email,title}}'::text[])").format(profile)
    extra = sql.SQL("nullif(coalesce({}, '{{}}') || case when {rest} = '{{}}' then '{{}}' "
                    "else jsonb_build_object('profile', {rest}::text) end, '{{}}')").format(
        extra_of(sql.SQL("elements.value"), [*USER_COLUMNS, "profile"]), rest=rest)
    rows, texts = _elements(docs, USER_COLUMNS, "where docs.member = 'users.json'")
    columns = {**texts, "email": text_of(sql.SQL("({} -> 'email')").format(profile)),
               "title": text_of(sql.SQL("({} -> 'title')").format(profile)),
               "_extra": extra, "_origin": sql.Literal(origin), "_seq": ELEMENT_SEQ}
    return insert(stage, columns, rows)


def _expand_channels(stage: Stage, docs: sql.Identifier, origin: str) -> int:
    """read_channels: groups.json's are private; members → member_count (NULL when none). A
    `members` that is not an array stops jsonb_array_length, so the export goes row by row."""
    members = "elements.value -> 'members'"
    rows, texts = _elements(docs, CHANNEL_COLUMNS, "where docs.member in ('channels.json', 'groups.json')")
    columns = {**texts,
               "is_private": sql.SQL("case docs.member when 'groups.json' then 'true' else 'false' end"),
               "member_count": sql.SQL(f"case when coalesce({members}, 'null') in ('null', '[]') then null "
                                       f"else jsonb_array_length({members})::text end"),
               "_extra": extra_of(sql.SQL("elements.value"), [*CHANNEL_COLUMNS, "members"]),
               "_origin": sql.Literal(origin), "_seq": ELEMENT_SEQ}
    return insert(stage, columns, rows)


def _expand_messages(stage: Stage, channels: Stage, docs: sql.Identifier, origin: str) -> int:
    """read_messages: channel_id by channel name (the last channel of that name, as
    channel_ids); the folders of no channel (DMs, unknown) are left out by the join."""
    ids = sql.SQL(" join (select distinct on (name) name, id from {} order by name, _seq desc) as channels "
                  "on channels.name = docs.channel").format(channels.ident)
    rows, texts = _elements(docs, MESSAGE_COLUMNS, join=ids)
    columns = {"channel_id": sql.SQL("channels.id"), "channel_name": sql.SQL("docs.channel"), **texts,
               "edited_ts": text_of(field("elements.value", "edited", "ts")),
               "export_day": sql.SQL("docs.day"),
               "_extra": extra_of(sql.SQL("elements.value"), [*MESSAGE_COLUMNS, "edited"]),
               "_origin": sql.Literal(origin), "_seq": ELEMENT_SEQ}
    return insert(stage, columns, rows)
