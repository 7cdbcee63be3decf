import sys
from pathlib import Path

import pendulum
from airflow.sdk import dag, task
from cosmos import DbtTaskGroup, ExecutionConfig
from cosmos.constants import ExecutionMode, InvocationMode, TestBehavior

from cosmos_proto_common import PROFILE, project_config, render_config, summarise_dbt, trim_watcher_events, wire_watcher_roots

trim_watcher_events()


@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False,
     default_args={"retries": 0})
def cosmos_watcher_sub():
    @task
    def prepare() -> None:
        """Stands in for prepare_warehouse."""

    dbt = DbtTaskGroup(
        group_id="dbt",
        project_config=project_config(),
        profile_config=PROFILE,
        # NONE renders one sensor per model/seed, no test sensors; the producer's `--resource-type`
        # list (model/seed/snapshot) is extended below so its single `dbt build` still runs every
        # data test and unit test, with build semantics (a failed test skips what is downstream).
        render_config=render_config(TestBehavior.NONE),
        execution_config=ExecutionConfig(
            execution_mode=ExecutionMode.WATCHER,
            invocation_mode=InvocationMode.SUBPROCESS,
            dbt_executable_path=str(Path(sys.executable).with_name("dbt")),
            setup_operator_args={
                "retries": 0,
                "callback": summarise_dbt,
                "dbt_cmd_flags": ["--resource-type", "test", "--resource-type", "unit_test"],
            },
        ),
        operator_args={"retries": 0},
    )
    wire_watcher_roots(dbt)
    prepare() >> dbt


cosmos_watcher_sub()
