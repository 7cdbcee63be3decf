"""Ingest the intranet: the Viva Engage export, Graph's daily activity reports, Slack exports and
activity events files.

The window overlaps the previous one by OVERLAP so late-arriving messages are not missed; merging
on the source ids makes the overlap harmless. Data and watermark commit together.
"""

from __future__ import annotations

import logging
import zipfile
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg

from social_value import bulk_copy, bulk_json, erasure, loader, skipped_days
from social_value.connectors import activity_events
from social_value.connectors import msgraph_reports as msgraph
from social_value.connectors import slack_export as slack
from social_value.connectors import viva_engage_export as export
from social_value.drop_limits import DropLimits
from social_value.ingest import file_drops
from social_value.rejections import RejectedFileError

log = logging.getLogger(__name__)

SOURCE = "viva_engage"
OVERLAP = timedelta(days=1)
OVERLAP_DAYS = 2  # Graph may revise a day's counts shortly after
PREFETCH_DAYS = 4
# How each export file names a person: (email field, user id field, id kind) for ErasedPeople.
EXPORT_PEOPLE = {"Users.csv": ("email", "id", "viva_engage"), "Groups.csv": (None, None, None),
                 "Messages.csv": (None, "sender_id", "viva_engage")}
# The export's earliest useful date when no watermark exists yet (full history).
HISTORY_START = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class SourceConnection:
    base_url: str
    token: str


def ingest_viva_engage(warehouse_url: str, source: SourceConnection, until: datetime,
                       schema: str = export.SCHEMA, pseudonym_key: str | None = None) -> dict:
    """Land one export window into `schema`; returns counts per table for the task log and XCom.

    The watermark is kept per target schema (its stream), so a second landing zone is independent.
    People erased under GDPR (svw_private.erasures) are skipped, never landed again.
    """
    with psycopg.connect(warehouse_url) as conn:
        watermark = loader.get_watermark(conn, SOURCE, schema)
        erased = erasure.ErasedPeople.load(conn, pseudonym_key)
        since = watermark - OVERLAP if watermark else HISTORY_START
        with loader.recorded_load(conn, SOURCE, (since, until)) as load_id:
            log.info("load %s: Viva Engage export %s → %s", load_id, since.isoformat(), until.isoformat())
            zip_path = export.fetch_export(source.base_url, source.token, since, until)
            try:
                summary = {"load_id": load_id, "window_start": since.isoformat(),
                           "window_end": until.isoformat(), "tables": {}}
                total = loader.BatchStats()
                with zipfile.ZipFile(zip_path) as archive:
                    present = set(archive.namelist())
                    for member, table in export.tables(schema).items():
                        if member not in present:
                            log.warning("load %s: %s is not in this export", load_id, member)
                            continue
                        people = EXPORT_PEOPLE[member]
                        stats, stage = loader.BatchStats(), loader.Stage(conn, table, load_id, SOURCE)
                        bulk_copy.land_csv(
                            stage, f"{zip_path.name}:{member}", lambda m=member: archive.open(m),
                            lambda m=member: erased.skip(export.read_csv(archive, m), m, *EXPORT_PEOPLE[m]),
                            stats)
                        bulk_copy.finish(stage, stats, erased, member, *people)
                        summary["tables"][table.name] = {**stats.counts(),
                                                         "skipped_erased": erased.skipped[member]}
                        log.info("load %s: %s read %d, changed %d, quarantined %d", load_id, member,
                                 stats.read, stats.loaded, stats.quarantined)
                        total.add(stats)
            finally:
                zip_path.unlink(missing_ok=True)
            loader.set_watermark(conn, SOURCE, schema, until, load_id)
            loader.finish_load(conn, load_id, total)
            conn.commit()
            log.info("load %s committed; watermark now %s", load_id, until.isoformat())
            return summary


