"""One load of every source through the real connectors, as the ingest DAGs run them: HTTP to the
simulator for Viva Engage, Graph, Salesforce and SurveyMonkey, the drop folder for Slack, activity
events and Qualtrics. Runs in a child process of its own so its peak RSS is the loader's alone.

    python -m social_value.bench.load --base-url URL --drops DIR --until ISO --history-days N
        [--sources viva_engage,msgraph,...]

The warehouse login comes from SVW_BENCH_LOADER_URL (the loader role), the bearer token from
SVW_SOURCE_TOKEN. Prints one JSON line: seconds and counts per source (from the request that starts
it to its committed transaction) with the loader's own CPU seconds in them, total seconds and the
peak RSS in MiB.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import datetime
from pathlib import Path

from social_value.bench.peak_rss import peak_rss_mib

# Landing schema per source, in load order (the order of the ingest DAGs' tasks).
SCHEMAS = {
    "viva_engage": "raw_viva_engage",
    "msgraph": "raw_msgraph",
    "slack": "raw_slack",
    "activity_events": "raw_activity_events",
    "salesforce": "raw_salesforce",
    "surveymonkey": "raw_surveymonkey",
    "qualtrics": "raw_qualtrics",
}
# The sources read over HTTP from the simulator (the rest read the drop folder).
HTTP_SOURCES = ("viva_engage", "msgraph", "salesforce", "surveymonkey")


def _loaders(args: argparse.Namespace):
    from social_value.connectors.salesforce import SalesforceSource
    from social_value.ingest import crm, intranet, survey

    url, token = os.environ["SVW_BENCH_LOADER_URL"], os.environ["SVW_SOURCE_TOKEN"]
    key = os.environ.get("SVW_PSEUDONYM_KEY")
    source = intranet.SourceConnection(args.base_url, token)
    drops = Path(args.drops)
    return {
        "viva_engage": lambda: intranet.ingest_viva_engage(url, source, args.until, pseudonym_key=key),
        "msgraph": lambda: intranet.ingest_msgraph(url, source, args.until, history_days=args.history_days,
                                                   pseudonym_key=key),
        "slack": lambda: intranet.ingest_slack_drop(url, drops, pseudonym_key=key),
        "activity_events": lambda: intranet.ingest_activity_events_drop(url, drops, pseudonym_key=key),
        "salesforce": lambda: crm.ingest_salesforce(url, SalesforceSource(args.base_url, token), args.until,
                                                    pseudonym_key=key),
        "surveymonkey": lambda: survey.ingest_surveymonkey(
            url, survey.SurveyMonkeySource(args.base_url, token), args.until),
        "qualtrics": lambda: survey.ingest_qualtrics_drop(url, drops),
    }


def _counts(summary: dict) -> dict[str, int]:
    tables = summary.get("tables", {}).values()
    return {key: sum(table.get(key, 0) for table in tables) for key in ("read", "changed", "quarantined")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--drops", required=True)
    parser.add_argument("--until", required=True, type=datetime.fromisoformat)
    parser.add_argument("--history-days", type=int, default=28)
    parser.add_argument("--sources", help="comma-separated subset to load, in the usual order "
                        "(default: every source)")
    args = parser.parse_args()
    loaders = _loaders(args)  # imports the connectors before the clock starts
    if args.sources:
        chosen = set(args.sources.split(","))
        if chosen - set(loaders):
            parser.error(f"unknown source(s): {', '.join(sorted(chosen - set(loaders)))}")
        loaders = {name: load for name, load in loaders.items() if name in chosen}
    results, started = {}, time.perf_counter()
    for name, load in loaders.items():
        begun, cpu = time.perf_counter(), time.process_time()
        summary = load()
        # cpu_s: the loader's own CPU time (all its threads); the rest of `seconds` it waited on
        # the source (HTTP) or on Postgres.
        results[name] = {"seconds": time.perf_counter() - begun, "cpu_s": time.process_time() - cpu,
                         # the peak so far: where it rises names the source that raised it
                         "peak_rss_mib_after": peak_rss_mib(),
                         **_counts(summary)}
    print(json.dumps({
        "seconds": time.perf_counter() - started,
        "peak_rss_mib": peak_rss_mib(),
        "sources": results,
    }))


if __name__ == "__main__":
    main()
