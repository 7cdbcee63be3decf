"""The metric catalogue the reports show: labels, units and which direction is good (METRICS.md).

Formatting lives here too, so the terminal scorecard and the HTML report print every number the
same way: "–" for a metric not published (or undefined, e.g. a rate over zero), "suppressed" for a
department below the minimum group size.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

MISSING = "–"
SUPPRESSED = "suppressed"
UP, DOWN, SAME = "▲", "▼", "="

# unit → how a value and a change between two values read
UNITS = {
    "count": ("{:,.0f}", "{:+,.0f}"),
    "share": ("{:.0%}", "{:+.1f} pp"),  # 0–1 shown as a percentage; a change in percentage points
    "ratio": ("{:,.1f}", "{:+,.1f}"),
    "hours": ("{:,.1f} h", "{:+,.1f} h"),
    "days": ("{:,.1f} d", "{:+,.1f} d"),
    "score": ("{:+.0f}", "{:+.1f} pts"),
}


@dataclass(frozen=True)
class Metric:
    key: str
    level: int
    label: str
    unit: str = "count"
    # True: up is good, False: down is good, None: neither (the HTML colours arrows by this)
    better: bool | None = True


CATALOGUE = [
    Metric("registered_users", 1, "registered users"),
    Metric("active_users", 1, "active users"),
    Metric("contributing_users", 1, "contributing users"),
    Metric("adoption_rate", 1, "adoption rate", "share"),
    Metric("contribution_rate", 1, "contribution rate", "share"),
    Metric("groups", 2, "groups", better=None),
    Metric("active_groups", 2, "active groups"),
    Metric("active_departments", 2, "active departments"),
    Metric("cross_department_threads", 2, "cross-department threads"),
    Metric("posts", 3, "posts"),
    Metric("replies", 3, "replies"),
    Metric("likes", 3, "likes"),
    Metric("reads", 3, "reads"),
    Metric("downloads", 3, "downloads"),
    Metric("actions_per_active_user", 3, "actions per active user", "ratio"),
    Metric("questions", 4, "questions", better=None),
    Metric("answered_questions", 4, "answered questions"),
    Metric("answer_rate", 4, "answer rate", "share"),
    Metric("median_hours_to_first_answer", 4, "median hours to first answer", "hours", False),
    Metric("response_rate", 4, "response rate", "share"),
    Metric("hashtag_messages", 4, "hashtag messages"),
    Metric("customer_impact_messages", 5, "customer impact (#intranetwerkt)"),
    Metric("customer_feedback_messages", 5, "customer feedback (#watdeklantvindt)", better=None),
    Metric("pain_points", 5, "pain points (#gedoe)", better=None),
    Metric("pain_points_resolved", 5, "pain points resolved"),
    Metric("median_hours_to_resolution", 5, "median hours to resolution", "hours", False),
    Metric("hours_saved", 5, "hours saved (answers)", "hours"),
    Metric("opportunities_closed", 5, "opportunities closed", better=None),
    Metric("opportunities_won", 5, "opportunities won"),
    Metric("win_rate", 5, "win rate", "share"),
    Metric("win_rate_social", 5, "win rate, socially supported", "share"),
    Metric("win_rate_other", 5, "win rate, other", "share"),
    Metric("median_days_to_quote", 5, "median days to quote", "days", False),
    Metric("delivery_margin", 5, "delivery margin", "share"),
    Metric("delivery_margin_social", 5, "delivery margin, socially supported", "share"),
    Metric("delivery_margin_other", 5, "delivery margin, other", "share"),
    Metric("survey_responses", 5, "survey responses"),
    Metric("csat", 5, "csat (share 4–5 of 5)", "share"),
    Metric("nps", 5, "nps", "score"),
]
METRICS = {metric.key: metric for metric in CATALOGUE}

LEVELS = {1: "users", 2: "teams", 3: "activity", 4: "content", 5: "added value"}
HASHTAG_KEYS = ("customer_impact_messages", "customer_feedback_messages", "pain_points",
                "pain_points_resolved", "median_hours_to_resolution")
BUSINESS_KEYS = ("win_rate_social", "win_rate_other", "win_rate", "median_days_to_quote",
                 "delivery_margin_social", "delivery_margin_other", "delivery_margin", "hours_saved",
                 "csat", "nps")
# The manager's scorecard: the five levels, level 5 split into hashtag outcomes and business value.
SECTIONS: list[tuple[str, tuple[str, ...]]] = [
    *((f"Level {level} — {LEVELS[level]}",
       tuple(m.key for m in CATALOGUE if m.level == level)) for level in range(1, 5)),
    ("Level 5 — hashtag outcomes", HASHTAG_KEYS),
    ("Level 5 — business value", BUSINESS_KEYS),
]
# Per level, the metric whose department breakdown the HTML report draws.
DEPARTMENT_HEADLINES = {1: "adoption_rate", 2: "active_groups", 3: "actions_per_active_user",
                        4: "answer_rate", 5: "customer_impact_messages"}
STATUS_KEYS = ("csat", "nps")


def metric(key: str) -> Metric:
    """A catalogued metric, or a plain count for a key the catalogue does not know yet."""
    return METRICS.get(key) or Metric(key, 0, key.replace("_", " "), "share" if key.endswith("_rate")
                                      else "count", None)


def format_value(key: str, value: Decimal | float | None) -> str:
    if value is None:
        return MISSING
    return UNITS[metric(key).unit][0].format(float(value)).replace("-", "−")


def difference(key: str, current: Decimal | float, previous: Decimal | float) -> float:
    """The change in the unit it is read in (percentage points for shares)."""
    change = float(current) - float(previous)
    return change * 100 if metric(key).unit == "share" else change


def format_change(key: str, current: Decimal | float | None, previous: Decimal | float | None) -> str:
    if current is None or previous is None:
        return MISSING
    text = UNITS[metric(key).unit][1].format(difference(key, current, previous))
    return text.replace("-", "−")


def arrow(current: Decimal | float | None, previous: Decimal | float | None) -> str:
    if current is None or previous is None:
        return ""
    if current > previous:
        return UP
    return DOWN if current < previous else SAME


def judgement(key: str, current, previous) -> str:
    """'better', 'worse' or 'neutral': the colour of a change in the HTML."""
    direction = arrow(current, previous)
    good = metric(key).better
    if direction in ("", SAME) or good is None:
        return "neutral"
    return "better" if (direction == UP) == good else "worse"
