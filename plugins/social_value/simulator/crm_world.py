"""The CRM's business: opportunities, their stage history and delivery projects, with planted effects.

Every opportunity lives a deterministic life (its own seeded generator, so adding opportunities never
changes the others): created, walked through the standard stages, closed won or lost, sometimes
deleted; a won one gets a delivery project (`Project__c`). `opportunities(scale, as_of)` and friends
return the Salesforce records *as they were at* `as_of` (default: the scale's end), so the simulator
can serve an earlier state of the CRM and an incremental load sees exactly what changed since.

Each opportunity carries a hidden flag, `supported` (not a Salesforce field): people talked about it
on the intranet. `support_messages(scale)` writes those intranet messages (Viva Engage Messages.csv
rows) that mention a supported opportunity's Id; unsupported ones are never mentioned.

PLANTED effects (true values in PLANTED_EFFECTS; the warehouse should find them back):
- win rate: supported opportunities are won 60% of the time, the others 35%. Deleted opportunities
  are picked among the lost ones, which lifts both observed rates by about a point.
- days to quote (CreatedDate → first 'Proposal/Price Quote' in OpportunityHistory): log-normal with
  median 2 days when supported, 8 days otherwise — the article's "8 days to 2 days". About a
  quarter of the lost opportunities are lost before they ever reach a quote.
- delivery margin ((revenue − cost) / revenue of Project__c): around 0.28 for projects of supported
  opportunities, 0.18 for the others.
- share of opportunities that are supported: 0.4.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache

from social_value.simulator import organisation, world
from social_value.simulator.organisation import Scale

PLANTED_EFFECTS: dict[str, float] = {
    "share_supported": 0.40,
    "win_rate_social": 0.60,
    "win_rate_other": 0.35,
    "median_days_to_quote_social": 2.0,
    "median_days_to_quote_other": 8.0,
    "delivery_margin_social": 0.28,
    "delivery_margin_other": 0.18,
}

# The standard sales process: stage → (Probability, ForecastCategoryName), in walking order.
STAGES: dict[str, tuple[float, str]] = {
    "Prospecting": (10.0, "Pipeline"),
    "Qualification": (10.0, "Pipeline"),
    "Needs Analysis": (20.0, "Pipeline"),
    "Value Proposition": (50.0, "Pipeline"),
    "Id. Decision Makers": (60.0, "Pipeline"),
    "Perception Analysis": (70.0, "Pipeline"),
    "Proposal/Price Quote": (75.0, "Pipeline"),
    "Negotiation/Review": (90.0, "Pipeline"),
    "Closed Won": (100.0, "Closed"),
    "Closed Lost": (0.0, "Omitted"),
}
QUOTE_STAGE = "Proposal/Price Quote"
_EARLY_STAGES = ["Qualification", "Needs Analysis", "Value Proposition", "Id. Decision Makers",
                 "Perception Analysis"]
TYPES = ["New Customer", "Existing Customer - Upgrade", "Existing Customer - Replacement",
         "Existing Customer - Downgrade"]
LEAD_SOURCES = ["Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other", None]
RECORD_URL = "https://acme.lightning.force.com/lightning/r/Opportunity/{}/view"
FIRST_SUPPORT_MESSAGE_ID = 3_000_000_000


def sf_datetime(moment: datetime) -> str:
    """Salesforce's datetime format: milliseconds and an offset without a colon."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


@dataclass(frozen=True)
class Step:
    """One OpportunityHistory entry: the stage the opportunity moved to, when, and its CloseDate."""

    at: datetime
    stage: str
    close_date: date


