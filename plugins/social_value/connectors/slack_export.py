"""Slack workspace export (a ZIP dropped in a folder): users, channels and per-day message files.

Fields are read by name; nested values (reactions, files, replies) land as JSON text and anything we
do not map is kept in `_extra`. Private channels (groups.json) are flagged, DMs are not read:
they are not team activity. Of a user's profile only email and title land: phone, Skype, names,
images, status and custom fields are personal and no model needs them. A `file_comment` (older
exports: a comment on a file, its author in `comment.user`) lands with that author as `user`.

An export that is not a ZIP, lacks users.json or channels.json, has a member over the limits
(drop_limits) or a file that is not a JSON array of objects is rejected whole (RejectedFileError,
naming the member); one record over the record limit is quarantined.

The fast path (`copy_export`) COPYs users.json, channels.json, groups.json and every day file as
jsonb documents, one COPY per export (each day file read whole: a document is one COPY field), and
expands them in SQL exactly as the readers below do. It declines an export with a member over the
fast path's size (read whole, it would cost its size in memory), and what Postgres refuses (invalid
JSON or UTF-8, `\\u0000`, a BOM, a file that is not an array of objects, a `members` that is
neither an array nor null): the export is then read row by row. Two differences keep the value: a
number keeps its written form, and a JSON-valued field (topic, reactions, …) has jsonb's key order
(bulk_json).
"""

from __future__ import annotations

import io
import json
import re
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql

from social_value.bulk_copy import DeclinedError
from social_value.bulk_json import JsonDocs, extra_of, text_of
from social_value.cast_rules import BOOLEAN, INTEGER, UNIX_TIME
from social_value.connectors.json_expand import ELEMENT_SEQ, field, insert, record
from social_value.connectors.json_stream import Oversized, iter_json_array
from social_value.drop_limits import DropLimits
from social_value.loader import RawTable, Rejected, Stage
from social_value.rejections import RejectedFileError

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
REQUIRED_MEMBERS = ("users.json", "channels.json")


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


def _file_name(archive: zipfile.ZipFile) -> str:
    return Path(str(archive.filename)).name


@contextmanager
def _member_errors(archive: zipfile.ZipFile, member: str) -> Iterator[None]:
    """A member that cannot be read or parsed rejects the export, naming the member."""
    try:
        yield
    except RejectedFileError:
        raise
    except UnicodeDecodeError as error:
        raise RejectedFileError(_file_name(archive), f"not UTF-8: {error}", member) from error
    except (zipfile.BadZipFile, zlib.error, EOFError) as error:
        raise RejectedFileError(_file_name(archive), f"corrupt member ({error or 'it ends early'})",
                                member) from error
    except ValueError as error:
        raise RejectedFileError(_file_name(archive), str(error), member) from error


def check_export(archive: zipfile.ZipFile, limits: DropLimits) -> None:
    """Reject an archive that is not a Slack export or holds a member over the limits."""
    missing = [member for member in REQUIRED_MEMBERS if member not in archive.NameToInfo]
    if missing:
        raise RejectedFileError(_file_name(archive), f"not a Slack export: no {' or '.join(missing)} "
                                "at the top of the ZIP")
    limits.check_archive(archive)


def _json_array(archive: zipfile.ZipFile, member: str,
                limits: DropLimits | None = None) -> Iterator[dict | Rejected]:
    """The objects of one member's array; an element that is not an object rejects the export,
    one over the record limit is quarantined."""
    limits = limits or DropLimits.from_env()
    with _member_errors(archive, member), archive.open(member) as raw:
        elements = iter_json_array(io.TextIOWrapper(raw, encoding="utf-8-sig"), limits.max_record_bytes)
        for number, element in enumerate(elements, start=1):
            if isinstance(element, Oversized):
                yield Rejected(f"{member}: record {number} is {element.chars:,} characters, over the "
                               f"limit of {limits.max_record_bytes:,} (SVW_DROP_MAX_RECORD_MB)", element.head)
            elif isinstance(element, dict):
                yield element
            else:
                raise ValueError(f"record {number} is not a JSON object: {json.dumps(element)[:80]}")


def read_users(archive: zipfile.ZipFile) -> Iterator[dict | Rejected]:
    for user in _json_array(archive, "users.json"):
        if isinstance(user, Rejected):
            yield user
            continue
        profile = user.pop("profile", None)
        profile = profile if isinstance(profile, dict) else {}
        row = {k: _text(v) for k, v in user.items()}
        row.update(email=_text(profile.get("email")), title=_text(profile.get("title")))
        yield row


