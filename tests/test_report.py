"""The manager's scorecard, read from marts in a scratch schema built by hand (and from the demo's
published marts as bi_reader): the latest-full-month rule, change arrows, suppressed and missing
values, and marts that are not published yet."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import psycopg
import pytest

from social_value import report_data, report_scorecard
from social_value.report_metrics import CATALOGUE, MISSING, SUPPRESSED, metric

MONTHS = [date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1), date(2026, 4, 1)]
# April holds the data's last event, so March is the latest full month, compared with February.
CURRENT, PREVIOUS = MONTHS[2], MONTHS[1]
UNPUBLISHED = {"downloads", "median_days_to_quote"}  # keys the fixture leaves out
DEPARTMENTS = ("Sales", "Tiny")  # Tiny is below the minimum group size


def _value(key: str, month: date, unit: str) -> tuple[Decimal | None, Decimal | None, Decimal | None]:
    """(value, numerator, denominator), different per key, month and unit."""
    base = 10 * (1 + [m.key for m in CATALOGUE].index(key)) + month.month * 3
    base = base // 2 if unit != "ALL" else base
    kind = metric(key).unit
    if kind == "share" or key in ("actions_per_active_user", "nps"):
        numerator, denominator = Decimal(base), Decimal(base * 2 + month.month)
        value = numerator / denominator * (100 if key == "nps" else 1)
        return value, numerator, denominator
    if kind in ("hours", "days") and key.startswith("median"):
        return Decimal(base) / 4, None, Decimal(month.month + 2)
    return Decimal(base), None, None


def fixture_rows() -> list[dict]:
    rows = []
    for item in CATALOGUE:
        if item.key in UNPUBLISHED:
            continue
        for month in MONTHS:
            for unit in ("ALL", *DEPARTMENTS):
                value, numerator, denominator = _value(item.key, month, unit)
                suppressed = unit == "Tiny"
                if suppressed:
                    value = numerator = denominator = None
                rows.append({"metric_key": item.key, "level": item.level, "period_start": month,
                             "org_unit": unit, "value": value, "numerator": numerator,
                             "denominator": denominator, "suppressed": suppressed})
    # a rate over zero: value undefined, shown as 0 / 0
    for row in rows:
        if (row["metric_key"], row["period_start"], row["org_unit"]) == ("answer_rate", CURRENT, "Sales"):
            row.update(value=None, numerator=Decimal(0), denominator=Decimal(0))
    # no change between the months: an equals sign, not an arrow
    for row in rows:
        if row["metric_key"] == "groups" and row["org_unit"] == "ALL":
            row["value"] = Decimal(12)
    return rows


SATISFACTION = [
    {"period_start": CURRENT, "scope": "org", "account_id": None, "metric_key": "csat", "value": None,
     "numerator": 9, "denominator": 10, "norm": Decimal("0.8"), "amber_tolerance": Decimal("0.05"),
     "status": "green"},
    {"period_start": CURRENT, "scope": "org", "account_id": None, "metric_key": "nps", "value": None,
     "numerator": 1, "denominator": 10, "norm": Decimal(30), "amber_tolerance": Decimal(10),
     "status": "red"},
    {"period_start": CURRENT, "scope": "account", "account_id": "001A", "metric_key": "csat",
     "value": None, "numerator": 1, "denominator": 2, "norm": Decimal("0.8"),
     "amber_tolerance": Decimal("0.05"), "status": "amber"},
]
HASHTAGS = [("m1", CURRENT, "intranetwerkt", "customer_impact"),
            ("m2", CURRENT, "intranetwerkt", "customer_impact"),
            ("m2", CURRENT, "gedoe", "pain_point"),
            ("m3", PREVIOUS, "gedoe", "pain_point")]


def load_marts(conn: psycopg.Connection, schema: str, rows: list[dict], *,
               satisfaction: bool = True, hashtags: bool = True) -> None:
    """The published marts' columns (interfaces of marts.*) in `schema`, filled by hand."""
    conn.execute(f"create table {schema}.metric_values (metric_key text, level smallint, period_grain text, "
                 "period_start date, org_unit text, value numeric, numerator numeric, denominator numeric, "
                 "suppressed boolean)")
    with conn.cursor() as cur:
        cur.executemany(
            f"insert into {schema}.metric_values values (%(metric_key)s, %(level)s, 'month', "
            "%(period_start)s, %(org_unit)s, %(value)s, %(numerator)s, %(denominator)s, %(suppressed)s)",
            rows)
        # a weekly row must never show up in a monthly report
        cur.execute(f"insert into {schema}.metric_values values ('posts', 3, 'week', '2026-05-04', 'ALL', "
                    "999, null, null, false)")
    if satisfaction:
        conn.execute(f"create table {schema}.customer_satisfaction_scorecard (period_start date, scope text, "
                     "account_id text, metric_key text, value numeric, numerator numeric, "
                     "denominator numeric, norm numeric, amber_tolerance numeric, status text)")
        with conn.cursor() as cur:
            cur.executemany(
                f"insert into {schema}.customer_satisfaction_scorecard values (%(period_start)s, %(scope)s, "
                "%(account_id)s, %(metric_key)s, %(value)s, %(numerator)s, %(denominator)s, %(norm)s, "
                "%(amber_tolerance)s, %(status)s)", SATISFACTION)
    if hashtags:
        conn.execute(f"create table {schema}.hashtag_outcome_months (period_start date, outcome_type text, "
                     "hashtag text, messages bigint)")
        # As the mart counts them: distinct messages per month, outcome type and hashtag.
        conn.execute(f"insert into {schema}.hashtag_outcome_months "
                     "select date_trunc('month', given.day::date), given.outcome, given.hashtag, "
                     "count(distinct given.message) from unnest(%s::text[], %s::text[], %s::text[], "
                     "%s::text[]) as given (message, day, hashtag, outcome) group by 1, 2, 3",
                     [list(column) for column in zip(*((m, str(d), h, o) for m, d, h, o in HASHTAGS),
                                                     strict=True)])
    conn.commit()