def ingest_msgraph(warehouse_url: str, source: SourceConnection, until: datetime,
                   schema: str = msgraph.SCHEMA, history_days: int = msgraph.HISTORY_DAYS,
                   pseudonym_key: str | None = None) -> dict:
    """Land the daily Viva Engage activity reports (likes, reads) since the last loaded day.

    Graph serves the past 28 days, so a first run reaches back `history_days` (connection extra
    `history_days`, default msgraph.HISTORY_DAYS) from the day before `until`; later runs re-read
    the last OVERLAP_DAYS days, whose counts Graph may still revise, and every day after them up
    to the day before `until`. A day Graph refuses (HTTP 400) is skipped and recorded
    (skipped_days.py) while the others land; the watermark moves to the last day that landed, so a
    refused recent day is asked for again.
    """
    last_day = (until - timedelta(days=1)).date()
    table = msgraph.table(schema)
    with psycopg.connect(warehouse_url) as conn:
        watermark = loader.get_watermark(conn, "msgraph", schema)
        erased = erasure.ErasedPeople.load(conn, pseudonym_key)
        skipped_days.ensure_table(conn)
        first_day = (watermark.date() - timedelta(days=OVERLAP_DAYS) if watermark
                     else last_day - timedelta(days=history_days - 1))
        with loader.recorded_load(conn, "msgraph", (first_day, last_day)) as load_id:
            log.info("load %s: Graph report days %s to %s (up to the day before %s, this run's end)",
                     load_id, first_day, last_day, until.isoformat())
            summary = {"load_id": load_id, "first_day": first_day.isoformat(),
                       "last_day": last_day.isoformat(), "days": 0, "skipped_days": {},
                       "concealed_rows": 0, "tables": {}}
            # Every day's file is COPYed whole into one stage, merged once (a merge per day cost
            # more than the rows); a day Postgres refuses is landed row by row.
            stats, stage = loader.BatchStats(), loader.Stage(conn, table, load_id, "msgraph")
            landed = []
            for day, path in _daily_reports(source, first_day, last_day):
                if isinstance(path, msgraph.RefusedDay):
                    skipped_days.record(conn, "msgraph", schema, day, path.reason, load_id)
                    summary["skipped_days"][day.isoformat()] = path.reason
                    continue
                origin = f"graph:{day.isoformat()}"
                with path.open("rb") as handle:
                    landed_whole = bulk_copy.copy_csv(stage, handle, origin, stats, msgraph.column_name)
                if not landed_whole:
                    rows = erased.skip(msgraph.read_report(path), "report", "user_principal_name")
                    stage.copy_records(loader.tagged(origin, rows), stats)
                landed.append(day)
            summary["days"] = len(landed)
            summary["concealed_rows"] = msgraph.count_concealed(conn, stage.ident)
            bulk_copy.finish(stage, stats, erased, "report", "user_principal_name")
            if summary["concealed_rows"]:
                log.warning("load %s: %d report rows have concealed names (32-hex hashes): they count in "
                            "'ALL' likes and reads but cannot be joined to a person", load_id,
                            summary["concealed_rows"])
            if summary["skipped_days"]:
                first_reason = next(iter(summary["skipped_days"].values()))
                log.warning("load %s: Graph refused %d day(s), skipped and recorded in "
                            "raw_meta.skipped_days (audit.skipped_source_days after the next build): "
                            "%s; first answer: %s", load_id, len(summary["skipped_days"]),
                            ", ".join(summary["skipped_days"]), first_reason)
            skipped_days.mark_filled(conn, "msgraph", schema, landed, load_id)
            summary["tables"][table.name] = {**stats.counts(),
                                             "skipped_erased": erased.skipped["report"]}
            if landed:
                loader.set_watermark(conn, "msgraph", schema,
                                     datetime.combine(max(landed), datetime.min.time(), UTC), load_id)
            loader.finish_load(conn, load_id, stats)
            conn.commit()
            log.info("load %s: %d day(s) landed, %d skipped; %d rows read, %d changed", load_id,
                     summary["days"], len(summary["skipped_days"]), stats.read, stats.loaded)
            return summary


def _daily_reports(source: SourceConnection, first_day: date, last_day: date
                   ) -> Iterator[tuple[date, Path | msgraph.RefusedDay]]:
    """(day, downloaded report or Graph's refusal) in day order, each file deleted once the caller
    moves on. The next PREFETCH_DAYS days download while this one is landed: a day is two small
    requests (Graph's redirect, then the file), so their latency, not the loader's work, would set
    the pace."""
    days = [first_day + timedelta(days=n) for n in range((last_day - first_day).days + 1)]
    with ThreadPoolExecutor(max_workers=PREFETCH_DAYS, thread_name_prefix="graph-prefetch") as pool:
        pending = deque(pool.submit(msgraph.fetch_user_detail, source.base_url, source.token, day)
                        for day in days[:PREFETCH_DAYS])
        try:
            for n, day in enumerate(days):
                path = pending.popleft().result()
                if n + PREFETCH_DAYS < len(days):
                    pending.append(pool.submit(msgraph.fetch_user_detail, source.base_url, source.token,
                                               days[n + PREFETCH_DAYS]))
                try:
                    yield day, path
                finally:
                    if isinstance(path, Path):
                        path.unlink(missing_ok=True)
        finally:  # the reader stopped early: let the downloads finish, drop their files
            for future in pending:
                if future.exception() is None and isinstance(future.result(), Path):
                    future.result().unlink(missing_ok=True)


SLACK_PEOPLE = {"users": ("email", "id", "slack"), "channels": (None, None, None),
                "messages": (None, "user", "slack")}


