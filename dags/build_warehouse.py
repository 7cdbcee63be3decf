"""
### build_warehouse

Runs when fresh raw data lands (scheduled on any of the ingest Assets): prepares the warehouse (schemas,
roles, pseudonymisation key from `SVW_PSEUDONYM_KEY`; connection `svw_warehouse`), builds and
builds and tests the dbt project (staging → core → marts) as the transformer role (`svw_transformer`)
with the marts written to the candidate schema `marts_candidate`, validates the raw landing tables
(GX checkpoint `raw`) and the candidate marts (checkpoint `marts`), writes dbt and GX docs to
reports/docs/, and only then publishes: one transaction moves the candidate into `marts`
(write-audit-publish, plugins/social_value/publish.py). Every test and expectation is recorded in
`audit.test_results`, each publication in `audit.publications`.
A failed dbt test or expectation fails the run, names what failed and publishes nothing: the
previous marts stay live.
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
    def dbt_build(run_id: str | None = None) -> dict:
        from social_value.airflow_connections import TRANSFORMER_CONN_ID, warehouse_url
        from social_value.publish import build_candidate
        from social_value.task_errors import fail_fast_on_permanent_errors

        with fail_fast_on_permanent_errors():
            return build_candidate(warehouse_url(TRANSFORMER_CONN_ID), run_id, dag_run_id=run_id)

    validate_raw = GXCheckpointOperator(task_id="validate_raw", checkpoint_name="raw", retries=0)
    validate_marts = GXCheckpointOperator(task_id="validate_marts", checkpoint_name="marts", retries=0)

    @task(trigger_rule="all_done", retries=0)
    def generate_docs() -> str:
        """dbt docs and GX Data Docs of every build, failed ones included (`make docs` serves them)."""
        from social_value.airflow_connections import TRANSFORMER_CONN_ID, warehouse_url
        from social_value.publish import generate_docs
        from social_value.settings import PROJECT_ROOT

        return str(generate_docs(warehouse_url(TRANSFORMER_CONN_ID), PROJECT_ROOT / "reports" / "docs"))

    @task(retries=0)
    def publish(run_id: str | None = None) -> dict:
        from social_value.airflow_connections import TRANSFORMER_CONN_ID, warehouse_url
        from social_value.publish import publish

        return publish(warehouse_url(TRANSFORMER_CONN_ID), run_id)

    prepare = prepare_warehouse()
    built = dbt_build()
    docs = generate_docs()
    published = publish()
    prepare >> [built, validate_raw]
    built >> validate_marts
    [validate_raw, validate_marts] >> docs
    [validate_raw, validate_marts, docs] >> published


build_warehouse()
