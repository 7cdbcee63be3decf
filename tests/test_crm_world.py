"""The simulated CRM: consistent Salesforce records, the planted effects, the intranet mentions."""

from __future__ import annotations

import re
import statistics
from collections import defaultdict
from datetime import UTC, datetime

import pytest

from social_value.simulator import crm_world, organisation, world
from social_value.simulator.organisation import Scale

BIG = Scale(employees=400, months=12)  # enough opportunities for the effects to show
SMALL = Scale(employees=30, months=3)
# How far a sample of BIG may stray from the planted truth.
TOLERANCE = {"win_rate": 0.05, "median_days_to_quote_social": 0.4, "median_days_to_quote_other": 1.2,
             "delivery_margin": 0.02}
# The Metrics' "socially supported" token: 15 or 18 Id characters, whole, alone or inside a URL.
ID_TOKEN = re.compile(r"(?<![A-Za-z0-9])(006[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?)(?![A-Za-z0-9])")


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _live_opportunities(scale: Scale) -> dict[str, dict]:
    return {o["Id"]: o for o in crm_world.opportunities(scale) if not o["IsDeleted"]}


def test_world_is_deterministic_and_seeded():
    assert list(crm_world.opportunities(SMALL)) == list(crm_world.opportunities(Scale(30, 3)))
    assert list(crm_world.support_messages(SMALL)) == list(crm_world.support_messages(Scale(30, 3)))
    assert list(crm_world.opportunities(SMALL)) != list(crm_world.opportunities(Scale(30, 3, seed=7)))


def test_records_are_consistent_salesforce_records():
    opportunities = {o["Id"]: o for o in crm_world.opportunities(SMALL)}
    history = defaultdict(list)
    for row in crm_world.opportunity_history(SMALL):
        history[row["OpportunityId"]].append(row)
    accounts = {a["Id"] for a in crm_world.accounts(SMALL)}
    owners = {u["Id"] for u in crm_world.users(SMALL)}
    stages = list(crm_world.STAGES)
    for opp_id, opp in opportunities.items():
        assert len(opp_id) == 18 and opp_id.startswith("006") and world.checksum(opp_id[:15]) == opp_id[15:]
        assert opp["AccountId"] in accounts and opp["OwnerId"] in owners
        rows = history[opp_id]
        assert rows[0]["StageName"] == "Prospecting" and rows[0]["CreatedDate"] == opp["CreatedDate"]
        assert rows[-1]["StageName"] == opp["StageName"]
        walked = [stages.index(r["StageName"]) for r in rows]
        assert walked == sorted(walked), "stages in the standard order"
        assert opp["IsClosed"] == opp["StageName"].startswith("Closed")
        assert opp["IsWon"] == (opp["StageName"] == "Closed Won")
        assert opp["Probability"] == crm_world.STAGES[opp["StageName"]][0]
        assert all(r["IsDeleted"] == opp["IsDeleted"] for r in rows), "history goes with its opportunity"
        assert _time(opp["SystemModstamp"]) <= SMALL.end
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000", opp["SystemModstamp"])
    assert 0 < sum(o["IsDeleted"] for o in opportunities.values()) < len(opportunities) / 5
    assert any(not o["IsClosed"] for o in opportunities.values()), "some are still open at the end"
    for project in crm_world.projects(SMALL):
        assert opportunities[project["Opportunity__c"]]["IsWon"]
        assert project["Id"].startswith("a0X") and len(project["Id"]) == 18


def test_earlier_state_is_a_consistent_prefix():
    earlier = datetime(2026, 10, 1, tzinfo=UTC)
    now = {o["Id"]: o for o in crm_world.opportunities(SMALL)}
    then = list(crm_world.opportunities(SMALL, earlier))
    assert 0 < len(then) < len(now)
    for opp in then:
        assert _time(opp["SystemModstamp"]) <= earlier
        if _time(now[opp["Id"]]["SystemModstamp"]) <= earlier:
            assert opp == now[opp["Id"]], "records untouched since are the same"
    assert {h["Id"] for h in crm_world.opportunity_history(SMALL, earlier)} < {
        h["Id"] for h in crm_world.opportunity_history(SMALL)}


