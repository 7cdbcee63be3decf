"""Assets the ingest DAGs emit and the build DAG is scheduled on (one per raw schema family)."""

from airflow.sdk import Asset

RAW_INTRANET = Asset("raw_intranet")
