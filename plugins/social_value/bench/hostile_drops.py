"""Hostile file drops for the memory benchmark: inputs whose members and records are far larger
than anything the simulator writes, written in chunks so that writing them costs little memory.

- slack/huge-day.zip: a Slack export whose one day file is `megabytes` of messages (text that
  hardly compresses, so it is within the ratio limit and is streamed row by row), plus one message
  of `record_mb` (over the record limit: quarantined without being held).
- slack/bomb.zip: a day file of `megabytes` of blanks that deflates to next to nothing (rejected by
  the ratio limit before anything is read).
- activity_events/huge-line.ndjson: events around one line of `record_mb`.
"""

from __future__ import annotations

import base64
import json
import os
import zipfile
from pathlib import Path

MIB = 1 << 20
USERS = [{"id": "U1", "name": "bench", "profile": {"email": "bench@example.org"}}]
CHANNELS = [{"id": "C1", "name": "algemeen", "members": ["U1"]}]


def _text(size: int) -> str:
    return base64.b64encode(os.urandom(size * 3 // 4)).decode()


def write(folder: Path, megabytes: int = 200, record_mb: int = 50) -> dict[str, int]:
    """Write the hostile drops under `folder`; the bytes of each large member or line."""
    (folder / "slack").mkdir(parents=True, exist_ok=True)
    (folder / "activity_events").mkdir(parents=True, exist_ok=True)
    sizes = {}
    huge_day = folder / "slack" / "huge-day.zip"
    with zipfile.ZipFile(huge_day, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as out:
        out.writestr("users.json", json.dumps(USERS))
        out.writestr("channels.json", json.dumps(CHANNELS))
        with out.open("algemeen/2026-09-01.json", "w", force_zip64=True) as day:
            written, n = day.write(b"["), 0
            while written < megabytes * MIB:
                message = {"type": "message", "user": "U1", "ts": f"1788000000.{n:06d}", "text": _text(4000)}
                written += day.write((b"," if n else b"") + json.dumps(message).encode())
                n += 1
            huge = json.dumps({"type": "message", "user": "U1", "ts": "1788999999.000000",
                               "text": "TEXT"}).encode()
            head, tail = huge.split(b"TEXT")
            written += day.write(b"," + head)
            for _ in range(record_mb):
                written += day.write(_text(MIB).encode())
            written += day.write(tail + b"]")
        sizes["slack day file"] = written
    with zipfile.ZipFile(folder / "slack" / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("users.json", json.dumps(USERS))
        out.writestr("channels.json", json.dumps(CHANNELS))
        with out.open("algemeen/2026-09-02.json", "w", force_zip64=True) as day:
            day.write(b"[")
            blanks = b" " * MIB
            for _ in range(megabytes):
                day.write(blanks)
            day.write(b"]")
        sizes["zip bomb member"] = megabytes * MIB + 2
    with (folder / "activity_events" / "huge-line.ndjson").open("wb") as events:
        for n in range(100):
            events.write(json.dumps({"event_id": f"evt-{n}", "user_email": "bench@example.org",
                                     "event_type": "view"}).encode() + b"\n")
        events.write(b'{"event_id": "evt-huge", "object_id": "')
        for _ in range(record_mb):
            events.write(_text(MIB).encode())
        events.write(b'"}\n')
        sizes["events line"] = record_mb * MIB
    return sizes
