"""Incremental facts give the same result as a full refresh, late records included: a view event
for a day far outside the lookback window lands after a build, the incremental build picks it up,
and a full refresh of the same models then changes nothing."""

from __future__ import annotations

import os
from datetime import timedelta

import psycopg

from social_value.connectors import activity_events
from social_value.dbt_runner import run_dbt
from social_value.loader import finish_load, merge_batch, recorded_load

LATE_EVENT = "evt-late-test-0001"
FACTS = ["core.int_activity_days", "marts.metric_values"]


def _snapshot(conn) -> dict[str, list[tuple]]:
    return {table: conn.execute(f"select * from {table} order by 1, 2, 3").fetchall() for table in FACTS}


def _land(conn, rows: list[dict]) -> None:
    with recorded_load(conn, "activity_events", None) as load_id, conn.transaction():
        stats = merge_batch(conn, activity_events.table(), [("test:late", row) for row in rows],
                            load_id, "activity_events")
        finish_load(conn, load_id, stats)


def test_incremental_build_with_a_late_record_equals_a_full_refresh(demo, warehouse_url):
    # Autocommit: an open read transaction would hold a lock that a full refresh waits for.
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        _check_late_record(conn)


def _check_late_record(conn) -> None:
    transformer = os.environ["AIRFLOW_CONN_SVW_TRANSFORMER"]
    last_day = conn.execute("select max(activity_date) from core.int_activity_days").fetchone()[0]
    late_day = last_day - timedelta(days=40)  # far outside activity_lookback_days
    email, person_key = conn.execute(
        "select users.email, persons.person_key from raw_viva_engage.users as users "
        "join staging.stg_viva_engage__users as staged on staged.viva_engage_user_id = users.id "
        "join core.int_persons as persons on persons.person_key = staged.person_key "
        "where persons.registered_from < %s and persons.registered_until is null "
        "order by users.id limit 1", (late_day,)).fetchone()

    def reads_that_day() -> int:
        row = conn.execute("select reads from core.int_activity_days where person_key = %s "
                           "and activity_date = %s", (person_key, late_day)).fetchone()
        return row[0] if row else 0

    before = reads_that_day()
    _land(conn, [{"event_id": LATE_EVENT, "occurred_at": f"{late_day}T12:00:00+00:00", "user_email": email,
                  "event_type": "view", "object_type": "page", "object_id": "obj-late"}])
    try:
        run_dbt(["build", "--select", "int_activity_days+"], transformer)
        incremental = _snapshot(conn)
        assert reads_that_day() == before + 1, "the incremental build missed the late record"

        run_dbt(["build", "--select", "int_activity_days+", "--full-refresh"], transformer)
        assert _snapshot(conn) == incremental
    finally:
        conn.execute("delete from raw_activity_events.events where event_id = %s", (LATE_EVENT,))
        run_dbt(["build", "--select", "int_activity_days+", "--full-refresh"], transformer)
    assert reads_that_day() == before
