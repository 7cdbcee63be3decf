"""SurveyMonkey API v3 as the connector meets it: surveys, survey details and bulk responses.

Bodies follow the recorded samples (shared/samples/surveymonkey): the `{data, per_page, page, total,
links}` envelope with `links.next` only while more pages follow, dates like
`2018-05-31T23:32:58+00:00`, answers `{choice_id}`, `{choice_id, row_id}` or `{text}`.

Format faults: `duplicates` repeats the last response of the previous page at the top of the next
(as when a response moves while paging); `empty_numbers` sends total_time as ""; `date_formats`
writes dates with `Z` or a +02:00 offset; `extra_columns` adds fields the connector does not know;
`missing_columns` leaves optional fields out; `nul` puts a NUL character in some comments.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from urllib.parse import urlencode

from social_value.simulator import survey_world as sw
from social_value.simulator.api import Faults, Request, Response, json_response
from social_value.simulator.organisation import Scale

MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 50


def _error(status: int, error_id: str, name: str, message: str) -> Response:
    return json_response({"error": {"docs": "https://developer.surveymonkey.com/api/v3/#error-codes",
                                    "message": message, "id": error_id, "name": name,
                                    "http_status_code": status}}, status)


def _not_found() -> Response:
    return _error(404, "1020", "Resource Not Found", "There was an error retrieving the requested resource.")


def _bad_request(message: str) -> Response:
    return _error(400, "1002", "Bad Request", message)


def _surveys() -> list[dict]:
    return [{"id": sw.SURVEY_ID, "title": sw.SURVEY_TITLE},
            {"id": sw.EMPTY_SURVEY_ID, "title": sw.EMPTY_SURVEY_TITLE}]


NO_FAULTS = Faults()


def sm_date(moment: datetime, n: int = 0, faults: Faults = NO_FAULTS) -> str:
    """The API's date form; with `date_formats` every third record uses `Z`, every third +02:00."""
    if "date_formats" in faults and n % 3 == 1:
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if "date_formats" in faults and n % 3 == 2:
        return moment.astimezone(timezone(timedelta(hours=2))).isoformat(timespec="seconds")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def list_surveys(request: Request) -> Response:
    base = f"{request.base_url}/v3/surveys"
    data = [{"href": f"{base}/{s['id']}", "nickname": "", "id": s["id"], "title": s["title"]}
            for s in _surveys()]
    return json_response({"per_page": 50, "total": len(data), "data": data, "page": 1,
                          "links": {"self": f"{base}?page=1&per_page=50"}})


def _choice(choice_id: str, text: str, position: int) -> dict:
    return {"id": choice_id, "text": text, "position": position, "visible": True, "is_na": False}


