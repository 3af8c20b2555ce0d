"""Count VFS operations: reads, writes, fsyncs, opens, creates, unlinks, mkdirs
and rmdirs per second, counted in the kernel and printed every interval.

It counts, at the system call (raw_syscalls sys_enter/sys_exit and a switch
on the number; per-syscall tracepoints where those cannot serve), the calls that reach those VFS
operations: READ/WRITE = read, readv, pread64, preadv(2) / write, writev,
pwrite64, pwritev(2) calls on any fd; FSYNC = fsync, fdatasync,
msync(MS_SYNC); OPEN = successful opens; CREATE = opens that created a file
and mknod of regular files; UNLINK, MKDIR, RMDIR = successful unlink(at),
mkdir(at), rmdir and unlinkat(AT_REMOVEDIR).  I/O the kernel does by itself
(exec, splice, io_uring, NFS server) is not counted.  Kernels without
syscall tracepoints (or --probe kprobe) count bcc's way instead: calls of
vfs_read, vfs_write, vfs_fsync_range, vfs_open, vfs_create, vfs_unlink,
vfs_mkdir and vfs_rmdir (CREATE also counting opens that created a file).

examples:
    vfsstat             # print a line every second, until Ctrl-C
    vfsstat 5 10        # 5 second intervals, 10 lines
    vfsstat -p 181      # only process 181
"""
from __future__ import annotations

import time

import corebpf
from corebpf import sysactions

from . import _cli, _jsonl

PROG = "vfsstat"
COLUMNS = ("READ", "WRITE", "FSYNC", "OPEN", "CREATE", "UNLINK", "MKDIR", "RMDIR")


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("-p", "--pid", type=_cli.pid_type, help="trace this PID only")
    _cli.interval_count(p, interval_default=1)
    _jsonl.add_args(p)
    return p.parse_args(argv)


def header() -> str:
    return "%-8s  " % "TIME" + "".join(" %8s" % (c + "/s") for c in COLUMNS)


F = _jsonl.Field
JSON = _jsonl.Intervals("one object per interval: VFS calls counted in it", [
    F("interval_s", "integer", "length of the interval", "s"),
    *(F(c.lower(), "integer", f"{c.lower()} calls in the interval") for c in COLUMNS)])


def format_row(counts, interval: int, now: str = None) -> str:
    """One line: HH:MM:SS then each count per second (integer division as bcc)."""
    return "%-8s: " % (now or time.strftime("%H:%M:%S")) + \
        "".join(" %8d" % (c // interval) for c in counts)


# The raw_syscalls variants' table (corebpf.sysactions: the exporter fills it too)
SYSCALLS = sysactions.VFSSTAT


def run(argv=None):
    a = parse(argv)
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        if a.pid:
            obj.rodata.targ_tgid = a.pid
        _cli.drop_missing_syscalls(obj)
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        _cli.fill_syscall_actions(obj, SYSCALLS)
        obj.attach()
        stats = obj.maps["stats"]
        _jsonl.status(a, header())
        remaining = a.count
        while True:
            if _cli.wait_stop(a.interval):
                break                   # Ctrl-C: exit without a partial line, as bcc
            per_cpu = stats[0]
            stats.clear()
            counts = [sum(c.n[i] for c in per_cpu) for i in range(len(COLUMNS))]
            if a.json:
                JSON.write(interval_s=a.interval,
                           **{c.lower(): n for c, n in zip(COLUMNS, counts)})
            else:
                print(format_row(counts, a.interval), flush=True)
            remaining -= 1
            if remaining == 0:
                break
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
