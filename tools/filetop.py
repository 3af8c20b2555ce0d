"""File reads and writes by thread and file, top-like, refreshed every interval.

It counts the read and write syscall families (read, pread64, readv,
preadv, preadv2 and their write twins), the fd resolved to its file in the
kernel: READS/WRITES are calls, R_Kb/W_Kb the sizes asked for.  I/O the
kernel does by itself (exec page-ins, splice, sendfile, io_uring) is not
seen.  Kernels without syscall tracepoints (or --probe kprobe) count
vfs_read()/vfs_write() calls instead, as bcc does.  T is R (regular file),
S (socket) or O (other).

examples:
    filetop              # file I/O top, refreshed every second
    filetop -C           # don't clear the screen
    filetop -p 181       # only process 181
    filetop 5            # 5 second summaries
    filetop 5 10         # 5 second summaries, 10 times only
    filetop -s rbytes    # sort by bytes read
    filetop -a           # include sockets, pipes and other non-regular files
    filetop -d /var/log  # only files directly in /var/log
    filetop --read-only  # count reads only
"""
from __future__ import annotations

import os

import corebpf
from corebpf import sysactions

from . import _cli, _jsonl

PROG = "filetop"
NAME_MAX_SHOWN = 32        # bcc's DNAME_INLINE_LEN


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("-a", "--all-files", action="store_true",
                   help="include non-regular file types (sockets, FIFOs, etc)")
    p.add_argument("-C", "--noclear", action="store_true", help="don't clear the screen")
    p.add_argument("-r", "--maxrows", type=_cli.positive_int, default=20,
                   help="maximum rows to print, default 20")
    p.add_argument("-s", "--sort", default="all",
                   choices=["all", "reads", "writes", "rbytes", "wbytes"],
                   help="sort column, default all (the sum of the four)")
    p.add_argument("-p", "--pid", type=_cli.pid_type, help="trace this PID only")
    p.add_argument("--read-only", action="store_true", help="count reads only")
    p.add_argument("--write-only", action="store_true", help="count writes only")
    p.add_argument("-d", "--directory", help="only files directly in this directory")
    _cli.interval_count(p, interval_default=1)
    _jsonl.add_args(p)
    return p.parse_args(argv)


def _sort_key(how):
    if how == "all":
        return lambda kv: kv[1].rbytes + kv[1].wbytes + kv[1].reads + kv[1].writes
    return lambda kv: getattr(kv[1], how)


def name_of(k) -> str:
    name = k.name[:NAME_MAX_SHOWN]
    if k.name_len > NAME_MAX_SHOWN:
        name = name[:-3] + "..."
    return name


def top(items, a) -> list:
    return list(reversed(sorted(items, key=_sort_key(a.sort))))[:a.maxrows]


F = _jsonl.Field
JSON = _jsonl.Intervals("one object per interval: the top files by I/O in it (-s, -r)",
                        [_jsonl.LOADAVG], rows=[
    F("tid", "integer", "thread ID", get=lambda kv: kv[0].tid),
    F("comm", "string", "command name", get=lambda kv: kv[0].comm),
    F("reads", "integer", "read calls", get=lambda kv: kv[1].reads),
    F("writes", "integer", "write calls", get=lambda kv: kv[1].writes),
    F("rbytes", "integer", "bytes read", "bytes", get=lambda kv: kv[1].rbytes),
    F("wbytes", "integer", "bytes written", "bytes", get=lambda kv: kv[1].wbytes),
    F("type", "string", "R regular, S socket, O other",
      get=lambda kv: chr(kv[0].type) if isinstance(kv[0].type, int) else kv[0].type),
    F("file", "string", "the file's name (one path component; at most the first bytes "
                        "the kernel keeps), exact", get=lambda kv: kv[0].name),
    F("name_len", "integer", "the whole name's length", "bytes",
      get=lambda kv: kv[0].name_len),
])


def render(items, a, loadavg: str) -> str:
    """One screen: the loadavg line, the header, the top rows."""
    out = [loadavg,
           "%-7s %-16s %-6s %-6s %-7s %-7s %1s %s" % ("TID", "COMM", "READS", "WRITES",
                                                     "R_Kb", "W_Kb", "T", "FILE")]
    for k, v in top(items, a):
        t = chr(k.type) if isinstance(k.type, int) else k.type
        out.append("%-7d %-16s %-6d %-6d %-7d %-7d %1s %s" % (
            k.tid, k.comm, v.reads, v.writes, v.rbytes // 1024, v.wbytes // 1024, t,
            name_of(k)))
    return "\n".join(out) + "\n"


# The raw_syscalls variants' table (vfs.bpf.h VFS_RW_SYSCALLS_RAW).
SYSCALLS = sysactions.VFS_RW


def run(argv=None):
    a = parse(argv)
    if a.read_only and a.write_only:
        raise _cli.UsageError("--read-only and --write-only are mutually exclusive")
    dir_st = None
    if a.directory:
        try:
            dir_st = os.stat(a.directory)
        except OSError as e:
            raise _cli.UsageError(f"cannot use directory {a.directory}: {e.strerror}")
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        ro = obj.rodata
        if a.pid:
            ro.targ_tgid = a.pid
        ro.targ_all_files = a.all_files
        ro.targ_reads = not a.write_only
        ro.targ_writes = not a.read_only
        if dir_st is not None:
            ro.targ_dir_ino = dir_st.st_ino
            ro.targ_dir_dev = _cli.kernel_dev(dir_st.st_dev)
        _cli.drop_missing_syscalls(obj)
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        _cli.fill_syscall_actions(obj, SYSCALLS)
        obj.attach()
        counts = obj.maps["counts"].raw_text(a.json)
        if dir_st is not None:
            _jsonl.status(a, "Tracing directory: %s (Inode: %d)" % (a.directory, dir_st.st_ino))
        _cli.top_loop(a.interval, a.count, a.noclear,
                      "Tracing... Output every %d secs. Hit Ctrl-C to end" % a.interval,
                      lambda: render(counts.pop_items(), a, _cli.loadavg_line()),
                      json=a.json and (lambda: JSON.record(top(counts.pop_items(), a),
                                                           loadavg=_cli.loadavg())))
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
