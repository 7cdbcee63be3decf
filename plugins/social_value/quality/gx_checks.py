"""The GX file context in expectations/: open it, run checkpoints, summarise results."""

from __future__ import annotations

import os
import re
from pathlib import Path

from social_value.settings import PROJECT_ROOT

GX_ROOT = PROJECT_ROOT / "expectations"


def gx_connection_string(warehouse_url: str) -> str:
    """great_expectations.yml reads ${SVW_GX_CONNECTION_STRING}; SQLAlchemy wants a driver."""
    return re.sub(r"^postgres(ql)?://", "postgresql+psycopg2://", warehouse_url)


def get_context(warehouse_url: str | None = None):
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    if warehouse_url:
        os.environ["SVW_GX_CONNECTION_STRING"] = gx_connection_string(warehouse_url)
    import great_expectations as gx

    return gx.get_context(mode="file", project_root_dir=str(GX_ROOT))


def run_checkpoint(name: str, warehouse_url: str) -> dict:
    """Run a checkpoint in a process of its own that sees only the confined environment
    (dbt_runner.confined_env) and the transformer's connection string: GX substitutes ${VAR} in
    its configuration from the environment, so it never gets the owner's login or the key."""
    import json
    import subprocess
    import sys
    import tempfile

    from social_value.dbt_runner import confined_env

    env = {**confined_env(), "SVW_GX_CONNECTION_STRING": gx_connection_string(warehouse_url),
           "GX_ANALYTICS_ENABLED": "false", "PYTHONPATH": str(PROJECT_ROOT / "plugins")}
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "summary.json"
        done = subprocess.run([sys.executable, "-m", "social_value.quality.gx_checks", name, str(out)],
                              env=env, cwd=PROJECT_ROOT, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"GX checkpoint {name} could not run: {done.stderr[-2000:]}")
        return json.loads(out.read_text())


def _run_here(name: str) -> dict:
    context = get_context()
    result = context.checkpoints.get(name).run()
    results, failed = [], []
    for validation in result.run_results.values():
        for outcome in validation.results:
            config = outcome.expectation_config
            described = getattr(config, "description", None)
            expectation = f"{config.type}({config.kwargs.get('column', '')})" + (
                f": {described}" if described else "")
            results.append({"suite": validation.suite_name, "expectation": expectation,
                            "column": config.kwargs.get("column"), "success": bool(outcome.success),
                            "unexpected_count": (outcome.result or {}).get("unexpected_count")})
            if not outcome.success:
                failed.append(f"{validation.suite_name}: {expectation}")
    return {"checkpoint": name, "success": bool(result.success), "evaluated": len(results),
            "passed": len(results) - len(failed), "failed": failed, "results": results,
            "data_docs": str(GX_ROOT / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html")}


def check_configuration() -> list[str]:
    """Load every checkpoint and its validation definitions without touching the database."""
    context = get_context()
    names = []
    for checkpoint in context.checkpoints.all():
        for definition in checkpoint.validation_definitions:
            assert definition.suite.expectations, f"suite {definition.suite.name} is empty"
        names.append(checkpoint.name)
    if not names:
        raise RuntimeError(f"no GX checkpoints found under {GX_ROOT}")
    return names


if __name__ == "__main__":  # run_checkpoint's child process: checkpoint name, summary file
    import json
    import sys

    Path(sys.argv[2]).write_text(json.dumps(_run_here(sys.argv[1])))
