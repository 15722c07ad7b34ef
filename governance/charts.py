"""Bar charts as inline SVG, drawn on the server: the pages allow no script, so no charting library in the browser.

Hand-written rather than a plotting library because the charts are plain bars with labels and an
optional target line, and the output must be a few hundred bytes of escaped SVG inside the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 560, 220, 40, 40, 24
COLOURS = ("#1f3a5f", "#4f8a5b", "#b5523b", "#c79a2e", "#6c5b7b")


@dataclass(frozen=True)
class Series:
    name: str
    values: list[float]


def _fmt(v: float) -> str:
    return f"{v:.0f}" if float(v).is_integer() else f"{v:.1f}"


def bars(title: str, labels: list[str], series: list[Series], *, target: float | None = None,
         target_label: str = "", chart_id: str = "") -> str:
    """Grouped bars, one group per label; each bar carries its value as text, so it reads without colour."""
    top = max([v for s in series for v in s.values] + [target or 0, 1])
    plot_w, plot_h = WIDTH - LEFT - 10, HEIGHT - BOTTOM - TOP
    group = plot_w / max(len(labels), 1)
    bar = group * 0.8 / max(len(series), 1)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart" id="{escape(chart_id)}" '
           f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}">',
           f"<title>{escape(title)}</title>",
           f'<text x="{LEFT}" y="16" font-size="13" font-weight="600">{escape(title)}</text>',
           f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - 10}" y2="{TOP + plot_h}" stroke="#889"/>']
    for i, label in enumerate(labels):
        x0 = LEFT + i * group + group * 0.1
        for j, s in enumerate(series):
            v = s.values[i] if i < len(s.values) else 0
            h = plot_h * v / top
            x, y = x0 + j * bar, TOP + plot_h - h
            out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(bar - 2, 1):.1f}" height="{h:.1f}" '
                       f'fill="{COLOURS[j % len(COLOURS)]}"><title>{escape(s.name)} {escape(label)}: {_fmt(v)}'
                       "</title></rect>")
            out.append(f'<text x="{x + bar / 2 - 1:.1f}" y="{y - 3:.1f}" font-size="10" text-anchor="middle">'
                       f"{_fmt(v)}</text>")
        out.append(f'<text x="{x0 + group * 0.4:.1f}" y="{TOP + plot_h + 14}" font-size="10" '
                   f'text-anchor="middle">{escape(label)}</text>')
    if target is not None:
        y = TOP + plot_h - plot_h * target / top
        out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - 10}" y2="{y:.1f}" stroke="#b5523b" '
                   f'stroke-dasharray="4 3"/><text x="{WIDTH - 12}" y="{y - 3:.1f}" font-size="10" '
                   f'text-anchor="end" fill="#b5523b">{escape(target_label)} {_fmt(target)}</text>')
    for j, s in enumerate(series):  # legend
        x = LEFT + j * 140
        out.append(f'<rect x="{x}" y="{HEIGHT - 14}" width="10" height="10" fill="{COLOURS[j % len(COLOURS)]}"/>'
                   f'<text x="{x + 14}" y="{HEIGHT - 5}" font-size="10">{escape(s.name)}</text>')
    out.append("</svg>")
    return "".join(out)
