"""A survey's SurveyMonkey response pages landed by Postgres: each page COPYed as one jsonb document,
then SQL makes the response rows (surveymonkey.response_record) and unnests pages → questions →
answers into answer rows (surveymonkey.answer_records), choice and row ids decoded by a join with
the survey's details (held in a small temporary table).

Python reads only what paging needs (`page` for the origin, `links.next`), asked of Postgres once a
page is in. The pages stay on disk until the survey has landed: if Postgres refuses a page (a
`\\u0000`, invalid JSON) or a record is one the row path would quarantine (a response without an
id or with a date time_sql does not read, an answer without choice, other or text, an id the
details do not know), the savepoint is rolled back and the survey's pages are read again, from
those files, row by row, which quarantines exactly what is wrong.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import psycopg
from psycopg import sql

from social_value import bulk_copy, bulk_json, loader
from social_value.connectors import page_prefetch
from social_value.connectors import surveymonkey as sm
from social_value.ingest import time_sql

DECODER = sql.Identifier("_surveymonkey_decoder")
# A record the row path would set aside stops the statement with a data error: the savepoint rolls
# back and the survey lands row by row.
DECLINE = """create or replace function pg_temp.svw_decline_if(bad boolean, why text) returns boolean
language plpgsql as $$ begin
  if bad then raise exception using errcode = 'data_exception', message = why; end if;
  return true;
end $$"""


class ResponsePages:
    """A survey's response pages as downloaded files, kept until the survey has landed."""

    def __init__(self, client: sm.SurveyMonkey, survey_id: str, since: datetime | None,
                 until: datetime | None) -> None:
        self.client, self.survey_id, self.since, self.until = client, survey_id, since, until
        self.files: list[tuple[str, Path]] = []
        # The next page downloads while Postgres takes this one (Postgres's reading decides).
        self.prefetch = page_prefetch.PagePrefetch(
            client.fetch, lambda file: page_prefetch.guess_link(file, "next"))

    def fetch(self, url: str, params: dict | None) -> Path:
        self.files.append((url, self.prefetch.get(url, params)))
        return self.files[-1][1]

    def replay(self) -> Iterator[tuple[str, list[dict]]]:
        """The pages as the row path reads them: the downloaded files first, then over HTTP."""
        self.prefetch.close()  # one request at a time: the row path asks for its own
        spooled = iter(self.files)

        def get(url: str, params: dict | None) -> dict:
            held = next(spooled, None)
            body = self.client.read(*held) if held else None
            # A page Postgres refused for not being whole JSON is fetched again, with retries.
            return body if body is not None else self.client.get(url, params)

        return self.client.response_pages(self.survey_id, self.since, self.until, get)

    def delete(self) -> None:
        self.prefetch.close()
        for _, file in self.files:
            file.unlink(missing_ok=True)


def land_pages(conn: psycopg.Connection, stages: dict[str, loader.Stage], pages: ResponsePages,
               decoder: sm.Decoder) -> tuple[int, int, int] | None:
    """(pages, responses, answers) landed in the stages; None if refused (nothing stays)."""
    counts: list[tuple[int, int, int]] = []
    if bulk_json.land(conn, lambda: counts.append(_fill(conn, stages, pages, decoder))):
        return counts[0]
    return None


def _fill(conn: psycopg.Connection, stages: dict[str, loader.Stage], pages: ResponsePages,
          decoder: sm.Decoder) -> tuple[int, int, int]:
    docs = bulk_json.JsonDocs(conn, "surveymonkey")
    origins = _copy_pages(conn, docs, pages)
    conn.execute(sql.SQL("update {} as d set _origin = o.origin from unnest(%s::text[]) with ordinality "
                         "as o (origin, seq) where d._seq = o.seq").format(docs.ident), (origins,))
    _copy_decoder(conn, decoder)
    conn.execute(DECLINE)
    responses = conn.execute(_responses_sql(stages["responses"], docs), time_sql.PARAMS).rowcount
    answers = conn.execute(_answers_sql(stages["answers"], docs)).rowcount
    conn.execute(sql.SQL("drop table {}, {}").format(docs.ident, DECODER))
    return len(origins), responses, answers


