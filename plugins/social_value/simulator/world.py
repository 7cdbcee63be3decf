"""The organisation's CRM-side world, shared by the Salesforce and survey simulators.

Salesforce users are the intranet's Sales, Consulting and Delivery people (same email, so identity
resolution by lower-cased email works) plus a few CRM-only users who have no intranet account.
Accounts are owned by those users. Ids are real 18-character Salesforce Ids (15 case-sensitive
characters and the 3-character case checksum).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta

from social_value.simulator import organisation
from social_value.simulator.organisation import Scale

CRM_DEPARTMENTS = {"Sales", "Consulting", "Delivery"}
INDUSTRIES = ["Zorg", "Overheid", "Financiële dienstverlening", "Onderwijs", "Retail", "Energie"]
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def sf_id(prefix: str, number: int) -> str:
    """An 18-character Salesforce Id: 3-char key prefix, 12 base-62 digits, case checksum."""
    digits = ""
    for _ in range(12):
        number, rest = divmod(number, 62)
        digits = _ALPHABET[rest] + digits
    short = prefix + digits
    return short + checksum(short)


def checksum(short_id: str) -> str:
    """The 3 characters Salesforce appends to a 15-character Id (one per 5-character chunk)."""
    suffix = ""
    for start in (0, 5, 10):
        bits = sum(1 << i for i, char in enumerate(short_id[start:start + 5]) if char.isupper())
        suffix += "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"[bits]
    return suffix


def salesforce_users(scale: Scale) -> Iterator[dict]:
    rnd = random.Random(f"{scale.seed}-sf-users")
    n = 0
    for user in organisation.users(scale):
        if user["department"] in CRM_DEPARTMENTS:
            n += 1
            yield {"Id": sf_id("005", 7_000_000 + n * 7919), "Email": user["email"].upper()
                   if rnd.random() < 0.2 else user["email"],  # case differs across systems
                   "Name": user["name"], "Department": user["department"], "IsActive": not user["deleted_at"]}
    for extra in range(2):  # CRM-only users: no intranet person behind them
        n += 1
        yield {"Id": sf_id("005", 7_000_000 + n * 7919), "Email": f"crm.only{extra}@partner.example.com",
               "Name": f"Partner {extra}", "Department": "Partner", "IsActive": True}


def accounts(scale: Scale) -> Iterator[dict]:
    rnd = random.Random(f"{scale.seed}-accounts")
    owners = [user["Id"] for user in salesforce_users(scale)]
    for n in range(max(5, scale.employees // 4)):
        modified = scale.start - timedelta(days=rnd.randint(1, 300))
        yield {"Id": sf_id("001", 3_000_000 + n * 104729), "Name": f"Klant {n:03d} B.V.",
               "Industry": rnd.choice(INDUSTRIES), "OwnerId": rnd.choice(owners),
               "SystemModstamp": modified.strftime("%Y-%m-%dT%H:%M:%S.000+0000")}
