"""Expand JSON documents (bulk_json.JsonDocs) into a loader.Stage with one INSERT … SELECT.

The connectors say what each landing column is in SQL (bulk_json.text_of of a path, mostly);
this writes the statement, so a batch costs Python nothing per row.
"""

from __future__ import annotations

from collections.abc import Mapping

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


def field(document: str, *path: str) -> sql.Composable:
    """`document -> 'a' -> 'b'`: a value inside a document (NULL where the path does not lead)."""
    out: sql.Composable = sql.SQL(document)
    for key in path:
        out = sql.SQL("{} -> {}").format(out, sql.Literal(key))
    return sql.SQL("({})").format(out)
