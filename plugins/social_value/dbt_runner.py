"""Run dbt as a subprocess against a warehouse URL, streaming its log, and summarise the results."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

from social_value.settings import PROJECT_ROOT

log = logging.getLogger(__name__)

DBT_DIR = PROJECT_ROOT / "dbt"

# What a dbt or GX process may see of its parent's environment: anyone who can change a model can
# render env_var() of any variable it gets, so it gets no owner login, pseudonym key, source token
# or Airflow connection, only these (an allowlist: a new secret stays out without anyone listing it).
CONFINED_NAMES = {"PATH", "HOME", "LANG", "TZ", "TMPDIR", "USER", "LOGNAME", "VIRTUAL_ENV", "DO_NOT_TRACK",
                  "SSL_CERT_FILE", "SSL_CERT_DIR", "SVW_PG_HOST", "SVW_PG_PORT", "SVW_PG_DATABASE",
                  "SVW_MARTS_SCHEMA", "SVW_RESTRICTED_SCHEMA", "SVW_REPORTING_START",
                  "SVW_DORMANT_AFTER_MONTHS", "DBT_PROFILES_DIR", "DBT_SEND_ANONYMOUS_USAGE_STATS"}
CONFINED_PREFIXES = ("LC_", "PGSSL")


class DbtFailedError(RuntimeError):
    """dbt ran and a model or test failed (exit 1): retrying the same data cannot fix it."""


class DbtRuntimeError(RuntimeError):
    """dbt could not run (exit 2: connection, configuration); may be transient."""


def dbt_env(warehouse_url: str) -> dict[str, str]:
    """The variables dbt/profiles.yml reads, derived from one URL."""
    url = urlsplit(warehouse_url)
    return {
        "SVW_PG_HOST": url.hostname or "127.0.0.1",
        "SVW_PG_PORT": str(url.port or 5432),
        "SVW_PG_USER": unquote(url.username or ""),
        "SVW_PG_PASSWORD": unquote(url.password or ""),
        "SVW_PG_DATABASE": url.path.lstrip("/"),
        "DBT_PROFILES_DIR": str(DBT_DIR),
    }


def confined_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The part of `environ` (os.environ) a dbt or GX process inherits: CONFINED_NAMES only."""
    environ = os.environ if environ is None else environ
    return {key: value for key, value in environ.items()
            if key in CONFINED_NAMES or key.startswith(CONFINED_PREFIXES)}


def run_dbt(args: list[str], warehouse_url: str, env: dict[str, str] | None = None) -> dict:
    """Run `dbt <args>` in the project (`env`: extra variables, e.g. SVW_MARTS_SCHEMA); raise
    DbtFailedError naming every failed node."""
    executable = Path(sys.executable).with_name("dbt")
    env = {**confined_env(), **dbt_env(warehouse_url), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
           **(env or {})}
    # The profile and target cosmos passes too: dbt keeps its partial-parse cache only while these
    # flags (and the vars) stay the same, and a full parse costs seconds on every run.
    command = [str(executable), *args, "--project-dir", str(DBT_DIR), "--profile", "social_value",
               "--target", "default"]
    log.info("running %s", " ".join(command[:2] + args[1:]))
    with subprocess.Popen(command, env=env, cwd=DBT_DIR, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True) as proc:
        for line in proc.stdout:
            log.info("dbt: %s", line.rstrip())
    summary = summarise(DBT_DIR / "target" / "run_results.json")
    if proc.returncode != 0:
        failed = ", ".join(summary["failed"]) or "see the dbt log above"
        error = DbtFailedError if proc.returncode == 1 else DbtRuntimeError
        raise error(f"dbt {args[0]} failed (exit {proc.returncode}): {failed}")
    return summary


def summarise(run_results: Path) -> dict:
    if not run_results.exists():
        return {"passed": 0, "failed": [], "tests": 0}
    document = json.loads(run_results.read_text())
    results = document["results"]
    failed = [r["unique_id"] for r in results if r["status"] in ("error", "fail")]
    tests = [r for r in results if r["unique_id"].startswith(("test.", "unit_test."))]
    return {
        "invocation_id": document["metadata"]["invocation_id"],
        "nodes": len(results),
        "tests": len(tests),
        "tests_passed": sum(r["status"] == "pass" for r in tests),
        "failed": failed,
    }
