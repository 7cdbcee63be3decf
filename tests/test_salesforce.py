"""Salesforce connector ↔ recorded responses and the simulator over real HTTP, and the CRM ingest
into a real Postgres: exact counts from crm_world, reruns, increments, faults, a load that dies."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from conftest import SAMPLES

from social_value import loader
from social_value.connectors import salesforce as sf
from social_value.connectors.http import SourceError
from social_value.ingest.crm import OVERLAP, ingest_salesforce
from social_value.settings import ConfigError
from social_value.simulator import crm_world
from social_value.simulator.organisation import Scale

SCALE = Scale(employees=30, months=3)
UNTIL = datetime(2026, 11, 1, tzinfo=UTC)
SF_SAMPLES = SAMPLES / "salesforce"
# Landing table → (object, the world's records as of a moment, source field of each column).
WORLD = {
    "users": ("User", lambda as_of: crm_world.users(SCALE)),
    "accounts": ("Account", lambda as_of: crm_world.accounts(SCALE)),
    "opportunities": ("Opportunity", lambda as_of: crm_world.opportunities(SCALE, as_of)),
    "opportunity_history": ("OpportunityHistory", lambda as_of: crm_world.opportunity_history(SCALE, as_of)),
    "projects": ("Project__c", lambda as_of: crm_world.projects(SCALE, as_of)),
}
OBJECTS = {obj.table: obj for obj in sf.SalesforceConfig().objects()}


# ---------------------------------------------------------------- helpers and fixtures

@pytest.fixture
def salesforce_sim(serve_simulator):
    """Start simulators with given fault switches; a factory returning a SalesforceSource."""
    return lambda faults="": sf.SalesforceSource(*serve_simulator(SCALE, faults))


@pytest.fixture
def page_size(monkeypatch):
    def set_size(size: int) -> None:
        monkeypatch.setenv("SVW_SIM_SF_PAGE_SIZE", str(size))
    set_size(2000)
    return set_size


@pytest.fixture
def other_schema(make_schema) -> str:
    return make_schema()


@pytest.fixture
def target(conn, scratch_schema) -> Iterator[str]:
    """A scratch schema to land into; its watermark streams are removed afterwards."""
    yield scratch_schema
    conn.rollback()
    conn.execute(loader.META_DDL)
    conn.execute("delete from raw_meta.watermarks where source = 'salesforce' and stream like 't\\_%'")
    conn.commit()


def _as_text(value: object) -> str | None:
    """What the connector makes of a JSON value (and the loader of an empty string)."""
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else json.dumps(value)


def _expected_rows(table: str, as_of: datetime | None = None) -> list[tuple]:
    """The world's records as landed rows: columns of the landing table, sorted by Id."""
    obj = OBJECTS[table]
    records = WORLD[table][1](as_of)
    return sorted(tuple(_as_text(record.get(source)) for source in obj.fields.values()) for record in records)


def _rows(conn, schema: str, table: str, with_meta: bool = False) -> list[tuple]:
    columns = ", ".join(f'"{c}"' for c in OBJECTS[table].columns)
    columns += ", _extra, _load_id, _loaded_at, _origin" if with_meta else ""
    return conn.execute(f'select {columns} from {schema}.{table} order by "Id"').fetchall()


def _stamp(record: dict) -> datetime:
    return datetime.fromisoformat(record["SystemModstamp"])


def _watermarks(conn, schema: str) -> dict[str, datetime]:
    return dict(conn.execute("select stream, watermark from raw_meta.watermarks where source = 'salesforce' "
                             "and stream like %s", (f"{schema}.%",)).fetchall())


# ---------------------------------------------------------------- recorded samples

@pytest.fixture
def samples() -> Path:
    if not SF_SAMPLES.is_dir():
        pytest.skip(f"recorded Salesforce responses not found at {SF_SAMPLES}")
    return SF_SAMPLES


def _sample(folder: Path, name: str) -> str:
    return (folder / name).read_text()


