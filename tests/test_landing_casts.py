"""What staging casts is checked when it lands, by the same rule (cast_rules, svw_cast in SQL).

The landing tables' declarations (RawTable.casts) are the one list: a test compiles the staging
models and holds them to it both ways, and every declared column of every source gets a hostile
value of each kind its rule refuses; the row is quarantined with its reason, its neighbours land,
and staging's own function reads the value as NULL instead of raising.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import zipfile
from datetime import UTC, datetime, timedelta

import pytest

from social_value import cast_rules, loader
from social_value.cast_rules import BOOLEAN, DAY, INTEGER, NUMBER, PLANNED_DATE, TIMESTAMP, UNIX_TIME
from social_value.connectors import (
    activity_events,
    msgraph_reports,
    qualtrics,
    slack_export,
    surveymonkey,
    viva_engage_export,
)
from social_value.connectors.salesforce import SalesforceConfig
from social_value.dbt_runner import DBT_DIR, run_dbt
from social_value.ingest import crm
from social_value.ingest.intranet import ingest_activity_events_drop, ingest_slack_drop
from social_value.settings import ConfigError

SOON = datetime.now(UTC) + timedelta(days=30)  # an event the loader cannot have seen happen yet
_DATES = [  # (value, what the reason says)
    *((word, "relative word") for word in ("yesterday", "now", "tomorrow", "today", "epoch", "infinity",
                                           "-infinity")),
    ("15/09/2026 10:00", "order"), ("09/15/2026", "order"), ("1989-12-31T23:00:00Z", "year outside"),
    ("9999-01-01", "year outside"), ("2026-02-30", "no such day"), ("2026-09-15T25:00:00", "ISO 8601"),
    ("2026-09-15T10:00:00 CEST", "ISO 8601"), ("", None), ("   ", None),
]
HOSTILE = {
    TIMESTAMP: [*_DATES, (SOON.isoformat(), "later than its landing")],
    DAY: [*_DATES, (SOON.date().isoformat(), "later than its landing")],
    PLANNED_DATE: _DATES,
    UNIX_TIME: [("yesterday", "Unix time"), ("1458980525,5", "Unix time"), ("-1", "Unix time"),
                ("0", "year outside"), ("99999999999", "year outside"),
                (f"{SOON.timestamp():.6f}", "later than its landing")],
    NUMBER: [("NaN", "not a number"), ("Infinity", "not a number"), ("1,000", "not a number"),
             ("12 EUR", "not a number"), ("1e99999", "not a number")],
    INTEGER: [("1.5", "whole number"), ("3000000000", "too large"), ("ten", "whole number"),
              ("NaN", "whole number")],
    BOOLEAN: [("yes", "not one of"), ("t", "not one of"), ("waar", "not one of")],
}
GOOD = {TIMESTAMP: "2026-09-15T10:00:00.000+0000", DAY: "2026-09-15", PLANNED_DATE: "2031-03-31",
        UNIX_TIME: "1757930400.000100", NUMBER: "1250.50", INTEGER: "7", BOOLEAN: "True"}


def declared_tables() -> list[loader.RawTable]:
    """Every landing table of every source, as the connectors declare them."""
    return [activity_events.table(), msgraph_reports.table(), *slack_export.tables().values(),
            *viva_engage_export.tables().values(), *qualtrics.tables().values(),
            *surveymonkey.tables().values(),
            *(crm.raw_table(crm.SCHEMA, obj) for obj in SalesforceConfig().objects())]


def test_every_cast_kind_has_hostile_values():
    assert set(HOSTILE) == set(GOOD) == set(cast_rules.KINDS)


@pytest.mark.parametrize("table", [t for t in declared_tables() if t.casts],
                         ids=lambda t: f"{t.schema}.{t.name}")
def test_hostile_values_in_every_cast_column_are_quarantined(table, conn, scratch_schema):
    """A row per (cast column, hostile value) beside one good row, row by row into the table."""
    table = dataclasses.replace(table, schema=scratch_schema)
    good = {column: GOOD[kind] for column, kind in table.casts.items()}
    rows, expected = [], {}
    for column, kind in table.casts.items():
        for n, (value, why) in enumerate(HOSTILE[kind]):
            if column in table.key and not value.strip():
                continue  # a blank key is the key check's to quarantine, not the cast's
            origin = f"{column}#{n}"
            rows.append((origin, _row(table, origin, {**good, column: value})))
            if why:
                expected[origin] = (column, value.strip(), why)
    rows.append(("good", _row(table, "good", good)))
    load_id = loader.start_load(conn, "test", None)
    stats = loader.merge_batch(conn, table, rows, load_id, "test")
    quarantined = {origin: (reason, json.loads(payload)) for origin, reason, payload in conn.execute(
        "select origin, reason, payload from raw_meta.quarantine where load_id = %s", (load_id,))}
    assert {o: r for o, (r, _) in quarantined.items() if o not in expected} == {}
    assert set(quarantined) == set(expected)
    for origin, (column, value, why) in expected.items():
        reason, payload = quarantined[origin]
        assert reason.startswith(f"{column} '{value}'") and why in reason, reason
        assert payload[column].strip() == value
    landed = conn.execute(f'select _origin from {table.ident().as_string(conn)} order by 1').fetchall()
    assert sorted(origin for (origin,) in landed) == sorted(o for o, _ in rows if o not in expected)
    assert (stats.read, stats.quarantined) == (len(rows), len(expected))
    conn.rollback()


def _row(table: loader.RawTable, origin: str, values: dict[str, str]) -> dict[str, str]:
    """A record of `table` with `values`, its other key columns unique to the row."""
    record = {column: f"{column}-{origin}" for column in table.key if column not in values}
    return {**record, **values}


@pytest.mark.parametrize("kind", cast_rules.KINDS, ids=lambda kind: kind.name)
def test_staging_reads_a_value_that_breaks_the_rule_as_null(kind, conn):
    """Staging never raises, even on values landed before the rule: its function gives NULL."""
    function = f"{cast_rules.SCHEMA}.{kind.function}"
    problem = f"{cast_rules.SCHEMA}.{kind.problem}"
    for value, why in HOSTILE[kind]:
        if why and "later than" not in why:
            assert conn.execute(f"select {function}(%s), {problem}(%s) is not null",
                                (value, value)).fetchone() == (None, True), value
    cast = conn.execute(f"select {function}(%s), {problem}(%s)", (GOOD[kind], GOOD[kind])).fetchone()
    assert cast[0] is not None and cast[1] is None


@pytest.mark.parametrize(("value", "utc"), [
    ("2026-09-15T10:00:00Z", "2026-09-15 10:00:00+00"),
    ("2026-09-15T12:00:00.250+02:00", "2026-09-15 10:00:00.25+00"),
    ("2011-07-07T00:37:00.000+0000", "2011-07-07 00:37:00+00"),
    ("2013/03/13 21:08:48 +0000", "2013-03-13 21:08:48+00"),
    ("2026-09-15 10:00:00", "2026-09-15 10:00:00+00"),
    ("2026-09-15T05:00-05", "2026-09-15 10:00:00+00"),
    ("2024-02-29", "2024-02-29 00:00:00+00"),
])
def test_timestamps_read_as_the_sources_mean_them(value, utc, conn):
    conn.execute("set local time zone 'Europe/Amsterdam'")  # a value without a zone is UTC anyway
    assert conn.execute("select (svw_cast.to_utc(%s) at time zone 'UTC')::text || '+00'",
                        (value,)).fetchone()[0] == utc


def test_an_event_file_lands_its_good_events_and_quarantines_the_rest(tmp_path, warehouse_url, conn,
                                                                      scratch_schema):
    """Through the fast paths (NDJSON as documents, CSV by COPY), as the issue's events arrived."""
    folder = tmp_path / "activity_events"
    folder.mkdir()
    stamps = {"good": "2026-09-15T10:00:00+02:00", "dmy": "15/09/2026 10:00", "rel": "yesterday",
              "inf": "infinity", "future": SOON.isoformat()}
    with (folder / "events.ndjson").open("w") as out:
        for name, stamp in stamps.items():
            out.write(json.dumps({"event_id": f"j-{name}", "occurred_at": stamp, "user_email": "a@b.org",
                                  "event_type": "view", "object_type": "page", "object_id": "1"}) + "\n")
    header = "event_id,occurred_at,user_email,event_type,object_type,object_id\n"
    (folder / "events.csv").write_text(header + "".join(
        f"c-{name},{stamp},a@b.org,view,page,1\n" for name, stamp in stamps.items()))
    (before,) = conn.execute("select coalesce(max(load_id), 0) from raw_meta.loads").fetchone()
    conn.commit()
    ingest_activity_events_drop(warehouse_url, tmp_path, schema=scratch_schema)
    landed = conn.execute(f"select event_id from {scratch_schema}.events order by 1").fetchall()
    assert landed == [("c-good",), ("j-good",)]
    reasons = dict(conn.execute(
        "select payload::jsonb ->> 'event_id', reason from raw_meta.quarantine "
        "where load_id > %s and source = 'activity_events'", (before,)).fetchall())
    assert sorted(reasons) == sorted(f"{p}-{n}" for p in "cj" for n in stamps if n != "good")
    assert all(reason.startswith("occurred_at ") for reason in reasons.values())
    assert "relative word" in reasons["j-rel"] and "order" in reasons["c-dmy"]


