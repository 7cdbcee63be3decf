"""The CRM and survey side of the warehouse against the simulated world the demo loads.

The demo (the shared `demo` fixture: simulator → ingest DAGs → dbt build) loads the default Scale;
these tests recompute, in Python and straight from the simulator's world, what the marts and the
level-5 facts must hold: which opportunities exist and are socially supported (the simulator's
hidden flag), win rates, days to quote, delivery margins and the survey numbers. Exact where the
world fixes the answer; the planted effects (crm_world.PLANTED_EFFECTS) within the sampling noise
of one seeded world.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import statistics
from collections import Counter, defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from social_value.simulator import crm_world, survey_world, world
from social_value.simulator.organisation import Scale

SCALE = Scale()


def _month(day: date) -> date:
    return date(day.year, day.month, 1)


def _sf_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z").astimezone(UTC)


def _live_deals() -> dict[str, crm_world.Deal]:
    """Opportunities that exist and are not deleted at the scale's end, by Id."""
    live = {record["Id"] for record in crm_world.opportunities(SCALE) if not record["IsDeleted"]}
    return {deal.id: deal for deal in crm_world.deals(SCALE) if deal.id in live}


def _closed(deal: crm_world.Deal) -> crm_world.Step | None:
    step = deal.closed
    return step if step and step.at <= SCALE.end else None


def _facts(conn, keys: tuple[str, ...]) -> dict[tuple[str, date, str], tuple]:
    rows = conn.execute(
        "select metric_key, period_start, org_unit, value, numerator, denominator "
        "from core.int_business_metric_facts where metric_key = any(%s)", [list(keys)]).fetchall()
    return {(key, month, unit): (value, numerator, denominator)
            for key, month, unit, value, numerator, denominator in rows}


def _pooled(facts: dict, key: str) -> tuple[Decimal, Decimal]:
    """Σ numerator and Σ denominator of a ratio over every month, for 'ALL'."""
    rows = [v for (k, _, unit), v in facts.items() if k == key and unit == "ALL"]
    return sum(r[1] for r in rows), sum(r[2] for r in rows)


def restricted_key(scope: str, value: str) -> str:
    """The restricted tier's keyed hash, written again from its definition (HMAC of 'scope:value')."""
    key = os.environ["SVW_PSEUDONYM_KEY"].encode()
    return hmac.new(key, f"{scope}:{value}".encode(), hashlib.sha256).hexdigest()


def test_fct_opportunities_matches_the_crm_world(demo, conn):
    deals = {restricted_key("opportunity", deal_id): deal for deal_id, deal in _live_deals().items()}
    rows = conn.execute(
        "select opportunity_key, owner_key, is_closed, is_won, is_socially_supported, days_to_quote "
        "from restricted.fct_opportunities").fetchall()
    assert {row[0] for row in rows} == set(deals), "one row per opportunity that is not deleted"

    crm_only = {user["Id"] for user in world.salesforce_users(SCALE)
                if user["Email"].endswith("@partner.example.com")}
    for opportunity_id, owner_key, is_closed, is_won, supported, days_to_quote in rows:
        deal = deals[opportunity_id]
        closed = _closed(deal)
        assert is_closed == (closed is not None)
        assert is_won == (closed is not None and closed.stage == "Closed Won")
        # Every supported opportunity is mentioned on or before its CloseDate, no other ever is.
        assert supported == deal.supported, opportunity_id
        assert (owner_key is None) == (deal.owner_id in crm_only), opportunity_id
        quoted = deal.quoted_at if deal.quoted_at and deal.quoted_at <= SCALE.end else None
        if quoted is None:
            assert days_to_quote is None
        else:
            expected = Decimal((quoted - deal.created).total_seconds()) / 86400
            assert abs(days_to_quote - expected) < Decimal("1e-9"), opportunity_id


def test_win_rates_and_days_to_quote_show_the_planted_effects(demo, conn):
    deals = _live_deals()
    facts = _facts(conn, ("win_rate", "win_rate_social", "win_rate_other", "opportunities_closed"))
    rates = {}
    for key, flag in (("win_rate", None), ("win_rate_social", True), ("win_rate_other", False)):
        closed = [deal for deal in deals.values()
                  if _closed(deal) and (flag is None or deal.supported == flag)]
        won = sum(_closed(deal).stage == "Closed Won" for deal in closed)
        assert _pooled(facts, key) == (won, len(closed)), key
        rates[key] = won / len(closed)
    closed_count = sum(v[0] for (k, _, unit), v in facts.items()
                       if k == "opportunities_closed" and unit == "ALL")
    assert closed_count == sum(1 for deal in deals.values() if _closed(deal))

    # One seeded world of ~160 closed opportunities: the planted 0.60 vs 0.35 within sampling noise.
    assert rates["win_rate_social"] == pytest.approx(crm_world.PLANTED_EFFECTS["win_rate_social"], abs=0.1)
    assert rates["win_rate_other"] == pytest.approx(crm_world.PLANTED_EFFECTS["win_rate_other"], abs=0.1)
    assert rates["win_rate_social"] - rates["win_rate_other"] > 0.15

    medians = dict(conn.execute(
        "select is_socially_supported, percentile_cont(0.5) within group (order by days_to_quote) "
        "from restricted.fct_opportunities where days_to_quote is not null group by 1").fetchall())
    assert medians[True] == pytest.approx(crm_world.PLANTED_EFFECTS["median_days_to_quote_social"], rel=0.25)
    assert medians[False] == pytest.approx(crm_world.PLANTED_EFFECTS["median_days_to_quote_other"], rel=0.25)

    # The metric counts an opportunity in the month it was first quoted, over its quoted items.
    monthly = defaultdict(list)
    for deal in deals.values():
        if deal.quoted_at and deal.quoted_at <= SCALE.end:
            days = (deal.quoted_at - deal.created).total_seconds() / 86400
            monthly[_month(deal.quoted_at.date())].append(days)
    got = {month: (value, denominator) for (key, month, unit), (value, _, denominator)
           in _facts(conn, ("median_days_to_quote",)).items() if unit == "ALL"}
    assert set(got) == set(monthly)
    for month, days in monthly.items():
        assert got[month][1] == len(days)
        assert float(got[month][0]) == pytest.approx(statistics.median(days), abs=1e-9)


