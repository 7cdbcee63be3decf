"""A timed `dbt build` as the build DAG runs it: as the transformer role, marts into the candidate
schema, dbt's own profile from the environment. A failed test is recorded, not raised: the benchmark
reports what it measured either way."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from social_value.dbt_runner import DBT_DIR, dbt_env, summarise
from social_value.publish import CANDIDATE_ENV


def build(transformer_url: str, target_path: Path, full_refresh: bool, log_path: Path,
          select: str | None = None) -> dict:
    """Run `dbt build [--full-refresh]`; seconds of the whole command, its status and node counts.
    `target_path` is kept between the builds of one scale (partial parsing, as in production)."""
    executable = Path(sys.executable).with_name("dbt")
    command = [str(executable), "build", *(["--full-refresh"] if full_refresh else []),
               *(["--select", select] if select else []),
               "--project-dir", str(DBT_DIR), "--target-path", str(target_path)]
    env = {**os.environ, **dbt_env(transformer_url), **CANDIDATE_ENV,
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DBT_LOG_PATH": str(log_path.parent)}
    started = time.perf_counter()
    with log_path.open("w") as log:
        code = subprocess.run(command, env=env, cwd=DBT_DIR, stdout=log, stderr=subprocess.STDOUT).returncode
    seconds = time.perf_counter() - started
    summary = summarise(target_path / "run_results.json")
    return {"seconds": seconds, "exit_code": code, "status": "success" if code == 0 else "failed",
            "nodes": summary.get("nodes", 0), "failed": summary.get("failed", []),
            "slowest": _slowest(target_path / "run_results.json")}


def _slowest(run_results: Path, n: int = 5) -> list[dict]:
    """The nodes that took longest, to say where a build spends its time."""
    if not run_results.exists():
        return []
    results = json.loads(run_results.read_text())["results"]
    results.sort(key=lambda r: r.get("execution_time") or 0, reverse=True)
    return [{"node": r["unique_id"], "seconds": round(r.get("execution_time") or 0, 2)} for r in results[:n]]
