"""A self-contained HTML report (no scripts, no network): the scorecard, tables and inline SVG charts.

Every value from the warehouse is escaped; the page holds no JavaScript and links to nothing
outside itself, so hostile text in the data (SQL fragments, `<script>`) can only show up as text.
"""

from __future__ import annotations

from datetime import date
from html import escape
from pathlib import Path

from social_value import report_charts
from social_value.report_data import Marts, MetricIndex, fetch
from social_value.report_metrics import (
    BUSINESS_KEYS,
    CATALOGUE,
    DEPARTMENT_HEADLINES,
    HASHTAG_KEYS,
    LEVELS,
    MISSING,
    SUPPRESSED,
    format_value,
    metric,
)
from social_value.report_scorecard import Scorecard, ScoreRow, build, cell

STYLE = """
:root{--ink:#1f2933;--muted:#6b7785;--line:#e3e7ec;--blue:#2f6fce;--grey:#a9b4c2;--good:#1a7f4b;
--bad:#c0392b}
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:var(--ink);
background:#f6f8fa}
main{max-width:76rem;margin:0 auto;padding:2rem 1.5rem 4rem}
h1{margin:0 0 .25rem;font-size:1.8rem}
h2{margin:2.5rem 0 .5rem;font-size:1.3rem;border-bottom:2px solid var(--line);padding-bottom:.25rem}
h3{margin:.25rem 0 .5rem;font-size:1.05rem}
nav{margin:1rem 0;font-size:.9rem}nav a{margin-right:1rem;color:var(--blue);text-decoration:none}
.muted,.note{color:var(--muted)}p.lead{font-size:1.05rem;margin:.25rem 0}
.panel{background:#fff;border:1px solid var(--line);border-radius:8px;padding:1rem 1.25rem;margin:1rem 0}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
td,th{padding:.3rem .6rem;border-bottom:1px solid var(--line);text-align:right;white-space:nowrap}
th{font-weight:600;color:var(--muted);font-size:.85rem}
th:first-child,td:first-child{text-align:left;white-space:normal}
table.scorecard{table-layout:fixed}.scorecard th:first-child{width:34%}
.scorecard td.basis{color:var(--muted);font-size:.85rem}
.better{color:var(--good)}.worse{color:var(--bad)}.neutral{color:var(--muted)}
.suppressed-text,.missing{color:var(--muted);font-style:italic}
.status{display:inline-block;padding:.05rem .5rem;border-radius:1rem;font-size:.8rem;font-weight:600}
.status.green{background:#d7f3e3;color:var(--good)}.status.amber{background:#fdf0d2;color:#9a6400}
.status.red{background:#fbdcd8;color:var(--bad)}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(245px,1fr));gap:.75rem}
figure{margin:0;background:#fff;border:1px solid var(--line);border-radius:8px;padding:.5rem .6rem}
figcaption{font-size:.85rem;display:flex;justify-content:space-between;gap:.5rem}
figcaption b{font-weight:600}figcaption span{white-space:nowrap}
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(200px,1fr));gap:.75rem;margin:1rem 0}
.tile{background:#fff;border:1px solid var(--line);border-radius:8px;padding:.75rem 1rem}
.tile .value{font-size:1.6rem;font-weight:600}.tile .label{color:var(--muted);font-size:.85rem}
.wide{overflow-x:auto}
svg{display:block;max-width:100%;height:auto;overflow:visible}
svg text{font:11px system-ui,sans-serif;fill:var(--ink)}svg .tick,svg .note{fill:var(--muted)}
svg .label{font-size:12px}svg .axis{stroke:var(--line)}
svg .series{fill:none;stroke:var(--blue);stroke-width:2}
svg .pt{fill:var(--blue)}svg .pt.current{fill:#173f7a}
svg .pt.open{fill:#fff;stroke:var(--blue);stroke-width:1.5}
svg .bar,svg .bar.s0{fill:var(--blue)}svg .bar.s1{fill:var(--grey)}
svg .suppressed{fill:#eef0f3;stroke:#c5ccd4;stroke-dasharray:4 3}
"""