def test_planted_effects_are_found_back_within_tolerance():
    supported = crm_world.supported_ids(BIG)
    opportunities = _live_opportunities(BIG)
    social = {i for i in opportunities if i in supported}
    share = len(social) / len(opportunities)
    assert share == pytest.approx(crm_world.PLANTED_EFFECTS["share_supported"], abs=0.04)

    closed = [o for o in opportunities.values() if o["IsClosed"]]
    for group, ids in (("social", social), ("other", set(opportunities) - social)):
        mine = [o for o in closed if o["Id"] in ids]
        win_rate = sum(o["IsWon"] for o in mine) / len(mine)
        assert win_rate == pytest.approx(crm_world.PLANTED_EFFECTS[f"win_rate_{group}"],
                                         abs=TOLERANCE["win_rate"]), group

    days = defaultdict(list)
    quoted = set()
    for row in crm_world.opportunity_history(BIG):
        opp = opportunities.get(row["OpportunityId"])
        if opp and row["StageName"] == crm_world.QUOTE_STAGE and opp["Id"] not in quoted:
            quoted.add(opp["Id"])
            waited = _time(row["CreatedDate"]) - _time(opp["CreatedDate"])
            days["social" if opp["Id"] in social else "other"].append(waited.total_seconds() / 86400)
    for group in ("social", "other"):
        key = f"median_days_to_quote_{group}"
        assert statistics.median(days[group]) == pytest.approx(crm_world.PLANTED_EFFECTS[key],
                                                               abs=TOLERANCE[key]), group

    revenue, margin = defaultdict(float), defaultdict(float)
    for project in crm_world.projects(BIG):
        if project["Opportunity__c"] in opportunities:
            group = "social" if project["Opportunity__c"] in social else "other"
            revenue[group] += project["Revenue__c"]
            margin[group] += project["Revenue__c"] - project["Cost__c"]
    for group in ("social", "other"):
        assert margin[group] / revenue[group] == pytest.approx(
            crm_world.PLANTED_EFFECTS[f"delivery_margin_{group}"], abs=TOLERANCE["delivery_margin"]), group


def test_support_messages_mention_only_supported_opportunities_before_they_close():
    messages = list(crm_world.support_messages(SMALL))
    opportunities = {o["Id"][:15]: o for o in crm_world.opportunities(SMALL)}
    supported = crm_world.supported_ids(SMALL)
    people = {int(p["id"]): p for p in organisation.users(SMALL)}
    example = next(organisation.messages(SMALL))
    forms, mentioned = set(), set()
    for message in messages:
        assert list(message) == list(example), "exactly the Messages.csv columns"
        assert int(message["id"]) >= crm_world.FIRST_SUPPORT_MESSAGE_ID
        (token,) = ID_TOKEN.findall(message["body"])
        opp = opportunities[token[:15]]
        assert opp["Id"] in supported and token == opp["Id"][:len(token)]
        created = _time(message["created_at"])
        assert _time(opp["CreatedDate"]) < created <= SMALL.end
        assert created.date().isoformat() <= opp["CloseDate"]
        assert organisation._is_member(people[int(message["sender_id"])], created)
        forms.add("url" if "/lightning/r/Opportunity/" in message["body"] else len(token))
        mentioned.add(opp["Id"])
    existing = {o["Id"] for o in opportunities.values()}
    assert mentioned == supported & existing, "every supported opportunity, and only those"
    assert forms == {15, 18, "url"}
    assert len({m["id"] for m in messages}) == len(messages)
    assert [m["created_at"] for m in messages] == sorted(m["created_at"] for m in messages)
    assert sum("#intranetwerkt" in m["body"] for m in messages) > len(messages) / 2


def test_support_messages_come_from_the_owner_when_on_the_intranet():
    by_email = {p["email"].lower(): int(p["id"]) for p in organisation.users(SMALL)}
    owner_person = {u["Id"]: by_email.get(u["Email"].lower()) for u in world.salesforce_users(SMALL)}
    opportunities = {o["Id"][:15]: o for o in crm_world.opportunities(SMALL)}
    from_owner = 0
    messages = list(crm_world.support_messages(SMALL))
    for message in messages:
        opp = opportunities[ID_TOKEN.findall(message["body"])[0][:15]]
        from_owner += int(message["sender_id"]) == owner_person.get(opp["OwnerId"])
    assert from_owner > len(messages) * 0.7
