"""Ingest customer surveys: SurveyMonkey over its API and Qualtrics CSV exports from the drop folder.

SurveyMonkey lands in one load and one transaction, each Qualtrics file in one of its own: rows,
quarantined records, bookkeeping and the watermark (SurveyMonkey) or the file register (Qualtrics)
become visible together or not at all.

A survey's SurveyMonkey response pages are COPYed as documents and turned into response and answer
rows by Postgres (surveymonkey_copy); a survey Postgres refuses, and every survey's details, are
read in Python and spooled to temporary files (flat memory). Both then merge table by table, and a
Qualtrics export's rows are COPYed whole (qualtrics_copy), or read row by row if refused. Responses
are merged on their id,
answers on (response id, question id, row/choice key); a response that is loaded again replaces
its answers, so an answer the respondent removed does not linger. An answer quarantined because the
survey's details did not know its choice is read again once they do (surveymonkey_recovery).
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
from psycopg import sql

from social_value import bulk_copy, loader
from social_value.connectors import qualtrics as qx
from social_value.connectors import surveymonkey as sm
from social_value.ingest import file_drops, qualtrics_copy, surveymonkey_copy, surveymonkey_recovery
from social_value.loader import QuarantineError, RawTable

log = logging.getLogger(__name__)

SURVEYMONKEY = "surveymonkey"
QUALTRICS = "qualtrics"
SURVEYMONKEY_CONN_ID = "surveymonkey"
FAST_TABLES = ("responses", "answers")
OVERLAP = timedelta(days=1)  # late edits near the window's end are read again; merging absorbs them


@dataclass(frozen=True)
class SurveyMonkeySource:
    base_url: str
    token: str
    survey_ids: tuple[str, ...] = ()  # empty: every survey of the account
    per_page: int = sm.PER_PAGE


class _Spool:
    """(origin, record) lines per table in temporary JSON-lines files, read back as streams."""

    def __init__(self, folder: Path, names: list[str]) -> None:
        self.paths = {name: folder / f"{name}.jsonl" for name in names}
        self.files = {name: path.open("w", encoding="utf-8") for name, path in self.paths.items()}

    def write(self, name: str, origin: str, record: dict) -> None:
        self.files[name].write(json.dumps([origin, record], ensure_ascii=False) + "\n")

    def close(self) -> None:
        for file in self.files.values():
            file.close()

    def read(self, name: str) -> Iterator[tuple[str, dict]]:
        with self.paths[name].open(encoding="utf-8") as lines:
            for line in lines:
                origin, record = json.loads(line)
                yield origin, record


def ingest_surveymonkey(warehouse_url: str, source: SurveyMonkeySource, until: datetime,
                        schema: str = sm.SCHEMA) -> dict:
    """Land the responses modified since each survey's watermark (less OVERLAP) up to `until`.

    Returns the load id, the window per survey and counts per table (read, changed, quarantined).
    """
    client = sm.SurveyMonkey(source.base_url, source.token, source.per_page)
    tables = sm.tables(schema)
    with (psycopg.connect(warehouse_url) as conn, tempfile.TemporaryDirectory(prefix="svw-sm-") as tmp,
          loader.recorded_load(conn, SURVEYMONKEY, None) as load_id):
        summary: dict = {"load_id": load_id, "window_end": until.isoformat(), "surveys": {}, "tables": {}}
        survey_ids = list(source.survey_ids) or [str(s["id"]) for s in client.surveys()]
        log.info("load %s: SurveyMonkey surveys %s up to %s", load_id, ", ".join(survey_ids),
                 until.isoformat())
        spool = _Spool(Path(tmp), list(tables))
        rejected = {name: 0 for name in tables}
        # Responses and answers of surveys landed by Postgres go straight into these stages; the
        # rest (details, and surveys landed row by row) is spooled and joins them at the end.
        stages = {name: loader.Stage(conn, tables[name], load_id, SURVEYMONKEY) for name in FAST_TABLES}
        fast = {name: 0 for name in FAST_TABLES}
        held: list[int] = []  # quarantined answers the details now decode (surveymonkey_recovery)
        try:
            for survey_id in survey_ids:
                watermark = loader.get_watermark(conn, SURVEYMONKEY, _stream(schema, survey_id))
                since = watermark - OVERLAP if watermark else None
                summary["surveys"][survey_id] = _spool_survey(
                    conn, client, survey_id, since, until, spool, rejected, load_id, stages, fast,
                    tables["responses"], held)
        finally:
            spool.close()
        total = loader.BatchStats()
        keys = _AnswerKeys(conn, spool)
        for name, table in tables.items():
            stats = loader.BatchStats(read=rejected[name] + fast.get(name, 0), quarantined=rejected[name])
            if name in stages:
                stages[name].copy_records(spool.read(name), stats)
                bulk_copy.quarantine_keyless(stages[name], stats)
                keys.add(stages[name])
                stages[name].merge(stats)
            else:
                loader.merge_batch(conn, table, spool.read(name), load_id, SURVEYMONKEY, stats)
            summary["tables"][name] = stats.counts()
            _add(total, stats)
        summary["quarantine_resolved"] = surveymonkey_recovery.resolve(conn, tables["answers"], held, load_id)
        summary["tables"]["answers"]["removed"] = keys.remove_stale(tables["answers"])
        for name, counts in summary["tables"].items():
            log.info("load %s: %s.%s %s", load_id, schema, name, counts)
        for survey_id in survey_ids:
            loader.set_watermark(conn, SURVEYMONKEY, _stream(schema, survey_id), until, load_id)
        loader.finish_load(conn, load_id, total)
        conn.commit()
        log.info("load %s committed; watermarks now %s", load_id, until.isoformat())
        return summary


def _stream(schema: str, survey_id: str) -> str:
    return f"{schema}.{survey_id}"


def _add(total: loader.BatchStats, stats: loader.BatchStats) -> None:
    total.add(stats)


def _spool_survey(conn: psycopg.Connection, client: sm.SurveyMonkey, survey_id: str,
                  since: datetime | None, until: datetime, spool: _Spool, rejected: dict[str, int],
                  load_id: int, stages: dict[str, loader.Stage], fast: dict[str, int],
                  responses: RawTable, held: list[int]) -> dict:
    """One survey: its details to the spool, its response pages landed by Postgres into `stages`
    (counted in `fast`) or, if refused, row by row to the spool; quarantines what cannot land.
    Answers quarantined earlier that the details now decode are noted in `held`, and the window
    reaches back to their responses, so they are read again and land."""
    details = client.details(survey_id)
    decoder = sm.Decoder.from_details(details)
    recoverable = surveymonkey_recovery.recoverable(conn, responses, survey_id, decoder)
    if recoverable:
        held.extend(recoverable.quarantine_ids)
        since = recoverable.window_start(since, OVERLAP)
        log.info("survey %s: %d quarantined answer(s) the details now decode: their responses are "
                 "read again from %s", survey_id, len(recoverable.quarantine_ids),
                 since.isoformat() if since else "the start")
    origin = f"/v3/surveys/{survey_id}/details"
    spool.write("surveys", origin, sm.survey_record(details))
    for record in sm.question_records(details):
        spool.write("questions", origin, record)
    for record in sm.choice_records(details):
        spool.write("choices", origin, record)
    pages_read = surveymonkey_copy.ResponsePages(client, survey_id, since, until)
    try:
        landed = surveymonkey_copy.land_pages(conn, stages, pages_read, decoder)
        if landed:
            pages, responses, fast["answers"] = landed[0], landed[1], fast["answers"] + landed[2]
            fast["responses"] += responses
        else:
            log.info("survey %s: response pages land row by row", survey_id)
            pages, responses = _spool_responses(conn, pages_read.replay(), decoder, spool, rejected, load_id)
    finally:
        pages_read.delete()
    log.info("survey %s: %d responses on %d pages modified %s → %s", survey_id, responses, pages,
             since.isoformat() if since else "ever", until.isoformat())
    return {"window_start": since.isoformat() if since else None, "pages": pages, "responses": responses}


def _spool_responses(conn: psycopg.Connection, response_pages, decoder: sm.Decoder, spool: _Spool,
                     rejected: dict[str, int], load_id: int) -> tuple[int, int]:
    """The row path: each response and answer checked in Python, then spooled or quarantined."""
    pages = responses = 0
    for page_origin, data in response_pages:
        pages += 1
        for response in data:
            responses += 1
            try:
                record = sm.response_record(response)
            except QuarantineError as reason:
                loader.quarantine(conn, load_id, SURVEYMONKEY, "responses", page_origin, str(reason),
                                  _as_json(response))
                rejected["responses"] += 1
                continue
            spool.write("responses", page_origin, record)
            for answer in sm.answer_records(response, decoder):
                if isinstance(answer, loader.Rejected):
                    loader.quarantine(conn, load_id, SURVEYMONKEY, "answers", page_origin, answer.reason,
                                      answer.payload)
                    rejected["answers"] += 1
                else:
                    spool.write("answers", page_origin, answer)
    return pages, responses


def _as_json(payload: object) -> str:
    return json.dumps(payload, ensure_ascii=False, default=str)


class _AnswerKeys:
    """The responses this load holds and their answers' keys: what it no longer holds of those
    responses is deleted once all is merged (spooled records count as read, as before)."""

    def __init__(self, conn: psycopg.Connection, spool: _Spool) -> None:
        self.conn = conn
        conn.execute("create temporary table _survey_answer_keys (response_id text not null, "
                     "question_id text, answer_key text) on commit drop")
        with conn.cursor() as cur, cur.copy("copy _survey_answer_keys from stdin") as copy:
            for _, record in spool.read("responses"):
                copy.write_row([record["id"], None, None])
            for _, record in spool.read("answers"):
                copy.write_row([record["response_id"], record["question_id"], record["answer_key"]])

    def add(self, stage: loader.Stage) -> None:
        """The keys of a stage about to be merged (what Postgres landed)."""
        responses = stage.table.name == "responses"
        columns = "id, null, null" if responses else "response_id, question_id, answer_key"
        self.conn.execute(sql.SQL("insert into _survey_answer_keys select {} from {}").format(
            sql.SQL(columns), stage.ident))

    def remove_stale(self, answers: RawTable) -> int:
        removed = self.conn.execute(sql.SQL(
            "delete from {answers} a where a.response_id in (select response_id from _survey_answer_keys) "
            "and not exists (select 1 from _survey_answer_keys k where k.response_id = a.response_id "
            "and k.question_id = a.question_id and k.answer_key = a.answer_key)").format(
                answers=answers.ident())).rowcount
        self.conn.execute("drop table _survey_answer_keys")
        return removed


def ingest_qualtrics_drop(warehouse_url: str, drop_dir: str | Path, schema: str = qx.SCHEMA) -> dict:
    """Land every Qualtrics export under `drop_dir`/qualtrics that is new or changed since last time,
    each file in a load and transaction of its own (one bad file never holds back another).

    Files are registered by name with their sha256: an unchanged file is skipped, a changed one is
    merged again (on ResponseId). A file whose header cannot be read is quarantined whole and
    registered as rejected, so it is reported once, not every day; one that fails to read later
    (RejectedFileError, bytes that do not decode) is rejected as file_drops rejects files. Both are
    listed in raw_meta.rejected_files.
    """
    folder = Path(drop_dir) / "qualtrics"
    tables = qx.tables(schema)
    files = sorted(folder.rglob("*.csv")) if folder.is_dir() else []
    if not folder.is_dir():
        log.warning("no Qualtrics drop folder at %s: nothing to load", folder)
    summary: dict = {"load_ids": [], "folder": str(folder), "files": {},
                     "tables": {name: {"read": 0, "changed": 0, "quarantined": 0} for name in tables}}
    failed: list[tuple[str, Exception]] = []
    with psycopg.connect(warehouse_url) as conn:
        conn.execute(loader.META_DDL)
        conn.execute(file_drops.REJECTED_DDL)
        loader.ensure_table(conn, tables["files"])
        known = dict(conn.execute(sql.SQL("select name, sha256 from {}").format(
            tables["files"].ident())).fetchall())
        conn.commit()
        for path in files:
            name = path.relative_to(folder).as_posix()
            digest, size = loader.file_digest(path)
            if known.get(name) == digest:
                summary["files"][name] = {"status": "unchanged"}
                log.info("%s unchanged (sha256 %s…), skipped", name, digest[:12])
                continue
            if file_drops.rejected_before(conn, QUALTRICS, f"{schema}:{name}", digest):
                summary["files"][name] = {"status": "unchanged"}
                log.warning("%s was rejected before and is unchanged (sha256 %s…), skipped", name,
                            digest[:12])
                continue
            load_id = loader.start_load(conn, QUALTRICS, None)
            summary["load_ids"].append(load_id)
            counts = {table: {"read": 0, "changed": 0, "quarantined": 0} for table in tables}
            total = loader.BatchStats()
            try:
                entry = _load_file(conn, tables, path, name, load_id, counts, total)
                register = {"name": name, "sha256": digest, "bytes": str(size),
                            **{k: None if v is None else str(v) for k, v in entry.items()}}
                stats = loader.merge_batch(conn, tables["files"], [(name, register)], load_id, QUALTRICS)
                for key, value in stats.counts().items():
                    counts["files"][key] += value
                loader.finish_load(conn, load_id, total)
                if entry["status"] == "rejected":
                    file_drops.note_rejection(conn, QUALTRICS, f"{schema}:{name}", digest, size, load_id,
                                              {"member": None, "reason": entry["error"]})
                    conn.execute("update raw_meta.loads set status = 'rejected', error = %s "
                                 "where load_id = %s", (f"{name}: {entry['error']}"[:4000], load_id))
                conn.commit()
            except file_drops.UNREADABLE as error:
                rejection = file_drops.rejection_of(error)
                file_drops.record_rejection(conn, QUALTRICS, f"{schema}:{name}", digest, size, load_id,
                                            rejection)
                entry = {"format": None, "rows_read": 0, "rows_quarantined": 0, "status": "rejected",
                         "error": rejection["reason"]}
                counts = {}
            except Exception as error:
                error.add_note(f"while landing Qualtrics file {name} (load {load_id})")
                if isinstance(error, psycopg.OperationalError):
                    raise
                loader.fail_load(conn, load_id, f"{name}: {type(error).__name__}: {error}")
                failed.append((name, error))
                log.exception("load %s: %s failed; landing the other files", load_id, name)
                continue
            for table, table_counts in counts.items():
                for key, value in table_counts.items():
                    summary["tables"][table][key] += value
            summary["files"][name] = entry
            report = log.warning if entry["status"] == "rejected" else log.info
            report("load %s: %s %s", load_id, name, entry)
    if failed:
        first = failed[0][1]
        if len(failed) > 1:
            first.add_note(f"{len(failed)} Qualtrics files failed to land: "
                           + ", ".join(n for n, _ in failed))
        raise first
    log.info("Qualtrics drop landed: %s", summary["tables"])
    return summary


def _load_file(conn: psycopg.Connection, tables: dict[str, RawTable], path: Path, name: str,
               load_id: int, counts: dict[str, dict[str, int]], total: loader.BatchStats) -> dict:
    """Two streaming passes over one file: responses (bad rows quarantined), then answers."""
    try:
        header = qx.read_header(path)
    except qx.QualtricsFormatError as error:
        with path.open("rb") as head:
            loader.quarantine(conn, load_id, QUALTRICS, "files", name, str(error),
                              head.read(2000).decode("utf-8", "backslashreplace"))
        counts["files"]["quarantined"] += 1
        total.quarantined += 1
        return {"format": None, "rows_read": 0, "rows_quarantined": 0, "status": "rejected",
                "error": str(error)}
    responses, answers = qualtrics_copy.land_export(conn, tables, path, header, load_id, name)
    questions = loader.merge_batch(conn, tables["questions"],
                                   loader.tagged(name, qx.question_records(name, header)), load_id, QUALTRICS)
    for table, stats in (("responses", responses), ("answers", answers), ("questions", questions)):
        for key, value in stats.counts().items():
            counts[table][key] += value
        _add(total, stats)
    return {"format": header.format, "rows_read": responses.read, "rows_quarantined": responses.quarantined,
            "status": "loaded", "error": None}
