"""Time one more incremental build on a kept benchmark database, without generating a day.

`python -m social_value.bench.replay bench_l` (what `make bench-replay DB=bench_l` runs) gives each
source's newest load a new load id, in raw_meta.loads and on its raw rows, so that the next
`dbt build` redoes exactly the work of that load (the benchmark's "one more day"), then runs and
times that build as the benchmark does and prints the slowest nodes. Repeatable: every run
re-stamps the loads again. Only for databases made by `make bench ... --keep` (named bench_*):
it rewrites raw load ids, which no real warehouse should see.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import psycopg
from psycopg import sql

from social_value.bench import database, dbt_build


def restamp_newest_loads(url: str) -> dict[str, tuple[int, int, int]]:
    """Each source's newest load gets a new load id (a copy of its raw_meta.loads row) carried by
    the raw rows it wrote: source → (old id, new id, rows re-stamped)."""
    moved: dict[str, tuple[int, int, int]] = {}
    with psycopg.connect(url, autocommit=True) as conn:
        tables = conn.execute("select table_schema, table_name from information_schema.columns "
                              "where column_name = '_load_id' and table_schema like 'raw\\_%%'").fetchall()
        newest = conn.execute("select source, max(load_id) from raw_meta.loads where status = 'succeeded' "
                              "group by source order by 2").fetchall()
        for source, old in newest:
            with conn.transaction():
                new = conn.execute(
                    "insert into raw_meta.loads (source, started_at, finished_at, status, window_start, "
                    "window_end, rows_read, rows_loaded, rows_quarantined) select source, now(), now(), "
                    "status, window_start, window_end, rows_read, rows_loaded, rows_quarantined "
                    "from raw_meta.loads where load_id = %s returning load_id", (old,)).fetchone()[0]
                rows = 0
                for schema, table in tables:
                    if schema == f"raw_{source}":
                        update = sql.SQL("update {} set _load_id = %s where _load_id = %s").format(
                            sql.Identifier(schema, table))
                        rows += conn.execute(update, (new, old)).rowcount
            for schema, table in tables:  # as after a load: fresh statistics, no dead rows
                if schema == f"raw_{source}":
                    conn.execute(sql.SQL("vacuum analyze {}").format(sql.Identifier(schema, table)))
            moved[source] = (old, new, rows)
    return moved


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("database", help="a database kept by `make bench` (bench_s, bench_m, bench_l)")
    parser.add_argument("--target", type=Path, default=Path(tempfile.gettempdir()) / "svw-bench-replay",
                        help="dbt target folder, kept between runs for partial parsing")
    args = parser.parse_args(argv)
    try:  # only a benchmark database: this rewrites raw load ids
        kept = database.kept(args.database)
    except ValueError as refused:
        parser.error(str(refused))
    owner, transformer = kept.owner_url, kept.transformer_url
    for source, (old, new, rows) in restamp_newest_loads(owner).items():
        print(f"{source}: load {old} → {new}, {rows:,} raw rows", flush=True)
    args.target.mkdir(parents=True, exist_ok=True)
    result = dbt_build.build(transformer, args.target, False, args.target / "dbt-replay.log")
    print(json.dumps({"database": args.database, **result}, indent=1))


if __name__ == "__main__":
    main()
