"""Count new processes (via fork), per second.

examples:
    pidpersec           # a line every second until Ctrl-C

probes: sched:sched_process_fork (tp_btf, else the raw or classic tracepoint),
which fires for every fork/clone, threads included, as bcc's kprobe on
sched_fork (--probe kprobe, where the kernel has kprobes) does.
"""
from __future__ import annotations

import time

import corebpf

from . import _cli

PROG = "pidpersec"


def parse(argv=None):
    return _cli.Parser(PROG, __doc__).parse_args(argv)


def format_line(count: int, now: str = None) -> str:
    return "%s: PIDs/sec: %d" % (now or time.strftime("%H:%M:%S"), count)


def run(argv=None):
    a = parse(argv)
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        obj.attach()
        last = obj.bss.forks        # before the banner: a fork right after it counts
        print("Tracing... Ctrl-C to end.", flush=True)
        while not _cli.wait_stop(1):            # bcc prints nothing more on Ctrl-C
            now = obj.bss.forks
            print(format_line(now - last), flush=True)
            last = now
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