def test_a_slack_export_lands_its_good_records_and_quarantines_the_rest(tmp_path, warehouse_url, conn,
                                                                       scratch_schema):
    """Through the JSON fast path: values of the wrong kind inside an otherwise good export."""
    (tmp_path / "slack").mkdir()
    members = {
        "users.json": [{"id": "U1", "name": "a", "is_bot": False},
                       {"id": "U2", "name": "b", "is_bot": "yes"}],
        "channels.json": [{"id": "C1", "name": "general", "created": 1600000000, "members": ["U1"]},
                          {"id": "C2", "name": "old", "created": 0},
                          {"id": "C3", "name": "odd", "created": 1600000000, "is_archived": "maybe"}],
        "general/2026-09-15.json": [
            {"type": "message", "user": "U1", "text": "good", "ts": "1757930400.000100"},
            {"type": "message", "user": "U1", "text": "edited later", "ts": "1757930401.000100",
             "edited": {"user": "U1", "ts": f"{SOON.timestamp():.6f}"}},
            {"type": "message", "user": "U1", "text": "no time", "ts": "yesterday"}],
    }
    with zipfile.ZipFile(tmp_path / "slack" / "export.zip", "w") as archive:
        for member, document in members.items():
            archive.writestr(member, json.dumps(document))
    (before,) = conn.execute("select coalesce(max(load_id), 0) from raw_meta.loads").fetchone()
    conn.commit()
    ingest_slack_drop(warehouse_url, tmp_path, schema=scratch_schema)
    landed = {table: [row for (row,) in conn.execute(f"select {key} from {scratch_schema}.{table}")]
              for table, key in (("users", "id"), ("channels", "id"), ("messages", "ts"))}
    assert landed == {"users": ["U1"], "channels": ["C1"], "messages": ["1757930400.000100"]}
    reasons = sorted(reason.split(":")[0] for (reason,) in conn.execute(
        "select reason from raw_meta.quarantine where load_id > %s and source = 'slack'", (before,)))
    assert reasons == ["created '0' (unix time)", f"edited_ts '{SOON.timestamp():.6f}' (unix time)",
                       "is_archived 'maybe' (boolean)", "is_bot 'yes' (boolean)",
                       "ts 'yesterday' (unix time)"]


