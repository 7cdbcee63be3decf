"""An ingest run loads up to its data interval end, never past now, and says so in the task log."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from social_value.ingest.run_window import load_until

NOW = datetime(2026, 12, 6, 14, 30, tzinfo=UTC)


def test_a_run_for_a_past_date_loads_up_to_its_midnight_and_says_so(caplog):
    caplog.set_level(logging.INFO, "social_value.ingest.run_window")
    day = datetime(2026, 12, 5, tzinfo=UTC)
    assert load_until(day, NOW) == day
    assert "loading up to 2026-12-05T00:00:00+00:00" in caplog.text
    assert "a run for logical date 2026-12-05 loads up to 2026-12-05 00:00 UTC, not through 2026-12-05" \
        in caplog.text
    caplog.clear()
    moment = datetime(2026, 12, 6, 9, 15, tzinfo=UTC)  # e.g. `airflow dags test` without a date
    assert load_until(moment, NOW) == moment
    assert "loading up to 2026-12-06T09:15:00+00:00, this run's data interval end" in caplog.text
    assert "logical date" not in caplog.text


def test_an_interval_in_the_future_or_none_loads_up_to_now(caplog):
    caplog.set_level(logging.INFO, "social_value.ingest.run_window")
    assert load_until(datetime(2026, 12, 7, tzinfo=UTC), NOW) == NOW
    assert "ends later, at 2026-12-07" in caplog.text
    assert load_until(None, NOW) == NOW
    assert "no data interval" in caplog.text
