"""marts.metric_values against an independent computation of METRICS.md from the raw tables.

The demo (simulator → ingest DAGs → dbt → publish) builds the warehouse; tests/reference_metrics.py
recomputes every metric in plain Python from raw_* only (its docstring lists each literal reading
it makes). Each metric key is compared row by row: the same (month, org unit) rows, the same
level and suppression, counts, numerators and denominators exactly, rates and medians within
1e-9. A metric the mart does not publish is a failure, not a skip.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from fractions import Fraction

import psycopg
import pytest
from reference_metrics import COUNT, METRICS, Row, reference_rows

TOLERANCE = Fraction(1, 10**9)
SHOWN = 8  # differing rows shown per failing metric


@pytest.fixture(scope="module")
def reference(demo, warehouse_url, env) -> dict[str, dict[tuple, Row]]:
    with psycopg.connect(warehouse_url) as conn:
        rows = reference_rows(conn, env["SVW_PSEUDONYM_KEY"])
    by_metric: dict[str, dict[tuple, Row]] = defaultdict(dict)
    for row in rows:
        by_metric[row.metric_key][row.period_start, row.org_unit] = row
    return by_metric


@pytest.fixture(scope="module")
def published(demo, warehouse_url) -> dict[str, dict[tuple, tuple]]:
    by_metric: dict[str, dict[tuple, tuple]] = defaultdict(dict)
    with psycopg.connect(warehouse_url) as conn:
        for key, level, month, unit, value, numerator, denominator, suppressed in conn.execute(
                "select metric_key, level, period_start, org_unit, value, numerator, denominator, "
                "suppressed from marts.metric_values where period_grain = 'month'"):
            by_metric[key][month, unit] = (level, value, numerator, denominator, suppressed)
    return by_metric


def _fraction(number: Decimal | int | None) -> Fraction | None:
    return None if number is None else Fraction(number)


def _close(expected: Fraction | None, actual: Fraction | None, exact: bool) -> bool:
    if expected is None or actual is None:
        return expected is actual
    if exact:
        return expected == actual
    return abs(expected - actual) <= TOLERANCE * max(1, abs(expected))


def _show(number: Fraction | None) -> str:
    if number is None:
        return "NULL"
    return str(number.numerator) if number.denominator == 1 else f"{float(number):.12g}"


def row_differences(expected: dict[tuple, Row], actual: dict[tuple, tuple]) -> dict[str, list[str]]:
    """What differs between the reference's rows of one metric and the mart's, by kind, one line each."""
    problems: dict[str, list[str]] = {"different": [], "missing": [], "unexpected": []}
    problems["missing"] = [f"{month} {unit}: expected value {_show(expected[month, unit].value)}"
                           for month, unit in sorted(expected.keys() - actual.keys())]
    problems["unexpected"] = [f"{month} {unit}: value {actual[month, unit][1]}"
                              for month, unit in sorted(actual.keys() - expected.keys())]
    for month, unit in sorted(expected.keys() & actual.keys()):
        want = expected[month, unit]
        level, value, numerator, denominator, suppressed = actual[month, unit]
        exact = METRICS[want.metric_key][1] == COUNT
        got = (_fraction(value), _fraction(numerator), _fraction(denominator))
        same = (level == want.level and suppressed == want.suppressed
                and _close(want.value, got[0], exact)
                and _close(want.numerator, got[1], True) and _close(want.denominator, got[2], True))
        if not same:
            problems["different"].append(
                f"{month} {unit}: expected value/num/den/suppressed "
                f"{_show(want.value)} / {_show(want.numerator)} / {_show(want.denominator)} / "
                f"{want.suppressed} (level {want.level}), published {_show(got[0])} / {_show(got[1])} / "
                f"{_show(got[2])} / {suppressed} (level {level})")
    return {kind: lines for kind, lines in problems.items() if lines}


def describe(metric_key: str, total: int, problems: dict[str, list[str]]) -> str:
    lines = [f"{metric_key}: of {total} expected rows, "
             + ", ".join(f"{len(found)} {kind}" for kind, found in problems.items())]
    for kind, found in problems.items():
        lines += [f"  {kind}: {line}" for line in found[:SHOWN]]
    return "\n".join(lines)


@pytest.mark.parametrize("metric_key", list(METRICS))
def test_metric_matches_independent_computation(metric_key, reference, published):
    expected = reference[metric_key]
    assert expected, f"the reference computed no rows for {metric_key}"
    if metric_key not in published:
        pytest.fail(f"marts.metric_values does not publish {metric_key}")
    problems = row_differences(expected, published[metric_key])
    assert not problems, describe(metric_key, len(expected), problems)


def test_mart_publishes_only_metrics_of_the_dictionary(published):
    assert set(published) <= set(METRICS), sorted(set(published) - set(METRICS))


def test_row_differences_catches_each_kind_of_difference():
    """The comparison itself can fail: a wrong value, a missing and an extra row are each reported."""
    from datetime import date

    month = date(2026, 5, 1)
    expected = {(month, "ALL"): Row("answer_rate", 4, month, "ALL", Fraction(1, 3), Fraction(1), Fraction(3),
                                    False),
                (month, "HR"): Row("answer_rate", 4, month, "HR", None, None, None, True)}
    good = {(month, "ALL"): (4, Decimal("0.33333333333333333333"), Decimal(1), Decimal(3), False),
            (month, "HR"): (4, None, None, None, True)}
    assert row_differences(expected, good) == {}
    wrong = {**good, (month, "ALL"): (4, Decimal("0.3334"), Decimal(1), Decimal(3), False)}
    assert len(row_differences(expected, wrong)["different"]) == 1
    unsuppressed = {**good, (month, "HR"): (4, Decimal(0), Decimal(0), Decimal(1), False)}
    assert len(row_differences(expected, unsuppressed)["different"]) == 1
    assert list(row_differences(expected, {(month, "ALL"): good[month, "ALL"]})) == ["missing"]
    extra = {**good, (month, "IT"): (4, None, Decimal(0), Decimal(0), False)}
    assert list(row_differences(expected, extra)) == ["unexpected"]
