"""Interactive flame graphs as one self-contained SVG (after Brendan Gregg's
flamegraph.pl): x is the share of the total, y the stack depth, the root at
the bottom.  In a browser: hover shows a frame's name, value and share;
click zooms into a frame (its ancestors stay, dimmed; "Reset Zoom" or a
click on the root goes back); "Search" (or Ctrl-F) highlights the frames
whose name matches a regular expression and shows their share.  Kernel and
user frames are coloured apart (kernel: orange-brown, user: red-yellow,
the task name at the root: grey).

Every frame is a `<g class="f">` with `data-name`, `data-kind`, `data-v`
(its value) and a `<rect>` whose width is value / total of the plot width:
tests and scripts can read the picture back from the DOM.
"""
from __future__ import annotations

import zlib

from . import KERNEL, PROCESS, USER, xml_text

WIDTH = 1200
FRAME_H = 16
FONT = 12
PAD_TOP = 50
PAD_BOTTOM = 40
SIDE = 10
MIN_WIDTH = 0.1             # px: narrower frames are left out, as flamegraph.pl does


class _Node:
    __slots__ = ("name", "kind", "value", "children")

    def __init__(self, name, kind):
        self.name, self.kind, self.value, self.children = name, kind, 0, {}


def merge(stacks) -> _Node:
    """The tree of all stacks: [(frames root->leaf [(name, kind)], value)]."""
    root = _Node("all", "root")
    for frames, value in stacks:
        if value <= 0:
            continue
        root.value += value
        node = root
        for name, kind in frames:
            key = (name, kind)
            child = node.children.get(key)
            if child is None:
                child = node.children[key] = _Node(name, kind)
            child.value += value
            node = child
    return root


def _colour(name: str, kind: str) -> str:
    """A stable colour per name: hue from a hash of the name, palette per kind."""
    h = zlib.crc32(name.encode("utf-8", "surrogateescape"))
    v1, v2, v3 = (h & 0xFF) / 255, ((h >> 8) & 0xFF) / 255, ((h >> 16) & 0xFF) / 255
    if kind == KERNEL:
        r, g, b = 200 + int(55 * v3), 90 + int(65 * v1), 20 + int(30 * v2)
    elif kind == PROCESS or kind == "root":
        c = 170 + int(40 * v1)
        r, g, b = c, c, c + 10
    else:
        r, g, b = 205 + int(50 * v3), int(230 * v1), int(55 * v2)
    return f"rgb({r},{g},{b})"


def _fmt(v) -> str:
    return f"{v:,}" if isinstance(v, int) else f"{v:,.2f}"


def render(stacks, title: str = "Flame Graph", unit: str = "samples",
           subtitle: str = "", width: int = WIDTH) -> str:
    """The SVG text for [(frames root->leaf, value)]."""
    root = merge(stacks)
    total = root.value
    plot_w = width - 2 * SIDE
    scale = plot_w / total if total else 0.0
    frames = []                     # (x, depth, w, node)
    depth_max = 0
    todo = [(root, 0, 0.0)]
    while todo:
        node, depth, x = todo.pop()
        w = node.value * scale
        if w < MIN_WIDTH and node is not root:
            continue
        frames.append((x, depth, w, node))
        depth_max = max(depth_max, depth)
        cx = x
        for child in sorted(node.children.values(), key=lambda c: (c.name, c.kind)):
            todo.append((child, depth + 1, cx))
            cx += child.value * scale
    height = PAD_TOP + (depth_max + 1) * FRAME_H + PAD_BOTTOM
    out = [
        '<?xml version="1.0" standalone="no"?>\n',
        f'<svg version="1.1" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        f'id="flamegraph" data-total="{total}" data-unit="{xml_text(unit)}" '
        f'data-plot-width="{plot_w}">\n',
        f"<style>{_CSS}</style>\n",
        f"<script><![CDATA[{_JS}]]></script>\n",
        '<defs><linearGradient id="bg" y1="0" y2="1" x1="0" x2="0">'
        '<stop stop-color="#eeeeee" offset="5%"/><stop stop-color="#eeeeb0" offset="95%"/>'
        '</linearGradient></defs>\n',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="url(#bg)"/>\n',
        f'<text id="title" x="{width / 2:.0f}" y="24" text-anchor="middle">{xml_text(title)}</text>\n',
        f'<text id="subtitle" x="{width / 2:.0f}" y="40" text-anchor="middle">'
        f'{xml_text(subtitle)}</text>\n',
        f'<text id="unzoom" x="{SIDE}" y="24" class="hide">Reset Zoom</text>\n',
        f'<text id="search" x="{width - SIDE - 110}" y="24">Search</text>\n',
        f'<text id="matched" x="{width - SIDE - 110}" y="{height - 12}"></text>\n',
        f'<text id="details" x="{SIDE}" y="{height - 12}"> </text>\n',
        '<g id="frames">\n',
    ]
    base = height - PAD_BOTTOM
    for x, depth, w, node in frames:
        y = base - (depth + 1) * FRAME_H
        name = node.name if node is not root else "all"
        share = 100.0 * node.value / total if total else 0.0
        esc = xml_text(name)
        chars = int(w / (FONT * 0.59))
        label = name if len(name) <= chars else (name[:chars - 2] + ".." if chars >= 3 else "")
        out.append(
            f'<g class="f" data-name="{esc}" data-kind="{node.kind}" data-v="{node.value}">'
            f"<title>{esc} ({_fmt(node.value)} {xml_text(unit)}, {share:.2f}%)</title>"
            f'<rect x="{x + SIDE:.2f}" y="{y}" width="{w:.2f}" height="{FRAME_H - 1}" '
            f'fill="{_colour(name, node.kind)}" rx="2" ry="2"/>'
            f'<text x="{x + SIDE + 3:.2f}" y="{y + FRAME_H - 4.5:.1f}">{xml_text(label)}</text>'
            "</g>\n")
    out.append("</g>\n</svg>\n")
    return "".join(out)


