"""A BI user who subtracts: every difference of published metric_values rows must cover at least
min_group_size registered people, so no suppressed department can be worked out from the rest."""

from __future__ import annotations

import os
from collections import defaultdict
from decimal import Decimal
from itertools import combinations

import psycopg
import pytest

from social_value import runtime
from social_value.dbt_runner import run_dbt
from social_value.warehouse_setup import ROLES

# Metrics whose 'ALL' row is the sum of its department rows plus the people without a department.
ADDITIVE = ("registered_users", "active_users", "contributing_users", "posts", "replies", "likes",
            "reads", "downloads", "questions", "answered_questions", "hashtag_messages", "pain_points",
            "customer_impact_messages", "customer_feedback_messages", "opportunities_closed",
            "opportunities_won", "survey_responses")


def role_url(role: str) -> str:
    return runtime.role_url(os.environ["SVW_WAREHOUSE_URL"], role, os.environ[ROLES[role]])


def published(conn: psycopg.Connection, schema: str) -> dict:
    """{month: {metric: {org_unit: value or None}}} and the set of suppressed (month, unit)."""
    table: dict = defaultdict(lambda: defaultdict(dict))
    hidden = set()
    for metric, month, unit, value, suppressed in conn.execute(
            f"select metric_key, period_start, org_unit, value, suppressed from {schema}.metric_values "
            "where metric_key = any(%s)", (list(ADDITIVE),)):
        table[month][metric][unit] = value
        if suppressed:
            hidden.add((month, unit))
    return table, hidden


def subtraction_attacks(table: dict, hidden: set, min_group_size: int) -> list[str]:
    """Try 'ALL' minus every subset of the visible departments of every month; a result that
    stands for fewer than min_group_size registered people is a successful attack."""
    found = []
    for month, metrics in table.items():
        units = [unit for unit in metrics["registered_users"] if unit != "ALL"]
        shown = [unit for unit in units if (month, unit) not in hidden]
        if len(shown) == len(units):
            continue
        everyone = metrics["registered_users"]["ALL"]
        for size in range(len(shown) + 1):
            for subset in combinations(shown, size):
                group = everyone - sum((metrics["registered_users"][unit] for unit in subset), Decimal(0))
                if group < min_group_size:
                    found.append(f"{month}: ALL minus {list(subset)} stands for {group} people")
    return found


def test_no_difference_of_published_rows_reveals_a_small_group(demo):
    with psycopg.connect(role_url("bi_reader")) as conn:
        table, hidden = published(conn, "marts")
    assert subtraction_attacks(table, hidden, 5) == []


def test_the_attack_finds_a_hidden_department_without_its_complement():
    """The attack can fail: one hidden department and nobody else in the rest is found."""
    month = "2026-03-01"
    table = {month: {"registered_users": {"ALL": Decimal(18), "Tiny": None, "Mid": Decimal(6),
                                          "Large": Decimal(12)}}}
    found = subtraction_attacks(table, {(month, "Tiny")}, 5)
    assert found == [f"{month}: ALL minus ['Mid', 'Large'] stands for 0 people"]


@pytest.fixture
def raised_threshold(demo, make_schema, conn):
    """metric_values rebuilt into a schema of the test's own with a threshold that hides the
    smallest department of the busiest month alone, so only a complement can protect it;
    core.int_suppressed_units is rebuilt with the default afterwards."""
    counts = conn.execute(
        "select period_start, org_unit, value from core.int_intranet_metric_facts "
        "where metric_key = 'registered_users' and org_unit <> 'ALL' order by period_start, value").fetchall()
    by_month = defaultdict(list)
    for month, _unit, value in counts:
        by_month[month].append(value)
    # Just above the smallest department of a month where the second smallest is larger still.
    threshold = max(int(values[0]) + 1 for values in by_month.values() if values[1] > values[0])
    conn.commit()
    schema = make_schema()
    conn.execute(f"alter schema {schema} owner to transformer")
    conn.commit()
    transformer = role_url("transformer")
    vars_ = f"{{min_group_size: {max(threshold, 5)}}}"
    try:
        run_dbt(["run", "--select", "int_suppressed_units", "metric_values", "--vars", vars_], transformer,
                env={"SVW_MARTS_SCHEMA": schema})
        yield schema, max(threshold, 5)
    finally:
        run_dbt(["run", "--select", "int_suppressed_units"], transformer)


def test_a_raised_threshold_hides_complements_too(raised_threshold, warehouse_url):
    schema, threshold = raised_threshold
    # autocommit: no read lock may outlive the test, or the fixture's rebuild would wait for it
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        table, hidden = published(conn, schema)
        reasons = dict(conn.execute("select suppression_reason, count(*) from core.int_suppressed_units "
                                    "where is_suppressed group by 1").fetchall())
    assert hidden, "the raised threshold hides no department: the attack would prove nothing"
    assert subtraction_attacks(table, hidden, threshold) == []
    assert reasons.get("small_group", 0) > 0
