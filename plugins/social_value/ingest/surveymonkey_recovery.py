"""SurveyMonkey answers quarantined because the survey's details did not know their choice or row,
landed once the details do.

The watermark moves past a response whose answer was quarantined, so a later load would never read
it again. Each load therefore asks, per survey, which unresolved quarantined answers the details
it just read now decode, and reaches its window back to their responses' date_modified: they are
read again from the source, through the same path as any response (its current answers, decoded
now). After the merge each of those quarantine records is marked, never deleted, with the load and
one of three resolutions:

- `recovered`: the answer is in raw now;
- `superseded`: the response was read again without that answer (the respondent changed it);
- `not_returned`: the source no longer returns the response (deleted), so nothing can land.

Only answers the details decode widen the window, so an id the survey never gets back costs
nothing, and a resolved record is never looked at again: a rerun reads the usual window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg
from psycopg import sql

from social_value.connectors import surveymonkey as sm
from social_value.loader import RawTable

# The reasons answer_records gives for an id the details do not know (connectors/surveymonkey.py).
NOT_IN_DETAILS = "%is not in the survey's details"

HELD = """
with held as materialized (
    select quarantine_id, payload::jsonb as payload from raw_meta.quarantine
    where source = 'surveymonkey' and stream = 'answers' and resolved_at is null and reason like %s
)
select held.quarantine_id, held.payload ->> 'question_id', held.payload -> 'answer' ->> 'choice_id',
    held.payload -> 'answer' ->> 'row_id', responses.modified_at
from held
inner join {responses} as responses on responses.id = held.payload ->> 'response_id'
where responses.survey_id = %s
"""

# The answer key as answer_records builds it: row (or '-') / choice, other or 'text'.
RESOLVE = """
with held as materialized (
    select quarantine_id, payload::jsonb ->> 'response_id' as response_id,
        payload::jsonb ->> 'question_id' as question_id, payload::jsonb -> 'answer' as answer
    from raw_meta.quarantine where quarantine_id = any(%(ids)s)
)
update raw_meta.quarantine as quarantine
set resolved_at = now(), resolved_load_id = %(load_id)s, resolution = case
    when exists (
        select from {answers} as answers
        where answers.response_id = held.response_id and answers.question_id = held.question_id
            and answers.answer_key = coalesce(nullif(held.answer ->> 'row_id', ''), '-') || '/'
                || coalesce(nullif(held.answer ->> 'choice_id', ''), nullif(held.answer ->> 'other_id', ''),
                            'text')) then 'recovered'
    when exists (
        select from _survey_answer_keys as keys
        where keys.response_id = held.response_id and keys.question_id is null) then 'superseded'
    else 'not_returned'
end
from held
where quarantine.quarantine_id = held.quarantine_id
returning quarantine.resolution
"""


@dataclass(frozen=True)
class Recoverable:
    quarantine_ids: list[int]
    earliest_modified: datetime | None  # None: a response without date_modified, read from the start

    def window_start(self, since: datetime | None, overlap: timedelta) -> datetime | None:
        """The survey's window start reaching back to these responses (less `overlap`)."""
        if since is None or self.earliest_modified is None:
            return None
        return min(since, self.earliest_modified - overlap)


def recoverable(conn: psycopg.Connection, responses: RawTable, survey_id: str,
                decoder: sm.Decoder) -> Recoverable | None:
    """The survey's unresolved quarantined answers that `decoder` (its details now) decodes."""
    if conn.execute("select to_regclass(%s)", (responses.ident().as_string(conn),)).fetchone()[0] is None:
        return None
    ids, earliest, undated = [], None, False
    for quarantine_id, question_id, choice_id, row_id, modified_at in conn.execute(
            sql.SQL(HELD).format(responses=responses.ident()), (NOT_IN_DETAILS, survey_id)):
        if (choice_id and (question_id, choice_id) not in decoder.choices) or (
                row_id and (question_id, row_id) not in decoder.rows):
            continue
        ids.append(quarantine_id)
        if modified_at:
            moment = datetime.fromisoformat(modified_at)
            earliest = moment if earliest is None else min(earliest, moment)
        else:
            undated = True
    if not ids:
        return None
    return Recoverable(ids, None if undated else earliest)


def resolve(conn: psycopg.Connection, answers: RawTable, quarantine_ids: list[int], load_id: int
            ) -> dict[str, int]:
    """Mark the records `recoverable` found, once this load's answers are merged (while the load's
    response keys, _survey_answer_keys, still exist); returns the count per resolution."""
    if not quarantine_ids:
        return {}
    counts: dict[str, int] = {}
    for (resolution,) in conn.execute(sql.SQL(RESOLVE).format(answers=answers.ident()),
                                      {"ids": quarantine_ids, "load_id": load_id}).fetchall():
        counts[resolution] = counts.get(resolution, 0) + 1
    return counts
