"""The hook for the cosmos measurement: if `social_value.bench.cosmos_overhead` exists, run it as
`python -m social_value.bench.cosmos_overhead` in the scale's environment and take the JSON object
it prints on its last stdout line; without the module, say it was skipped."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

MODULE = "social_value.bench.cosmos_overhead"


def measure(env: dict[str, str], progress=print) -> dict:
    if importlib.util.find_spec(MODULE) is None:
        return {"skipped": f"{MODULE} is not there"}
    progress(f"  running {MODULE}")
    result = subprocess.run([sys.executable, "-m", MODULE], env=env, capture_output=True, text=True)
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines:
        return {"error": f"exit {result.returncode}: {(result.stderr or result.stdout)[-2000:]}"}
    try:
        found = json.loads(lines[-1])
    except ValueError:
        return {"error": f"the last line is not JSON: {lines[-1][:200]}"}
    return found if isinstance(found, dict) else {"error": "the last line is not a JSON object"}
