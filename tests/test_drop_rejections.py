"""Hostile file drops: each file lands on its own, an unreadable one is rejected with its reason.

Every input is generated here: small Slack exports (and broken ones) written with zipfile, and
events files. A rejected file is recorded in raw_meta.rejected_files with its sha256, member and
reason, the files beside it land, a rerun changes nothing and a changed file is read again.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import psycopg
import pytest
from test_privacy import role_url

from social_value import bulk_json, loader, publish
from social_value.connectors.json_stream import Oversized, iter_json_array
from social_value.ingest import file_drops
from social_value.ingest.intranet import ingest_activity_events_drop, ingest_slack_drop
from social_value.rejections import RejectedFileError
from social_value.warehouse_setup import role_passwords, setup

USERS = [
    {"id": "U1", "team_id": "T1", "name": "anna", "real_name": "Anna", "deleted": False, "is_bot": False,
     "tz": "Europe/Amsterdam", "profile": {"email": "anna@example.org", "title": "Adviseur",
                                           "phone": "+31 6 1234 5678", "skype": "anna.skype",
                                           "real_name": "Anna de Vries", "fields": {"Xf1": {"value": "x"}}}},
    {"id": "U2", "team_id": "T1", "name": "bram", "profile": {"email": "bram@example.org"}},
]
CHANNELS = [{"id": "C1", "name": "algemeen", "created": 1458980525, "members": ["U1", "U2"]}]
DAY = [
    {"type": "message", "user": "U1", "text": "Hallo", "ts": "1458980525.000001"},
    {"type": "message", "subtype": "file_comment", "text": "<@U2> commented on a file: Mooi",
     "ts": "1458980600.000002", "file": {"id": "F1", "title": "plan.pdf"},
     "comment": {"id": "Fc1", "user": "U2", "comment": "Mooi", "timestamp": 1458980600}},
]


def _export(path: Path, members: dict[str, object] | None = None, *,
            compression: int = zipfile.ZIP_DEFLATED) -> Path:
    """A Slack export ZIP: users, channels and one day file, with `members` added or replacing them
    (bytes as they are, anything else as JSON)."""
    documents = {"users.json": USERS, "channels.json": CHANNELS, "algemeen/2016-03-26.json": DAY,
                 **(members or {})}
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression) as archive:
        for member, document in documents.items():
            if document is not None:
                archive.writestr(member, document if isinstance(document, bytes) else json.dumps(document))
    return path


def _rejected(conn: psycopg.Connection, schema: str) -> dict[str, tuple]:
    return {path.split(":", 1)[1]: (sha256, member, reason) for path, sha256, member, reason in conn.execute(
        "select path, sha256, member, reason from raw_meta.rejected_files where path like %s",
        (f"{schema}:%",))}


def _count(conn: psycopg.Connection, schema: str, table: str) -> int:
    return conn.execute(f'select count(*) from "{schema}"."{table}"').fetchone()[0]


@pytest.fixture
def slack_dir(tmp_path) -> Path:
    (tmp_path / "slack").mkdir()
    return tmp_path


BROKEN = {
    "not a ZIP": (lambda path: path.write_bytes(b"channel,ts,text\nalgemeen,1,hallo\n"), None,
                  "not a ZIP archive"),
    "truncated ZIP": (lambda path: path.write_bytes(_export(path).read_bytes()[:300]), None,
                      "not a ZIP archive"),
    "no users.json": (lambda path: _export(path, {"users.json": None}), None,
                      "not a Slack export: no users.json"),
    "day file not an array": (lambda path: _export(path, {"algemeen/2016-03-27.json": {"messages": []}}),
                              "algemeen/2016-03-27.json", "expected a JSON array"),
    "day file invalid JSON": (lambda path: _export(path, {"algemeen/2016-03-27.json": b'[{"ts": "1", }]'}),
                              "algemeen/2016-03-27.json", "element 1: Expecting property name"),
    "day file element not an object": (lambda path: _export(path, {"algemeen/2016-03-27.json": [1, 2]}),
                                       "algemeen/2016-03-27.json", "record 1 is not a JSON object"),
    "day file not UTF-8": (lambda path: _export(path, {"algemeen/2016-03-27.json": b'[{"text": "\xff"}]'}),
                           "algemeen/2016-03-27.json", "not UTF-8"),
    "users.json corrupt member": (lambda path: _corrupt_member(_export(path), "users.json"), "users.json",
                                  "corrupt member"),
    "encrypted member": (lambda path: _patch_directory(_export(path), "channels.json", flag_bits=1),
                         "channels.json", "member is encrypted"),
    "unknown compression": (lambda path: _patch_directory(_export(path), "channels.json", method=99),
                            "channels.json", "compression method 99"),
}


def _patch_directory(path: Path, member: str, flag_bits: int = 0, method: int | None = None) -> None:
    """Set flag bits or the compression method of one member in the ZIP's central directory."""
    data = bytearray(path.read_bytes())
    at = data.find(b"PK\x01\x02")
    while data[at + 46:at + 46 + int.from_bytes(data[at + 28:at + 30], "little")] != member.encode():
        at = data.find(b"PK\x01\x02", at + 4)
    data[at + 8] |= flag_bits
    if method is not None:
        data[at + 10:at + 12] = method.to_bytes(2, "little")
    path.write_bytes(bytes(data))


