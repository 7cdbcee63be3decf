"""The loader's fast path for JSON: whole documents reach Postgres as bytes and become jsonb there.

A document is an NDJSON line, a JSON file (a Slack day file) or an API page. Each is COPYed as one
row of a temporary table (`doc jsonb` plus the caller's own text columns: origin, channel, …), in
PostgreSQL's text format, escaped byte for byte (backslash, tab, line breaks), so what Postgres
parses is exactly the source's bytes. One SQL statement per batch then turns the documents into the
landing table's stage (`loader.Stage`), using `text_of` and `extra_of` below, which give the text
the row-by-row readers give (`slack_export._text`, `salesforce._text`, …), with two differences
that keep the value: a number keeps its written form (`1.50`, where Python's float gives `1.5`)
and a nested object's keys come in jsonb's order.

Postgres refuses what the row path would quarantine (invalid JSON or UTF-8, `\\u0000`): the COPY
fails inside its savepoint, nothing of the batch stays, and the caller lands the batch row by row.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import BinaryIO

import psycopg
from psycopg import sql

from social_value.bulk_copy import CHUNK, DeclinedError
from social_value.drop_limits import DropLimits


def escape(data: bytes) -> bytes:
    """Bytes as one field of COPY's text format (C-speed replaces; exact round trip)."""
    return (data.replace(b"\\", b"\\\\").replace(b"\t", b"\\t").replace(b"\n", b"\\n")
            .replace(b"\r", b"\\r"))


class JsonDocs:
    """A temporary table of documents: `_seq` (arrival order), the caller's text columns, `doc`.

    Use as a context manager around the `add*` calls: one COPY stays open for all of them.
    """

    def __init__(self, conn: psycopg.Connection, name: str, columns: Sequence[str] = ("_origin",)
                 ) -> None:
        self.conn, self.columns = conn, tuple(columns)
        self.ident = sql.Identifier(f"_docs_{name}")
        conn.execute(sql.SQL("create temporary table {} (_seq bigint generated always as identity, "
                             "{}, doc jsonb) on commit drop").format(
            self.ident, sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(c)) for c in columns)))
        # A document is written once and read once: compressing it (TOAST's default for large
        # values) cost more than the rest of the COPY (Slack's day files at L: 9.0 s against 3.7).
        conn.execute(sql.SQL("alter table {} alter column doc set storage external").format(self.ident))
        self._cursor = self._context = self._copy = None

    def __enter__(self) -> JsonDocs:
        self._cursor = self.conn.cursor()
        self._context = self._cursor.copy(sql.SQL("copy {} ({}, doc) from stdin").format(
            self.ident, sql.SQL(", ").join(map(sql.Identifier, self.columns))))
        self._copy = self._context.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        try:
            self._context.__exit__(*exc)
        finally:
            self._cursor.close()

    def add(self, document: bytes | BinaryIO, *values: str | None) -> None:
        """One whole document (bytes, or a binary file streamed in chunks: escaping is byte by
        byte, so a chunk boundary changes nothing) with the values of the caller's columns."""
        self._copy.write(b"".join((b"\\N" if v is None else escape(v.encode("utf-8"))) + b"\t"
                                  for v in values))
        if isinstance(document, bytes):
            self._copy.write(escape(document))
        else:
            while chunk := document.read(CHUNK):
                self._copy.write(escape(chunk))
        self._copy.write(b"\n")

    def add_lines(self, handle: BinaryIO, *values: str | None, max_line: int | None = None) -> None:
        """Every line of an NDJSON file as a document. A blank line makes Postgres refuse the
        batch (the row path skips it), as does a BOM or a line that is not JSON. A line longer than
        `max_line` (default: the drop limits' record size) is declined: the row path quarantines
        it without holding it."""
        max_line = DropLimits.from_env().max_record_bytes if max_line is None else max_line
        prefix = b"".join((b"\\N" if v is None else escape(v.encode("utf-8"))) + b"\t" for v in values)
        pending = b""
        while chunk := handle.read(CHUNK):
            lines = (pending + chunk).split(b"\n")
            pending = lines.pop()
            if len(pending) > max_line or any(len(line) > max_line for line in lines):
                raise DeclinedError(f"a line is over {max_line:,} bytes (SVW_DROP_MAX_RECORD_MB)")
            self._write_lines(prefix, lines)
        if pending.strip():
            self._write_lines(prefix, [pending])

    def _write_lines(self, prefix: bytes, lines: Iterable[bytes]) -> None:
        out = bytearray()
        for line in lines:
            out += prefix + escape(line.removesuffix(b"\r")) + b"\n"
        self._copy.write(bytes(out))


def land(conn: psycopg.Connection, fill) -> bool:
    """Run `fill()` (which COPYs documents and expands them into a stage) in a savepoint;
    False if Postgres or a check refused the batch: then nothing of it stays."""
    try:
        with conn.transaction():
            fill()
        return True
    except (DeclinedError, psycopg.errors.DataError):
        return False


def text_of(value: sql.Composable) -> sql.Composable:
    """A JSON value as the row readers land it: a string as itself, null as NULL, anything else
    (numbers, true/false, objects, arrays) as its JSON text."""
    return sql.SQL("(case jsonb_typeof({0}) when 'string' then ({0}) #>> '{{}}' when 'null' then null "
                   "else ({0})::text end)").format(value)


def extra_of(document: sql.Composable, known: Iterable[str]) -> sql.Composable:
    """The document's keys other than `known`, each as text_of its value, as `_extra` (NULL if none)."""
    rest = sql.SQL("({} - {}::text[])").format(document, sql.Literal(sorted(known)))
    return sql.SQL("(case when {0} = '{{}}'::jsonb then null else (select jsonb_object_agg(key, "
                   "to_jsonb({1})) from jsonb_each({0})) end)").format(rest, text_of(sql.SQL("value")))
