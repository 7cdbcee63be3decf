"""Qualtrics CSV exports dropped as files: read by header name, streamed, bad rows set aside.

New format (seen): three header rows — export tags (StartDate, …, ResponseId, …, Q1, Q2_TEXT,
embedded data such as AccountId), localised question text, `{"ImportId":"QID1"}`. Legacy format:
a UTF-8 BOM and V1..Vn tags whose names are in the second header row (V1 = ResponseID, …).
CRLF line ends and newlines inside quoted answers are ordinary CSV and read as such.

A column without a name (real legacy exports end every row with a comma) is no answer field: it is
skipped while it is empty, and a row with a value under it is set aside (nothing to name it by).
A trailing comma on the data rows but not on the header (or the reverse) is read the same way.
No RecordedDate (legacy exports have none): staging dates the response by EndDate, else StartDate,
and says which (stg_qualtrics__responses.recorded_at_source); a row with none of the three dates is
set aside, as a file without any of the three columns is refused.

A row that cannot land as it is — invalid UTF-8, a NUL byte, a different number of fields than the
header, no ResponseId, an unreadable date, no date at all, a value under a column without a name — is
yielded as Rejected with its reason (the ingest quarantines it) and the rest of the file still loads.
A file whose header cannot be read raises QualtricsFormatError.

Left out of raw on purpose (data minimisation, not needed by any metric): the respondent's IP
address, name, e-mail and location (PERSONAL_COLUMNS).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from social_value.cast_rules import BOOLEAN, INTEGER, NUMBER, TIMESTAMP
from social_value.connectors.surveymonkey import parse_time
from social_value.loader import QuarantineError, RawTable, Rejected

SCHEMA = "raw_qualtrics"

# The export's own metadata columns (new-format names; the legacy ones are renamed to these).
SYSTEM_COLUMNS = ("ResponseId", "StartDate", "EndDate", "Status", "Progress", "Duration (in seconds)",
                  "Finished", "RecordedDate", "ExternalReference", "DistributionChannel", "UserLanguage",
                  "ResponseSet")
PERSONAL_COLUMNS = frozenset({"IPAddress", "RecipientLastName", "RecipientFirstName", "RecipientEmail",
                              "LocationLatitude", "LocationLongitude", "LocationAccuracy", "Name",
                              "EmailAddress"})
DATE_COLUMNS = {"StartDate": "start_at", "EndDate": "end_at", "RecordedDate": "recorded_at"}
BLANK = " \t\r\n"  # what a value under a column without a name may hold and still be empty
LEGACY_RENAME = {"ResponseID": "ResponseId", "ExternalDataReference": "ExternalReference"}

RESPONSE_COLUMNS = (*SYSTEM_COLUMNS, *DATE_COLUMNS.values())
ANSWER_COLUMNS = ("ResponseId", "field", "value")
QUESTION_COLUMNS = ("file", "field", "position", "question_text", "import_id")
FILE_COLUMNS = ("name", "sha256", "bytes", "format", "rows_read", "rows_quarantined", "status", "error")


def tables(schema: str = SCHEMA) -> dict[str, RawTable]:
    return {
        "files": RawTable(schema, "files", FILE_COLUMNS, key=("name",)),
        "questions": RawTable(schema, "questions", QUESTION_COLUMNS, key=("file", "field"),
                              casts={"position": INTEGER}),
        "responses": RawTable(schema, "responses", RESPONSE_COLUMNS, key=("ResponseId",), casts={
            "Finished": BOOLEAN, "Progress": NUMBER, "Duration (in seconds)": NUMBER,
            **dict.fromkeys([*DATE_COLUMNS, *DATE_COLUMNS.values()], TIMESTAMP)}),
        "answers": RawTable(schema, "answers", ANSWER_COLUMNS, key=("ResponseId", "field")),
    }


class QualtricsFormatError(ValueError):
    """The file is not a Qualtrics CSV export we can read (its header rows are wrong)."""


@dataclass(frozen=True)
class Header:
    format: str  # "new" or "legacy"
    names: tuple[str, ...]  # column names after renaming (what rows are keyed by); "" for no name
    question_texts: tuple[str, ...]
    import_ids: tuple[str | None, ...]

    @property
    def unnamed(self) -> tuple[int, ...]:
        """Positions of the columns without a name (a trailing comma makes one)."""
        return tuple(n for n, name in enumerate(self.names) if not name)

    def is_field(self, name: str) -> bool:
        """A column that lands as an answer field: named, neither metadata nor personal."""
        return bool(name) and name not in SYSTEM_COLUMNS and name not in PERSONAL_COLUMNS


def _open(path: Path) -> tuple[io.TextIOWrapper, Iterator[list[str]]]:
    # surrogateescape keeps invalid bytes visible (as lone surrogates) so one bad row is set aside
    # instead of the decoder failing the whole file.
    text = io.TextIOWrapper(path.open("rb"), encoding="utf-8", errors="surrogateescape", newline="")
    return text, csv.reader(text)


def _read_header(rows: Iterator[list[str]], path: Path) -> Header:
    first = next(rows, None)
    if not first:
        raise QualtricsFormatError(f"{path.name}: empty file, no header row")
    first[0] = first[0].removeprefix("\ufeff")
    bad = [name for name in first if _has_bad_text(name)]
    if bad:
        raise QualtricsFormatError(f"{path.name}: the header row holds invalid UTF-8 or NUL bytes")
    second = next(rows, None)
    if second is None or len(second) != len(first):
        raise QualtricsFormatError(f"{path.name}: the second header row (question texts) is missing or "
                                   f"has {len(second or [])} fields for {len(first)} columns")
    if first[0] == "V1":  # legacy: V-tags name their column in the second row
        names = [_legacy_name(tag.strip(), label.strip()) for tag, label in zip(first, second, strict=True)]
        header = Header("legacy", tuple(names), tuple(second), tuple(None for _ in names))
    else:
        third = next(rows, None)
        if third is None or len(third) != len(first) or not third[0].startswith("{"):
            raise QualtricsFormatError(f"{path.name}: the third header row ({{\"ImportId\": …}}) is missing")
        header = Header("new", tuple(tag.strip() for tag in first), tuple(second),
                        tuple(_import_id(cell) for cell in third))
    named = [name for name in header.names if name]
    duplicates = sorted({name for name in named if named.count(name) > 1})
    if duplicates:
        raise QualtricsFormatError(f"{path.name}: duplicate column names {', '.join(duplicates)}")
    if "ResponseId" not in header.names:
        raise QualtricsFormatError(f"{path.name}: no ResponseId column (columns: {', '.join(named)})")
    if not set(DATE_COLUMNS) & set(header.names):
        raise QualtricsFormatError(f"{path.name}: no date column (RecordedDate, EndDate or StartDate)")
    return header


def _legacy_name(tag: str, label: str) -> str:
    """A legacy column's name: a V-tag's label (renamed to the new form), else the tag itself; a
    V-tag without a label keeps its tag, so only a column with neither has no name."""
    if re.fullmatch(r"V\d+", tag):
        return LEGACY_RENAME.get(label, label) or tag
    return tag


def _import_id(cell: str) -> str | None:
    try:
        return json.loads(cell).get("ImportId")
    except (ValueError, AttributeError):
        return None


def read_header(path: Path) -> Header:
    text, rows = _open(path)
    with text:
        return _read_header(rows, path)


def read_rows(path: Path, name: str | None = None) -> Iterator[tuple[str, dict[str, str] | Rejected]]:
    """(origin, row keyed by column name) per data row, or (origin, Rejected) for a row that is bad;
    the origin is `name` (default the file's name) and the line."""
    text, rows = _open(path)
    with text:
        header = _read_header(rows, path)
        for fields in rows:
            origin = f"{name or path.name}:{rows.line_num}"
            if fields == []:
                continue  # a blank line between records is no record
            try:
                yield origin, _row(header, fields)
            except QuarantineError as reason:
                payload = {"line": rows.line_num, "fields": [_safe(field) for field in fields]}
                yield origin, Rejected(str(reason), json.dumps(payload, ensure_ascii=False))


def _row(header: Header, fields: list[str]) -> dict[str, str]:
    # A trailing comma on the rows but not the header, or the other way round, is the same empty
    # column without a name; it moves no named column.
    if len(fields) == len(header.names) + 1 and not fields[-1].strip(BLANK):
        fields = fields[:-1]
    elif len(fields) == len(header.names) - 1 and header.names[-1] == "":
        fields = [*fields, ""]
    if len(fields) != len(header.names):
        raise QuarantineError(f"the row has {len(fields)} fields, the header {len(header.names)}")
    for position in header.unnamed:
        if fields[position].strip(BLANK):
            raise QuarantineError(f"a value in column {position + 1}, which has no name in the header: "
                                  f"{_safe(fields[position])[:80]!r}")
    row = {name: value for name, value in zip(header.names, fields, strict=True) if name}
    for name, value in row.items():
        if "\x00" in value:
            raise QuarantineError(f"NUL byte in column {name!r}: Postgres text cannot hold it")
        if _has_bad_text(value):
            raise QuarantineError(f"invalid UTF-8 in column {name!r}")
    if not row.get("ResponseId"):
        raise QuarantineError("no ResponseId")
    if not any(row.get(column) for column in DATE_COLUMNS):
        raise QuarantineError("no date: RecordedDate, EndDate and StartDate are all empty")
    for column in DATE_COLUMNS:
        parse_time(row.get(column))  # raises on a date we cannot read
    return row


def _has_bad_text(value: str) -> bool:
    return "\x00" in value or any("\udc80" <= char <= "\udcff" for char in value)


def _safe(value: str) -> str:
    """Text safe to store: invalid bytes as \\xNN, NUL as \\u0000."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace").replace(
        "\x00", "\\u0000")


def response_record(row: dict[str, str]) -> dict[str, str | None]:
    """The export's metadata columns, plus the dates as ISO-8601 UTC (times without an offset are
    read as UTC: set the export's time zone to UTC in Qualtrics)."""
    record: dict[str, str | None] = {name: row[name] for name in SYSTEM_COLUMNS if name in row}
    for column, normalised in DATE_COLUMNS.items():
        record[normalised] = parse_time(row.get(column))
    return record


def answer_records(row: dict[str, str]) -> Iterator[dict[str, str | None]]:
    """Every other column as (ResponseId, field, value): questions and embedded data alike, so a
    survey's own columns need no code. Empty answers land as NULL so a re-export can clear one."""
    for name, value in row.items():
        if name and name not in SYSTEM_COLUMNS and name not in PERSONAL_COLUMNS:
            yield {"ResponseId": row["ResponseId"], "field": name, "value": value or None}


def question_records(file: str, header: Header) -> Iterator[dict[str, str | None]]:
    for position, (name, text, import_id) in enumerate(
            zip(header.names, header.question_texts, header.import_ids, strict=True), start=1):
        if header.is_field(name):
            yield {"file": file, "field": name, "position": str(position), "question_text": text,
                   "import_id": import_id}
