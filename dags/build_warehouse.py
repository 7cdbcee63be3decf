"""
### build_warehouse

Runs when fresh raw data lands (scheduled on any of the ingest Assets): prepares the warehouse (schemas,
roles, pseudonymisation key from `SVW_PSEUDONYM_KEY`; connection `svw_warehouse`), builds and
tests the dbt project (staging → core → marts) as the transformer role (`svw_transformer`), then
validates the marts with the Great Expectations checkpoint `marts`.
A failed dbt test or expectation fails the run and names what failed.
"""

from datetime import timedelta

import pendulum
from airflow.sdk import dag, task

from social_value.assets import RAW_CRM, RAW_INTRANET, RAW_SURVEY
from social_value.quality.gx_operator import GXCheckpointOperator


@dag(
    schedule=(RAW_INTRANET | RAW_CRM | RAW_SURVEY),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["warehouse", "dbt", "quality"],
    default_args={"retries": 1, "retry_delay": timedelta(minutes=2)},
    doc_md=__doc__,
)
def build_warehouse():
    @task
    def prepare_warehouse() -> None:
        import os

        from social_value.airflow_connections import warehouse_url
        from social_value.task_errors import fail_fast_on_permanent_errors
        from social_value.warehouse_setup import role_passwords, setup

        with fail_fast_on_permanent_errors():
            setup(warehouse_url(), os.environ.get("SVW_PSEUDONYM_KEY"), role_passwords())

    @task
    def dbt_build() -> dict:
        from social_value.airflow_connections import TRANSFORMER_CONN_ID, warehouse_url
        from social_value.dbt_runner import run_dbt
        from social_value.task_errors import fail_fast_on_permanent_errors

        with fail_fast_on_permanent_errors():
            return run_dbt(["build"], warehouse_url(TRANSFORMER_CONN_ID))

    validate_marts = GXCheckpointOperator(task_id="validate_marts", checkpoint_name="marts", retries=0)

    prepare_warehouse() >> dbt_build() >> validate_marts


build_warehouse()