def _copy_pages(conn: psycopg.Connection, docs: bulk_json.JsonDocs, pages: ResponsePages) -> list[str]:
    """COPY every page, following links.next as read by Postgres (one jsonb_each of the top level:
    each `doc ->` would fetch the page from TOAST again); returns each page's origin."""
    url, params = pages.client.responses_request(pages.survey_id, pages.since, pages.until)
    origins: list[str] = []
    seen: set[str] = set()
    while url:
        file = pages.fetch(url, params)
        with docs:
            docs.add(file.read_bytes(), None)
        fields = dict(conn.execute(sql.SQL(
            "select key, case when key = 'data' then jsonb_typeof(value) else value::text end "
            "from {0}, jsonb_each(doc) where _seq = (select max(_seq) from {0}) "
            "and key in ('data', 'page', 'links')").format(docs.ident)).fetchall())
        links = json.loads(fields.get("links") or "null")
        if fields.get("data") != "array" or (links and not isinstance(links, dict)):
            raise bulk_copy.DeclinedError("not a page of responses")  # the row path says why
        origins.append(pages.client.origin(url, json.loads(fields["page"]) if "page" in fields else "?"))
        url, params = sm.next_url(origins[-1], links, seen), None
    return origins


def _copy_decoder(conn: psycopg.Connection, decoder: sm.Decoder) -> None:
    conn.execute(sql.SQL("create temporary table {} (kind text, question_id text, id text, text text, "
                         "position text, primary key (kind, question_id, id)) on commit drop"
                         ).format(DECODER))
    with conn.cursor() as cur, cur.copy(sql.SQL("copy {} from stdin").format(DECODER)) as copy:
        for (qid, cid), (text, position) in decoder.choices.items():
            copy.write_row(("choice", qid, cid, text, position))
        for kind, items in (("row", decoder.rows), ("other", decoder.others)):
            for (qid, item_id), text in items.items():
                copy.write_row((kind, qid, item_id, text, None))


def _truthy(value: sql.Composable) -> sql.Composable:
    """Python's truth of a JSON value (missing, null, false, 0, "", [] and {} are false)."""
    return sql.SQL("coalesce({} not in ('null', 'false', '0', '\"\"', '[]', '{{}}'), false)").format(value)


def _responses_sql(stage: loader.Stage, docs: bulk_json.JsonDocs) -> sql.Composed:
    """response_record in SQL: the fields as text, the dates in UTC, unknown fields in `_extra`."""
    plain = [c for c in sm.RESPONSE_COLUMNS if c not in ("created_at", "modified_at")]
    typed = sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(c))
                               for c in plain)  # date_created and date_modified among them
    values = [sql.SQL("x.{}").format(sql.Identifier(c)) for c in plain]
    dates = [sql.SQL("x.{}").format(sql.Identifier(c)) for c in ("date_created", "date_modified")]
    bad = sql.SQL(" or ").join([
        sql.SQL("not {}").format(_truthy(sql.SQL("r.response -> 'id'"))),
        *(sql.SQL("(coalesce({0}, '') <> '' and not {1})").format(d, time_sql.readable(d)) for d in dates)])
    return sql.SQL(
        "insert into {stage} ({columns}, created_at, modified_at, _extra, _origin) "
        "select {values}, {created}, {modified}, {extra}, d._origin from {docs} as d "
        "cross join lateral jsonb_array_elements(d.doc -> 'data') with ordinality as r (response, n) "
        "cross join lateral jsonb_to_record(r.response) as x ({typed}) "
        "where pg_temp.svw_decline_if({bad}, 'a response without an id or with a date in another form') "
        "order by d._seq, r.n").format(
            stage=stage.ident, columns=sql.SQL(", ").join(map(sql.Identifier, plain)),
            values=sql.SQL(", ").join(values), created=time_sql.utc_text(dates[0]),
            modified=time_sql.utc_text(dates[1]),
            extra=bulk_json.extra_of(sql.SQL("r.response"), {*sm.RESPONSE_COLUMNS, *sm.NOT_LANDED}),
            docs=docs.ident, typed=typed, bad=bad)


