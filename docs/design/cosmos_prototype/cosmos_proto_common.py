"""Shared cosmos configuration for the prototype DAGs (not itself a DAG)."""

from pathlib import Path

from cosmos import ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior
from cosmos.profiles import PostgresUserPasswordProfileMapping

DBT_DIR = Path(__file__).resolve().parents[1] / "dbt"  # plugins/.. = project root
MANIFEST = DBT_DIR / "target" / "manifest.json"

PROFILE = ProfileConfig(
    profile_name="social_value",
    target_name="default",
    profile_mapping=PostgresUserPasswordProfileMapping(
        conn_id="svw_transformer",
        # `schema` is required by dbt-postgres; models set their own +schema anyway.
        profile_args={"schema": "core", "threads": 4, "connect_timeout": 10},
    ),
)


def project_config() -> ProjectConfig:
    return ProjectConfig(
        dbt_project_path=DBT_DIR,
        manifest_path=MANIFEST,
        project_name="social_value",
        install_dbt_deps=False,
        env_vars={"SVW_MARTS_SCHEMA": "marts_candidate", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
    )


def render_config(test_behavior: TestBehavior) -> RenderConfig:
    return RenderConfig(
        load_method=LoadMode.DBT_MANIFEST,
        test_behavior=test_behavior,
        emit_datasets=False,
    )


def execution_config(mode: ExecutionMode) -> ExecutionConfig:
    return ExecutionConfig(
        execution_mode=mode,
        invocation_mode=InvocationMode.DBT_RUNNER,
        # The producer must not retry (it would skip); dbt failures are deterministic.
        setup_operator_args={"retries": 0} if mode == ExecutionMode.WATCHER else None,
    )


def wire_watcher_roots(group) -> None:
    """Put the producer upstream of the group's root sensors.

    DbtTaskGroup leaves them unconnected and relies on priority weights; `airflow dags test` ignores
    weights and runs ready tasks in set order, so a sensor that ran first would wait forever in its
    inline trigger. all_done lets each sensor still report its own model's result after a failed build.
    """
    producer = group.children[f"{group.group_id}.dbt_producer_watcher"]
    for task in group.get_roots():
        if task is not producer:
            producer >> task
            task.trigger_rule = "all_done"


def trim_watcher_events() -> None:
    """Stop the producer pushing one XCom per dbt node lifecycle event (start/compile/execute/finish).

    Private cosmos 1.15 constant: the producer still pushes each node's final status (what the sensors
    read) and every error event; the sensors only lose the per-node start/finish log line.
    """
    import os

    if os.environ.get("PROTO_TRIM", "1") != "1":
        return
    import cosmos.operators._watcher.base as watcher_base

    watcher_base._DBT_EVENT_ALLOWLIST = watcher_base._DBT_ERROR_EVENTS_TYPES


def summarise_dbt(project_dir: str, context=None, **_) -> None:
    """Producer callback (runs before cosmos checks dbt's exit code): publish the project's usual
    summary and fail naming every failed node, as dbt_runner.run_dbt does today."""
    from social_value.dbt_runner import DbtFailedError, summarise

    summary = summarise(Path(project_dir) / "target" / "run_results.json")
    if context is not None:
        context["ti"].xcom_push(key="dbt_summary", value=summary)
    if summary["failed"]:
        raise DbtFailedError(f"dbt build failed: {', '.join(summary['failed'])}")
