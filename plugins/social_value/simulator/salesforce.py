"""Salesforce REST query API: `GET /services/data/vNN.N/query?q=<SOQL>` and `/queryAll`.

Answers with the real envelope `{totalSize, done, nextRecordsUrl?, records: [{attributes, ...}]}`,
pages of 2000 records (or `Sforce-Query-Options: batchSize=N`; unlike Salesforce, which clamps to
200..2000, any N ≥ 1 is honoured so tests can page small data) and `nextRecordsUrl`
`/services/data/vNN.N/query/<locator>-<offset>`. `query` hides deleted records, `queryAll` returns
them with IsDeleted true. Errors are the real array `[{"message", "errorCode"}]`.

The SOQL understood is what the connector sends: `SELECT f, ... FROM Object [WHERE f op literal
[AND ...]] [ORDER BY f [ASC|DESC], ...] [LIMIT n]`, literals being datetimes, dates, numbers,
true/false/null and quoted strings.

Simulator settings (environment, read per request so a test can change them between loads):
- SVW_SIM_SF_PAGE_SIZE: page size when the request names none (default 2000).
- SVW_SIM_CRM_AS_OF: serve the CRM as it was at this ISO datetime (default: the scale's end).
- SVW_SIM_SF_LOCATOR_TTL: seconds a query locator lives (default 900); 0 makes every next page
  answer 400 INVALID_QUERY_LOCATOR, as an expired cursor does: a load that dies mid-way.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import lru_cache

from social_value.simulator import crm_world
from social_value.simulator.api import Request, Response, json_response
from social_value.simulator.organisation import Scale

DEFAULT_PAGE_SIZE = 2000

# Object → (fields in describe order, records as of a moment).
OBJECTS: dict[str, tuple[tuple[str, ...], Callable[[Scale, datetime | None], Iterator[dict]]]] = {
    "Opportunity": (("Id", "Name", "AccountId", "Amount", "StageName", "Probability", "CloseDate", "Type",
                     "IsClosed", "IsWon", "ForecastCategoryName", "OwnerId", "LeadSource", "IsDeleted",
                     "CreatedDate", "LastModifiedDate", "SystemModstamp"), crm_world.opportunities),
    "OpportunityHistory": (("Id", "OpportunityId", "StageName", "Amount", "CloseDate", "Probability",
                            "CreatedDate", "CreatedById", "IsDeleted", "SystemModstamp"),
                           crm_world.opportunity_history),
    "Account": (("Id", "Name", "Industry", "OwnerId", "IsDeleted", "SystemModstamp"),
                lambda scale, _: crm_world.accounts(scale)),
    "User": (("Id", "Email", "Name", "Department", "IsActive", "SystemModstamp"),
             lambda scale, _: crm_world.users(scale)),
    "Project__c": (("Id", "Name", "Opportunity__c", "Revenue__c", "Cost__c", "End_Date__c", "IsDeleted",
                    "SystemModstamp"), crm_world.projects),
}
# Fields the format faults play with, per object.
OPTIONAL_FIELD = {"Opportunity": "LeadSource", "Account": "Industry", "User": "Department",
                  "Project__c": "End_Date__c", "OpportunityHistory": "Probability"}
NUMBER_FIELD = {"Opportunity": "Amount", "OpportunityHistory": "Amount", "Project__c": "Cost__c"}
DATE_FIELD = {"Opportunity": "CloseDate", "OpportunityHistory": "CloseDate", "Project__c": "End_Date__c"}

_SOQL = re.compile(
    r"\s*select\s+(?P<fields>.+?)\s+from\s+(?P<object>\w+)"
    r"(?:\s+where\s+(?P<where>.+?))?(?:\s+order\s+by\s+(?P<order>.+?))?(?:\s+limit\s+(?P<limit>\d+))?\s*",
    re.IGNORECASE | re.DOTALL)
_CONDITION = re.compile(r"\s*(\w+)\s*(>=|<=|!=|=|>|<)\s*('(?:[^'\\]|\\.)*'|[\w.:+-]+)\s*")
_DATETIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)")
_BATCH_SIZE = re.compile(r"batchSize\s*=\s*(\d+)", re.IGNORECASE)


class QueryError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def error_response(code: str, message: str, status: int = 400) -> Response:
    return json_response([{"message": message, "errorCode": code}], status)


# Open cursors: locator → (SOQL, include deleted, page size, opened at). Bounded; ids are hashes.
_LOCATORS: dict[str, tuple[str, bool, int, float]] = {}
_LOCK = threading.Lock()


def _open_locator(soql: str, include_deleted: bool, page_size: int) -> str:
    digest = hashlib.sha1(f"{include_deleted}|{page_size}|{soql}".encode()).hexdigest()
    locator = "01g" + digest[:15]
    with _LOCK:
        if len(_LOCATORS) > 1000:
            _LOCATORS.clear()
        _LOCATORS[locator] = (soql, include_deleted, page_size, time.monotonic())
    return locator


def query(request: Request) -> Response:
    version, kind = request.match.group("version"), request.match.group("kind")
    soql = request.arg("q")
    if not soql:
        return error_response("MALFORMED_QUERY", "A query string has to be specified")
    options = _BATCH_SIZE.search(request.headers.get("Sforce-Query-Options", "") or "")
    page_size = int(options.group(1)) if options else int(os.environ.get("SVW_SIM_SF_PAGE_SIZE",
                                                                         DEFAULT_PAGE_SIZE))
    include_deleted, page_size = kind == "queryAll", max(1, page_size)
    locator = _open_locator(soql, include_deleted, page_size)
    return _page(request, version, locator, soql, include_deleted, page_size, 0)


def next_page(request: Request) -> Response:
    version, locator = request.match.group("version"), request.match.group("locator")
    with _LOCK:
        cursor = _LOCATORS.get(locator)
    ttl = float(os.environ.get("SVW_SIM_SF_LOCATOR_TTL", "900"))
    if cursor is None or time.monotonic() - cursor[3] >= ttl:
        return error_response("INVALID_QUERY_LOCATOR", "invalid query locator")
    soql, include_deleted, page_size, _ = cursor
    return _page(request, version, locator, soql, include_deleted, page_size,
                 int(request.match.group("offset")))


def _page(request: Request, version: str, locator: str, soql: str, include_deleted: bool, page_size: int,
          offset: int) -> Response:
    try:
        object_name, fields, rows = _cached_soql(soql, request.scale, include_deleted, _as_of())
    except QueryError as error:
        return error_response(error.code, str(error))
    faults = request.faults
    # With `duplicates` each page starts with the previous page's last record again.
    step = page_size - 1 if "duplicates" in faults and page_size > 1 else page_size
    page = rows[offset:offset + page_size]
    records = []
    for index, row in enumerate(page, start=offset):
        record = {"attributes": {"type": object_name,
                                 "url": f"/services/data/v{version}/sobjects/{object_name}/{row['Id']}"}}
        record.update((field, row.get(field)) for field in fields)
        records.append(_with_format_faults(record, object_name, index, faults))
    body = {"totalSize": len(rows), "done": offset + page_size >= len(rows), "records": records}
    if not body["done"]:
        body["nextRecordsUrl"] = f"/services/data/v{version}/query/{locator}-{offset + step}"
    return json_response(body)


def _with_format_faults(record: dict, object_name: str, index: int, faults) -> dict:
    if "extra_columns" in faults:
        record["Region__c"] = "EMEA"  # a field added in Salesforce after the connector was written
    if "missing_columns" in faults:
        record.pop(OPTIONAL_FIELD.get(object_name, ""), None)
    if "empty_numbers" in faults and index % 5 == 1 and NUMBER_FIELD.get(object_name) in record:
        record[NUMBER_FIELD[object_name]] = ""
    if "nul" in faults and index % 10 == 3 and "Name" in record:
        record["Name"] = f"{record['Name']}\x00"
    if "date_formats" in faults:
        field = DATE_FIELD.get(object_name)
        if index % 3 == 1 and record.get(field):
            record[field] = f"{record[field]}T00:00:00.000+0000"
        stamp = record.get("SystemModstamp")
        if index % 3 == 2 and stamp:
            record["SystemModstamp"] = stamp[:19] + "Z"
        elif index % 3 == 1 and stamp:
            record["SystemModstamp"] = stamp[:23] + "+00:00"
    return record


def _as_of() -> datetime | None:
    value = os.environ.get("SVW_SIM_CRM_AS_OF")
    return datetime.fromisoformat(value).astimezone(UTC) if value else None


@lru_cache(maxsize=4)
def _cached_soql(soql: str, scale: Scale, include_deleted: bool, as_of: datetime | None
                 ) -> tuple[str, list[str], list[dict]]:
    """run_soql once per query: every page of a cursor slices the same result (as Salesforce's
    cursor does), instead of evaluating the whole query again for each page."""
    return run_soql(soql, scale, include_deleted, as_of)


def run_soql(soql: str, scale: Scale, include_deleted: bool, as_of: datetime | None = None
             ) -> tuple[str, list[str], list[dict]]:
    """(object, selected fields in canonical case, matching rows in order) or QueryError."""
    parsed = _SOQL.fullmatch(soql)
    if not parsed:
        raise QueryError("MALFORMED_QUERY", f"unexpected token in query: {soql[:80]}")
    object_name = next((name for name in OBJECTS if name.lower() == parsed["object"].lower()), None)
    if object_name is None:
        raise QueryError("INVALID_TYPE", f"sObject type '{parsed['object']}' is not supported. If you "
                         "are attempting to use a custom object, be sure to append the '__c' after the "
                         "entity name.")
    known, source = OBJECTS[object_name]
    canonical = {field.lower(): field for field in known}

    def field_name(text: str) -> str:
        name = canonical.get(text.strip().lower())
        if name is None:
            raise QueryError("INVALID_FIELD", f"No such column '{text.strip()}' on entity '{object_name}'. "
                             "If you are attempting to use a custom field, be sure to append the '__c' "
                             "after the custom field name.")
        return name

    fields = [field_name(text) for text in parsed["fields"].split(",")]
    conditions = []
    if parsed["where"]:
        for part in re.split(r"\s+and\s+", parsed["where"], flags=re.IGNORECASE):
            condition = _CONDITION.fullmatch(part)
            if not condition:
                raise QueryError("MALFORMED_QUERY", f"unexpected token in WHERE: {part.strip()[:60]}")
            conditions.append((field_name(condition[1]), condition[2], _literal(condition[3])))
    rows = [row for row in source(scale, as_of)
            if (include_deleted or not row.get("IsDeleted"))
            and all(_compare(row.get(field), op, value) for field, op, value in conditions)]
    for item in reversed((parsed["order"] or "").split(",") if parsed["order"] else []):
        words = item.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
            raise QueryError("MALFORMED_QUERY", f"unexpected token in ORDER BY: {item.strip()[:60]}")
        name = field_name(words[0])
        rows.sort(key=lambda row, name=name: _sort_key(row.get(name)),
                  reverse=len(words) == 2 and words[1].lower() == "desc")
    if parsed["limit"]:
        rows = rows[:int(parsed["limit"])]
    return object_name, fields, rows


def _literal(text: str) -> object:
    if text.startswith("'"):
        return text[1:-1].replace("\\'", "'")
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "null":
        return None
    if _DATETIME.fullmatch(text):
        return datetime.fromisoformat(text)
    if re.fullmatch(r"\d{4}-\d\d-\d\d", text):
        return text  # dates compare as ISO strings
    try:
        return float(text)
    except ValueError:
        raise QueryError("MALFORMED_QUERY", f"unexpected literal: {text[:40]}") from None


def _value(raw: object, like: object) -> object:
    """A record value in the type of the literal it is compared with."""
    if isinstance(like, datetime) and isinstance(raw, str):
        return datetime.fromisoformat(raw)
    return raw


def _compare(raw: object, op: str, literal: object) -> bool:
    if op in ("=", "!="):
        return (_value(raw, literal) == literal) == (op == "=")
    if raw is None or literal is None:
        return False
    value = _value(raw, literal)
    return {">": value > literal, "<": value < literal, ">=": value >= literal, "<=": value <= literal}[op]


def _sort_key(value: object) -> tuple:
    if isinstance(value, str) and _DATETIME.fullmatch(value):
        return (1, datetime.fromisoformat(value).timestamp(), "")
    if value is None:
        return (0, 0, "")  # Salesforce sorts nulls first by default
    return (1, value, "") if isinstance(value, int | float) else (1, 0, str(value))


def deleted(request: Request) -> Response:
    """`/sobjects/{Object}/deleted/?start=&end=`: ids deleted in the window (30 days back at most)."""
    object_name = request.match.group("object")
    if object_name not in OBJECTS:
        return error_response("NOT_FOUND", "The requested resource does not exist", 404)
    try:
        start = datetime.fromisoformat(request.arg("start", ""))
        end = datetime.fromisoformat(request.arg("end", ""))
    except ValueError:
        return error_response("INVALID_DATE_FORMAT", "start and end must be ISO 8601 datetimes")
    _, source = OBJECTS[object_name]
    found = [{"id": row["Id"], "deletedDate": row["SystemModstamp"]}
             for row in source(request.scale, _as_of()) if row.get("IsDeleted")
             and start <= datetime.fromisoformat(row["SystemModstamp"]) <= end]
    return json_response({"deletedRecords": found,
                          "earliestDateAvailable": crm_world.sf_datetime(request.scale.start),
                          "latestDateCovered": crm_world.sf_datetime(min(end, _as_of() or end))})


_VERSION = r"/services/data/v(?P<version>\d+\.\d+)"
ROUTES = [
    (re.compile(_VERSION + r"/(?P<kind>query|queryAll)/?"), query),
    (re.compile(_VERSION + r"/(?:query|queryAll)/(?P<locator>\w+)-(?P<offset>\d+)"), next_page),
    (re.compile(_VERSION + r"/sobjects/(?P<object>\w+)/deleted/?"), deleted),
]
