"""Tell Airflow which failures a retry cannot fix, so they fail at once with a clear message.

A wrong password, a missing privilege, a missing setting or a 401 from a source stays wrong however
often the task retries; timeouts, 5xx and dropped connections are worth the retries with backoff.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from social_value.connectors.http import SourceError
from social_value.dbt_runner import DbtFailedError
from social_value.settings import ConfigError

PERMANENT = (ConfigError, SourceError, DbtFailedError, psycopg.errors.InsufficientPrivilege,
             psycopg.errors.InvalidPassword, psycopg.errors.UndefinedTable,
             psycopg.errors.InvalidCatalogName)


@contextmanager
def fail_fast_on_permanent_errors() -> Iterator[None]:
    try:
        yield
    except PERMANENT as error:
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(f"{type(error).__name__}: {error} (not retried: retrying cannot fix this)"
                                   ) from error
