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

from . import _cli, _jsonl

PROG = "pidpersec"


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    _jsonl.add_args(p)
    return p.parse_args(argv)


JSON = _jsonl.Intervals("one object per second: new processes (and threads) in it", [
    _jsonl.Field("pids", "integer", "new PIDs in the second (forks, clones)")])


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
        _jsonl.status(a, "Tracing... Ctrl-C to end.")
        while not _cli.wait_stop(1):            # bcc prints nothing more on Ctrl-C
            now = obj.bss.forks
            if a.json:
                JSON.write(pids=now - last)
            else:
                print(format_line(now - last), flush=True)
            last = now
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
