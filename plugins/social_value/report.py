"""What `make demo` shows: read from the published marts exactly as a BI user (bi_reader) would."""

from __future__ import annotations

from social_value import report_data, report_scorecard


def _rows_read(summary: dict | None) -> str:
    """'users 60, messages 1103' from a task's summary (its per-table counts)."""
    if not summary:
        return "skipped"
    tables = summary.get("tables") or {}
    text = ", ".join(f"{name} {counts['read']:,}" for name, counts in tables.items())
    if summary.get("unchanged"):
        text += (", " if text else "") + f"{len(summary['unchanged'])} file(s) unchanged"
    return text or "nothing new"


def _sum(first: dict, second: dict, key: str) -> int | str:
    values = [summary.get(key) for summary in (first, second)]
    return "?" if None in values else sum(values)


def _publication(published: dict) -> str:
    if not published:
        return "nothing (a test failed: the previous marts stay live; see audit.test_results)"
    return (f"publication {published['publication_id']} (build {published['build_id']}), "
            f"{len(published['row_counts'])} marts, covering {published['load_ids']} source load(s)")


def _without_password(url: str) -> str:
    """The URL with its password left out: a terminal's scroll-back and CI logs are not secret."""
    from urllib.parse import urlsplit, urlunsplit

    split = urlsplit(url)
    if split.password is None:
        return url
    netloc = f"{split.username}:…@{split.hostname}" + (f":{split.port}" if split.port else "")
    return urlunsplit(split._replace(netloc=netloc))


def terminal_summary(bi_url: str, ingest: dict, build: dict) -> str:
    card = report_scorecard.build(report_data.fetch(bi_url))
    lines = report_scorecard.render_text(card)
    dbt = build.get("dbt_build") or {}
    gx = build.get("validate_marts") or {}
    raw = build.get("validate_raw") or {}
    published = build.get("publish") or {}
    lines += ["", "  this run's ingest (rows read since each source's watermark; unchanged files skipped):"]
    for task_id, summary in sorted(ingest.items()):
        lines.append(f"    {task_id:<28}{_rows_read(summary)}")
    lines += [
        f"  guarded by: {dbt.get('tests_passed', '?')}/{dbt.get('tests', '?')} dbt tests passed, "
        f"{_sum(gx, raw, 'passed')}/{_sum(gx, raw, 'evaluated')} GX expectations passed "
        "(checkpoints raw: landing tables, marts: the candidate marts)",
        f"  published: {_publication(published)}",
        "",
        "Where to look next",
        f"  BI connection (read-only):  {_without_password(bi_url)}",
        "                              (password: SVW_BI_READER_PASSWORD, in .svw/secrets.env for the demo)",
        "  SQL now:                    make psql"
        "   (or: echo 'select * from marts.metric_values' | make -s psql)",
        "  Airflow UI:                 make airflow",
        f"  GX Data Docs:               {gx.get('data_docs', 'expectations/gx/uncommitted/data_docs')}",
        "  dbt docs + GX Data Docs:    make docs   (reports/docs/)",
        "  Audit (which tests guard the live marts):  "
        "echo 'select * from audit.live_publication_tests' | make -s psql",
        "  HTML report:                reports/social-value.html",
        "  Logs of this run:           .svw/logs/",
    ]
    return "\n".join(lines)
