"""Trace why file gone (deleted or renamed).

examples:
    filegone           # trace all file gone events
    filegone -p 181    # only trace PID 181

probes: the unlink, unlinkat, rmdir, rename, renameat and renameat2 syscall
tracepoints (the file's name is the last component of the path the caller
gave); with --probe fentry or --probe kprobe, on kernels that have them:
vfs_unlink, vfs_rmdir and vfs_rename (as bcc: the dentry's name).  Only
calls that succeed are shown.
"""
from __future__ import annotations

import time

import corebpf
from corebpf import features

from . import _cli, _containers, _jsonl

PROG = "filegone"
HEADER = "%-8s %-7s %-16s %6s %s" % ("TIME", "PID", "COMM", "ACTION", "FILE")


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("-p", "--pid", type=_cli.pid_type, help="trace this PID only")
    _jsonl.add_args(p)
    _containers.add_args(p)
    return p.parse_args(argv)


def last_component(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1] or path


F = _jsonl.Field
JSON = _jsonl.Events("one object per file deleted or renamed over", [
    F("pid", "integer", "process ID"),
    F("comm", "string", "command name"),
    F("action", "string", "DELETE or RENAME",
      get=lambda e: "RENAME" if e.action == ord("R") else "DELETE"),
    F("file", "string", "the file's name (a path or the last component, as the probe has it)",
      get=lambda e: e.name),
    F("new_file", "string|null", "a rename's new name, null for a delete",
      get=lambda e: e.name2 if e.action == ord("R") else None),
    _containers.FIELD,
])


def format_event(e, now: str = None) -> str:
    rename = e.action == ord("R")
    name = last_component(e.name)
    if rename:
        name = "%s > %s" % (name, last_component(e.name2))
    return "%-8s %-7d %-16s %6s %s" % (now or time.strftime("%H:%M:%S"), e.pid, e.comm,
                                       "RENAME" if rename else "DELETE", name)


# The raw_syscalls variants' table (bpf_src/filegone.bpf.c): kind (1 delete,
# 2 rename) | the path's argument << 4 | the new path's argument << 8.
SYSCALLS = {"unlink": 1, "rmdir": 1, "unlinkat": 1 | 1 << 4,
            "rename": 2 | 1 << 8, "renameat": 2 | 1 << 4 | 3 << 8,
            "renameat2": 2 | 1 << 4 | 3 << 8}


def choose_programs(obj):
    """Before load: no fentry variant where the kernel lacks bpf_get_func_ret
    (5.17; its fexit programs find the return value with it): kprobes then."""
    if features.fentry() and not features.bpf_helper("get_func_ret"):
        for p in obj.programs.values():
            if p.variant == "fentry":
                p.autoload = False


def run(argv=None):
    a = parse(argv)
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        if a.pid:
            obj.rodata.targ_tgid = a.pid
        _cli.drop_missing_syscalls(obj)
        choose_programs(obj)
        _containers.apply(obj, a)
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        _cli.fill_syscall_actions(obj, SYSCALLS)
        obj.attach()
        head, text = _containers.column(a, HEADER, format_event)
        _cli.trace_events(obj, head, text, json=JSON.line if a.json else None)
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