_CSS = """
text { font-family: Verdana, sans-serif; font-size: 12px; fill: #000; }
#title { font-size: 17px; }
#subtitle { font-size: 12px; fill: #555; }
#search, #unzoom { cursor: pointer; opacity: 0.3; }
#search:hover, #search.show, #unzoom:hover { opacity: 1; }
.hide { display: none; }
g.f { cursor: pointer; }
g.f:hover rect { stroke: #000; stroke-width: 0.5; }
g.f text { pointer-events: none; }
g.dim rect { opacity: 0.5; }
"""

# Zoom recomputes every frame's x and width from data-v against the zoomed
# frame; frames outside the zoomed subtree are hidden, its ancestors dimmed.
_JS = r"""
"use strict";
var svg, frames, details, matchedtxt, searchbtn, unzoombtn, total, plotw, side = 10;
var zoomed = null, current = null;
window.addEventListener("load", function () {
  svg = document.getElementById("flamegraph");
  frames = Array.prototype.slice.call(document.querySelectorAll("g.f"));
  details = document.getElementById("details");
  matchedtxt = document.getElementById("matched");
  searchbtn = document.getElementById("search");
  unzoombtn = document.getElementById("unzoom");
  total = parseFloat(svg.getAttribute("data-total"));
  plotw = parseFloat(svg.getAttribute("data-plot-width"));
  frames.forEach(function (g) {
    var r = g.querySelector("rect");
    g._x = parseFloat(r.getAttribute("x")); g._w = parseFloat(r.getAttribute("width"));
    g._y = parseFloat(r.getAttribute("y")); g._v = parseFloat(g.getAttribute("data-v"));
    g.addEventListener("mouseover", function () {
      details.textContent = g.querySelector("title").textContent;
    });
    g.addEventListener("mouseout", function () { details.textContent = " "; });
    g.addEventListener("click", function () { zoom(g); });
  });
  searchbtn.addEventListener("click", function () { search_prompt(); });
  unzoombtn.addEventListener("click", function () { unzoom(); });
  window.addEventListener("keydown", function (e) {
    if ((e.ctrlKey || e.metaKey) && e.key === "f") { e.preventDefault(); search_prompt(); }
    if (e.key === "Escape") { search(null); }
  });
});
function label(g, w) {
  var t = g.querySelector("text"), name = g.getAttribute("data-name");
  var chars = Math.floor(w / (12 * 0.59));
  t.textContent = name.length <= chars ? name : (chars >= 3 ? name.slice(0, chars - 2) + ".." : "");
}
function place(g, x, w) {
  var r = g.querySelector("rect"), t = g.querySelector("text");
  r.setAttribute("x", x.toFixed(2)); r.setAttribute("width", w.toFixed(2));
  t.setAttribute("x", (x + 3).toFixed(2)); label(g, w);
}
function zoom(target) {
  if (target.getAttribute("data-kind") === "root") { unzoom(); return; }
  zoomed = target;
  unzoombtn.classList.remove("hide");
  var x0 = target._x, w0 = target._w, k = plotw / w0, ty = target._y;
  frames.forEach(function (g) {
    g.classList.remove("hide"); g.classList.remove("dim");
    var inside = g._x >= x0 - 0.001 && g._x + g._w <= x0 + w0 + 0.001;
    if (g._y <= ty && inside) {                    /* the target and its subtree */
      place(g, side + (g._x - x0) * k, g._w * k);
    } else if (g._y > ty && g._x <= x0 + 0.001 && g._x + g._w >= x0 + w0 - 0.001) {
      g.classList.add("dim"); place(g, side, plotw);      /* an ancestor */
    } else {
      g.classList.add("hide");
    }
  });
}
function unzoom() {
  zoomed = null;
  unzoombtn.classList.add("hide");
  frames.forEach(function (g) {
    g.classList.remove("hide"); g.classList.remove("dim"); place(g, g._x, g._w);
  });
}
function search_prompt() {
  if (current) { search(null); return; }
  var term = prompt("Search for (regular expression):", "");
  if (term) search(term);
}
function search(term) {
  current = term;
  var re = null;
  if (term) { try { re = new RegExp(term); } catch (e) { re = null; } }
  var matched = [];
  frames.forEach(function (g) {
    var r = g.querySelector("rect");
    if (r._fill === undefined) r._fill = r.getAttribute("fill");
    if (re && g.getAttribute("data-kind") !== "root" && re.test(g.getAttribute("data-name"))) {
      r.setAttribute("fill", "rgb(230,0,230)"); matched.push(g);
    } else {
      r.setAttribute("fill", r._fill);
    }
  });
  /* count each matched subtree once: skip frames inside another match */
  var sum = 0;
  matched.forEach(function (g) {
    var nested = matched.some(function (o) {
      return o !== g && o._y > g._y && o._x <= g._x + 0.001 && o._x + o._w >= g._x + g._w - 0.001;
    });
    if (!nested) sum += g._v;
  });
  searchbtn.classList.toggle("show", !!re);
  searchbtn.textContent = re ? "Reset Search" : "Search";
  matchedtxt.textContent = re ? "Matched: " + (100 * sum / total).toFixed(1) + "%" : "";
  return sum;
}
"""
