"""The HTML report: self-contained (no script, nothing fetched from outside), every data text
escaped, one chart point per month, suppressed departments drawn as such."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from conftest import ROOT
from test_report import CURRENT, HASHTAGS, MONTHS, UNPUBLISHED, fixture_rows, load_marts

from social_value import report_data
from social_value.report_html import render
from social_value.report_metrics import SUPPRESSED, metric

HOSTILE = "<script>alert('x')</script>'); drop table marts.metric_values; --"
VOID = {"meta", "br", "img", "input", "link", "hr", "rect", "circle", "line", "polyline"}


class Structure(HTMLParser):
    """Tags as a browser would see them: every element closed in order, no script, what links go where."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.tags: list[str] = []
        self.links: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.links += [value or "" for name, value in attrs if name in ("href", "src", "xlink:href")]
        self.errors += [f"{tag} has {name}" for name, _ in attrs if name.startswith("on")]
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()


def parse(html: str) -> Structure:
    structure = Structure()
    structure.feed(html)
    structure.close()
    return structure


def charts(html: str, suffix: str) -> dict[str, str]:
    """The inline SVGs whose accessible label ends in `suffix`, by label."""
    return dict(re.findall(rf'<svg role="img" aria-label="([^"]*{suffix})"[^>]*>(.*?)</svg>', html, re.S))


@pytest.fixture
def marts(conn, scratch_schema, warehouse_url) -> report_data.Marts:
    rows = fixture_rows()
    for row in [r for r in rows if r["org_unit"] == "Sales"]:
        rows.append({**row, "org_unit": HOSTILE})
    load_marts(conn, scratch_schema, rows)
    conn.execute(f"insert into {scratch_schema}.hashtag_outcome_months (period_start, hashtag, outcome_type, "
                 "messages) values ('2026-03-01', %s, 'customer_impact', 1)", (HOSTILE,))
    conn.commit()
    return report_data.fetch(warehouse_url, scratch_schema)


@pytest.fixture
def html(marts) -> str:
    return render(marts.metrics, satisfaction=marts.satisfaction, hashtags=marts.hashtags)


def test_page_is_self_contained_and_well_formed(html):
    structure = parse(html)
    assert structure.errors == [] and structure.stack == []
    assert "script" not in structure.tags and "<script" not in html.lower()
    assert all(link.startswith("#") for link in structure.links), structure.links
    assert not re.search(r"https?:|url\(|@import|//[a-z]", html, re.I)


def test_hostile_text_stays_text(html):
    assert HOSTILE not in html and "<script>" not in html
    escaped = "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;&#x27;); drop table marts.metric_values; --"
    assert html.count(escaped) >= 3  # department bars, department table, hashtag table


def test_line_charts_have_one_point_per_month(html, marts):
    lines = charts(html, " by month")
    published = {row["metric_key"] for row in marts.metrics}
    assert {label.removesuffix(" by month") for label in lines} == {metric(key).label for key in published}
    for label, body in lines.items():
        points = re.findall(r'<circle class="pt[^"]*"', body)
        assert len(points) == len(MONTHS), label
        assert len(re.findall(r'class="pt current"', body)) == 1  # the reported month
        assert len(re.findall(r'class="pt open"', body)) == 1  # the month the data end in
        titles = re.findall(r"<title>([A-Z][a-z]{2} \d{4}):", body)
        assert titles == [f"{month:%b %Y}" for month in MONTHS]


def test_gaps_in_a_series_leave_out_the_point(marts):
    rows = [row for row in marts.metrics
            if not (row["metric_key"] == "posts" and row["period_start"] == CURRENT)]
    body = charts(render(rows), " by month")[f"{metric('posts').label} by month"]
    assert len(re.findall(r'<circle class="pt', body)) == len(MONTHS) - 1
    # the line breaks at the gap: January to February, April a lone dot
    lines = re.findall(r'<polyline class="series" points="([^"]*)"', body)
    assert [len(line.split()) for line in lines] == [2]


def test_department_bars_show_suppressed_departments_as_such(html):
    bars = charts(html, " by department")
    adoption = bars[f"{metric('adoption_rate').label} by department"]
    assert f"<title>Tiny: {SUPPRESSED}</title>" in adoption and 'class="suppressed"' in adoption
    assert re.search(r'<rect class="bar"[^>]*><title>Sales: \d+%</title>', adoption)
    assert "Tiny: " not in re.sub(r"<title>Tiny: suppressed</title>", "", adoption)


def test_unpublished_metrics_hashtags_and_satisfaction_panels(html):
    for key in UNPUBLISHED:
        assert re.search(rf"Not published yet: [^<]*{re.escape(metric(key).label)}", html)
    hashtag_table = html[html.index("By hashtag"):]
    current = sum(1 for _, month, tag, _ in HASHTAGS if month == CURRENT and tag == "intranetwerkt")
    assert f"<td>#intranetwerkt</td><td>customer_impact</td><td>{current}</td>" in hashtag_table
    assert '<span class="status green">green</span>' in html and '<span class="status red">red</span>' in html
    business = charts(html, "social or other")
    assert len(business) == 1
    body = next(iter(business.values()))
    assert body.count("<title>socially supported:") == 4 and body.count("<title>other:") == 4


def test_demo_writes_the_report_from_the_published_marts(demo, conn):
    page = (ROOT / "reports" / "social-value.html").read_text(encoding="utf-8")
    structure = parse(page)
    assert structure.errors == [] and "script" not in structure.tags
    assert all(link.startswith("#") for link in structure.links)
    # one point per month holding a value, in every chart of the organisation
    expected = dict(conn.execute(
        "select metric_key, count(value) from marts.metric_values where period_grain = 'month' "
        "and org_unit = 'ALL' group by metric_key").fetchall())
    lines = charts(page, " by month")
    assert {label.removesuffix(" by month") for label in lines} == {metric(key).label for key in expected}
    for key, months in expected.items():
        body = lines[f"{metric(key).label} by month"]
        assert len(re.findall(r'<circle class="pt', body)) == months, key