def test_connector_follows_next_records_url_of_recorded_pages(samples, recorded):
    first, last = (_sample(samples, f"query_paginated_{p}_page_response.json") for p in ("first", "last"))
    asked = []

    def route(path, query):
        asked.append((path, query.get("q")))
        return (200, first) if path == "/services/data/v60.0/queryAll" else (
            (200, last) if path == json.loads(first)["nextRecordsUrl"] else (404, "[]"))

    source = sf.SalesforceSource(recorded(route), "t")
    records = list(sf.query(source, "SELECT Text_Label FROM Whizbang"))
    assert records == [{"Text_Label": "First Page"}, {"Text_Label": "Last Page"}], "attributes dropped"
    assert asked == [("/services/data/v60.0/queryAll", "SELECT Text_Label FROM Whizbang"),
                     ("/services/data/v26.0/query/01gD", None)]


def test_connector_reads_recorded_values_as_text_and_empty_results(samples, recorded):
    bodies = {"Full": _sample(samples, "query_success_response.json"),
              "Empty": _sample(samples, "query_empty_response.json")}
    url = recorded(lambda path, query: (200, bodies[query["q"].split()[-1]]))
    source = sf.SalesforceSource(url, "t")
    (record,) = sf.query(source, "SELECT Id FROM Full")
    assert record["Checkbox_Label"] == "false" and record["Text_Label"] == "Hi there!"
    assert record["DateTime_Label"] == "2011-07-07T00:37:00.000+0000"
    assert json.loads(record["ParentWhizbang__r"])["Name"] == "Parent Whizbang", "nested objects as JSON"
    assert sf.parse_datetime(record["DateTime_Label"]) == datetime(2011, 7, 7, 0, 37, tzinfo=UTC)
    assert list(sf.query(source, "SELECT Id FROM Empty")) == []


def test_recorded_error_array_is_a_clear_source_error(samples, recorded):
    url = recorded(lambda path, query: (400, _sample(samples, "query_error_response.json")))
    with pytest.raises(SourceError, match=r"Salesforce INVALID_FIELD: error_message"):
        list(sf.query(sf.SalesforceSource(url, "t"), "SELECT Nope FROM Opportunity"))
    url = recorded(lambda path, query: (200, _sample(samples, "query_error_response.json")))
    with pytest.raises(SourceError, match=r"INVALID_FIELD: error_message"):
        list(sf.query(sf.SalesforceSource(url, "t"), "SELECT Nope FROM Opportunity"))


def test_recorded_get_deleted(samples, recorded):
    seen = {}

    def route(path, query):
        seen.update(path=path, **query)
        return 200, _sample(samples, "get_deleted_success_response.json")

    source = sf.SalesforceSource(recorded(route), "t")
    result = sf.get_deleted(source, "Whizbang", datetime(2013, 5, 3, tzinfo=UTC),
                            datetime(2013, 5, 8, tzinfo=UTC))
    assert result.records == [("a00D0000008pQRAIA2", datetime(2013, 5, 7, 22, 7, 19, tzinfo=UTC))]
    assert result.latest_date_covered == datetime(2013, 5, 8, 21, 20, tzinfo=UTC)
    assert seen == {"path": "/services/data/v60.0/sobjects/Whizbang/deleted/",
                    "start": "2013-05-03T00:00:00Z", "end": "2013-05-08T00:00:00Z"}


# ---------------------------------------------------------------- the simulator's API

