"""Salesforce REST: SOQL queries streamed page by page, incremental on SystemModstamp.

`GET {instance}/services/data/vNN.N/queryAll?q=<SOQL>` with a bearer token, then each
`nextRecordsUrl` until `done`; only one page (≤ 2000 records) is in memory at a time. `queryAll`
rather than `query`, so deleted records arrive as IsDeleted=true rows and are marked, not lost.
Fields are read by name; `attributes` is dropped; values become text exactly as sent (booleans
'true'/'false', numbers as their JSON text, nested objects as JSON, null stays None).

Configuration, not code (Airflow connection extra, else environment, else the default):
- `api_version` / SVW_SALESFORCE_API_VERSION: "60.0".
- `project_object` / SVW_SALESFORCE_PROJECT_OBJECT: the delivery-project object, "Project__c".
- `project_fields` / SVW_SALESFORCE_PROJECT_FIELDS (JSON): landing column → the object's field, for
  OpportunityId, Revenue, Cost and EndDate (Id, Name, IsDeleted and SystemModstamp are standard).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType

from social_value.cast_rules import BOOLEAN, NUMBER, PLANNED_DATE, TIMESTAMP, Kind
from social_value.connectors.http import SourceError, download, get_json
from social_value.settings import ConfigError

DEFAULT_API_VERSION = "60.0"
DEFAULT_PROJECT_OBJECT = "Project__c"
DEFAULT_PROJECT_FIELDS = MappingProxyType({
    "OpportunityId": "Opportunity__c", "Revenue": "Revenue__c", "Cost": "Cost__c",
    "EndDate": "End_Date__c"})
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")  # API names only: nothing else reaches the SOQL


@dataclass(frozen=True)
class SObject:
    """One object to land: its API name, landing table and columns (landing name → source field)."""

    name: str
    table: str
    fields: Mapping[str, str]

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.fields)

    def soql(self, since: datetime | None = None, until: datetime | None = None) -> str:
        """SELECT the fields, SystemModstamp in (since, until], oldest first (stable paging)."""
        where = []
        if since:
            where.append(f"SystemModstamp > {soql_datetime(since)}")
        if until:
            where.append(f"SystemModstamp <= {soql_datetime(until)}")
        text = f"SELECT {', '.join(self.fields.values())} FROM {self.name}"
        if where:
            text += " WHERE " + " AND ".join(where)
        return text + " ORDER BY SystemModstamp, Id"


def _standard(name: str, table: str, fields: str) -> SObject:
    return SObject(name, table, MappingProxyType({f: f for f in fields.split()}))


STANDARD_OBJECTS = (
    _standard("User", "users", "Id Email Name Department IsActive SystemModstamp"),
    _standard("Account", "accounts", "Id Name Industry OwnerId IsDeleted SystemModstamp"),
    _standard("Opportunity", "opportunities",
              "Id Name AccountId Amount StageName Probability CloseDate Type IsClosed IsWon "
              "ForecastCategoryName OwnerId LeadSource IsDeleted CreatedDate LastModifiedDate "
              "SystemModstamp"),
    _standard("OpportunityHistory", "opportunity_history",
              "Id OpportunityId StageName Amount CloseDate Probability CreatedDate CreatedById IsDeleted "
              "SystemModstamp"),
)

# Landing table → the columns staging casts, and how (checked when they land: cast_rules).
CASTS: Mapping[str, Mapping[str, Kind]] = MappingProxyType({
    "users": {"IsActive": BOOLEAN, "SystemModstamp": TIMESTAMP},
    "accounts": {"IsDeleted": BOOLEAN, "SystemModstamp": TIMESTAMP},
    "opportunities": {"Amount": NUMBER, "Probability": NUMBER, "CloseDate": PLANNED_DATE, "IsClosed": BOOLEAN,
                      "IsWon": BOOLEAN, "IsDeleted": BOOLEAN, "CreatedDate": TIMESTAMP,
                      "LastModifiedDate": TIMESTAMP, "SystemModstamp": TIMESTAMP},
    "opportunity_history": {"Amount": NUMBER, "Probability": NUMBER, "CloseDate": PLANNED_DATE,
                            "IsDeleted": BOOLEAN, "CreatedDate": TIMESTAMP},
    "projects": {"Revenue": NUMBER, "Cost": NUMBER, "EndDate": PLANNED_DATE, "IsDeleted": BOOLEAN,
                 "SystemModstamp": TIMESTAMP},
})


@dataclass(frozen=True)
class SalesforceConfig:
    api_version: str = DEFAULT_API_VERSION
    project_object: str = DEFAULT_PROJECT_OBJECT
    project_fields: Mapping[str, str] = field(default_factory=lambda: DEFAULT_PROJECT_FIELDS)

    def __post_init__(self) -> None:
        if not re.fullmatch(r"\d+\.\d+", self.api_version):
            raise ConfigError(f"Salesforce api_version {self.api_version!r} is not like '60.0'")
        missing = set(DEFAULT_PROJECT_FIELDS) - set(self.project_fields)
        if missing:
            raise ConfigError(f"Salesforce project_fields lacks {', '.join(sorted(missing))}: map each "
                              f"landing column to a field of {self.project_object}")
        for name in (self.project_object, *self.project_fields, *self.project_fields.values()):
            if not _NAME.fullmatch(name):
                raise ConfigError(f"Salesforce project mapping: {name!r} is not an API name")

    @classmethod
    def from_settings(cls, extra: Mapping[str, object] | None = None) -> SalesforceConfig:
        """From an Airflow connection's extra, then SVW_SALESFORCE_* variables, then the defaults."""
        extra = extra or {}
        fields = extra.get("project_fields") or os.environ.get("SVW_SALESFORCE_PROJECT_FIELDS")
        if isinstance(fields, str):
            try:
                fields = json.loads(fields)
            except ValueError as bad:
                raise ConfigError(f"Salesforce project_fields is not JSON: {bad}") from bad
        if fields is not None and not isinstance(fields, dict):
            raise ConfigError("Salesforce project_fields must map landing columns to field names")
        return cls(
            api_version=str(extra.get("api_version") or os.environ.get("SVW_SALESFORCE_API_VERSION")
                            or DEFAULT_API_VERSION),
            project_object=str(extra.get("project_object") or os.environ.get("SVW_SALESFORCE_PROJECT_OBJECT")
                               or DEFAULT_PROJECT_OBJECT),
            project_fields=MappingProxyType({**DEFAULT_PROJECT_FIELDS, **(fields or {})}))

    def objects(self) -> tuple[SObject, ...]:
        """What a load lands, in order: people and accounts before what refers to them."""
        project = SObject(self.project_object, "projects", MappingProxyType({
            "Id": "Id", "Name": "Name", **self.project_fields, "IsDeleted": "IsDeleted",
            "SystemModstamp": "SystemModstamp"}))
        return (*STANDARD_OBJECTS, project)


