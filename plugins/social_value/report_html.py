"""A self-contained HTML report (no scripts, no network): tables and inline SVG charts.

Every value from the warehouse is escaped; the page holds no JavaScript at all, so hostile text in
the data (SQL fragments, `<script>`) can only ever show up as text.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from html import escape
from pathlib import Path

import psycopg

STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222;max-width:70rem}
table{border-collapse:collapse;margin:1rem 0}td,th{padding:.25rem .6rem;border-bottom:1px solid #ddd;
text-align:right}th:first-child,td:first-child{text-align:left}.muted{color:#888}
"""


def fetch_rows(bi_url: str) -> list[dict]:
    with psycopg.connect(bi_url) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        cur.execute("select metric_key, level, period_start, org_unit, value, suppressed "
                    "from marts.metric_values where period_grain = 'month' order by period_start")
        return list(cur)


def _number(value, key: str) -> str:
    if value is None:
        return "–"
    return f"{float(value):.0%}" if key.endswith("_rate") else f"{float(value):,.0f}"


def _bar_chart(title: str, points: list[tuple[date, float]]) -> str:
    width, height, gap = 640, 160, 4
    top = max((v for _, v in points), default=0) or 1
    bar = (width - gap * len(points)) / max(len(points), 1)
    bars = []
    for i, (month, value) in enumerate(points):
        h = (height - 20) * value / top
        x = i * (bar + gap)
        bars.append(f'<rect x="{x:.1f}" y="{height - 20 - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                    f'fill="#3b7dd8"><title>{escape(f"{month:%b %Y}: {value:,.0f}")}</title></rect>'
                    f'<text x="{x + bar / 2:.1f}" y="{height - 5}" font-size="10" text-anchor="middle">'
                    f'{escape(f"{month:%b}")}</text>')
    return (f"<h3>{escape(title)}</h3><svg role=\"img\" width=\"{width}\" height=\"{height}\" "
            f"xmlns=\"http://www.w3.org/2000/svg\">{''.join(bars)}</svg>")


def render(rows: list[dict]) -> str:
    by_key = defaultdict(dict)
    months = sorted({row["period_start"] for row in rows})
    units = sorted({row["org_unit"] for row in rows} - {"ALL"})
    for row in rows:
        by_key[(row["metric_key"], row["org_unit"])][row["period_start"]] = row
    keys = sorted({row["metric_key"] for row in rows}, key=lambda k: (
        min(r["level"] for r in rows if r["metric_key"] == k), k))
    parts = [f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
             f"<title>Social value report</title><style>{STYLE}</style></head><body>",
             "<h1>Social value of the intranet</h1>",
             "<p class=\"muted\">Read from <code>marts.metric_values</code> as bi_reader. "
             "· marks a department suppressed for privacy (fewer registered users than the minimum "
             "group size).</p>"]
    active = by_key.get(("active_users", "ALL"), {})
    parts.append(_bar_chart("Active users per month (organisation)",
                            [(m, float(active[m]["value"] or 0)) for m in months if m in active]))
    parts.append("<h2>Organisation, by month</h2><table><tr><th>metric</th>"
                 + "".join(f"<th>{escape(f'{m:%b %Y}')}</th>" for m in months) + "</tr>")
    for key in keys:
        cells = by_key.get((key, "ALL"), {})
        parts.append(f"<tr><td>{escape(key)}</td>" + "".join(
            f"<td>{escape(_number(cells[m]['value'], key)) if m in cells else ''}</td>" for m in months)
            + "</tr>")
    parts.append("</table>")
    if months:
        latest = months[-1]
        parts.append(f"<h2>Departments, {escape(f'{latest:%B %Y}')}</h2><table><tr><th>department</th>"
                     + "".join(f"<th>{escape(k)}</th>" for k in keys) + "</tr>")
        for unit in units:
            cells = []
            for key in keys:
                row = by_key.get((key, unit), {}).get(latest)
                text = "·" if row and row["suppressed"] else _number(row["value"] if row else None, key)
                cells.append(f"<td>{escape(text)}</td>")
            parts.append(f"<tr><td>{escape(unit)}</td>{''.join(cells)}</tr>")
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(bi_url: str, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(fetch_rows(bi_url)), encoding="utf-8")
    return path
