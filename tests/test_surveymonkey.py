"""SurveyMonkey: the connector on the recorded API bodies, and simulator → connector → raw for real.

Exact counts come from survey_world and the simulator's own page builder; a rerun leaves the raw
tables as they were; faults end in a retry or a quarantine; choices are scored by their text.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest
from conftest import SAMPLES

from social_value import loader, publish
from social_value.connectors import surveymonkey as sm
from social_value.connectors.http import SourceError
from social_value.ingest.survey import SurveyMonkeySource, ingest_surveymonkey
from social_value.simulator import survey_world as sw
from social_value.simulator import surveymonkey as sim
from social_value.simulator.api import Faults
from social_value.simulator.organisation import Scale

SCALE = Scale(employees=30, months=3)
UNTIL = datetime(2026, 11, 1, tzinfo=UTC)
SM_SAMPLES = SAMPLES / "surveymonkey"
needs_samples = pytest.mark.skipif(not SM_SAMPLES.is_dir(),
                                   reason=f"recorded SurveyMonkey bodies not found at {SM_SAMPLES}")


# --- the recorded bodies, served over real HTTP ---------------------------------------------------

class _SampleHandler(BaseHTTPRequestHandler):
    """Answers like api.surveymonkey.net did when the samples were recorded."""

    token = ""

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if self.headers.get("Authorization") != f"Bearer {self.token}":
            return self._file("v3_surveys_page_1__401_error.json", 401)
        found = re.fullmatch(r"/v3/surveys/(\d+)/responses/bulk", url.path)
        if url.path == "/v3/surveys":
            return self._file(f"v3_surveys_per_page_{query['per_page']}_page_1.json")
        if found:
            return self._file(f"v3_surveys_{found.group(1)}_responses_bulk_per_page_{query['per_page']}"
                              f"_page_{query.get('page', '1')}.json")
        return self._send(404, b"{}")

    def _file(self, name: str, status: int = 200) -> None:
        path = SM_SAMPLES / name
        self._send(status, path.read_bytes()) if path.exists() else self._send(404, b"{}")

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def recorded_api() -> Iterator[tuple[str, str]]:
    token = uuid.uuid4().hex
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), type("H", (_SampleHandler,), {"token": token}))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", token
    httpd.shutdown()
    httpd.server_close()


def _sample(name: str) -> dict:
    return json.loads((SM_SAMPLES / name).read_text())


@needs_samples
def test_recorded_pages_are_followed_through_links_next(recorded_api):
    client = sm.SurveyMonkey(*recorded_api, per_page=5)
    pages = list(client.response_pages("152299598", None, None))
    expected = [_sample(f"v3_surveys_152299598_responses_bulk_per_page_5_page_{n}.json")
                for n in (1, 2, 3, 4)]
    assert [origin for origin, _ in pages] == [
        f"/v3/surveys/152299598/responses/bulk?page={n}" for n in (1, 2, 3, 4)]
    assert [[r["id"] for r in data] for _, data in pages] == [[r["id"] for r in e["data"]] for e in expected]
    assert sum(len(data) for _, data in pages) == expected[0]["total"] == 16
    records = [sm.response_record(r) for _, data in pages for r in data]
    assert records[0]["modified_at"] == "2018-05-31T23:24:52+00:00"
    assert all(r["response_status"] == "completed" for r in records)
    assert not any(set(r) & {"ip_address", "edit_url", "analyze_url", "pages"} for r in records)


@needs_samples
def test_recorded_survey_list_and_an_empty_survey(recorded_api):
    client = sm.SurveyMonkey(*recorded_api, per_page=5)
    assert [s["id"] for s in client.surveys()] == ["152303468", "152303492", "152299962", "152299598"]
    assert list(client.response_pages("152303492", None, None)) == [
        ("/v3/surveys/152303492/responses/bulk?page=1", [])]


@needs_samples
def test_recorded_401_body_is_a_clear_error_without_the_token(recorded_api):
    base_url, _ = recorded_api
    secret = "not-the-token-" + uuid.uuid4().hex
    with pytest.raises(SourceError) as error:
        list(sm.SurveyMonkey(base_url, secret).surveys())
    message = str(error.value)
    assert message.startswith("SurveyMonkey answered HTTP 401 on /v3/surveys: Authorization Error 1011: "
                              "The authorization token provided was invalid.")
    assert "token of connection 'surveymonkey'" in message
    assert secret not in message


@needs_samples
def test_recorded_answers_are_not_landed_without_their_meaning():
    response = _sample("v3_surveys_152303468_responses_bulk_page_1.json")["data"][0]
    answers = list(sm.answer_records(response, sm.Decoder()))  # no details: no choice can be decoded
    assert answers and all(a.reason.startswith(f"response {response['id']}: question ") and
                           "is not in the survey's details" in a.reason for a in answers)
    count = sum(len(q["answers"]) for page in response["pages"] for q in page["questions"])
    assert len(answers) == count


# --- simulator → connector → raw ------------------------------------------------------------------

@pytest.fixture
def survey_sim(serve_simulator):
    return lambda faults="": serve_simulator(SCALE, faults)


@pytest.fixture
def forget_watermarks(conn):
    streams = []
    yield streams
    conn.rollback()
    for schema in streams:
        conn.execute("delete from raw_meta.watermarks where source = 'surveymonkey' and stream like %s",
                     (f"{schema}.%",))
    conn.commit()


def _population() -> list[sw.SurveyResponse]:
    return list(sw.responses(SCALE, "surveymonkey"))


def _snapshot(conn, schema: str, with_load: bool = True) -> dict[str, list]:
    keys = {"surveys": "id", "questions": "survey_id, id", "choices": "survey_id, question_id, kind, id",
            "responses": "id", "answers": "response_id, question_id, answer_key"}
    cut = "" if with_load else " - '_load_id' - '_loaded_at'"
    return {table: [row[0] for row in conn.execute(
        f"select to_jsonb(t){cut} from {schema}.{table} t order by {order}")]
        for table, order in keys.items()}


def test_simulator_ingest_exact_counts_and_rerun_leaves_tables_identical(
        warehouse_url, conn, survey_sim, scratch_schema, forget_watermarks):
    forget_watermarks.append(scratch_schema)
    source = SurveyMonkeySource(*survey_sim())
    first = ingest_surveymonkey(warehouse_url, source, UNTIL, schema=scratch_schema)
    before = _snapshot(conn, scratch_schema)
    second = ingest_surveymonkey(warehouse_url, source, UNTIL, schema=scratch_schema)

    population = _population()
    answers = sum(r.answer_count for r in population)
    assert set(first["surveys"]) == {sw.SURVEY_ID, sw.EMPTY_SURVEY_ID}, "default: every survey"
    assert first["surveys"][sw.SURVEY_ID]["window_start"] is None, "no watermark yet: full history"
    assert first["tables"]["responses"] == {"read": len(population), "changed": len(population),
                                            "quarantined": 0}
    assert first["tables"]["answers"] == {"read": answers, "changed": answers, "quarantined": 0,
                                          "removed": 0}
    assert first["tables"]["questions"]["changed"] == 3
    assert first["tables"]["choices"]["changed"] == len(sw.CSAT_TEXTS) + 11 + 1  # + the NPS row
    assert {len(rows) for rows in before.values()} >= {len(population), answers}
    assert len(before["responses"]) == len(population) and len(before["answers"]) == answers

    assert second["surveys"][sw.SURVEY_ID]["window_start"] == "2026-10-31T00:00:00+00:00"
    overlap = [r for r in population if r.modified >= datetime(2026, 10, 31, tzinfo=UTC)]
    assert second["tables"]["responses"]["read"] == len(overlap)
    assert all(counts["changed"] == 0 for counts in second["tables"].values())
    assert _snapshot(conn, scratch_schema) == before

    by_id = {row["id"]: row for row in before["responses"]}
    partial = {sw.response_id(r.n) for r in population if not r.completed}
    assert partial and {i for i, row in by_id.items() if row["response_status"] == "partial"} == partial
    sample = population[0]
    custom = json.loads(by_id[sw.response_id(sample.n)]["custom_variables"])
    assert custom == {"account_id": sample.account_id}
    assert by_id[sw.response_id(sample.n)]["created_at"] == sample.created.isoformat()


def test_choices_are_scored_by_their_text_not_their_position(
        warehouse_url, conn, survey_sim, scratch_schema, forget_watermarks):
    forget_watermarks.append(scratch_schema)
    ingest_surveymonkey(warehouse_url, SurveyMonkeySource(*survey_sim(), survey_ids=(sw.SURVEY_ID,)),
                        UNTIL, schema=scratch_schema)
    rows = conn.execute(f"select response_id, question_id, choice_text, choice_position, text "
                        f"from {scratch_schema}.answers").fetchall()
    expected = {sw.response_id(r.n): r for r in _population()}
    csat = [(expected[rid].csat, text, int(position)) for rid, qid, text, position, _ in rows
            if qid == sw.CSAT_QUESTION_ID]
    nps = [(expected[rid].nps, text, int(position)) for rid, qid, text, position, _ in rows
           if qid == sw.NPS_QUESTION_ID]
    assert len(csat) == sum(r.csat is not None for r in expected.values())
    assert all(int(re.match(r"\d+", text).group()) == score for score, text, _ in csat + nps)
    assert all(position != score for score, _, position in csat + nps), "position is never the score"
    comments = {rid: text for rid, qid, _, _, text in rows if qid == sw.COMMENT_QUESTION_ID}
    assert comments == {rid: r.comment for rid, r in expected.items() if r.comment is not None}
    assert "<script>alert(1)</script>" in comments.values() and "'); drop table x; --" in comments.values()


def test_unknown_survey_is_a_clear_404(survey_sim):
    with pytest.raises(SourceError, match=r"HTTP 404 on /v3/surveys/999/details: Resource Not Found 1020"):
        sm.SurveyMonkey(*survey_sim()).details("999")


def test_wrong_token_is_a_clear_401(survey_sim):
    base_url, _ = survey_sim()
    with pytest.raises(SourceError, match=r"HTTP 401 on /v3/surveys: invalid or missing bearer token — "):
        list(sm.SurveyMonkey(base_url, "wrong").surveys())


def test_transport_faults_are_retried(warehouse_url, conn, survey_sim, scratch_schema, forget_watermarks):
    forget_watermarks.append(scratch_schema)
    source = SurveyMonkeySource(*survey_sim("429,503,truncate"), survey_ids=(sw.SURVEY_ID,), per_page=10)
    summary = ingest_surveymonkey(warehouse_url, source, UNTIL, schema=scratch_schema)
    population = _population()
    assert summary["tables"]["responses"]["changed"] == len(population)
    assert summary["surveys"][sw.SURVEY_ID]["pages"] == -(-len(population) // 10)


def test_format_faults_end_in_merge_or_quarantine_with_exact_counts(
        warehouse_url, conn, survey_sim, scratch_schema, forget_watermarks):
    forget_watermarks.append(scratch_schema)
    faults = "duplicates,date_formats,empty_numbers,extra_columns,missing_columns,nul"
    source = SurveyMonkeySource(*survey_sim(faults), survey_ids=(sw.SURVEY_ID,), per_page=10)
    summary = ingest_surveymonkey(warehouse_url, source, UNTIL, schema=scratch_schema)

    pages = list(sim.wire_pages(SCALE, Faults.parse(faults), 10))
    served = [r for page in pages for r in page]
    population = _population()
    nul_answers = sum(1 for r in served for q in r["pages"][0]["questions"] for a in q["answers"]
                      if "\x00" in a.get("text", ""))
    answers_served = sum(len(q["answers"]) for r in served for q in r["pages"][0]["questions"])
    assert len(served) > len(population), "duplicates repeat responses across pages"
    assert nul_answers > 0
    assert summary["tables"]["responses"] == {"read": len(served), "changed": len(population),
                                              "quarantined": 0}
    answers = summary["tables"]["answers"]
    assert (answers["read"], answers["quarantined"]) == (answers_served, nul_answers)
    landed = sum(r.answer_count for r in population) - sum(sim.has_nul(r) for r in population)
    assert conn.execute(f"select count(*) from {scratch_schema}.answers").fetchone()[0] == landed
    assert conn.execute(f"select count(*) from {scratch_schema}.responses").fetchone()[0] == len(population)
    reasons = conn.execute("select distinct reason, stream from raw_meta.quarantine where load_id = %s",
                           (summary["load_id"],)).fetchall()
    assert reasons == [("NUL byte in column 'text': Postgres text cannot hold it", "answers")]
    # Three date forms, one instant: the normalised column agrees with the source's moment.
    created = dict(conn.execute(f"select id, created_at from {scratch_schema}.responses").fetchall())
    assert created == {sw.response_id(r.n): r.created.isoformat() for r in population}
    empty = conn.execute(f"select count(*) from {scratch_schema}.responses where total_time is null"
                         ).fetchone()[0]
    assert empty == sum(1 for r in population if r.n % 7 == 3 or r.n % 5 == 0)
    extra = conn.execute(f"select _extra->>'response_language' from {scratch_schema}.responses limit 1"
                         ).fetchone()[0]
    assert extra == "nl", "unknown fields are kept in _extra"


def test_load_that_dies_midway_then_reruns_ends_as_one_clean_run(
        warehouse_url, conn, survey_sim, scratch_schema, forget_watermarks):
    clean = f"t_{uuid.uuid4().hex[:10]}"
    forget_watermarks.extend([scratch_schema, clean])
    conn.execute(f"create schema {clean}")
    conn.commit()
    try:
        source = SurveyMonkeySource(*survey_sim(), per_page=10)
        ingest_surveymonkey(warehouse_url, source, UNTIL, schema=clean)
        # The answers table refuses one row: the load dies after the responses and some answers went in.
        victim = sw.response_id(_population()[len(_population()) // 2].n)
        loader.ensure_table(conn, sm.tables(scratch_schema)["answers"])
        conn.execute(f"alter table {scratch_schema}.answers add constraint dies check (response_id <> %s)"
                     .replace("%s", f"'{victim}'"))
        conn.commit()
        with pytest.raises(psycopg.errors.CheckViolation):
            ingest_surveymonkey(warehouse_url, source, UNTIL, schema=scratch_schema)
        assert conn.execute(f"select count(*) from {scratch_schema}.answers").fetchone()[0] == 0
        assert conn.execute("select to_regclass(%s)", (f"{scratch_schema}.responses",)).fetchone()[0] is None
        assert conn.execute("select count(*) from raw_meta.watermarks where stream like %s",
                            (f"{scratch_schema}.%",)).fetchone()[0] == 0, "the watermark did not move"
        status = conn.execute("select status from raw_meta.loads where source = 'surveymonkey' "
                              "order by load_id desc limit 1").fetchone()[0]
        assert status == "failed"
        conn.execute(f"drop table {scratch_schema}.answers")
        conn.commit()
        ingest_surveymonkey(warehouse_url, source, UNTIL, schema=scratch_schema)
        assert _snapshot(conn, scratch_schema, with_load=False) == _snapshot(conn, clean, with_load=False)
    finally:
        conn.rollback()
        conn.execute(f"drop schema {clean} cascade")
        conn.commit()


def test_a_reloaded_response_replaces_its_answers(
        warehouse_url, conn, survey_sim, scratch_schema, forget_watermarks):
    forget_watermarks.append(scratch_schema)
    source = SurveyMonkeySource(*survey_sim(), survey_ids=(sw.SURVEY_ID,))
    ingest_surveymonkey(warehouse_url, source, UNTIL, schema=scratch_schema)
    rid = sw.response_id(_population()[0].n)
    conn.execute(f"insert into {scratch_schema}.answers (response_id, question_id, answer_key, text, "
                 "_load_id, _loaded_at, _origin) select %s, %s, '-/text', 'removed since', _load_id, now(), "
                 f"'test' from {scratch_schema}.responses limit 1", (rid, sw.COMMENT_QUESTION_ID))
    conn.execute("delete from raw_meta.watermarks where source = 'surveymonkey' and stream like %s",
                 (f"{scratch_schema}.%",))
    conn.commit()
    summary = ingest_surveymonkey(warehouse_url, source, UNTIL, schema=scratch_schema)
    assert summary["tables"]["answers"]["removed"] == 1
    assert summary["tables"]["answers"]["changed"] == 0


def test_survey_world_is_deterministic():
    assert list(sw.responses(SCALE, "surveymonkey")) == list(sw.responses(SCALE, "surveymonkey"))
    other = Scale(employees=30, months=3, seed=43)
    assert list(sw.responses(SCALE, "surveymonkey")) != list(sw.responses(other, "surveymonkey"))
    assert {r.created.strftime("%Y-%m") for r in _population()} == {"2026-08", "2026-09", "2026-10"}


# --- answers quarantined for an unknown choice, recovered once the details know it ---------------

def _survey_details(survey_id: str, choices: list[tuple[str, str]]) -> dict:
    question = {"id": "q1", "position": 1, "family": "single_choice", "subtype": "vertical",
                "headings": [{"heading": "Hoe tevreden bent u?"}],
                "answers": {"choices": [{"id": cid, "text": text, "position": n}
                                        for n, (cid, text) in enumerate(choices, start=1)]}}
    return {"id": survey_id, "title": "Klanttevredenheid",
            "pages": [{"id": "p1", "position": 1, "questions": [question]}]}


def _survey_response(survey_id: str, rid: str, choice_id: str, modified: str) -> dict:
    return {"id": rid, "survey_id": survey_id, "response_status": "completed",
            "date_created": "2026-08-03T09:00:00+00:00", "date_modified": modified,
            "pages": [{"id": "p1", "questions": [{"id": "q1", "answers": [{"choice_id": choice_id}]}]}]}


def test_answers_with_an_unknown_choice_land_once_the_details_know_it(
        warehouse_url, conn, scratch_schema, recorded, forget_watermarks):
    """Round 1: c3 is not in the details, three answers are quarantined. Round 2 (same window end,
    so the watermark window alone would read none of them): the details know c3; r2 lands its
    answer, r3 was changed to c1 meanwhile, r4 was deleted at the source. Round 3 changes nothing."""
    forget_watermarks.append(scratch_schema)
    survey_id = str(uuid.uuid4().int)[:12]
    old = "2026-08-05T10:00:00+00:00"
    state: dict = {"choices": [("c1", "5 - Zeer tevreden"), ("c2", "4 - Tevreden")],
                   "responses": [_survey_response(survey_id, f"{survey_id}0{n}", choice, old)
                                 for n, choice in ((1, "c1"), (2, "c3"), (3, "c3"), (4, "c3"))]}

    def route(path: str, query: dict) -> tuple[int, str]:
        if path == f"/v3/surveys/{survey_id}/details":
            return 200, json.dumps(_survey_details(survey_id, state["choices"]))
        if path == f"/v3/surveys/{survey_id}/responses/bulk":
            since, until = query.get("start_modified_at"), query["end_modified_at"]
            data = [r for r in state["responses"] if (not since or r["date_modified"][:19] >= since)
                    and r["date_modified"][:19] < until]
            page = {"data": data, "per_page": 100, "page": 1, "total": len(data), "links": {}}
            return 200, json.dumps(page)
        return 404, "{}"

    source = SurveyMonkeySource(recorded(route), "token", survey_ids=(survey_id,))
    first = ingest_surveymonkey(warehouse_url, source, UNTIL, schema=scratch_schema)
    assert first["tables"]["answers"]["quarantined"] == 3 and first["quarantine_resolved"] == {}
    held = conn.execute("select quarantine_id, reason from raw_meta.quarantine where load_id = %s order by 1",
                        (first["load_id"],)).fetchall()
    assert [reason for _, reason in held] == [
        f"response {survey_id}0{n}: question q1: choice_id c3 is not in the survey's details"
        for n in (2, 3, 4)]

    state["choices"].append(("c3", "1 - Zeer ontevreden"))
    state["responses"][2] = _survey_response(survey_id, f"{survey_id}03", "c1", "2026-08-20T10:00:00+00:00")
    del state["responses"][3]
    conn.commit()
    second = ingest_surveymonkey(warehouse_url, source, UNTIL, schema=scratch_schema)
    assert second["quarantine_resolved"] == {"recovered": 1, "superseded": 1, "not_returned": 1}
    assert second["surveys"][survey_id]["window_start"] == "2026-08-04T10:00:00+00:00", \
        "the window reached back to the quarantined answers' responses"
    assert second["tables"]["answers"]["quarantined"] == 0
    answers = dict(conn.execute(f"select response_id, choice_text from {scratch_schema}.answers").fetchall())
    assert answers == {f"{survey_id}01": "5 - Zeer tevreden", f"{survey_id}02": "1 - Zeer ontevreden",
                       f"{survey_id}03": "5 - Zeer tevreden"}
    marked = conn.execute("select quarantine_id, resolution, resolved_load_id from raw_meta.quarantine "
                          "where quarantine_id = any(%s) order by 1", ([i for i, _ in held],)).fetchall()
    assert marked == [(held[0][0], "recovered", second["load_id"]),
                      (held[1][0], "superseded", second["load_id"]),
                      (held[2][0], "not_returned", second["load_id"])], "marked, not deleted"
    publish.ensure_audit(conn)
    publish.summarise_quarantine(conn)
    audited = conn.execute("select rows_quarantined, resolved_by_resolution from audit.load_quarantine "
                           "where load_id = %s", (first["load_id"],)).fetchone()
    assert audited == (3, {"recovered": 1, "superseded": 1, "not_returned": 1}), "auditors see it"

    before = _snapshot(conn, scratch_schema)
    conn.commit()
    third = ingest_surveymonkey(warehouse_url, source, UNTIL, schema=scratch_schema)
    assert third["quarantine_resolved"] == {}
    assert third["surveys"][survey_id]["window_start"] == "2026-10-31T00:00:00+00:00", "the usual window"
    assert all(counts["changed"] == 0 for counts in third["tables"].values())
    assert _snapshot(conn, scratch_schema) == before
    assert conn.execute("select resolved_load_id from raw_meta.quarantine where quarantine_id = %s",
                        (held[0][0],)).fetchone()[0] == second["load_id"]
