"""Land files dropped in a folder (exports that arrive as files): each file once per content.

A file is identified by its name under the drop folder and its sha256: an unchanged file is skipped,
a changed one (a re-export) is merged again, which the merge on source keys makes harmless. All new
files of one run are one load and one transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import psycopg

from social_value import loader

log = logging.getLogger(__name__)

LandFile = Callable[[psycopg.Connection, Path, int], dict]


def ingest_files(warehouse_url: str, source: str, target: str, folder: Path, files: list[Path],
                 land: LandFile) -> dict:
    """Land the new or changed `files` with `land`; the register is kept per target schema."""
    summary: dict = {"source": source, "load_id": None, "files": {}, "unchanged": [], "tables": {}}
    with psycopg.connect(warehouse_url) as conn:
        conn.execute(loader.META_DDL)
        pending = []
        for path in files:
            name = str(path.relative_to(folder))
            digest, size = loader.file_digest(path)
            if loader.file_already_loaded(conn, source, f"{target}:{name}", digest):
                summary["unchanged"].append(name)
            else:
                pending.append((path, name, digest, size))
        conn.commit()
        if summary["unchanged"]:
            log.info("%s: %d file(s) unchanged since their last load: %s", source, len(summary["unchanged"]),
                     ", ".join(summary["unchanged"]))
        if not pending:
            log.info("%s: no new files in %s", source, folder)
            return summary
        with loader.recorded_load(conn, source, None) as load_id:
            summary["load_id"] = load_id
            for path, name, digest, size in pending:
                log.info("load %s: %s (%d bytes)", load_id, name, size)
                summary["files"][name] = land(conn, path, load_id)
                loader.record_file(conn, source, f"{target}:{name}", digest, size, load_id)
            for tables in summary["files"].values():
                for name, counts in tables.items():
                    table = summary["tables"].setdefault(name, {"read": 0, "changed": 0, "quarantined": 0})
                    for key in table:
                        table[key] += counts[key]
            totals = summary["tables"].values()
            loader.finish_load(conn, load_id, loader.BatchStats(
                sum(t["read"] for t in totals), sum(t["changed"] for t in totals),
                sum(t["quarantined"] for t in totals)))
            conn.commit()
    return summary