def ingest_slack_drop(warehouse_url: str, drop_dir: Path, schema: str = slack.SCHEMA,
                      pseudonym_key: str | None = None) -> dict:
    """Land every Slack workspace export ZIP under <drop_dir>/slack, each on its own (file_drops).

    An export's JSON files are COPYed as documents and expanded by Postgres (slack.copy_export);
    an export it refuses, or with a member too large to read whole, is streamed row by row by the
    readers. A file that is not a ZIP or not a Slack export, or holds a member over the limits or
    that is not a JSON array of objects, is rejected (drop_limits, slack.check_export)."""
    folder = drop_dir / "slack"
    tables = slack.tables(schema)
    limits = DropLimits.from_env()

    def land(conn: psycopg.Connection, path: Path, load_id: int) -> dict:
        erased = erasure.ErasedPeople.load(conn, pseudonym_key)
        try:
            archive = zipfile.ZipFile(path)
        except zipfile.BadZipFile as error:
            raise RejectedFileError(path.name, f"not a ZIP archive ({error})") from error
        with archive:
            slack.check_export(archive, limits)
            stages = {name: loader.Stage(conn, tables[name], load_id, "slack") for name in tables}
            stats = {name: loader.BatchStats() for name in tables}
            _stage_slack_export(conn, archive, path.name, stages, stats, erased, limits)
        out = {}
        for name in tables:  # users first: the ids of erased people's accounts drop their messages
            bulk_copy.finish(stages[name], stats[name], erased, name, *SLACK_PEOPLE[name])
            out[name] = {**stats[name].counts(), "skipped_erased": erased.skipped[name]}
        return out

    files = sorted(folder.glob("*.zip"))
    return file_drops.ingest_files(warehouse_url, "slack", schema, folder, files, land)


def _stage_slack_export(conn: psycopg.Connection, archive: zipfile.ZipFile, name: str,
                        stages: dict[str, loader.Stage], stats: dict[str, loader.BatchStats],
                        erased: erasure.ErasedPeople, limits: DropLimits | None = None) -> None:
    """The export into the stages: as documents, or if declined or refused, row by row."""
    staged: dict[str, int] = {}
    if bulk_json.land(conn, lambda: staged.update(slack.copy_export(conn, archive, stages, name, limits))):
        for table, count in staged.items():
            stats[table].read += count
        return
    log.info("%s: landing row by row (a member too large to read whole, or JSON Postgres refused)", name)
    readers = {"users": slack.read_users, "channels": slack.read_channels, "messages": slack.read_messages}
    for table, reader in readers.items():
        records = erased.skip(reader(archive), table, *SLACK_PEOPLE[table])
        stages[table].copy_records(loader.tagged(f"{name}:{table}", records), stats[table])


def ingest_activity_events_drop(warehouse_url: str, drop_dir: Path,
                                schema: str = activity_events.SCHEMA, pseudonym_key: str | None = None
                                ) -> dict:
    """Land every events file (NDJSON or CSV) under <drop_dir>/activity_events.

    A file reaches Postgres as bytes (CSV: bulk_copy; NDJSON: activity_events.copy_ndjson); one
    Postgres refuses, or with a line that is not a JSON object, is read row by row. A CSV without
    a required column is rejected (RejectedFileError); incomplete events and events conflicting
    with an earlier one of the same id are quarantined (connectors/activity_events.py)."""
    folder = drop_dir / "activity_events"
    table = activity_events.table(schema)

    def land(conn: psycopg.Connection, path: Path, load_id: int) -> dict:
        erased = erasure.ErasedPeople.load(conn, pseudonym_key)
        stats, stage = loader.BatchStats(), loader.Stage(conn, table, load_id, "activity_events")

        def rows() -> Iterator:
            return erased.skip(activity_events.read_events(path), "events", "user_email")

        if path.suffix == ".csv":
            activity_events.check_csv_header(path)
            bulk_copy.land_csv(stage, path.name, lambda: path.open("rb"), rows, stats)
        else:
            _stage_ndjson(conn, stage, path, stats, rows)
        # bulk_copy.finish's steps with the events checks between them, in the row path's order:
        # erased people's events go first (never quarantined: their emails stay out of raw_meta),
        # then keyless ones (that reason on both paths), then the checks on the whole stage.
        bulk_copy.drop_erased(stage, erased, "events", stats, "user_email")
        bulk_copy.quarantine_keyless(stage, stats)
        activity_events.quarantine_incomplete(stage, stats)
        activity_events.quarantine_conflicts(stage, stats)
        stage.merge(stats)
        return {"events": {**stats.counts(), "skipped_erased": erased.skipped["events"]}}

    files = activity_events.event_files(folder) if folder.exists() else []
    return file_drops.ingest_files(warehouse_url, "activity_events", schema, folder, files, land)


def _stage_ndjson(conn: psycopg.Connection, stage: loader.Stage, path: Path, stats: loader.BatchStats,
                  rows: Callable[[], Iterator]) -> None:
    """An NDJSON file into the stage: as documents, or if declined, `rows()` row by row."""
    staged: list[tuple[int, int]] = []
    if bulk_json.land(conn, lambda: staged.append(activity_events.copy_ndjson(conn, stage, path, path.name))):
        events, incomplete = staged[0]
        stats.read += events + incomplete
        stats.quarantined += incomplete
        return
    log.info("%s: landing row by row (Postgres refused a line, or one is not a JSON object)", path.name)
    stage.copy_records(loader.tagged(path.name, rows()), stats)
