"""`make demo`'s job for real: simulator → ingest DAG → build DAG (airflow dags test) → marts.

Runs the demo command twice on databases of its own and checks: the same numbers both times,
registered and active users equal an independent computation from the raw tables, bi_reader reads
the marts but nothing else, and the printed result points BI users at the read-only login.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections import defaultdict
from datetime import UTC, date, datetime
from pathlib import Path

from conftest import run_cli

MIN_GROUP_SIZE = 5


def _ts(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _month(moment: datetime) -> date:
    return date(moment.year, moment.month, 1)


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _expected_level_one(conn) -> dict[tuple[str, date, str], int]:
    """registered_users and active_users straight from raw_viva_engage, in Python."""
    users = {}
    for user_id, email, department, joined, deleted, suspended in conn.execute(
            "select id, email, department, joined_at, deleted_at, suspended_at from raw_viva_engage.users"):
        ends = [t for t in (_ts(deleted), _ts(suspended)) if t]
        users[user_id] = (email.lower(), (department or "").strip() or None, _ts(joined),
                          min(ends) if ends else None)
    active = defaultdict(set)
    months_seen = set()
    for sender, sender_type, kind, created, deleted in conn.execute(
            "select sender_id, sender_type, message_type, created_at, deleted_at "
            "from raw_viva_engage.messages"):
        if sender_type.lower() != "user" or sender not in users or deleted:
            continue
        if (kind or "").lower() in ("system", "join", "tombstone"):
            continue
        month = _month(_ts(created))
        months_seen.add(month)
        email, department, *_ = users[sender]
        active[(month, "ALL")].add(email)
        if department:
            active[(month, department)].add(email)
    expected = {}
    month = min(months_seen)
    while month <= max(months_seen):
        end = datetime.combine(_next_month(month), datetime.min.time(), UTC)
        start = datetime.combine(month, datetime.min.time(), UTC)
        registered = defaultdict(set)
        for email, department, joined, until in users.values():
            if joined < end and (until is None or until >= start):
                registered["ALL"].add(email)
                if department:
                    registered[department].add(email)
        for unit, people in registered.items():
            expected[("registered_users", month, unit)] = len(people)
            expected[("active_users", month, unit)] = len(active.get((month, unit), ()))
        month = _next_month(month)
    return expected


def test_demo_prints_result_and_where_to_look(demo):
    first, second, *_ = demo
    for output in (first, second):
        assert "registered_users" in output and "active_users" in output
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


def test_level_one_matches_independent_computation(demo, conn):
    expected = _expected_level_one(conn)
    published = {(key, month, unit): (value, suppressed) for key, month, unit, value, suppressed in
                 conn.execute("select metric_key, period_start, org_unit, value, suppressed "
                              "from marts.metric_values where metric_key in "
                              "('registered_users', 'active_users')")}
    assert published.keys() == expected.keys()
    for (key, month, unit), count in expected.items():
        small = unit != "ALL" and expected[("registered_users", month, unit)] < MIN_GROUP_SIZE
        wanted = (None, True) if small else (count, False)
        assert published[(key, month, unit)] == wanted, (key, month, unit)


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
    assert "<svg" in html and "registered_users" in html
    offline = html.replace("http://www.w3.org/2000/svg", "")
    assert "<script" not in html.lower() and "http://" not in offline and "https://" not in offline


def test_ingest_dags_land_every_source_with_exact_counts(demo, conn):
    """simulator → DAGs (airflow dags test) → raw: every source, counted from the generators."""
    from datetime import timedelta

    from social_value.erasure import person_key
    from social_value.simulator import activity_events, crm_world, msgraph, slack, survey_world, viva_engage
    from social_value.simulator.organisation import Scale, groups, users

    scale = Scale()
    keys = {row[0] for row in conn.execute("select person_key from raw_meta.erasures")}

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