def _month(month: date | None, fmt: str = "%b %Y") -> str:
    return escape(month.strftime(fmt)) if month else MISSING


def _value_html(row_cell, key: str) -> str:
    if row_cell.state == "suppressed":
        return f'<span class="suppressed-text">{SUPPRESSED}</span>'
    if row_cell.state in ("missing", "undefined"):
        return f'<span class="missing">{MISSING}</span>'
    return escape(row_cell.text(key))


def _status(row: ScoreRow) -> str:
    if not row.status:
        return ""
    badge = f'<span class="status {escape(row.status)}">{escape(row.status)}</span>'
    return badge + (f' <span class="muted">{escape(row.norm)}</span>' if row.norm else "")


def _scorecard(card: Scorecard) -> str:
    period = card.period
    parts = ['<section id="scorecard"><h2>Scorecard</h2>',
             f'<p class="muted">The whole organisation, {_month(period.current, "%B %Y")} against '
             f'{_month(period.previous, "%B %Y")}. Green and red arrows mark a change for the better '
             "or the worse; grey ones a change that is neither.</p>"]
    for title, rows in card.sections:
        parts.append(f'<div class="panel"><h3>{escape(title)}</h3><table class="scorecard">'
                     f"<tr><th>metric</th><th>{_month(period.current)}</th><th>{_month(period.previous)}</th>"
                     "<th>change</th><th>basis</th><th>status</th></tr>")
        for row in rows:
            change = f'<span class="{row.judgement}">{escape(f"{row.arrow} {row.change}".strip())}</span>'
            parts.append(f"<tr><td>{escape(row.label)}</td><td>{_value_html(row.current, row.key)}</td>"
                         f"<td>{_value_html(row.previous, row.key)}</td><td>{change}</td>"
                         f'<td class="basis">{escape(row.current.basis)}</td><td>{_status(row)}</td></tr>')
        parts.append("</table></div>")
    parts.append("</section>")
    return "".join(parts)


def _trends(card: Scorecard) -> str:
    index, period = card.index, card.period
    open_month = period.last_month if period.is_full else period.current
    parts = ['<section id="trends"><h2>Trends, whole organisation</h2>',
             '<p class="muted">One dot per month; the large dot is the reported month, the hollow one '
             "the month the data end in (not full yet).</p>"]
    groups = [(f"Level {level} — {LEVELS[level]}", [m.key for m in CATALOGUE if m.level == level])
              for level in range(1, 5)]
    groups += [("Level 5 — hashtag outcomes", list(HASHTAG_KEYS)),
               ("Level 5 — business value", [m.key for m in CATALOGUE if m.level == 5
                                              and m.key not in HASHTAG_KEYS])]
    for title, keys in groups:
        published = [key for key in keys if any(index.get(key, month) for month in index.months)]
        parts.append(f"<h3>{escape(title)}</h3>")
        if published:
            parts.append('<div class="grid">')
            for key in published:
                label = metric(key).label
                latest = format_value(key, index.value(key, period.current))
                chart = report_charts.line_chart(key, label, index.series(key), period.current, open_month)
                parts.append(f"<figure><figcaption><b>{escape(label)}</b>"
                             f'<span class="muted">{escape(latest)}</span></figcaption>{chart}</figure>')
            parts.append("</div>")
        missing = [metric(key).label for key in keys if key not in published]
        if missing:
            parts.append(f'<p class="note">Not published yet: {escape(", ".join(missing))}.</p>')
    parts.append("</section>")
    return "".join(parts)


