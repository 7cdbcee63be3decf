"""The environment every command runs in: warehouse, Airflow, dbt, GX and source connections.

With SVW_WAREHOUSE_URL unset this is the embedded default (its own Postgres, the simulator);
with it set, the same variables point at the user's Postgres and nothing embedded is started.
"""

from __future__ import annotations

import json
import os
import warnings
from urllib.parse import quote, unquote, urlsplit

from social_value import settings
from social_value.cosmos_build import cosmos_environment
from social_value.dbt_runner import dbt_env
from social_value.quality.gx_checks import gx_connection_string
from social_value.warehouse_setup import ROLES as ROLE_PASSWORDS

SIMULATOR_PORT_DEFAULT = 8765
# Airflow connection ids of the HTTP sources the simulator serves in the embedded default.
SIMULATED_HTTP_SOURCES = ("viva_engage", "msgraph", "salesforce", "surveymonkey")


def _simulated_extras() -> dict[str, dict]:
    """The simulator serves Graph's daily reports for its whole period, not only the last 30 days:
    reach back to its first day from today, so the demo covers the same data whatever the date."""
    from datetime import UTC, datetime

    from social_value.simulator.organisation import Scale

    return {"msgraph": {"history_days": (datetime.now(UTC) - Scale().start).days + 1}}


_DERIVED = {"SVW_WAREHOUSE_URL", "SVW_GX_CONNECTION_STRING", "PYTHONPATH"}


def _parts(url: str) -> dict[str, str]:
    split = urlsplit(url)
    if split.scheme not in {"postgresql", "postgres"} or not split.hostname:
        raise settings.ConfigError(
            "SVW_WAREHOUSE_URL must look like postgresql://user:password@host:5432/database"
        )
    return {
        "host": split.hostname,
        "port": str(split.port or 5432),
        "user": unquote(split.username or ""),
        "password": unquote(split.password or ""),
        "database": split.path.lstrip("/") or "postgres",
    }


def _url(parts: dict[str, str], database: str, driver: str = "postgresql") -> str:
    """A URL to `database` on the same server, with the login in `parts` (user, password)."""
    auth = quote(parts["user"], safe="") + (
        ":" + quote(parts["password"], safe="") if parts["password"] else "")
    return f"{driver}://{auth}@{parts['host']}:{parts['port']}/{database}"


def ensure_embedded_server() -> dict[str, str]:
    """Start the embedded server (idempotent) and return the demo's generated secrets."""
    from social_value import embedded_postgres

    secrets = settings.ensure_demo_secrets()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR on import
        embedded_postgres.start(secrets["SVW_OWNER_PASSWORD"])
    admin = embedded_postgres.url(secrets["SVW_OWNER_PASSWORD"], database="postgres")
    _create_databases(admin, [settings.EMBEDDED_DB, settings.AIRFLOW_DB])
    return secrets


def _create_databases(admin_url: str, names: list[str]) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        existing = {row[0] for row in conn.execute("select datname from pg_database")}
        for name in names:
            if name not in existing:
                conn.execute(f'create database "{name}"')


def build_env(start_embedded: bool = True) -> dict[str, str]:
    """Variables to add to os.environ for Airflow, dbt, GX and the connectors."""
    env: dict[str, str] = {}
    url = settings.warehouse_url()
    embedded = url is None
    if embedded:
        secrets = ensure_embedded_server() if start_embedded else settings.ensure_demo_secrets()
        from social_value import embedded_postgres

        url = embedded_postgres.url(secrets["SVW_OWNER_PASSWORD"])
        # The demo's own key and passwords; a real deployment sets these itself.
        for key in ("SVW_PSEUDONYM_KEY", "SVW_SOURCE_TOKEN", *ROLE_PASSWORDS.values()):
            env[key] = os.environ.get(key) or secrets[key]
        env["SVW_EMBEDDED"] = "1"
        sim = f"http://127.0.0.1:{simulator_port()}"
        # Every HTTP source points at the simulator, with the same bearer token.
        extras = _simulated_extras()
        for conn_id in SIMULATED_HTTP_SOURCES:
            env[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(
                {"conn_type": "http", "host": sim, "password": env["SVW_SOURCE_TOKEN"],
                 "extra": extras.get(conn_id, {})})
        env["SVW_DROP_DIR"] = str(settings.STATE_DIR / "drops")
    p = _parts(url)  # validates the URL before anything is derived from it
    transformer = role_url(url, "transformer", env.get(ROLE_PASSWORDS["transformer"])
                           or os.environ.get(ROLE_PASSWORDS["transformer"], ""))
    env.update({
        "SVW_WAREHOUSE_URL": url,
        # SVW_PG_* and DBT_PROFILES_DIR, exactly as the build DAG gives them to dbt: the transformer.
        **dbt_env(transformer),
        "SVW_GX_CONNECTION_STRING": gx_connection_string(transformer),
        "DBT_PROJECT_DIR": str(settings.PROJECT_ROOT / "dbt"),
        "AIRFLOW_HOME": str(settings.STATE_DIR / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(settings.PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(settings.PROJECT_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        **cosmos_environment(),
        "AIRFLOW_CONN_SVW_WAREHOUSE": _url(p, p["database"]),
        **{f"AIRFLOW_CONN_SVW_{role.upper()}": role_url(url, role, env.get(var) or os.environ.get(var, ""))
           for role, var in ROLE_PASSWORDS.items() if role in ("loader", "transformer")},
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(settings.PROJECT_ROOT / "plugins"), os.environ.get("PYTHONPATH")])),
    })
    if not os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"):
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = _url(p, settings.AIRFLOW_DB, "postgresql+psycopg2")
    # What the user set wins, except the values derived from the warehouse URL.
    return {k: v for k, v in env.items() if k in _DERIVED or k.startswith("SVW_PG_") or k not in os.environ}


def role_url(url: str, role: str, password: str) -> str:
    """The warehouse URL logged in as one of the project's roles."""
    p = _parts(url)
    return _url({**p, "user": role, "password": password}, p["database"])


def role_url_from_env(role: str) -> str:
    """The warehouse URL as `role`, with its password from the environment (after apply_env)."""
    return role_url(os.environ["SVW_WAREHOUSE_URL"], role, os.environ[ROLE_PASSWORDS[role]])


def simulator_port() -> int:
    return int(os.environ.get("SVW_SIMULATOR_PORT", SIMULATOR_PORT_DEFAULT))


def apply_env(start_embedded: bool = True) -> dict[str, str]:
    env = build_env(start_embedded)
    os.environ.update(env)
    return env
