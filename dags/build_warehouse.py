"""
### build_warehouse

Runs when fresh raw data lands (scheduled on any of the ingest Assets). Write-audit-publish:

1. `prepare_warehouse`: schemas, roles, the pseudonymisation key (`SVW_PSEUDONYM_KEY`; connection
   `svw_warehouse`).
2. The `dbt` task group (astronomer-cosmos, watcher mode, rendered from dbt/target/manifest.json, which
   `make manifest` writes): `dbt_producer_watcher` takes the build lock, empties the candidate schema
   `marts_candidate` and runs one `dbt build` as the transformer (`svw_transformer`): every model, seed,
   data test and unit test, the marts written to the candidate. Each model and seed has a task of its own
   that shows that node's result. Every test result goes to `audit.test_results`; a failed one fails the
   producer, naming it. Beside it, `validate_raw` runs the GX checkpoint `raw` on the landing tables.
3. `validate_marts`: the GX checkpoint `marts` on the candidate.
4. `generate_docs`: dbt docs and GX Data Docs to reports/docs/ (`make docs` serves them).
5. `publish`: only if every test and expectation passed, one transaction moves the candidate into `marts`
   and records `audit.publications` (plugins/social_value/publish.py). Otherwise nothing is published:
   the previous marts stay live.

A run builds once: to rebuild after a failure, trigger a new run (a cleared run refuses to rebuild).
"""

import pendulum
from airflow.sdk import dag, task

from social_value.airflow_connections import TRANSFORMER_CONN_ID
from social_value.assets import RAW_CRM, RAW_INTRANET, RAW_SURVEY
from social_value.cosmos_build import dbt_task_group
from social_value.quality.gx_operator import GXCheckpointOperator
from social_value.task_retries import task_retries


@dag(
    schedule=(RAW_INTRANET | RAW_CRM | RAW_SURVEY),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["warehouse", "dbt", "quality"],
    default_args=task_retries(1),
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
    built = dbt_task_group(TRANSFORMER_CONN_ID)
    docs = generate_docs()
    published = publish()
    prepare >> [built, validate_raw]
    built >> validate_marts
    [validate_raw, validate_marts] >> docs
    [validate_raw, validate_marts, docs] >> published


build_warehouse()
