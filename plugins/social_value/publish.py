"""Write-audit-publish: dbt builds the marts into `marts_candidate` (and the restricted tier into
`restricted_candidate`), dbt and GX test them, and only then one transaction moves the candidate
tables into `marts` (and `restricted`). BI (bi_reader) never sees a mart that
failed a test; the `audit` schema records every test of every build and every publication.

One advisory lock (BUILD_LOCK) serialises everything that writes or reads the candidate: a whole dbt
build, a GX run on the candidate and the publish transaction. The candidate schema's comment is the
build it holds (`building <id>` while dbt writes, `<id>` once dbt succeeded), so a build only
publishes what it built and tested itself; a candidate rebuilt meanwhile by another build is refused.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import psycopg
from psycopg import sql

from social_value import skipped_days
from social_value.dbt_runner import DBT_DIR, DbtFailedError, run_dbt, summarise

log = logging.getLogger(__name__)

LIVE = "marts"
CANDIDATE = "marts_candidate"
# The published tiers: candidate schema, the live schema it becomes, and who may read that.
TIERS = ((CANDIDATE, LIVE, "bi_reader, auditor"), ("restricted_candidate", "restricted", "analyst"))
# What dbt needs to write every tier into its candidate.
CANDIDATE_ENV = {"SVW_MARTS_SCHEMA": CANDIDATE, "SVW_RESTRICTED_SCHEMA": "restricted_candidate"}
CANDIDATE_CHECKPOINT = "marts"  # the GX checkpoint whose assets are the candidate tables
BUILD_LOCK = 7_305_110_001  # pg advisory lock key shared by every build step
GX_LOCK = 7_305_110_002  # one GX run at a time: they share the file context and Data Docs
AUDIT_LOCK = 7_305_110_003  # the audit DDL, run by whichever build step comes first

AUDIT_DDL = """
create table if not exists audit.builds (
    build_id text primary key,
    dag_run_id text,
    started_at timestamptz not null default now(),
    dbt_invocation_id text,
    load_ids bigint[] not null,
    raw_row_counts jsonb not null default '{}'
);
comment on table audit.builds is 'One row per warehouse build: the raw loads it read'
    ' (succeeded loads when it started).';
create table if not exists audit.test_results (
    test_result_id bigint generated always as identity primary key,
    build_id text not null references audit.builds (build_id),
    recorded_at timestamptz not null default now(),
    tool text not null,
    test_name text not null,
    target text,
    status text not null,
    failing_rows bigint,
    message text
);
comment on table audit.test_results is 'Every dbt test and unit test and every GX expectation'
    ' of every build: pass, fail, error or skipped.';
create table if not exists audit.publications (
    publication_id bigint generated always as identity primary key,
    published_at timestamptz not null default now(),
    build_id text not null unique references audit.builds (build_id),
    dag_run_id text,
    dbt_invocation_id text not null,
    load_ids bigint[] not null,
    row_counts jsonb not null
);
comment on table audit.publications is 'Each time a tested candidate became the live marts;'
    ' the newest row is live. row_counts: rows per published table (schema.table).';
create table if not exists audit.load_quarantine (
    load_id bigint primary key,
    source text not null,
    status text not null,
    finished_at timestamptz,
    rows_read bigint,
    rows_loaded bigint,
    rows_quarantined bigint,
    quarantined_by_reason jsonb not null,
    refreshed_at timestamptz not null default now()
);
comment on table audit.load_quarantine is 'Per raw load: rows read, loaded and quarantined'
    ' (by reason), refreshed by every build.';
alter table audit.load_quarantine add column if not exists resolved_by_resolution jsonb not null default '{}';
comment on column audit.load_quarantine.resolved_by_resolution is 'Of the rows this load quarantined,'
    ' how many a later load resolved, by resolution (recovered: landed after all; superseded,'
    ' not_returned: the source no longer has them); see raw_meta.quarantine.resolved_load_id.';
create table if not exists audit.rejected_files (
    source text not null,
    path text not null,
    sha256 text not null,
    size_bytes bigint not null,
    member text,
    reason text not null,
    load_id bigint not null,
    rejected_at timestamptz not null,
    refreshed_at timestamptz not null default now(),
    primary key (source, path, sha256)
);
comment on table audit.rejected_files is 'Dropped files the loader could not read (nothing of them'
    ' landed), the member at fault and why; copied from raw_meta.rejected_files by every build.';
create or replace view audit.live_publication_tests as
with live as (
    select * from audit.publications order by publication_id desc limit 1
)
select
    live.publication_id,
    live.published_at,
    live.build_id,
    live.dag_run_id,
    live.load_ids,
    results.tool,
    results.test_name,
    results.target,
    results.status