def _departments(card: Scorecard) -> str:
    index, period = card.index, card.period
    if not index.departments:
        return ""
    parts = [f'<section id="departments"><h2>Departments, {_month(period.current, "%B %Y")}</h2>',
             '<p class="muted">Departments with fewer registered users than the minimum group size are '
             "suppressed for privacy: their values are never published.</p>"]
    for level, key in DEPARTMENT_HEADLINES.items():
        bars = []
        for unit in index.departments:
            unit_cell = cell(index, key, period.current, unit)
            bars.append((unit, unit_cell.value, unit_cell.state == "suppressed"))
        label = metric(key).label
        parts.append(f'<div class="panel"><h3>Level {level} — {escape(label)}</h3>')
        if any(index.get(key, period.current, unit) for unit in index.departments):
            parts.append(report_charts.department_bars(key, label, bars))
        else:
            parts.append(f'<p class="note">{escape(label)}: not published yet.</p>')
        parts.append("</div>")
    parts.append("</section>")
    return "".join(parts)


def _tile(card: Scorecard, key: str) -> str:
    row = next(r for _, rows in card.sections for r in rows if r.key == key)
    change = ""
    if row.arrow:
        change = (f'<div class="{row.judgement}">{escape(f"{row.arrow} {row.change}")} '
                  f'<span class="muted">vs {_month(card.period.previous)}</span></div>')
    return (f'<div class="tile"><div class="label">{escape(row.label)}</div>'
            f'<div class="value">{_value_html(row.current, key)}</div>{change}'
            f"<div>{_status(row)}</div></div>")


def _hashtags(card: Scorecard, hashtags: list[dict] | None) -> str:
    index, period = card.index, card.period
    series = [_month(period.current), _month(period.previous)]
    counts = [key for key in HASHTAG_KEYS if metric(key).unit == "count"]
    groups = [(metric(key).label, [(series[0], index.value(key, period.current)),
                                   (series[1], index.value(key, period.previous))]) for key in counts]
    parts = ['<section id="hashtags"><h2>Hashtag outcomes</h2>',
             '<p class="muted">Messages tagged with a registered hashtag, counted in the month they were '
             "written; a pain point counts as resolved once a later message in its thread is tagged "
             "as a resolution.</p>", '<div class="panel">',
             report_charts.grouped_bars({metric(key).label: key for key in counts}, groups, series,
                                        "Hashtag outcomes, this month and the month before"),
             "</div>", '<div class="tiles">', _tile(card, "median_hours_to_resolution"), "</div>"]
    if hashtags:
        rows = [row for row in hashtags if row["period_start"] == period.current]
        parts.append(f"<div class=\"panel\"><h3>By hashtag, {_month(period.current, '%B %Y')}</h3>"
                     "<table><tr><th>hashtag</th><th>outcome</th><th>messages</th></tr>")
        parts += [f"<tr><td>#{escape(str(row['hashtag']))}</td><td>{escape(str(row['outcome_type']))}</td>"
                  f"<td>{int(row['messages']):,}</td></tr>" for row in rows]
        if not rows:
            parts.append('<tr><td colspan="3" class="muted">no tagged messages this month</td></tr>')
        parts.append("</table></div>")
    parts.append("</section>")
    return "".join(parts)


def _rolled_up(index: MetricIndex, key: str) -> float | None:
    """Σ numerator / Σ denominator over every published month: how a ratio rolls up over time."""
    rows = [index.get(key, month) for month in index.months]
    numerator = sum(float(r["numerator"]) for r in rows if r and r.get("numerator") is not None)
    denominator = sum(float(r["denominator"]) for r in rows if r and r.get("denominator") is not None)
    return numerator / denominator if denominator else None


