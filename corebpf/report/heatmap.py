"""Latency heat maps as one SVG, in the style of Brendan Gregg's latency heat
maps: time on x (one column per interval), latency on y (one row per log2
bucket, as the tools' histograms count them), colour = how many events fell
in that bucket in that interval (white: none; then yellow to dark red,
linear in the count up to the busiest cell).  Hover shows the interval,
the bucket's range and the count.

Every cell is a `<rect class="c">` with `data-t` (the column), `data-b`
(the bucket: bcc's log2 slot) and `data-n` (the count): tests and scripts
read the picture back from the DOM.
"""
from __future__ import annotations

from . import xml_text

CELL_W = 14
CELL_H = 14
LEFT = 110
TOP = 50
BOTTOM = 60
RIGHT = 20


def bucket_range(slot: int) -> tuple:
    """[low, high] values counted in bcc's log2 slot (0: 0, 1: 1, k: 2^(k-1)..2^k-1)."""
    if slot == 0:
        return 0, 0
    return 1 << (slot - 1), (1 << slot) - 1


def _colour(n: int, peak: int) -> str:
    if n <= 0 or peak <= 0:
        return "rgb(255,255,255)"
    f = n / peak
    # light yellow (255,240,160) -> orange -> dark red (140,0,0)
    if f < 0.5:
        t = f / 0.5
        r, g, b = 255, 240 - int(110 * t), 160 - int(160 * t)
    else:
        t = (f - 0.5) / 0.5
        r, g, b = 255 - int(115 * t), 130 - int(130 * t), 0
    return f"rgb({r},{g},{b})"


def render(columns, title: str = "Latency Heat Map", unit: str = "usecs",
           interval: float = 1.0, subtitle: str = "") -> str:
    """SVG text for columns: [(seconds since start, {slot: count})], one per
    interval, in time order; interval: the seconds each column covers."""
    slots = sorted({s for _, h in columns for s, n in h.items() if n > 0})
    lo, hi = (slots[0], slots[-1]) if slots else (0, 0)
    rows = list(range(lo, hi + 1))
    peak = max((n for _, h in columns for n in h.values()), default=0)
    ncol = max(len(columns), 1)
    width = LEFT + ncol * CELL_W + RIGHT
    width = max(width, 420)
    height = TOP + len(rows) * CELL_H + BOTTOM
    total = sum(n for _, h in columns for n in h.values())
    out = [
        '<?xml version="1.0" standalone="no"?>\n',
        f'<svg version="1.1" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'xmlns="http://www.w3.org/2000/svg" id="heatmap" data-columns="{len(columns)}" '
        f'data-rows="{len(rows)}" data-peak="{peak}" data-total="{total}" '
        f'data-unit="{xml_text(unit)}">\n',
        "<style>text { font-family: Verdana, sans-serif; font-size: 11px; fill: #000; } "
        "#title { font-size: 16px; } rect.c:hover { stroke: #000; stroke-width: 1; }</style>\n",
        f'<script><![CDATA[{_JS}]]></script>\n',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#f8f8f8"/>\n',
        f'<text id="title" x="{width / 2:.0f}" y="22" text-anchor="middle">{xml_text(title)}</text>\n',
        f'<text id="subtitle" x="{width / 2:.0f}" y="38" text-anchor="middle">'
        f'{xml_text(subtitle)}</text>\n',
        '<g id="cells">\n',
    ]
    base = TOP + len(rows) * CELL_H
    for ci, (t, hist) in enumerate(columns):
        x = LEFT + ci * CELL_W
        for ri, slot in enumerate(rows):
            n = hist.get(slot, 0)
            y = base - (ri + 1) * CELL_H
            a, b = bucket_range(slot)
            tip = f"{t:g}-{t + interval:g} s, {a}-{b} {unit}: {n}"
            out.append(f'<rect class="c" x="{x}" y="{y}" width="{CELL_W - 1}" '
                       f'height="{CELL_H - 1}" fill="{_colour(n, peak)}" data-t="{ci}" '
                       f'data-b="{slot}" data-n="{n}"><title>{xml_text(tip)}</title></rect>\n')
    out.append("</g>\n")
    for ri, slot in enumerate(rows):            # y axis: bucket lower bounds
        y = base - ri * CELL_H - 3
        a, _ = bucket_range(slot)
        out.append(f'<text x="{LEFT - 6}" y="{y}" text-anchor="end">{a}</text>\n')
    out.append(f'<text x="14" y="{TOP + len(rows) * CELL_H / 2:.0f}" '
               f'transform="rotate(-90 14 {TOP + len(rows) * CELL_H / 2:.0f})" '
               f'text-anchor="middle">{xml_text(unit)} (log2 buckets)</text>\n')
    step = max(1, len(columns) // 10)
    for ci in range(0, len(columns), step):     # x axis: seconds
        x = LEFT + ci * CELL_W + CELL_W / 2
        out.append(f'<text x="{x:.0f}" y="{base + 16}" text-anchor="middle">'
                   f'{columns[ci][0]:g}</text>\n')
    out.append(f'<text x="{LEFT + len(columns) * CELL_W / 2:.0f}" y="{base + 34}" '
               'text-anchor="middle">time (s)</text>\n')
    out.append(f'<text id="details" x="{LEFT}" y="{height - 8}"> </text>\n')
    out.append("</svg>\n")
    return "".join(out)


_JS = r"""
"use strict";
window.addEventListener("load", function () {
  var details = document.getElementById("details");
  Array.prototype.forEach.call(document.querySelectorAll("rect.c"), function (c) {
    c.addEventListener("mouseover", function () {
      details.textContent = c.querySelector("title").textContent;
    });
    c.addEventListener("mouseout", function () { details.textContent = " "; });
  });
});
"""
