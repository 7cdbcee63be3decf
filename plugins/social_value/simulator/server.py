"""The source simulator's HTTP server: the real systems' endpoints on 127.0.0.1.

Serves the Viva Engage network data export (`/api/v1/export`), a synchronous ZIP of CSVs for a
since/until window, behind a bearer token, exactly as the connector meets the real service.
"""

from __future__ import annotations

import argparse
import csv
import io
import logging
import os
import shutil
import tempfile
import zipfile
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from social_value.simulator import organisation

log = logging.getLogger(__name__)

EXPORT_FILES = {
    "User": ("Users.csv", organisation.users),
    "Group": ("Groups.csv", organisation.groups),
    "Message": ("Messages.csv", organisation.messages),
}


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def write_export(out, scale: organisation.Scale, since: datetime, until: datetime,
                 models: list[str]) -> None:
    """Write the export ZIP for one window; messages by created_at in [since, until)."""
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for model in models:
            if model not in EXPORT_FILES:
                continue
            name, rows = EXPORT_FILES[model]
            with archive.open(name, "w") as raw:
                text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
                writer = None
                for row in rows(scale):
                    if model == "Message" and not since <= _parse_time(row["created_at"]) < until:
                        continue
                    if writer is None:
                        writer = csv.DictWriter(text, fieldnames=list(row))
                        writer.writeheader()
                    writer.writerow(row)
                text.flush()
                text.detach()


class Handler(BaseHTTPRequestHandler):
    scale = organisation.Scale()
    token = ""

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib signature
        log.info("simulator: " + format, *args)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if self.headers.get("Authorization") != f"Bearer {self.token}":
            self._json(401, '{"error": "invalid or missing bearer token"}')
            return
        if url.path == "/api/v1/export":
            self._export(parse_qs(url.query))
        else:
            self._json(404, '{"error": "not found"}')

    def _export(self, query: dict[str, list[str]]) -> None:
        try:
            since = _parse_time(query["since"][0])
            until = _parse_time(query.get("until", ["2999-01-01T00:00:00Z"])[0])
        except (KeyError, ValueError):
            self._json(400, '{"error": "since (ISO-8601) is required"}')
            return
        with tempfile.SpooledTemporaryFile(max_size=8 << 20) as body:
            write_export(body, self.scale, since, until, query.get("model", list(EXPORT_FILES)))
            size = body.tell()
            body.seek(0)
            self.send_response(200)
            self.send_header("Content-Type", "application/zip")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            shutil.copyfileobj(body, self.wfile)

    def _json(self, status: int, body: str) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def serve(port: int, token: str, scale: organisation.Scale) -> ThreadingHTTPServer:
    handler = type("BoundHandler", (Handler,), {"scale": scale, "token": token})
    return ThreadingHTTPServer(("127.0.0.1", port), handler)


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the source simulator on 127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--employees", type=int, default=organisation.Scale.employees)
    parser.add_argument("--months", type=int, default=organisation.Scale.months)
    parser.add_argument("--seed", type=int, default=organisation.Scale.seed)
    args = parser.parse_args()
    token = os.environ.get("SVW_SOURCE_TOKEN")
    if not token:
        raise SystemExit("SVW_SOURCE_TOKEN is not set: the simulator checks the same bearer token "
                         "the connectors send")
    logging.basicConfig(level=logging.WARNING)
    server = serve(args.port, token, organisation.Scale(args.employees, args.months, args.seed))
    print(f"simulator listening on http://127.0.0.1:{args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
