"""What `make demo` shows: read from the published marts exactly as a BI user (bi_reader) would."""

from __future__ import annotations

import psycopg

LEVEL_ONE = ("registered_users", "active_users", "adoption_rate")


def _fmt(value, key: str) -> str:
    if value is None:
        return "–"
    if key.endswith("_rate"):
        return f"{float(value):.0%}"
    return f"{float(value):,.0f}"


def _rows_read(summary: dict | None) -> str:
    """'users 60, messages 1103' from a task's summary (its per-table counts)."""
    if not summary:
        return "skipped"
    tables = summary.get("tables") or {}
    text = ", ".join(f"{name} {counts['read']:,}" for name, counts in tables.items())
    if summary.get("unchanged"):
        text += (", " if text else "") + f"{len(summary['unchanged'])} file(s) unchanged"
    return text or "nothing new"


def terminal_summary(bi_url: str, ingest: dict, build: dict) -> str:
    with psycopg.connect(bi_url) as conn:
        months = [row[0] for row in conn.execute(
            "select distinct period_start from marts.metric_values order by 1 desc limit 2")]
        months.reverse()
        values = {(k, m, u): (v, s) for k, m, u, v, s in conn.execute(
            "select metric_key, period_start, org_unit, value, suppressed from marts.metric_values "
            "where period_start = any(%s)", (months,))}
        units = [row[0] for row in conn.execute(
            "select distinct org_unit from marts.metric_values order by 1")]
    lines = ["Social value warehouse — level 1 (users), read from marts.metric_values as bi_reader", ""]
    header = f"  {'organisation':<18}" + "".join(f"{m:%b %Y}".rjust(12) for m in months)
    lines.append(header)
    for key in LEVEL_ONE:
        cells = "".join(_fmt(values.get((key, m, "ALL"), (None,))[0], key).rjust(12) for m in months)
        lines.append(f"  {key:<18}{cells}")
    if months:
        latest = months[-1]
        lines += ["", f"  active users by department, {latest:%b %Y} (· = suppressed, fewer than the "
                  "minimum group size):"]
        for unit in units:
            if unit == "ALL":
                continue
            value, suppressed = values.get(("active_users", latest, unit), (None, False))
            lines.append(f"    {unit:<14}{'·' if suppressed else _fmt(value, 'active_users'):>8}")
    dbt = build.get("dbt_build") or {}
    gx = build.get("validate_marts") or {}
    lines += ["", "  this run's ingest (rows read since each source's watermark; unchanged files skipped):"]
    for task_id, summary in sorted(ingest.items()):
        lines.append(f"    {task_id:<28}{_rows_read(summary)}")
    lines += [
        f"  guarded by: {dbt.get('tests_passed', '?')}/{dbt.get('tests', '?')} dbt tests passed, "
        f"{gx.get('passed', '?')}/{gx.get('evaluated', '?')} GX expectations passed (checkpoint marts)",
        "",
        "Where to look next",
        f"  BI connection (read-only):  {bi_url}",
        "  SQL now:                    make psql"
        "   (or: echo 'select * from marts.metric_values' | make -s psql)",
        "  Airflow UI:                 make airflow",
        f"  GX Data Docs:               {gx.get('data_docs', 'expectations/gx/uncommitted/data_docs')}",
        "  HTML report:                reports/social-value.html",
        "  Logs of this run:           .svw/logs/",
    ]
    return "\n".join(lines)
