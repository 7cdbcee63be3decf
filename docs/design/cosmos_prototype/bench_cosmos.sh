#!/bin/bash
# Times a bare `dbt build` against `airflow dags test <dag>` for each DAG given, on the same data.
# usage (from /tmp/cosmos-proto): ./bench_cosmos.sh cosmos_watcher [cosmos_local_build ...]
set -u
cd "$(dirname "$0")"
export SVW_PG_PORT=54345 SVW_SIMULATOR_PORT=18785
export DO_NOT_TRACK=1 AIRFLOW__COSMOS__ENABLE_TELEMETRY=False DBT_SEND_ANONYMOUS_USAGE_STATS=false
# Default True re-writes the whole XCom backup Variable on every XCom push (quadratic); False flushes it on failure only.
export AIRFLOW__COSMOS__ENABLE_WATCHER_RELIABLE_RETRY=${AIRFLOW__COSMOS__ENABLE_WATCHER_RELIABLE_RETRY:-False}
export SVW_MARTS_SCHEMA=marts_candidate
SVW="env PYTHONPATH=plugins .venv/bin/python -m social_value"
mkdir -p bench
# Same --profile/--target as cosmos passes, so both share one partial_parse.msgpack state.
DBT_FLAGS="--profile social_value --target default"

now() { date +%s.%N; }
/tmp/dbt.sh parse $DBT_FLAGS --quiet || exit 1   # the manifest cosmos renders from

if [ -n "${BARE_SECS:-}" ]; then bare=$BARE_SECS; echo "bare dbt build: ${bare}s (earlier measurement)"; else
t0=$(now); /tmp/dbt.sh build $DBT_FLAGS > bench/bare.log 2>&1; rc=$?; t1=$(now)
bare=$(echo "$t1 - $t0" | bc)
echo "bare dbt build: ${bare}s (exit $rc) $(grep -E '^.*Done\. PASS' bench/bare.log | sed 's/.*Done/Done/')"
fi

for dag in "$@"; do
  t0=$(now); $SVW run .venv/bin/airflow dags test "$dag" > "bench/$dag.log" 2>&1; rc=$?; t1=$(now)
  secs=$(echo "$t1 - $t0" | bc)
  ratio=$(echo "scale=2; $secs / $bare" | bc)
  echo "airflow dags test $dag: ${secs}s (exit $rc) ratio ${ratio}x; tasks: $(grep -c '\[DAG TEST\] end task' "bench/$dag.log"); $(grep -o 'DagRun Finished: .*state=[a-z]*' "bench/$dag.log" | grep -o 'state=[a-z]*$')"
  # The dbt task group alone: first dbt.* task start to last dbt.* task end (no CLI start-up, no prepare).
  group=$(grep -E '\[DAG TEST\] (starting|end task) task_id=dbt\.' "bench/$dag.log" | awk '{print $1}' | sed -n '1p;$p' \
    | python3 -c 'import sys,datetime as d; a,b=[d.datetime.fromisoformat(l.strip().rstrip("Z")) for l in sys.stdin]; print(round((b-a).total_seconds(),1))')
  echo "  task group dbt.*: ${group}s ratio $(echo "scale=2; $group / $bare" | bc)x"
done
