"""build_warehouse's dbt task group: astronomer-cosmos in watcher mode, wrapped in write-audit-publish.

One producer task runs a single `dbt build` (models, seeds, data tests, unit tests; the marts go to
the candidate schema) and every model and seed gets a task of its own that reports that node's result
from the producer's XComs. Why this shape (measured in docs/design/cosmos-rendering.md): one dbt run per
model costs a process start and a project parse each, 4.5× a bare build; watcher mode is one dbt run.

The producer holds the build lock (publish.BUILD_LOCK) from before dbt starts until its results are
audited, exactly as publish.build_candidate does outside Airflow, so two builds never write the
candidate at once. The lock is a Postgres session lock: if the task process dies, it is released.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from social_value.dbt_runner import DBT_DIR, confined_env

log = logging.getLogger(__name__)

GROUP_ID = "dbt"
PRODUCER_TASK_ID = "dbt_producer_watcher"  # cosmos.constants.PRODUCER_WATCHER_TASK_ID
SUMMARY_XCOM_KEY = "dbt_summary"
# Written by `dbt parse` (make manifest; the demo, `make airflow` and Docker's airflow-init run it), so
# parsing the DAG file never runs dbt.
MANIFEST = DBT_DIR / "target" / "manifest.json"

# Build id → the connection holding the build lock, from the producer's pre_execute to its callback.
_held: dict[str, Any] = {}


def dbt_task_group(conn_id: str, **group_kwargs: Any):
    """The DbtTaskGroup of the project (cosmos imports are here, so only the DAG file pays them)."""
    from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
    from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior
    from cosmos.profiles import PostgresUserPasswordProfileMapping

    from social_value.publish import CANDIDATE_ENV

    if not MANIFEST.exists():
        raise FileNotFoundError(f"dbt manifest not found at {MANIFEST}: run `make manifest` (dbt parse) "
                                "before Airflow parses build_warehouse")
    project = ProjectConfig(
        manifest_path=MANIFEST,
        project_name="social_value",
        install_dbt_deps=False,
        # The whole environment dbt gets (append_env is off below): no owner login, no key
        # (dbt_runner.confined_env). Constant where dbt reads it: dbt re-parses the whole project
        # whenever an env var it reads changes.
        env_vars={**confined_env(), **CANDIDATE_ENV, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
    )
    # A local Path (the attribute's documented type), not the ObjectStoragePath cosmos makes of it:
    # reading through Airflow's object storage first loads every Airflow plugin (cosmos's own
    # imports FastAPI), 0.7 s of each parse in a fresh dag-processor process.
    project.manifest_path = MANIFEST
    group = DbtTaskGroup(
        group_id=GROUP_ID,
        project_config=project,
        profile_config=ProfileConfig(
            profile_name="social_value",
            target_name="default",
            # The connection's password reaches dbt as an environment variable, never in a file.
            profile_mapping=PostgresUserPasswordProfileMapping(
                conn_id=conn_id, profile_args={"schema": "core", "threads": 4, "connect_timeout": 10}),
        ),
        render_config=RenderConfig(
            load_method=LoadMode.DBT_MANIFEST,
            # A task per model and seed; tests run inside the producer's single `dbt build` (flags
            # below), so a failed test still stops everything downstream of it, as in a bare build.
            test_behavior=TestBehavior.NONE,
            emit_datasets=False,
        ),
        execution_config=ExecutionConfig(
            execution_mode=ExecutionMode.WATCHER,
            # A dbt subprocess: in-process dbt hands every debug event to cosmos, about 40% slower.
            invocation_mode=InvocationMode.SUBPROCESS,
            dbt_executable_path=str(Path(sys.executable).with_name("dbt")),
            dbt_project_path=DBT_DIR,
            setup_operator_args={
                "retries": 0,  # cosmos skips a retried producer: a run's dbt build never repeats
                "pre_execute": begin_build,
                "callback": finish_build,
                "on_failure_callback": release_build,
                "dbt_cmd_flags": ["--resource-type", "test", "--resource-type", "unit_test"],
            },
        ),
        # A retried model task would build its model on its own, outside the build lock.
        operator_args={"retries": 0, "append_env": False},
        **group_kwargs,
    )
    _producer_first(group)
    _fewer_producer_pushes()
    _reported_status_first()
    return group


def _fewer_producer_pushes() -> None:
    """Keep the producer's XComs to what a task reads. It pushes through the execution API while it
    reads dbt's output, so every push slows the build itself (measured: dbt ran 41 s in the producer
    against 31 s bare). Dropped: an XCom per dbt node event (start, compile, execute, finish; about
    1,300 a build) and the status of each test (270), which only per-test tasks would read and
    TestBehavior.NONE renders none. Also dropped: each model's compiled SQL (a push by the producer,
    then a read and a second rendered-fields update by its task: 2.4 s of a 48 s group at S); dbt docs
    (`make docs`) show every model's compiled code, and a failed model's error is in the producer's
    log. Kept: every model's and seed's final status, which its task reads, and every error event.
    cosmos has no setting for these: they are module attributes of the pinned cosmos 1.15.1; an
    upgrade that drops them fails the DAG import, loudly."""
    import cosmos.operators._watcher.base as watcher

    watcher._DBT_EVENT_ALLOWLIST = watcher._DBT_ERROR_EVENTS_TYPES
    if not callable(watcher.store_compiled_sql_for_model):
        raise ImportError("cosmos.operators._watcher.base.store_compiled_sql_for_model changed")
    watcher.store_compiled_sql_for_model = _no_compiled_sql
    push = getattr(watcher.safe_xcom_push, "__wrapped__", watcher.safe_xcom_push)

    def push_unless_test_status(task_instance: Any, key: str, value: Any) -> None:
        if not (key.startswith(("test__", "unit_test__")) and key.endswith("_status")):
            push(task_instance=task_instance, key=key, value=value)

    push_unless_test_status.__wrapped__ = push
    watcher.safe_xcom_push = push_unless_test_status


def _reported_status_first() -> None:
    """A model task whose model the producer reported a success for reads that one status and
    nothing else: 1 execution-API call instead of 5 (the producer's state and its start-up log are
    only needed while the model is pending or did not succeed, and then cosmos's own poke runs)."""
    from cosmos.operators._watcher import base
    from cosmos.operators._watcher.state import is_dbt_node_status_success

    poke = getattr(base.BaseConsumerSensor.poke, "__wrapped__", base.BaseConsumerSensor.poke)

    def poke_reported_first(self: Any, context: Any) -> bool:
        ti = context["ti"]
        if (ti.try_number == 1 and not self.is_test_sensor
                and is_dbt_node_status_success(self._get_node_status(ti, context))):
            return True
        return poke(self, context)

    poke_reported_first.__wrapped__ = poke
    base.BaseConsumerSensor.poke = poke_reported_first


def _no_compiled_sql(*_: Any, **__: Any) -> None:
    """Stands in for cosmos's store_compiled_sql_for_model (see _fewer_producer_pushes)."""


def _producer_first(group: Any) -> None:
    """Run the producer before the model tasks that have no upstream model.

    cosmos leaves them unconnected and relies on priority weights; `airflow dags test` ignores weights,
    so a model task could start first and wait for a producer that never runs. all_done lets each model
    task still report its own model's state after a failed build.
    """
    producer = group.children[f"{group.group_id}.{PRODUCER_TASK_ID}"]
    for root in group.get_roots():
        if root is not producer:
            producer >> root
            root.trigger_rule = "all_done"


def _warehouse_url() -> str:
    from social_value.airflow_connections import TRANSFORMER_CONN_ID, warehouse_url

    return warehouse_url(TRANSFORMER_CONN_ID)


def begin_build(context: Any) -> None:
    """Producer pre_execute: take the build lock and reset the candidate (publish.begin_candidate)."""
    import psycopg
    from airflow.sdk.exceptions import AirflowFailException

    from social_value.publish import BUILD_LOCK, begin_candidate

    ti = context["ti"]
    if ti.try_number > 1:
        raise AirflowFailException("a build_warehouse run builds once: its failed tests stay in its audit "
                                   "and it cannot publish; trigger a new run instead of clearing this one")
    build_id = context["run_id"]
    conn = psycopg.connect(_warehouse_url(), autocommit=True)
    log.info("waiting for the build lock")
    conn.execute("select pg_advisory_lock(%s)", (BUILD_LOCK,))
    _held[build_id] = conn
    load_ids, full_refresh = begin_candidate(conn, build_id, build_id)
    # The producer reads this when it builds its dbt command, after this hook.
    context["task"].full_refresh = full_refresh
    log.info("build %s: candidate reset, reading %d raw loads; %s build", build_id, len(load_ids),
             "full" if full_refresh else "incremental")


def finish_build(project_dir: str, context: Any = None, **_: Any) -> None:
    """Producer callback, run once dbt has finished and before cosmos looks at its exit code: audit
    every test result, stamp the candidate, share the summary and fail naming every failed node."""
    from social_value.publish import finish_candidate

    build_id = context["run_id"]
    conn = _held.get(build_id)
    if conn is None:
        raise RuntimeError(f"build {build_id} does not hold the build lock; nothing was audited")
    try:
        summary = finish_candidate(conn, build_id, Path(project_dir) / "target" / "run_results.json")
        context["ti"].xcom_push(key=SUMMARY_XCOM_KEY, value=summary)
        log.info("dbt: %s of %s tests passed; candidate stamped %s", summary["tests_passed"],
                 summary["tests"], build_id)
    finally:
        release_build(context)


def release_build(context: Any) -> None:
    """Give the build lock back (also the producer's failure callback, for failures before dbt ran)."""
    conn = _held.pop(context["run_id"], None)
    if conn is not None:
        conn.close()  # closing the session releases its advisory lock


def cosmos_environment() -> dict[str, str]:
    """cosmos settings the deployment must set (runtime.py and docker-compose.yml do):
    a reliable-retry backup rewrites a Variable on every XCom push (quadratic; 2.2× slower here), and
    telemetry makes an HTTP call per task."""
    return {
        # Private to the service user: cosmos caches the project, compiled SQL included, here
        # (by default in a folder anyone may read under the system temp folder).
        "AIRFLOW__COSMOS__CACHE_DIR": str(private_cache_dir()),
        "AIRFLOW__COSMOS__ENABLE_WATCHER_RELIABLE_RETRY": "False",
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        "DO_NOT_TRACK": "1",
    }


def private_cache_dir() -> Path:
    """cosmos's cache folder: in the project's state folder, mode 0700 (made on first use)."""
    from social_value.settings import STATE_DIR

    folder = STATE_DIR / "cosmos-cache"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)
    return folder


def parse_manifest(warehouse_url: str) -> Path:
    """Write the manifest the DAG renders from (`make manifest`)."""
    from social_value.dbt_runner import run_dbt
    from social_value.publish import CANDIDATE_ENV

    run_dbt(["parse"], warehouse_url, env=CANDIDATE_ENV)
    return MANIFEST
