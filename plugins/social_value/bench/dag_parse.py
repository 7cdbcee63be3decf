"""Parse time of each DAG file as the dag-processor pays it: in a fresh process with Airflow
imported, the seconds a DagBag takes to import that one file (the project's modules are not yet
loaded, so their import cost counts). Median of three fresh processes per file."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

from social_value.settings import PROJECT_ROOT

DAGS = PROJECT_ROOT / "dags"
_PROBE = """
import json, sys, time
from airflow.dag_processing.dagbag import DagBag
started = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1])
print(json.dumps({"seconds": time.perf_counter() - started, "errors": len(bag.import_errors),
                  "dags": len(bag.dags)}))
"""


def parse_once(path: Path) -> dict:
    result = subprocess.run([sys.executable, "-c", _PROBE, str(path)], capture_output=True, text=True,
                            check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def measure(runs: int = 3, progress=print) -> dict[str, dict]:
    results = {}
    for path in sorted(DAGS.glob("*.py")):
        probes = [parse_once(path) for _ in range(runs)]
        seconds = [probe["seconds"] for probe in probes]
        results[path.name] = {"median_s": statistics.median(seconds), "min_s": min(seconds),
                              "runs_s": seconds, "import_errors": probes[-1]["errors"],
                              "dags": probes[-1]["dags"]}
        progress(f"  parse {path.name}: median {results[path.name]['median_s']:.3f}s "
                 f"of {runs} fresh processes")
    return results
