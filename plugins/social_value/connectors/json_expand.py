"""Expand JSON documents (bulk_json.JsonDocs) into a loader.Stage with one INSERT … SELECT.

The connectors say what each landing column is in SQL; this writes the statement, so a batch
costs Python nothing per row. A document's top-level fields are read in one pass with
jsonb_to_record into text columns (`record`), which gives exactly bulk_json.text_of's text (a
string as itself, null or absent as NULL, anything else as its JSON text; checked value by value
in tests/test_json_drops_fast_path.py) at half its cost: text_of looks a field up two or three
times (1.5 s against 3.1 s to expand 441,430 events).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from psycopg import sql

from social_value.loader import Stage

# `_seq` of an element: its document's `_seq` in the high bits, its place in the document in the
# low ones (a jsonb array holds fewer than 2^28 elements), so the stage keeps arrival order.
ELEMENT_SEQ = sql.SQL("((docs._seq << 32) | elements.n)")


def insert(stage: Stage, columns: Mapping[str, sql.Composable], rows: sql.Composable,
           params: tuple = ()) -> int:
    """`insert into <stage> (columns) select <expressions> <rows>`; the number of rows staged.
    `rows` is the FROM clause and anything after it; `columns` should name `_extra`, `_origin`
    and `_seq` besides the landing columns."""
    statement = sql.SQL("insert into {} ({}) select {} {}").format(
        stage.ident, sql.SQL(", ").join(map(sql.Identifier, columns)),
        sql.SQL(", ").join(columns.values()), rows)
    return stage.conn.execute(statement, params).rowcount


def record(document: str, columns: Iterable[str]) -> tuple[sql.Composable, dict[str, sql.Composable]]:
    """A lateral join reading `columns` from `document` as text (`fields.<column>`), and those
    columns for `insert`. A document that is not an object makes Postgres refuse the batch."""
    names = list(columns)
    join = sql.SQL(" cross join lateral jsonb_to_record({}) as fields({})").format(
        sql.SQL(document), sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(c)) for c in names))
    return join, {c: sql.SQL("fields.{}").format(sql.Identifier(c)) for c in names}


def field(document: str, *path: str) -> sql.Composable:
    """`document -> 'a' -> 'b'`: a value inside a document (NULL where the path does not lead)."""
    out: sql.Composable = sql.SQL(document)
    for key in path:
        out = sql.SQL("{} -> {}").format(out, sql.Literal(key))
    return sql.SQL("({})").format(out)
