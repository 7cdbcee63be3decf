"""The loader's CSV fast path against its row-by-row path, on a real Postgres: for any file, the
landed rows, `_extra`, counts and quarantine are the same; what Postgres refuses goes row by row."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest

from social_value import bulk_copy, loader
from social_value.erasure import ErasedPeople, person_key
from social_value.ingest.intranet import SourceConnection, ingest_msgraph, ingest_viva_engage
from social_value.loader import RawTable
from social_value.simulator.organisation import Scale

HEADER = b"id,name,size\n"
KEY = "k" * 32


def _land(conn, schema: str, data: bytes, fast: bool, erased: ErasedPeople | None = None):
    """Land `data` (a CSV file) into schema.things by one path; returns (rows, stats, quarantine,
    took the fast path)."""
    table = RawTable(schema, "things", ("id", "name", "size"))
    load_id = loader.start_load(conn, "test", None)
    stats, stage = loader.BatchStats(), loader.Stage(conn, table, load_id, "test")
    erased = erased or ErasedPeople(set(), {}, None)
    landed = fast and bulk_copy.copy_csv(stage, io.BytesIO(data), "f.csv", stats)
    if not landed:
        text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", errors="surrogateescape", newline="")
        stage.copy_records(loader.tagged("f.csv", erased.skip(csv.DictReader(text), "things", "name")),
                           stats)
    bulk_copy.finish(stage, stats, erased, "things", "name")
    conn.commit()
    rows = conn.execute(f"select id, name, size, _extra, _origin from {schema}.things order by id").fetchall()
    quarantined = [(origin, reason, json.loads(payload)) for origin, reason, payload in conn.execute(
        "select origin, reason, payload from raw_meta.quarantine where load_id = %s order by quarantine_id",
        (load_id,))]
    return rows, stats.counts(), quarantined, landed


def _both(conn, make_schema, data: bytes, erased=None):
    fast = _land(conn, make_schema(), data, True, erased)
    slow = _land(conn, make_schema(), data, False, erased)
    assert fast[:3] == slow[:3]
    return fast


@pytest.mark.parametrize("data", [
    HEADER + b"1,a,3\n2,b,\n3,\"\",\"x,y\"\n",
    b"\xef\xbb\xbf" + HEADER + b"1,caf\xc3\xa9,\"two\nlines\"\r\n",  # BOM, quoted line break
    b"size,id,name,colour\n3,1,a,red\n4,2,b,\n",  # another column order, an unknown column
    HEADER + b"1,a,3\n2,b,4\n1,later,5\n",  # a repeated key: the later row wins
    HEADER + b"1,a,3\n,nokey,4\n",  # a missing key: quarantined with the row path's reason
    HEADER,  # a header only
])
def test_clean_files_land_whole_exactly_as_row_by_row(conn, make_schema, data):
    rows, counts, _, fast = _both(conn, make_schema, data)
    assert fast, "a clean file takes the fast path"
    assert counts["read"] >= len(rows) + counts["quarantined"]  # a repeated key is read twice


def test_unknown_columns_go_to_extra_and_missing_keys_are_quarantined(conn, make_schema):
    rows, counts, quarantined, _ = _both(conn, make_schema,
                                         b"id,name,size,colour\n1,a,3,\n,b,4,red\n")
    assert rows == [("1", "a", "3", {"colour": ""}, "f.csv")]
    assert counts == {"read": 2, "changed": 1, "quarantined": 1}
    assert quarantined == [("f.csv", "missing key column 'id'",
                            {"id": "", "name": "b", "size": "4", "colour": "red"})]


@pytest.mark.parametrize("data", [
    HEADER + b"1,a,3\n2,b\x00,4\n",  # a NUL byte
    HEADER + b"1,a,3\n2,\xff\xfe,4\n",  # not UTF-8
    HEADER + b"1,a,3\n2,b\n",  # a short row
    HEADER + b"1,a,3\n\\.\n2,b,4\n",  # a line Postgres would take for the end of the data
    b"id,id,name\n1,2,a\n",  # a repeated column
])
def test_files_postgres_refuses_land_row_by_row_with_the_same_result(conn, make_schema, data):
    *_, fast = _both(conn, make_schema, data)
    assert not fast


def test_erased_people_are_dropped_and_counted(conn, make_schema):
    erased = ErasedPeople({person_key("gone@example.org", KEY)}, {}, KEY)
    data = HEADER + b"1,kept@example.org,3\n2, gone@example.org ,4\n"
    rows, counts, _, fast = _both(conn, make_schema, data, erased)
    assert fast and [row[0] for row in rows] == ["1"]
    assert counts["read"] == 1 and erased.skipped["things"] == 2  # once per path


def _raw(conn, schema: str, table: str) -> list[tuple]:
    columns = [c for (c,) in conn.execute(
        "select column_name from information_schema.columns where table_schema = %s and table_name = %s "
        "and column_name not in ('_load_id', '_loaded_at') order by ordinal_position", (schema, table))]
    # the export's origin names its temporary download: only the member name is the same
    columns = [r"regexp_replace(_origin, '^.*:', '')" if c == "_origin" else c for c in columns]
    return conn.execute(f'select {", ".join(columns)} from "{schema}"."{table}" order by 1, 2').fetchall()


def test_graph_and_export_land_the_same_both_ways(conn, make_schema, warehouse_url, serve_simulator,
                                                  monkeypatch):
    scale = Scale(employees=20, months=2, seed=5)
    source = SourceConnection(*serve_simulator(scale))
    until = scale.end + timedelta(seconds=1)
    fast, slow = make_schema(), make_schema()
    summaries = {}
    for schema in (fast, slow):
        if schema == slow:
            monkeypatch.setattr(bulk_copy, "copy_csv", lambda *args, **kwargs: False)
        summaries[schema] = (ingest_msgraph(warehouse_url, source, until, schema=schema, history_days=5),
                             ingest_viva_engage(warehouse_url, source, until, schema=schema))
    for n in (0, 1):
        for part in (summaries[fast][n], summaries[slow][n]):
            part.pop("load_id")
        assert summaries[fast][n] == summaries[slow][n]
    assert summaries[fast][0]["tables"]["yammer_activity_user_detail"]["read"] > 0
    for table in ("yammer_activity_user_detail",):
        assert _raw(conn, fast, table) == _raw(conn, slow, table)
    for table in ("users", "groups", "messages"):
        assert _raw(conn, fast, table) == _raw(conn, slow, table), table