# Casts staging may keep: a number cut out by a pattern of 1 to 9 digits always fits an integer.
_SAFE_CASTS = re.compile(r"substring\(\w+ from '\^\\s\*\(\[0-9\]\{1,9\}\)\(\?!\[0-9\]\)'\)::integer")
_CASTS = re.compile(r"::\s*(?:numeric|decimal|integer|int[248]?|bigint|smallint|real|double precision|float"
                    r"|date|timestamp(?:tz)?|boolean|bool)\b|(?<!\.)\bto_timestamp\(|(?<!\.)\bto_date\(|'true'|'1'",
                    re.IGNORECASE)
_CALL = re.compile(rf"\b{cast_rules.SCHEMA}\.(\w+)\(")
_SOURCE = re.compile(r'"(raw_\w+)"\."(\w+)"')
_IDENT = re.compile(r'"([^"]+)"|\b([a-z_][a-z0-9_]*)\b(?!\s*\()')
# Casts of values inside a JSON column, not of a landing column: NULL when not a whole number.
_JSON_CASTS = {("raw_slack", "messages", "to_integer", "reaction.value ->> 'count'")}


@pytest.fixture(scope="module")
def compiled_staging(warehouse_url, tmp_path_factory) -> dict[str, str]:
    """The staging models' compiled SQL (dbt compile into a folder of the test's own)."""
    target = tmp_path_factory.mktemp("dbt-target")
    cache = DBT_DIR / "target" / "partial_parse.msgpack"
    if cache.exists():  # same flags as every run: dbt parses only what changed
        shutil.copy(cache, target / cache.name)
    run_dbt(["compile", "--select", "path:models/staging", "--target-path", str(target)], warehouse_url)
    return {path.stem: path.read_text() for path in (target / "compiled").rglob("staging/**/stg_*.sql")}


