"""How often and how far apart Airflow retries a failed task: the DAGs' default_args.

Only failures a retry can fix are retried (task_errors.py: a 401 or a missing setting fails at
once). SVW_TASK_RETRY_DELAY (seconds, default 60) sets the first delay; each further retry waits
about twice as long (Airflow adds up to the same again as jitter), never more than 30 minutes. The
tests set it to 1, so a hostile source run through `airflow dags test` takes seconds, not minutes.
Read when the DAG file is parsed: set it where the dag-processor runs.
"""

from __future__ import annotations

import os
from datetime import timedelta

RETRY_DELAY_VARIABLE = "SVW_TASK_RETRY_DELAY"
BACKOFF = 2.0  # Airflow 3 reads retry_exponential_backoff as a multiplier: True (= 1) means none
MAX_RETRY_DELAY = timedelta(minutes=30)


def task_retries(retries: int) -> dict:
    """default_args for `retries` retries with exponential backoff."""
    delay = float(os.environ.get(RETRY_DELAY_VARIABLE) or 60)
    return {"retries": retries, "retry_delay": timedelta(seconds=delay),
            "retry_exponential_backoff": BACKOFF, "max_retry_delay": MAX_RETRY_DELAY}
