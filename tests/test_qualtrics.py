"""Qualtrics CSV drops: the recorded export, the legacy form, and drop folder → raw for real.

Exact counts come from survey_world and the simulator's fault rules; bad rows are quarantined with
their reason while the rest of the file loads; an unchanged file is skipped, a changed one merged.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path

import psycopg
import pytest
from conftest import SAMPLES

from social_value import loader
from social_value.connectors import qualtrics as qx
from social_value.ingest.survey import ingest_qualtrics_drop
from social_value.simulator import qualtrics as sim
from social_value.simulator import survey_world as sw
from social_value.simulator.api import Faults
from social_value.simulator.organisation import Scale

SCALE = Scale(employees=30, months=3)
SAMPLE = SAMPLES / "qualtrics" / "sample.csv"
ANSWER_FIELDS = ("Q1", "Q2", "Q2_NPS_GROUP", "Q3_TEXT", "AccountId")


def _population() -> list[sw.SurveyResponse]:
    return list(sw.responses(SCALE, "qualtrics"))


def _drop(folder: Path, faults: str = "", name: str = "klanttevredenheid.csv", legacy: bool = False) -> Path:
    path = folder / "qualtrics" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    sim.write_export(path, SCALE, Faults.parse(faults), legacy=legacy)
    return path


def _snapshot(conn, schema: str, with_load: bool = True) -> dict[str, list]:
    keys = {"responses": '"ResponseId"', "answers": '"ResponseId", field', "questions": "file, field"}
    cut = "" if with_load else " - '_load_id' - '_loaded_at'"
    return {table: [row[0] for row in conn.execute(
        f"select to_jsonb(t){cut} from {schema}.{table} t order by {order}")]
        for table, order in keys.items()}


@pytest.mark.skipif(not SAMPLE.exists(), reason=f"recorded Qualtrics export not found at {SAMPLE}")
def test_recorded_export_is_read_by_header_name():
    header = qx.read_header(SAMPLE)
    assert header.format == "new"
    assert header.names[:3] == ("StartDate", "EndDate", "Status")
    assert dict(zip(header.names, header.import_ids, strict=True))["Q1"] == "QID1"
    texts = dict(zip(header.names, header.question_texts, strict=True))
    assert texts["Q2"] == "This is a free text question."
    rows = list(qx.read_rows(SAMPLE))
    assert len(rows) == 1
    origin, row = rows[0]
    assert origin == "sample.csv:4" and isinstance(row, dict)
    response = qx.response_record(row)
    assert response["ResponseId"] == "R_2YPOQ602ER1jkf1"
    assert (response["Finished"], response["recorded_at"]) == ("1", "2017-07-18T08:28:48+00:00")
    assert not set(response) & qx.PERSONAL_COLUMNS
    answers = {a["field"]: a["value"] for a in qx.answer_records(row)}
    assert answers == {"Q1": "2", "Q2": "Hello World!", "Q2 - Topics": None}
    questions = list(qx.question_records("sample.csv", header))
    assert [q["field"] for q in questions] == ["Q1", "Q2", "Q2 - Topics"]


def test_legacy_export_reads_like_the_new_one(tmp_path):
    new = {row["ResponseId"]: row for _, row in qx.read_rows(_drop(tmp_path, name="new.csv"))}
    legacy_path = _drop(tmp_path, name="legacy.csv", legacy=True)
    assert legacy_path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert qx.read_header(legacy_path).format == "legacy"
    legacy = {row["ResponseId"]: row for _, row in qx.read_rows(legacy_path)}
    assert len(new) == len(legacy) == len(_population())
    for rid, row in legacy.items():
        assert qx.response_record(row)["recorded_at"] is None  # the legacy form has no RecordedDate
        assert qx.response_record(row)["start_at"] == qx.response_record(new[rid])["start_at"]
        assert (row["Finished"], row["Q1"], row["Q2"], row["Q3"], row["AccountId"]) == (
            new[rid]["Finished"], new[rid]["Q1"], new[rid]["Q2"], new[rid]["Q3_TEXT"], new[rid]["AccountId"])


def test_drop_ingest_exact_counts_unchanged_file_skipped_changed_file_merged(
        warehouse_url, conn, scratch_schema, tmp_path):
    path = _drop(tmp_path)
    first = ingest_qualtrics_drop(warehouse_url, tmp_path, schema=scratch_schema)
    before = _snapshot(conn, scratch_schema)
    second = ingest_qualtrics_drop(warehouse_url, tmp_path, schema=scratch_schema)

    population = _population()
    assert first["files"] == {"klanttevredenheid.csv": {
        "format": "new", "rows_read": len(population), "rows_quarantined": 0, "status": "loaded",
        "error": None}}
    assert first["tables"]["responses"] == {"read": len(population), "changed": len(population),
                                            "quarantined": 0}
    assert first["tables"]["answers"]["changed"] == len(population) * len(ANSWER_FIELDS)
    assert [q["field"] for q in before["questions"]] == sorted(ANSWER_FIELDS)
    assert second["files"] == {"klanttevredenheid.csv": {"status": "unchanged"}}
    assert _snapshot(conn, scratch_schema) == before

    rows = {r["ResponseId"]: r for r in before["responses"]}
    finished = {sw.qualtrics_response_id(SCALE, r.n) for r in population if r.completed}
    assert {rid for rid, r in rows.items() if r["Finished"] == "1"} == finished
    answers = {(a["ResponseId"], a["field"]): a["value"] for a in before["answers"]}
    for response in population:
        rid = sw.qualtrics_response_id(SCALE, response.n)
        assert answers[rid, "AccountId"] == response.account_id
        assert answers[rid, "Q1"] == sw.CSAT_TEXTS[response.csat]
        assert answers[rid, "Q3_TEXT"] == response.comment
    registered = conn.execute(f"select name, sha256 from {scratch_schema}.files").fetchall()
    assert registered == [("klanttevredenheid.csv", loader.file_digest(path)[0])]

    # A changed export (here: CRLF line ends) is merged again: same rows, nothing duplicated.
    _drop(tmp_path, "crlf")
    third = ingest_qualtrics_drop(warehouse_url, tmp_path, schema=scratch_schema)
    assert third["files"]["klanttevredenheid.csv"]["status"] == "loaded"
    assert third["tables"]["responses"]["changed"] == 0
    assert _snapshot(conn, scratch_schema) == before, "unchanged rows keep their load id"
    assert conn.execute(f"select sha256 from {scratch_schema}.files").fetchone()[0] != registered[0][1]


@pytest.mark.parametrize("drift", ["extra_columns", "missing_columns"])
def test_format_faults_quarantine_exact_rows_and_load_the_rest(
        warehouse_url, conn, scratch_schema, tmp_path, drift):
    faults = f"bom,nul,invalid_utf8,crlf,quoted_newlines,date_formats,empty_numbers,duplicates,{drift}"
    _drop(tmp_path, faults)
    summary = ingest_qualtrics_drop(warehouse_url, tmp_path, schema=scratch_schema)

    population = _population()
    nul = [r for r in population if sim.has_nul(r)]
    bad_utf8 = [r for r in population if sim.has_invalid_utf8(r)]
    ragged = [r for r in population
              if sim.is_ragged(r) and not sim.has_nul(r) and not sim.has_invalid_utf8(r)]
    repeated = [r for r in population if sim.is_repeated(r)]
    bad = {r.n for r in nul + bad_utf8 + ragged}
    assert nul and bad_utf8 and ragged and repeated
    assert summary["tables"]["responses"] == {
        "read": len(population) + len(repeated), "changed": len(population) - len(bad),
        "quarantined": len(bad)}
    reasons = sorted(row[0] for row in conn.execute(
        "select reason from raw_meta.quarantine where load_id = any(%s)", (summary["load_ids"],)))
    fields = len(sim.columns(Faults.parse(faults)))
    ragged_reason = f"the row has {fields + 1 if drift == 'extra_columns' else fields - 1} fields, " \
                    f"the header {fields}"
    assert reasons == sorted(
        ["NUL byte in column 'Q3_TEXT': Postgres text cannot hold it"] * len(nul)
        + ["invalid UTF-8 in column 'Q3_TEXT'"] * len(bad_utf8) + [ragged_reason] * len(ragged))

    landed = {r["ResponseId"]: r for r in _snapshot(conn, scratch_schema)["responses"]}
    good = [r for r in population if r.n not in bad]
    assert set(landed) == {sw.qualtrics_response_id(SCALE, r.n) for r in good}
    for response in good:  # three date forms, one instant
        assert landed[sw.qualtrics_response_id(SCALE, response.n)]["start_at"] == response.created.isoformat()
    empty = {rid for rid, r in landed.items() if r["Progress"] is None}
    assert empty == {sw.qualtrics_response_id(SCALE, r.n) for r in good if r.n % 7 == 3}
    comments = {row[0] for row in conn.execute(
        f"select value from {scratch_schema}.answers where field = 'Q3_TEXT' and value like %s", ("%\n%",))}
    assert comments, "a newline inside a quoted answer lands as part of the answer"
    answer_fields = {row[0] for row in conn.execute(f"select distinct field from {scratch_schema}.answers")}
    expected_fields = set(ANSWER_FIELDS) | {"Q_RecaptchaScore"} if drift == "extra_columns" else (
        set(ANSWER_FIELDS) - sim.OPTIONAL_COLUMNS)
    assert answer_fields == expected_fields


def test_unreadable_file_is_quarantined_once_and_other_files_load(
        warehouse_url, conn, scratch_schema, tmp_path):
    _drop(tmp_path)
    broken = tmp_path / "qualtrics" / "kapot.csv"
    broken.write_bytes(b"StartDate,EndDate\n")
    first = ingest_qualtrics_drop(warehouse_url, tmp_path, schema=scratch_schema)
    second = ingest_qualtrics_drop(warehouse_url, tmp_path, schema=scratch_schema)
    assert first["files"]["kapot.csv"]["status"] == "rejected"
    assert "second header row" in first["files"]["kapot.csv"]["error"]
    assert first["files"]["klanttevredenheid.csv"]["status"] == "loaded"
    assert first["tables"]["files"]["quarantined"] == 1
    assert second["files"]["kapot.csv"] == {"status": "unchanged"}
    assert len(first["load_ids"]) == 2 and second["load_ids"] == [], "a load per new file"
    rejected = conn.execute("select sha256, reason from raw_meta.rejected_files where path = %s",
                            (f"{scratch_schema}:kapot.csv",)).fetchall()
    assert rejected == [(loader.file_digest(broken)[0], first["files"]["kapot.csv"]["error"])]
    statuses = [row[0] for row in conn.execute("select status from raw_meta.loads where load_id = any(%s) "
                                               "order by load_id", (first["load_ids"],))]
    assert statuses == ["rejected", "succeeded"], "kapot.csv sorts first"


def test_load_that_dies_midway_then_reruns_ends_as_one_clean_run(
        warehouse_url, conn, scratch_schema, tmp_path):
    clean = f"t_{uuid.uuid4().hex[:10]}"
    conn.execute(f"create schema {clean}")
    conn.commit()
    try:
        _drop(tmp_path, "quoted_newlines,date_formats")
        ingest_qualtrics_drop(warehouse_url, tmp_path, schema=clean)
        victim = sw.qualtrics_response_id(SCALE, _population()[len(_population()) // 2].n)
        loader.ensure_table(conn, qx.tables(scratch_schema)["answers"])
        conn.execute(f"alter table {scratch_schema}.answers add constraint dies "
                     f"check (\"ResponseId\" <> '{victim}')")
        conn.commit()
        with pytest.raises(psycopg.errors.CheckViolation):
            ingest_qualtrics_drop(warehouse_url, tmp_path, schema=scratch_schema)
        assert conn.execute("select to_regclass(%s)", (f"{scratch_schema}.responses",)).fetchone()[0] is None
        assert conn.execute(f"select count(*) from {scratch_schema}.files").fetchone()[0] == 0, \
            "the file is not registered, so the rerun reads it again"
        conn.execute(f"drop table {scratch_schema}.answers")
        conn.commit()
        ingest_qualtrics_drop(warehouse_url, tmp_path, schema=scratch_schema)
        assert _snapshot(conn, scratch_schema, with_load=False) == _snapshot(conn, clean, with_load=False)
    finally:
        conn.rollback()
        conn.execute(f"drop schema {clean} cascade")
        conn.commit()


def test_simulated_dates_fall_in_the_scale():
    months = {r.created.strftime("%Y-%m") for r in _population()}
    assert months == {"2026-08", "2026-09", "2026-10"}
    assert all(isinstance(r.created, datetime) and r.modified >= r.created for r in _population())