def details(scale: Scale, survey_id: str, base_url: str) -> dict:
    """The body of /v3/surveys/{id}/details (also the question list of the empty survey)."""
    href = f"{base_url}/v3/surveys/{survey_id}"
    created = sm_date(scale.start - timedelta(days=20))
    if survey_id == sw.EMPTY_SURVEY_ID:
        return {"id": survey_id, "title": sw.EMPTY_SURVEY_TITLE, "nickname": "", "language": "nl",
                "question_count": 0, "page_count": 1, "response_count": 0, "date_created": created,
                "date_modified": created, "href": href,
                "pages": [{"id": "51239999", "position": 1, "title": "", "question_count": 0,
                           "questions": []}]}
    csat_choices = [_choice(sw.CSAT_CHOICE_IDS[score], sw.CSAT_TEXTS[score], position)
                    for position, score in enumerate(sw.CSAT_ORDER, start=1)]
    nps_choices = [_choice(sw.NPS_CHOICE_IDS[score], sw.nps_text(score), score + 1) for score in range(11)]
    questions = [
        {"id": sw.CSAT_QUESTION_ID, "position": 1, "family": "single_choice", "subtype": "vertical",
         "headings": [{"heading": sw.CSAT_HEADING}], "required": None,
         "answers": {"choices": csat_choices}, "href": f"{href}/pages/{sw.PAGE_ID}/questions/"
                                                        f"{sw.CSAT_QUESTION_ID}"},
        {"id": sw.NPS_QUESTION_ID, "position": 2, "family": "matrix", "subtype": "rating",
         "headings": [{"heading": sw.NPS_HEADING}], "required": None,
         "answers": {"rows": [{"id": sw.NPS_ROW_ID, "text": "", "position": 1, "visible": True}],
                     "choices": nps_choices},
         "href": f"{href}/pages/{sw.PAGE_ID}/questions/{sw.NPS_QUESTION_ID}"},
        {"id": sw.COMMENT_QUESTION_ID, "position": 3, "family": "open_ended", "subtype": "essay",
         "headings": [{"heading": sw.COMMENT_HEADING}], "required": None,
         "href": f"{href}/pages/{sw.PAGE_ID}/questions/{sw.COMMENT_QUESTION_ID}"},
    ]
    return {"id": survey_id, "title": sw.SURVEY_TITLE, "nickname": "", "language": "nl",
            "question_count": len(questions), "page_count": 1,
            "response_count": sum(1 for _ in sw.responses(scale, "surveymonkey")),
            "date_created": created, "date_modified": created, "href": href,
            "pages": [{"id": sw.PAGE_ID, "position": 1, "title": "Uw ervaring", "question_count": 3,
                       "questions": questions, "href": f"{href}/pages/{sw.PAGE_ID}"}]}


def survey_details(request: Request) -> Response:
    survey_id = request.match.group("survey_id")
    if survey_id not in {s["id"] for s in _surveys()}:
        return _not_found()
    return json_response(details(request.scale, survey_id, request.base_url))


def has_nul(response: sw.SurveyResponse) -> bool:
    """Whether the `nul` fault puts a NUL character in this response's comment."""
    return response.comment is not None and response.n % 10 == 4


def wire_response(response: sw.SurveyResponse, faults: Faults, base_url: str) -> dict:
    """One response as /responses/bulk sends it."""
    rid = sw.response_id(response.n)
    questions = []
    if response.csat is not None:
        questions.append({"id": sw.CSAT_QUESTION_ID,
                          "answers": [{"choice_id": sw.CSAT_CHOICE_IDS[response.csat]}]})
    if response.nps is not None:
        questions.append({"id": sw.NPS_QUESTION_ID, "answers": [
            {"choice_id": sw.NPS_CHOICE_IDS[response.nps], "row_id": sw.NPS_ROW_ID}]})
    if response.comment is not None:
        comment = response.comment
        if "nul" in faults and has_nul(response):
            comment = comment[:3] + "\x00" + comment[3:]
        questions.append({"id": sw.COMMENT_QUESTION_ID, "answers": [{"text": comment}]})
    total_time: int | str = response.duration_seconds
    if "empty_numbers" in faults and response.n % 7 == 3:
        total_time = ""
    record = {
        "total_time": total_time,
        "href": f"{base_url}/v3/surveys/{sw.SURVEY_ID}/responses/{rid}",
        "custom_variables": {"account_id": response.account_id},
        "ip_address": f"192.0.2.{response.n % 250 + 1}",
        "id": rid,
        "logic_path": {},
        "date_modified": sm_date(response.modified, response.n, faults),
        "response_status": "completed" if response.completed else "partial",
        "custom_value": "",
        "analyze_url": f"https://www.surveymonkey.com/analyze/browse/sim?respondent_id={rid}",
        "pages": [{"id": sw.PAGE_ID, "questions": questions}],
        "page_path": [],
        "recipient_id": "",
        "collector_id": sw.COLLECTOR_ID,
        "date_created": sm_date(response.created, response.n, faults),
        "survey_id": sw.SURVEY_ID,
        "collection_mode": "default",
        "edit_url": f"https://www.surveymonkey.com/r/?sm=sim{rid}",
        "metadata": {"contact": {}},
    }
    if "extra_columns" in faults:
        record["response_language"] = "nl"
        record["tags"] = ["klant"]
    if "missing_columns" in faults and response.n % 5 == 0:
        for optional in ("collector_id", "custom_value", "recipient_id", "total_time"):
            record.pop(optional, None)
    return record


