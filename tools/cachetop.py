"""Show Linux page cache hit/miss statistics including read and write hit %
per processes in a UI like top.

examples:
    cachetop             # run with default option of 5 seconds delay
    cachetop 1           # print every second hit/miss stats

keys (when stdin is a terminal): q quits, r reverses the order, < and >
change the sort column.

probes: with the page cache tracepoints (Linux 6.10+), per process: the
pages each read() looks up (filemap:mm_filemap_get_pages) stand for bcc's
mark_page_accessed calls, the pages they added to the cache
(filemap:mm_filemap_add_to_page_cache) for add_to_page_cache_lru,
block:block_dirty_buffer for mark_buffer_dirty and
writeback:writeback_dirty_folio for account_page_dirtied; HITS, MISSES and the
hit ratios are bcc's arithmetic on those.  Older kernels with kprobes (or
--probe kprobe): bcc's functions.
"""
from __future__ import annotations

import os
import pwd
import select
import sys
import time

import corebpf

from . import _cli, _jsonl, _pagecache

PROG = "cachetop"
FIELDS = ("PID", "UID", "CMD", "HITS", "MISSES", "DIRTIES", "READ_HIT%", "WRITE_HIT%")
DEFAULT_FIELD = "HITS"
NF_APCL, NF_MPA, NF_MBD, NF_APD = 1, 0, 2, 3     # bcc's names for enum cs_counter


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("-p", "--pid", type=_cli.pid_type, help="trace this PID only")
    p.add_argument("interval", nargs="?", default=5, type=_cli.positive_int,
                   help="Interval between probes.")
    _jsonl.add_args(p)
    return p.parse_args(argv)


def process_stats(items, sort_field: int, reverse: bool) -> list:
    """bcc's get_processes_stats: (pid, uid, comm, access, misses, dirties,
    read hit %, write hit %) per process, sorted."""
    per = {}
    for k, v in items:
        per.setdefault((k.pid, k.uid, k.comm), {})[k.nf] = v
    out = []
    for (pid, uid, comm), c in sorted(per.items(), key=lambda kv: "%d-%d-%s" % kv[0]):
        mpa, mbd = max(0, c.get(NF_MPA, 0)), max(0, c.get(NF_MBD, 0))
        apcl, apd = max(0, c.get(NF_APCL, 0)), max(0, c.get(NF_APD, 0))
        access, misses = mpa + mbd, apcl + apd
        rhits = 100 * mpa / (access + misses) if mpa > 0 else 0.0
        whits = 100 * apcl / (access + misses) if apcl > 0 else 0.0
        out.append((pid, uid, comm, access, misses, mbd, rhits, whits))
    return sorted(out, key=lambda s: s[sort_field], reverse=reverse)


F = _jsonl.Field
JSON = _jsonl.Intervals("one object per interval: page cache use per process in it (by hits)", [
    F("buffers_bytes", "integer", "Buffers in /proc/meminfo", "bytes"),
    F("cached_bytes", "integer", "Cached in /proc/meminfo", "bytes"),
], rows=[
    F("pid", "integer", "process ID", get=lambda s: s[0]),
    F("uid", "integer", "user ID", get=lambda s: s[1]),
    F("comm", "string", "command name", get=lambda s: s[2]),
    F("hits", "integer", "page cache accesses", get=lambda s: s[3]),
    F("misses", "integer", "pages added to the cache", get=lambda s: s[4]),
    F("dirties", "integer", "buffers dirtied", get=lambda s: s[5]),
    F("read_hit_pct", "number", "read hit rate, percent", get=lambda s: s[6]),
    F("write_hit_pct", "number", "write hit rate, percent", get=lambda s: s[7]),
])


def user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return "UNKNOWN({})".format(uid)


def screen(stats, sort_field: int, reverse: bool, mem: dict, now: str = None,
           rows: int = None) -> str:
    out = ["%-8s Buffers MB: %.0f / Cached MB: %.0f / Sort: %s / Order: %s" % (
        now or time.strftime("%H:%M:%S"), mem.get("Buffers", 0) / 1024,
        mem.get("Cached", 0) / 1024, FIELDS[sort_field],
        "descending" if reverse else "ascending"),
        "{0:8} {1:8} {2:16} {3:8} {4:8} {5:8} {6:10} {7:10}".format(*FIELDS)]
    for s in stats[:rows]:
        out.append("{0:8} {username:8.8} {2:16} {3:8} {4:8} {5:8} {6:9.1f}% {7:9.1f}%".format(
            *s, username=user_name(s[1])))
    return "\n".join(out) + "\n"


def meminfo() -> dict:
    out = {}
    with open("/proc/meminfo") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = int(v.split()[0])
    return out


class Keys:
    """Single keys from a terminal on stdin (none otherwise), cbreak mode
    while tracing."""

    def __init__(self):
        self.fd, self.saved = None, None
        if sys.stdin.isatty():
            import termios
            import tty
            self.fd = sys.stdin.fileno()
            self.saved = termios.tcgetattr(self.fd)
            tty.setcbreak(self.fd)

    def read(self) -> str:
        if self.fd is None or not select.select([self.fd], [], [], 0)[0]:
            return ""
        return os.read(self.fd, 32).decode("latin-1")

    def close(self):
        if self.saved is not None:
            import termios
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self.saved)
            self.saved = None


class _NoKeys:
    """--json: no keys read (the terminal stays as it is)."""

    @staticmethod
    def read() -> str:
        return ""

    @staticmethod
    def close():
        pass


def choose_programs(obj):
    """Before load: the page cache programs this kernel serves (_pagecache)."""
    _pagecache.configure(obj, dirtied_tp=True)


def run(argv=None):
    a = parse(argv)
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        if a.pid:
            obj.rodata.targ_tgid = a.pid
        choose_programs(obj)
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        _pagecache.attach(obj, PROG)
        counts = obj.maps["counts"].raw_text(a.json)
        sort_field, reverse = FIELDS.index(DEFAULT_FIELD), True
        keys = _NoKeys() if a.json else Keys()
        if a.json:
            _jsonl.header("Tracing... Output every %d secs. Hit Ctrl-C to end" % a.interval)
        try:
            exiting = False
            while not exiting:
                deadline = time.monotonic() + a.interval
                while not exiting and time.monotonic() < deadline:
                    exiting = _cli.wait_stop(min(0.2, max(0, deadline - time.monotonic())))
                    for k in keys.read():
                        if k == "q":
                            exiting = True
                        elif k == "r":
                            reverse = not reverse
                        elif k == "<":
                            sort_field = max(0, sort_field - 1)
                        elif k == ">":
                            sort_field = min(len(FIELDS) - 1, sort_field + 1)
                stats = process_stats(counts.pop_items(), sort_field, reverse)
                if a.json:
                    mem = meminfo()
                    JSON.write(stats, buffers_bytes=mem.get("Buffers", 0) * 1024,
                               cached_bytes=mem.get("Cached", 0) * 1024)
                    continue
                _cli.clear_screen()
                sys.stdout.write(screen(stats, sort_field, reverse, meminfo()))
                sys.stdout.flush()
        finally:
            keys.close()
        _jsonl.status(a, "Detaching...")
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
