"""Viva Engage network data export: `GET /api/v1/export?since=&until=&model=...` → ZIP of CSVs."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import datetime

from social_value.simulator import crm_world, organisation
from social_value.simulator.api import Faults, Request, Response, json_response


def messages(scale: organisation.Scale):
    """Everyday conversation plus the messages that give opportunities their social support."""
    yield from organisation.messages(scale)
    yield from crm_world.support_messages(scale)


EXPORT_FILES = {
    "User": ("Users.csv", organisation.users),
    "Group": ("Groups.csv", organisation.groups),
    "Message": ("Messages.csv", messages),
}


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def write_export(out, scale: organisation.Scale, since: datetime, until: datetime,
                 models: list[str], faults: Faults | None = None) -> None:
    """Write the export ZIP for one window; messages by created_at in [since, until).

    Format faults, each on Messages.csv: `bom`, `extra_columns` (network_id), `missing_columns`
    (title, html_body), `duplicates` (the first message twice), `quoted_newlines`, `nul` and
    `invalid_utf8` (one body each, which the loader must quarantine).
    """
    faults = faults or Faults()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for model in models:
            if model not in EXPORT_FILES:
                continue
            name, rows = EXPORT_FILES[model]
            with archive.open(name, "w") as raw:
                if model == "Message" and "bom" in faults:
                    raw.write("\ufeff".encode())
                text = io.TextIOWrapper(raw, encoding="utf-8", errors="surrogateescape", newline="")
                writer = None
                for n, row in enumerate(rows(scale)):
                    if model == "Message":
                        if not since <= _parse_time(row["created_at"]) < until:
                            continue
                        row = _with_faults(row, n, faults)
                    if writer is None:
                        writer = csv.DictWriter(text, fieldnames=list(row))
                        writer.writeheader()
                    writer.writerow(row)
                    if model == "Message" and n == 0 and "duplicates" in faults:
                        writer.writerow(row)
                text.flush()
                text.detach()


def _with_faults(row: dict, n: int, faults: Faults) -> dict:
    row = dict(row)
    if "extra_columns" in faults:
        row["network_id"] = "4711"
    if "missing_columns" in faults:
        row.pop("title")
        row.pop("html_body")
    if "quoted_newlines" in faults and n == 1:
        row["body"] += "\nTweede regel, \"geciteerd\", met komma"
    if "nul" in faults and n == 2:
        row["body"] += "\x00"
    if "invalid_utf8" in faults and n == 3:
        row["body"] += "\udcff"  # written back as the single byte 0xFF: not UTF-8
    return row


def export(request: Request) -> Response:
    try:
        since = _parse_time(request.arg("since"))
        until = _parse_time(request.arg("until", "2999-01-01T00:00:00Z"))
    except (TypeError, ValueError):
        return json_response({"error": "since (ISO-8601) is required"}, 400)
    body = io.BytesIO()
    write_export(body, request.scale, since, until, request.query.get("model", list(EXPORT_FILES)),
                 request.faults)
    return Response(200, body.getvalue(), "application/zip")


ROUTES = [(re.compile(r"/api/v1/export"), export)]
