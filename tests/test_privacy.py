"""Least privilege and privacy by design, proven by connecting as each role after a real build."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from conftest import ROOT, run_cli

from social_value import runtime
from social_value.erasure import person_key
from social_value.warehouse_setup import ROLES

READS = {
    "bi_reader": {"marts.metric_values", "marts.hashtag_outcome_months"},
    "auditor": {"marts.metric_values", "marts.hashtag_outcome_months", "audit.publications",
                "audit.live_publication_tests"},
    "analyst": {"restricted.fct_hashtag_outcomes", "restricted.fct_opportunities"},
    "loader": {"raw_viva_engage.users", "raw_meta.loads"},
    "transformer": {"raw_viva_engage.users", "raw_meta.loads", "staging.stg_viva_engage__users",
                    "core.int_persons", "marts.metric_values", "marts.hashtag_outcome_months",
                    "restricted.fct_hashtag_outcomes", "restricted.fct_opportunities",
                    "svw_private.pseudonym_key", "audit.publications", "audit.live_publication_tests"},
}
OBJECTS = sorted(set().union(*READS.values()))
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[a-z]{2,}", re.I)


def role_url(role: str) -> str:
    return runtime.role_url(os.environ["SVW_WAREHOUSE_URL"], role, os.environ[ROLES[role]])


def _denied(conn, statement: str) -> bool:
    try:
        conn.execute(statement)
    except psycopg.errors.InsufficientPrivilege:
        return True
    return False


@pytest.mark.parametrize("role", sorted(READS))
def test_each_role_reads_exactly_what_it_should(demo, role):
    with psycopg.connect(role_url(role), autocommit=True) as conn:
        readable = {obj for obj in OBJECTS if not _denied(conn, f"select 1 from {obj} limit 1")}
    assert readable == READS[role]


@pytest.mark.parametrize("role", ["bi_reader", "auditor", "analyst", "loader"])
def test_roles_cannot_create_outside_their_schemas(demo, role):
    with psycopg.connect(role_url(role), autocommit=True) as conn:
        assert _denied(conn, "create table marts.intruder (x int)")
        assert _denied(conn, "create table restricted.intruder (x int)")
        assert _denied(conn, "create table public.intruder (x int)")
        assert _denied(conn, "create schema intruder")


def test_audit_schema_is_for_auditors_only(demo, conn):
    privileges = conn.execute(
        "select has_schema_privilege('auditor', 'audit', 'USAGE'), "
        "has_schema_privilege('bi_reader', 'audit', 'USAGE'), "
        "has_schema_privilege('bi_reader', 'marts', 'CREATE'), "
        "has_schema_privilege('bi_reader', 'marts_candidate', 'USAGE'), "
        "has_schema_privilege('auditor', 'marts_candidate', 'USAGE')").fetchone()
    assert privileges == (True, False, False, False, False), "only published marts are readable"


def test_transformer_cannot_write_raw_and_loader_cannot_write_marts(demo):
    with psycopg.connect(role_url("transformer"), autocommit=True) as conn:
        assert _denied(conn, "insert into raw_viva_engage.users (id) values ('x')")
    with psycopg.connect(role_url("loader"), autocommit=True) as conn:
        assert _denied(conn, "delete from marts.metric_values")


def test_nothing_bi_reader_can_read_is_an_email_or_a_directory_name(demo, conn):
    names = set()
    for (name,) in conn.execute("select name from raw_viva_engage.users where name is not null"):
        names.add(name.lower())
        names.update(part.lower() for part in name.split() if len(part) >= 3)
    assert names, "the directory holds names to look for"
    columns = conn.execute(
        "select table_schema, table_name, column_name from information_schema.columns "
        "where table_schema not in ('pg_catalog', 'information_schema') and has_column_privilege("
        "'bi_reader', format('%I.%I', table_schema, table_name), column_name, 'SELECT')").fetchall()
    assert ("marts", "metric_values", "org_unit") in columns
    with psycopg.connect(role_url("bi_reader")) as bi:
        for schema, table, column in columns:
            values = bi.execute(f'select distinct "{column}"::text from "{schema}"."{table}"').fetchall()
            for (value,) in values:
                if value is None:
                    continue
                assert not EMAIL.search(value), f"{schema}.{table}.{column} holds an email"
                assert value.lower() not in names, f"{schema}.{table}.{column} holds a name: {value}"


def test_secrets_never_reach_logs_compiled_sql_or_rendered_fields(demo, env):
    secrets = [env["SVW_SOURCE_TOKEN"], env["SVW_PSEUDONYM_KEY"], env["SVW_PG_PASSWORD"],
               *(env[var] for var in ROLES.values())]
    places = [*(ROOT / ".svw" / "logs").glob("*.log"), *(ROOT / "dbt" / "target").rglob("*"),
              *(Path(env["AIRFLOW_HOME"]) / "logs").rglob("*")]
    scanned = 0
    for path in places:
        if path.is_file():
            text = path.read_text(errors="replace")
            scanned += 1
            for secret in secrets:
                assert secret not in text, f"a secret appears in {path}"
    assert scanned > 5
    with psycopg.connect(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].replace("+psycopg2", "")) as af:
        stored = " ".join(row[0] or "" for row in af.execute(
            "select rendered_fields::text from rendered_task_instance_fields "
            "union all select value::text from xcom"))
    assert stored
    for secret in secrets:
        assert secret not in stored, "a secret appears in Airflow's rendered fields or XCom"


def test_min_group_size_can_only_be_raised(env):
    from subprocess import run

    dbt = Path(os.sys.executable).with_name("dbt")
    result = run([str(dbt), "compile", "-s", "metric_values", "--vars", "{min_group_size: 4}"],
                 cwd=ROOT / "dbt", env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert "may only be raised" in result.stdout + result.stderr


def test_html_report_keeps_hostile_text_inert():
    from datetime import date

    from social_value.report_html import render

    hostile = "<script>alert('x')</script>'); drop table marts.metric_values; --"
    rows = [{"metric_key": key, "level": 1, "period_start": date(2026, 10, 1), "org_unit": unit,
             "value": 7, "suppressed": False}
            for key in ("active_users", "registered_users") for unit in ("ALL", hostile)]
    html = render(rows)
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html


def test_gdpr_erasure_through_raw_core_and_marts(demo, conn, env, serve_simulator):
    email, user_id, month = conn.execute(
        "select users.email, users.id, max(date_trunc('month', messages.created_at::timestamptz))::date "
        "from raw_viva_engage.users as users "
        "join raw_viva_engage.messages as messages on messages.sender_id = users.id "
        "where users.deleted_at is null group by users.email, users.id "
        "order by count(*) desc limit 1").fetchone()
    key = person_key(email, env["SVW_PSEUDONYM_KEY"])

    def registered():
        return conn.execute("select value from marts.metric_values where metric_key = 'registered_users' "
                            "and org_unit = 'ALL' and period_start = %s", (month,)).fetchone()[0]

    before = registered()
    persons = conn.execute("select count(*) from core.int_persons where person_key = %s", (key,)).fetchone()
    assert persons == (1,)
    conn.commit()

    try:
        output = run_cli("erase", "--email", email.upper()).stdout
        assert "raw_viva_engage.users: 1 row(s) deleted" in output

        counts = conn.execute(
            "select (select count(*) from raw_viva_engage.users where lower(email) = lower(%(email)s)), "
            "(select count(*) from raw_viva_engage.messages where sender_id = %(id)s), "
            "(select count(*) from raw_msgraph.yammer_activity_user_detail "
            " where lower(user_principal_name) = lower(%(email)s)), "
            "(select count(*) from raw_activity_events.events where lower(user_email) = lower(%(email)s)), "
            "(select count(*) from raw_slack.users where lower(email) = lower(%(email)s)), "
            "(select count(*) from raw_meta.quarantine where payload ilike '%%' || %(email)s || '%%'), "
            "(select count(*) from core.int_persons where person_key = %(key)s), "
            "(select count(*) from core.int_messages where person_key = %(key)s)",
            {"email": email, "id": user_id, "key": key}).fetchone()
        assert counts == (0, 0, 0, 0, 0, 0, 0, 0)
        assert registered() == before - 1
        conn.commit()

        # The source still exports the person: a new load must not bring them back.
        from social_value.ingest.intranet import SourceConnection, ingest_viva_engage
        from social_value.simulator import organisation

        source = SourceConnection(*serve_simulator(organisation.Scale()))
        summary = ingest_viva_engage(role_url("loader"), source, datetime(2026, 11, 1, tzinfo=UTC),
                                     pseudonym_key=env["SVW_PSEUDONYM_KEY"])
        erased_keys = {row[0] for row in conn.execute("select person_key from svw_private.erasures")}
        exported = sum(person_key(u["email"], env["SVW_PSEUDONYM_KEY"]) in erased_keys
                       for u in organisation.users(organisation.Scale()))
        assert key in erased_keys and summary["tables"]["users"]["skipped_erased"] == exported
        again = conn.execute("select count(*) from raw_viva_engage.users where lower(email) = lower(%s)",
                             (email,)).fetchone()[0]
        assert again == 0
    finally:
        # Later tests load the same simulated people into scratch schemas: lift the skip again.
        conn.rollback()
        conn.execute("delete from svw_private.erasures where person_key = %s", (key,))
        conn.commit()
