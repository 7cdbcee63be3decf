"""The benchmark driver runs end to end at a tiny scale against the real Postgres and writes every
figure it promises. It reports timings; this test asserts none of them, only that they are there
and sane (rows landed, positive rates and ratios, both builds succeeded)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import psycopg
import pytest

from social_value.bench.load import SCHEMAS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_bench_driver_writes_every_figure(env, tmp_path, warehouse_url):
    out = tmp_path / "bench.json"
    # Kept short: the dbt builds are cut to one staging model and its tests, and the DAG parse
    # probe (a fresh Airflow process per file) is checked on its own below.
    result = subprocess.run(
        [sys.executable, "-m", "social_value.bench.run", "--scales", "20x2", "--out", str(out),
         "--parse-runs", "0", "--select", "stg_activity_events__events"],
        cwd=ROOT, env=os.environ, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "floor/conn." in result.stdout  # the table was printed

    document = json.loads(out.read_text())
    scale = document["scales"]["20x2"]
    assert (scale["employees"], scale["months"]) == (20, 2)
    load, floor, build = scale["load"], scale["floor"], scale["build"]
    assert set(load["sources"]) == set(SCHEMAS)
    for name, source in load["sources"].items():
        assert source["rows"] > 0 and source["seconds"] > 0 and source["rows_per_s"] > 0, name
        assert source["cpu_s"] > 0, name
        assert source["floor_copy_merge_s"] >= source["floor_copy_s"] > 0, name
        assert source["ratio_floor_connector"] > 0, name
    assert scale["activity_rows"] > 0 and load["rows"] >= scale["activity_rows"]
    assert load["peak_rss_mib"] > 0
    assert floor["rows"] == load["rows"]  # the floor reproduces exactly the loaded end state
    assert floor["copy_rows_per_s"] >= floor["copy_merge_rows_per_s"] > 0
    assert floor["ratio_floor_connector"] > 0
    assert scale["one_more_day"]["read"] > 0 and scale["one_more_day"]["changed"] > 0
    for kind in ("full", "incremental"):
        assert build[kind]["status"] == "success" and build[kind]["seconds"] > 0, build[kind]
    assert build["ratio_incremental_full"] > 0
    assert "cosmos" in scale
    # The HTTP sources were served from the simulator's cache, warmed before the clock started, and
    # both timed loads asked only for what the warm-up had asked for (a miss would add an entry).
    assert document["source"] == "warm cache"
    source = scale["source"]
    assert source["served"] == "warm cache" and source["warmup_loads"] == 2
    assert source["warmup_s"] > 0 and source["cache_entries"] > 0 and source["cache_bytes"] > 0
    assert source["timed_load_misses"] == 0 and source["one_more_day_misses"] == 0
    # Its database is dropped afterwards.
    with psycopg.connect(warehouse_url) as conn:
        assert conn.execute("select 1 from pg_database where datname = 'bench_20x2'").fetchone() is None


def test_bench_cold_source_times_the_generating_simulator(env, tmp_path):
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, "-m", "social_value.bench.run", "--scales", "20x2", "--out", str(out),
         "--parse-runs", "0", "--skip-build", "--cold-source"],
        cwd=ROOT, env={**os.environ, "SVW_SIMULATOR_CACHE_DIR": str(tmp_path / "ignored")},
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    document = json.loads(out.read_text())
    scale = document["scales"]["20x2"]
    assert document["source"] == scale["source"]["served"] == "generated (--cold-source)"
    assert scale["load"]["rows"] > 0 and "build" not in scale
    assert not (tmp_path / "ignored").exists()  # cold means no cache, whatever the environment says


def test_dag_parse_probe_times_one_file_in_a_fresh_process(env):
    from social_value.bench import dag_parse

    probe = dag_parse.parse_once(dag_parse.DAGS / "ingest_intranet.py")
    assert probe["seconds"] > 0 and probe["errors"] == 0 and probe["dags"] == 1


def test_peak_rss_is_the_childs_own_not_its_parents():
    # A child started by subprocess inherits its parent's ru_maxrss over exec: a loader started by
    # a large parent would report the parent's memory as its own.
    held = bytearray(200 << 20)
    for i in range(0, len(held), 4096):
        held[i] = 1
    probe = ("import resource; from social_value.bench.peak_rss import peak_rss_mib; "
             "print(peak_rss_mib(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")
    out = subprocess.run([sys.executable, "-c", probe], env=os.environ, capture_output=True, text=True,
                         check=True).stdout.split()
    own, inherited = float(out[0]), float(out[1])
    assert inherited > 200, "ru_maxrss carries the parent's peak (what this module avoids)"
    assert 0 < own < 100
    del held


def test_replay_restamps_each_sources_newest_load_only(env):
    """bench/replay: the newest load of each source gets a new id, in raw_meta.loads and on the
    raw rows it wrote; older loads and other sources' rows keep theirs; a non-bench database is
    refused."""
    from social_value.bench import database, replay
    from social_value.connectors import slack_export
    from social_value.loader import finish_load, merge_batch, recorded_load

    db = database.create("bench_replay_test")
    try:
        table = slack_export.tables()["users"]
        with psycopg.connect(db.owner_url) as conn:
            for ids in (["U1", "U2"], ["U2", "U3"]):  # two loads; the second changes U2, adds U3
                with recorded_load(conn, "slack", None) as load_id, conn.transaction():
                    rows = [("test", {"id": i, "name": f"{i}-{load_id}"}) for i in ids]
                    finish_load(conn, load_id, merge_batch(conn, table, rows, load_id, "slack"))
            first, second = (r[0] for r in conn.execute(
                "select load_id from raw_meta.loads where source = 'slack' order by load_id"))

        moved = replay.restamp_newest_loads(db.owner_url)

        assert set(moved) == {"slack"}
        old, new, rows = moved["slack"]
        assert (old, rows) == (second, 2) and new > second
        with psycopg.connect(db.owner_url) as conn:
            stamps = dict(conn.execute("select id, _load_id from raw_slack.users").fetchall())
            loads = [r[0] for r in conn.execute("select load_id from raw_meta.loads order by 1")]
        assert stamps == {"U1": first, "U2": new, "U3": new}
        assert loads == [first, second, new]
    finally:
        database.drop(db)
    with pytest.raises(SystemExit):
        replay.main(["warehouse"])


def test_a_kept_database_is_found_by_name_and_nothing_else(env):
    """bench/database.kept: the logins of a database `make bench --keep` left; the warehouse's own
    database, or any name that is not bench_*, is refused."""
    from social_value.bench import database

    kept = database.kept("bench_s")
    assert kept.name == "bench_s"
    for url in (kept.owner_url, kept.loader_url, kept.transformer_url):
        assert url.rsplit("/", 1)[1].split("?")[0] == "bench_s"
    assert "transformer" in kept.transformer_url and "loader" in kept.loader_url
    with pytest.raises(ValueError, match="only a benchmark database"):
        database.kept("warehouse")
