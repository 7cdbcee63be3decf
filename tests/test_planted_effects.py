"""The effects the simulator plants in the CRM come back out of the published marts.

crm_world.PLANTED_EFFECTS holds the true values: supported opportunities are won 60% of the time,
the others 35%; delivery margins around 0.28 vs 0.18; days to quote log-normal with median 2 vs 8.
The demo's Scale() (60 employees, 6 months) gives 180 opportunities (about 150 closed, 40%
supported) and about 70 delivery projects, so the warehouse sees a sample, not the truth.
Tolerances, and why:
- win rates: binomial standard error sqrt(p(1-p)/n) with n ≈ 60 social / 95 other closed is about
  0.065 / 0.05; deleted opportunities (all lost) are left out, which lifts both rates a little.
  Tolerance 0.15 (2-3 standard errors), and the social rate must beat the other by at least 0.1
  (planted: 0.25), so swapping or blurring the split fails.
- delivery margins: per-project margin sd 0.06, revenue-weighted over about 35 projects per side
  (effective n ≈ 27): standard error ≈ 0.012. Tolerance 0.05 (about 4 standard errors), and social
  must beat other by at least 0.05 (planted: 0.10).
- median days to quote: log-normal sigma 0.4, standard error of the median ≈ 1.25·sigma·median/√n,
  about 0.13 days (n ≈ 60) and 0.4 days (n ≈ 90). Tolerance 25% of the planted median (≥ 4 standard
  errors), and other/social must be at least 2.5 (planted: 4).
The seed is fixed, so these are deterministic; the tolerances are what the sample size justifies,
not a fit to one run.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from social_value.simulator.crm_world import PLANTED_EFFECTS

RATE_TOLERANCE = 0.15
MARGIN_TOLERANCE = 0.05
QUOTE_RELATIVE_TOLERANCE = 0.25


def pooled(conn, metric_key: str) -> float:
    """Σ numerator / Σ denominator over every month of the 'ALL' rows."""
    numerator, denominator = conn.execute(
        "select sum(numerator), sum(denominator) from marts.metric_values "
        "where metric_key = %s and org_unit = 'ALL' and period_grain = 'month'", (metric_key,)).fetchone()
    assert denominator, f"marts.metric_values has no 'ALL' rows with a denominator for {metric_key}"
    return float(Decimal(numerator) / Decimal(denominator))


@pytest.mark.parametrize(("metric_key", "tolerance"), [
    ("win_rate_social", RATE_TOLERANCE), ("win_rate_other", RATE_TOLERANCE),
    ("delivery_margin_social", MARGIN_TOLERANCE), ("delivery_margin_other", MARGIN_TOLERANCE)])
def test_pooled_rate_finds_the_planted_value(demo, conn, metric_key, tolerance):
    found, planted = pooled(conn, metric_key), PLANTED_EFFECTS[metric_key]
    assert abs(found - planted) <= tolerance, (metric_key, found, planted)


@pytest.mark.parametrize(("family", "least_gap"), [("win_rate", 0.10), ("delivery_margin", 0.05)])
def test_social_beats_other(demo, conn, family, least_gap):
    social, other = pooled(conn, f"{family}_social"), pooled(conn, f"{family}_other")
    assert social - other >= least_gap, (family, social, other)


def test_median_days_to_quote_finds_the_planted_medians(demo, conn):
    rows = dict(conn.execute(
        "select is_socially_supported, percentile_cont(0.5) within group (order by days_to_quote) "
        "from restricted.fct_opportunities where days_to_quote is not null group by 1").fetchall())
    assert set(rows) == {True, False}, rows
    for supported, side in ((True, "social"), (False, "other")):
        planted = PLANTED_EFFECTS[f"median_days_to_quote_{side}"]
        assert abs(rows[supported] - planted) <= QUOTE_RELATIVE_TOLERANCE * planted, (side, rows[supported])
    assert rows[False] / rows[True] >= 2.5, rows