from live
inner join audit.test_results as results on results.build_id = live.build_id;
comment on view audit.live_publication_tests is 'The tests that guarded the live marts (all passed,'
    ' or they would not be live) and the source loads they cover.';
"""

QUARANTINE_SUMMARY = """
insert into audit.load_quarantine (load_id, source, status, finished_at, rows_read, rows_loaded,
                                   rows_quarantined, quarantined_by_reason, resolved_by_resolution)
select loads.load_id, loads.source, loads.status, loads.finished_at, loads.rows_read,
       loads.rows_loaded, loads.rows_quarantined,
       coalesce((select jsonb_object_agg(by_reason.reason, by_reason.n) from (
           select quarantine.reason, count(*) as n from raw_meta.quarantine as quarantine
           where quarantine.load_id = loads.load_id group by quarantine.reason) as by_reason), '{{}}'),
       coalesce((select jsonb_object_agg(resolved.resolution, resolved.n) from (
           select {resolution} as resolution, count(*) as n from raw_meta.quarantine as quarantine
           where quarantine.load_id = loads.load_id and {resolution} is not null
           group by 1) as resolved), '{{}}')
from raw_meta.loads as loads
on conflict (load_id) do update set
    status = excluded.status, finished_at = excluded.finished_at, rows_read = excluded.rows_read,
    rows_loaded = excluded.rows_loaded, rows_quarantined = excluded.rows_quarantined,
    quarantined_by_reason = excluded.quarantined_by_reason,
    resolved_by_resolution = excluded.resolved_by_resolution, refreshed_at = now()