def test_declarations_cover_exactly_what_staging_casts(compiled_staging):
    declared = {(t.schema, t.name, column, kind.function) for t in declared_tables()
                for column, kind in t.casts.items()}
    columns = {(t.schema, t.name): set(t.columns) for t in declared_tables()}
    cast, unchecked = set(), []
    assert len(compiled_staging) >= 20
    for model, code in compiled_staging.items():
        (source,) = set(_SOURCE.findall(code))
        for function, argument in _calls(code):
            named = {quoted or bare for quoted, bare in _IDENT.findall(argument)} & columns[source]
            if not named and (*source, function, argument) not in _JSON_CASTS:
                unchecked.append(f"{model}: svw_cast.{function}({argument})")
            cast |= {(*source, column, function) for column in named}
        unchecked += [f"{model}: {match.group()}" for match in _CASTS.finditer(_SAFE_CASTS.sub("", code))]
    assert unchecked == [], "staging casts what no landing check covers"
    assert sorted(cast - declared) == [], "cast in staging, not declared in RawTable.casts"
    assert sorted(declared - cast) == [], "declared, but staging does not cast it so"


def _calls(code: str) -> list[tuple[str, str]]:
    """(function, argument text) of each svw_cast call, the argument up to its closing bracket."""
    calls = []
    for match in _CALL.finditer(code):
        depth, start = 1, match.end()
        for end in range(start, len(code)):
            depth += {"(": 1, ")": -1}.get(code[end], 0)
            if depth == 0:
                calls.append((match.group(1), code[start:end].strip()))
                break
    return calls


def test_setup_defines_every_function_a_kind_names(conn):
    defined = {name for (name,) in conn.execute(
        "select proname from pg_proc where pronamespace = %s::regnamespace", (cast_rules.SCHEMA,))}
    named = {f for kind in cast_rules.KINDS for f in (kind.function, kind.problem, kind.moment) if f}
    assert named <= defined


def test_a_warehouse_without_the_functions_says_to_run_the_setup(conn, scratch_schema):
    conn.execute(f"drop schema {cast_rules.SCHEMA} cascade")  # rolled back below
    table = loader.RawTable(scratch_schema, "things", ("id", "at"), casts={"at": TIMESTAMP})
    with pytest.raises(ConfigError, match="run the warehouse setup"):
        loader.merge_batch(conn, table, [("f", {"id": "1", "at": "2026-09-15"})], 1, "test")
    conn.rollback()


def test_a_cast_of_a_column_the_table_lacks_is_refused():
    with pytest.raises(ValueError, match="casts name columns"):
        loader.RawTable("raw_x", "things", ("id", "when"), casts={"whenever": TIMESTAMP})

