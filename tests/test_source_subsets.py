"""Any subset of sources builds, passes its tests and publishes; a missing source's metrics are NULL.

Every source alone, all but one and all of them (15 subsets) without 15 builds: one database of the
test's own gets every source at a tiny scale, dbt seeds and compiles the project there once, and
each subset is then checked in a transaction that is rolled back: the other sources' landing tables
are emptied, every model is built from the SQL dbt compiled (dependencies first, as the
transformer), every dbt data test must return no rows, and metric_values must equal the
independent reference (tests/reference_metrics.py) computed in the same transaction. One real
build (dbt, GX, publish) of an organisation with Viva Engage only, a reporting start and the
dormant rule then publishes, and the reports name the missing sources.
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
from social_value.dbt_runner import DBT_DIR, run_dbt
from social_value.publish import CANDIDATE, build_and_publish
from social_value.warehouse_setup import role_passwords

SOURCES = {  # source -> landing schema
    "viva_engage": "raw_viva_engage", "msgraph": "raw_msgraph", "slack": "raw_slack",
    "activity_events": "raw_activity_events", "salesforce": "raw_salesforce",
    "surveymonkey": "raw_surveymonkey", "qualtrics": "raw_qualtrics"}
SUBSETS = [*({source} for source in SOURCES), *(set(SOURCES) - {source} for source in SOURCES),
           set(SOURCES)]


def _name(subset: set[str]) -> str:
    if subset == set(SOURCES):
        return "every_source"
    if len(subset) == 1:
        return f"only_{next(iter(subset))}"
    return f"all_but_{next(iter(set(SOURCES) - subset))}"


def _land(loader_url: str, key: str, sources: set[str]) -> None:
    """The `sources` through their real connectors, from a tiny simulated organisation over HTTP."""
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
            loads = {
                "viva_engage": lambda: intranet.ingest_viva_engage(loader_url, source, until,
                                                                   pseudonym_key=key),
                "msgraph": lambda: intranet.ingest_msgraph(loader_url, source, until, pseudonym_key=key,
                                                           history_days=scale.months * 31),
                "slack": lambda: intranet.ingest_slack_drop(loader_url, drop_dir, pseudonym_key=key),
                "activity_events": lambda: intranet.ingest_activity_events_drop(loader_url, drop_dir,
                                                                                pseudonym_key=key),
                "salesforce": lambda: crm.ingest_salesforce(
                    loader_url, SalesforceSource(base, "subsets-token"), until, pseudonym_key=key),
                "surveymonkey": lambda: survey.ingest_surveymonkey(
                    loader_url, survey.SurveyMonkeySource(base, "subsets-token"), until),
                "qualtrics": lambda: survey.ingest_qualtrics_drop(loader_url, drop_dir),
            }
            for name, load in loads.items():
                if name in sources:
                    load()
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def restore_gx_connection():
    """GX keeps the last warehouse it was given in the environment: give the next tests theirs."""
    saved = os.environ.get("SVW_GX_CONNECTION_STRING")
    yield
    if saved is None:
        os.environ.pop("SVW_GX_CONNECTION_STRING", None)
    else:
        os.environ["SVW_GX_CONNECTION_STRING"] = saved


@pytest.fixture(scope="module")
def compiled(env):
    """A database with every source landed, the seeds loaded and the project compiled there as a
    first (full) build would run it; yields it with the manifest (every model's and test's SQL)."""
    db = database.create(f"{os.environ['SVW_EMBEDDED_DB']}_subsets")
    try:
        _land(db.loader_url, env["SVW_PSEUDONYM_KEY"], set(SOURCES))
        run_dbt(["seed", "--full-refresh"], db.transformer_url)
        # the reference's defaults: no reporting start, no dormant rule, whatever the shell says
        unset = {"SVW_MARTS_SCHEMA": CANDIDATE, "SVW_REPORTING_START": "", "SVW_DORMANT_AFTER_MONTHS": ""}
        run_dbt(["compile", "--full-refresh"], db.transformer_url, env=unset)
        yield db, json.loads((DBT_DIR / "target" / "manifest.json").read_text())
    finally:
        database.drop(db)


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
    if not tables:
        return
    conn.execute("set role loader")
    conn.execute(sql.SQL("truncate {}").format(sql.SQL(", ").join(table.ident() for table in tables)))
    conn.execute("reset role")


def _replay(conn: psycopg.Connection, manifest: dict) -> list[str]:
    """Build every model from its compiled SQL (dependencies first) as the transformer, then run
    every dbt data test: the tests that returned rows."""
    nodes = manifest["nodes"]
    models = {uid: node for uid, node in nodes.items() if node["resource_type"] == "model"}
    order = TopologicalSorter({uid: [d for d in node["depends_on"]["nodes"] if d in models]
                               for uid, node in models.items()}).static_order()
    conn.execute("set role transformer")
    for uid in order:
        node = models[uid]
        kind = "view" if node["config"]["materialized"] == "view" else "table"
        conn.execute(f"create {kind} {node['relation_name']} as {node['compiled_code']}")
    failed = []
    for uid, node in sorted(nodes.items()):
        if node["resource_type"] == "test":
            rows = conn.execute(f"select count(*) from ({node['compiled_code']}) as test").fetchone()[0]
            if rows:
                failed.append(f"{uid}: {rows} row(s)")
    conn.execute("reset role")
    return failed


@pytest.mark.parametrize("subset", SUBSETS, ids=_name)
def test_a_subset_of_sources_builds_passes_its_tests_and_leaves_the_rest_null(compiled, env, subset):
    db, manifest = compiled
    with psycopg.connect(db.owner_url) as conn, conn.transaction(force_rollback=True):
        _empty_sources(conn, subset)
        assert _replay(conn, manifest) == []
        covered = dict(conn.execute("select source, has_data from marts_candidate.source_coverage"))
        assert {source for source, has_data in covered.items() if has_data} == subset
        assert conn.execute("select count(*) from marts_candidate.metric_values").fetchone()[0] > 0
        assert _compare(conn, env["SVW_PSEUDONYM_KEY"], "marts_candidate.metric_values") == []


@pytest.fixture
def viva_engage_only(env, restore_gx_connection):
    """A database of an organisation that has Viva Engage only."""
    db = database.create(f"{os.environ['SVW_EMBEDDED_DB']}_viva_engage")
    try:
        _land(db.loader_url, env["SVW_PSEUDONYM_KEY"], {"viva_engage"})
        yield db
    finally:
        database.drop(db)


def test_viva_engage_alone_publishes_from_the_reporting_start_with_dormant_accounts_dropped(
        viva_engage_only, env, monkeypatch):
    """A real build with reporting_start and dormant_after_months set: it publishes (dbt, GX on the
    empty landing tables), agrees with the reference under the same settings, and both reports name
    the sources that sent nothing."""
    db, key = viva_engage_only, env["SVW_PSEUDONYM_KEY"]
    with psycopg.connect(db.owner_url) as conn:
        first = conn.execute("select min(created_at) from raw_viva_engage.messages").fetchone()[0]
    first = datetime.fromisoformat(first).date()
    start = date(first.year + first.month // 12, first.month % 12 + 1, 1)  # the second month
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


def test_the_reports_name_missing_sources_only_when_there_are_some():
    month = date(2026, 5, 1)
    rows = [{"metric_key": "downloads", "level": 3, "period_start": month, "org_unit": "ALL", "value": None,
             "numerator": None, "denominator": None, "suppressed": False}]
    sources = [{"source": "slack", "source_name": "Slack", "has_data": False, "metric_keys": ["likes"]},
               {"source": "activity_events", "source_name": "activity events", "has_data": False,
                "metric_keys": ["downloads"]},
               {"source": "viva_engage", "source_name": "Viva Engage", "has_data": True, "metric_keys": []}]
    card = report_scorecard.build(report_data.Marts(metrics=rows, sources=sources))
    assert card.missing_sources == ("Slack", "activity events")
    assert "No data from Slack, activity events: the metrics only they feed are not measured" in \
        "\n".join(report_scorecard.render_text(card))
    assert 'id="missing-sources"' in report_html.render(rows, sources=sources)
    every = [{**source, "has_data": True} for source in sources]
    assert "No data from" not in "\n".join(report_scorecard.render_text(
        report_scorecard.build(report_data.Marts(metrics=rows, sources=every))))
    assert 'id="missing-sources"' not in report_html.render(rows, sources=every)
    assert 'id="missing-sources"' not in report_html.render(rows)  # mart not published yet
