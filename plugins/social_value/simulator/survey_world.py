"""The customer survey population shared by the SurveyMonkey and Qualtrics simulators.

One customer survey: a CSAT question on 1–5, an NPS question on 0–10 and a free-text comment.
Each response belongs to a Salesforce account (world.accounts). Deterministic from the Scale: the
same seed and scale give the same responses, so tests compute exact expected counts from here.

A choice's score is the number in its text. The SurveyMonkey choices are listed in an order where
no position equals the score, so a connector that decodes by position is caught by the tests.
"""

from __future__ import annotations

import random
import string
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from social_value.simulator import world
from social_value.simulator.organisation import Scale

SURVEY_ID = "418273650"
SURVEY_TITLE = "Klanttevredenheid"
EMPTY_SURVEY_ID = "418273777"  # a second survey nobody answered: connectors must cope with none
EMPTY_SURVEY_TITLE = "Medewerkerspuls (concept)"
COLLECTOR_ID = "260113579"
PAGE_ID = "51230011"
CSAT_QUESTION_ID = "812340001"
NPS_QUESTION_ID = "812340002"
NPS_ROW_ID = "7750021"
COMMENT_QUESTION_ID = "812340003"

CSAT_HEADING = "Hoe tevreden bent u over onze dienstverlening?"
NPS_HEADING = "Hoe waarschijnlijk is het dat u ons aanbeveelt aan een collega?"
COMMENT_HEADING = "Wat kunnen we beter doen?"

CSAT_TEXTS = {5: "5 - Zeer tevreden", 4: "4 - Tevreden", 3: "3 - Neutraal", 2: "2 - Ontevreden",
              1: "1 - Zeer ontevreden"}
# Position 1..5 shows these scores: no position equals its score (position decoding would be wrong).
CSAT_ORDER = (5, 1, 4, 2, 3)


def nps_text(score: int) -> str:
    if score == 0:
        return "0 - Zeer onwaarschijnlijk"
    if score == 10:
        return "10 - Zeer waarschijnlijk"
    return str(score)


# Choice ids are not ordered by score either.
CSAT_CHOICE_IDS = {score: str(6_410_000_000 + 26 * ((score * 3) % 5)) for score in CSAT_TEXTS}
NPS_CHOICE_IDS = {score: str(6_410_100_000 + 13 * ((score * 7) % 11)) for score in range(11)}

COMMENTS = [
    "Snelle reactie, prima geholpen.",
    "De consultant wist écht waar het over ging.",
    "Facturen kloppen niet altijd; graag één contactpersoon.",
    "Erg tevreden over het project – ook na oplevering.",
    "<script>alert(1)</script>",
    "'); drop table x; --",
    "Communicatie kon beter, \"urgent\" betekent vandaag.",
    "Goede samenwerking met het team in Zürich en Utrecht.",
    "Reactie, met komma's; en puntkomma's",
    "Geen opmerkingen",
]


@dataclass(frozen=True)
class SurveyResponse:
    """One respondent's answers, independent of the wire format of either source."""

    n: int
    account_id: str
    created: datetime
    modified: datetime
    completed: bool
    csat: int | None
    nps: int | None
    comment: str | None
    duration_seconds: int

    @property
    def answer_count(self) -> int:
        return sum(value is not None for value in (self.csat, self.nps, self.comment))


def responses(scale: Scale, source: str) -> Iterator[SurveyResponse]:
    """Responses of `source` ("surveymonkey" or "qualtrics") in creation order over the Scale's months.

    Most are completed; about one in eight is partial (stopped after the first question or two).
    """
    rnd = random.Random(f"{scale.seed}-survey-{source}")
    account_ids = [account["Id"] for account in world.accounts(scale)]
    days = (scale.end - scale.start).days + 1
    count = max(12, len(account_ids) * scale.months * 2)
    created = sorted(scale.start + timedelta(days=rnd.randrange(days), seconds=rnd.randint(28_800, 64_800))
                     for _ in range(count))
    for n, moment in enumerate(created):
        completed = rnd.random() > 0.125
        csat = _weighted(rnd, [1, 2, 3, 4, 5], [1, 2, 4, 8, 6])
        nps = _weighted(rnd, list(range(11)), [1, 1, 1, 1, 1, 2, 3, 5, 7, 6, 5])
        comment = rnd.choice(COMMENTS) if rnd.random() < 0.6 else None
        if not completed:  # a partial response stops somewhere after the first question
            nps = nps if rnd.random() < 0.5 else None
            comment = None
        duration = rnd.randint(20, 600)
        # A few respondents come back and edit their answers later.
        modified = moment + timedelta(seconds=duration)
        if rnd.random() < 0.1:
            modified += timedelta(days=rnd.randint(1, 5))
        yield SurveyResponse(n, rnd.choice(account_ids), moment, min(modified, scale.end), completed,
                             csat, nps, comment, duration)


def _weighted(rnd: random.Random, values: list[int], weights: list[int]) -> int:
    return rnd.choices(values, weights)[0]


def response_id(n: int) -> str:
    """A SurveyMonkey-like numeric response id."""
    return str(11_000_000_000 + n * 7_919)


def qualtrics_response_id(scale: Scale, n: int) -> str:
    """A Qualtrics-like ResponseId: `R_` and 15 letters and digits."""
    rnd = random.Random(f"{scale.seed}-qualtrics-id-{n}")
    return "R_" + "".join(rnd.choice(string.ascii_letters + string.digits) for _ in range(15))
