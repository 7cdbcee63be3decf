import pendulum
from airflow.sdk import dag, task
from cosmos import DbtTaskGroup
from cosmos.constants import ExecutionMode, TestBehavior

from cosmos_proto_common import PROFILE, execution_config, project_config, render_config, wire_watcher_roots


@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False,
     default_args={"retries": 0})
def cosmos_watcher():
    @task
    def prepare() -> None:
        """Stands in for prepare_warehouse."""

    dbt = DbtTaskGroup(
        group_id="dbt",
        project_config=project_config(),
        profile_config=PROFILE,
        render_config=render_config(TestBehavior.AFTER_EACH),
        execution_config=execution_config(ExecutionMode.WATCHER),
        operator_args={"retries": 0},
    )
    wire_watcher_roots(dbt)
    prepare() >> dbt


cosmos_watcher()
