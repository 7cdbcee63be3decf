"""Write-audit-publish on the demo warehouse: BI never sees marts that failed a test, the audit shows
which tests guard the live marts, and concurrent builds never publish a mix."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import psycopg
import pytest
from conftest import ROOT, metric_values
from test_privacy import role_url

from social_value.dbt_runner import DBT_DIR, DbtFailedError, run_dbt
from social_value.publish import CANDIDATE, build_and_publish

BAD_STATUS = "not_a_status"  # breaks accepted_values on stg_surveymonkey__responses.response_status


@pytest.fixture
def reader(conn):
    """The test's own connection in autocommit: an open transaction holding a read lock on a mart
    would (rightly) make a publish wait for it."""
    conn.autocommit = True
    return conn


def transformer_url() -> str:
    return role_url("transformer")


def marts_snapshot(conn) -> dict[str, tuple[int, str]]:
    """Every table in marts: row count and md5 over all rows (what a BI query would see)."""
    tables = [name for (name,) in conn.execute(
        "select tablename from pg_tables where schemaname = 'marts' order by 1")]
    digest = ("select count(*), md5(coalesce(string_agg(t::text, '|' order by t::text), '')) "
              "from marts.{} as t")
    return {table: conn.execute(digest.format(table)).fetchone() for table in tables}


def live_publication(conn) -> tuple:
    return conn.execute("select publication_id, build_id, row_counts, load_ids from audit.publications "
                        "order by publication_id desc limit 1").fetchone()


def test_the_demo_publishes_and_the_live_row_counts_match(demo, reader):
    assert "published: publication" in demo[1]
    publication_id, build_id, row_counts, _ = live_publication(reader)
    assert publication_id >= 2, "both demo runs published"
    assert set(row_counts) >= {"marts.metric_values", "marts.hashtag_outcome_months",
                               "marts.metricflow_time_spine", "restricted.fct_hashtag_outcomes",
                               "restricted.fct_opportunities"}
    for table, count in row_counts.items():
        assert reader.execute(f"select count(*) from {table}").fetchone()[0] == count
    candidate = reader.execute(
        "select count(*) from pg_tables where schemaname in (%s, 'restricted_candidate')", (CANDIDATE,))
    assert candidate.fetchone()[0] == 0, "a publish empties the candidates"
    assert build_id in reader.execute("select obj_description('marts'::regnamespace)").fetchone()[0]


def test_the_auditor_query_names_the_passed_tests_and_loads_of_the_live_marts(demo, reader):
    publication_id, build_id, _, load_ids = live_publication(reader)
    with psycopg.connect(role_url("auditor")) as auditor:
        rows = auditor.execute("select publication_id, build_id, load_ids, tool, test_name, status "
                               "from audit.live_publication_tests").fetchall()
    assert {(row[0], row[1]) for row in rows} == {(publication_id, build_id)}
    assert {row[5] for row in rows} <= {"pass", "success"}
    tools = {row[3] for row in rows}
    assert tools == {"dbt", "gx"}
    names = {row[4] for row in rows}
    assert any(name.startswith("unit_test.") for name in names), "unit tests guard the marts too"
    assert any(name.startswith("test.") and "accepted_values" in name for name in names)
    assert any(name.startswith("raw_") for name in names) and any(name.startswith("marts_") for name in names)
    # exactly the tests recorded for that build, and every succeeded load it read
    recorded = reader.execute("select count(*) from audit.test_results where build_id = %s",
                            (build_id,)).fetchone()
    assert len(rows) == recorded[0]
    expected_loads = [load_id for (load_id,) in reader.execute(
        "select load_id from raw_meta.loads where status = 'succeeded' and started_at <= "
        "(select started_at from audit.builds where build_id = %s) order by 1", (build_id,))]
    assert rows[0][2] == load_ids == expected_loads
    assert set(load_ids) <= {row[0] for row in reader.execute("select load_id from audit.load_quarantine")}


def test_a_bad_record_publishes_nothing_and_the_next_good_run_publishes(demo, reader):
    before, live_before = marts_snapshot(reader), live_publication(reader)
    metrics_before = metric_values(reader)
    response_id, status = reader.execute(
        "select id, response_status from raw_surveymonkey.responses order by id limit 1").fetchone()
    reader.execute("update raw_surveymonkey.responses set response_status = %s where id = %s",
                   (BAD_STATUS, response_id))
    # and another response without any creation time: not_null_columns names the NULL column
    undated_id, created, date_created = reader.execute(
        "select id, created_at, date_created from raw_surveymonkey.responses where id != %s "
        "order by id limit 1", (response_id,)).fetchone()
    reader.execute("update raw_surveymonkey.responses set created_at = null, date_created = null "
                   "where id = %s", (undated_id,))
    try:
        with pytest.raises(DbtFailedError, match="accepted_values"):
            build_and_publish(transformer_url(), build_id="test_bad_record")
        assert marts_snapshot(reader) == before
        assert live_publication(reader) == live_before
        failed = reader.execute("select test_name, failing_rows from audit.test_results "
                                "where build_id = 'test_bad_record' and status = 'fail'").fetchall()
        assert any("accepted_values" in name and "response_status" in name and rows == 1
                   for name, rows in failed), failed
        assert any("not_null_columns_stg_surveymonkey__responses" in name and rows == 1
                   for name, rows in failed), failed
        assert not reader.execute(
            "select 1 from audit.publications where build_id = 'test_bad_record'").fetchone()
    finally:
        reader.execute("update raw_surveymonkey.responses set response_status = %s where id = %s",
                       (status, response_id))
        reader.execute("update raw_surveymonkey.responses set created_at = %s, date_created = %s "
                       "where id = %s", (created, date_created, undated_id))
    result = build_and_publish(transformer_url(), build_id="test_good_after_bad")
    assert live_publication(reader)[:2] == (result["publication"]["publication_id"], "test_good_after_bad")
    assert metric_values(reader) == metrics_before


def test_a_landing_table_without_its_declared_key_fails_the_key_test(demo, reader):
    """Raw keys are enforced by Postgres, not tested row by row: raw_tables_enforce_their_keys
    fails, naming the table, when a landing table lacks the primary key its source declares."""
    name, definition = reader.execute(
        "select conname, pg_get_constraintdef(oid) from pg_constraint "
        "where conrelid = 'raw_slack.channels'::regclass and contype = 'p'").fetchone()
    reader.execute(f"alter table raw_slack.channels drop constraint {name}")
    try:
        with pytest.raises(DbtFailedError, match="raw_tables_enforce_their_keys"):
            run_dbt(["test", "--select", "raw_tables_enforce_their_keys"], transformer_url(),
                    env={"SVW_MARTS_SCHEMA": CANDIDATE})
        compiled = next((DBT_DIR / "target" / "compiled").rglob("raw_tables_enforce_their_keys.sql"))
        failing = reader.execute(compiled.read_text()).fetchall()
        assert failing == [("raw_slack", "channels", "id", None)]
    finally:
        reader.execute(f"alter table raw_slack.channels add constraint {name} {definition}")
    run_dbt(["test", "--select", "raw_tables_enforce_their_keys"], transformer_url(),
            env={"SVW_MARTS_SCHEMA": CANDIDATE})


def _build_process(build_id: str) -> subprocess.Popen:
    code = ("import sys; from social_value.publish import build_and_publish, PublishRefusedError\n"
            "try:\n    build_and_publish(sys.argv[1], build_id=sys.argv[2])\n"
            "except PublishRefusedError as error:\n    print('REFUSED', error); sys.exit(3)\n")
    return subprocess.Popen([sys.executable, "-c", code, transformer_url(), build_id], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT / "plugins")},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_two_builds_at_once_neither_deadlock_nor_publish_a_mix(demo, reader):
    metrics_before = metric_values(reader)
    first_publication = live_publication(reader)[0]
    builds = {build_id: _build_process(build_id) for build_id in ("test_concurrent_a", "test_concurrent_b")}
    outcomes = {}
    for build_id, process in builds.items():
        output, _ = process.communicate(timeout=1800)  # a deadlock would hang here, not pass
        outcomes[build_id] = process.returncode
        assert process.returncode in (0, 3), output[-3000:]
    published = [build_id for build_id, code in outcomes.items() if code == 0]
    assert published, "at least one of two concurrent builds publishes"
    rows = reader.execute("select build_id, row_counts from audit.publications where publication_id > %s "
                          "order by publication_id", (first_publication,)).fetchall()
    assert sorted(row[0] for row in rows) == sorted(published)
    # the live marts are exactly the newest publication's build: its counts, its tests all passed
    live_build, row_counts = rows[-1]
    for table, count in row_counts.items():
        assert reader.execute(f"select count(*) from {table}").fetchone()[0] == count
    assert not reader.execute("select 1 from audit.test_results where build_id = %s "
                              "and status not in ('pass', 'success')", (live_build,)).fetchone()
    assert metric_values(reader) == metrics_before


def test_the_dag_run_fails_naming_the_failed_test_and_publishes_nothing(demo, reader):
    """The same bad record through Airflow: build_warehouse's cosmos task group fails, its log names
    the test, the audit has it under the run's id, and the live marts do not change."""
    from social_value.cli import _airflow_db, latest_run

    before, live_before = marts_snapshot(reader), live_publication(reader)
    response_id, status = reader.execute(
        "select id, response_status from raw_surveymonkey.responses order by id limit 1").fetchone()
    reader.execute("update raw_surveymonkey.responses set response_status = %s where id = %s",
                   (BAD_STATUS, response_id))
    # and another response without any creation time: not_null_columns names the NULL column
    undated_id, created, date_created = reader.execute(
        "select id, created_at, date_created from raw_surveymonkey.responses where id != %s "
        "order by id limit 1", (response_id,)).fetchone()
    reader.execute("update raw_surveymonkey.responses set created_at = null, date_created = null "
                   "where id = %s", (undated_id,))
    try:
        run = subprocess.run([str(ROOT / ".venv" / "bin" / "airflow"), "dags", "test", "build_warehouse"],
                             cwd=ROOT, env=os.environ, capture_output=True, text=True, timeout=1800)
    finally:
        reader.execute("update raw_surveymonkey.responses set response_status = %s where id = %s",
                       (status, response_id))
        reader.execute("update raw_surveymonkey.responses set created_at = %s, date_created = %s "
                       "where id = %s", (created, date_created, undated_id))
    log = run.stdout + run.stderr
    assert re.search(r"dbt build failed: .*accepted_values_stg_surveymonkey__responses_response_status", log)
    run_id, state = latest_run("build_warehouse")
    assert state == "failed"
    with _airflow_db() as airflow_db:
        states = dict(airflow_db.execute("select task_id, state from task_instance where dag_id = %s "
                                         "and run_id = %s", ("build_warehouse", run_id)).fetchall())
    assert states["dbt.dbt_producer_watcher"] == "failed"
    # dbt skips what depends on the failed test: those model tasks turn red, and what follows them
    assert states["dbt.int_survey_response_fields_run"] == "failed"
    assert states["dbt.int_survey_responses_run"] in ("failed", "upstream_failed")
    assert states["dbt.metric_values_run"] in ("failed", "upstream_failed")
    assert states["dbt.stg_viva_engage__users_run"] == "success", "models that built show green"
    assert states["publish"] == "upstream_failed"
    assert marts_snapshot(reader) == before
    assert live_publication(reader) == live_before
    failed = reader.execute("select test_name, failing_rows from audit.test_results "
                            "where build_id = %s and status = 'fail'", (run_id,)).fetchall()
    assert any("accepted_values" in name and rows == 1 for name, rows in failed), failed
