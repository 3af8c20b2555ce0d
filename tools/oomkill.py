"""Trace the kernel's out-of-memory killer: one line per OOM kill, naming the
task whose allocation triggered it, the victim, the pages the OOM domain had
and the load averages.

The pages column is oom_control's totalpages where the kernel has kprobes
(bcc's probe).  With the oom:mark_victim tracepoint it is the limit of the
memory cgroup that was at its limit, or, for a machine-wide OOM, RAM plus
swap in pages (what the kernel counts there).

examples:
    oomkill             # trace OOM kills
"""
from __future__ import annotations

import os
import time

import corebpf
from corebpf import features

from . import _cli, _containers, _jsonl

PROG = "oomkill"


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    _jsonl.add_args(p)
    _containers.add_args(p)
    return p.parse_args(argv)


def machine_pages() -> int:
    """RAM + swap in pages: the OOM domain of an unconstrained OOM."""
    kb = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(("MemTotal:", "SwapTotal:")):
                kb += int(line.split()[1])
    return kb * 1024 // os.sysconf("SC_PAGE_SIZE")


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return f.read().rstrip()


def format_event(e, now: float = None, avg: str = None, pages: int = None) -> str:
    if not e.pages:
        pages = machine_pages() if pages is None else pages
    else:
        pages = e.pages
    return ('%s Triggered by PID %d ("%s"), OOM kill of PID %d ("%s"), %d pages, loadavg: %s'
            % (time.strftime("%H:%M:%S", time.localtime(now)), e.fpid, e.fcomm, e.tpid,
               e.tcomm, pages, loadavg() if avg is None else avg))


F = _jsonl.Field
JSON = _jsonl.Events("one object per OOM kill", [
    F("fpid", "integer", "process ID that triggered the OOM"),
    F("fcomm", "string", "its command name"),
    F("tpid", "integer", "process ID killed"),
    F("tcomm", "string", "its command name"),
    F("pages", "integer", "pages of the OOM domain (totalpages)",
      get=lambda e: e.pages or machine_pages()),
    F("loadavg", "string", "/proc/loadavg when the tool read the event",
      get=lambda e: loadavg()),
    _containers.FIELD,
])


def victim_tracepoint_usable() -> bool:
    """mark_victim carries the victim task on recent kernels (about 6.8 on);
    before, only its pid: then the kprobe, where there is one, tells more."""
    try:
        with open(os.path.join(features.tracefs(), "events/oom/mark_victim/format")) as f:
            return "comm" in f.read()
    except OSError:
        return True         # let the probe selection name what is missing


def run(argv=None):
    a = parse(argv)
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        if not victim_tracepoint_usable():
            for p in obj.programs.values():
                if p.hook == "victim":
                    p.autoload = False
        _containers.apply(obj, a)
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        obj.attach()
        rb, out = _jsonl.ring(obj, a, JSON,             # no column line: the id leads
                              lambda e: _containers.text(a, e) + format_event(e),
                              "Tracing OOM kills... Ctrl-C to stop.")
        _cli.event_loop(rb, out)
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
