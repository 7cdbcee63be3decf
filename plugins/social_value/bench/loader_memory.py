"""Does the loader's memory stay flat as data grows? Peak RSS of one ingest of every source
(intranet, CRM, surveys) at 1× and at N× the simulator's scale, measured in one run, as a ratio;
then the peak on hostile drops (bench/hostile_drops.py: a Slack day file of --hostile-mb MiB, a
record and an NDJSON line of --record-mb MiB, a zip bomb), which must stay near the 1× peak.

    python -m social_value.bench.loader_memory [--employees 60] [--months 6] [--factor 10]
                                               [--hostile-mb 200] [--record-mb 50]

Each scale runs in a fresh child process (so peaks don't carry over) against its own simulator
process and its own scratch schemas, which are dropped afterwards. Prints a table and the ratio;
it asserts nothing (a benchmark reports, it does not gate).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

import psycopg

from social_value import runtime
from social_value.bench.peak_rss import peak_rss_mib
from social_value.simulator.organisation import Scale


def _child(args: argparse.Namespace) -> None:
    from social_value.ingest import intranet

    scale = Scale(args.employees, args.months)
    until = scale.end + timedelta(seconds=1)
    source = intranet.SourceConnection(args.base_url, os.environ["SVW_SOURCE_TOKEN"])
    url = os.environ["SVW_WAREHOUSE_URL"]
    started = time.perf_counter()
    per_source = {}
    summary = intranet.ingest_viva_engage(url, source, until, schema=f"{args.prefix}_ve",
                                          pseudonym_key=os.environ["SVW_PSEUDONYM_KEY"])
    per_source["viva_engage"] = summary
    per_source["msgraph"] = intranet.ingest_msgraph(url, source, until, schema=f"{args.prefix}_graph",
                                                    history_days=args.months * 31)
    per_source["slack"] = intranet.ingest_slack_drop(url, Path(args.drops), schema=f"{args.prefix}_slack")
    per_source["events"] = intranet.ingest_activity_events_drop(url, Path(args.drops),
                                                                schema=f"{args.prefix}_events")
    from social_value.connectors.salesforce import SalesforceSource
    from social_value.ingest import crm, survey

    per_source["salesforce"] = crm.ingest_salesforce(url, SalesforceSource(args.base_url, source.token),
                                                     until, schema=f"{args.prefix}_crm")
    per_source["surveymonkey"] = survey.ingest_surveymonkey(
        url, survey.SurveyMonkeySource(args.base_url, source.token), until, schema=f"{args.prefix}_sm")
    per_source["qualtrics"] = survey.ingest_qualtrics_drop(url, args.drops, schema=f"{args.prefix}_qx")
    counts = {name: sum(t["read"] for t in s["tables"].values()) for name, s in per_source.items()}
    rows = sum(counts.values())
    seconds = time.perf_counter() - started
    print(json.dumps({"rows": rows, "seconds": seconds, "peak_rss_mib": peak_rss_mib(), "sources": counts}))


def _hostile_child(args: argparse.Namespace) -> None:
    from social_value.ingest import intranet

    url = os.environ["SVW_WAREHOUSE_URL"]
    started = time.perf_counter()
    slack = intranet.ingest_slack_drop(url, Path(args.drops), schema=f"{args.prefix}_slack")
    events = intranet.ingest_activity_events_drop(url, Path(args.drops), schema=f"{args.prefix}_events")
    print(json.dumps({"seconds": time.perf_counter() - started, "peak_rss_mib": peak_rss_mib(),
                      "rejected": {**slack["rejected"], **events["rejected"]},
                      "tables": {**slack["tables"], **events["tables"]}}))


def _measure_hostile(megabytes: int, record_mb: int) -> dict:
    from social_value.bench import hostile_drops

    prefix = f"bench_{uuid.uuid4().hex[:8]}"
    try:
        with tempfile.TemporaryDirectory() as drops:
            sizes = hostile_drops.write(Path(drops), megabytes, record_mb)
            child = subprocess.run(
                [sys.executable, "-m", "social_value.bench.loader_memory", "--hostile-child", "--prefix",
                 prefix, "--drops", drops], check=True, capture_output=True, text=True)
        return {"sizes": sizes, **json.loads(child.stdout.strip().splitlines()[-1])}
    finally:
        with psycopg.connect(os.environ["SVW_WAREHOUSE_URL"], autocommit=True) as conn:
            for suffix in ("slack", "events"):
                conn.execute(f"drop schema if exists {prefix}_{suffix} cascade")


def _measure(employees: int, months: int) -> dict:
    prefix = f"bench_{uuid.uuid4().hex[:8]}"
    port = 18900 + os.getpid() % 50
    env = {**os.environ, "SVW_SIMULATOR_PORT": str(port)}
    simulator = subprocess.Popen([sys.executable, "-m", "social_value.simulator.server", "--port", str(port),
                                  "--employees", str(employees), "--months", str(months)],
                                 env=env, stdout=subprocess.DEVNULL)
    try:
        with tempfile.TemporaryDirectory() as drops:
            subprocess.run([sys.executable, "-m", "social_value.simulator.drops", "--out", drops,
                            "--employees", str(employees), "--months", str(months)],
                           check=True, env=env, stdout=subprocess.DEVNULL)
            time.sleep(1.0)  # let the simulator bind its port
            child = subprocess.run(
                [sys.executable, "-m", "social_value.bench.loader_memory", "--child", "--employees",
                 str(employees), "--months", str(months), "--prefix", prefix, "--drops", drops,
                 "--base-url", f"http://127.0.0.1:{port}"],
                check=True, env=env, capture_output=True, text=True)
        return {"employees": employees, **json.loads(child.stdout.strip().splitlines()[-1])}
    finally:
        simulator.terminate()
        simulator.wait()
        with psycopg.connect(os.environ["SVW_WAREHOUSE_URL"], autocommit=True) as conn:
            for suffix in ("ve", "graph", "slack", "events", "crm", "sm", "qx"):
                conn.execute(f"drop schema if exists {prefix}_{suffix} cascade")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--employees", type=int, default=60)
    parser.add_argument("--months", type=int, default=6)
    parser.add_argument("--factor", type=int, default=10)
    parser.add_argument("--hostile-mb", type=int, default=200, help="size of the hostile Slack day file")
    parser.add_argument("--record-mb", type=int, default=50, help="size of the hostile record and line")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--hostile-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--prefix", help=argparse.SUPPRESS)
    parser.add_argument("--drops", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args)
        return
    if args.hostile_child:
        _hostile_child(args)
        return
    runtime.apply_env()
    small = _measure(args.employees, args.months)
    large = _measure(args.employees * args.factor, args.months)
    print(f"{'scale':>8} {'employees':>10} {'rows':>10} {'seconds':>8} {'rows/s':>9} {'peak RSS MiB':>13}")
    for label, result in (("1x", small), (f"{args.factor}x", large)):
        print(f"{label:>8} {result['employees']:>10} {result['rows']:>10,} {result['seconds']:>8.1f} "
              f"{result['rows'] / result['seconds']:>9,.0f} {result['peak_rss_mib']:>13.1f}")
    for label, result in (("1x", small), (f"{args.factor}x", large)):
        print(f"rows read at {label}: " + ", ".join(f"{k} {v:,}" for k, v in result["sources"].items()))
    ratio = large["peak_rss_mib"] / small["peak_rss_mib"]
    print(f"peak RSS ratio {args.factor}x / 1x: {ratio:.2f} (goal: at most 1.20); "
          f"rows ratio: {large['rows'] / small['rows']:.1f}")
    hostile = _measure_hostile(args.hostile_mb, args.record_mb)
    print("hostile drops: " + ", ".join(f"{name} {size / (1 << 20):,.0f} MiB"
                                        for name, size in hostile["sizes"].items()))
    print(f"  peak RSS {hostile['peak_rss_mib']:.1f} MiB in {hostile['seconds']:.1f} s "
          f"({hostile['peak_rss_mib'] / small['peak_rss_mib']:.2f} of the 1x peak); "
          + "; ".join(f"{table} {counts}" for table, counts in hostile["tables"].items()))
    for name, rejection in hostile["rejected"].items():
        print(f"  rejected {name}: {rejection['member']}: {rejection['reason']}")


if __name__ == "__main__":
    main()
