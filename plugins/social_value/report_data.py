"""What the reports read: the published marts, as bi_reader reads them, and the period they show.

The rule for the period (printed on both reports): the latest FULL month is the last month whose
end lies before the data's last event. marts.metric_values runs from the first to the last month
holding an event, so its last month holds the last event and is never over; the month before it
is the latest full month, compared with the calendar month before that. With a single month of
data there is no full month yet: the reports then show that month and say it is not over.

Marts that are not published (before the first build) read as absent, never
as an error: their metrics show as "–". marts.source_coverage names the sources that have sent
nothing: both reports say so, since the metrics only they feed are NULL (not measured), not 0.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

METRIC_SQL = """
select metric_key, level, period_start, org_unit, value, numerator, denominator, suppressed
from {schema}.metric_values
where period_grain = 'month'
order by period_start, metric_key, org_unit
"""
SATISFACTION_SQL = """
select period_start, metric_key, value, numerator, denominator, norm, amber_tolerance, status
from {schema}.customer_satisfaction_scorecard
where scope = 'org'
"""
# Registered hashtags only (the mart holds nothing else), counted in their message's month.
HASHTAG_SQL = """
select period_start, outcome_type, hashtag, messages
from {schema}.hashtag_outcome_months
order by 1, 2, 3
"""
# Sources and whether they have landed data: a missing source's metrics are NULL, not 0.
SOURCES_SQL = """
select source, source_name, has_data, metric_keys
from {schema}.source_coverage
order by lower(source_name)
"""
ABSENT = (psycopg.errors.UndefinedTable, psycopg.errors.UndefinedColumn,
          psycopg.errors.InsufficientPrivilege)


@dataclass(frozen=True)
class Marts:
    """Rows from the published marts; None where a mart is not published (or not readable)."""

    metrics: list[dict]
    satisfaction: list[dict] | None = None
    hashtags: list[dict] | None = None
    sources: list[dict] | None = None

    def missing_sources(self) -> list[str]:
        """Names of the sources that have landed nothing (their own metrics are not measured)."""
        return [row["source_name"] for row in self.sources or [] if not row["has_data"]]


def _read(conn: psycopg.Connection, query: str, schema: str) -> list[dict] | None:
    try:
        with conn.cursor(row_factory=dict_row) as cur:
            return list(cur.execute(sql.SQL(query).format(schema=sql.Identifier(schema))))
    except ABSENT:
        return None


def fetch(bi_url: str, schema: str = "marts") -> Marts:
    """Everything the reports show, from `schema` (the published marts; tests pass a scratch one)."""
    # autocommit: a missing mart fails its own statement only, not the ones after it
    with psycopg.connect(bi_url, autocommit=True) as conn:
        return Marts(metrics=_read(conn, METRIC_SQL, schema) or [],
                     satisfaction=_read(conn, SATISFACTION_SQL, schema),
                     hashtags=_read(conn, HASHTAG_SQL, schema),
                     sources=_read(conn, SOURCES_SQL, schema))


def month_before(month: date) -> date:
    return date(month.year - 1, 12, 1) if month.month == 1 else date(month.year, month.month - 1, 1)


@dataclass(frozen=True)
class Period:
    """The month the reports show (current) and the one it is compared with (previous)."""

    current: date | None
    previous: date | None
    last_month: date | None  # the month holding the data's last event (not over)
    is_full: bool

    def describe(self) -> str:
        if self.current is None:
            return "no published months yet"
        if not self.is_full:
            return (f"{self.current:%B %Y} is the only month of data and is not over yet: "
                    "no full month to report")
        return (f"Latest full month {self.current:%B %Y}, against {self.previous:%B %Y}. The data's last "
                f"event is in {self.last_month:%B %Y}, so that month is not full: a month is full once "
                "its end lies before the data's last event")


def report_period(months: Iterable[date]) -> Period:
    ordered = sorted(set(months))
    if not ordered:
        return Period(None, None, None, False)
    last = ordered[-1]
    if len(ordered) == 1:
        return Period(last, None, last, False)
    current = month_before(last)
    return Period(current, month_before(current), last, True)


@dataclass
class MetricIndex:
    """metric_values rows by (metric_key, period_start, org_unit)."""

    rows: list[dict]
    cells: dict[tuple[str, date, str], dict] = field(init=False)

    def __post_init__(self) -> None:
        self.cells = {(r["metric_key"], r["period_start"], r["org_unit"]): r for r in self.rows}

    @property
    def months(self) -> list[date]:
        return sorted({row["period_start"] for row in self.rows})

    @property
    def departments(self) -> list[str]:
        return sorted({row["org_unit"] for row in self.rows} - {"ALL"})

    @property
    def keys(self) -> set[str]:
        return {row["metric_key"] for row in self.rows}

    def get(self, key: str, month: date | None, unit: str = "ALL") -> dict | None:
        return self.cells.get((key, month, unit)) if month else None

    def value(self, key: str, month: date | None, unit: str = "ALL"):
        row = self.get(key, month, unit)
        return None if row is None or row["suppressed"] else row["value"]

    def series(self, key: str, unit: str = "ALL") -> list[tuple[date, object]]:
        """(month, value) for every month of the data; value None where missing or suppressed."""
        return [(month, self.value(key, month, unit)) for month in self.months]
