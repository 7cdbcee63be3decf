"""What does rendering the dbt build with Airflow and cosmos cost? A bare `dbt build` against the
build_warehouse DAG's dbt task group, on the same warehouse, measured alternately in one run.

    python -m social_value.bench.cosmos_overhead [--rounds 1] [--database bench_s]

Run inside the project's environment (`python -m social_value run ...`, or the bench driver) on a
warehouse that is loaded and built once already: the configured one, or with --database a database
`make bench ... --keep` left (what `make bench-cosmos DB=bench_s` runs). Each round times:

- bare: `dbt build` as the transformer with the marts in the candidate schema, exactly what the
  producer task runs (same threads, same selection), from process start to exit;
- cosmos: `airflow dags test build_warehouse`; the dbt task group's span is read from Airflow's
  task_instance table: first dbt.* task start to last dbt.* task end, minus any other task that
  `dags test` ran in between (it runs one task at a time). The whole run's wall time is reported
  beside it: it also pays `airflow dags test`'s own start-up (about 30 s here) and the GX and
  publish tasks, which a bare build does not do.

The last line printed is one JSON object; nothing is asserted (a benchmark reports, it does not gate).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import time
from pathlib import Path

from social_value import runtime
from social_value.cosmos_build import GROUP_ID

DAG_ID = "build_warehouse"


def bare_build(log_path: Path) -> float:
    from social_value.dbt_runner import run_dbt
    from social_value.publish import CANDIDATE_ENV

    handler = logging.FileHandler(log_path, mode="w")
    logging.getLogger("social_value.dbt_runner").addHandler(handler)
    logging.getLogger("social_value.dbt_runner").setLevel(logging.INFO)
    try:
        started = time.perf_counter()
        run_dbt(["build"], runtime.role_url_from_env("transformer"), env=CANDIDATE_ENV)
        return time.perf_counter() - started
    finally:
        logging.getLogger("social_value.dbt_runner").removeHandler(handler)
        handler.close()


def cosmos_build(log_path: Path) -> dict:
    from social_value.cli import _airflow_db, _logged, latest_run

    started = time.perf_counter()
    _logged([str(Path(sys.executable).with_name("airflow")), "dags", "test", DAG_ID], log_path)
    wall = time.perf_counter() - started
    run_id, state = latest_run(DAG_ID)
    if state != "success":
        raise SystemExit(f"{DAG_ID} run {run_id} ended {state}; log: {log_path}")
    with _airflow_db() as conn:
        tasks = conn.execute("select task_id, start_date, end_date from task_instance "
                             "where dag_id = %s and run_id = %s and start_date is not null",
                             (DAG_ID, run_id)).fetchall()
    group = [(start, end) for task_id, start, end in tasks if task_id.startswith(f"{GROUP_ID}.")]
    first, last = min(start for start, _ in group), max(end for _, end in group)
    interleaved = sum((end - start).total_seconds() for task_id, start, end in tasks
                      if not task_id.startswith(f"{GROUP_ID}.") and start >= first and end <= last)
    return {"run_id": run_id, "dag_run_s": wall, "group_span_s": (last - first).total_seconds() - interleaved,
            "group_tasks": len(group)}


def _prepare() -> None:
    """The Airflow metadata schema and the manifest the DAG renders from (both idempotent)."""
    from social_value.cli import LOG_DIR, _logged, parse_manifest

    LOG_DIR.mkdir(parents=True, exist_ok=True)
    _logged([str(Path(sys.executable).with_name("airflow")), "db", "migrate"],
            LOG_DIR / "bench-airflow-db-migrate.log")
    parse_manifest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1, help="bare/cosmos pairs to time (median reported)")
    parser.add_argument("--database", help="a database kept by `make bench ... --keep` (bench_s, bench_l)")
    args = parser.parse_args()
    runtime.apply_env()
    if args.database:
        from social_value.bench import database

        os.environ.update(database.environment(database.kept(args.database)))
    from social_value.cli import LOG_DIR

    _prepare()
    rounds = []
    for n in range(1, args.rounds + 1):
        print(f"round {n}: bare dbt build ...", file=sys.stderr, flush=True)
        bare = bare_build(LOG_DIR / f"bench-bare-{n}.log")
        print(f"round {n}: bare {bare:.1f} s; airflow dags test {DAG_ID} ...", file=sys.stderr, flush=True)
        cosmos = cosmos_build(LOG_DIR / f"bench-cosmos-{n}.log")
        rounds.append({"bare_dbt_build_s": bare, **cosmos, "group_ratio": cosmos["group_span_s"] / bare,
                       "dag_run_ratio": cosmos["dag_run_s"] / bare})
        print(f"round {n}: dbt task group {cosmos['group_span_s']:.1f} s = "
              f"{rounds[-1]['group_ratio']:.2f}× bare; whole dags test {cosmos['dag_run_s']:.1f} s",
              file=sys.stderr, flush=True)
    print(json.dumps({"cosmos": {
        "bare_dbt_build_s": statistics.median(r["bare_dbt_build_s"] for r in rounds),
        "group_span_s": statistics.median(r["group_span_s"] for r in rounds),
        "dag_run_s": statistics.median(r["dag_run_s"] for r in rounds),
        "group_ratio": statistics.median(r["group_ratio"] for r in rounds),
        "dag_run_ratio": statistics.median(r["dag_run_ratio"] for r in rounds),
        "rounds": rounds,
    }}, default=str))


if __name__ == "__main__":
    main()
