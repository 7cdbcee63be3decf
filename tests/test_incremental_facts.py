"""Incremental models give the same result as a full refresh, late records included: a view event
for a day far outside the lookback window, a late answer to a question weeks old and a survey
answer re-read with another score land after a build, the incremental build picks them up (the
event's day, the answer's thread and the question's month, the survey response), and a full
refresh of the same models then changes nothing — in every incremental model and in
marts.metric_values."""

from __future__ import annotations

import os
import re
from datetime import timedelta

import psycopg

from social_value.connectors import activity_events, surveymonkey
from social_value.connectors import viva_engage_export as export
from social_value.dbt_runner import DBT_DIR, run_dbt
from social_value.loader import finish_load, merge_batch, recorded_load

LATE_EVENT = "evt-late-test-0001"
LATE_REPLY = "9990000001"
# Every incremental model and the published metrics; columns that are build bookkeeping (the
# facts' watermark) are left out: a full refresh gives every month the newest.
FACTS = {
    "core.int_activity_days": "*",
    "core.int_graph_days": "*",
    "core.int_activity_events": "*",
    "core.int_messages": "*",
    "core.int_message_hashtags": "*",
    "core.int_message_id_tokens": "*",
    "core.int_posts": "*",
    "core.int_pain_points": "*",
    "core.int_event_months": "period_start",
    "core.int_survey_response_fields": "*",
    "core.int_opportunity_history": "*",
    "core.int_salesforce_opportunities": "*",
    "core.int_survey_responses": "*",
    "core.int_intranet_metric_facts": "metric_key, level, metric_kind, period_start, org_unit, value, "
                                      "numerator, denominator",
    "marts.metric_values": "*",
}


def _snapshot(conn) -> dict[str, list[tuple]]:
    return {table: sorted(conn.execute(f"select {columns} from {table}").fetchall(), key=repr)
            for table, columns in FACTS.items()}


def _land(conn, source: str, table, rows: list[dict]) -> None:
    with recorded_load(conn, source, None) as load_id, conn.transaction():
        stats = merge_batch(conn, table, [("test:late", row) for row in rows], load_id, source)
        finish_load(conn, load_id, stats)


def test_incremental_build_with_late_records_equals_a_full_refresh(demo, warehouse_url):
    # Autocommit: an open read transaction would hold a lock that a full refresh waits for.
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        _check_late_records(conn)


def _check_late_records(conn) -> None:
    transformer = os.environ["AIRFLOW_CONN_SVW_TRANSFORMER"]
    last_day = conn.execute("select max(activity_date) from core.int_activity_days").fetchone()[0]
    late_day = last_day - timedelta(days=40)  # far outside activity_lookback_days
    email, person_key = conn.execute(
        "select users.email, persons.person_key from raw_viva_engage.users as users "
        "join staging.stg_viva_engage__users as staged on staged.viva_engage_user_id = users.id "
        "join core.int_persons as persons on persons.person_key = staged.person_key "
        "where persons.registered_from < %s and persons.registered_until is null "
        "order by users.id limit 1", (late_day,)).fetchone()
    # A question weeks old that nobody else answered, and someone else to answer it today.
    question = conn.execute(
        "select posts.message_id, posts.thread_id, posts.group_id, posts.person_key, "
        "date_trunc('month', posts.created_at at time zone 'UTC')::date from core.int_posts as posts "
        "where posts.platform = 'viva_engage' and posts.is_question and not posts.has_reply_by_other "
        "and posts.created_at < %s order by posts.created_at limit 1", (late_day,)).fetchone()
    assert question, "the demo data has no unanswered question to answer late"
    question_id, thread_id, group_id, asker_key, question_month = question
    answerer_id = conn.execute(
        "select staged.viva_engage_user_id from staging.stg_viva_engage__users as staged "
        "join core.int_persons as persons using (person_key) "
        "where staged.person_key != %s and persons.registered_until is null "
        "order by staged.viva_engage_user_id limit 1", (asker_key,)).fetchone()[0]

    def reads_that_day() -> int:
        row = conn.execute("select reads from core.int_activity_days where person_key = %s "
                           "and activity_date = %s", (person_key, late_day)).fetchone()
        return row[0] if row else 0

    def answered_in_question_month() -> float:
        return conn.execute("select value from marts.metric_values where metric_key = 'answered_questions' "
                            "and org_unit = 'ALL' and period_start = %s", (question_month,)).fetchone()[0]

    reads_before, answered_before = reads_that_day(), answered_in_question_month()
    _land(conn, "activity_events", activity_events.table(),
          [{"event_id": LATE_EVENT, "occurred_at": f"{late_day}T12:00:00+00:00", "user_email": email,
            "event_type": "view", "object_type": "page", "object_id": "obj-late"}])
    _land(conn, "viva_engage", export.tables()["Messages.csv"],
          [{"id": LATE_REPLY, "replied_to_id": question_id, "parent_id": question_id, "thread_id": thread_id,
            "group_id": group_id or "", "sender_id": answerer_id, "sender_type": "User",
            "body": "Zo lost je het op #opgelost", "created_at": f"{last_day}T09:00:00Z",
            "message_type": "update"}])
    rescored_response, rescored_answer = _csat_answer_rescored(conn)
    _land(conn, "surveymonkey", surveymonkey.tables()["answers"], [rescored_answer])
    try:
        run_dbt(["build"], transformer)
        incremental = _snapshot(conn)
        assert conn.execute("select csat_score from core.int_survey_response_fields where source = "
                            "'surveymonkey' and response_id = %s", (rescored_response,)).fetchone()[0] == 1, \
            "the incremental build missed the rescored survey answer"
        assert reads_that_day() == reads_before + 1, "the incremental build missed the late event"
        assert conn.execute("select has_reply_by_other from core.int_posts where message_id = %s",
                            (question_id,)).fetchone()[0], "the incremental build missed the late answer"
        assert answered_in_question_month() == answered_before + 1, \
            "the question's month did not count the late answer"
        _check_tests_scoped_to_the_written_rows(conn)

        run_dbt(["build", "--full-refresh"], transformer)
        full = _snapshot(conn)
        for table in FACTS:
            assert full[table] == incremental[table], f"{table}: incremental differs from a full refresh"
    finally:
        conn.execute("delete from raw_activity_events.events where event_id = %s", (LATE_EVENT,))
        conn.execute("delete from raw_viva_engage.messages where id = %s", (LATE_REPLY,))
        run_dbt(["build", "--full-refresh"], transformer)
    assert reads_that_day() == reads_before
    assert answered_in_question_month() == answered_before


