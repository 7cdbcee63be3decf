"""The loader on a real Postgres: merge on keys, quarantine, unknown columns, all-or-nothing."""

from __future__ import annotations

import pytest

from social_value import loader
from social_value.loader import RawTable


def _table(schema: str) -> RawTable:
    return RawTable(schema, "things", ("id", "name", "size"))


def _rows(records):
    return loader.tagged("test.csv", records)


def _land(conn, table, records):
    load_id = loader.start_load(conn, "test", None)
    stats = loader.merge_batch(conn, table, _rows(records), load_id, "test")
    loader.finish_load(conn, load_id, stats)
    conn.commit()
    return load_id, stats


def _contents(conn, table):
    return conn.execute(f"select id, name, size, _extra, _load_id from {table.schema}.things "
                        "order by id").fetchall()


def test_rerun_leaves_table_identical_and_keeps_load_ids(conn, scratch_schema):
    table = _table(scratch_schema)
    records = [{"id": "1", "name": "a", "size": "3"}, {"id": "2", "name": "b", "size": ""}]
    first_load, first = _land(conn, table, records)
    before = _contents(conn, table)
    _, second = _land(conn, table, records)
    assert (first.read, first.loaded) == (2, 2)
    assert (second.read, second.loaded) == (2, 0)
    assert _contents(conn, table) == before
    assert {row[4] for row in before} == {first_load}
    assert before[1][2] is None, "an empty string lands as NULL"


def test_changed_record_is_updated_and_later_duplicate_wins(conn, scratch_schema):
    table = _table(scratch_schema)
    _land(conn, table, [{"id": "1", "name": "old", "size": "1"}])
    second_load, stats = _land(conn, table, [
        {"id": "1", "name": "mid", "size": "1"},
        {"id": "1", "name": "new", "size": "2"},  # the same key again later in the batch
    ])
    assert stats.loaded == 1
    assert _contents(conn, table) == [("1", "new", "2", None, second_load)]


def test_first_load_appends_and_a_key_twice_keeps_the_later_row(conn, scratch_schema):
    table = _table(scratch_schema)
    load_id, stats = _land(conn, table, [
        {"id": "1", "name": "first", "size": "1"},
        {"id": "2", "name": "only", "size": "2"},
        {"id": "1", "name": "later", "size": "3"},  # building the key finds it twice: deduplicated
    ])
    assert (stats.read, stats.loaded) == (3, 2)
    assert _contents(conn, table) == [("1", "later", "3", None, load_id), ("2", "only", "2", None, load_id)]
    primary_key = conn.execute("select pg_get_constraintdef(oid) from pg_constraint where conrelid = "
                               "%s::regclass and contype = 'p'", (f"{scratch_schema}.things",)).fetchall()
    assert primary_key == [("PRIMARY KEY (id)",)]


def test_bad_records_are_quarantined_with_reason(conn, scratch_schema):
    table = _table(scratch_schema)
    load_id, stats = _land(conn, table, [
        {"id": "", "name": "no key", "size": "1"},
        {"id": "7", "name": "nul\x00byte", "size": "1"},
        {"id": "8", "name": "fine", "size": "1"},
    ])
    assert (stats.read, stats.loaded, stats.quarantined) == (3, 1, 2)
    reasons = [row[0] for row in conn.execute(
        "select reason from raw_meta.quarantine where load_id = %s order by quarantine_id", (load_id,))]
    assert reasons[0] == "missing key column 'id'"
    assert reasons[1].startswith("NUL byte in column 'name'")
    assert [row[0] for row in _contents(conn, table)] == ["8"]


def test_unknown_columns_are_kept_not_dropped(conn, scratch_schema):
    table = _table(scratch_schema)
    _, stats = _land(conn, table, [{"id": "1", "name": "a", "size": "1", "colour": "blue"}])
    assert stats.unknown_columns == {"colour"}
    assert _contents(conn, table)[0][3] == {"colour": "blue"}


def test_failure_midway_leaves_nothing_half_loaded(conn, scratch_schema):
    table = _table(scratch_schema)
    _land(conn, table, [{"id": "1", "name": "a", "size": "1"}])
    before = _contents(conn, table)

    def dies_after_two():
        yield "f", {"id": "2", "name": "b", "size": "1"}
        yield "f", {"id": "3", "name": "c", "size": "1"}
        raise ConnectionError("source went away")

    load_id = loader.start_load(conn, "test", None)
    with pytest.raises(ConnectionError):
        loader.merge_batch(conn, table, dies_after_two(), load_id, "test")
    loader.fail_load(conn, load_id, "ConnectionError: source went away")
    assert _contents(conn, table) == before
    status = conn.execute("select status, error from raw_meta.loads where load_id = %s",
                          (load_id,)).fetchone()
    assert status == ("failed", "ConnectionError: source went away")