"""


# A file is read again once its content changes, so a rejection stays listed (the sha256 says which
# content was refused) and a later landing of the same name shows in raw_meta.files.
REJECTED_FILES_SUMMARY = """
insert into audit.rejected_files (source, path, sha256, size_bytes, member, reason, load_id, rejected_at)
select source, path, sha256, size_bytes, member, reason, load_id, rejected_at from raw_meta.rejected_files
on conflict (source, path, sha256) do nothing
"""


class PublishRefusedError(RuntimeError):
    """The candidate is not (or no longer) the one this build built and tested: nothing published."""


def new_build_id() -> str:
    return f"manual__{uuid.uuid4().hex[:12]}"


@contextmanager
def build_lock(warehouse_url: str, key: int = BUILD_LOCK) -> Iterator[psycopg.Connection]:
    """Hold an advisory lock (waiting for whoever holds it) on a connection of its own. Lock order
    is BUILD_LOCK before GX_LOCK; nothing holding GX_LOCK waits for BUILD_LOCK, so no deadlock."""
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute("select pg_advisory_lock(%s)", (key,))
        try:
            yield conn
        finally:
            conn.execute("select pg_advisory_unlock(%s)", (key,))


def ensure_audit(conn: psycopg.Connection) -> None:
    """The setup creates audit (its login owns it; builds only append): create it here only where
    no setup ran, and never rewrite it as the transformer, who may not."""
    if not _relation_exists(conn, "audit", "live_publication_tests"):
        conn.execute(AUDIT_DDL)
        conn.execute(skipped_days.AUDIT_DDL)


def summarise_quarantine(conn: psycopg.Connection) -> None:
    """audit.load_quarantine from raw_meta: per load, what it quarantined and what of that a later
    load resolved."""
    # A warehouse no load has touched since quarantine records could be resolved lacks the column.
    resolvable = conn.execute("select exists (select from information_schema.columns where table_schema = "
                              "'raw_meta' and table_name = 'quarantine' and column_name = 'resolution')"
                              ).fetchone()[0]
    conn.execute(sql.SQL(QUARANTINE_SUMMARY).format(
        resolution=sql.SQL("quarantine.resolution" if resolvable else "null::text")))


def register_build(conn: psycopg.Connection, build_id: str, dag_run_id: str | None) -> list[int]:
    """The audit row of a build (first step to run creates it) and the raw loads it reads."""
    from social_value.quality.gx_project import RAW_TABLES

    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", (AUDIT_LOCK,))
        ensure_audit(conn)
    counts = {f"{schema}.{table}": conn.execute(
        sql.SQL("select count(*) from {}").format(sql.Identifier(schema, table))).fetchone()[0]
        for schema, table, _, _ in RAW_TABLES if _relation_exists(conn, schema, table)}
    conn.execute("insert into audit.builds (build_id, dag_run_id, load_ids, raw_row_counts) select %s, %s, "
                 "coalesce(array_agg(load_id order by load_id), '{}'), %s from raw_meta.loads "
                 "where status = 'succeeded' on conflict (build_id) do nothing",
                 (build_id, dag_run_id, json.dumps(counts)))
    return conn.execute("select load_ids from audit.builds where build_id = %s", (build_id,)).fetchone()[0]


def _relation_exists(conn: psycopg.Connection, schema: str, table: str) -> bool:
    return conn.execute("select to_regclass(%s) is not null",
                        (sql.Identifier(schema, table).as_string(conn),)).fetchone()[0]


def _stamp(conn: psycopg.Connection) -> str | None:
    return conn.execute("select obj_description(%s::regnamespace, 'pg_namespace')",
                        (CANDIDATE,)).fetchone()[0]


def _set_stamp(conn: psycopg.Connection, schema: str, text: str) -> None:
    conn.execute(sql.SQL("comment on schema {} is {}").format(sql.Identifier(schema), sql.Literal(text)))


def _tables(conn: psycopg.Connection, schema: str) -> list[str]:
    return [name for (name,) in conn.execute(
        "select tablename from pg_tables where schemaname = %s order by 1", (schema,))]


def build_candidate(warehouse_url: str, build_id: str, dag_run_id: str | None = None,
                    full_refresh: bool = False) -> dict:
    """dbt build (models, data tests, unit tests) with the marts in the candidate schema. Every
    test result is written to audit.test_results before a failure is raised."""
    with build_lock(warehouse_url) as conn:
        load_ids, full_refresh = begin_candidate(conn, build_id, dag_run_id, full_refresh)
        try:
            run_dbt(["build", *(["--full-refresh"] if full_refresh else [])], warehouse_url,
                    env=CANDIDATE_ENV)
        except DbtFailedError:
            record_dbt_results(conn, build_id, DBT_DIR / "target" / "run_results.json")  # audited too
            raise
        summary = finish_candidate(conn, build_id, DBT_DIR / "target" / "run_results.json")
    return {**summary, "load_ids": load_ids, "full_refresh": full_refresh}


def begin_candidate(conn: psycopg.Connection, build_id: str, dag_run_id: str | None,
                    full_refresh: bool = False) -> tuple[list[int], bool]:
    """Under the build lock, before dbt: decide between an incremental and a full build, register
    the build, summarise quarantine, empty the candidate (nothing of an earlier, failed build can
    then be published) and mark it as building. Returns the load ids read and the decision.

    The build is incremental (docs/incremental-builds.md) unless `full_refresh` is asked for, a
    person was erased since the newest published build started (erasure deletes raw rows, which an
    incremental run cannot see), or the previous build did not pass: an incremental build tests
    only what it recomputed, so rows a failed build wrote are rebuilt and tested again in full."""
    full_refresh = full_refresh or erased_since_last_publication(conn) or previous_build_failed(conn)
    load_ids = register_build(conn, build_id, dag_run_id)
    summarise_quarantine(conn)
    skipped_days.refresh_audit(conn)
    copy_rejected_files(conn)
    _set_stamp(conn, CANDIDATE, f"building {build_id}")
    for candidate, _, _ in TIERS:
        for table in _tables(conn, candidate):
            conn.execute(sql.SQL("drop table {} cascade").format(sql.Identifier(candidate, table)))
    return load_ids, full_refresh


def copy_rejected_files(conn: psycopg.Connection) -> None:
    """raw_meta.rejected_files into audit.rejected_files (once a file drop has created it). The
    loader creates it, so the transformer may read it; one created by another role is readable
    once the setup (which every build DAG run starts with) has granted it."""
    if not _relation_exists(conn, "raw_meta", "rejected_files"):
        return
    if not conn.execute("select has_table_privilege('raw_meta.rejected_files', 'select')").fetchone()[0]:
        log.warning("cannot read raw_meta.rejected_files as %s: audit.rejected_files not refreshed "
                    "(run the setup to grant it)", conn.info.user)
        return
    conn.execute(REJECTED_FILES_SUMMARY)


def finish_candidate(conn: psycopg.Connection, build_id: str, run_results: Path) -> dict:
    """Under the build lock, after dbt: audit every test result (failures too) and, when nothing
    failed, stamp the candidate as this build's. Raises DbtFailedError naming what failed."""
    summary = summarise(run_results)
    record_dbt_results(conn, build_id, run_results)  # also stamps the dbt invocation id
    if summary["failed"] or not summary["nodes"]:
        raise DbtFailedError(f"dbt build failed: {', '.join(summary['failed']) or 'no results'}")
    _set_stamp(conn, CANDIDATE, build_id)
    return {**summary, "build_id": build_id}


