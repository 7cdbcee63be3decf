"""Land files dropped in a folder (exports that arrive as files): each file on its own, once per content.

A file is identified by its name under the drop folder and its sha256: an unchanged file is skipped,
a changed one (a re-export) is merged again, which the merge on source keys makes harmless.

Each new or changed file is one load and one transaction, so one file never holds back another:
- A file that cannot be read as its source's format (not an archive, corrupt, a member over a size
  or compression limit, a layout we do not know: RejectedFileError and the decoding errors in
  UNREADABLE) is rejected. Nothing of it lands; raw_meta.rejected_files keeps its name, sha256,
  member and reason (copied to audit.rejected_files by every build), its load is marked
  'rejected', and it is not read again until its content changes. The run succeeds, with a warning
  and the rejection in its summary: a retry cannot make a broken file readable.
- Any other error (the warehouse, a bug) fails that file's load; the files after it are still
  landed, and then the run fails with the first such error (noting every failed file), so that
  Airflow's retries read them again unless the error is permanent (task_errors).
"""

from __future__ import annotations

import csv
import logging
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import psycopg

from social_value import loader
from social_value.rejections import RejectedFileError

log = logging.getLogger(__name__)

LandFile = Callable[[psycopg.Connection, Path, int], dict]

# Errors that mean the file's bytes, not the warehouse or the code, are at fault. ValueError covers
# JSON and UTF-8 decoding (and RejectedFileError itself).
UNREADABLE = (ValueError, zipfile.BadZipFile, zlib.error, EOFError, csv.Error)

REJECTED_DDL = """
create table if not exists raw_meta.rejected_files (
    source text not null,
    path text not null,
    sha256 text not null,
    size_bytes bigint not null,
    member text,
    reason text not null,
    load_id bigint not null references raw_meta.loads (load_id),
    rejected_at timestamptz not null default now(),
    primary key (source, path, sha256)
);
comment on table raw_meta.rejected_files is 'Dropped files that could not be read, with the member'
    ' at fault and why; such a file is read again only once its content (sha256) changes.';
"""


def ingest_files(warehouse_url: str, source: str, target: str, folder: Path, files: list[Path],
                 land: LandFile) -> dict:
    """Land the new or changed `files` with `land`, each in a load of its own; the register is kept
    per target schema. Returns what happened to each file and counts per table."""
    summary: dict = {"source": source, "load_ids": [], "files": {}, "unchanged": [], "rejected": {},
                     "still_rejected": [], "tables": {}}
    failed: list[tuple[str, Exception]] = []
    with psycopg.connect(warehouse_url) as conn:
        conn.execute(loader.META_DDL)
        conn.execute(REJECTED_DDL)
        pending = []
        for path in files:
            name = path.relative_to(folder).as_posix()
            digest, size = loader.file_digest(path)
            if loader.file_already_loaded(conn, source, f"{target}:{name}", digest):
                summary["unchanged"].append(name)
            elif rejected_before(conn, source, f"{target}:{name}", digest):
                summary["still_rejected"].append(name)
            else:
                pending.append((path, name, digest, size))
        conn.commit()
        if summary["unchanged"]:
            log.info("%s: %d file(s) unchanged since their last load: %s", source, len(summary["unchanged"]),
                     ", ".join(summary["unchanged"]))
        if summary["still_rejected"]:
            log.warning("%s: %d file(s) rejected before and unchanged since, not read again (see "
                        "raw_meta.rejected_files): %s", source, len(summary["still_rejected"]),
                        ", ".join(summary["still_rejected"]))
        if not pending:
            log.info("%s: no new files in %s", source, folder)
        for path, name, digest, size in pending:
            load_id = loader.start_load(conn, source, None)
            summary["load_ids"].append(load_id)
            log.info("load %s: %s (%d bytes)", load_id, name, size)
            try:
                tables = land(conn, path, load_id)
                loader.record_file(conn, source, f"{target}:{name}", digest, size, load_id)
                loader.finish_load(conn, load_id, _totals(tables))
                conn.commit()
            except UNREADABLE as error:
                rejection = rejection_of(error)
                record_rejection(conn, source, f"{target}:{name}", digest, size, load_id, rejection)
                summary["rejected"][name] = {**rejection, "sha256": digest}
                log.warning("load %s: %s rejected%s: %s", load_id, name,
                            f" (member {rejection['member']})" if rejection["member"] else "",
                            rejection["reason"])
                continue
            except Exception as error:
                error.add_note(f"while landing {source} file {name} (load {load_id})")
                if isinstance(error, psycopg.OperationalError):
                    raise  # the connection is gone: nothing else can land
                loader.fail_load(conn, load_id, f"{name}: {type(error).__name__}: {error}")
                failed.append((name, error))
                log.exception("load %s: %s failed; landing the other files", load_id, name)
                continue
            summary["files"][name] = tables
            _add(summary["tables"], tables)
    if failed:  # the first error as it was (so it is classed as permanent or not), naming them all
        first = failed[0][1]
        if len(failed) > 1:
            first.add_note(f"{len(failed)} {source} files failed to land: "
                           + ", ".join(name for name, _ in failed))
        raise first
    if summary["rejected"]:
        log.warning("%s: %d file(s) rejected, the rest landed; see raw_meta.rejected_files (audit."
                    "rejected_files after the next build): %s", source, len(summary["rejected"]),
                    ", ".join(summary["rejected"]))
    return summary