def test_simulator_pages_by_batch_size_header_and_hides_deleted_from_query(salesforce_sim, page_size):
    source = salesforce_sim()
    headers = {"Authorization": f"Bearer {source.token}", "Sforce-Query-Options": "batchSize=5"}
    soql = "SELECT Id, IsDeleted FROM Opportunity ORDER BY SystemModstamp"
    everything = list(crm_world.opportunities(SCALE))
    deleted = {r["Id"] for r in everything if r["IsDeleted"]}
    assert deleted, "the world has deleted opportunities"
    for kind, expected in (("query", len(everything) - len(deleted)), ("queryAll", len(everything))):
        page = requests.get(f"{source.base_url}/services/data/v58.0/{kind}", {"q": soql}, headers=headers,
                            timeout=10).json()
        assert (page["totalSize"], page["done"], len(page["records"])) == (expected, False, 5)
        assert page["nextRecordsUrl"].startswith("/services/data/v58.0/query/01g")
        assert page["records"][0]["attributes"]["type"] == "Opportunity"
        ids = [r["Id"] for r in page["records"]]
        while not page["done"]:
            page = requests.get(source.base_url + page["nextRecordsUrl"], headers=headers, timeout=10).json()
            ids += [r["Id"] for r in page["records"]]
        assert len(ids) == len(set(ids)) == expected
        assert bool(deleted & set(ids)) == (kind == "queryAll")


@pytest.mark.parametrize(("soql", "code"), [
    ("SELECT Id, Colour FROM Opportunity", "INVALID_FIELD"),
    ("SELECT Id FROM Opportunity WHERE Colour = 'red'", "INVALID_FIELD"),
    ("SELECT Id FROM Widget", "INVALID_TYPE"),
    ("SELECT FROM Opportunity", "MALFORMED_QUERY"),
    ("SELECT Id FROM Opportunity WHERE SystemModstamp >", "MALFORMED_QUERY"),
])
def test_simulator_answers_bad_soql_with_the_error_array(salesforce_sim, soql, code):
    source = salesforce_sim()
    answer = requests.get(f"{source.base_url}/services/data/v60.0/query", {"q": soql},
                          headers={"Authorization": f"Bearer {source.token}"}, timeout=10)
    assert answer.status_code == 400
    assert [error["errorCode"] for error in answer.json()] == [code]
    with pytest.raises(SourceError, match=f"Salesforce {code}: "):
        list(sf.query(source, soql))


# ---------------------------------------------------------------- ingest

def test_ingest_lands_exactly_the_world_and_a_rerun_changes_nothing(warehouse_url, conn, salesforce_sim,
                                                                   page_size, target):
    page_size(20)  # several pages per object
    source = salesforce_sim()
    first = ingest_salesforce(warehouse_url, source, UNTIL, schema=target)
    for table in OBJECTS:
        expected = _expected_rows(table)
        assert first["tables"][table] == {"read": len(expected), "changed": len(expected), "quarantined": 0,
                                          "since": None, "watermark": first["tables"][table]["watermark"]}
        assert _rows(conn, target, table) == expected, table
    deleted = conn.execute(f'select count(*) from {target}.opportunities where "IsDeleted" = \'true\''
                           ).fetchone()[0]
    assert deleted == sum(r["IsDeleted"] for r in crm_world.opportunities(SCALE)) > 0, "deletes are marked"
    newest = {WORLD[t][0]: max(map(_stamp, WORLD[t][1](None))) for t in WORLD}
    assert _watermarks(conn, target) == {f"{target}.{o}": s for o, s in newest.items()}

    before = {table: _rows(conn, target, table, with_meta=True) for table in OBJECTS}
    second = ingest_salesforce(warehouse_url, source, UNTIL, schema=target)
    for table, (obj, records) in WORLD.items():
        overlap = [r for r in records(None) if _stamp(r) > newest[obj] - OVERLAP]
        assert second["tables"][table]["read"] == len(overlap) > 0, "the overlap is read again"
        assert second["tables"][table]["changed"] == 0
        assert second["tables"][table]["since"] == (newest[obj] - OVERLAP).isoformat()
    assert {table: _rows(conn, target, table, with_meta=True) for table in OBJECTS} == before
    status = conn.execute("select status, rows_read from raw_meta.loads where load_id = %s",
                          (second["load_id"],)).fetchone()
    assert status == ("succeeded", sum(t["read"] for t in second["tables"].values()))


