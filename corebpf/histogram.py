"""Histogram printing byte-identical to bcc's Table.print_log2_hist /
print_linear_hist, including per-key sections and the -j dict form.

Slots follow bcc: slot 0 unused, slot 1 holds 0 and 1, slot k holds
[2^(k-1), 2^k - 1] (the BPF side's hist_slot() in corebpf.bpf.h).
"""
from __future__ import annotations

import sys
import time

STARS_MAX = 40
LOG2_SLOTS = 65


def _stars(val: int, val_max: int, width: int) -> str:
    # bcc's loop, kept as is so rounding matches: i goes up while
    # i <= width*val/val_max - 1 and i < width.
    text = ""
    i = 0
    limit = (width * val / val_max) - 1 if val_max else -1
    while not (i > limit or i > width - 1):
        text += "*"
        i += 1
    if val > val_max:
        text = text[:-1] + "+"
    return text


def format_log2(vals, label: str = "value") -> str:
    """Text bcc's print_log2_hist prints for slot counts `vals` ('' if all zero)."""
    idx_max = -1
    val_max = 0
    for i, v in enumerate(vals):
        if v > 0:
            idx_max = i
        if v > val_max:
            val_max = v
    if idx_max <= 32:
        header = "     %-19s : count     distribution"
        body = "%10d -> %-10d : %-8d |%-*s|"
        stars = STARS_MAX
    else:
        header = "               %-29s : count     distribution"
        body = "%20d -> %-20d : %-8d |%-*s|"
        stars = STARS_MAX // 2
    out = []
    if idx_max > 0:
        out.append(header % label)
    for i in range(1, idx_max + 1):
        low = (1 << i) >> 1
        high = (1 << i) - 1
        if low == high:
            low -= 1
        val = vals[i]
        out.append(body % (low, high, val, stars, _stars(val, val_max, stars)))
    return "\n".join(out) + "\n" if out else ""


def format_log2_libbpf(vals, label: str = "value") -> str:
    """Text libbpf-tools' print_log2_hist prints (fsdist, ...) for bcc-slotted
    counts `vals` (its slot i is bcc's slot i + 1); '' if all zero."""
    vals = list(vals[1:])
    idx_max, val_max = -1, 0
    for i, v in enumerate(vals):
        if v > 0:
            idx_max = i
        if v > val_max:
            val_max = v
    if idx_max < 0:
        return ""
    narrow = idx_max <= 32
    stars = STARS_MAX if narrow else STARS_MAX // 2
    width = 10 if narrow else 20
    out = ["%*s%-*s : count    distribution" % (5 if narrow else 15, "", 19 if narrow else 29,
                                                 label)]
    for i in range(idx_max + 1):
        low, high = (1 << (i + 1)) >> 1, (1 << (i + 1)) - 1
        if low == high:
            low -= 1
        val = vals[i]
        n = min(val, val_max) * stars // val_max
        bar = "*" * n + " " * (stars - n) + ("+" if val > val_max else "")
        out.append("%*d -> %-*d : %-8d |%s|" % (width, low, width, high, val, bar))
    return "\n".join(out) + "\n"


def format_linear(vals, label: str = "value") -> str:
    """Text bcc's print_linear_hist prints (slot = value)."""
    idx_max = -1
    val_max = 0
    for i, v in enumerate(vals):
        if v > 0:
            idx_max = i
        if v > val_max:
            val_max = v
    header = "     %-13s : count     distribution"
    body = "        %-10d : %-8d |%-*s|"
    out = []
    if idx_max >= 0:
        out.append(header % label)
    for i in range(0, idx_max + 1):
        val = vals[i]
        out.append(body % (i, val, STARS_MAX, _stars(val, val_max, STARS_MAX)))
    return "\n".join(out) + "\n" if out else ""


def format_sections(sections, label: str, section_header: str = "Bucket ptr",
                    section_fmt=None, linear: bool = False) -> str:
    """bcc's per-key histograms: for each (key, vals), '\\n%s = %s' then its histogram.

    `sections` is an iterable of (key, slot counts) in the order to print
    (bcc: map iteration order).
    """
    fmt = format_linear if linear else format_log2
    out = []
    for key, vals in sections:
        shown = section_fmt(key) if section_fmt else repr(key)
        out.append("\n%s = %s\n" % (section_header, shown))
        out.append(fmt(vals, label))
    return "".join(out)


def json_hist(vals, label: str, section=None) -> dict:
    """The dict bcc's biolatency -j prints for one histogram."""
    max_nonzero = 0
    for i, v in enumerate(vals):
        if v != 0:
            max_nonzero = i
    data = []
    index, prev = 1, 0
    for i in range(len(vals)):
        if i != 0 and i <= max_nonzero:
            index *= 2
            data.append({"interval-start": prev, "interval-end": int(index) - 1,
                         "count": int(vals[i])})
            prev = index
    h = {"ts": time.strftime("%Y-%m-%d %H:%M:%S"), "val_type": label, "data": data}
    if section:
        h[section[0]] = section[1]
    return h


def print_log2(vals, label: str = "value", file=None):
    (file or sys.stdout).write(format_log2(vals, label))


def print_linear(vals, label: str = "value", file=None):
    (file or sys.stdout).write(format_linear(vals, label))
