"""Count calls of every kernel function whose name starts with vfs_, until
Ctrl-C or for `time` seconds; then print them, fewest calls first.

This needs kprobes: kernel functions have no tracepoints, and counting
syscalls instead would name different things.  On a kernel without kprobes
it says so and exits.

examples:
    vfscount            # count until Ctrl-C
    vfscount 10         # count for 10 seconds
"""
from __future__ import annotations

import bisect
import re

import corebpf

from . import _cli, _jsonl

PROG = "vfscount"


def vfs_functions(kallsyms: bytes) -> list:
    """[(address, name)] of the vfs_* text symbols, sorted by address."""
    out = []
    for m in re.finditer(rb"^([0-9a-f]+) [tT] (vfs_[A-Za-z0-9_]+)$", kallsyms, re.M):
        out.append((int(m.group(1), 16), m.group(2).decode()))
    return sorted(set(out))


def resolved(items, funcs) -> list:
    """[(function address, name, count)] by ascending count."""
    addrs = [a for a, _ in funcs]
    out = []
    for ip, n in sorted(items, key=lambda kv: kv[1]):
        i = bisect.bisect_right(addrs, ip) - 1
        addr, name = funcs[i] if i >= 0 else (ip, "[unknown]")
        out.append((addr, name, n))
    return out


F = _jsonl.Field
JSON = _jsonl.Intervals("one object at the end: calls per vfs_* function", rows=[
    F("addr", "string", "the function's address, hex", get=lambda r: hex(r[0])),
    F("func", "string", "the function's name", get=lambda r: r[1]),
    F("count", "integer", "calls counted", get=lambda r: r[2]),
])


def render(items, funcs) -> str:
    """The table: a blank line, the header, rows by ascending count."""
    lines = ["", "%-16s %-26s %8s" % ("ADDR", "FUNC", "COUNT")]
    for addr, name, n in resolved(items, funcs):
        lines.append("%-16x %-26s %8d" % (addr, name, n))
    return "\n".join(lines)


def run(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("time", nargs="?", type=_cli.positive_int,
                   help="seconds to count for (default: until Ctrl-C)")
    _jsonl.add_args(p)
    a = p.parse_args(argv)
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()              # MissingFeature (one line) on a kernel without kprobes
        with open("/proc/kallsyms", "rb") as f:
            funcs = vfs_functions(f.read())
        prog = obj.programs["count__kprobe"]
        attached = 0
        for _, name in funcs:
            try:
                prog.attach_kprobe(name)
                attached += 1
            except corebpf.AttachError:
                pass            # not every function can be probed (notrace, inlined)
        if not attached:
            raise corebpf.MissingFeature(f"{PROG}: no vfs_* function could be probed")
        counts = obj.maps["counts"]
        _jsonl.status(a, "Tracing... Ctrl-C to end.")
        _cli.wait_stop(a.time if a.time else _cli.FOREVER)
        if a.json:
            JSON.write(resolved(counts.items(), funcs))
        else:
            print(render(counts.items(), funcs), flush=True)
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
