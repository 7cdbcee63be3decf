"""Qualtrics exports as they really come, landed and built by dbt in a warehouse of their own: a
legacy export (BOM, V-tags, a comma ending every row, no RecordedDate) and a new one in which Q1 is
the NPS question, scoped so by the question map. The staging models, int_survey_response_fields and
their tests pass (the build would publish), the legacy responses are dated by EndDate and say so,
and each export's Q1 counts as what the map says it is there."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from social_value import loader
from social_value.connectors import surveymonkey as sm
from social_value.dbt_runner import run_dbt
from social_value.ingest.survey import ingest_qualtrics_drop

MODELS = ("stg_qualtrics__responses", "stg_qualtrics__answers", "stg_qualtrics__questions",
          "stg_surveymonkey__responses", "stg_surveymonkey__answers", "stg_surveymonkey__response_variables",
          "int_survey_response_fields")


def _in_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


@pytest.fixture
def own_warehouse(env, warehouse_url):
    """A database of this test's own, set up as the warehouse is: (owner, loader, transformer) URLs."""
    from social_value.warehouse_setup import role_passwords, setup

    name = f"{urlsplit(warehouse_url).path.lstrip('/')}_qualtrics_build"
    admin = _in_database(warehouse_url, "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')
        conn.execute(f'create database "{name}"')
    owner = _in_database(warehouse_url, name)
    setup(owner, os.environ["SVW_PSEUDONYM_KEY"], role_passwords())
    yield (owner, _in_database(os.environ["AIRFLOW_CONN_SVW_LOADER"], name),
           _in_database(os.environ["AIRFLOW_CONN_SVW_TRANSFORMER"], name))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


def _write(path: Path, rows: list[list[str]], bom: bool) -> None:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + buffer.getvalue().encode("utf-8"))


def _legacy_export(path: Path) -> None:
    tags = ["V1", "V2", "V3", "V4", "V5", "V6", "V7", "V8", "V9", "V10", "Q1", "Q2", "AccountId", ""]
    labels = ["ResponseID", "ResponseSet", "Name", "ExternalDataReference", "EmailAddress", "IPAddress",
              "Status", "StartDate", "EndDate", "Finished", "Tevreden?", "Aanbevelen?", "AccountId", ""]
    rows = [[f"R_old{n}", "Default Response Set", "Anonymous", "", "", "192.0.2.1", "0",
             f"2016-03-0{n} 09:00:00", f"2016-03-0{n} 09:05:00", "1", f"{n} - Tevreden", "8", "001A", ""]
            for n in (1, 2, 3)]
    _write(path, [tags, labels, *rows], bom=True)


def _nps_export(path: Path) -> None:
    """A survey whose Q1 is the recommend question (0-10) and Q2 a satisfaction one (1-5)."""
    tags = ["StartDate", "EndDate", "Finished", "RecordedDate", "ResponseId", "Q1", "Q2"]
    texts = ["Begindatum", "Einddatum", "Voltooid", "Registratiedatum", "Antwoord-ID", "Aanbevelen?",
             "Tevreden?"]
    ids = [f'{{"ImportId":"{i}"}}' for i in ("startDate", "endDate", "finished", "recordedDate", "_recordId",
                                              "QID1", "QID2")]
    rows = [["2026-09-01 10:00:00", "2026-09-01 10:04:00", "1", "2026-09-01 10:04:01", "R_new1", "10", "2"]]
    _write(path, [tags, texts, ids, *rows], bom=False)


def test_legacy_and_scoped_exports_build_and_pass_their_tests(own_warehouse, tmp_path):
    owner, loader_url, transformer = own_warehouse
    _legacy_export(tmp_path / "qualtrics" / "klant" / "legacy_2016.csv")
    _nps_export(tmp_path / "qualtrics" / "aanbeveling" / "2026-09.csv")
    summary = ingest_qualtrics_drop(loader_url, tmp_path)
    assert {name: entry["status"] for name, entry in summary["files"].items()} == {
        "klant/legacy_2016.csv": "loaded", "aanbeveling/2026-09.csv": "loaded"}
    with psycopg.connect(loader_url) as conn:  # no SurveyMonkey data: its landing tables, empty
        for table in sm.tables().values():
            loader.ensure_table(conn, table)

    run_dbt(["seed", "--select", "survey_question_map"], transformer)
    with psycopg.connect(transformer) as conn:
        conn.execute("insert into core.survey_question_map (source, survey_id, export_file, field_kind, "
                     "field, role) values ('qualtrics', null, 'aanbeveling/%', 'export_field', 'Q1', 'nps'), "
                     "('qualtrics', null, 'aanbeveling/%', 'export_field', 'Q2', 'csat')")
    result = run_dbt(["build", "--select", *MODELS, "--indirect-selection", "cautious"], transformer)
    assert not result["failed"] and result["tests"] == result["tests_passed"] >= 20, result

    with psycopg.connect(owner) as conn:
        dated = conn.execute("select response_id, recorded_at_source, recorded_at = ended_at "
                             "from staging.stg_qualtrics__responses order by 1").fetchall()
        scores = conn.execute("select response_id, csat_score, nps_score, created_at is not null "
                              "from core.int_survey_response_fields order by 1").fetchall()
        fields = {f for (f,) in conn.execute("select distinct field from staging.stg_qualtrics__answers")}
    assert dated == [("R_new1", "RecordedDate", False), ("R_old1", "EndDate", True),
                     ("R_old2", "EndDate", True), ("R_old3", "EndDate", True)]
    assert scores == [("R_new1", 2, 10, True), ("R_old1", 1, 8, True), ("R_old2", 2, 8, True),
                      ("R_old3", 3, 8, True)]
    assert fields == {"Q1", "Q2", "AccountId"}
