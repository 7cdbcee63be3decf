"""
### ingest_intranet

Pulls the intranet's activity into the raw_* landing schemas, each source incrementally and merged
on its own keys, so reruns and overlapping windows never duplicate:

- `viva_engage_export` → `raw_viva_engage`: the Viva Engage network data export (users, groups,
  messages) for the window since the stored watermark, overlapping a day for late messages.
- `msgraph_activity` → `raw_msgraph`: Graph's daily Viva Engage activity report (likes, reads per
  user) for every day since the last loaded one. A day Graph refuses (HTTP 400, e.g. past its
  28-day retention) is skipped and recorded in `raw_meta.skipped_days` (`audit.skipped_source_days`
  after a build) with Graph's answer; the other days land.
- `slack_export` → `raw_slack`: Slack workspace export ZIPs dropped in `$SVW_DROP_DIR/slack/`.
- `activity_events` → `raw_activity_events`: view/download events files (NDJSON or CSV, see the
  README) dropped in `$SVW_DROP_DIR/activity_events/`.

Each dropped file is a load of its own. A file that cannot be read (not a ZIP, corrupt, a member
over the size or compression limits, not a Slack export, a day file that is not a JSON array) is
rejected: raw_meta.rejected_files names the file, member and reason, the task logs a warning and
succeeds (a retry cannot mend a file), the files beside it land, and it is read again only once its
content changes.

Each task emits the `raw_intranet` Asset that `build_warehouse` is scheduled on, and logs rows read,
changed and quarantined and the new watermark. Connections: `viva_engage`, `msgraph` (http: host =
base URL, password = token) and `svw_loader` (postgres, the loader role). Failures a retry cannot fix
(bad token, missing privilege) fail at once; 429, 5xx, timeouts and cut bodies that outlast the
connector's own attempts fail the task as retryable, and Airflow retries it with exponential
backoff (first delay `SVW_TASK_RETRY_DELAY`, 60 s).

Each run loads up to its data interval end: a run for logical date D loads up to D 00:00 UTC, not
through D (the task log says which instant; Graph's last day loaded is the day before it).
"""

import pendulum
from airflow.sdk import dag, task

from social_value.assets import RAW_INTRANET
from social_value.task_retries import task_retries


@dag(
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["ingest", "intranet"],
    default_args=task_retries(3),
    doc_md=__doc__,
)
def ingest_intranet():
    @task(outlets=[RAW_INTRANET])
    def viva_engage_export(data_interval_end=None) -> dict:
        import os

        from social_value.airflow_connections import LOADER_CONN_ID, http_source, warehouse_url
        from social_value.ingest.intranet import SourceConnection, ingest_viva_engage
        from social_value.task_errors import fail_fast_on_permanent_errors

        with fail_fast_on_permanent_errors():
            base_url, token = http_source("viva_engage")
            return ingest_viva_engage(warehouse_url(LOADER_CONN_ID), SourceConnection(base_url, token),
                                      _until(data_interval_end),
                                      pseudonym_key=os.environ.get("SVW_PSEUDONYM_KEY"))

    @task(outlets=[RAW_INTRANET])
    def msgraph_activity(data_interval_end=None) -> dict:
        import os

        from social_value.airflow_connections import (
            LOADER_CONN_ID,
            connection_extra,
            http_source,
            warehouse_url,
        )
        from social_value.connectors import msgraph_reports as msgraph
        from social_value.ingest.intranet import SourceConnection, ingest_msgraph
        from social_value.task_errors import fail_fast_on_permanent_errors

        with fail_fast_on_permanent_errors():
            base_url, token = http_source("msgraph")
            history = int(connection_extra("msgraph").get("history_days", msgraph.HISTORY_DAYS))
            return ingest_msgraph(warehouse_url(LOADER_CONN_ID), SourceConnection(base_url, token),
                                  _until(data_interval_end), history_days=history,
                                  pseudonym_key=os.environ.get("SVW_PSEUDONYM_KEY"))

    @task(outlets=[RAW_INTRANET])
    def slack_export() -> dict:
        import os

        from social_value.airflow_connections import LOADER_CONN_ID, drop_dir, warehouse_url
        from social_value.ingest.intranet import ingest_slack_drop
        from social_value.task_errors import fail_fast_on_permanent_errors

        with fail_fast_on_permanent_errors():
            return ingest_slack_drop(warehouse_url(LOADER_CONN_ID), drop_dir(),
                                     pseudonym_key=os.environ.get("SVW_PSEUDONYM_KEY"))

    @task(outlets=[RAW_INTRANET])
    def activity_events() -> dict:
        import os

        from social_value.airflow_connections import LOADER_CONN_ID, drop_dir, warehouse_url
        from social_value.ingest.intranet import ingest_activity_events_drop
        from social_value.task_errors import fail_fast_on_permanent_errors

        with fail_fast_on_permanent_errors():
            return ingest_activity_events_drop(warehouse_url(LOADER_CONN_ID), drop_dir(),
                                               pseudonym_key=os.environ.get("SVW_PSEUDONYM_KEY"))

    viva_engage_export()
    msgraph_activity()
    slack_export()
    activity_events()


def _until(data_interval_end):
    """The end of the window to load (logged in words): the run's interval end, never the future."""
    from social_value.ingest.run_window import load_until

    return load_until(data_interval_end)


ingest_intranet()