@pytest.fixture
def marts(conn, scratch_schema, warehouse_url) -> report_data.Marts:
    load_marts(conn, scratch_schema, fixture_rows())
    return report_data.fetch(warehouse_url, scratch_schema)


def _row(card: report_scorecard.Scorecard, key: str) -> report_scorecard.ScoreRow:
    return next(row for _, rows in card.sections for row in rows if row.key == key)


def test_latest_full_month_is_the_one_before_the_month_of_the_last_event():
    assert report_data.report_period(MONTHS) == report_data.Period(CURRENT, PREVIOUS, MONTHS[-1], True)
    # across a year boundary, and whatever order the months come in
    period = report_data.report_period([date(2026, 2, 1), date(2025, 12, 1), date(2026, 1, 1)])
    assert (period.current, period.previous) == (date(2026, 1, 1), date(2025, 12, 1))
    only = report_data.report_period([date(2026, 4, 1)])
    assert (only.current, only.is_full) == (date(2026, 4, 1), False)
    assert "not over" in only.describe()
    assert report_data.report_period([]).current is None


def test_scorecard_compares_the_latest_full_month_with_the_one_before(marts):
    card = report_scorecard.build(marts)
    assert (card.period.current, card.period.previous) == (CURRENT, PREVIOUS)
    registered = _row(card, "registered_users")
    assert registered.current.value == _value("registered_users", CURRENT, "ALL")[0]
    assert registered.previous.value == _value("registered_users", PREVIOUS, "ALL")[0]
    assert (registered.arrow, registered.change, registered.judgement) == ("▲", "+3", "better")
    # down is good for the time to a resolution: a rise is worse
    resolution = _row(card, "median_hours_to_resolution")
    assert resolution.arrow == "▲" and resolution.judgement == "worse"
    assert resolution.current.basis == "n = 5"
    assert _row(card, "groups").arrow == "=" and _row(card, "groups").change == "+0"
    adoption = _row(card, "adoption_rate")
    numerator, denominator = _value("adoption_rate", CURRENT, "ALL")[1:]
    assert adoption.current.basis == f"{numerator:,.0f} of {denominator:,.0f}"
    assert adoption.change.endswith(" pp")


