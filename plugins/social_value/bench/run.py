"""The benchmark: load throughput against the database's own floor, full against incremental build
time, the loader's peak RSS and DAG parse time, measured side by side in one run per scale.

    python -m social_value.bench.run [--scales S,M,L] [--out reports/bench.json] [--keep] [--cold-source]

For each scale (S the demo, M 2,000 × 12, L 20,000 × 12; or EMPLOYEESxMONTHS) in a database of its
own (bench_<scale>, dropped afterwards unless --keep) on the same Postgres, with the simulator at
that scale on its own port and its file drops in a temporary folder:

0. warm-up (untimed; not with --cold-source): the HTTP sources' loads of steps 1 and 4 once, so
   the simulator keeps every answer they ask for in its response cache; then the database is
   created afresh. The timed loads read a source that answers at once, not the simulator (a
   Python test double on the same cores) generating its data;
1. load: every source through the real connectors (real HTTP, the drop folder) as the loader role,
   with `until` the simulated end minus one day, in a child process (its peak RSS is the loader's);
2. floor: per landing table, the loaded rows dumped to a local file, then a bare COPY into an empty
   unlogged table and one set-based merge into an empty copy of the table (bench/floor.py);
3. full build: `dbt build --full-refresh` as the transformer, marts into the candidate schema;
4. one more day: the last day's drops and a second load up to the simulated end, then a timed
   incremental `dbt build`;
5. cosmos: `python -m social_value.bench.cosmos_overhead` if that module exists (bench/cosmos_hook.py).

Then each DAG file's parse time (fresh processes). Prints progress, a table, writes the JSON.
It asserts nothing: a benchmark reports, it does not gate.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from social_value import runtime
from social_value.bench import cosmos_hook, dag_parse, database, dbt_build, floor, report, scales, sources
from social_value.bench.load import HTTP_SOURCES, SCHEMAS
from social_value.settings import PROJECT_ROOT
from social_value.simulator import response_cache

# Tables whose rows are activity (the ≥ 10 million at L): Graph's daily rows, events, messages.
ACTIVITY_TABLES = ("raw_msgraph.", "raw_activity_events.events", "raw_viva_engage.messages",
                   "raw_slack.messages")


class Progress:
    def __init__(self) -> None:
        self.started = time.perf_counter()

    def __call__(self, message: str) -> None:
        print(f"[{time.perf_counter() - self.started:7.1f}s] {message}", flush=True)


def _load(db: database.BenchDatabase, base_url: str, drops: Path, scale: scales.BenchScale,
          until: datetime, only: tuple[str, ...] = ()) -> dict:
    env = {**database.environment(db), "SVW_BENCH_LOADER_URL": db.loader_url}
    # The simulator builds a whole Viva Engage export before its first byte (at L, minutes on two
    # shared cores), as a large network's real export does: wait for it rather than retry it.
    env.setdefault("SVW_HTTP_TIMEOUT", "1200")
    command = [sys.executable, "-m", "social_value.bench.load", "--base-url", base_url, "--drops", str(drops),
               "--until", until.isoformat(), "--history-days", str(scale.history_days(until))]
    if only:
        command += ["--sources", ",".join(only)]
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"the load failed:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _rate(rows: int, seconds: float) -> float | None:
    return rows / seconds if seconds > 0 else None


def _source_of(table: str) -> str:
    schema = table.split(".")[0]
    return next(name for name, owned in SCHEMAS.items() if owned == schema)


def _warm_up(db: database.BenchDatabase, base_url: str, drops: Path, scale: scales.BenchScale,
             second_load: bool, cache: Path, progress: Progress) -> tuple[database.BenchDatabase, dict]:
    """Make every request the timed loads will make, untimed, so the simulator has each answer in
    its cache: the HTTP sources' first load (until the end minus a day) and, when the one-more-day
    load follows, their second (until the end) on top of it, as the timed loads will ask. Then the
    scale's database is created afresh, so the timed load starts from exactly the state it would
    without a warm-up. Returns the new database and what to record."""
    progress(f"  warming the source cache: {', '.join(HTTP_SOURCES)} loaded once, untimed"
             + (", both loads" if second_load else ""))
    started = time.perf_counter()
    _load(db, base_url, drops, scale, scale.first_until, HTTP_SOURCES)
    if second_load:
        _load(db, base_url, drops, scale, scale.final_until, HTTP_SOURCES)
    seconds = time.perf_counter() - started
    db = database.create(db.name)
    entries, size = response_cache.entries(cache)
    progress(f"  source cache warm: {entries:,} answers, {size / 2**20:,.1f} MiB in {seconds:.1f}s; "
             f"database {db.name} created afresh")
    return db, {"served": "warm cache", "warmup_s": seconds, "warmup_loads": 2 if second_load else 1,
                "cache_entries": entries, "cache_bytes": size}


def bench_scale(scale: scales.BenchScale, port: int, keep: bool, logs: Path, select: str | None,
                progress: Progress, build: bool = True, warm: bool = True) -> dict:
    progress(f"scale {scale.name}: {scale.employees:,} employees × {scale.months} months")
    db = database.create(f"bench_{scale.name.lower()}")
    progress(f"  database {db.name} created and set up")
    result: dict = {"employees": scale.employees, "months": scale.months, "seed": scale.seed,
                    "database": db.name, "first_until": scale.first_until.isoformat(),
                    "final_until": scale.final_until.isoformat()}
    try:
        with (tempfile.TemporaryDirectory(prefix=f"svw-bench-{scale.name}-") as tmp,
              sources.simulator(scale, port, Path(tmp) / "source-cache" if warm else None) as base_url):
            tmp_path, drops, cache = Path(tmp), Path(tmp) / "drops", Path(tmp) / "source-cache"
            progress(f"  simulator serving on {base_url}; writing the file drops up to "
                     f"{scale.first_until.date()}")
            started = time.perf_counter()
            size = sources.write_drops(drops, scale, None, scale.first_until)
            result["drops"] = {"bytes": size, "seconds": time.perf_counter() - started}
            progress(f"  drops written: {size / 2**20:,.1f} MiB in {result['drops']['seconds']:.1f}s")
            if warm:
                db, result["source"] = _warm_up(db, base_url, drops, scale, build, cache, progress)
            else:
                result["source"] = {"served": "generated (--cold-source)"}
            progress("  loading every source (child process)")
            loaded = _load(db, base_url, drops, scale, scale.first_until)
            if warm:  # an answer missing from the cache is generated and stored: new entries are misses
                counted = response_cache.entries(cache)[0]
                result["source"]["timed_load_misses"] = counted - result["source"]["cache_entries"]
            counts = database.raw_row_counts(db.owner_url)
            for name, row in loaded["sources"].items():
                progress(f"  load {name}: {row['read']:,} rows read in {row['seconds']:.1f}s")
            progress(f"  loaded {sum(counts.values()):,} raw rows in {loaded['seconds']:.1f}s, "
                     f"peak RSS {loaded['peak_rss_mib']:.1f} MiB; measuring the floor")
            tables = floor.measure(db.owner_url, [t for t, n in counts.items() if n], tmp_path, progress)
            result["load"] = _load_section(loaded, counts, tables)
            result["floor"] = _floor_section(tables, loaded["seconds"])
            result["activity_rows"] = sum(n for t, n in counts.items() if t.startswith(ACTIVITY_TABLES))
            progress(f"  floor: COPY {result['floor']['copy_rows_per_s']:,.0f} rows/s, COPY+merge "
                     f"{result['floor']['copy_merge_rows_per_s']:,.0f} rows/s; floor/connector "
                     f"{result['floor']['ratio_floor_connector']:.2f}")

            if not build:
                progress("  builds skipped (--skip-build)")
                return result
            target = tmp_path / "dbt-target"
            progress("  full build: dbt build --full-refresh")
            full = dbt_build.build(db.transformer_url, target, True, tmp_path / "dbt-full.log", select)
            progress(f"  full build {full['status']} in {full['seconds']:.1f}s ({full['nodes']} nodes)")

            progress(f"  one more day: drops from {scale.first_until.date()}, load up to "
                     f"{scale.final_until.date()}")
            sources.write_drops(drops, scale, scale.first_until, None)
            again = _load(db, base_url, drops, scale, scale.final_until)
            if warm:
                result["source"]["one_more_day_misses"] = response_cache.entries(cache)[0] - counted
            result["one_more_day"] = {
                "seconds": again["seconds"], "peak_rss_mib": again["peak_rss_mib"],
                **{key: sum(s[key] for s in again["sources"].values()) for key in ("read", "changed")},
                "sources": again["sources"]}
            progress(f"  loaded the last day in {again['seconds']:.1f}s; incremental build: dbt build")
            incremental = dbt_build.build(db.transformer_url, target, False, tmp_path / "dbt-incremental.log",
                                          select)
            progress(f"  incremental build {incremental['status']} in {incremental['seconds']:.1f}s")
            result["build"] = {"full": full, "incremental": incremental,
                               "ratio_incremental_full": incremental["seconds"] / full["seconds"]}
            result["cosmos"] = cosmos_hook.measure(
                {**database.environment(db), "SVW_BENCH_SCALE": scale.name,
                 "SVW_BENCH_DBT_TARGET": str(target)}, progress)
            if keep:  # the dbt logs, beside the JSON
                for name in ("dbt-full.log", "dbt-incremental.log"):
                    shutil.copy(tmp_path / name, logs / f"bench-{scale.name}-{name}")
    finally:
        if not keep:
            database.drop(db)
            progress(f"  database {db.name} dropped")
    return result


def _load_section(loaded: dict, counts: dict[str, int], tables: dict[str, dict]) -> dict:
    per_source = {}
    for name, row in loaded["sources"].items():
        rows = sum(n for t, n in counts.items() if _source_of(t) == name)
        copy_s = sum(r["copy_s"] for t, r in tables.items() if _source_of(t) == name)
        merge_s = sum(r["copy_merge_s"] for t, r in tables.items() if _source_of(t) == name)
        per_source[name] = {**row, "rows": rows, "rows_per_s": _rate(rows, row["seconds"]),
                            "floor_copy_s": copy_s, "floor_copy_merge_s": merge_s,
                            "ratio_floor_connector": merge_s / row["seconds"] if row["seconds"] else None}
    rows = sum(counts.values())
    return {"seconds": loaded["seconds"], "rows": rows, "rows_per_s": _rate(rows, loaded["seconds"]),
            "peak_rss_mib": loaded["peak_rss_mib"], "tables": counts, "sources": per_source}


def _floor_section(tables: dict[str, dict], connector_seconds: float) -> dict:
    rows = sum(r["rows"] for r in tables.values())
    copy_s = sum(r["copy_s"] for r in tables.values())
    merge_s = sum(r["copy_merge_s"] for r in tables.values())
    return {"rows": rows, "copy_s": copy_s, "copy_merge_s": merge_s,
            "copy_rows_per_s": _rate(rows, copy_s), "copy_merge_rows_per_s": _rate(rows, merge_s),
            "ratio_floor_connector": merge_s / connector_seconds, "tables": tables}


def _machine(url: str) -> dict:
    with psycopg.connect(url) as conn:
        version = conn.execute("show server_version").fetchone()[0]
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "postgres": version,
            "platform": platform.platform()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", default="S,M,L", help="S, M, L or EMPLOYEESxMONTHS, comma-separated")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "reports" / "bench.json")
    parser.add_argument("--keep", action="store_true", help="keep the bench_<scale> databases and dbt logs")
    parser.add_argument("--port", type=int, default=None,
                        help="the simulator's port (default: a free one)")
    parser.add_argument("--select", help="dbt --select for both builds (default: the whole project)")
    parser.add_argument("--skip-build", action="store_true",
                        help="load and floor only: no dbt builds, no second day, no cosmos")
    parser.add_argument("--parse-runs", type=int, default=3,
                        help="fresh processes per DAG file for the parse time (0: skip)")
    parser.add_argument("--cold-source", action="store_true",
                        help="no warm-up: time the loads against the simulator generating every answer")
    args = parser.parse_args(argv)
    chosen = scales.parse(args.scales)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    runtime.apply_env()
    progress = Progress()
    document: dict = {"select": args.select,
                      "source": "generated (--cold-source)" if args.cold_source else "warm cache",
                      "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
                      "command": " ".join(["python -m social_value.bench.run", *(argv or sys.argv[1:])]),
                      "machine": _machine(os.environ["SVW_WAREHOUSE_URL"]), "scales": {}}
    port = args.port or sources.free_port()
    for scale in chosen:
        document["scales"][scale.name] = bench_scale(scale, port, args.keep, args.out.parent, args.select,
                                                     progress, build=not args.skip_build,
                                                     warm=not args.cold_source)
        # Written after every scale: an L run cut short still leaves S and M behind.
        args.out.write_text(json.dumps({**document, "partial": True}, indent=2) + "\n")
    if args.parse_runs:
        progress("DAG parse time")
        document["parse"] = dag_parse.measure(args.parse_runs, progress)
    document["summary"] = _summary(document)
    document["seconds"] = time.perf_counter() - progress.started
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, indent=2) + "\n")
    print()
    print(report.table(document))
    print(f"\nwritten: {args.out}")


def _summary(document: dict) -> dict:
    found = document["scales"]
    names = list(found)
    summary: dict = {}
    if len(names) > 1:
        small, large = ("S", "L") if {"S", "L"} <= set(names) else (names[0], names[-1])
        summary["peak_rss_ratio"] = {
            "of": f"{large} / {small}",
            "value": found[large]["load"]["peak_rss_mib"] / found[small]["load"]["peak_rss_mib"]}
    if "parse" in document:
        summary["slowest_dag_parse_s"] = max(row["median_s"] for row in document["parse"].values())
    return summary


if __name__ == "__main__":
    main()