def _business(card: Scorecard) -> str:
    index, period = card.index, card.period
    series = ["socially supported", "other"]
    groups, key_of = [], {}
    for base in ("win_rate", "delivery_margin"):
        social, other = f"{base}_social", f"{base}_other"
        for when, pick in ((_month(period.current), lambda key: index.value(key, period.current)),
                           ("all months", lambda key: _rolled_up(index, key))):
            label = f"{metric(base).label}, {when}"
            key_of[label] = base
            groups.append((label, [(series[0], pick(social)), (series[1], pick(other))]))
    tiles = [key for key in BUSINESS_KEYS if not key.startswith(("win_rate", "delivery_margin"))]
    return "".join([
        '<section id="business"><h2>Business value: socially supported against other</h2>',
        '<p class="muted">An opportunity is socially supported when its Salesforce Id appears in an '
        "intranet message on or before its close date; a delivery project by its opportunity. "
        "“All months” adds numerators and denominators over every month, never averages rates.</p>",
        '<div class="panel">',
        report_charts.grouped_bars(key_of, groups, series, "Win rate and delivery margin, social or other"),
        "</div>", '<div class="tiles">', *(_tile(card, key) for key in tiles), "</div></section>"])


def _tables(card: Scorecard) -> str:
    index, period = card.index, card.period
    months = index.months
    order = {m.key: position for position, m in enumerate(CATALOGUE)}
    keys = sorted(index.keys, key=lambda key: (order.get(key, len(order)), key))
    parts = ['<section id="tables"><h2>All published values</h2>',
             '<div class="panel wide"><h3>Organisation, by month</h3><table><tr><th>metric</th>'
             + "".join(f"<th>{_month(m)}</th>" for m in months) + "</tr>"]
    for key in keys:
        parts.append(f"<tr><td>{escape(metric(key).label)}</td>" + "".join(
            f"<td>{_value_html(cell(index, key, month), key)}</td>" for month in months) + "</tr>")
    parts.append("</table></div>")
    if index.departments:
        parts.append(f'<div class="panel wide"><h3>Departments, {_month(period.current, "%B %Y")}</h3>'
                     "<table><tr><th>department</th>"
                     + "".join(f"<th>{escape(metric(key).label)}</th>" for key in keys) + "</tr>")
        for unit in index.departments:
            cells = (_value_html(cell(index, key, period.current, unit), key) for key in keys)
            parts.append(f"<tr><td>{escape(unit)}</td>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
        parts.append("</table></div>")
    parts.append("</section>")
    return "".join(parts)


def render(rows: list[dict], *, satisfaction: list[dict] | None = None,
           hashtags: list[dict] | None = None, sources: list[dict] | None = None) -> str:
    """The page for metric_values rows (plus the satisfaction scorecard, hashtag counts and source
    coverage, when those marts are published)."""
    card = build(Marts(metrics=rows, satisfaction=satisfaction, hashtags=hashtags, sources=sources))
    head = ('<!doctype html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>Social value report</title><style>{STYLE}</style></head><body><main>"
            "<h1>Social value of the intranet</h1>"
            f'<p class="lead">{escape(card.period.describe())}.</p>'
            '<p class="muted">Read from the published marts as bi_reader (marts.metric_values, '
            "marts.customer_satisfaction_scorecard, marts.hashtag_outcome_months and "
            "marts.source_coverage). "
            f"{MISSING} marks a metric not published or undefined (a rate over zero).</p>")
    if card.missing_sources:
        head += f'<p class="note" id="missing-sources">{escape(card.missing_sources_note())}.</p>'
    if card.period.current is None:
        return head + "<p>No published metrics yet: run the build first.</p></main></body></html>"
    nav = ('<nav><a href="#scorecard">Scorecard</a><a href="#trends">Trends</a>'
           '<a href="#departments">Departments</a><a href="#hashtags">Hashtag outcomes</a>'
           '<a href="#business">Business value</a><a href="#tables">All values</a></nav>')
    body = [_scorecard(card), _trends(card), _departments(card), _hashtags(card, hashtags),
            _business(card), _tables(card)]
    return "\n".join([head + nav, *body, "</main></body></html>"])


def write_report(bi_url: str, path: Path) -> Path:
    marts = fetch(bi_url)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(marts.metrics, satisfaction=marts.satisfaction, hashtags=marts.hashtags,
                           sources=marts.sources), encoding="utf-8")
    return path
