"""Graph activity reports, Slack exports and activity events: simulator → connector → raw, for real.

Exact counts come from the simulator's own generators; reruns leave the tables as they were; bad
lines are quarantined with their reason; recorded real samples are read by header name.
"""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from conftest import SAMPLES

from social_value.connectors import msgraph_reports
from social_value.connectors.json_stream import iter_json_array
from social_value.ingest.intranet import (
    SourceConnection,
    ingest_activity_events_drop,
    ingest_msgraph,
    ingest_slack_drop,
)
from social_value.simulator import activity_events, msgraph, slack
from social_value.simulator.api import Faults
from social_value.simulator.organisation import Scale

SCALE = Scale(employees=20, months=2, seed=11)


@pytest.fixture
def graph(serve_simulator):
    return lambda faults="": SourceConnection(*serve_simulator(SCALE, faults))


def _table(conn, schema, name):
    return conn.execute(f'select * from "{schema}"."{name}" order by 1, 2').fetchall()


def test_graph_report_days_land_with_exact_counts_and_rerun_changes_nothing(graph, conn, scratch_schema,
                                                                           warehouse_url):
    source = graph()
    until = SCALE.end + timedelta(seconds=1)  # the last day loaded is the day before `until`
    days = 10
    first = ingest_msgraph(warehouse_url, source, until, schema=scratch_schema, history_days=days)
    last = SCALE.end.date()
    expected = sum(len(msgraph.day_rows(SCALE, last - timedelta(days=n))) for n in range(days))
    assert first["days"] == days and first["last_day"] == last.isoformat()
    assert first["tables"]["yammer_activity_user_detail"] == {"read": expected, "changed": expected,
                                                              "quarantined": 0, "skipped_erased": 0}
    before = _table(conn, scratch_schema, "yammer_activity_user_detail")
    second = ingest_msgraph(warehouse_url, source, until, schema=scratch_schema, history_days=days)
    assert second["days"] == 3, "re-reads the overlap (2 days) and the last day again"
    assert second["tables"]["yammer_activity_user_detail"]["changed"] == 0
    assert _table(conn, scratch_schema, "yammer_activity_user_detail") == before
    empty_reads = conn.execute(f'select count(*) from "{scratch_schema}".yammer_activity_user_detail '
                               "where read_count is null").fetchone()[0]
    assert empty_reads > 0, 'Graph writes "" for a zero count; it lands as NULL'


def test_graph_retries_transient_faults_and_counts_concealed_names(graph, scratch_schema, warehouse_url):
    source = graph("429,truncate,concealed_names")  # each path of the 302 chain fails twice
    until = SCALE.end + timedelta(seconds=1)
    summary = ingest_msgraph(warehouse_url, source, until, schema=scratch_schema, history_days=5)
    expected = sum(len(msgraph.day_rows(SCALE, SCALE.end.date() - timedelta(days=n))) for n in range(5))
    assert summary["tables"]["yammer_activity_user_detail"]["read"] == expected
    assert summary["concealed_rows"] == expected


def test_recorded_graph_report_is_read_by_header_name():
    sample = SAMPLES / "graph-reports" / "getYammerActivityUserDetail_D7.csv"
    if not sample.exists():
        pytest.skip(f"recorded samples not found at {SAMPLES} (the shared folder is absent)")
    rows = list(msgraph_reports.read_report(sample))
    assert rows and set(rows[0]) == set(msgraph_reports.COLUMNS)
    assert rows[0]["report_period"] == "7"
    assert all(msgraph_reports.is_concealed(row) for row in rows)


def test_slack_export_lands_every_channel_message_once(tmp_path, conn, scratch_schema, warehouse_url):
    drop = tmp_path / "slack"
    drop.mkdir()
    slack.write_export(drop / "export.zip", SCALE, Faults())
    summary = ingest_slack_drop(warehouse_url, tmp_path, schema=scratch_schema)
    messages = sum(len(day) for channel in slack.channel_messages(SCALE).values() for day in channel.values())
    counts = summary["files"]["export.zip"]
    assert counts["users"]["read"] == len(slack.members(SCALE))
    assert counts["channels"]["read"] == len(slack.CHANNELS)
    assert counts["messages"] == {"read": messages, "changed": messages, "quarantined": 0,
                                  "skipped_erased": 0}
    threads = conn.execute(f'select count(*) from "{scratch_schema}".messages where reply_count is not null'
                           ).fetchone()[0]
    assert threads > 0
    reactions = conn.execute(f'select reactions::jsonb -> 0 ->> \'name\' from "{scratch_schema}".messages '
                             "where reactions is not null limit 1").fetchone()[0]
    assert reactions in slack.REACTIONS
    again = ingest_slack_drop(warehouse_url, tmp_path, schema=scratch_schema)
    assert again["load_ids"] == [] and again["unchanged"] == ["export.zip"]


def test_activity_events_quarantine_bad_lines_and_load_the_rest(tmp_path, conn, scratch_schema,
                                                                warehouse_url):
    drop = tmp_path / "activity_events"
    drop.mkdir()
    for relative, writer in activity_events.DROPS.items():
        writer(tmp_path / relative, SCALE, Faults())
    history = drop / "events-history.ndjson"
    with history.open("ab") as out:
        out.write(b"{not json}\n")
        out.write(b'{"event_id": "evt-bad-utf8", "user_email": "\xff\xfe@example.org"}\n')
        out.write(b"[1, 2]\n")
    summary = ingest_activity_events_drop(warehouse_url, tmp_path, schema=scratch_schema)
    total = sum(1 for _ in activity_events.events(SCALE))
    read = sum(f["events"]["read"] for f in summary["files"].values())
    loaded = sum(f["events"]["changed"] for f in summary["files"].values())
    assert (read, loaded) == (total + 3, total)
    reasons = [row[0] for row in conn.execute(
        "select reason from raw_meta.quarantine where load_id = any(%s) order by quarantine_id",
        (summary["load_ids"],))]
    assert [r.split(" is ")[1].split(":")[0] for r in reasons] == ["not JSON", "not valid UTF-8",
                                                                  "not a JSON object"]
    assert ingest_activity_events_drop(warehouse_url, tmp_path, schema=scratch_schema)["load_ids"] == []


def test_json_array_stream_reads_elements_across_chunk_borders():
    data = [{"n": n, "text": "é" * (n * 997 % 70000)} for n in range(60)]
    assert list(iter_json_array(io.StringIO(json.dumps(data)))) == data
    with pytest.raises(ValueError):
        list(iter_json_array(io.StringIO(json.dumps(data)[:-5000])))
