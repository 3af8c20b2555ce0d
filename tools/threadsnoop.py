"""List new thread creation: every pthread_create() on the system, with the
calling process and the new thread's start routine.

examples:
    threadsnoop        # list new thread creation
"""
from __future__ import annotations

import corebpf
from corebpf.symbols.elf import ElfError, sym_text
from corebpf.user import uprobes

from . import _cli, _containers, _jsonl

PROG = "threadsnoop"
HEADER = "%-10s %-7s %-16s %s" % ("TIME(ms)", "PID", "COMM", "FUNC")


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    _jsonl.add_args(p)
    _containers.add_args(p)
    return p.parse_args(argv)


def func_text(pid: int, addr: int) -> str:
    """bcc's b.sym(start, pid), the hex address when it has no symbol."""
    name = sym_text(pid, addr, show_module=False)
    return hex(addr) if name == "[unknown]" else name


F = _jsonl.Field
JSON = _jsonl.Events("one object per pthread_create() call", [
    F("ts_ns", "integer", "kernel time (CLOCK_MONOTONIC)", "ns", get=lambda e: e.ts),
    F("pid", "integer", "the caller's process ID"),
    F("comm", "string", "the caller's command name"),
    F("start", "string", "the start routine's address, hex", get=lambda e: hex(e.start)),
    F("func", "string|null", "the start routine's symbol, null if none",
      get=lambda e: _func_or_none(e.pid, e.start)),
    _containers.FIELD,
])


def _func_or_none(pid: int, addr: int):
    name = sym_text(pid, addr, show_module=False)
    return None if name == "[unknown]" else name


def format_event(e, first_ts: int, func: str) -> str:
    return "%-10d %-7d %-16s %s" % ((e.ts - first_ts) // 1000000, e.pid, e.comm, func)


def libraries() -> list:
    """The files that define pthread_create: the C library (glibc >= 2.34)
    and/or libpthread (older glibc)."""
    out = []
    for lib in ("c", "pthread"):
        try:
            path = uprobes.resolve(lib)
        except ElfError:
            continue
        if path not in out and uprobes.has_function(path, "pthread_create"):
            out.append(path)
    if not out:
        raise ElfError("no library defining pthread_create (libc, libpthread) found")
    return out


def run(argv=None):
    a = parse(argv)
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        _containers.apply(obj, a)
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        libs = libraries()
        obj.load()
        for path in libs:
            uprobes.attach(obj.programs["pthread_create_entry"], path, "pthread_create")
        first = []

        def text(e):
            if not first:
                first.append(e.ts)
            return format_event(e, first[0], func_text(e.pid, e.start))

        head, text = _containers.column(a, HEADER, text)
        rb, out = _jsonl.ring(obj, a, JSON, text, head)
        _cli.event_loop(rb, out)
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