def test_incremental_load_changes_only_what_changed(warehouse_url, conn, salesforce_sim, page_size,
                                                    monkeypatch, target):
    earlier = datetime(2026, 10, 1, tzinfo=UTC)
    source = salesforce_sim()
    monkeypatch.setenv("SVW_SIM_CRM_AS_OF", earlier.isoformat())
    first = ingest_salesforce(warehouse_url, source, UNTIL, schema=target)
    monkeypatch.delenv("SVW_SIM_CRM_AS_OF")
    second = ingest_salesforce(warehouse_url, source, UNTIL, schema=target)
    for table, (_, records) in WORLD.items():
        assert first["tables"][table]["read"] == len(list(records(earlier)))
        mark = max(map(_stamp, records(earlier)))
        now = list(records(None))
        changed = [r for r in now if _stamp(r) > mark]
        assert second["tables"][table]["read"] == sum(_stamp(r) > mark - OVERLAP for r in now)
        assert second["tables"][table]["changed"] == len(changed), table
        assert _rows(conn, target, table) == _expected_rows(table), table
        unchanged_loads = conn.execute(
            f'select count(*) from {target}.{table} where _load_id = %s',
            (first["load_id"],)).fetchone()[0]
        assert unchanged_loads == len(now) - len(changed), "untouched rows keep their load id"
    assert second["tables"]["opportunities"]["changed"] > 0 and second["tables"]["users"]["changed"] == 0


@pytest.mark.parametrize("fault", ["429", "500", "503", "timeout", "truncate"])
def test_transport_faults_are_retried_to_the_same_result(warehouse_url, conn, salesforce_sim, page_size,
                                                         monkeypatch, target, fault):
    monkeypatch.setenv("SVW_HTTP_TIMEOUT", "1")  # the simulator's stall (5 s) must time out
    page_size(150)  # a second page, so next-page requests meet the fault too
    source = salesforce_sim(fault)
    summary = ingest_salesforce(warehouse_url, source, UNTIL, schema=target)
    for table in OBJECTS:
        expected = _expected_rows(table)
        assert (summary["tables"][table]["read"], summary["tables"][table]["changed"]) == (len(expected),) * 2
        assert _rows(conn, target, table) == expected


def _count(conn, schema: str, table: str, where: str) -> int:
    return conn.execute(f"select count(*) from {schema}.{table} where {where}").fetchone()[0]


