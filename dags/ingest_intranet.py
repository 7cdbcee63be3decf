"""
### ingest_intranet

Pulls the intranet's activity into `raw_viva_engage`: the Viva Engage network data export for the
window since the stored watermark (overlapping a day for late messages), merged on message, user
and group ids so reruns and overlaps never duplicate. Emits the `raw_intranet` Asset that
`build_warehouse` is scheduled on.

Connections: `viva_engage` (http: host = base URL, password = Verified Admin token),
`svw_loader` (postgres, the loader role). The task log shows rows read, changed and quarantined
per file and the new watermark.
"""

from datetime import timedelta

import pendulum
from airflow.sdk import dag, task

from social_value.assets import RAW_INTRANET


@dag(
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["ingest", "intranet"],
    default_args={"retries": 3, "retry_delay": timedelta(minutes=1), "retry_exponential_backoff": True},
    doc_md=__doc__,
)
def ingest_intranet():
    @task(outlets=[RAW_INTRANET])
    def viva_engage_export(data_interval_end=None) -> dict:
        import os

        from social_value.airflow_connections import (
            LOADER_CONN_ID,
            VIVA_ENGAGE_CONN_ID,
            http_source,
            warehouse_url,
        )
        from social_value.ingest.intranet import SourceConnection, ingest_viva_engage
        from social_value.task_errors import fail_fast_on_permanent_errors

        with fail_fast_on_permanent_errors():
            base_url, token = http_source(VIVA_ENGAGE_CONN_ID)
            until = min(data_interval_end or pendulum.now("UTC"), pendulum.now("UTC"))
            return ingest_viva_engage(warehouse_url(LOADER_CONN_ID), SourceConnection(base_url, token),
                                      until, pseudonym_key=os.environ.get("SVW_PSEUDONYM_KEY"))

    viva_engage_export()


ingest_intranet()