def rejection_of(error: Exception) -> dict:
    """The member at fault (if the error names one) and the reason."""
    if isinstance(error, RejectedFileError):
        return {"member": error.member, "reason": error.reason}
    return {"member": None, "reason": f"{type(error).__name__}: {error}"}


def _totals(tables: dict) -> loader.BatchStats:
    counts = tables.values()
    return loader.BatchStats(sum(t["read"] for t in counts), sum(t["changed"] for t in counts),
                             sum(t["quarantined"] for t in counts))


def _add(totals: dict, tables: dict) -> None:
    for name, counts in tables.items():
        table = totals.setdefault(name, {"read": 0, "changed": 0, "quarantined": 0})
        for key in table:
            table[key] += counts[key]


def rejected_before(conn: psycopg.Connection, source: str, path: str, sha256: str) -> bool:
    """A dropped file with these exact contents was rejected before (a changed file is read again)."""
    return conn.execute("select 1 from raw_meta.rejected_files where source = %s and path = %s "
                        "and sha256 = %s", (source, path, sha256)).fetchone() is not None


def note_rejection(conn: psycopg.Connection, source: str, path: str, sha256: str, size: int,
                   load_id: int, rejection: dict) -> None:
    """Add the file to raw_meta.rejected_files, in the caller's transaction."""
    conn.execute("insert into raw_meta.rejected_files (source, path, sha256, size_bytes, member, reason, "
                 "load_id) values (%s, %s, %s, %s, %s, %s, %s) on conflict do nothing",
                 (source, path, sha256, size, rejection["member"], rejection["reason"][:4000], load_id))


def record_rejection(conn: psycopg.Connection, source: str, path: str, sha256: str, size: int,
                     load_id: int, rejection: dict) -> None:
    """Roll back what the file staged, then record it as rejected and its load as 'rejected'."""
    conn.rollback()
    note_rejection(conn, source, path, sha256, size, load_id, rejection)
    member = f" (member {rejection['member']})" if rejection["member"] else ""
    conn.execute("update raw_meta.loads set status = 'rejected', finished_at = clock_timestamp(), "
                 "rows_read = 0, rows_loaded = 0, rows_quarantined = 0, error = %s where load_id = %s",
                 (f"{path}{member}: {rejection['reason']}"[:4000], load_id))
    conn.commit()
