"""Slack workspace export (file drop): a ZIP of channels.json, users.json, integration_logs.json
and one folder per channel of `YYYY-MM-DD.json` message arrays, as Slack writes it.

Slack is the organisation's second platform: most people also have a Slack account (same email),
two bots post too, people join channels, start threads, reply and react.
"""

from __future__ import annotations

import json
import random
import zipfile
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from social_value.simulator import organisation
from social_value.simulator.api import Faults
from social_value.simulator.organisation import Scale

CHANNELS = ["algemeen", "klantverhalen", "it-hulp", "sales-team"]
REACTIONS = ["+1", "heart", "tada", "eyes", "raised_hands"]


def members(scale: Scale) -> list[dict]:
    """Slack users: about 70% of the intranet's people, plus two bots without email."""
    result = []
    for n, user in enumerate(organisation.users(scale)):
        if n % 10 < 7:
            result.append({
                "id": f"U{n:08X}", "team_id": "T0SIMULATE", "name": user["email"].split("@")[0],
                "real_name": user["name"], "deleted": bool(user["deleted_at"]), "is_bot": False,
                "tz": "Europe/Amsterdam",
                "profile": {"email": user["email"], "real_name": user["name"], "title": user["job_title"]},
                "_joined": user["joined_at"], "_left": user["deleted_at"]})
    for n, name in enumerate(["deploybot", "weekstart"]):
        result.append({"id": f"UB{n:07X}", "team_id": "T0SIMULATE", "name": name, "real_name": name,
                       "deleted": False, "is_bot": True, "profile": {"real_name": name},
                       "_joined": "2020-01-01T00:00:00Z", "_left": ""})
    return result


def _ts(moment: datetime, n: int) -> str:
    return f"{int(moment.timestamp())}.{n:06d}"


def channel_messages(scale: Scale) -> dict[str, dict[str, list[dict]]]:
    """channel → day → messages, all of them (small scales and tests; the export streams)."""
    out: dict[str, dict[str, list[dict]]] = defaultdict(dict)
    for channel, day, messages in day_files(scale):
        out[channel][day] = messages
    return out


def day_files(scale: Scale) -> Iterator[tuple[str, str, list[dict]]]:
    """(channel, day, that day's messages in time order), day by day: a day is complete once the
    next one starts (a reply lands on its thread's day or the one after), so only two days are
    ever held in memory."""
    rnd = random.Random(f"{scale.seed}-slack")
    people = [m for m in members(scale) if not m["is_bot"]]
    bots = [m for m in members(scale) if m["is_bot"]]
    out: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    day, counter = scale.start, 0
    while day <= scale.end:
        for channel in CHANNELS:
            for _ in range(rnd.randint(0, max(1, scale.employees // 20))):
                author = rnd.choice(people)
                moment = day + timedelta(minutes=rnd.randint(480, 1080))
                if not _present(author, moment):
                    continue
                counter += 1
                ts = _ts(moment, counter)
                message = {"type": "message", "user": author["id"], "text": rnd.choice([
                    "Weet iemand hoe dit werkt?", "Dank voor de hulp! #intranetwerkt",
                    "Klant was blij met de demo #watdeklantvindt", "Printer doet het weer niet #gedoe",
                    "Zie https://intranet.example.org/page#anchor voor details"]), "ts": ts,
                    "blocks": [], "client_msg_id": f"{counter:08x}-sim"}
                replies = []
                for _ in range(rnd.choice([0, 0, 1, 2])):
                    replier = rnd.choice(people)
                    moment += timedelta(minutes=rnd.randint(2, 240))
                    if moment > scale.end or not _present(replier, moment):
                        continue
                    counter += 1
                    reply_ts = _ts(moment, counter)
                    replies.append({"user": replier["id"], "ts": reply_ts})
                    out[channel][moment.strftime("%Y-%m-%d")].append({
                        "type": "message", "user": replier["id"], "text": "Top, dank je!",
                        "ts": reply_ts, "thread_ts": ts, "parent_user_id": author["id"]})
                if replies:
                    message.update(thread_ts=ts, reply_count=len(replies),
                                   reply_users=sorted({r["user"] for r in replies}), replies=replies)
                if rnd.random() < 0.5:
                    # Only members react, and a reaction counts on its message's day.
                    posted = datetime.fromtimestamp(float(ts), UTC)
                    fans = [fan for fan in rnd.sample(people, k=rnd.randint(1, 4)) if _present(fan, posted)]
                    name = rnd.choice(REACTIONS)
                    if fans:
                        message["reactions"] = [{"name": name, "users": [f["id"] for f in fans],
                                                 "count": len(fans)}]
                out[channel][day.strftime("%Y-%m-%d")].append(message)
        if rnd.random() < 0.3:
            counter += 1
            out["algemeen"][day.strftime("%Y-%m-%d")].append({
                "type": "message", "subtype": "bot_message", "bot_id": "B0WEEKSTART",
                "username": bots[1]["name"], "text": "Goedemorgen! Nieuwe week.",
                "ts": _ts(day + timedelta(hours=8), counter)})
        yield from _complete_days(out, day.strftime("%Y-%m-%d"))
        day += timedelta(days=1)
    yield from _complete_days(out, "9999-12-31")


def _complete_days(out: dict[str, dict[str, list[dict]]], last: str
                   ) -> Iterator[tuple[str, str, list[dict]]]:
    """Take every buffered day up to `last` out of `out`, in day then channel order."""
    done = sorted((day, channel) for channel, days in out.items() for day in days if day <= last)
    for day, channel in done:
        messages = out[channel].pop(day)
        messages.sort(key=lambda m: float(m["ts"]))  # Slack writes each day's messages in time order
        yield channel, day, messages


def _present(member: dict, moment: datetime) -> bool:
    joined = datetime.fromisoformat(member["_joined"].replace("Z", "+00:00"))
    left = member["_left"] and datetime.fromisoformat(member["_left"].replace("Z", "+00:00"))
    return joined <= moment and not (left and left <= moment)


def write_export(path: Path, scale: Scale, faults: Faults, since: datetime | None = None,
                 until: datetime | None = None) -> None:
    """The workspace export; with since/until, only the day files of [since, until) (an export of a
    date range, as Slack's export dialog makes), users and channels always whole."""
    people = members(scale)
    low = since.strftime("%Y-%m-%d") if since else ""
    high = until.strftime("%Y-%m-%d") if until else "9999-12-31"
    creator = people[0]["id"]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("users.json", json.dumps(
            [{k: v for k, v in m.items() if not k.startswith("_")} for m in people], ensure_ascii=False))
        archive.writestr("channels.json", json.dumps([
            {"id": f"C{n:08X}", "name": name, "created": int(datetime(2020, 1, 1, tzinfo=UTC).timestamp()),
             "creator": creator, "is_archived": False, "is_general": name == "algemeen",
             "members": [m["id"] for m in people if not m["is_bot"]][: 10 + n],
             "topic": {"value": "", "creator": "", "last_set": 0},
             "purpose": {"value": f"Kanaal {name}", "creator": creator, "last_set": 0}}
            for n, name in enumerate(CHANNELS)]))
        archive.writestr("integration_logs.json", "[]")
        for channel, day, day_messages in day_files(scale):
            if low <= day < high:
                archive.writestr(f"{channel}/{day}.json", json.dumps(day_messages, ensure_ascii=False))


DROPS = {"slack/workspace-export.zip": write_export}
