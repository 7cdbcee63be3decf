"""Read the project's Airflow connections (secrets live there or in the environment, never in code).

Connection ids:
- `svw_warehouse` (postgres): the warehouse as its owner; only the setup uses it.
- `svw_loader` (postgres): the loader role, which the ingest DAGs write raw_* as.
- `svw_transformer` (postgres): the transformer role, which dbt and GX run as.
- `viva_engage` (http): host = base URL (https://www.yammer.com or the simulator), password = the
  Verified Admin bearer token.
- `msgraph` (http): host = https://graph.microsoft.com (or the simulator), password = a bearer token
  with Reports.Read.All; extra `history_days` = how many days a first run reaches back from
  yesterday (default 27: Graph serves the past 28 days and refuses the 28th day back).
File drops (Slack exports, activity events, Qualtrics CSVs) are read from the folder SVW_DROP_DIR.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

WAREHOUSE_CONN_ID = "svw_warehouse"
LOADER_CONN_ID = "svw_loader"
TRANSFORMER_CONN_ID = "svw_transformer"
VIVA_ENGAGE_CONN_ID = "viva_engage"


def _get(conn_id: str):
    from airflow.sdk import BaseHook

    return BaseHook.get_connection(conn_id)


def warehouse_url(conn_id: str = WAREHOUSE_CONN_ID) -> str:
    conn = _get(conn_id)
    auth = quote(conn.login or "", safe="") + (":" + quote(conn.password, safe="") if conn.password else "")
    return f"postgresql://{auth}@{conn.host}:{conn.port or 5432}/{conn.schema or 'postgres'}"


def connection_extra(conn_id: str) -> dict:
    return _get(conn_id).extra_dejson or {}


def drop_dir() -> Path:
    """The folder file drops arrive in (SVW_DROP_DIR); tasks skip, saying so, when it is not set."""
    from airflow.sdk.exceptions import AirflowSkipException

    folder = os.environ.get("SVW_DROP_DIR")
    if not folder:
        raise AirflowSkipException("SVW_DROP_DIR is not set: no file drops are configured")
    return Path(folder)


def http_source(conn_id: str) -> tuple[str, str]:
    """(base URL, token) of an HTTP source connection."""
    conn = _get(conn_id)
    host = conn.host or ""
    if "://" not in host:
        host = f"{conn.schema or 'https'}://{host}" + (f":{conn.port}" if conn.port else "")
    if not conn.password:
        raise ValueError(f"Airflow connection {conn_id!r} has no password (the API token)")
    return host.rstrip("/"), conn.password
