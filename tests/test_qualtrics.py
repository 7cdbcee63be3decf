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


# --- real-world export forms, generated here ------------------------------------------------------

LEGACY_TAGS = ["V1", "V2", "V3", "V4", "V5", "V6", "V7", "V8", "V9", "V10", "Q1", "Q2", "AccountId",
               "LocationLatitude", "LocationLongitude", "LocationAccuracy", ""]
LEGACY_LABELS = ["ResponseID", "ResponseSet", "Name", "ExternalDataReference", "EmailAddress", "IPAddress",
                 "Status", "StartDate", "EndDate", "Finished", "Hoe tevreden bent u?",
                 "Hoe waarschijnlijk is het dat u ons aanbeveelt?", "AccountId", "LocationLatitude",
                 "LocationLongitude", "LocationAccuracy", ""]


def _legacy_row(n: int, trailing: str = "", start: str = "2016-03-01 09:00:00",
                end: str = "2016-03-01 09:05:00") -> list[str]:
    return [f"R_legacy{n:03d}", "Default Response Set", "Anonymous", "", "jan@example.org", "192.0.2.7",
            "0", start, end, "1", f"{n % 5 + 1}", f"{n % 11}", f"001000000000{n:03d}", "52.09", "5.12", "-1",
            trailing]


def _write_csv(path: Path, rows: list[list[str]], bom: bool = True) -> Path:
    """Rows as Qualtrics writes them: every field quoted only when it must be, CRLF, optional BOM."""
    import csv
    import io
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + buffer.getvalue().encode("utf-8"))
    return path


def test_legacy_export_with_trailing_commas_lands_without_a_nameless_field(
        warehouse_url, conn, scratch_schema, tmp_path, caplog):
    rows = [_legacy_row(n) for n in range(1, 6)]
    rows[2] = _legacy_row(3, trailing="stray")  # a value under the column without a name
    rows[3] = _legacy_row(4, start="", end="")  # no date at all: the build could not place it
    _write_csv(tmp_path / "qualtrics" / "legacy_2016.csv", [LEGACY_TAGS, LEGACY_LABELS, *rows])
    # every line ends with a comma but the one with a value in the last column
    assert (tmp_path / "qualtrics" / "legacy_2016.csv").read_bytes().count(b",\r\n") == len(rows) + 1

    with caplog.at_level("WARNING", logger="social_value.ingest.qualtrics_copy"):
        first = ingest_qualtrics_drop(warehouse_url, tmp_path, schema=scratch_schema)
    assert first["files"]["legacy_2016.csv"] == {
        "format": "legacy", "rows_read": 5, "rows_quarantined": 2, "status": "loaded", "error": None}
    reasons = sorted(r for (r,) in conn.execute(
        "select reason from raw_meta.quarantine where load_id = any(%s)", (first["load_ids"],)))
    assert reasons == ["a value in column 17, which has no name in the header: 'stray'",
                       "no date: RecordedDate, EndDate and StartDate are all empty"]
    snapshot = _snapshot(conn, scratch_schema)
    landed = {r["ResponseId"]: r for r in snapshot["responses"]}
    assert set(landed) == {"R_legacy001", "R_legacy002", "R_legacy005"}
    assert all(r["recorded_at"] is None and r["end_at"] == "2016-03-01T09:05:00+00:00"
               for r in landed.values())
    fields = {a["field"] for a in snapshot["answers"]}
    assert fields == {"Q1", "Q2", "AccountId"}, "no nameless field, nothing personal"
    assert [q["field"] for q in snapshot["questions"]] == ["AccountId", "Q1", "Q2"]
    assert not {"Name", "EmailAddress", "IPAddress", "LocationAccuracy"} & set(next(iter(landed.values())))
    warning = " ".join(record.getMessage() for record in caplog.records)
    assert "legacy_2016.csv: 3 response(s) without RecordedDate" in warning
    assert "no RecordedDate column" in warning and "EndDate, else StartDate" in warning

    second = ingest_qualtrics_drop(warehouse_url, tmp_path, schema=scratch_schema)
    assert second["files"] == {"legacy_2016.csv": {"status": "unchanged"}}
    assert _snapshot(conn, scratch_schema) == snapshot


