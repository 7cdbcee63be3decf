"""Tell Airflow which failures a retry cannot fix, so they fail at once with a clear message.

A wrong password, a missing privilege, a missing setting or a 401 from a source stays wrong however
often the task retries: those fail the task without retries (AirflowFailException). Everything
else fails it as retryable, above all a TransientSourceError (429, 5xx, timeouts and cut bodies
that outlasted the connector's own attempts): Airflow's retries, minutes apart with exponential
backoff (task_retries.py), often outwait a throttled or restarting source.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from social_value.connectors.http import SourceError, TransientSourceError
from social_value.dbt_runner import DbtFailedError
from social_value.rejections import RejectedFileError
from social_value.settings import ConfigError

log = logging.getLogger(__name__)

PERMANENT = (ConfigError, SourceError, DbtFailedError, RejectedFileError,
             psycopg.errors.InsufficientPrivilege, psycopg.errors.InvalidPassword,
             psycopg.errors.UndefinedTable, psycopg.errors.InvalidCatalogName)


@contextmanager
def fail_fast_on_permanent_errors() -> Iterator[None]:
    try:
        yield
    except TransientSourceError as error:
        log.warning("the source is unavailable for now (%s); the task fails as retryable, and "
                    "Airflow retries it if it has retries left", error)
        raise
    except PERMANENT as error:
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(f"{type(error).__name__}: {error} (not retried: retrying cannot fix this)"
                                   ) from error
