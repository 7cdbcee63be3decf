"""Slack workspace export (a ZIP dropped in a folder): users, channels and per-day message files.

Fields are read by name; nested values (reactions, files, replies) land as JSON text and anything we
do not map is kept in `_extra`. Private channels (groups.json) are flagged, DMs are not read:
they are not team activity. Each day file is small; users.json and channels.json are streamed.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Iterator

from social_value.connectors.json_stream import iter_json_array
from social_value.loader import RawTable

SCHEMA = "raw_slack"
USER_COLUMNS = ("id", "team_id", "name", "real_name", "deleted", "is_bot", "email", "title", "tz")
CHANNEL_COLUMNS = ("id", "name", "created", "creator", "is_archived", "is_general", "is_private",
                   "member_count")
MESSAGE_COLUMNS = ("channel_id", "channel_name", "ts", "type", "subtype", "user", "bot_id", "text",
                   "thread_ts", "parent_user_id", "reply_count", "reactions", "files", "edited_ts",
                   "export_day")
DAY_FILE = re.compile(r"(?P<channel>[^/]+)/(?P<day>\d{4}-\d{2}-\d{2})\.json")


def tables(schema: str = SCHEMA) -> dict[str, RawTable]:
    return {
        "users": RawTable(schema, "users", USER_COLUMNS),
        "channels": RawTable(schema, "channels", CHANNEL_COLUMNS),
        "messages": RawTable(schema, "messages", MESSAGE_COLUMNS, key=("channel_id", "ts")),
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
