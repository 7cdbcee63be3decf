"""The manager's scorecard: every level for the latest full month against the month before.

Built once from the marts and printed by the terminal summary and the HTML report alike.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from datetime import date

from social_value.report_data import Marts, MetricIndex, Period, report_period
from social_value.report_metrics import (
    MISSING,
    SECTIONS,
    STATUS_KEYS,
    SUPPRESSED,
    arrow,
    format_change,
    format_value,
    judgement,
    metric,
)


@dataclass(frozen=True)
class Cell:
    """One metric in one month for one org unit, as a reader sees it."""

    state: str  # 'value', 'undefined' (e.g. a rate over zero), 'missing' (not published), 'suppressed'
    value: object = None
    basis: str = ""  # '46 of 55' for ratios, 'n = 12' for medians

    def text(self, key: str) -> str:
        return SUPPRESSED if self.state == "suppressed" else format_value(key, self.value)


@dataclass(frozen=True)
class ScoreRow:
    key: str
    label: str
    current: Cell
    previous: Cell
    arrow: str
    change: str
    judgement: str  # better / worse / neutral
    status: str | None = None  # green / amber / red from the satisfaction scorecard
    norm: str = ""


@dataclass(frozen=True)
class Scorecard:
    period: Period
    sections: list[tuple[str, list[ScoreRow]]]
    index: MetricIndex
    missing_sources: tuple[str, ...] = ()

    def missing_sources_note(self) -> str:
        """The sentence both reports print when a source has sent nothing ('' when none)."""
        if not self.missing_sources:
            return ""
        return (f"No data from {', '.join(self.missing_sources)}: the metrics only "
                f"{'it feeds' if len(self.missing_sources) == 1 else 'they feed'} are not measured "
                f"({MISSING}), not 0")


def _basis(row: dict) -> str:
    numerator, denominator = row.get("numerator"), row.get("denominator")
    if denominator is None:
        return ""
    if numerator is None:
        return f"n = {float(denominator):,.0f}"
    return f"{float(numerator):,.0f} of {float(denominator):,.0f}"


def cell(index: MetricIndex, key: str, month: date | None, unit: str = "ALL") -> Cell:
    row = index.get(key, month, unit)
    if row is None:
        return Cell("missing")
    if row["suppressed"]:
        return Cell("suppressed")
    state = "undefined" if row["value"] is None else "value"
    return Cell(state, row["value"], _basis(row))


def _satisfaction(marts: Marts, key: str, month: date | None) -> dict | None:
    return next((row for row in marts.satisfaction or []
                 if row["metric_key"] == key and row["period_start"] == month), None)


def _score_row(index: MetricIndex, marts: Marts, key: str, period: Period) -> ScoreRow:
    current, previous = cell(index, key, period.current), cell(index, key, period.previous)
    status, norm = None, ""
    if key in STATUS_KEYS:
        # Value from metric_values; status and norm from the customer-satisfaction scorecard mart
        # (its own value stands in while metric_values does not carry the key yet).
        score = _satisfaction(marts, key, period.current)
        if score:
            status = score["status"] or "no answers"
            norm = f"norm {format_value(key, score['norm'])}" if score["norm"] is not None else ""
            if current.state == "missing" and score["value"] is not None:
                current = Cell("value", score["value"], _basis(score))
        earlier = _satisfaction(marts, key, period.previous)
        if previous.state == "missing" and earlier and earlier["value"] is not None:
            previous = Cell("value", earlier["value"], _basis(earlier))
    return ScoreRow(key=key, label=metric(key).label, current=current, previous=previous,
                    arrow=arrow(current.value, previous.value),
                    change=format_change(key, current.value, previous.value),
                    judgement=judgement(key, current.value, previous.value), status=status, norm=norm)


def build(marts: Marts) -> Scorecard:
    index = MetricIndex(marts.metrics)
    period = report_period(index.months)
    sections = [(title, [_score_row(index, marts, key, period) for key in keys])
                for title, keys in SECTIONS]
    return Scorecard(period, sections, index, tuple(marts.missing_sources()))


def _month(month: date | None) -> str:
    return f"{month:%b %Y}" if month else MISSING


def render_text(card: Scorecard, departments: tuple[str, ...] = ("active_users", "adoption_rate"),
                ) -> list[str]:
    period = card.period
    lines = [f"Social value scorecard — {_month(period.current)} against {_month(period.previous)}, "
             "the whole organisation",
             *textwrap.wrap(f"{period.describe()}. Read from the published marts as bi_reader. ▲ ▼ = "
                            f"change from the month before; {MISSING} = not published (or undefined, "
                            "e.g. a rate over zero).", width=100,
                            initial_indent="  ", subsequent_indent="  ")]
    if card.missing_sources:
        lines += textwrap.wrap(f"{card.missing_sources_note()}.", width=100, initial_indent="  ",
                               subsequent_indent="  ")
    if period.current is None:
        return lines
    for title, rows in card.sections:
        lines += ["", f"  {title:<40}{_month(period.current):>11}{_month(period.previous):>11}"
                      f"{'change':>13}"]
        for row in rows:
            change = f"{row.arrow} {row.change}" if row.arrow else row.change
            extra = "  ".join(part for part in (row.current.basis, row.status, row.norm) if part)
            lines.append(f"    {row.label:<38}{row.current.text(row.key):>11}{row.previous.text(row.key):>11}"
                         f"{change:>13}  {extra}".rstrip())
    units = card.index.departments
    if units:
        lines += ["", f"  by department, {_month(period.current)} (suppressed = fewer registered users than "
                      "the minimum group size)",
                  f"    {'department':<20}" + "".join(f"{metric(key).label:>22}" for key in departments)]
        for unit in units:
            lines.append(f"    {unit:<20}" + "".join(
                f"{cell(card.index, key, period.current, unit).text(key):>22}" for key in departments))
    return lines
