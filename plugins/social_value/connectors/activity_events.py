"""Generic activity events from any intranet (views, downloads, shares): NDJSON or CSV files.

Format (the project's own, documented in the README): event_id, occurred_at (ISO-8601 with
offset), user_email, event_type, object_type, object_id; more fields are kept in `_extra`.
A line that is not a JSON object, or a record without event_id, is quarantined with its reason.

Every record names the REQUIRED fields: a CSV whose header lacks one is rejected whole
(RejectedFileError), an NDJSON record that lacks one is quarantined. event_id, occurred_at and
event_type must have a value (an empty user_email is an anonymous event). An event id met again
with other content, later in the file or after an earlier load, is quarantined, not merged over the
first: events do not change, so it is another event under a taken id. Identical repeats are
harmless. These checks are SQL over the whole stage (`quarantine_incomplete`, `quarantine_conflicts`).

The fast path (`copy_ndjson`) COPYs every line as a jsonb document and expands them in SQL; it
declines a file Postgres refuses (a line that is not JSON or not UTF-8, `\\u0000`, a BOM, a blank
line) and one with a line that is not a JSON object: such a file is read row by row
(`read_events`), which quarantines exactly those lines. CSV files go through bulk_copy.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql

from social_value.bulk_copy import DeclinedError
from social_value.bulk_json import JsonDocs, extra_of
from social_value.cast_rules import TIMESTAMP
from social_value.connectors.bounded_lines import bounded_lines, csv_lines
from social_value.connectors.json_expand import insert, record
from social_value.connectors.json_stream import Oversized
from social_value.drop_limits import DropLimits
from social_value.loader import BatchStats, RawTable, Rejected, Stage
from social_value.rejections import RejectedFileError

SCHEMA = "raw_activity_events"
COLUMNS = ("event_id", "occurred_at", "user_email", "event_type", "object_type", "object_id")
REQUIRED = ("event_id", "occurred_at", "user_email", "event_type")
CONTENT = (*COLUMNS[1:], "_extra")  # what makes two events with one id the same event
NOT_EMPTY = ("occurred_at", "event_type")  # besides the key; staging's not-null tests need them
PATTERNS = ("*.ndjson", "*.jsonl", "*.csv")
# The conflict checks hash every staged event id: with the default 4MB they spilled to disk
# (500,000 events: 2.9 s, against 2.1 s in memory).
CHECK_WORK_MEM = "64MB"


def table(schema: str = SCHEMA) -> RawTable:
    return RawTable(schema, "events", COLUMNS, key=("event_id",), casts={"occurred_at": TIMESTAMP})


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
            if missing := [name for name in REQUIRED if name not in record]:
                yield Rejected(missing_reason(missing), line)
                continue
            yield {k: v if v is None or isinstance(v, str) else json.dumps(v) for k, v in record.items()}


def missing_reason(names: list[str]) -> str:
    return f"missing required field(s): {', '.join(names)}"


def check_csv_header(path: Path) -> None:
    """Reject a CSV file whose header lacks a required column (its rows would land without it)."""
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
        header = next(csv.reader(handle), None)
    if header is None:
        return  # an empty file: no events
    if missing := [name for name in REQUIRED if name not in header]:
        raise RejectedFileError(path.name, f"the header lacks required column(s) {', '.join(missing)} "
                                           f"(it has: {', '.join(header)[:500]})")


def copy_ndjson(conn: psycopg.Connection, stage: Stage, path: Path, origin: str) -> tuple[int, int]:
    """Every line of an NDJSON file into the stage, values as `read_events` gives them, but a
    record lacking a REQUIRED field quarantined; (events staged, quarantined). Raises
    DeclinedError or psycopg's DataError (run it in bulk_json.land) where the file must be read
    row by row."""
    with path.open("rb") as handle, JsonDocs(conn, "events") as docs:
        docs.add_lines(handle, origin)
    lines = conn.execute(sql.SQL("select count(*) from {}").format(docs.ident)).fetchone()[0]
    incomplete = conn.execute(sql.SQL(
        "with gone as (delete from {docs} where jsonb_typeof(doc) = 'object' and not doc ?& %s "
        "returning _origin, doc) "
        "insert into raw_meta.quarantine (load_id, source, stream, origin, reason, payload) "
        "select %s, %s, %s, _origin, {prefix} || (select string_agg(name, ', ' order by n) from "
        "unnest(%s::text[]) with ordinality as required(name, n) where not gone.doc ? name), doc::text "
        "from gone").format(docs=docs.ident, prefix=sql.Literal(missing_reason([]))),
        (list(REQUIRED), stage.load_id, stage.source, stage.table.name, list(REQUIRED))).rowcount
    fields, columns = record("docs.doc", COLUMNS)
    staged = insert(stage, {**columns, "_extra": extra_of(sql.SQL("docs.doc"), COLUMNS),
                            "_origin": sql.SQL("docs._origin"), "_seq": sql.SQL("docs._seq")},
                    sql.SQL("from {} as docs{} where jsonb_typeof(docs.doc) = 'object'").format(
                        docs.ident, fields))
    if staged + incomplete < lines:  # the row path quarantines such a line with its number and text
        raise DeclinedError("a line is not a JSON object")
    conn.execute(sql.SQL("drop table {}").format(docs.ident))  # the next file makes its own
    return staged, incomplete


def quarantine_incomplete(stage: Stage, stats: BatchStats) -> None:
    """Staged events whose NOT_EMPTY fields are empty: quarantined, naming them (run it after
    bulk_copy.quarantine_keyless, so a keyless event keeps that reason on both paths)."""
    empty = [sql.SQL("coalesce({}, '') = ''").format(sql.Identifier(c)) for c in NOT_EMPTY]
    names = sql.SQL(", ").join(sql.SQL("case when coalesce({0}, '') = '' then {1} end").format(
        sql.Identifier(c), sql.Literal(c)) for c in NOT_EMPTY)
    stats.quarantined += _quarantine_where(stage, sql.SQL(" or ").join(empty), sql.SQL(
        "'empty required field(s): ' || concat_ws(', ', {})").format(names))


def quarantine_conflicts(stage: Stage, stats: BatchStats) -> None:
    """An event id met again with other content: the later record is quarantined and the first
    kept, whether the first came earlier in this file or in an earlier load."""
    with _work_mem(stage.conn, CHECK_WORK_MEM):
        _quarantine_conflicts(stage, stats)


def _quarantine_conflicts(stage: Stage, stats: BatchStats) -> None:
    staged = sql.Identifier("staged")
    content = sql.SQL(", ").join(_as_landed(stage, staged))
    later = sql.SQL(
        "_seq in (select _seq from (select _seq, row({content}) is distinct from first_value(row({content})) "
        "over (partition by event_id order by _seq) as differs from {stage} as staged where event_id in ("
        "select event_id from {stage} group by event_id having count(*) > 1)) as repeats where differs)"
    ).format(content=content, stage=stage.ident)
    stats.quarantined += _quarantine_where(stage, later, sql.Literal(
        "event_id repeats an earlier event of this file with other content (the first is kept)"))
    target = stage.table.ident()
    if not stage.conn.execute(sql.SQL("select exists (select from {})").format(target)).fetchone()[0]:
        return  # a first load: nothing landed to conflict with
    landed = sql.SQL(", ").join(sql.SQL("landed.{}").format(sql.Identifier(c)) for c in CONTENT)
    differs = sql.SQL(
        "exists (select from {target} as landed where landed.event_id = {stage}.event_id and "
        "row({landed}) is distinct from row({staged}))").format(
        target=target, stage=stage.ident, landed=landed,
        staged=sql.SQL(", ").join(_as_landed(stage, stage.ident)))
    stats.quarantined += _quarantine_where(stage, differs, sql.Literal(
        "event_id was landed before with other content (the landed event is kept)"))


@contextmanager
def _work_mem(conn: psycopg.Connection, value: str) -> Iterator[None]:
    """work_mem for the statements inside, then back to what it was (in this transaction)."""
    previous = conn.execute("select current_setting('work_mem')").fetchone()[0]
    conn.execute("select set_config('work_mem', %s, true)", (value,))
    try:
        yield
    finally:
        conn.execute("select set_config('work_mem', %s, true)", (previous,))


def _as_landed(stage: Stage, alias: sql.Identifier) -> list[sql.Composable]:
    """The stage's CONTENT columns as the merge lands them: "" as NULL, a whole file's unknown
    columns folded into _extra (loader._merge_stage), so equal events compare equal."""
    values = [sql.SQL("nullif({}.{}, '')").format(alias, sql.Identifier(c)) for c in CONTENT[:-1]]
    if stage.unknown:
        pairs = sql.SQL(", ").join(sql.SQL("{}, {}.{}").format(sql.Literal(name), alias, sql.Identifier(col))
                                   for name, col in stage.unknown.items())
        values.append(sql.SQL("nullif(coalesce({0}._extra, '{{}}') || "
                              "jsonb_strip_nulls(jsonb_build_object({1})), '{{}}')").format(alias, pairs))
    else:
        values.append(sql.SQL("{}._extra").format(alias))
    return values


def _quarantine_where(stage: Stage, condition: sql.Composable, reason: sql.Composable) -> int:
    """Move the stage's rows matching `condition` to raw_meta.quarantine with `reason`."""
    fields = sql.SQL(", ").join(sql.SQL("{}, {}").format(sql.Literal(name), sql.Identifier(col))
                                for name, col in [*((c, c) for c in COLUMNS), *stage.unknown.items()])
    payload = sql.SQL("(jsonb_strip_nulls(jsonb_build_object({})) || coalesce(_extra, '{{}}'))::text").format(
        fields)
    return stage.conn.execute(sql.SQL(
        "with gone as (delete from {stage} where {condition} returning _origin, {reason} as reason, "
        "{payload} as payload) "
        "insert into raw_meta.quarantine (load_id, source, stream, origin, reason, payload) "
        "select %s, %s, %s, _origin, reason, payload from gone").format(
            stage=stage.ident, condition=condition, reason=reason, payload=payload),
        (stage.load_id, stage.source, stage.table.name)).rowcount


def event_files(folder: Path) -> list[Path]:
    return sorted({path for pattern in PATTERNS for path in folder.glob(pattern)})