def previous_build_failed(conn: psycopg.Connection) -> bool:
    """True when the newest registered build has no passing dbt results or any test not passed."""
    if not _relation_exists(conn, "audit", "builds"):
        return False
    return conn.execute(
        "with previous as (select build_id from audit.builds order by started_at desc limit 1) "
        "select exists (select 1 from previous) and ("
        "not exists (select 1 from audit.test_results join previous using (build_id)) "
        "or exists (select 1 from audit.test_results join previous using (build_id) "
        "where status not in ('pass', 'success')))").fetchone()[0]


def erased_since_last_publication(conn: psycopg.Connection) -> bool:
    """True when svw_private.erasures holds an erasure newer than the start of the newest published
    build (or nothing was published yet and someone was erased)."""
    if not all(_relation_exists(conn, schema, table)
               for schema, table in (("svw_private", "erasures"), ("audit", "publications"))):
        return False
    return conn.execute(
        "select exists (select 1 from svw_private.erasures where erased_at >= coalesce(("
        "select max(builds.started_at) from audit.publications "
        "join audit.builds using (build_id)), '-infinity'))").fetchone()[0]


def record_dbt_results(conn: psycopg.Connection, build_id: str, run_results: Path) -> int:
    """One audit row per dbt test and unit test (and per model that errored) of this build."""
    if not run_results.exists():
        return 0
    document = json.loads(run_results.read_text())
    invocation = document["metadata"]["invocation_id"]
    conn.execute("update audit.builds set dbt_invocation_id = %s where build_id = %s", (invocation, build_id))
    tested = _tested_models(run_results.with_name("manifest.json"))
    rows = [(build_id, "dbt", result["unique_id"], tested.get(result["unique_id"]), result["status"],
             result.get("failures"), result.get("message"))
            for result in document["results"]
            if result["unique_id"].startswith(("test.", "unit_test.")) or result["status"] == "error"]
    with conn.cursor() as cursor:
        cursor.executemany("insert into audit.test_results (build_id, tool, test_name, target, status, "
                           "failing_rows, message) values (%s, %s, %s, %s, %s, %s, %s)", rows)
    return len(rows)


def _tested_models(manifest: Path) -> dict[str, str]:
    """Test unique id → the model (or source) it tests, from the manifest of the same invocation."""
    if not manifest.exists():
        return {}
    document = json.loads(manifest.read_text())
    tested = {}
    for unique_id, node in {**document.get("nodes", {}), **document.get("unit_tests", {})}.items():
        parents = node.get("depends_on", {}).get("nodes") or []
        target = node.get("attached_node") or (parents[0] if parents else None)
        if unique_id.startswith(("test.", "unit_test.")) and target:
            tested[unique_id] = target.split(".")[-1]
    return tested


def record_gx_results(conn: psycopg.Connection, build_id: str, summary: dict) -> None:
    rows = [(build_id, "gx", f"{result['suite']}: {result['expectation']}",
             result["column"] or result["suite"], "pass" if result["success"] else "fail",
             result["unexpected_count"], None)
            for result in summary["results"]]
    with conn.cursor() as cursor:
        cursor.executemany("insert into audit.test_results (build_id, tool, test_name, target, status, "
                           "failing_rows, message) values (%s, %s, %s, %s, %s, %s, %s)", rows)


def validate(warehouse_url: str, build_id: str, checkpoint: str, dag_run_id: str | None = None) -> dict:
    """Run a GX checkpoint and record every expectation. The `marts` checkpoint reads the
    candidate, so it holds the build lock and runs only on this build's candidate; `raw` reads
    the landing tables only and runs beside the dbt build."""
    from social_value.quality.gx_checks import run_checkpoint

    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        register_build(conn, build_id, dag_run_id)
    with ExitStack() as locks:
        if checkpoint == CANDIDATE_CHECKPOINT:
            conn = locks.enter_context(build_lock(warehouse_url))
            if (stamp := _stamp(conn)) != build_id:
                raise PublishRefusedError(f"the candidate is not build {build_id}'s (it is {stamp!r}): "
                                          "another build replaced it; nothing published")
        locks.enter_context(build_lock(warehouse_url, GX_LOCK))
        summary = run_checkpoint(checkpoint, warehouse_url)
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        record_gx_results(conn, build_id, summary)
    return {key: value for key, value in summary.items() if key != "results"}