# The incremental models whose tests check the rows of the latest build: read from the macro's own
# list, so a model added there is checked here too.
_MACRO = (DBT_DIR / "macros" / "incremental_test_scope.sql").read_text()
SCOPED_BY_LOAD_ID = re.findall(r"'(\w+)'", re.search(r"incremental_models = \[(.*?)\]", _MACRO, re.S)[1])


def _check_tests_scoped_to_the_written_rows(conn) -> None:
    """The scope `load_id > N` that the incremental build's tests used on each model (read from
    their compiled SQL, so it is latest_build_load_id's own N) is exactly the rows the build
    wrote: the newest transaction's."""
    scopes: dict[str, set[str]] = {}
    for path in (DBT_DIR / "target" / "compiled").rglob("*.sql"):
        for model, since in re.findall(r'"core"\."(\w+)" where load_id > (\d+)\)', path.read_text()):
            scopes.setdefault(model, set()).add(since)
    assert len(SCOPED_BY_LOAD_ID) >= 8, SCOPED_BY_LOAD_ID  # the macro's list was found
    for model in SCOPED_BY_LOAD_ID:
        assert len(scopes.get(model, ())) == 1, f"{model}: not scoped to one load_id: {scopes.get(model)}"
        (since,) = scopes[model]
        assert sorted(_rows(conn, model, f"load_id > {since}"), key=repr) \
            == sorted(_rows(conn, model, _NEWEST_XMIN), key=repr), f"{model}: tests would check other rows"
    (since,) = scopes["int_messages"]
    assert (LATE_REPLY,) in _rows(conn, "int_messages", f"load_id > {since}", "message_id")


_NEWEST_XMIN = "age(xmin) = (select min(age(newest.xmin)) from {table} as newest)"


def _rows(conn, model: str, condition: str, columns: str = "*") -> list[tuple]:
    table = f"core.{model}"
    return conn.execute(f"select {columns} from {table} where {condition.format(table=table)}").fetchall()


def _csat_answer_rescored(conn) -> tuple[str, dict]:
    """A SurveyMonkey CSAT answer of 4 or 5 as the source sends it again, rescored to 1: the
    response's id and the answer's raw record."""
    columns = surveymonkey.tables()["answers"].columns
    found = conn.execute(
        "select " + ", ".join(f"answers.{column}" for column in columns) + " "
        "from raw_surveymonkey.answers as answers "
        "join core.int_survey_response_fields as fields "
        "on fields.source = 'surveymonkey' and fields.response_id = answers.response_id "
        "join core.survey_question_map as map on map.source = 'surveymonkey' and map.role = 'csat' "
        "and map.field_kind = 'question' and map.field = answers.question_id "
        "where fields.csat_score >= 4 order by answers.response_id limit 1").fetchone()
    assert found, "the demo data has no SurveyMonkey CSAT answer of 4 or 5"
    answer = dict(zip(columns, found, strict=True))
    return answer["response_id"], {**answer, "choice_text": "1 - Zeer ontevreden"}