def _corrupt_member(path: Path, member: str) -> None:
    """Flip bytes inside one member's compressed data (its CRC check fails on reading)."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(member)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for offset in range(start + 2, start + min(info.compress_size - 2, 12)):
        data[offset] ^= 0x55
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("case", BROKEN, ids=list(BROKEN))
def test_a_broken_export_is_rejected_by_name_and_member_and_the_good_one_beside_it_lands(
        case, slack_dir, conn, scratch_schema, warehouse_url):
    write, member, reason = BROKEN[case]
    _export(slack_dir / "slack" / "a-good.zip")
    bad = slack_dir / "slack" / "b-bad.zip"
    write(bad)
    summary = ingest_slack_drop(warehouse_url, slack_dir, schema=scratch_schema)

    assert list(summary["files"]) == ["a-good.zip"]
    assert summary["tables"]["messages"]["changed"] == len(DAY)
    assert list(summary["rejected"]) == ["b-bad.zip"]
    rejection = summary["rejected"]["b-bad.zip"]
    assert rejection["member"] == member and reason in rejection["reason"], rejection
    digest = loader.file_digest(bad)[0]
    assert _rejected(conn, scratch_schema) == {"b-bad.zip": (digest, member, rejection["reason"])}
    status, error = conn.execute("select status, error from raw_meta.loads where load_id = %s",
                                 (summary["load_ids"][1],)).fetchone()
    assert status == "rejected" and "b-bad.zip" in error and reason in error
    assert _count(conn, scratch_schema, "messages") == len(DAY)


def test_a_rejected_file_is_not_read_again_until_its_content_changes(slack_dir, conn, scratch_schema,
                                                                     warehouse_url):
    good, bad = slack_dir / "slack" / "good.zip", slack_dir / "slack" / "bad.zip"
    _export(good)
    _export(bad, {"algemeen/2016-03-27.json": {"not": "an array"}})
    first = ingest_slack_drop(warehouse_url, slack_dir, schema=scratch_schema)
    assert set(first["rejected"]) == {"bad.zip"} and set(first["files"]) == {"good.zip"}
    before = conn.execute(f'select * from "{scratch_schema}".messages order by ts').fetchall()

    again = ingest_slack_drop(warehouse_url, slack_dir, schema=scratch_schema)
    assert again["load_ids"] == [] and again["unchanged"] == ["good.zip"]
    assert again["still_rejected"] == ["bad.zip"] and again["rejected"] == {}
    assert conn.execute(f'select * from "{scratch_schema}".messages order by ts').fetchall() == before

    # The sender fixes the export: the new content is read and lands beside the first.
    _export(bad, {"algemeen/2016-03-27.json": [{"type": "message", "user": "U2", "text": "Later",
                                                "ts": "1459066925.000003"}]})
    fixed = ingest_slack_drop(warehouse_url, slack_dir, schema=scratch_schema)
    assert list(fixed["files"]) == ["bad.zip"] and fixed["rejected"] == {}
    assert _count(conn, scratch_schema, "messages") == len(DAY) + 1
    assert len(_rejected(conn, scratch_schema)) == 1, "the refused content stays on record"


def test_members_over_the_size_or_ratio_limits_reject_the_export(slack_dir, conn, scratch_schema,
                                                                 warehouse_url, monkeypatch):
    padded = json.dumps(DAY).encode() + b" " * (3 << 20)  # 3 MiB that deflate to a few KiB
    _export(slack_dir / "slack" / "bomb.zip", {"algemeen/2016-03-27.json": padded})
    _export(slack_dir / "slack" / "large.zip", {"algemeen/2016-03-27.json": padded},
            compression=zipfile.ZIP_STORED)
    monkeypatch.setenv("SVW_DROP_MAX_MEMBER_MB", "2")
    summary = ingest_slack_drop(warehouse_url, slack_dir, schema=scratch_schema)
    bomb, large = summary["rejected"]["bomb.zip"], summary["rejected"]["large.zip"]
    assert bomb["member"] == large["member"] == "algemeen/2016-03-27.json"
    assert "over the limit of 100 (SVW_DROP_MAX_RATIO): a zip bomb?" in bomb["reason"]
    assert "over the limit of 2,097,152 (SVW_DROP_MAX_MEMBER_MB)" in large["reason"]
    assert summary["files"] == {}

    # Within the limits the stored one lands (its sha256 did not change; the limits did).
    monkeypatch.setenv("SVW_DROP_MAX_MEMBER_MB", "8")
    conn.execute("delete from raw_meta.rejected_files where path = %s", (f"{scratch_schema}:large.zip",))
    conn.commit()
    assert list(ingest_slack_drop(warehouse_url, slack_dir, schema=scratch_schema)["files"]) == ["large.zip"]


def _land_both(warehouse_url, make_schema, drop_dir, monkeypatch):
    """The drop landed as the ingest does and with the fast path switched off."""
    fast = make_schema()
    fast_summary = ingest_slack_drop(warehouse_url, drop_dir, schema=fast)
    rows = make_schema()
    with monkeypatch.context() as patch:
        patch.setattr(bulk_json, "land", lambda conn, fill: False)
        row_summary = ingest_slack_drop(warehouse_url, drop_dir, schema=rows)
    return (fast, fast_summary), (rows, row_summary)


def test_file_comment_lands_with_its_author_and_profiles_keep_no_phone(
        slack_dir, conn, make_schema, warehouse_url, monkeypatch):
    _export(slack_dir / "slack" / "export.zip")
    (fast, _), (rows, _) = _land_both(warehouse_url, make_schema, slack_dir, monkeypatch)
    for schema in (fast, rows):
        comment = conn.execute(f'select "user", subtype from "{schema}".messages where ts = %s',
                               ("1458980600.000002",)).fetchone()
        assert comment == ("U2", "file_comment")
        users = conn.execute(f'select id, email, title from "{schema}".users order by id').fetchall()
        assert users == [("U1", "anna@example.org", "Adviseur"), ("U2", "bram@example.org", None)]
        everything = conn.execute(f'select string_agg(u::text, \' \') from "{schema}".users as u'
                                  ).fetchone()[0]
        for personal in ("1234 5678", "anna.skype", "Anna de Vries", "Xf1"):
            assert personal not in everything, (schema, personal)


def test_a_member_too_large_to_read_whole_is_streamed_and_a_huge_record_quarantined(
        slack_dir, conn, make_schema, warehouse_url, monkeypatch):
    huge = {"type": "message", "user": "U1", "text": "x" * 300_000, "ts": "1459066925.000009"}
    first = DAY[0] | {"ts": "1459066925.000001"}
    _export(slack_dir / "slack" / "export.zip", {"algemeen/2016-03-27.json": [first, huge]})
    monkeypatch.setenv("SVW_DROP_FAST_MEMBER_MB", "0.1")  # the 300 KB day file is over it
    monkeypatch.setenv("SVW_DROP_MAX_RECORD_MB", "0.2")  # and its second record over this
    decided = []
    real_land = bulk_json.land
    monkeypatch.setattr(bulk_json, "land",
                        lambda conn, fill: decided.append(real_land(conn, fill)) or decided[-1])
    schema = make_schema()
    summary = ingest_slack_drop(warehouse_url, slack_dir, schema=schema)
    assert decided == [False], "the fast path declined the export"
    assert summary["tables"]["messages"] == {"read": len(DAY) + 2, "changed": len(DAY) + 1, "quarantined": 1}
    reason, payload = conn.execute("select reason, payload from raw_meta.quarantine where load_id = any(%s)",
                                   (summary["load_ids"],)).fetchone()
    assert reason.startswith("algemeen/2016-03-27.json: record 2 is 300,")
    assert "SVW_DROP_MAX_RECORD_MB" in reason
    assert len(payload) <= 1000 and payload.startswith('{"type": "message"')


def test_json_stream_skips_an_oversized_element_and_reports_bad_json_where_it_is():
    elements = [{"a": 1}, {"text": 'x\\"]}' * 50_000, "nested": [{"b": "]"}] * 100}, {"c": 2}]
    out = list(iter_json_array(io.StringIO(json.dumps(elements)), max_chars=10_000))
    assert out[0] == {"a": 1} and out[2] == {"c": 2}
    assert isinstance(out[1], Oversized) and out[1].chars == len(json.dumps(elements[1]))
    bad = '[{"a": 1}, {"b": 2 "c": 3}, ' + '{"d": 4}, ' * 200_000 + "]"
    reads = []

    class Counting(io.StringIO):
        def read(self, size=-1):
            reads.append(size)
            return super().read(size)

    with pytest.raises(ValueError, match="element 2: Expecting ','"):
        list(iter_json_array(Counting(bad)))
    assert len(reads) == 1, "the error is reported without reading the rest of the file"


def test_a_file_that_fails_for_another_reason_does_not_stop_the_others(tmp_path, conn, scratch_schema,
                                                                       warehouse_url):
    table = loader.RawTable(scratch_schema, "things", ("id", "value"))
    files = []
    for name in ("a.txt", "b.txt", "c.txt", "d.txt"):
        files.append(tmp_path / name)
        files[-1].write_text(name)

    def land(conn, path, load_id):
        if path.name == "b.txt":
            raise RejectedFileError(path.name, "unknown layout", "header")
        if path.name == "c.txt":
            conn.execute("select 1 / 0")  # a database error: not the file's fault
        return {"things": loader.merge_batch(conn, table, [(path.name, {"id": path.name, "value": "1"})],
                                             load_id, "things").counts()}

    with pytest.raises(psycopg.errors.DivisionByZero) as raised:
        file_drops.ingest_files(warehouse_url, "things", scratch_schema, tmp_path, files, land)
    assert "c.txt" in " ".join(raised.value.__notes__)
    landed = [row[0] for row in conn.execute(f'select id from "{scratch_schema}".things order by id')]
    assert landed == ["a.txt", "d.txt"]
    assert _rejected(conn, scratch_schema) == {"b.txt": (loader.file_digest(files[1])[0], "header",
                                                         "unknown layout")}
    rerun = file_drops.ingest_files(warehouse_url, "things", scratch_schema, tmp_path,
                                    [f for f in files if f.name != "c.txt"], land)
    assert rerun["unchanged"] == ["a.txt", "d.txt"] and rerun["still_rejected"] == ["b.txt"]


def test_rejected_files_reach_the_audit_schema(slack_dir, conn, env, scratch_schema, warehouse_url):
    (slack_dir / "slack" / "kapot.zip").write_bytes(b"PK\x03\x04 not really")
    ingest_slack_drop(warehouse_url, slack_dir, schema=scratch_schema)
    # As a build does it: the setup (grants), then the transformer copies the list into audit.
    setup(warehouse_url, env["SVW_PSEUDONYM_KEY"], role_passwords())
    with psycopg.connect(role_url("transformer")) as transformer:
        publish.ensure_audit(transformer)
        publish.copy_rejected_files(transformer)
        publish.copy_rejected_files(transformer)  # every build copies again: nothing doubles
        transformer.commit()
    rows = conn.execute("select member, reason from audit.rejected_files where path = %s",
                        (f"{scratch_schema}:kapot.zip",)).fetchall()
    assert len(rows) == 1 and rows[0][1].startswith("not a ZIP archive")


def test_an_events_line_over_the_record_limit_is_quarantined_and_the_rest_lands(
        tmp_path, conn, make_schema, warehouse_url, monkeypatch):
    folder = tmp_path / "activity_events"
    folder.mkdir()
    good = [json.dumps({"event_id": f"evt-{n}", "occurred_at": "2026-10-05T09:12:00Z", "event_type": "view",
                        "user_email": f"p{n}@example.org"}) for n in range(4)]
    huge = json.dumps({"event_id": "evt-huge", "object_id": "x" * 300_000})
    (folder / "events.ndjson").write_text("\n".join([*good[:2], huge, *good[2:]]) + "\n")
    monkeypatch.setenv("SVW_DROP_MAX_RECORD_MB", "0.2")
    for fast in (True, False):
        with monkeypatch.context() as patch:
            if not fast:
                patch.setattr(bulk_json, "land", lambda conn, fill: False)
            schema = make_schema()
            summary = ingest_activity_events_drop(warehouse_url, tmp_path, schema=schema)
        assert summary["tables"]["events"] == {"read": 5, "changed": 4, "quarantined": 1}
        reason, payload = conn.execute("select reason, payload from raw_meta.quarantine "
                                       "where load_id = any(%s)", (summary["load_ids"],)).fetchone()
        assert reason.startswith("line 3 is 300,") and len(payload) == 1000
        assert _count(conn, schema, "events") == 4


def test_an_events_csv_with_a_line_over_the_limit_is_rejected_and_the_next_file_lands(
        tmp_path, conn, scratch_schema, warehouse_url, monkeypatch):
    folder = tmp_path / "activity_events"
    folder.mkdir()
    header = "event_id,occurred_at,user_email,event_type,object_type,object_id\n"
    # A ragged row makes Postgres refuse the file, so it is read row by row.
    when = "2026-10-05T09:12:00Z"
    (folder / "a-huge.csv").write_text(header + f"evt-1,{when},p1@example.org,view,page,1,extra\n"
                                       + f"evt-2,{when},p2@example.org,view,page," + "x" * 300_000 + "\n")
    (folder / "b-good.csv").write_text(header + f"evt-3,{when},p3@example.org,view,page,3\n")
    monkeypatch.setenv("SVW_DROP_MAX_RECORD_MB", "0.2")
    summary = ingest_activity_events_drop(warehouse_url, tmp_path, schema=scratch_schema)
    assert list(summary["files"]) == ["b-good.csv"]
    assert summary["rejected"]["a-huge.csv"]["reason"] == (
        "ValueError: line 3 is over 209,715 characters (SVW_DROP_MAX_RECORD_MB)")
    assert [row[0] for row in conn.execute(f'select event_id from "{scratch_schema}".events')] == ["evt-3"]
