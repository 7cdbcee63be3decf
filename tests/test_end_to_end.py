"""`make demo`'s job for real: simulator → ingest DAG → build DAG (airflow dags test) → marts.

Runs the demo command twice on databases of its own and checks: the same numbers both times,
bi_reader reads the marts but nothing else, and the printed result points BI users at the
read-only login. Every published number is compared with an independent computation from the
raw tables in test_metrics_independent.py.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from conftest import run_cli


def test_demo_prints_result_and_where_to_look(demo):
    first, second, *_ = demo
    for output in (first, second):
        assert "Level 1 — users" in output and "Level 5 — business value" in output
        assert "registered users" in output and "win rate, socially supported" in output
        assert "dbt tests passed" in output and "GX expectations passed" in output
        assert "postgresql://bi_reader:" in output
        assert "make psql" in output


def test_running_twice_gives_the_same_numbers(demo):
    *_, (marts_first, _), (marts_second, _) = demo
    assert marts_first, "marts.metric_values is empty"
    assert marts_second == marts_first


def test_running_every_ingest_twice_leaves_raw_tables_identical(demo):
    *_, (_, raw_first), (_, raw_second) = demo
    assert len(raw_first) >= 10 and all(count > 0 for count, _ in raw_first.values())
    assert raw_second == raw_first


def test_person_keys_are_the_keyed_hash_of_the_email(demo, conn):
    key = os.environ["SVW_PSEUDONYM_KEY"].encode()
    email, person_key = conn.execute(
        "select lower(users.email), stg.person_key from raw_viva_engage.users as users "
        "join staging.stg_viva_engage__users as stg on stg.viva_engage_user_id = users.id limit 1").fetchone()
    assert person_key == hmac.new(key, email.encode(), hashlib.sha256).hexdigest()


def test_psql_takes_sql_on_stdin(demo):
    result = run_cli("psql", input="select count(*) > 0 as has_rows from marts.metric_values;\n",
                     timeout=120)
    assert "has_rows" in result.stdout and " t" in result.stdout


def test_demo_writes_a_self_contained_html_report(demo):
    first, *_ = demo
    path = first.split("HTML report written: ")[1].split()[0]
    html = Path(path).read_text(encoding="utf-8")
    assert "<svg" in html and "registered users" in html
    offline = html.replace("http://www.w3.org/2000/svg", "")
    assert "<script" not in html.lower() and "http://" not in offline and "https://" not in offline


def test_ingest_dags_land_every_source_with_exact_counts(demo, conn):
    """simulator → DAGs (airflow dags test) → raw: every source, counted from the generators."""
    from datetime import timedelta

    from social_value.erasure import person_key
    from social_value.simulator import activity_events, crm_world, msgraph, slack, survey_world, viva_engage
    from social_value.simulator.organisation import Scale, groups, users

    scale = Scale()
    keys = {row[0] for row in conn.execute("select person_key from svw_private.erasures")}

    def erased(email: str | None) -> bool:  # people other tests erased are skipped by every load
        return bool(email) and person_key(email, os.environ["SVW_PSEUDONYM_KEY"]) in keys

    gone_users = {u["id"] for u in users(scale) if erased(u["email"])}
    gone_slack = {m["id"] for m in slack.members(scale) if erased(m["profile"].get("email"))}
    last_graph_day = conn.execute(
        "select max(report_refresh_date) from raw_msgraph.yammer_activity_user_detail").fetchone()[0]
    graph_days = [scale.start.date() + timedelta(days=n) for n in range((scale.end - scale.start).days + 1)]
    expected = {
        "raw_viva_engage.users": sum(u["id"] not in gone_users for u in users(scale)),
        "raw_viva_engage.groups": sum(1 for _ in groups(scale)),
        "raw_viva_engage.messages": sum(m["sender_id"] not in gone_users
                                        for m in viva_engage.messages(scale)),
        "raw_msgraph.yammer_activity_user_detail": sum(
            not erased(row["User Principal Name"]) for d in graph_days for row in msgraph.day_rows(scale, d)),
        "raw_slack.messages": sum(message.get("user") not in gone_slack
                                  for channel in slack.channel_messages(scale).values()
                                  for day in channel.values() for message in day),
        "raw_activity_events.events": sum(not erased(e["user_email"]) for e in activity_events.events(scale)),
        "raw_salesforce.opportunities": sum(1 for _ in crm_world.opportunities(scale)),
        "raw_salesforce.projects": sum(1 for _ in crm_world.projects(scale)),
        "raw_surveymonkey.responses": sum(1 for _ in survey_world.responses(scale, "surveymonkey")),
        "raw_qualtrics.responses": sum(1 for _ in survey_world.responses(scale, "qualtrics")),
    }
    assert last_graph_day == scale.end.date().isoformat()
    landed = {table: conn.execute(f"select count(*) from {table}").fetchone()[0] for table in expected}
    assert landed == expected
