"""Any subset of sources builds, passes its tests and publishes; a missing source's metrics are NULL.

One database of the test's own gets every source at a tiny scale and one real build (dbt, GX,
publish). Each source alone and all but one (14 subsets) are then checked without 14 more builds:
in a transaction that is rolled back, the other sources' landing tables are emptied, every table
model is rebuilt from the SQL dbt compiled for the real build, every dbt data test of that build
must return no rows, and metric_values must equal the independent reference (tests/reference_
metrics.py) computed in the same transaction. A last real build with Viva Engage only, a
reporting start and the dormant rule publishes, and the reports name the missing sources.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from graphlib import TopologicalSorter
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from reference_metrics import reference_rows
from test_metrics_independent import row_differences

from social_value import landing_tables, report_data, report_html, report_scorecard, runtime
from social_value.bench import database
from social_value.dbt_runner import DBT_DIR
from social_value.publish import build_and_publish
from social_value.warehouse_setup import role_passwords

SOURCES = {  # source -> landing schema
    "viva_engage": "raw_viva_engage", "msgraph": "raw_msgraph", "slack": "raw_slack",
    "activity_events": "raw_activity_events", "salesforce": "raw_salesforce",
    "surveymonkey": "raw_surveymonkey", "qualtrics": "raw_qualtrics"}
SUBSETS = [*({source} for source in SOURCES), *(set(SOURCES) - {source} for source in SOURCES)]


def _name(subset: set[str]) -> str:
    if len(subset) == 1:
        return f"only_{next(iter(subset))}"
    return f"all_but_{next(iter(set(SOURCES) - subset))}"


def _land_every_source(loader_url: str, key: str) -> None:
    """Every source through its real connector, from a tiny simulated organisation over HTTP."""
    from social_value.connectors.salesforce import SalesforceSource
    from social_value.ingest import crm, intranet, survey
    from social_value.simulator import drops, organisation, server
    from social_value.simulator.api import Faults

    scale = organisation.Scale(employees=12, months=3)
    httpd = server.serve(0, "subsets-token", scale, Faults.parse(""), None)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    source = intranet.SourceConnection(base, "subsets-token")
    until = datetime.combine(scale.end.date() + timedelta(days=1), datetime.min.time(), UTC)
    try:
        with tempfile.TemporaryDirectory() as folder:
            drop_dir = Path(folder)
            drops.write_all(drop_dir, scale)
            intranet.ingest_viva_engage(loader_url, source, until, pseudonym_key=key)
            intranet.ingest_msgraph(loader_url, source, until, history_days=scale.months * 31,
                                    pseudonym_key=key)
            intranet.ingest_slack_drop(loader_url, drop_dir, pseudonym_key=key)
            intranet.ingest_activity_events_drop(loader_url, drop_dir, pseudonym_key=key)
            crm.ingest_salesforce(loader_url, SalesforceSource(base, "subsets-token"), until,
                                  pseudonym_key=key)
            survey.ingest_surveymonkey(loader_url, survey.SurveyMonkeySource(base, "subsets-token"), until)
            survey.ingest_qualtrics_drop(loader_url, drop_dir)
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def built(env):
    """A database with every source landed and built once for real; yields it with the manifest
    of that build (the compiled SQL of every model and test)."""
    saved = {name: os.environ.get(name) for name in ("SVW_GX_CONNECTION_STRING",)}
    db = database.create(f"{os.environ['SVW_EMBEDDED_DB']}_subsets")
    try:
        _land_every_source(db.loader_url, env["SVW_PSEUDONYM_KEY"])
        result = build_and_publish(db.transformer_url, full_refresh=True)
        manifest = json.loads((DBT_DIR / "target" / "manifest.json").read_text())
        yield db, manifest, result
    finally:
        database.drop(db)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _published(rows) -> dict[str, dict[tuple, tuple]]:
    by_metric: dict[str, dict[tuple, tuple]] = defaultdict(dict)
    for key, level, month, unit, value, numerator, denominator, suppressed in rows:
        by_metric[key][month, unit] = (level, value, numerator, denominator, suppressed)
    return by_metric


def _compare(conn: psycopg.Connection, key: str, relation: str, **variables) -> list[str]:
    """metric_values in `relation` against the reference, metric by metric: the differences."""
    published = _published(conn.execute(
        f"select metric_key, level, period_start, org_unit, value, numerator, denominator, suppressed "
        f"from {relation} where period_grain = 'month'").fetchall())
    expected: dict[str, dict[tuple, object]] = defaultdict(dict)
    for row in reference_rows(conn, key, **variables):
        expected[row.metric_key][row.period_start, row.org_unit] = row
    assert expected, "the reference computed no rows"
    return [f"{metric}: {problems}" for metric in expected
            if (problems := row_differences(expected[metric], published.get(metric, {})))]


def _empty_sources(conn: psycopg.Connection, keep: set[str]) -> None:
    """Empty the landing tables of every source not in `keep` (as the loader, who owns them)."""
    tables = [table for table in landing_tables.declared() if table.schema not in
              {SOURCES[source] for source in keep}]
    conn.execute("set role loader")
    conn.execute(sql.SQL("truncate {}").format(sql.SQL(", ").join(table.ident() for table in tables)))
    conn.execute("reset role")


def _replay(conn: psycopg.Connection, manifest: dict) -> list[str]:
    """Rebuild every table model from its compiled SQL (dependencies first) as the transformer,
    then run every dbt data test of the build: the tests that returned rows."""
    nodes = manifest["nodes"]
    tables = {uid: node for uid, node in nodes.items() if node["resource_type"] == "model"
              and node["config"]["materialized"] in ("table", "incremental")}
    order = TopologicalSorter({uid: [d for d in node["depends_on"]["nodes"] if d in tables]
                               for uid, node in tables.items()}).static_order()
    conn.execute("set role transformer")
    for uid in order:
        relation, code = tables[uid]["relation_name"], tables[uid]["compiled_code"]
        conn.execute(f"drop table if exists {relation} cascade")
        conn.execute(f"create table {relation} as {code}")
    failed = []
    for uid, node in sorted(nodes.items()):
        if node["resource_type"] == "test":
            rows = conn.execute(f"select count(*) from ({node['compiled_code']}) as test").fetchone()[0]
            if rows:
                failed.append(f"{uid}: {rows} row(s)")
    conn.execute("reset role")
    return failed


def test_every_source_builds_and_matches_the_reference(built, env):
    db, _, result = built
    assert result["publication"]["publication_id"] == 1
    with psycopg.connect(db.owner_url) as conn:
        assert conn.execute("select bool_and(has_data) from marts.source_coverage").fetchone()[0]
        assert _compare(conn, env["SVW_PSEUDONYM_KEY"], "marts.metric_values") == []


@pytest.mark.parametrize("subset", SUBSETS, ids=_name)
def test_a_subset_of_sources_builds_passes_its_tests_and_leaves_the_rest_null(built, env, subset):
    db, manifest, _ = built
    with psycopg.connect(db.owner_url) as conn, conn.transaction(force_rollback=True):
        _empty_sources(conn, subset)
        assert _replay(conn, manifest) == []
        covered = dict(conn.execute("select source, has_data from marts_candidate.source_coverage"))
        assert {source for source, has_data in covered.items() if has_data} == subset
        assert conn.execute("select count(*) from marts_candidate.metric_values").fetchone()[0] > 0
        assert _compare(conn, env["SVW_PSEUDONYM_KEY"], "marts_candidate.metric_values") == []


def test_viva_engage_alone_publishes_from_the_reporting_start_with_dormant_accounts_dropped(
        built, env, monkeypatch):
    """A real build of Viva Engage only, with reporting_start and dormant_after_months set: it
    publishes, agrees with the reference under the same settings, and both reports name the sources
    that sent nothing."""
    db, _, _ = built
    key = env["SVW_PSEUDONYM_KEY"]
    with psycopg.connect(db.owner_url) as conn:
        _empty_sources(conn, {"viva_engage"})
        conn.commit()
        first = conn.execute("select min(period_start) from marts.metric_values").fetchone()[0]
    start = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    monkeypatch.setenv("SVW_REPORTING_START", start.isoformat())
    monkeypatch.setenv("SVW_DORMANT_AFTER_MONTHS", "1")
    build_and_publish(db.transformer_url, full_refresh=True)
    with psycopg.connect(db.owner_url) as conn:
        assert conn.execute("select min(period_start) from marts.metric_values").fetchone()[0] == start
        assert _compare(conn, key, "marts.metric_values", reporting_start=start, dormant_after_months=1) == []
        # the rule changes something here: without it the reference counts more registered users
        dormant = {(r.period_start, r.org_unit): r.value for r in reference_rows(
            conn, key, reporting_start=start, dormant_after_months=1) if r.metric_key == "registered_users"}
        plain = {(r.period_start, r.org_unit): r.value for r in reference_rows(
            conn, key, reporting_start=start) if r.metric_key == "registered_users"}
        assert any((plain[cell] or 0) > (value or 0) for cell, value in dormant.items())
        assert conn.execute("select count(*) from marts.metric_values where metric_key = 'likes' "
                            "and value is not null").fetchone()[0] == 0, "likes have no source"
    bi_url = runtime.role_url(db.owner_url, "bi_reader", role_passwords()["bi_reader"])
    marts = report_data.fetch(bi_url)
    text = "\n".join(report_scorecard.render_text(report_scorecard.build(marts)))
    assert "No data from" in text and "Slack" in text and "Salesforce" in text
    html = report_html.render(marts.metrics, satisfaction=marts.satisfaction, hashtags=marts.hashtags,
                              sources=marts.sources)
    assert 'id="missing-sources"' in html and "Qualtrics" in html


def test_setup_creates_every_landing_table_empty_as_the_loader_would(env):
    """On a fresh database: every declared table exists empty, owned by the loader, keyed and
    indexed like a loaded one; a second setup changes nothing, and a declared column a table
    lacks (a connector or mapping that gained one) is added."""
    from social_value import loader
    from social_value.warehouse_setup import setup

    db = database.create(f"{os.environ['SVW_EMBEDDED_DB']}_fresh")
    try:
        declared = landing_tables.declared()
        with psycopg.connect(db.owner_url) as conn:
            for table in declared:
                owner, rows, key, indexes = conn.execute(
                    "select pg_get_userbyid(c.relowner), c.reltuples, (select array_agg(a.attname::text "
                    "order by a.attnum) from pg_constraint as k join pg_attribute as a on a.attrelid = "
                    "k.conrelid and a.attnum = any(k.conkey) where k.conrelid = c.oid and k.contype = 'p'), "
                    "array(select indexrelid::regclass::text from pg_index where indrelid = c.oid) "
                    "from pg_class as c where c.oid = to_regclass(%s)",
                    (table.ident().as_string(conn),)).fetchone()
                assert owner == "loader", table
                assert sorted(key) == sorted(table.key), table
                assert any(name.endswith("__load_id_brin") for name in indexes), table
                count = conn.execute(sql.SQL("select count(*) from {}").format(table.ident())).fetchone()[0]
                assert count == 0 and rows <= 0, table
            assert landing_tables.create_all(conn) == [], "a second run changes nothing"
            users = next(table for table in declared if (table.schema, table.name) == ("raw_slack", "users"))
            wider = loader.RawTable(users.schema, users.name, (*users.columns, "pronouns"), users.key)
            assert landing_tables.create_all(conn, [wider]) == ["raw_slack.users"]
            conn.commit()
        setup(db.owner_url, os.environ["SVW_PSEUDONYM_KEY"], role_passwords())  # idempotent
        assert {table.schema for table in declared} == set(SOURCES.values())
    finally:
        database.drop(db)