def test_weekly_rows_are_left_out(marts):
    assert {row["period_start"] for row in marts.metrics} == set(MONTHS)


def test_unpublished_metrics_show_a_dash_and_suppressed_departments_say_so(marts):
    card = report_scorecard.build(marts)
    downloads = _row(card, "downloads")
    assert (downloads.current.state, downloads.arrow, downloads.change) == ("missing", "", MISSING)
    tiny = report_scorecard.cell(card.index, "adoption_rate", CURRENT, "Tiny")
    assert tiny.text("adoption_rate") == SUPPRESSED
    undefined = report_scorecard.cell(card.index, "answer_rate", CURRENT, "Sales")
    assert (undefined.state, undefined.text("answer_rate")) == ("undefined", MISSING)
    assert undefined.basis == "0 of 0"
    text = "\n".join(report_scorecard.render_text(card))
    tiny = next(line for line in text.splitlines() if line.strip().startswith("Tiny"))
    assert tiny.split()[1:] == [SUPPRESSED, SUPPRESSED]
    assert re.search(rf"downloads\s+{MISSING}\s+{MISSING}\s+{MISSING}$", text, re.M)


def test_satisfaction_status_and_norm_come_from_the_scorecard_mart(marts):
    card = report_scorecard.build(marts)
    csat, nps = _row(card, "csat"), _row(card, "nps")
    assert (csat.status, csat.norm) == ("green", "norm 80%")
    assert (nps.status, nps.norm) == ("red", "norm +30")
    text = "\n".join(report_scorecard.render_text(card))
    assert re.search(r"csat .*\d+%.*green\s+norm 80%$", text, re.M)


def test_marts_not_published_yet_never_break_the_scorecard(conn, scratch_schema, warehouse_url):
    load_marts(conn, scratch_schema, [r for r in fixture_rows() if r["metric_key"] not in ("csat", "nps")],
               satisfaction=False, hashtags=False)
    marts = report_data.fetch(warehouse_url, scratch_schema)
    assert (marts.satisfaction, marts.hashtags) == (None, None)
    card = report_scorecard.build(marts)
    assert _row(card, "csat").current.state == "missing" and _row(card, "csat").status is None
    # and with nothing published at all
    empty = report_data.fetch(warehouse_url, "no_such_schema")
    assert empty.metrics == [] and report_scorecard.build(empty).period.current is None
    assert "no published months yet" in "\n".join(report_scorecard.render_text(report_scorecard.build(empty)))


def test_csat_falls_back_to_the_scorecard_mart_while_metric_values_lacks_it(conn, scratch_schema,
                                                                             warehouse_url):
    rows = [r for r in fixture_rows() if r["metric_key"] != "csat"]
    load_marts(conn, scratch_schema, rows)
    conn.execute(f"update {scratch_schema}.customer_satisfaction_scorecard set value = 0.9 "
                 "where metric_key = 'csat' and scope = 'org'")
    conn.commit()
    card = report_scorecard.build(report_data.fetch(warehouse_url, scratch_schema))
    csat = _row(card, "csat")
    assert (csat.current.text("csat"), csat.current.basis, csat.status) == ("90%", "9 of 10", "green")


def test_demo_ends_with_the_scorecard_read_as_bi_reader(demo):
    first, second, *_ = demo
    for output in (first, second):
        assert "Social value scorecard — " in output
        for title in ("Level 1 — users", "Level 4 — content", "Level 5 — hashtag outcomes",
                      "Level 5 — business value"):
            assert title in output
        assert re.search(r"registered users\s+\d+\s+\d+\s+(▲ \+|▼ −|= \+)\d+", output)
        assert "HTML report written:" in output
