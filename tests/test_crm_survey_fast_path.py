"""The fast path (documents and CSV parsed by Postgres) lands what the row-by-row path lands.

Salesforce and SurveyMonkey over real HTTP from the simulator and Qualtrics exports from a drop
folder, at S scale,
each landed twice into a real Postgres: once as the ingest runs (fast path), once with the fast
path refused up front (every batch row by row). The raw tables must match row for row: landing
columns, `_extra` (as jsonb: key order may differ) and `_origin`; so must counts, watermarks and
quarantine reasons.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from social_value import bulk_json, loader
from social_value.connectors import salesforce as sf
from social_value.erasure import person_key
from social_value.ingest import crm, qualtrics_copy
from social_value.ingest.survey import ingest_qualtrics_drop
from social_value.simulator import qualtrics as sim
from social_value.simulator.api import Faults
from social_value.simulator.organisation import Scale

SCALE = Scale(employees=60, months=6)  # S, the demo's scale
UNTIL = datetime(2026, 11, 1, tzinfo=UTC)
OBJECTS = sf.SalesforceConfig().objects()


@pytest.fixture
def row_by_row(monkeypatch):
    """Refuse the fast path of every batch (as Postgres refusing it would), counting the calls."""
    refused = []

    def refuse(conn, fill) -> bool:
        refused.append(fill)
        return False

    def start() -> list:
        monkeypatch.setattr(bulk_json, "land", refuse)
        return refused

    return start


@pytest.fixture
def spy_rows(monkeypatch):
    """Names of the objects the Salesforce ingest landed row by row."""
    landed = []
    original = crm._copy_rows

    def spy(conn, stage, obj, *args):
        landed.append(obj.name)
        return original(conn, stage, obj, *args)

    monkeypatch.setattr(crm, "_copy_rows", spy)
    return landed


def _raw(conn, schema: str, table: str, columns: tuple[str, ...], key: str) -> list[tuple]:
    listed = ", ".join(f'"{c}"' for c in columns)
    return conn.execute(f'select {listed}, _extra, _origin from {schema}.{table} order by {key}').fetchall()


def _salesforce_state(conn, schema: str, summary: dict) -> dict:
    tables = {obj.table: _raw(conn, schema, obj.table, obj.columns, '"Id"') for obj in OBJECTS}
    marks = dict(conn.execute("select split_part(stream, '.', 2), watermark from raw_meta.watermarks "
                              "where source = 'salesforce' and stream like %s", (f"{schema}.%",)).fetchall())
    counts = {t: {k: v for k, v in c.items()} for t, c in summary["tables"].items()}
    reasons = sorted(conn.execute("select stream, origin, reason from raw_meta.quarantine where load_id = %s",
                                  (summary["load_id"],)).fetchall())
    return {"tables": tables, "watermarks": marks, "counts": counts, "quarantine": reasons}


@pytest.mark.parametrize("faults", ["",
                                    "extra_columns,missing_columns,empty_numbers,date_formats,duplicates"])
def test_salesforce_fast_path_lands_what_row_by_row_lands(
        warehouse_url, conn, serve_simulator, make_schema, monkeypatch, row_by_row, spy_rows,
        forget_salesforce_marks, faults):
    monkeypatch.setenv("SVW_SIM_SF_PAGE_SIZE", "300")  # several pages per object
    source = sf.SalesforceSource(*serve_simulator(SCALE, faults))
    fast, rows = make_schema(), make_schema()
    fast_summary = crm.ingest_salesforce(warehouse_url, source, UNTIL, schema=fast)
    assert spy_rows == [], "every object took the fast path"
    refused = row_by_row()
    row_summary = crm.ingest_salesforce(warehouse_url, source, UNTIL, schema=rows)
    assert len(refused) == len(OBJECTS) and spy_rows == [obj.name for obj in OBJECTS]

    fast_state = _salesforce_state(conn, fast, fast_summary)
    row_state = _salesforce_state(conn, rows, row_summary)
    assert sum(map(len, fast_state["tables"].values())) > 1000
    assert fast_state == row_state
    if "extra_columns" in faults:
        assert all(row[-2] == {"Region__c": "EMEA"} for row in fast_state["tables"]["accounts"])


def test_salesforce_nul_byte_sends_the_object_row_by_row_with_the_same_reasons(
        warehouse_url, conn, serve_simulator, make_schema, monkeypatch, row_by_row, spy_rows,
        forget_salesforce_marks):
    monkeypatch.setenv("SVW_SIM_SF_PAGE_SIZE", "300")
    source = sf.SalesforceSource(*serve_simulator(SCALE, "nul"))
    fast, rows = make_schema(), make_schema()
    fast_summary = crm.ingest_salesforce(warehouse_url, source, UNTIL, schema=fast)
    # Objects with a Name get a \u0000 in some records: Postgres refuses their pages.
    assert spy_rows == ["User", "Account", "Opportunity", "Project__c"]
    row_by_row()
    row_summary = crm.ingest_salesforce(warehouse_url, source, UNTIL, schema=rows)
    fast_state = _salesforce_state(conn, fast, fast_summary)
    row_state = _salesforce_state(conn, rows, row_summary)
    assert fast_state["quarantine"] and fast_state == row_state


def _serve_records(recorded, users: list[dict]) -> sf.SalesforceSource:
    def route(path, query):
        records = users if " FROM User " in query["q"] else []
        return 200, json.dumps({"totalSize": len(records), "done": True, "records": records})
    return sf.SalesforceSource(recorded(route), "t")


def test_salesforce_keyless_record_and_erased_user_as_row_by_row(
        warehouse_url, conn, make_schema, recorded, row_by_row, spy_rows, forget_salesforce_marks,
        env):
    def user(day: int, **fields) -> dict:
        stamp = f"2026-10-0{day}T10:00:00.000+0000"
        return {"attributes": {"type": "User"}, **fields, "SystemModstamp": stamp}

    users = [user(1, Id="005A", Email="a@example.org"), user(2, Id=None, Email="b@example.org"),
             user(3, Id="005C", Email=" Erased@Example.org ", Nickname__c={"b": 1, "a": [True, None]})]
    key = "fast-path-test-key"  # its own key: no other test's people match this erasure
    conn.execute(loader.META_DDL)
    conn.execute("insert into svw_private.erasures (person_key) values (%s)",
                 (person_key("erased@example.org", key),))
    conn.commit()
    try:
        source = _serve_records(recorded, users)
        fast, rows = make_schema(), make_schema()
        fast_summary = crm.ingest_salesforce(warehouse_url, source, UNTIL, schema=fast, pseudonym_key=key)
        assert spy_rows == []
        row_by_row()
        row_summary = crm.ingest_salesforce(warehouse_url, source, UNTIL, schema=rows, pseudonym_key=key)
    finally:
        conn.rollback()
        conn.execute("delete from svw_private.erasures where person_key = %s",
                     (person_key("erased@example.org", key),))
        conn.commit()
    fast_state = _salesforce_state(conn, fast, fast_summary)
    row_state = _salesforce_state(conn, rows, row_summary)
    assert fast_summary["tables"]["users"] == {"read": 2, "changed": 1, "quarantined": 1, "since": None,
                                               "watermark": "2026-10-03T10:00:00+00:00"}
    assert [reason for _, _, reason in fast_state["quarantine"]] == ["missing key column 'Id'"]
    assert [row[0] for row in fast_state["tables"]["users"]] == ["005A"]
    assert fast_state == row_state


def test_salesforce_page_that_is_not_whole_json_is_fetched_again(
        warehouse_url, conn, make_schema, recorded, spy_rows, forget_salesforce_marks):
    users = [{"attributes": {"type": "User"}, "Id": "005A", "Email": "a@example.org",
              "SystemModstamp": "2026-10-01T10:00:00.000+0000"}]
    served = []

    def route(path, query):
        records = users if " FROM User " in query["q"] else []
        body = json.dumps({"totalSize": len(records), "done": True, "records": records})
        served.append(records is users)
        if records is users and served.count(True) == 1:
            return 200, body.replace('"Email"', '"Email" "') + "}"  # cut inside, yet ends like JSON
        return 200, body

    summary = crm.ingest_salesforce(warehouse_url, sf.SalesforceSource(recorded(route), "t"), UNTIL,
                                    schema=make_schema())
    assert spy_rows == ["User"] and served.count(True) == 2, "refused by Postgres, then fetched again"
    assert summary["tables"]["users"]["changed"] == 1


# ---------------------------------------------------------------- Qualtrics

QUALTRICS_TABLES = {"responses": '"ResponseId"', "answers": '"ResponseId", field'}


def _qualtrics_state(conn, schema: str, summary: dict) -> dict:
    from social_value.connectors import qualtrics as qx
    tables = qx.tables(schema)
    state = {name: _raw(conn, schema, name, tables[name].columns, order)
             for name, order in QUALTRICS_TABLES.items()}
    state["questions"] = conn.execute(f"select file, field, position, question_text, import_id from "
                                      f"{schema}.questions order by 1, 2").fetchall()
    state["summary"] = {name: counts for name, counts in summary["tables"].items()}
    state["files"] = {name: {k: v for k, v in entry.items()} for name, entry in summary["files"].items()}
    state["quarantine"] = sorted(conn.execute(
        "select stream, origin, reason, payload from raw_meta.quarantine where load_id = any(%s)",
        (summary["load_ids"],)).fetchall())
    return state


@pytest.fixture
def spy_qualtrics_rows(monkeypatch):
    landed = []
    original = qualtrics_copy._copy_rows

    def spy(path, *args):
        landed.append(path.name)
        return original(path, *args)

    monkeypatch.setattr(qualtrics_copy, "_copy_rows", spy)
    return landed


def _drop(folder: Path, faults: str, legacy: bool = False) -> None:
    path = folder / "qualtrics" / ("legacy.csv" if legacy else "export.csv")
    path.parent.mkdir(parents=True, exist_ok=True)
    sim.write_export(path, SCALE, Faults.parse(faults), legacy=legacy)


@pytest.mark.parametrize(("faults", "refused"), [
    ("", []),
    ("bom,crlf,quoted_newlines,date_formats,empty_numbers,duplicates", []),
    # Some rows a field short or long (quarantined row by row): Postgres refuses the export (the
    # simulator's legacy export has no such rows).
    ("quoted_newlines,missing_columns", ["export.csv"]),
    ("crlf,extra_columns", ["export.csv"]),
    ("nul,invalid_utf8,quoted_newlines", ["export.csv", "legacy.csv"]),
])
def test_qualtrics_fast_path_lands_what_row_by_row_lands(
        warehouse_url, conn, make_schema, tmp_path, row_by_row, spy_qualtrics_rows, faults, refused):
    _drop(tmp_path, faults)
    _drop(tmp_path, faults, legacy=True)
    fast_schema, rows_schema = make_schema(), make_schema()
    fast_summary = ingest_qualtrics_drop(warehouse_url, tmp_path, schema=fast_schema)
    assert spy_qualtrics_rows == refused
    row_by_row()
    row_summary = ingest_qualtrics_drop(warehouse_url, tmp_path, schema=rows_schema)
    assert spy_qualtrics_rows[-2:] == ["export.csv", "legacy.csv"]

    fast_state = _qualtrics_state(conn, fast_schema, fast_summary)
    row_state = _qualtrics_state(conn, rows_schema, row_summary)
    assert len(fast_state["answers"]) > 500
    assert fast_state == row_state
    if refused:
        assert fast_state["quarantine"], "the row path quarantined the bad rows, with their reasons"


def test_qualtrics_row_without_response_id_goes_row_by_row(
        warehouse_url, conn, make_schema, tmp_path, spy_qualtrics_rows):
    _drop(tmp_path, "")
    path = tmp_path / "qualtrics" / "export.csv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    names = lines[0].rstrip("\n").split(",")
    fields = lines[4].rstrip("\n").split(",")
    fields[names.index("ResponseId")] = ""
    lines[4] = ",".join(fields) + "\n"
    path.write_text("".join(lines), encoding="utf-8")
    summary = ingest_qualtrics_drop(warehouse_url, tmp_path, schema=make_schema())
    assert spy_qualtrics_rows == ["export.csv"]
    reasons = [r for (r,) in conn.execute("select reason from raw_meta.quarantine where load_id = any(%s)",
                                          (summary["load_ids"],))]
    assert reasons == ["no ResponseId"]



# ---------------------------------------------------------------- SurveyMonkey

SURVEYMONKEY_ORDER = {"surveys": "id", "questions": "survey_id, id",
                      "choices": "survey_id, question_id, kind, id", "responses": "id",
                      "answers": "response_id, question_id, answer_key"}


def _surveymonkey_state(conn, schema: str, summary: dict) -> dict:
    """Every table's rows without load id and time (to_jsonb: text as text, `_extra` as jsonb),
    the counts and what was quarantined."""
    state = {table: [row[0] for row in conn.execute(
        f"select to_jsonb(t) - '_load_id' - '_loaded_at' from {schema}.{table} t order by {order}")]
        for table, order in SURVEYMONKEY_ORDER.items()}
    state["summary"] = {k: v for k, v in summary.items() if k != "load_id"}
    state["quarantine"] = sorted(conn.execute(
        "select stream, origin, reason, payload from raw_meta.quarantine where load_id = %s",
        (summary["load_id"],)).fetchall())
    return state


@pytest.fixture
def spy_survey_rows(monkeypatch):
    """How many surveys the SurveyMonkey ingest landed row by row."""
    from social_value.ingest import survey
    landed = []
    original = survey._spool_responses

    def spy(*args):
        landed.append(1)
        return original(*args)

    monkeypatch.setattr(survey, "_spool_responses", spy)
    return landed


@pytest.fixture
def forget_survey_marks(conn):
    yield
    conn.rollback()
    conn.execute("delete from raw_meta.watermarks where source = 'surveymonkey' and stream like 't\\_%'")
    conn.commit()


@pytest.mark.parametrize(("faults", "refused"), [
    ("", 0),
    ("duplicates,date_formats,empty_numbers,extra_columns,missing_columns", 0),
    ("nul", 1),  # a \u0000 in some answers: Postgres refuses the page, the row path quarantines them
])
def test_surveymonkey_fast_path_lands_what_row_by_row_lands(
        warehouse_url, conn, serve_simulator, make_schema, row_by_row, spy_survey_rows, forget_survey_marks,
        faults, refused):
    from social_value.ingest.survey import SurveyMonkeySource, ingest_surveymonkey
    source = SurveyMonkeySource(*serve_simulator(SCALE, faults), per_page=20)  # several pages
    fast, rows = make_schema(), make_schema()
    fast_summary = ingest_surveymonkey(warehouse_url, source, UNTIL, schema=fast)
    assert len(spy_survey_rows) == refused
    row_by_row()
    row_summary = ingest_surveymonkey(warehouse_url, source, UNTIL, schema=rows)
    assert len(spy_survey_rows) == refused + len(fast_summary["surveys"])

    fast_state = _surveymonkey_state(conn, fast, fast_summary)
    row_state = _surveymonkey_state(conn, rows, row_summary)
    assert len(fast_state["answers"]) > 200
    assert fast_state == row_state
    assert bool(fast_state["quarantine"]) == bool(refused)
