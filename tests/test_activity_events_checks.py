"""Activity events files are checked as a whole and per event: a CSV without a required column is
rejected naming it, and an event id met again with other content is quarantined, in one file or
across loads, while identical repeats stay harmless (also through the CSV fast path, whose empty
fields and unknown columns land as NULL and in _extra)."""

from __future__ import annotations

import csv
import json

import pytest
from airflow.sdk.exceptions import AirflowFailException

from social_value.ingest.intranet import ingest_activity_events_drop
from social_value.rejections import RejectedFileError
from social_value.task_errors import fail_fast_on_permanent_errors

HEADER = ["event_id", "occurred_at", "user_email", "event_type", "object_type", "object_id", "channel"]
ROWS = [["evt-1", "2026-10-05T09:12:00+02:00", "a@example.org", "view", "", "obj-1", "web"],
        ["evt-2", "2026-10-05T09:13:00+02:00", "", "download", "document", "obj-2", ""]]


def _write_csv(path, header, rows) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)


def _quarantined(conn, summary: dict) -> list[tuple]:
    """What the summary's loads (one per file) quarantined."""
    return conn.execute("select origin, reason, payload::jsonb ->> 'event_id' from raw_meta.quarantine "
                        "where load_id = any(%s) order by quarantine_id", (summary["load_ids"],)).fetchall()


def test_a_csv_without_a_required_column_is_rejected_naming_it(tmp_path, conn, scratch_schema, warehouse_url):
    folder = tmp_path / "activity_events"
    folder.mkdir()
    header = [name for name in HEADER if name != "user_email"]
    _write_csv(folder / "events.csv", header, [row[:2] + row[3:] for row in ROWS])
    _write_csv(folder / "good.csv", HEADER, ROWS)
    summary = ingest_activity_events_drop(warehouse_url, tmp_path, schema=scratch_schema)
    rejected = summary["rejected"]["events.csv"]
    assert rejected["member"] is None
    assert rejected["reason"].startswith("the header lacks required column(s) user_email (it has: event_id, ")
    assert summary["files"]["good.csv"]["events"]["changed"] == 2, "the file beside it lands"
    status, reason = conn.execute("select status, error from raw_meta.loads where source = 'activity_events' "
                                  "and load_id = any(%s) and error is not null", (summary["load_ids"],)
                                  ).fetchone()
    assert status == "rejected" and "lacks required column(s) user_email" in reason
    # Not read again (nor retried) until its content changes.
    again = ingest_activity_events_drop(warehouse_url, tmp_path, schema=scratch_schema)
    assert again["still_rejected"] == ["events.csv"] and again["load_ids"] == []
    with pytest.raises(AirflowFailException, match="not retried"), fail_fast_on_permanent_errors():
        raise RejectedFileError("events.csv", "the header lacks required column(s) user_email")


def test_an_event_id_with_other_content_is_quarantined_across_files_and_loads(tmp_path, conn, scratch_schema,
                                                                               warehouse_url):
    folder = tmp_path / "activity_events"
    folder.mkdir()
    _write_csv(folder / "a-first.csv", HEADER, ROWS)
    changed = {"event_id": "evt-1", "occurred_at": "2026-10-05T09:12:00+02:00", "user_email": "b@example.org",
               "event_type": "view", "object_id": "obj-1"}
    (folder / "b-second.ndjson").write_text(json.dumps(changed) + "\n")
    first = ingest_activity_events_drop(warehouse_url, tmp_path, schema=scratch_schema)
    assert first["files"]["a-first.csv"]["events"]["changed"] == 2
    assert first["files"]["b-second.ndjson"]["events"] == {"read": 1, "changed": 0, "quarantined": 1,
                                                           "skipped_erased": 0}
    reason = "event_id was landed before with other content (the landed event is kept)"
    assert _quarantined(conn, first) == [("b-second.ndjson", reason, "evt-1")]
    kept = conn.execute(f'select user_email, object_type, _extra from "{scratch_schema}".events '
                        "where event_id = 'evt-1'").fetchone()
    assert kept == ("a@example.org", None, {"channel": "web"})

    # A later load resending the same events (another file, the same content) changes nothing.
    _write_csv(folder / "c-resent.csv", HEADER, ROWS)
    again = ingest_activity_events_drop(warehouse_url, tmp_path, schema=scratch_schema)
    assert list(again["files"]) == ["c-resent.csv"]
    assert again["files"]["c-resent.csv"]["events"] == {"read": 2, "changed": 0, "quarantined": 0,
                                                        "skipped_erased": 0}
    assert _quarantined(conn, again) == []


def test_an_erased_persons_bad_events_are_skipped_not_quarantined(tmp_path, conn, env, scratch_schema,
                                                                   warehouse_url):
    """Erased people's events leave before the checks, as on the row path: their email never
    reaches raw_meta.quarantine."""
    from social_value.erasure import person_key

    email = "erased-events@example.org"
    folder = tmp_path / "activity_events"
    folder.mkdir()
    events = [{"event_id": "evt-e1", "occurred_at": "", "user_email": email, "event_type": "view"},
              {"event_id": "evt-e2", "occurred_at": "2026-10-05T09:12:00Z", "user_email": "",
               "event_type": ""}]
    (folder / "events.ndjson").write_text("".join(json.dumps(event) + "\n" for event in events))
    key = person_key(email, env["SVW_PSEUDONYM_KEY"])
    conn.execute("insert into svw_private.erasures (person_key) values (%s)", (key,))
    conn.commit()
    try:
        summary = ingest_activity_events_drop(warehouse_url, tmp_path, schema=scratch_schema)
    finally:
        conn.execute("delete from svw_private.erasures where person_key = %s", (key,))
        conn.commit()
    assert summary["files"]["events.ndjson"]["events"] == {"read": 1, "changed": 0, "quarantined": 1,
                                                           "skipped_erased": 1}
    assert _quarantined(conn, summary) == [
        ("events.ndjson", "empty required field(s): event_type", "evt-e2")]
