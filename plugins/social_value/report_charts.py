"""Inline SVG charts for the HTML report: plain markup, no script, every text escaped.

Each chart is a self-contained <svg>; styling comes from the page's CSS classes so the charts
follow the report's look. Points carry a <title> so a reader hovering sees the exact value.
"""

from __future__ import annotations

from datetime import date
from html import escape

from social_value.report_metrics import MISSING, SUPPRESSED, format_value


def _svg(width: float, height: float, body: str, label: str) -> str:
    return (f'<svg role="img" aria-label="{escape(label)}" '
            f'viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" height="{height:.0f}">{body}</svg>')


def _text(x: float, y: float, text: str, css: str = "", anchor: str = "start") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" class="{css}" text-anchor="{anchor}">{escape(text)}</text>')


def line_chart(key: str, label: str, points: list[tuple[date, object]], current: date | None,
               open_month: date | None) -> str:
    """A small line over months: one dot per month with a value, a gap where there is none.

    `current` (the reported month) gets a larger dot; `open_month` (not full yet) a hollow one.
    """
    width, height, left, right, top, bottom = 230, 110, 40, 10, 10, 20
    values = [float(v) for _, v in points if v is not None]
    low, high = min([0.0, *values]), max([0.0, *values])
    high = high if high > low else low + 1
    step = (width - left - right) / max(len(points) - 1, 1)

    def y(value: float) -> float:
        return top + (height - top - bottom) * (1 - (value - low) / (high - low))

    parts = [f'<line class="axis" x1="{left}" y1="{y(low):.1f}" x2="{width - right}" y2="{y(low):.1f}"/>',
             _text(left - 4, y(high) + 4, format_value(key, high), "tick", "end"),
             _text(left - 4, y(low) + 4, format_value(key, low), "tick", "end")]
    segments, segment = [], []
    dots = []
    for position, (month, value) in enumerate(points):
        x = left + step * position if len(points) > 1 else (left + width - right) / 2
        if value is None:
            if segment:
                segments.append(segment)
            segment = []
            continue
        segment.append(f"{x:.1f},{y(float(value)):.1f}")
        css = "pt" + (" current" if month == current else "") + (" open" if month == open_month else "")
        note = " (month not over)" if month == open_month else ""
        dots.append(f'<circle class="{css}" cx="{x:.1f}" cy="{y(float(value)):.1f}" '
                    f'r="{4 if month == current else 2.5}"><title>'
                    f'{escape(f"{month:%b %Y}: {format_value(key, value)}{note}")}</title></circle>')
    if segment:
        segments.append(segment)
    parts += [f'<polyline class="series" points="{" ".join(s)}"/>' for s in segments if len(s) > 1]
    parts += dots
    if points:
        parts += [_text(left, height - 4, f"{points[0][0]:%b %y}", "tick"),
                  _text(width - right, height - 4, f"{points[-1][0]:%b %y}", "tick", "end")]
    if not values:
        parts.append(_text(width / 2, height / 2, "no values yet", "tick", "middle"))
    return _svg(width, height, "".join(parts), f"{label} by month")


def department_bars(key: str, label: str, bars: list[tuple[str, object, bool]]) -> str:
    """Horizontal bars, one per department: (department, value or None, suppressed)."""
    width, row, left, bar_area = 640, 22, 150, 400
    values = [float(v) for _, v, hidden in bars if v is not None and not hidden]
    high = max([0.0, *values]) or 1.0
    low = min([0.0, *values])
    zero = left + bar_area * (-low / (high - low))
    parts = []
    for position, (unit, value, hidden) in enumerate(bars):
        y = position * row
        shown = unit if len(unit) <= 22 else unit[:21] + "…"  # the full name is in the bar's title
        parts.append(_text(left - 8, y + 15, shown, "label", "end"))
        if hidden:
            parts.append(f'<rect class="suppressed" x="{left}" y="{y + 3}" width="{bar_area}" '
                         f"height=\"{row - 6}\"><title>{escape(f'{unit}: {SUPPRESSED}')}</title></rect>")
            parts.append(_text(left + 8, y + 15, f"{SUPPRESSED} (fewer registered users than the minimum "
                                                 "group size)", "note"))
            continue
        if value is None:
            parts.append(_text(left + 8, y + 15, f"{MISSING} (no value)", "note"))
            continue
        start = min(zero, zero + bar_area * float(value) / (high - low))
        size = abs(bar_area * float(value) / (high - low))
        parts.append(f'<rect class="bar" x="{start:.1f}" y="{y + 3}" width="{size:.1f}" height="{row - 6}">'
                     f"<title>{escape(f'{unit}: {format_value(key, value)}')}</title></rect>")
        parts.append(_text(start + size + 6, y + 15, format_value(key, value), "value"))
    return _svg(width, max(len(bars), 1) * row + 4, "".join(parts), f"{label} by department")


def grouped_bars(key_of: dict[str, str], groups: list[tuple[str, list[tuple[str, object]]]],
                 series: list[str], label: str) -> str:
    """Horizontal bar groups (e.g. social vs other, or last month vs this one) on one scale.

    `groups` holds (group label, [(series name, value or None)]); `key_of` maps a group label to
    the metric key its values are formatted as.
    """
    width, row, left, bar_area, gap = 640, 18, 230, 330, 12
    values = [float(v) for _, pairs in groups for _, v in pairs if v is not None]
    high, low = max([0.0, *values]) or 1.0, min([0.0, *values])
    zero = left + bar_area * (-low / (high - low))
    parts, y = [], 0.0
    for group, pairs in groups:
        parts.append(_text(left - 8, y + row * len(pairs) / 2 + 5, group, "label", "end"))
        for name, value in pairs:
            css = f"bar s{series.index(name)}"
            if value is None:
                parts.append(_text(left + 6, y + 13, f"{name}: {MISSING}", "note"))
            else:
                start = min(zero, zero + bar_area * float(value) / (high - low))
                size = abs(bar_area * float(value) / (high - low))
                text = f"{name}: {format_value(key_of[group], value)}"
                parts.append(f'<rect class="{css}" x="{start:.1f}" y="{y + 2:.1f}" width="{size:.1f}" '
                             f'height="{row - 4}"><title>{escape(text)}</title></rect>')
                parts.append(_text(start + size + 6, y + 13, text, "value"))
            y += row
        y += gap
    legend = "".join(f'<rect class="bar s{i}" x="{left + i * 140}" y="{y + 2:.1f}" width="12" height="12"/>'
                     + _text(left + i * 140 + 18, y + 12, name, "note") for i, name in enumerate(series))
    return _svg(width, y + 20, "".join(parts) + legend, label)
