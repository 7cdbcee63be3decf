"""Viva Engage (Yammer) network data export: a ZIP of CSVs per since/until window.

`GET {base}/api/v1/export?since=&until=&include=csv&model=...` with a Verified Admin bearer token.
Columns are read by their header name, never by position; a leading BOM is tolerated.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from social_value.cast_rules import BOOLEAN, TIMESTAMP
from social_value.connectors.http import download
from social_value.loader import RawTable

SCHEMA = "raw_viva_engage"

USER_COLUMNS = (
    "id", "name", "email", "job_title", "location", "department", "api_url", "deleted_by_id",
    "deleted_by_type", "joined_at", "deleted_at", "suspended_by_id", "suspended_by_type",
    "suspended_at", "guid", "state", "office_user_id")
GROUP_COLUMNS = (
    "id", "name", "description", "private", "moderated", "api_url", "created_by_id",
    "created_by_type", "created_at", "updated_at", "deleted", "external", "office_group_id")
MESSAGE_COLUMNS = (
    "id", "replied_to_id", "parent_id", "thread_id", "conversation_id", "group_id", "group_name",
    "participants", "in_private_group", "in_private_conversation", "sender_id", "sender_type",
    "sender_name", "sender_email", "body", "delegate_id", "api_url", "attachments", "deleted_by_id",
    "deleted_by_type", "created_at", "deleted_at", "title", "html_body", "message_type",
    "gdpr_delete_url")


def tables(schema: str = SCHEMA) -> dict[str, RawTable]:
    """Export file → landing table, in load order."""
    return {
        "Users.csv": RawTable(schema, "users", USER_COLUMNS, casts={
            "joined_at": TIMESTAMP, "deleted_at": TIMESTAMP, "suspended_at": TIMESTAMP}),
        "Groups.csv": RawTable(schema, "groups", GROUP_COLUMNS, casts={
            "private": BOOLEAN, "deleted": BOOLEAN, "created_at": TIMESTAMP, "updated_at": TIMESTAMP}),
        "Messages.csv": RawTable(schema, "messages", MESSAGE_COLUMNS, casts={
            "in_private_group": BOOLEAN, "in_private_conversation": BOOLEAN, "created_at": TIMESTAMP,
            "deleted_at": TIMESTAMP}),
    }


MODELS = ["User", "Group", "Message"]


def _check_zip(path: Path) -> None:
    if not zipfile.is_zipfile(path):
        raise ValueError("not a complete ZIP archive")
    with zipfile.ZipFile(path) as archive:
        broken = archive.testzip()
        if broken:
            raise ValueError(f"{broken} is corrupt")


def fetch_export(base_url: str, token: str, since: datetime, until: datetime) -> Path:
    """Download one export window to a temporary ZIP file (retried when truncated)."""
    params = [("since", since.isoformat()), ("until", until.isoformat()), ("include", "csv")]
    params += [("model", model) for model in MODELS]
    return download(f"{base_url.rstrip('/')}/api/v1/export", token, params, validate=_check_zip)


def read_csv(archive: zipfile.ZipFile, member: str) -> Iterator[dict[str, str]]:
    """Rows of one CSV in the archive as dicts keyed by header name, streamed."""
    with archive.open(member) as raw:
        # surrogateescape keeps a row with invalid UTF-8 readable; the loader quarantines it.
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="surrogateescape", newline="")
        yield from csv.DictReader(text)