@dataclass(frozen=True)
class SalesforceSource:
    """Where the org is: instance URL, bearer token (never shown in logs or reprs), configuration."""

    base_url: str
    token: str = field(repr=False)
    config: SalesforceConfig = field(default_factory=SalesforceConfig)


def soql_datetime(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("a SOQL datetime needs a time zone")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_datetime(value: object) -> datetime | None:
    """A Salesforce datetime ('2011-07-07T00:37:00.000+0000', also 'Z' or '+00:00'); None if not one."""
    if not isinstance(value, str) or "T" not in value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else None


def query_path(source: SalesforceSource, include_deleted: bool = True) -> str:
    return f"/services/data/v{source.config.api_version}/{'queryAll' if include_deleted else 'query'}"


def query_pages(source: SalesforceSource, soql: str, include_deleted: bool = True
                ) -> Iterator[tuple[str, list[dict]]]:
    """(page URL path, records) for each page of the result, fetched only when the last is used."""
    return follow_pages(source, query_path(source, include_deleted), {"q": soql})


def follow_pages(source: SalesforceSource, path: str, params: dict | None
                 ) -> Iterator[tuple[str, list[dict]]]:
    """(page URL path, records) from the page at `path` on, through each nextRecordsUrl."""
    while True:
        page = get_page(source, path, params)
        yield path, page["records"]
        path, params = next_path(page), None
        if path is None:
            return


def query_result(path: str, page: object) -> dict:
    """The page if it is a query result (an object with a records list); else a SourceError."""
    if not isinstance(page, dict) or not isinstance(page.get("records"), list):
        raise SourceError(f"Salesforce {path}: not a query result: {json.dumps(page)[:200]}")
    return page


def next_path(page: Mapping) -> str | None:
    """The next page's path, or None when the result is done."""
    return next_of(page.get("done", True), page.get("nextRecordsUrl"))


def next_of(done: object, next_records_url: object) -> str | None:
    """Paging as Salesforce states it: `done` (absent: true) and `nextRecordsUrl`."""
    return None if done or not next_records_url else next_records_url


def query(source: SalesforceSource, soql: str, include_deleted: bool = True) -> Iterator[dict]:
    """Records of a SOQL query, streamed; each a dict of field → text (see the module docstring)."""
    for _, records in query_pages(source, soql, include_deleted):
        for record in records:
            yield as_text(record)


def records(source: SalesforceSource, obj: SObject, since: datetime | None = None,
            until: datetime | None = None) -> Iterator[tuple[str, dict[str, str | None]]]:
    """(origin, record keyed by landing column) for one object's changes in (since, until]."""
    return records_of(obj, query_pages(source, obj.soql(since, until)))


def records_of(obj: SObject, pages: Iterable[tuple[str, list[dict]]]
               ) -> Iterator[tuple[str, dict[str, str | None]]]:
    """(origin, record keyed by landing column) of an object's query pages.

    Fields the mapping does not know (schema drift) keep their source name, so the loader keeps them
    in `_extra`; a mapped field the response lacks is absent (lands as NULL).
    """
    rename = {source_field: column for column, source_field in obj.fields.items()}
    for n, (path, page) in enumerate(pages, start=1):
        origin = page_origin(obj, n, path)
        for record in page:
            yield origin, {rename.get(key, key): value for key, value in as_text(record).items()}


def page_origin(obj: SObject, n: int, path: str) -> str:
    return f"{obj.name} page {n} ({path.split('?')[0]})"


def fetch_page(source: SalesforceSource, path: str, params: dict | None) -> Path:
    """One query page downloaded to a file (the caller deletes it), for Postgres to parse.

    Only the end of the body is checked here (a cut body is retried); a page that is still not
    whole JSON is refused by Postgres, and its batch then reads the file with read_page.
    """
    try:
        return download(source.base_url.rstrip("/") + path, source.token, params, validate=_ends_whole)
    except SourceError as error:
        raise SourceError(explain(str(error))) from error


def read_page(path: str, file: Path) -> dict | None:
    """A downloaded page parsed and checked as query_pages does (the row-by-row path); None if it
    is not whole JSON (the caller fetches it again, with get_page's retries)."""
    with file.open("rb") as body:
        try:
            page = json.load(body)
        except ValueError:
            return None
    return query_result(path, _checked_body(path, page))


def get_page(source: SalesforceSource, path: str, params: dict | None) -> dict:
    """One query page over HTTP, checked (a body that is not whole JSON is retried)."""
    return query_result(path, _get(source, path, params))


def _ends_whole(file: Path) -> None:
    with file.open("rb") as body:
        body.seek(max(0, file.stat().st_size - 64))
        if not body.read().rstrip().endswith((b"}", b"]")):
            raise ValueError("the body does not end a JSON document")


def as_text(record: Mapping[str, object]) -> dict[str, str | None]:
    """A query record's fields as text, without `attributes`."""
    return {key: _text(value) for key, value in record.items() if key != "attributes"}


def _text(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)  # true/false, 12.5, nested objects as JSON


@dataclass(frozen=True)
class DeletedRecords:
    records: list[tuple[str, datetime | None]]  # (Id, deletedDate)
    earliest_date_available: datetime | None
    latest_date_covered: datetime | None


def get_deleted(source: SalesforceSource, object_name: str, start: datetime, end: datetime
                ) -> DeletedRecords:
    """`/sobjects/{object}/deleted/`: ids deleted in [start, end] (Salesforce keeps 30 days)."""
    if not _NAME.fullmatch(object_name):
        raise ValueError(f"{object_name!r} is not an API name")
    body = _get(source, f"/services/data/v{source.config.api_version}/sobjects/{object_name}/deleted/",
                {"start": soql_datetime(start), "end": soql_datetime(end)})
    if not isinstance(body, dict) or not isinstance(body.get("deletedRecords"), list):
        raise SourceError(f"Salesforce getDeleted {object_name}: unexpected answer {json.dumps(body)[:200]}")
    return DeletedRecords(
        [(item["id"], parse_datetime(item.get("deletedDate"))) for item in body["deletedRecords"]],
        parse_datetime(body.get("earliestDateAvailable")), parse_datetime(body.get("latestDateCovered")))


def _get(source: SalesforceSource, path: str, params: dict | None) -> object:
    try:
        body = get_json(source.base_url.rstrip("/") + path, source.token, params)
    except SourceError as error:
        raise SourceError(explain(str(error))) from error
    return _checked_body(path, body)


def _checked_body(path: str, body: object) -> object:
    if isinstance(body, list):  # an error array on a 2xx answer: never data
        raise SourceError(explain(f"Salesforce {path}: {json.dumps(body)[:300]}"))
    return body


def explain(message: str) -> str:
    """Lead a message holding Salesforce's error array with 'errorCode: message' of each error."""
    found = re.findall(r'"message"\s*:\s*"((?:[^"\\]|\\.)*)"\s*,\s*"errorCode"\s*:\s*"(\w+)"', message)
    found += [(text, code) for code, text in
              re.findall(r'"errorCode"\s*:\s*"(\w+)"\s*,\s*"message"\s*:\s*"((?:[^"\\]|\\.)*)"', message)]
    if not found:
        return message
    return "Salesforce " + "; ".join(f"{code}: {text}" for text, code in found) + f" ({message[:200]})"
