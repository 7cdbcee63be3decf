"""The benchmark's readable table, from the JSON document the driver writes."""

from __future__ import annotations


def _num(value, spec: str = ",.0f", missing: str = "–") -> str:
    return missing if value is None else format(value, spec)


def table(document: dict) -> str:
    lines = []
    header = (f"{'scale':<6} {'employees×months':>16} {'activity rows':>13} {'raw rows':>11} {'load s':>8} "
              f"{'rows/s':>8} {'COPY rows/s':>11} {'COPY+merge rows/s':>17} {'floor/conn.':>11} "
              f"{'full build s':>12} {'incr. build s':>13} {'incr/full':>9} {'peak RSS MiB':>12}")
    lines += [header, "-" * len(header)]
    for name, scale in document["scales"].items():
        load, floor = scale["load"], scale["floor"]
        build = scale.get("build") or {"full": {"seconds": None}, "incremental": {"seconds": None},
                                       "ratio_incremental_full": None}
        lines.append(
            f"{name:<6} {scale['employees']:>9,}×{scale['months']:<6} {scale['activity_rows']:>13,} "
            f"{load['rows']:>11,} {load['seconds']:>8.1f} {_num(load['rows_per_s']):>8} "
            f"{_num(floor['copy_rows_per_s']):>11} {_num(floor['copy_merge_rows_per_s']):>17} "
            f"{_num(floor['ratio_floor_connector'], '.2f'):>11} {_num(build['full']['seconds'], '.1f'):>12} "
            f"{_num(build['incremental']['seconds'], '.1f'):>13} "
            f"{_num(build['ratio_incremental_full'], '.2f'):>9} "
            f"{load['peak_rss_mib']:>12.1f}")
    lines.append("goals: floor/connector ≥ 0.7; incr/full ≤ 0.1 at L; peak RSS at L within 1.2× of S; "
                 "each DAG file parses in < 1 s; cosmos/bare dbt ≤ 1.5")
    for name, scale in document["scales"].items():
        lines.append("")
        lines.append(f"{name}: per source (first load, until {scale['first_until']})")
        origin = scale.get("source") or {}
        served = origin.get("served", "generated")
        if "warmup_s" in origin:
            served += (f", warmed untimed in {origin['warmup_s']:.1f}s ({origin['cache_entries']:,} "
                       f"answers; not in it during the timed load: {origin.get('timed_load_misses', 0)})")
        lines.append(f"  HTTP sources served from: {served}")
        lines.append(f"  {'source':<16} {'rows':>11} {'connector s':>11} {'loader CPU s':>12} {'rows/s':>9} "
                     f"{'COPY s':>8} {'COPY+merge s':>12} {'floor/conn.':>11}")
        for source, row in scale["load"]["sources"].items():
            lines.append(f"  {source:<16} {row['rows']:>11,} {row['seconds']:>11.2f} {row['cpu_s']:>12.2f} "
                         f"{_num(row['rows_per_s']):>9} {row['floor_copy_s']:>8.2f} "
                         f"{row['floor_copy_merge_s']:>12.2f} "
                         f"{_num(row['ratio_floor_connector'], '.2f'):>11}")
        if "build" not in scale:
            continue
        day, full, incremental = scale["one_more_day"], scale["build"]["full"], scale["build"]["incremental"]
        lines.append(f"  one more day: load {day['seconds']:.1f}s ({day['read']:,} rows read, "
                     f"{day['changed']:,} changed); incremental build {incremental['seconds']:.1f}s "
                     f"({incremental['status']}), full build {full['seconds']:.1f}s ({full['status']})")
        if scale.get("cosmos"):
            lines.append(f"  cosmos: {scale['cosmos']}")
    summary = document.get("summary", {})
    if summary.get("peak_rss_ratio"):
        lines.append("")
        lines.append(f"peak RSS of the loader, {summary['peak_rss_ratio']['of']}: "
                     f"{summary['peak_rss_ratio']['value']:.2f} (goal ≤ 1.2)")
    if document.get("parse"):
        lines.append("")
        lines.append("DAG file parse time (fresh process each, goal < 1 s):")
        for name, row in document["parse"].items():
            lines.append(f"  {name:<22} median {row['median_s']:.3f}s  min {row['min_s']:.3f}s")
    return "\n".join(lines)
