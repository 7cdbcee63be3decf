"""Generic activity events from any intranet (views, downloads, shares): NDJSON or CSV files.

Format (the project's own, documented in the README): event_id, occurred_at (ISO-8601 with
offset), user_email, event_type, object_type, object_id; more fields are kept in `_extra`.
A line that is not a JSON object, or a record without event_id, is quarantined with its reason.

The fast path (`copy_ndjson`) COPYs every line as a jsonb document and expands them in SQL; it
declines a file Postgres refuses (a line that is not JSON or not UTF-8, `\\u0000`, a BOM, a blank
line) and one with a line that is not a JSON object: such a file is read row by row
(`read_events`), which quarantines exactly those lines. CSV files go through bulk_copy.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import psycopg
from psycopg import sql

from social_value.bulk_copy import DeclinedError
from social_value.bulk_json import JsonDocs, extra_of
from social_value.connectors.bounded_lines import bounded_lines, csv_lines
from social_value.connectors.json_expand import insert, record
from social_value.connectors.json_stream import Oversized
from social_value.drop_limits import DropLimits
from social_value.loader import RawTable, Rejected, Stage

SCHEMA = "raw_activity_events"
COLUMNS = ("event_id", "occurred_at", "user_email", "event_type", "object_type", "object_id")
PATTERNS = ("*.ndjson", "*.jsonl", "*.csv")


def table(schema: str = SCHEMA) -> RawTable:
    return RawTable(schema, "events", COLUMNS, key=("event_id",))


def read_events(path: Path) -> Iterator[dict | Rejected]:
    max_bytes = DropLimits.from_env().max_record_bytes
    if path.suffix == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as handle:
            yield from csv.DictReader(csv_lines(handle, max_bytes))
        return
    with path.open("rb") as handle:
        for number, raw in bounded_lines(handle, max_bytes):
            if isinstance(raw, Oversized):
                yield Rejected(f"line {number} is {raw.chars:,} bytes, over the limit of {max_bytes:,} "
                               "(SVW_DROP_MAX_RECORD_MB)", raw.head)
                continue
            try:
                line = raw.decode("utf-8").lstrip("\ufeff")
            except UnicodeDecodeError as error:
                yield Rejected(f"line {number} is not valid UTF-8: {error}",
                               raw.decode("utf-8", "backslashreplace"))
                continue
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as error:
                yield Rejected(f"line {number} is not JSON: {error}", line)
                continue
            if not isinstance(record, dict):
                yield Rejected(f"line {number} is not a JSON object", line)
                continue
            yield {k: v if v is None or isinstance(v, str) else json.dumps(v) for k, v in record.items()}


def copy_ndjson(conn: psycopg.Connection, stage: Stage, path: Path, origin: str) -> int:
    """Every line of an NDJSON file into the stage, values as `read_events` gives them; the
    number of events staged. Raises DeclinedError or psycopg's DataError (run it in
    bulk_json.land) where the file must be read row by row."""
    with path.open("rb") as handle, JsonDocs(conn, "events") as docs:
        docs.add_lines(handle, origin)
    fields, columns = record("docs.doc", COLUMNS)
    staged = insert(stage, {**columns, "_extra": extra_of(sql.SQL("docs.doc"), COLUMNS),
                            "_origin": sql.SQL("docs._origin"), "_seq": sql.SQL("docs._seq")},
                    sql.SQL("from {} as docs{} where jsonb_typeof(docs.doc) = 'object'").format(
                        docs.ident, fields))
    lines = conn.execute(sql.SQL("select count(*) from {}").format(docs.ident)).fetchone()[0]
    if staged < lines:  # the row path quarantines such a line with its number and text
        raise DeclinedError("a line is not a JSON object")
    conn.execute(sql.SQL("drop table {}").format(docs.ident))  # the next file makes its own
    return staged


def event_files(folder: Path) -> list[Path]:
    return sorted({path for pattern in PATTERNS for path in folder.glob(pattern)})