def test_delivery_margins_show_the_planted_effects(demo, conn):
    deals = _live_deals()
    modstamps = [_sf_time(r["SystemModstamp"]) for r in crm_world.opportunities(SCALE)]
    projects = list(crm_world.projects(SCALE))
    modstamps += [_sf_time(r["SystemModstamp"]) for r in projects]
    as_of = max(modstamps).date()
    facts = _facts(conn, ("delivery_margin", "delivery_margin_social", "delivery_margin_other"))
    margins = {}
    for key, flag in (("delivery_margin", None), ("delivery_margin_social", True),
                      ("delivery_margin_other", False)):
        ended = [p for p in projects if date.fromisoformat(p["End_Date__c"]) <= as_of
                 and (flag is None or deals[p["Opportunity__c"]].supported == flag)]
        revenue = sum(p["Revenue__c"] for p in ended)
        profit = sum(p["Revenue__c"] - p["Cost__c"] for p in ended)
        numerator, denominator = _pooled(facts, key)
        assert float(numerator) == pytest.approx(profit, abs=0.01), key
        assert float(denominator) == pytest.approx(revenue, abs=0.01), key
        margins[key] = profit / revenue
    assert margins["delivery_margin_social"] == pytest.approx(
        crm_world.PLANTED_EFFECTS["delivery_margin_social"], abs=0.05)
    assert margins["delivery_margin_other"] == pytest.approx(
        crm_world.PLANTED_EFFECTS["delivery_margin_other"], abs=0.05)
    # No margin month lies after the CRM's as-of date: a planned end is no event yet.
    assert max(month for (_, month, _) in facts) <= _month(as_of)


def test_survey_metrics_equal_the_survey_world(demo, conn):
    expected: Counter = Counter()
    # A response counts by its start (SurveyMonkey date_created, Qualtrics StartDate: the
    # simulator's `created`); survey_responses counts completed ones, csat and nps every answer.
    for source in ("surveymonkey", "qualtrics"):
        for response in survey_world.responses(SCALE, source):
            month = _month(response.created.date())
            expected["survey_responses", month, "value"] += response.completed
            if response.csat is not None:
                expected["csat", month, "numerator"] += response.csat >= 4
                expected["csat", month, "denominator"] += 1
            if response.nps is not None:
                expected["nps", month, "numerator"] += (response.nps >= 9) - (response.nps <= 6)
                expected["nps", month, "denominator"] += 1
    got: Counter = Counter()
    for (key, month, unit), (value, numerator, denominator) in _facts(
            conn, ("survey_responses", "csat", "nps")).items():
        if unit != "ALL":
            continue
        if key == "survey_responses":
            got[key, month, "value"] = int(value)
        else:
            got[key, month, "numerator"] = int(numerator)
            got[key, month, "denominator"] = int(denominator)
            scale = 100 if key == "nps" else 1
            assert float(value) == pytest.approx(float(scale * numerator / denominator), abs=1e-12)
    assert +got == +expected


def test_scorecard_org_rows_equal_the_metric_facts(demo, conn):
    facts = _facts(conn, ("csat", "nps"))
    rows = conn.execute(
        "select period_start, metric_key, value, numerator, denominator, norm, amber_tolerance, status "
        "from marts.customer_satisfaction_scorecard where scope = 'org'").fetchall()
    assert rows
    for month, key, value, numerator, denominator, norm, tolerance, status in rows:
        fact = facts.get((key, month, "ALL"))
        if fact is None:
            assert (value, numerator, denominator, status) == (None, 0, 0, None)
            continue
        assert (value, numerator, denominator) == fact
        assert status == ("green" if value >= norm else "amber" if value >= norm - tolerance else "red")
    assert {(key, month) for key, month, unit in facts if unit == "ALL"} <= {(r[1], r[0]) for r in rows}

    per_account = conn.execute(
        "select period_start, metric_key, sum(numerator), sum(denominator) "
        "from marts.customer_satisfaction_scorecard where scope = 'account' group by 1, 2").fetchall()
    for month, key, numerator, denominator in per_account:
        org = facts.get((key, month, "ALL"), (None, 0, 0))
        # Every simulated response names a known account, so the accounts add up to the org.
        assert (numerator, denominator) == (org[1], org[2])
