import pendulum
from airflow.sdk import dag, task
from cosmos import DbtTaskGroup
from cosmos.constants import ExecutionMode, TestBehavior

from cosmos_proto_common import PROFILE, execution_config, project_config, render_config


@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False,
     default_args={"retries": 0})
def cosmos_local_build():
    @task
    def prepare() -> None:
        """Stands in for prepare_warehouse."""

    dbt = DbtTaskGroup(
        group_id="dbt",
        project_config=project_config(),
        profile_config=PROFILE,
        render_config=render_config(TestBehavior.BUILD),
        execution_config=execution_config(ExecutionMode.LOCAL),
        operator_args={"retries": 0, "should_store_compiled_sql": False},
    )
    prepare() >> dbt


cosmos_local_build()