def test_nameless_column_rows_go_row_by_row_with_the_same_result(
        warehouse_url, conn, make_schema, tmp_path, monkeypatch):
    from social_value.ingest import qualtrics_copy
    rows = [_legacy_row(n) for n in range(1, 4)] + [_legacy_row(4, trailing="x")]
    _write_csv(tmp_path / "qualtrics" / "legacy.csv", [LEGACY_TAGS, LEGACY_LABELS, *rows])
    declined = []
    original = qualtrics_copy._copy_rows
    monkeypatch.setattr(qualtrics_copy, "_copy_rows", lambda path, *a: (declined.append(path.name),
                                                                        original(path, *a))[1])
    schema = make_schema()
    summary = ingest_qualtrics_drop(warehouse_url, tmp_path, schema=schema)
    assert declined == ["legacy.csv"], "Postgres's path declines the export, the row path sets the row aside"
    assert summary["tables"]["responses"]["quarantined"] == 1
    assert conn.execute(f"select count(*) from {schema}.answers where field = ''").fetchone()[0] == 0
    assert conn.execute(f"select count(*) from {schema}.responses").fetchone()[0] == 3


def test_new_export_without_recorded_date_is_flagged_at_load(warehouse_url, conn, scratch_schema, tmp_path,
                                                            caplog):
    tags = ["StartDate", "EndDate", "Status", "Finished", "RecordedDate", "ResponseId", "Q1", ""]
    texts = ["Begindatum", "Einddatum", "Type", "Voltooid", "Registratiedatum", "Antwoord-ID", "Tevreden?",
             ""]
    ids = [f'{{"ImportId":"{i}"}}' for i in ("startDate", "endDate", "status", "finished", "recordedDate",
                                              "_recordId", "QID1")] + [""]
    rows = [["2026-09-01 10:00:00", "2026-09-01 10:04:00", "0", "1", "2026-09-01 10:04:01", "R_a", "5", ""],
            ["2026-09-02 10:00:00", "2026-09-02 10:04:00", "0", "0", "", "R_b", "4", ""]]
    _write_csv(tmp_path / "qualtrics" / "nieuw.csv", [tags, texts, ids, *rows], bom=False)
    with caplog.at_level("WARNING", logger="social_value.ingest.qualtrics_copy"):
        summary = ingest_qualtrics_drop(warehouse_url, tmp_path, schema=scratch_schema)
    assert summary["files"]["nieuw.csv"]["rows_quarantined"] == 0
    assert "nieuw.csv: 1 response(s) without RecordedDate, as their RecordedDate is empty" in caplog.text
    assert [q["field"] for q in _snapshot(conn, scratch_schema)["questions"]] == ["Q1"]


def test_export_without_any_date_column_is_rejected(warehouse_url, scratch_schema, tmp_path):
    _write_csv(tmp_path / "qualtrics" / "zonder_datum.csv",
               [["V1", "V2", "Q1", ""], ["ResponseID", "ResponseSet", "Tevreden?", ""],
                ["R_x", "s", "5", ""]])
    summary = ingest_qualtrics_drop(warehouse_url, tmp_path, schema=scratch_schema)
    assert summary["files"]["zonder_datum.csv"]["status"] == "rejected"
    error = summary["files"]["zonder_datum.csv"]["error"]
    assert "no date column (RecordedDate, EndDate or StartDate)" in error


def test_trailing_comma_on_rows_but_not_header_or_the_reverse(tmp_path):
    header = [LEGACY_TAGS[:-1], LEGACY_LABELS[:-1]]
    rows_only = _write_csv(tmp_path / "rows_only.csv",
                           [*header, _legacy_row(1), _legacy_row(2, trailing="x")])
    header_only = _write_csv(tmp_path / "header_only.csv",
                             [LEGACY_TAGS, LEGACY_LABELS, _legacy_row(3)[:-1]])
    read = [row for path in (rows_only, header_only) for _, row in qx.read_rows(path)]
    assert [row["ResponseId"] for row in read if isinstance(row, dict)] == ["R_legacy001", "R_legacy003"]
    # A value beyond the header's last column is no trailing comma: the row is set aside.
    assert [row.reason for row in read if not isinstance(row, dict)] == [
        "the row has 17 fields, the header 16"]
