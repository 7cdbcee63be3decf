"""SurveyMonkey API v3: surveys, their questions and choices, and responses page by page.

`GET {base}/v3/surveys/{id}/responses/bulk?per_page=&page=&start_modified_at=&end_modified_at=`
answers `{data[], per_page, page, total, links{self, next?, ...}}`; pages are followed through
`links.next` until it is absent. Answers carry choice ids only; /v3/surveys/{id}/details decodes
them into the choice text, which holds the score ("5 - Zeer tevreden"). The position of a choice is
kept but never used as a score.

The bearer token only ever goes to the configured base URL: a `links.next` on another host is
followed on the configured one (same path and query), never sent elsewhere.

Left out of raw on purpose (data minimisation, not needed by any metric): the respondent's
ip_address, and edit_url/analyze_url (links that let anyone holding them edit or view a response).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from social_value.cast_rules import INTEGER, TIMESTAMP
from social_value.connectors import http
from social_value.connectors.http import SourceError
from social_value.loader import QuarantineError, RawTable, Rejected

log = logging.getLogger(__name__)

SCHEMA = "raw_surveymonkey"
PER_PAGE = 100  # the bulk endpoint's maximum: fewest calls against a 500/day limit

SURVEY_COLUMNS = ("id", "title", "nickname", "language", "question_count", "response_count",
                  "date_created", "date_modified")
QUESTION_COLUMNS = ("survey_id", "id", "page_id", "page_position", "position", "family", "subtype",
                    "heading")
CHOICE_COLUMNS = ("survey_id", "question_id", "kind", "id", "text", "position")
RESPONSE_COLUMNS = ("id", "survey_id", "collector_id", "recipient_id", "response_status",
                    "date_created", "date_modified", "created_at", "modified_at", "total_time",
                    "collection_mode", "custom_value", "custom_variables", "href")
ANSWER_COLUMNS = ("response_id", "question_id", "answer_key", "survey_id", "page_id", "row_id",
                  "choice_id", "other_id", "choice_text", "row_text", "other_text", "choice_position",
                  "text")
NOT_LANDED = frozenset({"ip_address", "edit_url", "analyze_url", "pages"})  # pages → answers


def tables(schema: str = SCHEMA) -> dict[str, RawTable]:
    return {
        "surveys": RawTable(schema, "surveys", SURVEY_COLUMNS),
        "questions": RawTable(schema, "questions", QUESTION_COLUMNS, key=("survey_id", "id"),
                              casts={"page_position": INTEGER, "position": INTEGER}),
        "choices": RawTable(schema, "choices", CHOICE_COLUMNS,
                            key=("survey_id", "question_id", "kind", "id")),
        "responses": RawTable(schema, "responses", RESPONSE_COLUMNS, casts=dict.fromkeys(
            ("date_created", "date_modified", "created_at", "modified_at"), TIMESTAMP)),
        "answers": RawTable(schema, "answers", ANSWER_COLUMNS,
                            key=("response_id", "question_id", "answer_key"),
                            casts={"choice_position": INTEGER}),
    }


class SurveyMonkey:
    """A v3 API client for one account (base URL like https://api.surveymonkey.com)."""

    def __init__(self, base_url: str, token: str, per_page: int = PER_PAGE) -> None:
        self.base_url, self.token, self.per_page = base_url.rstrip("/"), token, per_page

    def get(self, path_or_url: str, params: dict | None = None) -> dict:
        """GET a JSON object; SurveyMonkey's error bodies become a SourceError that says what is wrong."""
        url = self._on_base(path_or_url)
        try:
            body = http.get_json(url, self.token, params)
        except SourceError as error:
            raise SourceError(_explain(str(error), url)) from error
        if not isinstance(body, dict):
            raise SourceError(f"GET {url.split('?')[0]}: expected a JSON object, got {type(body).__name__}")
        return body

    def surveys(self) -> Iterator[dict]:
        """Every survey of the account (id, title, ...), following links.next."""
        for _origin, body in self._pages("/v3/surveys", {"per_page": self.per_page}):
            yield from body.get("data") or []

    def details(self, survey_id: str) -> dict:
        return self.get(f"/v3/surveys/{survey_id}/details")

    def response_pages(self, survey_id: str, since: datetime | None, until: datetime | None,
                       get: Callable[[str, dict | None], dict] | None = None
                       ) -> Iterator[tuple[str, list[dict]]]:
        """(origin, responses) per page of responses modified in [since, until), oldest first;
        `get` (default: over HTTP) answers each page's request."""
        for origin, body in self._pages(*self.responses_request(survey_id, since, until), get):
            data = body.get("data")
            if not isinstance(data, list):
                raise SourceError(f"{origin}: the page has no data list (keys: {', '.join(sorted(body))})")
            yield origin, data

    def responses_request(self, survey_id: str, since: datetime | None, until: datetime | None
                          ) -> tuple[str, dict]:
        """The path and query of the first page of responses modified in [since, until)."""
        params: dict[str, object] = {"per_page": self.per_page, "page": 1, "sort_by": "date_modified",
                                     "sort_order": "ASC"}
        if since:
            params["start_modified_at"] = _api_time(since)
        if until:
            params["end_modified_at"] = _api_time(until)
        return f"/v3/surveys/{survey_id}/responses/bulk", params

    def fetch(self, path_or_url: str, params: dict | None) -> Path:
        """A page's body downloaded to a file (the caller deletes it), for Postgres to parse; only
        its end is checked here (a cut body is retried), Postgres refuses what is not JSON."""
        url = self._on_base(path_or_url)
        try:
            return http.download(url, self.token, params, validate=_ends_whole)
        except SourceError as error:
            raise SourceError(_explain(str(error), url)) from error

    def read(self, path_or_url: str, file: Path) -> dict | None:
        """A downloaded body parsed and checked as get() does; None if it is not whole JSON (the
        caller gets it again, with get()'s retries)."""
        url = self._on_base(path_or_url)
        with file.open("rb") as body:
            try:
                data = json.load(body)
            except ValueError:
                return None
        if not isinstance(data, dict):
            raise SourceError(f"GET {url.split('?')[0]}: expected a JSON object, got {type(data).__name__}")
        return data

    def origin(self, url: str, page: object) -> str:
        return f"{urlsplit(self._on_base(url)).path}?page={page}"

    def _pages(self, path: str, params: dict, get: Callable[[str, dict | None], dict] | None = None
               ) -> Iterator[tuple[str, dict]]:
        url: str | None = path
        query: dict | None = params
        seen: set[str] = set()
        while url:
            body = (get or self.get)(url, query)
            origin = self.origin(url, body.get("page", "?"))
            yield origin, body
            url, query = next_url(origin, body.get("links"), seen), None


    def _on_base(self, path_or_url: str) -> str:
        parts = urlsplit(path_or_url)
        query = f"?{parts.query}" if parts.query else ""
        return f"{self.base_url}{parts.path}{query}"


def next_url(origin: str, links: object, seen: set[str]) -> str | None:
    """The next page from a page's `links` (noted in `seen`); a link back to a page already read
    is an error, as a server that links a page to itself would loop for ever."""
    url = (links or {}).get("next")
    if url in seen:
        raise SourceError(f"{origin}: links.next repeats {url}")
    if url:
        seen.add(url)
    return url


def _ends_whole(file: Path) -> None:
    with file.open("rb") as body:
        body.seek(max(0, file.stat().st_size - 64))
        if not body.read().rstrip().endswith(b"}"):
            raise ValueError("the body does not end a JSON object")


def _api_time(moment: datetime) -> str:
    """The API's filter format: YYYY-MM-DDTHH:MM:SS in UTC."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _explain(message: str, url: str) -> str:
    """Turn 'GET … answered HTTP 401: {"error": {...}}' into a sentence an operator can act on."""
    found = re.search(r"answered HTTP (\d+): (.*)", message, re.DOTALL)
    if not found:
        return message
    status, text = int(found.group(1)), found.group(2)
    try:
        error = json.loads(text).get("error")
    except (ValueError, AttributeError):
        error = None
    if isinstance(error, dict):
        detail = f"{error.get('name', 'error')} {error.get('id', '')}: {error.get('message', '')}".strip()
    else:
        detail = str(error or text[:200])
    hint = {401: "the token of connection 'surveymonkey' is missing, wrong or expired",
            403: "the token lacks the scope for this call (responses_read_detail, surveys_read)",
            404: "no such survey (check survey_ids in the connection's extra)"}.get(status, "")
    where = urlsplit(url).path
    return f"SurveyMonkey answered HTTP {status} on {where}: {detail}" + (f" — {hint}" if hint else "")


def parse_time(text: object) -> str | None:
    """A source timestamp as ISO-8601 UTC; accepts +00:00, Z, other offsets and 2018/05/31 23:32:58 +0000.

    Raises QuarantineError for anything else: a date we cannot read is not guessed at.
    """
    if text in (None, ""):
        return None
    value = str(text).strip()
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        try:
            moment = datetime.strptime(value, "%Y/%m/%d %H:%M:%S %z")
        except ValueError:
            raise QuarantineError(f"unreadable timestamp {value!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # the API states UTC; a bare time is read as such
    return moment.astimezone(UTC).isoformat()


@dataclass
class Decoder:
    """Choice, row and 'other' ids of one survey's questions → their text and position."""

    choices: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    rows: dict[tuple[str, str], str] = field(default_factory=dict)
    others: dict[tuple[str, str], str] = field(default_factory=dict)

    @classmethod
    def from_details(cls, details: Mapping) -> Decoder:
        decoder = cls()
        for question in _questions(details):
            answers = question.get("answers") or {}
            qid = str(question.get("id"))
            for choice in answers.get("choices") or []:
                position = _text(choice.get("position"))
                decoder.choices[qid, str(choice.get("id"))] = (choice.get("text"), position)
            for row in answers.get("rows") or []:
                decoder.rows[qid, str(row.get("id"))] = row.get("text")
            other = answers.get("other")
            if isinstance(other, dict) and other.get("id"):
                decoder.others[qid, str(other["id"])] = other.get("text")
        return decoder


def _questions(details: Mapping) -> Iterator[dict]:
    for page in details.get("pages") or []:
        for question in page.get("questions") or []:
            yield {**question, "_page_id": page.get("id"), "_page_position": page.get("position")}


def _text(value: object) -> str | None:
    """A JSON value as landed text: scalars as they are, objects and lists as JSON."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def survey_record(details: Mapping) -> dict[str, str | None]:
    keep = (*SURVEY_COLUMNS, "pages", "href", "buttons_text", "preview", "edit_url", "analyze_url",
            "collect_url", "summary_url", "custom_variables", "footer", "folder_id", "category",
            "is_owner")
    return {key: _text(details.get(key)) for key in SURVEY_COLUMNS} | {
        key: _text(value) for key, value in details.items() if key not in keep}


def question_records(details: Mapping) -> Iterator[dict[str, str | None]]:
    survey_id = _text(details.get("id"))
    for question in _questions(details):
        headings = question.get("headings") or [{}]
        yield {"survey_id": survey_id, "id": _text(question.get("id")),
               "page_id": _text(question["_page_id"]), "page_position": _text(question["_page_position"]),
               "position": _text(question.get("position")),
               "family": question.get("family"), "subtype": question.get("subtype"),
               "heading": headings[0].get("heading")}


def choice_records(details: Mapping) -> Iterator[dict[str, str | None]]:
    survey_id = _text(details.get("id"))
    for question in _questions(details):
        answers = question.get("answers") or {}
        other = answers.get("other")
        for kind, items in (("choice", answers.get("choices")), ("row", answers.get("rows")),
                            ("other", [other] if isinstance(other, dict) else [])):
            for item in items or []:
                yield {"survey_id": survey_id, "question_id": _text(question.get("id")), "kind": kind,
                       "id": _text(item.get("id")), "text": item.get("text"),
                       "position": _text(item.get("position"))}


def response_record(response: Mapping) -> dict[str, str | None]:
    """A response's own fields; unknown ones are kept (they land in _extra), pages become answers."""
    if not isinstance(response, Mapping):
        raise QuarantineError(f"a response is a JSON {type(response).__name__}, not an object")
    if not response.get("id"):
        raise QuarantineError("response without an id")
    record = {key: _text(value) for key, value in response.items() if key not in NOT_LANDED}
    record["created_at"] = parse_time(response.get("date_created"))
    record["modified_at"] = parse_time(response.get("date_modified"))
    return record


def answer_records(response: Mapping, decoder: Decoder) -> Iterator[dict[str, str | None] | Rejected]:
    """One row per answer: choice ids decoded to their text (and kept), free text as written.

    An answer the survey's details cannot decode (an unknown choice or row id: a source error or an
    edited survey) is Rejected rather than landed without its meaning; the other answers still land.
    """
    response_id, survey_id = _text(response.get("id")), _text(response.get("survey_id"))
    for page in response.get("pages") or []:
        for question in page.get("questions") or []:
            for answer in question.get("answers") or []:
                try:
                    yield _answer(response_id, survey_id, _text(page.get("id")), _text(question.get("id")),
                                  answer, decoder)
                except QuarantineError as reason:
                    yield Rejected(f"response {response_id}: {reason}", json.dumps(
                        {"response_id": response_id, "question_id": question.get("id"), "answer": answer},
                        ensure_ascii=False, default=str))


def _answer(response_id: str | None, survey_id: str | None, page_id: str | None, qid: str | None,
            answer: Mapping, decoder: Decoder) -> dict[str, str | None]:
    if not isinstance(answer, Mapping):
        raise QuarantineError(f"question {qid}: an answer is a JSON {type(answer).__name__}")
    choice_id, row_id = _text(answer.get("choice_id")), _text(answer.get("row_id"))
    other_id, text = _text(answer.get("other_id")), answer.get("text")
    if not (choice_id or other_id or text is not None):
        raise QuarantineError(f"question {qid}: an answer with neither choice_id, other_id nor text")
    choice_text = choice_position = None
    if choice_id:
        if (qid, choice_id) not in decoder.choices:
            raise QuarantineError(f"question {qid}: choice_id {choice_id} is not in the survey's details")
        choice_text, choice_position = decoder.choices[qid, choice_id]
    if row_id and (qid, row_id) not in decoder.rows:
        raise QuarantineError(f"question {qid}: row_id {row_id} is not in the survey's details")
    # What identifies an answer within its question: its row and its choice, else 'text'.
    answer_key = "/".join([row_id or "-", choice_id or other_id or "text"])
    return {"response_id": response_id, "question_id": qid, "answer_key": answer_key,
            "survey_id": survey_id, "page_id": page_id, "row_id": row_id, "choice_id": choice_id,
            "other_id": other_id, "choice_text": choice_text,
            "row_text": decoder.rows.get((qid, row_id)) if row_id else None,
            "other_text": decoder.others.get((qid, other_id)) if other_id else None,
            "choice_position": choice_position, "text": _text(text)}
