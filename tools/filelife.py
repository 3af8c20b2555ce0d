"""Trace short-lived files: one line per file that was created and then
deleted while tracing, with its age.

On ext4 this is exact: the kernel's ext4 tracepoints report each regular
file's creation and its unlink, matched by inode.  Other file systems have
no such tracepoints, so creations (opens that created a regular file, mknod)
and successful unlink()/unlinkat() calls are matched by path instead: a file
renamed, or deleted through a symbolic link, after its creation is missed.
Kernels without these tracepoints (or --probe kprobe) use bcc's probes
(vfs_create, vfs_open, security_inode_create, vfs_unlink) on every file
system.  PID and COMM are those of the deleting process.

examples:
    filelife            # trace the lifespan of short-lived files
    filelife -p 181     # only process 181
"""
from __future__ import annotations

import collections
import os
import time

import corebpf

from . import _cli, _containers, _jsonl

PROG = "filelife"
DEATH, BIRTH_PATH, DEATH_PATH = range(3)
MAX_PENDING = 65536      # births by path waiting for their unlink


def header() -> str:
    return "%-8s %-7s %-16s %-7s %s" % ("TIME", "PID", "COMM", "AGE(s)", "FILE")


def format_line(pid: int, comm: str, age_ns: int, name: str, now: str = None) -> str:
    """bcc keeps the age in milliseconds and prints it in seconds."""
    return "%-8s %-7d %-16s %-7.2f %s" % (now or time.strftime("%H:%M:%S"), pid, comm,
                                         (age_ns // 1000000) / 1000, name)


def _decode(b: bytes) -> str:
    return _cli.text(b)


F = _jsonl.Field
JSON = _jsonl.Events("one object per file created and deleted while tracing", [
    F("pid", "integer", "process ID of the deleter"),
    F("comm", "string", "its command name"),
    F("age_ns", "integer", "time from creation to deletion", "ns"),
    F("file", "string", "the file's name (last path component), exact"),
    _containers.FIELD,
])


def event_path(e, _decode=_decode) -> str:
    """The absolute path a path event names (directory names + the path given)."""
    buf = bytes(e.buf)
    dirs = [_decode(c) for c in buf[:e.dir_size].split(b"\0")[:-1]]
    base = "/" + "/".join(reversed(dirs))
    if not e.fname_size:
        return os.path.normpath(base)
    given = _decode(buf[e.dir_size:e.dir_size + e.fname_size - 1])
    # (base "/" + "/x" would be "//x", which normpath keeps: POSIX leaves two
    # leading slashes alone, and a birth's "/x" would never match it)
    return os.path.normpath(base.rstrip("/") + "/" + given.lstrip("/"))


class Matcher:
    """Pairs path births with path deaths (file systems without tracepoints)."""

    def __init__(self):
        self.born = collections.OrderedDict()

    def birth(self, path: str, ts: int):
        self.born[path] = ts
        self.born.move_to_end(path)
        while len(self.born) > MAX_PENDING:
            self.born.popitem(last=False)

    def death(self, path: str, ts: int):
        """The age in ns if `path` was seen born, else None."""
        born = self.born.pop(path, None)
        return None if born is None else max(0, ts - born)


# The raw_syscalls variants' table (bpf_src/filelife.bpf.c enum life_sc).
SYSCALLS = {"open": 1, "openat": 1, "openat2": 1, "creat": 1, "mknod": 2, "mknodat": 3,
            "unlink": 4, "unlinkat": 5}


def _choose_programs(obj):
    """Before load: without ext4's tracepoints, paths only; with them but
    without BTF for them (ext4 a module, before module BTF: 5.10), the tp
    variant's event structs cannot be relocated: bcc's kprobes, as before
    the raw variant existed (proven there), without a failed load; the raw
    variant (vmlinux's types) where there are no kprobes."""
    features = corebpf.features
    no_tp = False
    for prog in obj.programs.values():
        if prog.section.startswith(("tracepoint/ext4/", "tp_btf/ext4_", "raw_tp/ext4_")):
            name = prog.section.rsplit("/", 1)[1]
            if not features.tracepoint_exists("ext4", name):
                prog.autoload = False       # no ext4 here: paths only
            elif prog.kind == "tracepoint" and obj.probe is None and features.kernel_btf() \
                    and not features.tracepoint_btf(name):
                no_tp = True
    if no_tp:
        drop = ("tp", "raw") if features.kprobes() else ("tp",)
        for p in obj.programs.values():
            if p.variant in drop:
                p.autoload = False


def run(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("-p", "--pid", type=_cli.pid_type, help="trace this PID only")
    _jsonl.add_args(p)
    _containers.add_args(p)
    a = p.parse_args(argv)
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        if a.pid:
            obj.rodata.targ_tgid = a.pid
        _cli.drop_missing_syscalls(obj)
        _choose_programs(obj)
        _containers.apply(obj, a)
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        _cli.fill_syscall_actions(obj, SYSCALLS)
        obj.attach()
        out = _cli.Output(json=a.json)
        match = Matcher()
        decode = _jsonl.raw if a.json else _decode

        def show(e, age, name):
            if a.json:
                out.obj(JSON.record(e, age_ns=age, file=name))
            else:
                out(_containers.text(a, e) + format_line(e.pid, e.comm, age, name))

        def on_event(e):
            if e.kind == DEATH:
                given = decode(bytes(e.buf)[:max(e.fname_size - 1, 0)])
                show(e, e.age_ns, os.path.basename(given))
            elif e.kind == BIRTH_PATH:
                match.birth(event_path(e, decode), e.ts)
            else:
                path = event_path(e, decode)
                age = match.death(path, e.ts)
                if age is not None:
                    show(e, age, os.path.basename(path))

        rb = obj.ring_buffer("events", on_event, raw_text=a.json)
        if a.json:
            _jsonl.header(header())
        else:
            print(_containers.header(a) + header(), flush=True)
        try:
            _cli.event_loop(rb, out)
        finally:
            out.flush()
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