ANSWERS = """
with answers as (
    select d._seq, r.n as rn, p.n as pn, q.n as qn, a.n as an, d._origin, a.answer,
        {response_id} as response_id, {survey_id} as survey_id, {page_id} as page_id,
        {question_id} as question_id, {choice_id} as choice_id, {row_id} as row_id,
        {other_id} as other_id, a.answer -> 'text' as text
    from {docs} as d
    cross join lateral jsonb_array_elements(d.doc -> 'data') with ordinality as r (response, n)
    cross join lateral jsonb_array_elements(coalesce(nullif(r.response -> 'pages', 'null'), '[]'))
        with ordinality as p (page, n)
    cross join lateral jsonb_array_elements(coalesce(nullif(p.page -> 'questions', 'null'), '[]'))
        with ordinality as q (question, n)
    cross join lateral jsonb_array_elements(coalesce(nullif(q.question -> 'answers', 'null'), '[]'))
        with ordinality as a (answer, n)
)
insert into {stage} (response_id, question_id, answer_key, survey_id, page_id, row_id, choice_id,
    other_id, choice_text, row_text, other_text, choice_position, text, _origin)
select answers.response_id, coalesce(answers.question_id, ''),
    coalesce(nullif(answers.row_id, ''), '-') || '/'
        || coalesce(nullif(answers.choice_id, ''), nullif(answers.other_id, ''), 'text'),
    answers.survey_id, answers.page_id, answers.row_id, answers.choice_id, answers.other_id,
    choice.text, row_.text, other.text, choice.position, {text}, answers._origin
from answers
left join {decoder} as choice on choice.kind = 'choice' and choice.question_id = answers.question_id
    and choice.id = answers.choice_id and answers.choice_id <> ''
left join {decoder} as row_ on row_.kind = 'row' and row_.question_id = answers.question_id
    and row_.id = answers.row_id and answers.row_id <> ''
left join {decoder} as other on other.kind = 'other' and other.question_id = answers.question_id
    and other.id = answers.other_id and answers.other_id <> ''
where pg_temp.svw_decline_if(jsonb_typeof(answers.answer) <> 'object'
    or not (coalesce(answers.choice_id, '') <> '' or coalesce(answers.other_id, '') <> ''
            or coalesce(answers.text <> 'null', false))
    or (coalesce(answers.choice_id, '') <> '' and choice.id is null)
    or (coalesce(answers.row_id, '') <> '' and row_.id is null), 'an answer the row path sets aside')
order by answers._seq, answers.rn, answers.pn, answers.qn, answers.an
"""


def _answers_sql(stage: loader.Stage, docs: bulk_json.JsonDocs) -> sql.Composed:
    """answer_records in SQL (question ids keyless as '', which finish quarantines)."""
    def text(path: str) -> sql.Composable:
        return bulk_json.text_of(sql.SQL(path))

    return sql.SQL(ANSWERS).format(
        response_id=text("r.response -> 'id'"), survey_id=text("r.response -> 'survey_id'"),
        page_id=text("p.page -> 'id'"), question_id=text("q.question -> 'id'"),
        choice_id=text("a.answer -> 'choice_id'"), row_id=text("a.answer -> 'row_id'"),
        other_id=text("a.answer -> 'other_id'"), text=bulk_json.text_of(sql.SQL("answers.text")),
        docs=docs.ident, stage=stage.ident, decoder=DECODER)
