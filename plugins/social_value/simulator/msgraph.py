"""Microsoft Graph Viva Engage activity report, per day: likes and reads per user.

`GET /v1.0/reports/getYammerActivityUserDetail(date=YYYY-MM-DD)` answers 302 to the CSV, as Graph
does. Columns as Graph writes them (with a BOM); empty counts are "" rather than 0. With the
`concealed_names` switch, user names are 32-hex hashes, as in tenants that conceal them. Unlike
Graph (28 days back), any day of the simulated period can be asked for; with `graph_retention`, a
day 28 or more days before the simulator's today (the day after its end) is refused with HTTP 400,
in Graph's words.
"""

from __future__ import annotations

import csv
import hashlib
import io
import random
import re
from datetime import date, datetime, timedelta
from functools import lru_cache

from social_value.simulator import organisation
from social_value.simulator.api import Request, Response, json_response
from social_value.simulator.organisation import Scale

RETENTION_DAYS = 28  # Graph: "Only support data for the past 28 days."
COLUMNS = ["Report Refresh Date", "User Principal Name", "Display Name", "User State", "State Change Date",
           "Last Activity Date", "Posted Count", "Read Count", "Liked Count", "Assigned Products",
           "Report Period"]


def day_rows(scale: Scale, day: date, concealed: bool = False) -> list[dict]:
    """One row per person registered that day; counts drawn per (seed, day, person)."""
    rows = []
    moment = datetime(day.year, day.month, day.day, 12, tzinfo=scale.end.tzinfo)
    for user in _people(scale):
        if not organisation._is_member(user, moment):
            continue
        rnd = random.Random(f"{scale.seed}-graph-{day.isoformat()}-{user['id']}")
        weekend = day.weekday() >= 5
        reads = 0 if weekend or rnd.random() < 0.35 else rnd.randint(1, 25)
        likes = 0 if reads == 0 or rnd.random() < 0.5 else rnd.randint(1, 6)
        upn = _conceal(user["email"]) if concealed else user["email"]
        rows.append({
            "Report Refresh Date": day.isoformat(), "User Principal Name": upn,
            "Display Name": _conceal(user["name"]) if concealed else user["name"],
            "User State": "Active", "State Change Date": "",
            "Last Activity Date": day.isoformat() if reads else "",
            "Posted Count": "", "Read Count": str(reads) if reads else "",
            "Liked Count": str(likes) if likes else "", "Assigned Products": "MICROSOFT 365 E3",
            "Report Period": "1"})
    return rows


@lru_cache(maxsize=4)
def _people(scale: Scale) -> tuple[dict, ...]:
    """The directory, generated once per scale rather than once per requested day."""
    return tuple(organisation.users(scale))


def _conceal(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest().upper()  # 32 hex digits, as Graph shows them


def report(request: Request) -> Response:
    if "graph_retention" in request.faults and _past_retention(request.scale, request.match["day"]):
        return json_response({"error": {"code": "InvalidArgument", "message": (
            f"Invalid date value specified: {request.match['day']}. "
            f"Only support data for the past {RETENTION_DAYS} days.")}}, 400)
    location = f"{request.base_url}/reports-download/yammer-activity-user-detail/{request.match['day']}.csv"
    return Response(302, b"", "text/plain", {"Location": location})


def _past_retention(scale: Scale, day: str) -> bool:
    today = scale.end.date() + timedelta(days=1)
    try:
        return date.fromisoformat(day) <= today - timedelta(days=RETENTION_DAYS)
    except ValueError:  # not a date: download() answers that
        return False


def download(request: Request) -> Response:
    try:
        day = date.fromisoformat(request.match["day"])
    except ValueError:
        return json_response({"error": {"code": "BadRequest", "message": "invalid date"}}, 400)
    if not request.scale.start.date() <= day <= request.scale.end.date():
        rows = []
    else:
        rows = day_rows(request.scale, day, "concealed_names" in request.faults)
    out = io.StringIO()
    writer = csv.writer(out)  # as DictWriter writes it, without its per-row key checks
    writer.writerow(COLUMNS)
    writer.writerows([row[column] for column in COLUMNS] for row in rows)
    return Response(200, ("\ufeff" + out.getvalue()).encode(), "application/octet-stream")


ROUTES = [
    (re.compile(r"/v1\.0/reports/getYammerActivityUserDetail\(date=(?P<day>\d{4}-\d{2}-\d{2})\)"), report),
    (re.compile(r"/reports-download/yammer-activity-user-detail/(?P<day>[0-9-]+)\.csv"), download),
]
