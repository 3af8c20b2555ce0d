"""Print the commands typed into interactive bash shells (what readline()
returns), from every running bash.

examples:
    bashreadline                 # commands from all running bash shells
    bashreadline -s              # bash linked against /lib/libreadline.so
    bashreadline -s /usr/lib/x86_64-linux-gnu/libreadline.so.8   # that library
"""
from __future__ import annotations

import os
import time

import corebpf
from corebpf.user import uprobes
from corebpf.symbols.elf import find_library

from . import _cli, _containers, _jsonl

PROG = "bashreadline"
DEFAULT_SHARED = "/lib/libreadline.so"


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("-s", "--shared", nargs="?", const=DEFAULT_SHARED, metavar="PATH",
                   help="trace readline in this shared library instead of bash "
                        f"(bare -s: {DEFAULT_SHARED})")
    _jsonl.add_args(p)
    _containers.add_args(p)
    return p.parse_args(argv)


def target(shared) -> str:
    """The binary whose readline is probed: bash, or the library given."""
    if not shared:
        return uprobes.resolve("/bin/bash")
    if shared == DEFAULT_SHARED and not os.path.exists(shared):
        return find_library("readline") or uprobes.resolve(shared)
    return uprobes.resolve(shared)


def symbol(path: str) -> str:
    """bcc's choice: readline_internal_teardown where the binary exports it."""
    return "readline_internal_teardown" if uprobes.has_function(
        path, "readline_internal_teardown") else "readline"


HEADER = "%-9s %-7s %s" % ("TIME", "PID", "COMMAND")


F = _jsonl.Field
JSON = _jsonl.Events("one object per line read by readline()", [
    F("pid", "integer", "process ID"),
    F("line", "string", "the line entered"),
    _containers.FIELD,
])


def format_event(e, now: float = None) -> str:
    return "%-9s %-7d %s" % (time.strftime("%H:%M:%S", time.localtime(now)), e.pid, e.line)


def run(argv=None):
    a = parse(argv)
    _cli.setup(a)
    path = target(a.shared)
    sym = symbol(path)
    with corebpf.Object.open(PROG) as obj:
        _containers.apply(obj, a)
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        uprobes.attach(obj.programs["readline_return"], path, sym, retprobe=True)
        head, text = _containers.column(a, HEADER, format_event)
        rb, out = _jsonl.ring(obj, a, JSON, text, head)
        _cli.event_loop(rb, out)
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
