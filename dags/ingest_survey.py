"""
### ingest_survey

Lands customer survey responses, each tied to a Salesforce account, for the csat, nps and
survey_responses metrics. Emits the `raw_survey` Asset that `build_warehouse` is scheduled on.

**SurveyMonkey** (task `surveymonkey` → `raw_surveymonkey`): API v3. Connection `surveymonkey`
(http: host = API base URL such as `https://api.surveymonkey.com`, password = bearer token with
the surveys_read and responses_read_detail scopes). Extra `{"survey_ids": ["123", ...]}` limits
the surveys read (default: every survey of the account). Responses modified since each survey's
stored watermark (less one day) are paged through `links.next`, choice ids are decoded through the
survey's details into the choice text (the score is the number in that text, never the position),
and responses, answers, questions and choices are merged on their ids. An answer whose choice the
details do not know is quarantined; once the details know it, a later run reads its response again
and lands it, and marks the quarantine record resolved (`raw_meta.quarantine.resolution`).

**Qualtrics** (task `qualtrics_drop` → `raw_qualtrics`): CSV exports dropped into the folder
`$SVW_DROP_DIR/qualtrics/` (any `*.csv` below it). Format: the Qualtrics "CSV" download, UTF-8,
with its three header rows — export tags (StartDate, EndDate, Status, Progress,
Duration (in seconds), Finished, RecordedDate, ResponseId, …, Q1, Q2, Q3_TEXT, embedded data such
as AccountId), question text, `{"ImportId":"QID1"}` — or the legacy form (BOM, V1..Vn tags named
in the second row, a comma ending every row, no RecordedDate: responses are then dated by EndDate,
else StartDate, as stg_qualtrics__responses.recorded_at_source says). Set the export's time zone to
UTC. Each file is registered by name and sha256: an unchanged file is skipped, a changed one merged
again on ResponseId. Rows with invalid UTF-8, NUL bytes, the wrong number of fields, no date or a
value under a column without a name are quarantined (raw_meta.quarantine) with their reason.
Each file is a load of its own: a file that cannot be read is rejected (raw_meta.rejected_files,
with its reason; read again once its content changes) and the others still land.

Which question is the CSAT or NPS question and which custom variable or embedded-data field holds
the account is configuration (dbt seeds), not code. The warehouse is written as `svw_loader`; the
task log shows rows read, changed and quarantined per table.
"""

import pendulum
from airflow.sdk import dag, task

from social_value.assets import RAW_SURVEY
from social_value.task_retries import task_retries


@dag(
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["ingest", "survey"],
    default_args=task_retries(3),
    doc_md=__doc__,
)
def ingest_survey():
    @task(outlets=[RAW_SURVEY])
    def surveymonkey(data_interval_end=None) -> dict:
        from social_value.airflow_connections import (
            LOADER_CONN_ID,
            connection_extra,
            http_source,
            warehouse_url,
        )
        from social_value.ingest.run_window import load_until
        from social_value.ingest.survey import (
            SURVEYMONKEY_CONN_ID,
            SurveyMonkeySource,
            ingest_surveymonkey,
        )
        from social_value.task_errors import fail_fast_on_permanent_errors

        with fail_fast_on_permanent_errors():
            base_url, token = http_source(SURVEYMONKEY_CONN_ID)
            extra = connection_extra(SURVEYMONKEY_CONN_ID)
            source = SurveyMonkeySource(base_url, token, tuple(str(i) for i in extra.get("survey_ids", [])))
            until = load_until(data_interval_end)
            return ingest_surveymonkey(warehouse_url(LOADER_CONN_ID), source, until)

    @task(outlets=[RAW_SURVEY])
    def qualtrics_drop() -> dict:
        from social_value.airflow_connections import LOADER_CONN_ID, drop_dir, warehouse_url
        from social_value.ingest.survey import ingest_qualtrics_drop
        from social_value.task_errors import fail_fast_on_permanent_errors

        with fail_fast_on_permanent_errors():
            # Without SVW_DROP_DIR the task is skipped, saying so: no file drops are configured.
            return ingest_qualtrics_drop(warehouse_url(LOADER_CONN_ID), drop_dir())

    surveymonkey()
    qualtrics_drop()


ingest_survey()
