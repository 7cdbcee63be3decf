"""A believable organisation, generated deterministically from a seed.

Everything is a generator over plain dicts in the source systems' own field names, so the server
can stream any scale without holding it in memory. Same seed and scale → byte-identical output.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from itertools import accumulate

DEPARTMENTS = ["Sales", "Delivery", "Consulting", "Finance", "HR", "Marketing", "IT", "Legal"]
FIRST = ["Anna", "Bram", "Chloé", "Daan", "Eva", "Finn", "Greet", "Hugo", "Iris", "Joost", "Kim",
         "Lars", "Mila", "Noah", "Olga", "Pim", "Roos", "Sem", "Tess", "Umut", "Vera", "Wout"]
LAST = ["de Vries", "Jansen", "Bakker", "Visser", "Smit", "Meijer", "de Boer", "Mulder", "Bos",
        "Vos", "Peters", "Hendriks", "van Dijk", "Dekker", "Brouwer", "Ősz", "Yılmaz"]
TOPICS = ["de offerte voor klant", "het nieuwe CRM-scherm", "de kwartaalcijfers", "onboarding",
          "het projectplan", "de klantpresentatie", "de planning", "het intranet"]
TAGS = ["#intranetwerkt", "#watdeklantvindt", "#opgelost", "#één", "#e\u0301e\u0301n", ""]


@dataclass(frozen=True)
class Scale:
    employees: int = 60
    months: int = 6
    seed: int = 42
    # The last simulated day; fixed so that reruns on other days give the same data.
    end: datetime = datetime(2026, 10, 31, 23, 59, 59, tzinfo=UTC)

    @property
    def start(self) -> datetime:
        month = self.end.month - self.months + 1
        year = self.end.year + (month - 1) // 12
        return datetime(year, (month - 1) % 12 + 1, 1, tzinfo=UTC)


def _ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def users(scale: Scale) -> Iterator[dict]:
    rnd = random.Random(f"{scale.seed}-users")
    for n in range(scale.employees):
        user_id = 1_500_000 + n
        first, last = rnd.choice(FIRST), rnd.choice(LAST)
        # Most people were there before the window; some join during it, a few leave.
        joined = scale.start - timedelta(days=rnd.randint(30, 2000))
        if rnd.random() < 0.15:
            joined = scale.start + timedelta(days=rnd.randint(0, scale.months * 30 - 1))
        deleted = None
        if rnd.random() < 0.05:
            deleted = joined + timedelta(days=rnd.randint(40, 400))
            if deleted > scale.end:
                deleted = None
        department = DEPARTMENTS[n % len(DEPARTMENTS)] if rnd.random() > 0.04 else ""
        yield {
            "id": str(user_id),
            "name": f"{first} {last}",
            "email": f"{first.lower()}.{last.lower().replace(' ', '')}{n}@example.org",
            "job_title": "Medewerker",
            "location": "Utrecht",
            "department": department,
            "api_url": f"https://www.yammer.com/api/v1/users/{user_id}",
            "deleted_by_id": "", "deleted_by_type": "",
            "joined_at": _ts(joined),
            "deleted_at": _ts(deleted) if deleted else "",
            "suspended_by_id": "", "suspended_by_type": "", "suspended_at": "",
            "guid": f"{user_id:032x}",
            "state": "soft_delete" if deleted else "active",
            "office_user_id": "",
        }


def groups(scale: Scale) -> Iterator[dict]:
    rnd = random.Random(f"{scale.seed}-groups")
    for n in range(max(3, scale.employees // 10)):
        created = scale.start - timedelta(days=rnd.randint(10, 900))
        yield {
            "id": str(9_000 + n), "name": f"Team {DEPARTMENTS[n % len(DEPARTMENTS)]} {n}",
            "description": "", "private": "false" if n % 4 else "true", "moderated": "false",
            "api_url": "", "created_by_id": str(1_500_000 + rnd.randrange(scale.employees)),
            "created_by_type": "User", "created_at": _ts(created), "updated_at": _ts(created),
            "deleted": "false", "external": "false", "office_group_id": "",
        }


# Text the hashtag grammar must not mistake for hashtags (METRICS.md), and text that must stay inert.
NOISE = ["Dat was Jan&#39;s idee", "zie https://intranet.example.org/wiki/page#anchor", "ticket #4521",
         "terug naar /#top", "<script>alert('x')</script> '); drop table marts.metric_values; --"]
QUESTION_TAILS = ["", " #it", " https://intranet.example.org/faq",
                  " #vraag https://intranet.example.org/kb/12 "]


def messages(scale: Scale) -> Iterator[dict]:
    """Threads and replies in time order, with the export's columns.

    People differ in how much they write (a few write a lot, many rarely); about a third of the
    threads are questions, some asked with trailing hashtags or links, most answered by someone
    else and some only by the asker; pain points (#gedoe, sometimes #Gedoe) are often resolved
    later in the thread (#opgelost); a few messages are system messages or deleted.
    """
    rnd = random.Random(f"{scale.seed}-messages")
    people = [(int(u["id"]), u) for u in users(scale)]
    weights = [rnd.choice([1, 1, 1, 2, 3, 8]) for _ in people]
    # Cumulative once: `choices(people, weights)` would sum them on every draw (same draws).
    cum_weights = list(accumulate(weights))
    group_ids = [int(g["id"]) for g in groups(scale)]
    next_id = 2_000_000_000
    day = scale.start
    while day <= scale.end:
        for _ in range(rnd.randint(0, max(1, scale.employees // 8))):
            author_id, author = rnd.choices(people, cum_weights=cum_weights)[0]
            created = day + timedelta(minutes=rnd.randint(480, 1080))
            if not _is_member(author, created):
                continue
            thread_id, group_id = next_id, rnd.choice(group_ids)
            kind, body, pain = _thread_starter(rnd)
            deleted = _ts(created + timedelta(hours=2)) if rnd.random() < 0.02 else ""
            yield _message(next_id, "", thread_id, group_id, author_id, body, created, kind, deleted)
            next_id += 1
            for n in range(rnd.choice([0, 0, 1, 1, 2, 3])):
                replier_id, replier = rnd.choices(people, cum_weights=cum_weights)[0]
                if kind == "question" and n == 0 and rnd.random() < 0.15:
                    replier_id, replier = author_id, author  # the asker adds to their own question
                created += timedelta(minutes=rnd.randint(5, 60 * 30))
                if created > scale.end or not _is_member(replier, created):
                    continue
                text = "Opgelost, dank! #opgelost" if pain and rnd.random() < 0.5 else rnd.choice(
                    ["Goed punt, dank je!", "Ik stuur je de link.", "Zelfde hier #gedoe", "Top! #één"])
                yield _message(next_id, str(thread_id), thread_id, group_id, replier_id, text, created,
                               "update")
                next_id += 1
        if rnd.random() < 0.1:
            yield {**_message(next_id, "", next_id, rnd.choice(group_ids), 0, "Nieuwe groep aangemaakt",
                              day + timedelta(hours=7), "system"), "sender_type": "System", "sender_id": ""}
            next_id += 1
        day += timedelta(days=1)


def _thread_starter(rnd: random.Random) -> tuple[str, str, bool]:
    """(message_type, body, is a pain point) of a new thread."""
    topic = rnd.choice(TOPICS)
    roll = rnd.random()
    if roll < 0.3:
        kind = "question" if rnd.random() < 0.5 else "update"  # many questions are plain updates
        return kind, f"Wie weet meer over {topic}?{rnd.choice(QUESTION_TAILS)}", False
    if roll < 0.45:
        return "update", f"{rnd.choice(['#gedoe', '#Gedoe'])} {topic} werkt niet mee", True
    if roll < 0.5:
        return "update", f"Update over {topic}: {rnd.choice(NOISE)}", False
    tag = rnd.choice(TAGS)
    return "update", f"Update over {topic} {tag}".strip(), False


def _is_member(user: dict, moment: datetime) -> bool:
    joined = _parse_ts(user["joined_at"])
    left = user["deleted_at"]
    return joined <= moment and not (left and _parse_ts(left) <= moment)


@lru_cache(maxsize=1 << 17)
def _parse_ts(value: str) -> datetime:
    """An export timestamp as a datetime; cached, as the same people are checked again and again."""
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _message(msg_id: int, replied_to: str, thread_id: int, group_id: int, sender_id: int,
             body: str, created: datetime, kind: str, deleted_at: str = "") -> dict:
    return {
        "id": str(msg_id), "replied_to_id": replied_to, "parent_id": replied_to,
        "thread_id": str(thread_id), "conversation_id": "", "group_id": str(group_id),
        "group_name": "", "participants": f"user:{sender_id}", "in_private_group": "false",
        "in_private_conversation": "false", "sender_id": str(sender_id), "sender_type": "User",
        "sender_name": "", "sender_email": "", "body": body, "delegate_id": "",
        "api_url": f"https://www.yammer.com/api/v1/messages/{msg_id}", "attachments": "",
        "deleted_by_id": "", "deleted_by_type": "", "created_at": _ts(created), "deleted_at": deleted_at,
        "title": "", "html_body": "", "message_type": kind, "gdpr_delete_url": "",
    }