def test_duplicates_across_pages_land_once(warehouse_url, conn, salesforce_sim, page_size, target):
    page_size(20)
    summary = ingest_salesforce(warehouse_url, salesforce_sim("duplicates"), UNTIL, schema=target)
    for table in OBJECTS:
        expected = _expected_rows(table)
        pages = 1 if len(expected) <= 20 else 1 + -(-(len(expected) - 20) // 19)  # each repeats one
        assert summary["tables"][table]["read"] == len(expected) + pages - 1, table
        assert summary["tables"][table]["changed"] == len(expected)
        assert _rows(conn, target, table) == expected


def test_extra_and_missing_columns_are_kept_and_nulled(warehouse_url, conn, salesforce_sim, page_size,
                                                       target):
    summary = ingest_salesforce(warehouse_url, salesforce_sim("extra_columns,missing_columns"), UNTIL,
                                schema=target)
    for table, column in (("opportunities", "LeadSource"), ("accounts", "Industry"), ("users", "Department")):
        total = len(_expected_rows(table))
        assert summary["tables"][table]["changed"] == total
        assert _count(conn, target, table, f'"{column}" is null') == total
        assert _count(conn, target, table, "_extra = '{\"Region__c\": \"EMEA\"}'") == total


def test_empty_numbers_and_date_formats_land_as_sent(warehouse_url, conn, salesforce_sim, page_size,
                                                     target):
    summary = ingest_salesforce(warehouse_url, salesforce_sim("empty_numbers,date_formats"), UNTIL,
                                schema=target)
    total = len(_expected_rows("opportunities"))
    assert summary["tables"]["opportunities"] == {**summary["tables"]["opportunities"], "read": total,
                                                  "changed": total, "quarantined": 0}
    assert _count(conn, target, "opportunities", '"Amount" is null') == len(range(1, total, 5))
    assert _count(conn, target, "opportunities", "\"CloseDate\" like '%T00:00:00.000+0000'"
                  ) == len(range(1, total, 3))
    assert _count(conn, target, "opportunities", "\"SystemModstamp\" like '%Z'") == len(range(2, total, 3))
    newest = max(map(_stamp, crm_world.opportunities(SCALE)))
    assert _watermarks(conn, target)[f"{target}.Opportunity"] == newest, \
        "every variant of SystemModstamp is understood"


def test_nul_bytes_are_quarantined_with_reason(warehouse_url, conn, salesforce_sim, page_size, target):
    summary = ingest_salesforce(warehouse_url, salesforce_sim("nul"), UNTIL, schema=target)
    for table in ("users", "accounts", "opportunities", "projects"):
        total = len(_expected_rows(table))
        bad = len(range(3, total, 10))
        assert summary["tables"][table] == {**summary["tables"][table], "read": total,
                                            "changed": total - bad, "quarantined": bad}
        assert _count(conn, target, table, "true") == total - bad
    reasons = conn.execute("select stream, reason, count(*) from raw_meta.quarantine where load_id = %s "
                           "group by 1, 2 order by 1", (summary["load_id"],)).fetchall()
    named = ("users", "accounts", "opportunities", "projects")
    assert {(stream, count) for stream, _, count in reasons} == {
        (t, len(range(3, len(_expected_rows(t)), 10))) for t in named if len(_expected_rows(t)) > 3}
    assert {reason for _, reason, _ in reasons} == {"NUL byte in column 'Name': Postgres text cannot hold it"}


def test_load_that_dies_midway_leaves_nothing_and_the_rerun_equals_a_clean_run(
        warehouse_url, conn, salesforce_sim, page_size, monkeypatch, target, other_schema):
    page_size(20)
    source = salesforce_sim()
    monkeypatch.setenv("SVW_SIM_SF_LOCATOR_TTL", "0")  # every second page: cursor expired (HTTP 400)
    with pytest.raises(SourceError, match="INVALID_QUERY_LOCATOR"):
        ingest_salesforce(warehouse_url, source, UNTIL, schema=target)
    failed = conn.execute("select status, error from raw_meta.loads where source = 'salesforce' "
                          "order by load_id desc limit 1").fetchone()
    assert failed[0] == "failed" and "INVALID_QUERY_LOCATOR" in failed[1]
    landed = conn.execute("select count(*) from pg_tables where schemaname = %s", (target,)).fetchone()
    assert landed == (0,), "users and accounts were merged before the failure, and rolled back with it"
    assert _watermarks(conn, target) == {}

    monkeypatch.delenv("SVW_SIM_SF_LOCATOR_TTL")
    ingest_salesforce(warehouse_url, source, UNTIL, schema=target)
    ingest_salesforce(warehouse_url, source, UNTIL, schema=other_schema)
    for table in OBJECTS:
        assert _rows(conn, target, table) == _rows(conn, other_schema, table) == _expected_rows(table)
    assert {k.split(".")[1]: v for k, v in _watermarks(conn, target).items()} == {
        k.split(".")[1]: v for k, v in _watermarks(conn, other_schema).items()}


def test_records_without_id_or_time_are_quarantined(warehouse_url, conn, recorded, target):
    users = [{"attributes": {"type": "User"}, "Id": "005000000000001AAA", "Email": "a@example.org",
              "SystemModstamp": "2026-10-01T10:00:00.000+0000"},
             {"attributes": {"type": "User"}, "Id": None, "Email": "b@example.org",
              "SystemModstamp": "2026-10-02T10:00:00.000+0000"},
             {"attributes": {"type": "User"}, "Id": "005000000000003AAA", "Email": "c@example.org",
              "SystemModstamp": "gisteren"}]

    def route(path, query):
        records = users if " FROM User " in query["q"] else []
        return 200, json.dumps({"totalSize": len(records), "done": True, "records": records})

    summary = ingest_salesforce(warehouse_url, sf.SalesforceSource(recorded(route), "t"), UNTIL,
                                schema=target)
    assert summary["tables"]["users"] == {"read": 3, "changed": 1, "quarantined": 2, "since": None,
                                          "watermark": "2026-10-02T10:00:00+00:00"}
    reasons = [r for (r,) in conn.execute("select reason from raw_meta.quarantine where load_id = %s "
                                          "order by reason", (summary["load_id"],))]
    assert reasons == ["SystemModstamp 'gisteren' is not a Salesforce datetime: the record cannot be "
                       "placed in time", "missing key column 'Id'"]
    assert summary["tables"]["opportunities"] == {"read": 0, "changed": 0, "quarantined": 0, "since": None,
                                                  "watermark": None}


# ---------------------------------------------------------------- configuration

def test_configuration_comes_from_extra_then_environment(monkeypatch):
    monkeypatch.setenv("SVW_SALESFORCE_API_VERSION", "59.0")
    monkeypatch.setenv("SVW_SALESFORCE_PROJECT_FIELDS", '{"Cost": "Actual_Cost__c"}')
    config = sf.SalesforceConfig.from_settings({"project_object": "pse__Proj__c"})
    assert config.api_version == "59.0"
    project = config.objects()[-1]
    assert project.soql(datetime(2026, 1, 1, tzinfo=UTC)) == (
        "SELECT Id, Name, Opportunity__c, Revenue__c, Actual_Cost__c, End_Date__c, IsDeleted, SystemModstamp "
        "FROM pse__Proj__c WHERE SystemModstamp > 2026-01-01T00:00:00Z ORDER BY SystemModstamp, Id")
    assert project.columns == ("Id", "Name", "OpportunityId", "Revenue", "Cost", "EndDate", "IsDeleted",
                               "SystemModstamp")
    with pytest.raises(ConfigError, match="api_version"):
        sf.SalesforceConfig.from_settings({"api_version": "latest"})
    with pytest.raises(ConfigError, match="not an API name"):
        sf.SalesforceConfig.from_settings({"project_fields": {"Cost": "Cost__c; DELETE"}})
    assert "s3cret" not in repr(sf.SalesforceSource("https://x.my.salesforce.com", "s3cret")), "not logged"


def test_wrong_project_mapping_fails_clearly_and_lands_nothing(warehouse_url, conn, salesforce_sim,
                                                               target):
    source = salesforce_sim()
    config = sf.SalesforceConfig.from_settings({"project_fields": {"Cost": "Kosten__c"}})
    with pytest.raises(SourceError, match="INVALID_FIELD: No such column 'Kosten__c' on entity 'Project__c'"):
        ingest_salesforce(warehouse_url, sf.SalesforceSource(source.base_url, source.token, config), UNTIL,
                          schema=target)
    assert conn.execute("select count(*) from pg_tables where schemaname = %s", (target,)
                        ).fetchone() == (0,)


def test_wrong_token_is_a_clear_error(salesforce_sim):
    source = salesforce_sim()
    with pytest.raises(SourceError, match="HTTP 401"):
        list(sf.query(sf.SalesforceSource(source.base_url, "wrong"), "SELECT Id FROM User"))


def test_window_end_bounds_what_is_read(warehouse_url, salesforce_sim, target):
    until = datetime(2026, 9, 1, tzinfo=UTC)
    summary = ingest_salesforce(warehouse_url, salesforce_sim(), until, schema=target)
    expected = sum(_stamp(r) <= until for r in crm_world.opportunities(SCALE))
    assert summary["tables"]["opportunities"]["read"] == expected < len(_expected_rows("opportunities"))
    assert datetime.fromisoformat(summary["tables"]["opportunities"]["watermark"]) <= until

