"""Graph days the API refuses (HTTP 400 past its 28-day retention) are skipped and recorded where
auditors see them, while the other days land; a later load that lands such a day fills the gap.

Over real HTTP: the simulator with `graph_retention` answers as Graph does.
"""

from __future__ import annotations

import os
from datetime import timedelta

import psycopg
import pytest

from social_value import publish, runtime
from social_value.connectors import msgraph_reports
from social_value.ingest.intranet import SourceConnection, ingest_msgraph
from social_value.simulator import msgraph
from social_value.simulator.organisation import Scale
from social_value.warehouse_setup import role_passwords, setup

SCALE = Scale(employees=12, months=2, seed=5)
UNTIL = SCALE.end + timedelta(seconds=1)  # the simulator's "today" is the day after its end
FORGET_WATERMARK = "delete from raw_meta.watermarks where source = 'msgraph' and stream = %s"
REFUSED = [SCALE.end.date() - timedelta(days=n) for n in (29, 28, 27)]  # 28 or more days before today


@pytest.fixture
def gaps_cleared(conn, scratch_schema):
    yield
    conn.rollback()
    conn.execute("delete from raw_meta.skipped_days where stream = %s", (scratch_schema,))
    conn.execute(FORGET_WATERMARK, (scratch_schema,))
    if conn.execute("select to_regclass('audit.skipped_source_days') is not null").fetchone()[0]:
        conn.execute("delete from audit.skipped_source_days where stream = %s", (scratch_schema,))
    conn.commit()


def _landed_days(conn, schema) -> set[str]:
    return {day for (day,) in conn.execute(
        f'select distinct report_refresh_date from "{schema}".yammer_activity_user_detail')}


def test_refused_days_are_skipped_and_recorded_while_the_others_land(serve_simulator, conn, scratch_schema,
                                                                     warehouse_url, gaps_cleared):
    source = SourceConnection(*serve_simulator(SCALE, "graph_retention"))
    summary = ingest_msgraph(warehouse_url, source, UNTIL, schema=scratch_schema, history_days=30)

    served = [SCALE.end.date() - timedelta(days=n) for n in range(27)]
    expected = sum(len(msgraph.day_rows(SCALE, day)) for day in served)
    assert summary["days"] == 27
    assert sorted(summary["skipped_days"]) == [day.isoformat() for day in REFUSED]
    assert summary["tables"]["yammer_activity_user_detail"]["read"] == expected
    assert _landed_days(conn, scratch_schema) == {day.isoformat() for day in served}
    recorded = conn.execute("select day, reason, load_id, filled_by_load_id from raw_meta.skipped_days "
                            "where source = 'msgraph' and stream = %s order by day",
                            (scratch_schema,)).fetchall()
    assert [row[0] for row in recorded] == REFUSED
    for _, reason, load_id, filled in recorded:
        assert "HTTP 400" in reason and "Only support data for the past 28 days" in reason
        assert load_id == summary["load_id"] and filled is None
    status = conn.execute("select status from raw_meta.loads where load_id = %s", (summary["load_id"],))
    assert status.fetchone()[0] == "succeeded"

    # Auditors read the gaps in the audit schema: a build sets up the warehouse (which hands raw_meta
    # to the loader, readable by the transformer) and copies them there as the transformer.
    conn.commit()  # setup changes owners: it would wait for this transaction's locks
    setup(warehouse_url, os.environ["SVW_PSEUDONYM_KEY"], role_passwords())
    with psycopg.connect(runtime.role_url_from_env("transformer"), autocommit=True) as transformer:
        publish.ensure_audit(transformer)
        publish.skipped_days.refresh_audit(transformer)
    audited = conn.execute("select day from audit.skipped_source_days where stream = %s and "
                           "filled_by_load_id is null order by day", (scratch_schema,)).fetchall()
    assert [day for (day,) in audited] == REFUSED

    # The source serves those days again (e.g. a backfill from an export): the gaps are filled.
    conn.execute(FORGET_WATERMARK, (scratch_schema,))
    conn.commit()
    again = ingest_msgraph(warehouse_url, SourceConnection(*serve_simulator(SCALE)), UNTIL,
                           schema=scratch_schema, history_days=30)
    assert again["days"] == 30 and again["skipped_days"] == {}
    filled = conn.execute("select count(*) from raw_meta.skipped_days where stream = %s "
                          "and filled_by_load_id = %s", (scratch_schema, again["load_id"])).fetchone()[0]
    assert filled == 3


def test_a_first_run_asks_only_for_days_graph_serves(serve_simulator, conn, scratch_schema, warehouse_url,
                                                     gaps_cleared):
    """The default history is what Graph serves to a run that loads up to today: nothing refused."""
    source = SourceConnection(*serve_simulator(SCALE, "graph_retention"))
    summary = ingest_msgraph(warehouse_url, source, UNTIL, schema=scratch_schema)
    assert summary["days"] == msgraph_reports.HISTORY_DAYS and summary["skipped_days"] == {}
    assert summary["first_day"] == (SCALE.end.date() - timedelta(days=26)).isoformat()


def test_a_day_refused_for_another_reason_than_400_fails_the_load(recorded, scratch_schema, warehouse_url,
                                                                 gaps_cleared):
    """Only a 400 is a day Graph will not serve; a refused login stays a permanent failure."""
    from social_value.connectors.http import SourceError

    base = recorded(lambda path, query: (401, '{"error": {"code": "InvalidAuthenticationToken"}}'))
    with pytest.raises(SourceError, match="HTTP 401"):
        ingest_msgraph(warehouse_url, SourceConnection(base, os.environ.get("SVW_SOURCE_TOKEN", "t")), UNTIL,
                       schema=scratch_schema, history_days=3)