@dataclass(frozen=True)
class Deal:
    """One opportunity's whole life; `records as of a moment` are derived from it."""

    n: int
    id: str
    name: str
    account_id: str
    owner_id: str
    amount: float
    type: str
    lead_source: str | None
    created: datetime
    supported: bool
    steps: tuple[Step, ...]
    deleted_at: datetime | None
    project: dict | None  # Project__c fields, plus "_created" (when it appeared)

    @property
    def quoted_at(self) -> datetime | None:
        return next((s.at for s in self.steps if s.stage == QUOTE_STAGE), None)

    @property
    def closed(self) -> Step | None:
        last = self.steps[-1]
        return last if last.stage.startswith("Closed") else None


def deal_count(scale: Scale) -> int:
    return max(20, scale.employees * scale.months // 2)


@lru_cache(maxsize=8)
def _deals(scale: Scale) -> tuple[Deal, ...]:
    # Cached: the simulator asks for the same world on every page of every query.
    owners = [user["Id"] for user in world.salesforce_users(scale) if user["IsActive"]]
    account_ids = [account["Id"] for account in world.accounts(scale)]
    return tuple(_deal(scale, n, owners, account_ids) for n in range(deal_count(scale)))


def deals(scale: Scale) -> Iterator[Deal]:
    """Every opportunity's whole life (its steps may run past the scale's end: still open then)."""
    yield from _deals(scale)


def _deal(scale: Scale, n: int, owners: list[str], account_ids: list[str]) -> Deal:
    rnd = random.Random(f"{scale.seed}-opportunity-{n}")
    first_day = scale.start - timedelta(days=60)
    span_days = (scale.end - timedelta(days=3) - first_day).days
    created = (first_day + timedelta(days=rnd.randrange(span_days), minutes=rnd.randint(480, 1080),
                                     seconds=rnd.randint(0, 59)))
    supported = rnd.random() < PLANTED_EFFECTS["share_supported"]
    won = rnd.random() < PLANTED_EFFECTS["win_rate_social" if supported else "win_rate_other"]
    median = PLANTED_EFFECTS["median_days_to_quote_social" if supported else "median_days_to_quote_other"]
    quote_days = rnd.lognormvariate(math.log(median), 0.4)
    lost_early = not won and rnd.random() < 0.25
    planned_close = (created + timedelta(days=rnd.randint(30, 90))).date()

    # Stage walk: Prospecting at creation, some early stages, the quote, negotiation, the close.
    end_of_walk = created + timedelta(days=quote_days if not lost_early else rnd.uniform(1, 20))
    early = sorted(created + (end_of_walk - created) * rnd.uniform(0.05, 0.95)
                   for _ in range(len(_EARLY_STAGES)))
    walk = [(created, "Prospecting")]
    walk += [(at, stage) for at, stage in zip(early, _EARLY_STAGES, strict=True) if rnd.random() < 0.6]
    if lost_early:
        closed_at = end_of_walk
    else:
        walk.append((end_of_walk, QUOTE_STAGE))
        closed_at = end_of_walk + timedelta(days=rnd.uniform(3, 40))
        if rnd.random() < 0.7:
            negotiated = end_of_walk + (closed_at - end_of_walk) * rnd.uniform(0.2, 0.8)
            walk.append((negotiated, "Negotiation/Review"))
    walk.append((closed_at, "Closed Won" if won else "Closed Lost"))
    steps = tuple(Step(at.replace(microsecond=0), stage,
                       closed_at.date() if stage.startswith("Closed") else planned_close)
                  for at, stage in walk)

    # A few lost opportunities are deleted later (the recycle bin keeps them for queryAll).
    deleted_at = None
    if not won and n % 10 == 3:
        deleted_at = (closed_at + timedelta(days=rnd.uniform(1, 10))).replace(microsecond=0)
    amount = round(rnd.uniform(5_000, 250_000), -2)
    project = _project(rnd, n, closed_at) if won else None
    if project:
        project["Revenue__c"] = round(amount * rnd.uniform(0.9, 1.15), 2)
        margin = rnd.gauss(PLANTED_EFFECTS["delivery_margin_social" if supported
                                           else "delivery_margin_other"], 0.06)
        project["Cost__c"] = round(project["Revenue__c"] * (1 - margin), 2)
    opportunity_id = world.sf_id("006", 1_000_000 + n * 7907)
    if project:
        project["Opportunity__c"] = opportunity_id
    return Deal(
        n=n, id=opportunity_id, name=f"Kans {n:04d}", account_id=rnd.choice(account_ids),
        owner_id=rnd.choice(owners), amount=amount, type=rnd.choice(TYPES),
        lead_source=rnd.choice(LEAD_SOURCES), created=created.replace(microsecond=0), supported=supported,
        steps=steps, deleted_at=deleted_at, project=project)


def _project(rnd: random.Random, n: int, closed_at: datetime) -> dict:
    start = closed_at + timedelta(days=1)
    created = datetime.combine(start.date(), time(9, rnd.randint(0, 59)), tzinfo=UTC)
    return {"Id": world.sf_id("a0X", 5_000_000 + n * 6151), "Name": f"PRJ-{n:04d}",
            "End_Date__c": (start + timedelta(days=rnd.randint(20, 120))).date().isoformat(),
            "IsDeleted": False, "_created": created}


def _as_of(scale: Scale, as_of: datetime | None) -> datetime:
    return min(as_of or scale.end, scale.end)


def opportunities(scale: Scale, as_of: datetime | None = None) -> Iterator[dict]:
    """Opportunity records as they were at `as_of`, deleted ones included (IsDeleted true)."""
    moment = _as_of(scale, as_of)
    for deal in _deals(scale):
        done = [step for step in deal.steps if step.at <= moment]
        if not done:
            continue
        current = done[-1]
        probability, forecast = STAGES[current.stage]
        deleted = deal.deleted_at is not None and deal.deleted_at <= moment
        modified = deal.deleted_at if deleted else current.at
        yield {
            "Id": deal.id, "Name": deal.name, "AccountId": deal.account_id, "Amount": deal.amount,
            "StageName": current.stage, "Probability": probability,
            "CloseDate": current.close_date.isoformat(), "Type": deal.type,
            "IsClosed": current.stage.startswith("Closed"), "IsWon": current.stage == "Closed Won",
            "ForecastCategoryName": forecast, "OwnerId": deal.owner_id, "LeadSource": deal.lead_source,
            "IsDeleted": deleted, "CreatedDate": sf_datetime(deal.created),
            "LastModifiedDate": sf_datetime(modified), "SystemModstamp": sf_datetime(modified),
        }


def opportunity_history(scale: Scale, as_of: datetime | None = None) -> Iterator[dict]:
    """OpportunityHistory rows (one per stage change) up to `as_of`; deleted with their opportunity."""
    moment = _as_of(scale, as_of)
    for deal in _deals(scale):
        deleted = deal.deleted_at is not None and deal.deleted_at <= moment
        for k, step in enumerate(deal.steps):
            if step.at > moment:
                break
            probability, _ = STAGES[step.stage]
            yield {
                "Id": world.sf_id("008", 2_000_000 + deal.n * 16 + k), "OpportunityId": deal.id,
                "StageName": step.stage, "Amount": deal.amount, "CloseDate": step.close_date.isoformat(),
                "Probability": probability, "CreatedDate": sf_datetime(step.at),
                "CreatedById": deal.owner_id, "IsDeleted": deleted,
                "SystemModstamp": sf_datetime(deal.deleted_at if deleted else step.at),
            }


def projects(scale: Scale, as_of: datetime | None = None) -> Iterator[dict]:
    """Project__c records (delivery projects of won opportunities) that exist at `as_of`."""
    moment = _as_of(scale, as_of)
    for deal in _deals(scale):
        if deal.project and deal.project["_created"] <= moment:
            record = {k: v for k, v in deal.project.items() if not k.startswith("_")}
            record["SystemModstamp"] = sf_datetime(deal.project["_created"])
            yield record


def users(scale: Scale) -> Iterator[dict]:
    """User records: world's Salesforce users with the SystemModstamp an incremental query needs."""
    for n, user in enumerate(world.salesforce_users(scale)):
        yield {**user, "SystemModstamp": sf_datetime(scale.start - timedelta(days=400 - n))}


def accounts(scale: Scale) -> Iterator[dict]:
    """Account records (world's accounts; none deleted)."""
    for account in world.accounts(scale):
        yield {**account, "IsDeleted": False}


def supported_ids(scale: Scale) -> set[str]:
    """18-character Ids of the opportunities that are socially supported (the hidden flag)."""
    return {deal.id for deal in _deals(scale) if deal.supported}


def support_messages(scale: Scale) -> Iterator[dict]:
    """Viva Engage Messages.csv rows mentioning supported opportunities, in time order.

    Each supported opportunity that exists by the scale's end gets one to three thread starters,
    after its CreatedDate and on or before its CloseDate (and the scale's end). The sender is the
    opportunity's owner when the owner is on the intranet at that moment (matched by lower-cased
    email), otherwise an intranet member of that moment. The Id appears as the 15-character Id, the
    18-character Id or inside a Lightning record URL. Message ids start at 3_000_000_000 so they
    never collide with organisation.messages().
    """
    people = list(organisation.users(scale))
    by_email = {person["email"].lower(): person for person in people}
    owner_person = {user["Id"]: by_email.get(user["Email"].lower())
                    for user in world.salesforce_users(scale)}
    group_ids = [int(group["id"]) for group in organisation.groups(scale)]
    spans = _spans(people)
    pending = []
    for deal in _deals(scale):
        if not deal.supported or deal.created > scale.end:
            continue
        rnd = random.Random(f"{scale.seed}-support-{deal.n}")
        last = deal.steps[-1]
        close_date = last.close_date if last.at <= scale.end else deal.steps[0].close_date
        latest = min(scale.end, datetime.combine(close_date, time(23, 59, 59), tzinfo=UTC))
        for _ in range(rnd.randint(1, 3)):
            at = deal.created + (latest - deal.created) * rnd.uniform(0.02, 0.9)
            at = max(at.replace(microsecond=0), deal.created + timedelta(seconds=1))
            sender = _sender(rnd, owner_person.get(deal.owner_id), spans, at)
            if sender is None:
                continue
            pending.append((at, deal.n, int(sender["id"]), rnd.choice(group_ids), _body(rnd, deal.id)))
    pending.sort()
    for offset, (at, _, sender_id, group_id, body) in enumerate(pending):
        message_id = FIRST_SUPPORT_MESSAGE_ID + offset
        yield organisation._message(message_id, "", message_id, group_id, sender_id, body, at, "update")


def _spans(people: list[dict]) -> list[tuple[dict, datetime, datetime]]:
    """(person, joined, left or the end of time): membership tests without parsing, in order."""
    never = datetime.max.replace(tzinfo=UTC)
    return [(person, organisation._parse_ts(person["joined_at"]),
             organisation._parse_ts(person["deleted_at"]) if person["deleted_at"] else never)
            for person in people]


def _sender(rnd: random.Random, owner: dict | None, spans: list[tuple[dict, datetime, datetime]],
            at: datetime) -> dict | None:
    if owner and organisation._is_member(owner, at):
        return owner
    members = [person for person, joined, left in spans if joined <= at < left]
    return rnd.choice(members) if members else None


def _body(rnd: random.Random, opportunity_id: str) -> str:
    mention = rnd.choice([opportunity_id[:15], opportunity_id, RECORD_URL.format(opportunity_id)])
    tag = " #intranetwerkt" if rnd.random() < 0.7 else ""
    return rnd.choice([
        f"Wie heeft ervaring met deze klant? Zie {mention}{tag}",
        f"Dank voor de snelle hulp bij de offerte ({mention}){tag}",
        f"Referentiecase gezocht voor {mention} — tips welkom{tag}",
    ])
