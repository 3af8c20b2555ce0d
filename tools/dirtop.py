"""File reads and writes by directory: top-like counts of the reads and
writes of files under the directories given (bcc's dirtop).

examples:
    dirtop -d '/hdfs/uuid/*/yarn'       # directory I/O top, 1 second refresh
    dirtop -d '/hdfs/uuid/*/yarn' -C    # don't clear the screen
    dirtop -d '/hdfs/uuid/*/yarn' 5     # 5 second summaries
    dirtop -d '/hdfs/uuid/*/yarn' 5 10  # 5 second summaries, 10 times only
    dirtop -d '/hdfs/uuid/*/yarn,/hdfs/uuid/*/data' # Running dirtop on two set of directories

probes: the read and write syscall families (read, pread64, readv, preadv*,
write, pwrite64, writev, pwritev*) at entry, counting the bytes asked for;
with --probe kprobe, on kernels with kprobes: vfs_read and vfs_write (as
bcc).  A file counts for the outermost given directory above it.
"""
from __future__ import annotations

import glob
import os

import corebpf
from corebpf import sysactions

from . import _cli, _jsonl

PROG = "dirtop"
MAX_DIRS = 15           # bcc's limit


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("-C", "--noclear", action="store_true", help="don't clear the screen")
    p.add_argument("-r", "--maxrows", default=20, type=_cli.positive_int,
                   help="maximum rows to print, default 20")
    p.add_argument("-s", "--sort", default="all",
                   choices=["all", "reads", "writes", "rbytes", "wbytes"],
                   help="sort column, default all")
    p.add_argument("-p", "--pid", type=_cli.pid_type, help="trace this PID only")
    _cli.interval_count(p, interval_default=1)
    p.add_argument("-d", "--root-directories", required=True, dest="rootdirs",
                   help="select the directories to observe, separated by commas")
    _jsonl.add_args(p)
    return p.parse_args(argv)


def directories(spec: str, say) -> dict:
    """{(kernel dev, inode): path} of the directories the globs in `spec` name
    (bcc's messages to say()); UsageError if none."""
    found = {}
    for pattern in spec.split(","):
        for path in sorted(glob.glob(pattern, recursive=True)):
            if len(found) >= MAX_DIRS:
                say("%d directories limit reached" % MAX_DIRS)
                break
            try:
                st = os.lstat(path)
            except OSError:
                continue
            key = (_cli.kernel_dev(st.st_dev), st.st_ino)
            if key in found:
                if found[key] == path:
                    say("Skipping {} as already considered".format(path))
                continue
            found[key] = path
            say("Considering {} with inode_id {}".format(path, st.st_ino))
    if not found:
        raise _cli.UsageError("cannot find any valid directory in " + spec)
    return found


HEADER = "%-6s %-6s %-8s %-8s %s" % ("READS", "WRITES", "R_Kb", "W_Kb", "PATH")


def top(items, a) -> list:
    def key(kv):
        v = kv[1]
        return v.rbytes + v.wbytes + v.reads + v.writes if a.sort == "all" else getattr(v, a.sort)
    return sorted(items, key=key, reverse=True)[:a.maxrows]


F = _jsonl.Field
JSON = _jsonl.Intervals("one object per interval: I/O under each directory watched (-d) in it",
                        [_jsonl.LOADAVG], rows=[
    F("reads", "integer", "read calls"),
    F("writes", "integer", "write calls"),
    F("rbytes", "integer", "bytes read", "bytes"),
    F("wbytes", "integer", "bytes written", "bytes"),
    F("path", "string", "the directory, as the -d glob matched it"),
])


def json_record(items, paths: dict, a) -> dict:
    return JSON.record([{"reads": v.reads, "writes": v.writes, "rbytes": v.rbytes,
                         "wbytes": v.wbytes, "path": paths.get((k.dev, k.ino), "?")}
                        for k, v in top(items, a)], loadavg=_cli.loadavg())


def render(items, paths: dict, a, loadavg: str) -> str:
    out = [loadavg, "\n", HEADER, "\n"]
    for k, v in top(items, a):
        out.append("%-6d %-6d %-8d %-8d %s\n" % (v.reads, v.writes, v.rbytes // 1024,
                                                 v.wbytes // 1024, paths.get((k.dev, k.ino), "?")))
    return "".join(out)


def run(argv=None):
    a = parse(argv)
    messages = []
    paths = directories(a.rootdirs, messages.append)
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        if a.pid:
            obj.rodata.targ_tgid = a.pid
        _cli.drop_missing_syscalls(obj)
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        _cli.fill_syscall_actions(obj, sysactions.VFS_RW)
        obj.attach()
        dirs = obj.maps["dirs"]
        for dev, ino in paths:
            dirs[{"ino": ino, "dev": dev, "pad": 0}] = 1
        counts = obj.maps["counts"]
        _jsonl.status(a, "\n".join(messages))     # bcc's, once attached (tests wait for a line)
        _cli.top_loop(a.interval, a.count, a.noclear,
                      "Tracing... Output every %d secs. Hit Ctrl-C to end" % a.interval,
                      lambda: render(counts.pop_items(), paths, a, _cli.loadavg_line()),
                      json=a.json and (lambda: json_record(counts.pop_items(), paths, a)))
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