def read_channels(archive: zipfile.ZipFile) -> Iterator[dict | Rejected]:
    names = set(archive.namelist())
    for member, private in (("channels.json", False), ("groups.json", True)):
        if member not in names:
            continue
        for channel in _json_array(archive, member):
            if isinstance(channel, Rejected):
                yield channel
                continue
            members = channel.pop("members", None)
            row = {k: _text(v) for k, v in channel.items()}
            row.update(is_private=_text(private), member_count=_text(len(members) if members else None))
            yield row


def channel_ids(archive: zipfile.ZipFile) -> dict[str, str]:
    return {row["name"]: row["id"] for row in read_channels(archive) if isinstance(row, dict)}


def read_messages(archive: zipfile.ZipFile) -> Iterator[dict | Rejected]:
    """Messages of every public and private channel folder, in file order."""
    ids = channel_ids(archive)
    for member in sorted(archive.namelist()):
        match = DAY_FILE.fullmatch(member)
        if not match or match["channel"] not in ids:
            continue  # DM folders and unknown folders are not channels
        for message in _json_array(archive, member):
            if isinstance(message, Rejected):
                yield message
                continue
            edited = message.pop("edited", None)
            edited = edited if isinstance(edited, dict) else {}
            row = {k: _text(v) for k, v in message.items()}
            if row.get("user") is None and isinstance(comment := message.get("comment"), dict):
                row["user"] = _text(comment.get("user"))  # a file_comment's author
            row.update(channel_id=ids[match["channel"]], channel_name=match["channel"],
                       export_day=match["day"], edited_ts=_text(edited.get("ts")))
            yield row


def copy_export(conn: psycopg.Connection, archive: zipfile.ZipFile, stages: dict[str, Stage],
                origin: str, limits: DropLimits | None = None) -> dict[str, int]:
    """The export's documents into the stages of `tables()`, as read_users, read_channels and
    read_messages give them; rows staged per table. Raises DeclinedError or psycopg's DataError
    (run it in bulk_json.land) where the export must be read row by row."""
    bound = (limits or DropLimits.from_env()).fast_path_member_bytes
    for info in archive.infolist():  # day files are read whole; users.json and the like are streamed
        if DAY_FILE.fullmatch(info.filename) and info.file_size > bound:
            raise DeclinedError(f"{info.filename} is {info.file_size:,} bytes, over the fast path's "
                                f"{bound:,} (SVW_DROP_FAST_MEMBER_MB)")
    names = archive.namelist()
    with JsonDocs(conn, "slack", ("member", "channel", "day")) as docs:
        # Streamed: users.json grows with the organisation (3.7 MB at 20,000 people).
        for member in ("users.json", "channels.json", "groups.json"):
            if member in names:
                with _member_errors(archive, member), archive.open(member) as document:
                    docs.add(document, member, None, None)
        for member in sorted(names):  # read_messages' order: later duplicates of a key win
            if match := DAY_FILE.fullmatch(member):
                with _member_errors(archive, member):
                    data = archive.read(member)
                docs.add(data, member, match["channel"], match["day"])
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
    """read_users: profile.email and profile.title pulled up, the rest of profile dropped."""
    profile = sql.SQL("(case when jsonb_typeof(elements.value -> 'profile') = 'object' "
                      "then elements.value -> 'profile' else '{{}}' end)").format()
    rows, texts = _elements(docs, USER_COLUMNS, "where docs.member = 'users.json'")
    columns = {**texts, "email": text_of(sql.SQL("({} -> 'email')").format(profile)),
               "title": text_of(sql.SQL("({} -> 'title')").format(profile)),
               "_extra": extra_of(sql.SQL("elements.value"), [*USER_COLUMNS, "profile"]),
               "_origin": sql.Literal(origin), "_seq": ELEMENT_SEQ}
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
    comment = field("elements.value", "comment")
    texts["user"] = sql.SQL("coalesce({}, case when jsonb_typeof({}) = 'object' then {} end)").format(
        texts["user"], comment, text_of(field("elements.value", "comment", "user")))
    columns = {"channel_id": sql.SQL("channels.id"), "channel_name": sql.SQL("docs.channel"), **texts,
               "edited_ts": text_of(field("elements.value", "edited", "ts")),
               "export_day": sql.SQL("docs.day"),
               "_extra": extra_of(sql.SQL("elements.value"), [*MESSAGE_COLUMNS, "edited"]),
               "_origin": sql.Literal(origin), "_seq": ELEMENT_SEQ}
    return insert(stage, columns, rows)
