"""Generic activity events from any intranet (views, downloads, shares): NDJSON or CSV files.

Format (the project's own, documented in the README): event_id, occurred_at (ISO-8601 with
offset), user_email, event_type, object_type, object_id; more fields are kept in `_extra`.
A line that is not a JSON object, or a record without event_id, is quarantined with its reason.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

from social_value.loader import RawTable, Rejected

SCHEMA = "raw_activity_events"
COLUMNS = ("event_id", "occurred_at", "user_email", "event_type", "object_type", "object_id")
PATTERNS = ("*.ndjson", "*.jsonl", "*.csv")


def table(schema: str = SCHEMA) -> RawTable:
    return RawTable(schema, "events", COLUMNS, key=("event_id",))


def read_events(path: Path) -> Iterator[dict | Rejected]:
    if path.suffix == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as handle:
            yield from csv.DictReader(handle)
        return
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
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


def event_files(folder: Path) -> list[Path]:
    return sorted({path for pattern in PATTERNS for path in folder.glob(pattern)})
