"""Assets the ingest DAGs emit and the build DAG is scheduled on (one per raw schema family)."""

from airflow.sdk import Asset

RAW_INTRANET = Asset("raw_intranet")
RAW_CRM = Asset("raw_crm")
RAW_SURVEY = Asset("raw_survey")
