"""The end of the window an ingest run loads, said in words in the task log.

A run loads up to its data interval end, never past now. For a daily DAG in Airflow 3 a run for
logical date D (scheduled, or triggered by hand "for D") ends its interval at D 00:00 UTC: it
loads up to D 00:00, not through D, and the day D itself comes with the next run. That is easy
to misread, so the log names the instant and what it means.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

log = logging.getLogger(__name__)


def load_until(data_interval_end: datetime | None, now: datetime | None = None) -> datetime:
    """The run's data interval end, or now if it has none or it is in the future."""
    now = now or datetime.now(UTC)
    if data_interval_end is None:
        log.info("loading up to now, %s (this run has no data interval)", now.isoformat())
        return now
    if data_interval_end > now:
        log.info("loading up to now, %s (this run's data interval ends later, at %s)", now.isoformat(),
                 data_interval_end.isoformat())
        return now
    if data_interval_end.astimezone(UTC).time() == datetime.min.time():
        day = data_interval_end.astimezone(UTC).date().isoformat()
        log.info("loading up to %s, this run's data interval end, exclusive: a run for logical date %s "
                 "loads up to %s 00:00 UTC, not through %s; %s itself comes with the next run",
                 data_interval_end.isoformat(), day, day, day, day)
    else:
        log.info("loading up to %s, this run's data interval end, exclusive", data_interval_end.isoformat())
    return data_interval_end
