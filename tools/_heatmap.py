"""`--heatmap FILE` for the latency histogram tools (biolatency, runqlat,
cpudist, ext4dist, funclatency; the fs *dist tools as they land).

The tool's histogram map is read once a second while it runs: each read is
one column of the heat map (all keys' log2 slots summed), and what was read
is kept for the tool's own printout, which still comes every `interval` as
bcc prints it.  The hook:

    hists = _heatmap.tap(a, obj.maps["hists"], PROG, slots=lambda k, v: v.slots,
                         unit="usecs", title="biolatency: block I/O latency")
    ... emit() calls hists.pop_items() as before ...
    _cli.interval_loop(a.interval, a.count, emit, wait=hists.wait_stop)
    hists.write()

Without --heatmap, tap() returns a pass-through with the same methods.
`slots(key, value)` gives a value's counts per slot: a sequence indexed by
slot, or a {slot: count} mapping.
"""
from __future__ import annotations

import time

from . import _cli


def add_args(p):
    p.add_argument("--heatmap", metavar="FILE",
                   help="also write a latency heat map (SVG) to FILE: one column per second")


def check_args(a):
    """Before tracing: the heat map file can be written."""
    if getattr(a, "heatmap", None):
        from ._stacks import check_writable
        check_writable("heatmap", a.heatmap)


def tap(a, map_, prog: str, slots, unit: str, title: str):
    path = getattr(a, "heatmap", None)
    if not path:
        return _Plain(map_)
    return Recorder(map_, prog, path, slots, unit, title)


class _Plain:
    def __init__(self, map_):
        self.map = map_

    def __getattr__(self, name):            # fd, items(), ...: the map's
        return getattr(self.map, name)

    def pop_items(self):
        return self.map.pop_items()

    def wait_stop(self, seconds) -> bool:
        return _cli.wait_stop(seconds)

    def write(self):
        pass


def _merge(a, b):
    if a is None:
        return b
    if isinstance(a, bool) or isinstance(a, (str, bytes)):
        return a
    if isinstance(a, int):
        return a + b
    if isinstance(a, tuple) and hasattr(a, "_fields"):
        return type(a)(*(_merge(x, y) for x, y in zip(a, b)))
    if isinstance(a, (tuple, list)):
        return type(a)(_merge(x, y) for x, y in zip(a, b))
    return a


class Recorder:
    """Reads the map every second into heat map columns and keeps the items
    for the tool's next pop_items()."""

    STEP = 1.0

    def __init__(self, map_, prog, path, slots, unit, title):
        self.map = map_
        self.prog, self.path, self.slots, self.unit, self.title = prog, path, slots, unit, title
        self.columns = []
        self._col = {}
        self._acc = {}
        self._t0 = time.monotonic()
        self._next = self._t0 + self.STEP

    def __getattr__(self, name):
        return getattr(self.map, name)

    def _read(self):
        for k, v in self.map.pop_items():
            self._acc[k] = _merge(self._acc.get(k), v)
            counts = self.slots(k, v)
            pairs = counts.items() if hasattr(counts, "items") else enumerate(counts)
            for slot, n in pairs:
                if n:
                    self._col[slot] = self._col.get(slot, 0) + n

    def _close(self):
        self.columns.append((round(self._next - self.STEP - self._t0, 3), self._col))
        self._col = {}
        self._next += self.STEP

    def pop_items(self):
        self._read()
        out = list(self._acc.items())
        self._acc.clear()
        return out

    def wait_stop(self, seconds) -> bool:
        """_cli.wait_stop(seconds), reading a column at each second boundary."""
        deadline = time.monotonic() + seconds
        while True:
            now = time.monotonic()
            if now >= deadline:
                return False
            if _cli.wait_stop(min(deadline, self._next) - now):
                self._read()
                return True
            if time.monotonic() >= self._next:
                self._read()
                self._close()

    def write(self):
        from corebpf.report import heatmap

        from ._stacks import _write
        # no read here: the picture holds exactly what the text printed
        if self._col:
            tail = time.monotonic() - (self._next - self.STEP)
            if tail < self.STEP / 2 and self.columns:   # a few ms after the last boundary
                last = self.columns[-1][1]
                for slot, n in self._col.items():
                    last[slot] = last.get(slot, 0) + n
            else:
                self._close()
        total = sum(n for _, c in self.columns for n in c.values())
        svg = heatmap.render(self.columns, title=self.title, unit=self.unit,
                             interval=self.STEP,
                             subtitle=f"{len(self.columns)} s, {total:,} events")
        _write(self.path, svg.encode("utf-8"), self.prog)
