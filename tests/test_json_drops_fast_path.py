"""The JSON fast path of the Slack and activity-events drops lands what the row path lands.

Each test lands the same files twice, into schemas of its own: as the ingest does (documents
COPYed, expanded by Postgres) and with the fast path switched off (every file read row by row by
the readers, as before). The raw tables must agree row for row, `_extra` and `_origin` included;
JSON-valued text (profile, topic, reactions, nested `_extra` values) is compared as JSON, since
jsonb orders keys its own way.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest
from psycopg import sql

from social_value import bulk_copy, bulk_json
from social_value.bulk_json import text_of
from social_value.connectors import activity_events as events_connector
from social_value.connectors import slack_export
from social_value.connectors.json_expand import field, record
from social_value.erasure import person_key
from social_value.ingest.intranet import ingest_activity_events_drop, ingest_slack_drop
from social_value.simulator import activity_events as events_sim
from social_value.simulator import slack as slack_sim
from social_value.simulator.api import Faults
from social_value.simulator.organisation import Scale

SCALE = Scale()  # S, the demo's scale

# What the simulator never writes but real exports and event feeds do.
EXTRA_EVENTS = [
    {"event_id": "evt-extra-1", "occurred_at": "2026-10-05T09:12:00+02:00", "user_email": "x@example.org",
     "event_type": "view", "object_type": "page", "object_id": 17, "ratio": 1.5, "flag": True,
     "nested": {"zeta": [1, None], "alpha": "é"}, "nothing": None, "empty": ""},
    {"event_id": "evt-extra-2", "occurred_at": None, "user_email": "", "event_type": False},
    {"event_id": "evt-extra-1", "occurred_at": "2026-10-06T10:00:00+02:00", "event_type": "share"},
    {"event_id": "evt-extra-3", "occurred_at": "2026-10-06T10:00:00+02:00", "user_email": None,
     "event_type": "view", "object_type": "", "crc": 7},
    {"event_id": "evt-extra-3", "occurred_at": "2026-10-06T10:00:00+02:00", "user_email": None,
     "event_type": "view", "object_type": "", "crc": 7},
    {"event_id": "evt-extra-3", "occurred_at": "2026-10-06T10:00:00+02:00", "user_email": None,
     "event_type": "view", "object_type": "", "crc": 8},
]
EXTRA_QUARANTINED = [  # what of EXTRA_EVENTS is quarantined, in order, and why
    ("evt-extra-1", "missing required field(s): user_email"),
    ("evt-extra-2", "empty required field(s): occurred_at"),
    ("evt-extra-3", "event_id repeats an earlier event of this file with other content (the first is kept)"),
]
EXTRA_MEMBERS = {
    "groups.json": [{"id": "G00000001", "name": "directie", "created": 1577836800, "is_archived": True,
                     "members": ["U00000000"], "purpose": {"value": "Privé", "creator": "U00000000"}},
                    {"id": "G00000002", "name": "leeg", "members": []}],
    "directie/2026-10-01.json": [
        {"type": "message", "user": "U00000000", "text": "Vertrouwelijk", "ts": "1791000000.000001"},
        {"type": "message", "user": "U00000000", "text": "dubbel", "ts": "1791000000.000001",
         "edited": {"user": "U00000000", "ts": "1791000100.000000"}, "score": 2.5, "pinned": False,
         "attachments": [{"title": "ä", "id": 3}]}],
    "leeg/2026-10-02.json": [{"type": "message", "ts": "1791000200.000002", "user": None, "text": ""},
                             {"type": "message", "user": "U00000001", "text": "zonder ts"}],
    "D0DIRECT/2026-10-01.json": [{"type": "message", "user": "U00000000", "text": "DM",
                                  "ts": "1791000300.000003"}],
    "onbekend/2026-10-01.json": [{"type": "message", "text": "?", "ts": "1791000400.000004"}],
}
EXTRA_USERS = [{"id": "UNOPROFILE", "name": "zonder", "deleted": False},
               {"id": "UNULLPROF", "name": "leeg", "profile": None, "is_admin": True},
               {"id": "UEMPTYPROF", "profile": {"email": "e@example.org"}, "color": "9f69e7"}]


def _normal(value):
    """JSON text as the value it writes (key order and escapes aside), anything else as is."""
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    if isinstance(value, dict):
        return {key: _normal(item) for key, item in value.items()}
    return value


def _rows(conn, schema: str, table) -> list[tuple]:
    columns = ", ".join(f'"{c}"' for c in (*table.columns, "_extra", "_origin"))
    keys = ", ".join(f'"{c}"' for c in table.key)
    return [tuple(_normal(v) for v in row) for row in conn.execute(
        f'select {columns} from "{schema}"."{table.name}" order by {keys}')]


def _quarantined(conn, summary: dict) -> list[tuple]:
    return conn.execute("select stream, origin, reason from raw_meta.quarantine where load_id = any(%s) "
                        "order by quarantine_id", (summary["load_ids"],)).fetchall()


def _without(summary: dict) -> dict:
    """A summary without its load ids (each landing is a load of its own)."""
    return {key: value for key, value in summary.items() if key != "load_ids"}


@pytest.fixture
def land_both(warehouse_url, make_schema, monkeypatch):
    """`land_both(ingest, drop_dir)` → ((fast schema, summary), (row-path schema, summary)); what
    bulk_json.land answered on the fast run is appended to `land_both.fast`."""
    real_land = bulk_json.land

    def recorded(conn, fill):
        land.fast.append(real_land(conn, fill))
        return land.fast[-1]

    def land(ingest, drop_dir: Path):
        fast_schema, row_schema = make_schema(), make_schema()
        with monkeypatch.context() as patch:
            patch.setattr(bulk_json, "land", recorded)
            fast = ingest(warehouse_url, drop_dir, schema=fast_schema)
        with monkeypatch.context() as patch:
            patch.setattr(bulk_json, "land", lambda conn, fill: False)
            patch.setattr(bulk_copy, "copy_csv", lambda *args, **kwargs: False)
            rows = ingest(warehouse_url, drop_dir, schema=row_schema)
        return (fast_schema, fast), (row_schema, rows)

    land.fast = []
    return land


def _slack_drop(root: Path) -> Path:
    """The S export with what it lacks added: groups.json, edited messages, DM and unknown folders,
    users without (or with a null) profile."""
    folder = root / "slack"
    folder.mkdir(parents=True)
    plain = root / "plain.zip"
    slack_sim.write_export(plain, SCALE, Faults())
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(folder / "export.zip", "w") as out:
        for member in source.namelist():
            data = source.read(member)
            if member == "users.json":
                data = json.dumps(json.loads(data) + EXTRA_USERS).encode()
            out.writestr(member, data)
        for member, document in EXTRA_MEMBERS.items():
            out.writestr(member, json.dumps(document, ensure_ascii=False))
    return root


def _events_drop(root: Path) -> Path:
    for relative, writer in events_sim.DROPS.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        writer(root / relative, SCALE, Faults())
    with (root / "activity_events" / "events-history.ndjson").open("a") as out:
        out.writelines(json.dumps(event) + "\n" for event in EXTRA_EVENTS)
    return root


def test_slack_export_lands_the_same_through_both_paths(tmp_path, conn, land_both):
    (fast_schema, fast), (row_schema, rows) = land_both(ingest_slack_drop, _slack_drop(tmp_path))
    assert land_both.fast == [True] and _without(fast) == _without(rows)
    assert fast["tables"]["messages"]["read"] > 1000
    for table in slack_export.tables().values():
        assert _rows(conn, fast_schema, table) == _rows(conn, row_schema, table), table.name
    private = conn.execute(f'select is_private, member_count from "{fast_schema}".channels '
                           "where name in ('directie', 'leeg') order by name").fetchall()
    assert private == [("true", "1"), ("true", None)]
    edited = conn.execute(f'select channel_id, edited_ts, text from "{fast_schema}".messages '
                          "where channel_name = 'directie'").fetchall()
    assert edited == [("G00000001", "1791000100.000000", "dubbel")]  # the later duplicate wins
    assert conn.execute(f'select count(*) from "{fast_schema}".messages where channel_name in '
                        "('D0DIRECT', 'onbekend')").fetchone() == (0,)
    assert _quarantined(conn, fast) == _quarantined(conn, rows) == [
        ("messages", "export.zip:messages", "missing key column 'ts'")]


def test_activity_events_land_the_same_through_both_paths(tmp_path, conn, land_both):
    (fast_schema, fast), (row_schema, rows) = land_both(ingest_activity_events_drop, _events_drop(tmp_path))
    assert land_both.fast == [True] and _without(fast) == _without(rows)  # the CSV file: bulk_copy
    table = events_connector.table()
    assert _rows(conn, fast_schema, table) == _rows(conn, row_schema, table)
    first = conn.execute(f'select occurred_at, event_type, object_id from "{fast_schema}".events '
                         "where event_id = 'evt-extra-1'").fetchone()
    assert first == ("2026-10-05T09:12:00+02:00", "view", "17"), "an incomplete later record does not win"
    kept = conn.execute(f'select _extra from "{fast_schema}".events where event_id = \'evt-extra-3\'')
    assert kept.fetchone() == ({"crc": "7"},), "the identical repeat lands once, the other is kept out"
    quarantined = _quarantined(conn, fast)
    assert quarantined == _quarantined(conn, rows)
    assert [reason for _, _, reason in quarantined] == [reason for _, reason in EXTRA_QUARANTINED]
    payloads = conn.execute("select payload::jsonb ->> 'event_id' from raw_meta.quarantine "
                            "where load_id = any(%s) order by quarantine_id", (fast["load_ids"],)).fetchall()
    assert [event for (event,) in payloads] == [event for event, _ in EXTRA_QUARANTINED]


BAD_LINES = {
    "not an object": (b"[1, 2]\n", "is not a JSON object"),
    "a number": (b"42\n", "is not a JSON object"),
    "not JSON": (b"{not json}\n", "is not JSON"),
    "not UTF-8": (b'{"event_id": "evt-bad", "user_email": "\xff\xfe@example.org"}\n', "is not valid UTF-8"),
    "NUL escape": (b'{"event_id": "evt-nul", "occurred_at": "2026-10-05T09:12:00Z", "user_email": "", '
                   b'"event_type": "view", "object_id": "a\\u0000b"}\n', "NUL byte in column 'object_id'"),
    "no key": (b'{"user_email": "nokey@example.org", "event_type": "view"}\n',
               "missing required field(s): event_id, occurred_at"),
    "key empty": (b'{"event_id": "", "occurred_at": "", "user_email": "", "event_type": "view"}\n',
                  "missing key column 'event_id'"),
    "no time": (b'{"event_id": "evt-t", "occurred_at": null, "user_email": "", "event_type": ""}\n',
                "empty required field(s): occurred_at, event_type"),
}
IN_SQL = {"no key", "key empty", "no time"}  # quarantined by SQL on the fast path


@pytest.mark.parametrize("bad", BAD_LINES, ids=list(BAD_LINES))
def test_one_bad_line_is_quarantined_as_before_and_the_rest_lands(bad, tmp_path, conn, land_both):
    line, reason = BAD_LINES[bad]
    folder = tmp_path / "activity_events"
    folder.mkdir()
    good = [json.dumps({"event_id": f"evt-{n}", "occurred_at": "2026-10-05T09:12:00Z", "event_type": "view",
                        "user_email": f"p{n}@example.org"}).encode() + b"\n" for n in range(5)]
    (folder / "events.ndjson").write_bytes(b"".join([*good[:2], line, *good[2:]]))
    (fast_schema, fast), (row_schema, rows) = land_both(ingest_activity_events_drop, tmp_path)
    assert land_both.fast == [bad in IN_SQL]
    assert _without(fast) == _without(rows)
    assert fast["tables"]["events"] == {"read": 6, "changed": 5, "quarantined": 1}
    quarantined = _quarantined(conn, fast)
    assert quarantined == _quarantined(conn, rows)
    assert len(quarantined) == 1 and reason in quarantined[0][2]
    if reason.startswith("is not"):  # the row path's own verdict: the line's number and text
        assert quarantined[0][2].startswith("line 3 ")
    table = events_connector.table()
    assert _rows(conn, fast_schema, table) == _rows(conn, row_schema, table)


def test_blank_line_and_bom_land_as_before(tmp_path, conn, land_both):
    folder = tmp_path / "activity_events"
    folder.mkdir()
    event = b'"occurred_at": "2026-10-05T09:12:00Z", "user_email": "", "event_type": "view"}'
    (folder / "events.jsonl").write_bytes(b'\xef\xbb\xbf{"event_id": "evt-1", ' + event + b'\r\n\n'
                                          b'{"event_id": "evt-2", ' + event)
    (fast_schema, fast), (row_schema, rows) = land_both(ingest_activity_events_drop, tmp_path)
    assert land_both.fast == [False]
    assert fast["tables"]["events"] == rows["tables"]["events"] == {"read": 2, "changed": 2, "quarantined": 0}
    table = events_connector.table()
    assert _rows(conn, fast_schema, table) == _rows(conn, row_schema, table)


def test_erased_people_are_skipped_and_counted_on_both_paths(tmp_path, conn, env, land_both):
    person = next(m for m in slack_sim.members(SCALE) if m["profile"].get("email") and not m["_left"])
    email, user_id = person["profile"]["email"], person["id"]
    key = person_key(email, env["SVW_PSEUDONYM_KEY"])
    _events_drop(tmp_path)
    _slack_drop(tmp_path)
    conn.execute("insert into svw_private.erasures (person_key) values (%s)", (key,))
    conn.commit()
    try:
        (fast_events, fast), (row_events, rows) = land_both(ingest_activity_events_drop, tmp_path)
        (fast_slack, fast_s), (row_slack, rows_s) = land_both(ingest_slack_drop, tmp_path)
    finally:
        conn.execute("delete from svw_private.erasures where person_key = %s", (key,))
        conn.commit()
    assert land_both.fast == [True, True]
    assert _without(fast) == _without(rows) and _without(fast_s) == _without(rows_s)
    skipped = sum(f["events"]["skipped_erased"] for f in fast["files"].values())
    assert skipped > 0
    counts = fast_s["files"]["export.zip"]
    assert counts["users"]["skipped_erased"] == 1 and counts["messages"]["skipped_erased"] > 0
    for schema in (fast_events, row_events):
        assert conn.execute(f'select count(*) from "{schema}".events where user_email = %s',
                            (email,)).fetchone() == (0,)
    for schema in (fast_slack, row_slack):
        assert conn.execute(f'select (select count(*) from "{schema}".users where id = %(id)s) + '
                            f'(select count(*) from "{schema}".messages where "user" = %(id)s)',
                            {"id": user_id}).fetchone() == (0,)
    events = events_connector.table()
    assert _rows(conn, fast_events, events) == _rows(conn, row_events, events)
    for table in slack_export.tables().values():
        assert _rows(conn, fast_slack, table) == _rows(conn, row_slack, table), table.name


def test_slack_export_json_that_postgres_refuses_lands_row_by_row(tmp_path, conn, land_both):
    root = _slack_drop(tmp_path)
    export = root / "slack" / "export.zip"
    refused = root / "refused.zip"
    with zipfile.ZipFile(export) as source, zipfile.ZipFile(refused, "w") as out:
        for member in source.namelist():
            data = source.read(member)
            out.writestr(member, b"\xef\xbb\xbf" + data if member == "users.json" else data)
    shutil.move(refused, export)
    (fast_schema, fast), (row_schema, rows) = land_both(ingest_slack_drop, root)
    assert land_both.fast == [False] and _without(fast) == _without(rows)
    assert fast["tables"]["users"]["read"] == len(slack_sim.members(SCALE)) + len(EXTRA_USERS)
    for table in slack_export.tables().values():
        assert _rows(conn, fast_schema, table) == _rows(conn, row_schema, table), table.name


JSON_VALUES = ['"a\\"b\\\\c\\n\\u00e9\\t"', '""', "1.50", "1e5", "-0", "12345678901234567890123", "-1.5e-10",
               "true", "false", "null", "{}", "[]", '{"b": 1, "a": [1, {"c": null}]}']


@pytest.mark.parametrize("value", JSON_VALUES)
def test_record_reads_a_field_as_text_of_does(conn, value):
    document = f'{{"k": {value}}}'
    fields, columns = record("docs.doc", ["k", "absent"])
    read = sql.SQL("select {}, {}, {}, {} from (select %s::jsonb as doc) as docs{}").format(
        text_of(field("docs.doc", "k")), columns["k"], text_of(field("docs.doc", "absent")),
        columns["absent"], fields)
    by_text_of, by_record, absent_text_of, absent_record = conn.execute(read, (document,)).fetchone()
    assert by_record == by_text_of and absent_record is absent_text_of is None


def test_a_document_streamed_in_chunks_lands_byte_exact(conn, monkeypatch):
    """Large documents (Slack's users.json) are streamed: escaping chunk by chunk changes nothing,
    whatever falls on a chunk boundary (a backslash, a tab, a line break, a multi-byte character)."""
    import io

    document = json.dumps({"a": "x\\y\tz\nw", "b": "café ☕", "c": [1, 2.50, None]},
                          ensure_ascii=False).encode("utf-8")
    monkeypatch.setattr(bulk_json, "CHUNK", 3)
    with bulk_json.JsonDocs(conn, "chunks", ("_origin",)) as docs:
        docs.add(document, "whole")
        docs.add(io.BytesIO(document), "streamed")
    query = sql.SQL("select _origin, doc::text from {} order by _seq").format(docs.ident)
    rows = conn.execute(query).fetchall()
    conn.rollback()
    assert rows[0][1] == rows[1][1] and json.loads(rows[1][1]) == json.loads(document)
