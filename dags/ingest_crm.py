"""
### ingest_crm

Pulls the CRM into `raw_salesforce`: users, accounts, opportunities, opportunity history and
delivery projects (a configurable object, `Project__c` by default) changed since each object's
stored SystemModstamp watermark (overlapping an hour), read with `queryAll` so deletions arrive as
IsDeleted rows, and merged on the Salesforce Id so reruns and overlaps never duplicate. All objects
and their watermarks commit together. Emits the `raw_crm` Asset that `build_warehouse` is scheduled on.

Connections: `salesforce` (http: host = instance URL, password = bearer token; extra may set
`api_version`, `project_object` and `project_fields`), `svw_loader` (postgres, the loader role).
The task log shows rows read, changed and quarantined per object and the new watermarks.
"""

import pendulum
from airflow.sdk import dag, task

from social_value.assets import RAW_CRM
from social_value.task_retries import task_retries


@dag(
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["ingest", "crm"],
    default_args=task_retries(3),
    doc_md=__doc__,
)
def ingest_crm():
    @task(outlets=[RAW_CRM])
    def salesforce_objects(data_interval_end=None) -> dict:
        import os

        from airflow.sdk import BaseHook

        from social_value.airflow_connections import LOADER_CONN_ID, http_source, warehouse_url
        from social_value.connectors.salesforce import SalesforceConfig, SalesforceSource
        from social_value.ingest.crm import SALESFORCE_CONN_ID, ingest_salesforce
        from social_value.ingest.run_window import load_until
        from social_value.task_errors import fail_fast_on_permanent_errors

        with fail_fast_on_permanent_errors():
            base_url, token = http_source(SALESFORCE_CONN_ID)
            config = SalesforceConfig.from_settings(BaseHook.get_connection(SALESFORCE_CONN_ID).extra_dejson)
            until = load_until(data_interval_end)
            return ingest_salesforce(warehouse_url(LOADER_CONN_ID), SalesforceSource(base_url, token, config),
                                     until, pseudonym_key=os.environ.get("SVW_PSEUDONYM_KEY"))

    salesforce_objects()


ingest_crm()
