"""Connector ↔ simulator over real HTTP, and the intranet ingest into a real Postgres."""

from __future__ import annotations

import zipfile
from datetime import UTC, datetime

import pytest

from social_value.connectors import viva_engage_export as export
from social_value.connectors.http import SourceError
from social_value.ingest.intranet import SourceConnection, ingest_viva_engage
from social_value.simulator import organisation, viva_engage

WINDOW = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC))


def test_export_reads_every_file_by_header(simulator):
    base_url, token = simulator
    path = export.fetch_export(base_url, token, *WINDOW)
    try:
        with zipfile.ZipFile(path) as archive:
            assert set(archive.namelist()) == set(export.tables())
            users = list(export.read_csv(archive, "Users.csv"))
            messages = list(export.read_csv(archive, "Messages.csv"))
    finally:
        path.unlink()
    scale = organisation.Scale(employees=30, months=3)
    assert len(users) == 30
    assert len(messages) == sum(1 for _ in viva_engage.messages(scale))
    assert set(export.USER_COLUMNS) == set(users[0])
    assert {m["sender_type"] for m in messages} == {"User", "System"}


def test_wrong_token_is_a_clear_error(simulator):
    base_url, _ = simulator
    with pytest.raises(SourceError, match="HTTP 401"):
        export.fetch_export(base_url, "wrong", *WINDOW)


def test_simulator_is_deterministic():
    scale = organisation.Scale(employees=20, months=2, seed=7)
    assert list(organisation.messages(scale)) == list(organisation.messages(scale))
    other = organisation.Scale(employees=20, months=2, seed=8)
    assert list(organisation.messages(scale)) != list(organisation.messages(other))


def test_ingest_twice_leaves_identical_raw_tables(warehouse_url, conn, simulator, scratch_schema, env):
    source = SourceConnection(*simulator)
    key = env["SVW_PSEUDONYM_KEY"]  # people erased by other tests are skipped in every load
    first = ingest_viva_engage(warehouse_url, source, WINDOW[1], schema=scratch_schema, pseudonym_key=key)

    def snapshot():
        return {t: conn.execute(f"select * from {scratch_schema}.{t} order by id").fetchall()
                for t in ("users", "groups", "messages")}

    before = snapshot()
    second = ingest_viva_engage(warehouse_url, source, WINDOW[1], schema=scratch_schema, pseudonym_key=key)
    scale = organisation.Scale(employees=30, months=3)
    assert first["window_start"].startswith("2000-01-01"), "no watermark yet: full history"
    assert second["window_start"].startswith("2026-10-31"), "then from the watermark less a day"
    messages, users = first["tables"]["messages"], first["tables"]["users"]
    assert messages["read"] + messages["skipped_erased"] == sum(1 for _ in viva_engage.messages(scale))
    assert len(before["messages"]) == messages["read"]
    assert len(before["users"]) + users["skipped_erased"] == 30
    assert all(counts["changed"] == 0 for counts in second["tables"].values())
    assert snapshot() == before
    watermark = conn.execute("select watermark, load_id from raw_meta.watermarks "
                             "where source = 'viva_engage' and stream = %s", (scratch_schema,)).fetchone()
    assert watermark == (WINDOW[1], second["load_id"])
    conn.execute("delete from raw_meta.watermarks where stream = %s", (scratch_schema,))
    conn.commit()


def test_export_faults_end_in_retries_or_quarantine_with_exact_counts(warehouse_url, conn, scratch_schema,
                                                                      env, serve_simulator):
    scale = organisation.Scale(employees=30, months=3, seed=99)  # people no other test erases
    faults = "429,500,truncate,bom,extra_columns,missing_columns,duplicates,quoted_newlines,nul,invalid_utf8"
    source = SourceConnection(*serve_simulator(scale, faults))
    summary = ingest_viva_engage(warehouse_url, source, WINDOW[1], schema=scratch_schema,
                                 pseudonym_key=env["SVW_PSEUDONYM_KEY"])
    messages = summary["tables"]["messages"]
    total = sum(1 for _ in viva_engage.messages(scale)) - messages["skipped_erased"]
    assert messages["read"] == total + 1, "the duplicated record is read twice"
    assert messages["quarantined"] == 2, "the NUL byte and the invalid UTF-8 body"
    landed = conn.execute(f"select count(*), count(*) filter (where _extra ->> 'network_id' = '4711'), "
                          f"count(*) filter (where body like '%%Tweede regel, \"geciteerd\"%%') "
                          f"from {scratch_schema}.messages").fetchone()
    assert landed == (total - 2, total - 2, 1)
    reasons = {row[0] for row in conn.execute(
        "select reason from raw_meta.quarantine where load_id = %s", (summary["load_id"],))}
    assert reasons == {"NUL byte in column 'body': Postgres text cannot hold it",
                       "invalid UTF-8 in column 'body'"}
