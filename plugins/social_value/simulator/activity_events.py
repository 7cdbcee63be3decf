"""Generic activity events (file drop): views and downloads from the intranet's pages and documents.

The project's own open format (README, "Activity events"): one event per NDJSON line or CSV row with
event_id, occurred_at (ISO-8601 with offset), user_email, event_type (view | download | share | ...),
object_type, object_id. The simulator writes most of the period as NDJSON and the last month as CSV,
so both readers are exercised.
"""

from __future__ import annotations

import csv
import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

from social_value.simulator import organisation
from social_value.simulator.api import Faults
from social_value.simulator.organisation import Scale

FIELDS = ["event_id", "occurred_at", "user_email", "event_type", "object_type", "object_id"]
AMSTERDAM = timezone(timedelta(hours=2))


def events(scale: Scale):
    rnd = random.Random(f"{scale.seed}-events")
    people = [u for u in organisation.users(scale) if not u["deleted_at"]]
    day, n = scale.start, 0
    while day <= scale.end:
        for _ in range(rnd.randint(scale.employees // 3, scale.employees)):
            person = rnd.choice(people)
            moment = day + timedelta(minutes=rnd.randint(420, 1140))
            if not organisation._is_member(person, moment):  # nobody reads before joining
                continue
            n += 1
            kind = rnd.choices(["view", "download", "share"], weights=[80, 15, 5])[0]
            yield {"event_id": f"evt-{n:09d}", "occurred_at": moment.astimezone(AMSTERDAM).isoformat(),
                   "user_email": person["email"], "event_type": kind,
                   "object_type": "document" if kind == "download" else rnd.choice(["page", "document"]),
                   "object_id": f"obj-{rnd.randint(1, 400)}"}
        day += timedelta(days=1)


def _last_month_start(scale: Scale):
    return scale.end.replace(day=1, hour=0, minute=0, second=0)


def _local(moment: datetime | None) -> str | None:
    """A bound as the events' own timestamp text (same offset), so strings compare in time order."""
    return moment.astimezone(AMSTERDAM).isoformat() if moment else None


def _within(events, since: datetime | None, until: datetime | None):
    """The events in [since, until)."""
    low, high = _local(since), _local(until)
    for event in events:
        if (not low or event["occurred_at"] >= low) and (not high or event["occurred_at"] < high):
            yield event


def write_ndjson(path: Path, scale: Scale, faults: Faults, since: datetime | None = None,
                 until: datetime | None = None) -> None:
    """Events before the last month (within [since, until) when given) as NDJSON."""
    cut = _last_month_start(scale)
    with path.open("w", encoding="utf-8", newline="\n") as out:
        for event in _within(events(scale), since, min(cut, until) if until else cut):
            out.write(json.dumps(event) + "\n")


def write_csv(path: Path, scale: Scale, faults: Faults, since: datetime | None = None,
              until: datetime | None = None) -> None:
    """Events of the last month (within [since, until) when given) as CSV."""
    cut = _last_month_start(scale)
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(_within(events(scale), max(cut, since) if since else cut, until))


DROPS = {"activity_events/events-history.ndjson": write_ndjson,
         "activity_events/events-last-month.csv": write_csv}
