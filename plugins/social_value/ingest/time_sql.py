"""surveymonkey.parse_time in SQL, for the date forms the sources send.

A value is read only in a form whose text parse_time gives the same way (by shape: digits as 9,
'+' as '-'): ISO 8601 without a zone (read as UTC), with one, and `2018/05/31 23:32:58 +0000`; no
fractions of a second. Callers send a batch with a value in any other form row by row, where
parse_time reads or quarantines it. The shapes are checked with translate(), a tenth of the cost of
a regular expression.
"""

from __future__ import annotations

from psycopg import sql

NAIVE = ["9999-99-99 99:99:99", "9999-99-99T99:99:99"]
ZONED = [*(f"{base}{zone}" for base in NAIVE for zone in ("Z", "-99:99", "-9999")),
         "9999/99/99 99:99:99 -9999"]
PARAMS = {"naive": NAIVE, "zoned": ZONED}  # the statements' parameters for the shapes
FORMAT = sql.Literal('YYYY-MM-DD"T"HH24:MI:SS')


def _shape(value: sql.Composable) -> sql.Composable:
    return sql.SQL("translate({}, '0123456789+', '9999999999-')").format(value)


def readable(value: sql.Composable) -> sql.Composable:
    """True if `value` (text, not empty) is in a form utc_text reads."""
    return sql.SQL("({0} = any(%(naive)s::text[] || %(zoned)s::text[]) and substr({1}, 12, 2) <= '23' "
                   "and substr({1}, 15, 2) <= '59' and substr({1}, 18, 2) <= '59')").format(
                       _shape(value), value)


def utc_text(value: sql.Composable) -> sql.Composable:
    """parse_time's text for a readable value (NULL for NULL or ''); an impossible date makes
    Postgres refuse the cast, so the batch goes row by row, where parse_time quarantines it."""
    return sql.SQL(
        "case when coalesce({0}, '') = '' then null "
        "when {1} = any(%(naive)s::text[]) then to_char({0}::timestamp, {2}) || '+00:00' "
        "else to_char(replace({0}, '/', '-')::timestamptz at time zone 'UTC', {2}) || '+00:00' end").format(
            value, _shape(value), FORMAT)
