"""A Qualtrics export's responses and answers landed by Postgres: the data rows COPYed whole, in
CSV format, into a table of the export's width; SQL then makes the response rows (the metadata
columns, the dates as ISO-8601 UTC) and unpivots the other columns into answers.

The export's two or three header rows are read in Python (qualtrics.read_header, as before) and
skipped by byte offset. Row by row (qualtrics.read_rows) stays the path for any export Postgres
refuses (a row of another width, a NUL byte, invalid UTF-8, a blank line) or the checks decline
(a row without ResponseId or any date, a date in a form time_sql does not read, a value under a
column without a name): that path quarantines exactly the rows that are wrong. Nothing of a
refused export stays: it all runs in one savepoint. Columns without a name are never answers.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from pathlib import Path

import psycopg
from psycopg import sql

from social_value import bulk_copy, bulk_json, loader
from social_value.connectors import qualtrics as qx
from social_value.ingest import time_sql

log = logging.getLogger(__name__)

SOURCE = "qualtrics"
WIDE = sql.Identifier("_qualtrics_export")
BREAKS = re.compile(rb"\r\n|\r|\n")  # line ends as the csv module counts them (newline="")


def land_export(conn: psycopg.Connection, tables: dict[str, loader.RawTable], path: Path,
                header: qx.Header, load_id: int, name: str | None = None
                ) -> tuple[loader.BatchStats, loader.BatchStats]:
    """Responses and answers of one export merged; returns their counts (responses, answers).
    Their origin is `name` (the path under the drop folder, which the question map may scope by;
    default the file's name) and the line."""
    name = name or path.name
    stages = {name: loader.Stage(conn, tables[name], load_id, SOURCE) for name in ("responses", "answers")}
    stats = {name: loader.BatchStats() for name in stages}
    counts: list[tuple[int, int]] = []
    if bulk_json.land(conn, lambda: counts.append(_fill(conn, stages, path, header, name))):
        stats["responses"].read, stats["answers"].read = counts[0]
    else:
        _copy_rows(path, stages, stats, name)
    _warn_undated(conn, stages["responses"], path, header)
    for name, stage in stages.items():
        stage.merge(stats[name])
    return stats["responses"], stats["answers"]


def _warn_undated(conn: psycopg.Connection, stage: loader.Stage, path: Path, header: qx.Header) -> None:
    """Say so when responses have no RecordedDate: staging dates them by EndDate, else StartDate."""
    undated = conn.execute(sql.SQL("select count(*) from {} where coalesce(recorded_at, '') = ''").format(
        stage.ident)).fetchone()[0]
    if undated:
        legacy = "RecordedDate" not in header.names
        why = "the export has no RecordedDate column (a legacy export)" if legacy else \
            "their RecordedDate is empty"
        log.warning("%s: %d response(s) without RecordedDate, as %s: dated by EndDate, else StartDate "
                    "(stg_qualtrics__responses.recorded_at_source says which)", path.name, undated, why)


def _copy_rows(path: Path, stages: dict[str, loader.Stage], stats: dict[str, loader.BatchStats],
               name: str) -> None:
    """The row-by-row path: rejected rows are quarantined once, with the responses."""
    stages["responses"].copy_records((
        (origin, row if isinstance(row, loader.Rejected) else qx.response_record(row))
        for origin, row in qx.read_rows(path, name)), stats["responses"])
    stages["answers"].copy_records((
        (origin, answer) for origin, row in qx.read_rows(path, name) if isinstance(row, dict)
        for answer in qx.answer_records(row)), stats["answers"])


def _fill(conn: psycopg.Connection, stages: dict[str, loader.Stage], path: Path, header: qx.Header,
          name: str) -> tuple[int, int]:
    names = header.names
    conn.execute(sql.SQL("create temporary table {} (_seq bigint generated always as identity, {}) "
                         "on commit drop").format(WIDE, sql.SQL(", ").join(
                             sql.SQL("{} text").format(_col(n)) for n in range(len(names)))))
    with path.open("rb") as handle:
        header_lines = _skip_header(handle, 2 if header.format == "legacy" else 3)
        with conn.cursor() as cur, cur.copy(sql.SQL("copy {} ({}) from stdin (format csv)").format(
                WIDE, sql.SQL(", ").join(_col(n) for n in range(len(names))))) as copy:
            for chunk in bulk_copy._checked(handle):
                copy.write(chunk)
    _check(conn, header)
    rows = _source(name, names, header_lines)
    responses = conn.execute(_responses_sql(stages["responses"], names, rows),
                             time_sql.PARAMS).rowcount
    unpivot = _answers_sql(stages["answers"], header, rows)
    answers = conn.execute(unpivot).rowcount if unpivot else 0
    conn.execute(sql.SQL("drop table {}").format(WIDE))
    return responses, answers


def _col(n: int) -> sql.Identifier:
    return sql.Identifier(f"c{n}")


def _skip_header(handle, records: int) -> int:
    """Read past the header records (a quoted field may span lines); returns the lines they take."""
    data = b""
    for _ in range(records):
        line = handle.readline()
        data += line
        while data.count(b'"') % 2 and line:
            line = handle.readline()
            data += line
    text = data.removeprefix(bulk_copy.BOM).decode("utf-8", "surrogateescape")
    if re.search(rb"\r(?!\n)", data) or len(list(csv.reader(io.StringIO(text, newline="")))) != records:
        raise bulk_copy.DeclinedError("the header rows are not where the csv module finds them")
    return len(BREAKS.findall(data))


def _check(conn: psycopg.Connection, header: qx.Header) -> None:
    """What read_rows rejects that COPY accepts: no ResponseId, a date parse_time cannot read here,
    no date at all, a value under a column without a name."""
    names = header.names
    key = _col(names.index("ResponseId"))
    dates = [_col(names.index(c)) for c in qx.DATE_COLUMNS if c in names]
    unreadable = sql.SQL(" or ").join([
        sql.SQL("coalesce({}, '') = ''").format(key),
        sql.SQL("coalesce({}, '') = ''").format(sql.SQL(" || ").join(
            sql.SQL("coalesce({}, '')").format(c) for c in dates)),
        *(sql.SQL("({0} <> '' and not {1})").format(c, time_sql.readable(c)) for c in dates),
        *(sql.SQL("coalesce(btrim({}, {}), '') <> ''").format(_col(n), sql.Literal(qx.BLANK))
          for n in header.unnamed)])
    bad = conn.execute(sql.SQL("select count(*) from {} where {}").format(WIDE, unreadable),
                       time_sql.PARAMS).fetchone()[0]
    if bad:
        raise bulk_copy.DeclinedError(f"{bad} row(s) without ResponseId or a date, with a date in another "
                                      "form or with a value under a column without a name")


def _source(file: str, names: tuple[str, ...], header_lines: int) -> sql.Composable:
    """The export's rows with the origin read_rows gives: file:line of the row's last line."""
    row = sql.SQL("concat_ws(',', {})").format(sql.SQL(", ").join(_col(n) for n in range(len(names))))
    lines = sql.SQL("1 + length({0}) - length(replace({0}, E'\\n', ''))").format(
        sql.SQL("replace(replace({}, E'\\r\\n', E'\\n'), E'\\r', E'\\n')").format(row))
    return sql.SQL("(select w.*, {} || ':' || ({} + sum({}) over (order by _seq)) as _origin from {} as w)"
                   ).format(sql.Literal(file), sql.Literal(header_lines), lines, WIDE)


def _responses_sql(stage: loader.Stage, names: tuple[str, ...], rows: sql.Composable) -> sql.Composed:
    """qualtrics.response_record in SQL: the metadata columns the export has, the dates in UTC."""
    columns = [c for c in qx.SYSTEM_COLUMNS if c in names]
    values = [_col(names.index(c)) for c in columns]
    for column, normalised in qx.DATE_COLUMNS.items():
        columns.append(normalised)
        values.append(time_sql.utc_text(sql.SQL("w.{}").format(_col(names.index(column)))) if column in names
                      else sql.NULL)
    return sql.SQL("insert into {} ({}, _origin) select {}, _origin from {} as w order by _seq").format(
        stage.ident, sql.SQL(", ").join(map(sql.Identifier, columns)), sql.SQL(", ").join(values), rows)


def _answers_sql(stage: loader.Stage, header: qx.Header, rows: sql.Composable) -> sql.Composed | None:
    """qualtrics.answer_records in SQL: every other named column unpivoted, in the export's order."""
    names = header.names
    fields = [sql.SQL("({}, {}, w.{})").format(sql.Literal(n), sql.Literal(name), _col(n))
              for n, name in enumerate(names) if header.is_field(name)]
    if not fields:
        return None
    return sql.SQL(
        "insert into {} (\"ResponseId\", field, value, _origin) select w.{}, a.field, a.value, w._origin "
        "from {} as w cross join lateral (values {}) as a (position, field, value) "
        "order by w._seq, a.position").format(stage.ident, _col(names.index("ResponseId")), rows,
                                             sql.SQL(", ").join(fields))