@lru_cache(maxsize=4)
def matching(scale: Scale, start: datetime | None, end: datetime | None) -> tuple[sw.SurveyResponse, ...]:
    """Responses in the bulk endpoint's order (date_modified ascending) within the window; cached,
    as every page of one window asks for the same list."""
    chosen = [r for r in sw.responses(scale, "surveymonkey")
              if (start is None or r.modified >= start) and (end is None or r.modified < end)]
    return tuple(sorted(chosen, key=lambda r: (r.modified, r.n)))


def _parse_when(text: str | None) -> datetime | None:
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def bulk(request: Request) -> Response:
    survey_id = request.match.group("survey_id")
    if survey_id not in {s["id"] for s in _surveys()}:
        return _not_found()
    try:
        per_page = int(request.arg("per_page", str(DEFAULT_PER_PAGE)))
        page = int(request.arg("page", "1"))
        start = _parse_when(request.arg("start_modified_at"))
        end = _parse_when(request.arg("end_modified_at"))
    except ValueError as bad:
        return _bad_request(f"Invalid query parameter: {bad}")
    if not 1 <= per_page <= MAX_PER_PAGE or page < 1:
        return _bad_request(f"per_page must be 1..{MAX_PER_PAGE} and page at least 1")
    rows = matching(request.scale, start, end) if survey_id == sw.SURVEY_ID else []
    last = max(1, math.ceil(len(rows) / per_page))
    first_index = (page - 1) * per_page
    chosen = rows[first_index:first_index + per_page]
    if "duplicates" in request.faults and page > 1 and first_index <= len(rows):
        chosen = [rows[first_index - 1], *chosen]
    data = [wire_response(r, request.faults, request.base_url) for r in chosen]
    return json_response({"per_page": per_page, "total": len(rows), "data": data, "page": page,
                          "links": _links(request, survey_id, page, last, per_page)})


def _links(request: Request, survey_id: str, page: int, last: int, per_page: int) -> dict:
    """Like the recorded bodies: next/last while more follow, prev/first after the first page."""
    base = f"{request.base_url}/v3/surveys/{survey_id}/responses/bulk"
    keep = {k: request.arg(k) for k in ("start_modified_at", "end_modified_at") if request.arg(k)}

    def url(number: int) -> str:
        return f"{base}?{urlencode({'page': number, 'per_page': per_page, **keep})}"

    links = {"self": url(page)}
    if page > 1:
        links.update(prev=url(min(page - 1, last)), first=url(1))
    if page < last:
        links.update(next=url(page + 1), last=url(last))
    return links


def wire_pages(scale: Scale, faults: Faults, per_page: int, base_url: str = "") -> Iterator[list[dict]]:
    """Every page the bulk endpoint serves for the whole history (for tests' expected counts)."""
    rows = matching(scale, None, None)
    for page in range(1, max(1, math.ceil(len(rows) / per_page)) + 1):
        first_index = (page - 1) * per_page
        chosen = rows[first_index:first_index + per_page]
        if "duplicates" in faults and page > 1:
            chosen = [rows[first_index - 1], *chosen]
        yield [wire_response(r, faults, base_url) for r in chosen]


ROUTES = [
    (re.compile(r"/v3/surveys"), list_surveys),
    (re.compile(r"/v3/surveys/(?P<survey_id>[^/]+)/details"), survey_details),
    (re.compile(r"/v3/surveys/(?P<survey_id>[^/]+)/responses/bulk"), bulk),
]