def publish(warehouse_url: str, build_id: str) -> dict:
    """In one transaction: check the candidate is this build's and every recorded test passed,
    move each tier's tables into its live schema (replacing the live ones), re-apply grants, record
    the publication."""
    with psycopg.connect(warehouse_url) as conn, conn.transaction():
        # A reader's open transaction on a mart delays the swap; never wait for one for ever.
        conn.execute("set local lock_timeout = '5min'")
        conn.execute("select pg_advisory_xact_lock(%s)", (BUILD_LOCK,))
        stamp = _stamp(conn)
        if stamp != build_id:
            raise PublishRefusedError(f"the candidate is not build {build_id}'s (it is {stamp!r}); "
                                      "nothing published, the live marts are unchanged")
        build = conn.execute("select dbt_invocation_id, dag_run_id, load_ids from audit.builds "
                             "where build_id = %s", (build_id,)).fetchone()
        counts = conn.execute(
            "select count(*) filter (where tool = 'dbt'), count(*) filter (where tool = 'gx'), "
            "array_agg(test_name order by test_name) filter (where status not in ('pass', 'success')) "
            "from audit.test_results where build_id = %s", (build_id,)).fetchone()
        if not counts[0] or not counts[1] or counts[2]:
            raise PublishRefusedError(f"build {build_id} is not fully tested (dbt {counts[0]}, "
                                      f"GX {counts[1]} results; not passed: {counts[2]}): "
                                      "nothing published")
        if not _tables(conn, CANDIDATE):
            raise PublishRefusedError(f"the candidate of build {build_id} holds no tables")
        row_counts = {}
        for candidate, live, readers in TIERS:
            for table in _tables(conn, candidate):
                conn.execute(sql.SQL("drop table if exists {}").format(sql.Identifier(live, table)))
                conn.execute(sql.SQL("alter table {} set schema {}").format(
                    sql.Identifier(candidate, table), sql.Identifier(live)))
                row_counts[f"{live}.{table}"] = conn.execute(
                    sql.SQL("select count(*) from {}").format(sql.Identifier(live, table))).fetchone()[0]
            conn.execute(sql.SQL("grant usage on schema {0} to {1}; "
                                 "grant select on all tables in schema {0} to {1}")
                         .format(sql.Identifier(live), sql.SQL(readers)))
            _set_stamp(conn, live, f"published build {build_id}")
        _set_stamp(conn, CANDIDATE, f"published {build_id}")
        publication_id = conn.execute(
            "insert into audit.publications (build_id, dag_run_id, dbt_invocation_id, load_ids, row_counts) "
            "values (%s, %s, %s, %s, %s) returning publication_id",
            (build_id, build[1], build[0], build[2], json.dumps(row_counts))).fetchone()[0]
    log.info("published build %s as publication %s: %s", build_id, publication_id, row_counts)
    return {"publication_id": publication_id, "build_id": build_id, "row_counts": row_counts,
            "load_ids": len(build[2])}


def generate_docs(warehouse_url: str, target: Path) -> Path:
    """dbt docs (of the candidate just tested) and the GX Data Docs, copied into `target`."""
    import shutil

    from social_value.quality.gx_checks import GX_ROOT

    with build_lock(warehouse_url):
        run_dbt(["docs", "generate"], warehouse_url, env=CANDIDATE_ENV)
        (target / "dbt").mkdir(parents=True, exist_ok=True)
        for name in ("index.html", "manifest.json", "catalog.json"):
            shutil.copy2(DBT_DIR / "target" / name, target / "dbt" / name)
    site = GX_ROOT / "gx" / "uncommitted" / "data_docs" / "local_site"
    if site.exists():
        shutil.copytree(site, target / "gx", dirs_exist_ok=True)
    (target / "index.html").write_text(
        '<!doctype html><title>Warehouse docs</title><h1>Warehouse docs</h1><ul>'
        '<li><a href="dbt/index.html">dbt docs (models, tests, lineage)</a></li>'
        '<li><a href="gx/index.html">Great Expectations Data Docs (validation results)</a></li></ul>\n')
    return target


def build_and_publish(warehouse_url: str, build_id: str | None = None, full_refresh: bool = False) -> dict:
    """The whole build outside Airflow (CLI, tests): build, raw and marts checkpoints, publish."""
    build_id = build_id or new_build_id()
    dbt = build_candidate(warehouse_url, build_id, full_refresh=full_refresh)
    failures = []
    for checkpoint in ("raw", "marts"):
        gx = validate(warehouse_url, build_id, checkpoint)
        failures += gx["failed"]
    if failures:
        raise RuntimeError(f"GX expectations failed: {'; '.join(failures)}")
    return {"dbt": dbt, "publication": publish(warehouse_url, build_id)}
