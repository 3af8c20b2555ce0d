"""Trace MySQL server queries slower than a threshold, from mysqld's USDT
probes query__start/query__done.

usage: mysqld_qslower [--btf PATH] PID [min_ms]

--btf PATH: the running kernel's BTF from this file (kernels without
/sys/kernel/btf/vmlinux), as in every corebpf tool.
--json: JSON Lines, one object per query (`corebpf schema mysqld_qslower`).
--containers: each query's container (a CONTAINER column, a `container`
field in --json), as in every event tool.

examples:
    mysqld_qslower 1234        # queries of mysqld PID 1234 slower than 1 ms
    mysqld_qslower 1234 0.1    # slower than 0.1 ms
    mysqld_qslower 1234 0      # every query
"""
from __future__ import annotations

import sys

import corebpf

from . import _cli, _containers, _db, _jsonl

PROG = "mysqld_qslower"
USAGE = "USAGE: mysqld_qslower PID [min_ms]"
QUERY_MAX = 128
MAX_MS = ((1 << 64) - 1) // 1000000     # targ_min_ns is a u64


def take_btf(argv) -> list:
    """argv without corebpf's --btf PATH (applied: COREBPF_BTF), which the
    other tools get from _cli.Parser."""
    argv = list(argv)
    for i, arg in enumerate(argv):
        if arg == "--btf" or arg.startswith("--btf="):
            path = arg[6:] if arg.startswith("--btf=") else \
                (argv[i + 1] if i + 1 < len(argv) else None)
            if not path:
                raise _cli.UsageError("--btf: expected one argument")
            why = _cli.btf_file_problem(path)
            if why:
                raise _cli.UsageError(f"--btf {path}: {why}")
            import os
            os.environ["COREBPF_BTF"] = path
            return argv[:i] + argv[i + (1 if "=" in arg else 2):]
    return argv


def parse(argv):
    """(pid, min_ms text, min_ns); UsageError with bcc's usage line."""
    argv = take_btf(argv)
    if not argv or argv[0] in ("-h", "--help"):
        if argv:
            print(__doc__.strip())
            raise SystemExit(0)
        raise _cli.UsageError(USAGE)
    if argv[0].startswith("-") or len(argv) > 2:
        raise _cli.UsageError(USAGE)
    try:
        pid = int(argv[0])
        min_text = argv[1] if len(argv) == 2 else "1"
        min_ms = float(min_text)
    except ValueError:
        raise _cli.UsageError(USAGE) from None
    if not 0 <= min_ms <= MAX_MS:       # NaN, inf, negative, beyond u64 ns
        raise _cli.UsageError(USAGE)
    try:
        _cli.pid_type(str(pid))
    except _cli.argparse.ArgumentTypeError as e:
        raise _cli.UsageError(str(e)) from None
    return pid, min_text, int(min_ms * 1000000)


JSON = _db.query_json("one object per query slower than the threshold")

HEADER = "%-14s %-7s %8s %s" % ("TIME(s)", "PID", "MS", "QUERY")


def format_event(e, first_ns: int) -> str:
    # bcc keys queries by thread and prints that thread's ID as PID
    return "%-14.6f %-7d %8.3f %s" % ((e.start_ns - first_ns) / 1e9, e.tid,
                                      e.delta_ns / 1e6, e.query[:QUERY_MAX])


def run(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    ebpf = "--ebpf" in argv             # corebpf's, as in every tool: print, do not load
    json = "--json" in argv
    containers = "--containers" in argv
    pid, min_text, min_ns = parse([a for a in argv
                                   if a not in ("--ebpf", "--json", "--containers")])
    # what the other tools' _cli.setup does (privileges, COREBPF_BTF/PROBE checks) and,
    # above all, stop signals held for the loop: a Ctrl-C raised as KeyboardInterrupt
    # inside a ring buffer callback was lost (the tool ran on)
    _cli.setup()
    with corebpf.Object.open("dbquery") as obj:
        obj.rodata.targ_min_ns = min_ns
        _db.disable_unused(obj, False)
        _db.filter_pids(obj)
        a = _cli.argparse.Namespace(json=json, containers=containers)
        _containers.apply(obj, a)
        if ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        _db.attach_pids(obj, [pid])
        _jsonl.status(a, "Tracing MySQL server queries for PID %d slower than %s ms..."
                      % (pid, min_text))
        first = []

        def text(e):
            if not first:
                first.append(e.start_ns)
            return format_event(e, first[0])

        head, text = _containers.column(a, HEADER, text)
        rb, out = _jsonl.ring(obj, a, JSON, text, head)
        _cli.event_loop(rb, out)
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
