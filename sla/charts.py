"""Week-by-week charts drawn on the server as SVG: no script, so the pages' CSP stays strict.

A chart is one figure over the weeks: a bar per week, its value written above it, the weeks below.
A week with nothing to measure (no case closed, nothing received) has no bar and says so (—), so an
empty week is never drawn as a zero rate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from markupsafe import Markup, escape

WIDTH, HEIGHT = 520, 180
LEFT, RIGHT, TOP, BOTTOM = 8, 8, 22, 34


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    text: str
    label: str


def shown(value: float | None, kind: str) -> str:
    if value is None:
        return "—"
    if kind == "percent":
        return f"{value * 100:.0f}%"
    if kind == "number":
        return f"{value:.1f}"
    return f"{value:.0f}"


def bars(points: list[tuple[date, float | None]], kind: str) -> list[Bar]:
    """Where each week's bar goes; rates are drawn on a 0-100% scale, other figures up to their largest."""
    top = 1.0 if kind == "percent" else max([v for _d, v in points if v is not None] + [1.0])
    slot = (WIDTH - LEFT - RIGHT) / max(len(points), 1)
    plot = HEIGHT - TOP - BOTTOM
    out = []
    for i, (week, v) in enumerate(points):
        height = 0.0 if v is None else plot * min(v / top, 1.0)
        out.append(Bar(LEFT + i * slot + slot * 0.15, TOP + plot - height, slot * 0.7, height, shown(v, kind),
                       f"{week.month}/{week.day}"))
    return out


def svg(key: str, title: str, points: list[tuple[date, float | None]], kind: str) -> Markup:
    """The chart of figure ``key`` as inline SVG markup (``title`` is its accessible name)."""
    parts = [f'<svg class="chart" id="chart-{escape(key)}" width="{WIDTH}" height="{HEIGHT}" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">',
             f'<line x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH - RIGHT}" y2="{HEIGHT - BOTTOM}" stroke="#999"/>']
    for b in bars(points, kind):
        centre = b.x + b.width / 2
        if b.height > 0:
            parts.append(f'<rect x="{b.x:.1f}" y="{b.y:.1f}" width="{b.width:.1f}" height="{b.height:.1f}" '
                         'fill="#1f4e8c"/>')
        parts.append(f'<text x="{centre:.1f}" y="{b.y - 4:.1f}" font-size="11" text-anchor="middle">'
                     f'{escape(b.text)}</text>')
        parts.append(f'<text x="{centre:.1f}" y="{HEIGHT - BOTTOM + 16}" font-size="11" text-anchor="middle" '
                     f'fill="#555">{escape(b.label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
