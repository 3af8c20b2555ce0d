"""The per-tool table that drives the reliability tests (tests/reliability)
and the benchmarks (bench/): how to run each tool so that it attaches and
waits, what it prints when stopped at once, which options take a PID or an
interval, and the equivalent bcc / libbpf-tools / bpftrace commands.

Tools are DISCOVERED (every tools/NAME.py not starting with "_", as
`python3 -m corebpf --list` shows them); a discovered tool missing from
TOOLS makes tests/reliability/test_matrix.py fail with "add NAME to the
table".  Entries for tools that are not (yet) in this checkout are ignored,
so a tool written on another branch can bring its row along.

To add a tool: copy the row of the tool it resembles most and adjust.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TABLE_FILE = "tests/matrix.py"
GETPPID = "t:syscalls:sys_enter_getppid"


@dataclass(frozen=True)
class Spec:
    """How the tests and benches drive one tool."""
    # A run that attaches and then waits for Ctrl-C; the first line on stdout
    # means "attached" (the tools print their header once attached).
    args: tuple = ()
    # Summary tools (they print when Ctrl-C/SIGTERM arrives): text that the
    # output stopped right after the header must contain ("" when its content
    # depends on the activity, e.g. an empty histogram prints nothing).
    # None: an event tool or one that just exits (bcc's vfsstat, argdist).
    summary: str = None
    # A line the tool may print on stderr (a documented warning, bcc's too).
    stderr_ok: str = None
    # The option that takes the PID to trace (None: the tool has none).
    pid: str = "-p"
    # How the tool takes an interval: "pos" (bcc's `interval [count]`
    # positionals), an option name ("-i"), or None.
    interval: str = None
    # Arguments for the `| head -n1` test: a run that prints a second line
    # within seconds while tests.matrix.workload() runs (empty: `args`).  None: the tool
    # prints nothing more without rare events (say why in a comment).
    head: tuple = ()
    # A kernel feature the tool cannot do without: a corebpf.features
    # predicate name (or names, any of which is enough).  Where it is
    # missing, the tool must exit 1 with one line naming it.
    needs: tuple = ()
    # Tool-specific bad input: ((args...), "text the one-line error must contain").
    bad: tuple = ()
    # Benchmarks: bcc's tool (/usr/sbin/NAME-bpfcc) and libbpf-tools'
    # ($LIBBPF_TOOLS_DIR/NAME) with their arguments; bpftrace: a script in
    # /usr/sbin (NAME.bt) or a program text.  None: no equivalent.
    bcc: tuple = None
    libbpf: tuple = None
    bpftrace: str = None


def missing_user_targets(fmt="p:{}", pre=()):
    """Bad input for the multi-tools: a missing binary, library and symbol
    (the one-line error must name what is missing)."""
    return tuple(((*pre, fmt.format(t)), name) for t, name in (
        ("/nonexistent/binary:main", "/nonexistent/binary"),
        ("nosuchlib_xyz:func", "nosuchlib_xyz"),
        ("c:no_such_symbol_xyz", "no_such_symbol_xyz")))


def same(*args):
    """bcc / libbpf-tools equivalent: the same tool name and arguments."""
    return ("", tuple(args))


TOOLS = {
    # -- event tools ----------------------------------------------------------------
    "execsnoop": Spec(pid=None, bad=((("-P", "0"), "no such process"),
                                     (("--max-args", "61"), "at most 60"),
                                     (("-n", "("), "bad regex")),
                      bcc=same(), libbpf=same(), bpftrace="execsnoop.bt"),
    "opensnoop": Spec(bad=((("-b", "3"), "power of two"),
                           (("-f", "O_BOGUS"), "Bad flag"),
                           (("-t", "0"), "no such thread"),
                           (("-u", "no-such-user-xyz"), "no such user"),
                           (("-d", "-1"), "")),
                      bcc=same(), libbpf=same(), bpftrace="opensnoop.bt"),
    "statsnoop": Spec(bcc=same(), libbpf=same(), bpftrace="statsnoop.bt"),
    "syncsnoop": Spec(pid=None, bcc=same(), bpftrace="syncsnoop.bt"),
    "mountsnoop": Spec(pid=None, bcc=same(), libbpf=same()),
    "killsnoop": Spec(bad=((("-s", "99"), "invalid signal"),),
                      bcc=same(), libbpf=same(), bpftrace="killsnoop.bt"),
    "sigsnoop": Spec(bad=((("-s", "x"), "invalid signal"),), libbpf=same()),
    "exitsnoop": Spec(bcc=same(), libbpf=same()),
    "capable": Spec(stderr_ok="capable: the cap_capable tracepoint does not say",
                    bcc=same(), libbpf=same(), bpftrace="capable.bt"),
    # Direct reclaim and OOM kills do not happen on demand: nothing to pipe.
    "drsnoop": Spec(head=None, bcc=same(), libbpf=same()),
    "oomkill": Spec(pid=None, head=None, bcc=same(), libbpf=same(), bpftrace="oomkill.bt"),
    "filelife": Spec(bcc=same(), libbpf=same()),
    "trace": Spec(args=(GETPPID,),
                  bad=(((GETPPID + ' "%q", args->__syscall_nr',), "conversion"),
                       (("t:nosuchcat:nosuchevent",), "nosuchcat"),
                       (('t:syscalls:sys_enter_openat (args->flags', ), "unmatched"),
                       (("u:/nonexistent/binary:main",), "/nonexistent/binary"))
                  + missing_user_targets()),
    # -- summary tools (print on Ctrl-C) ------------------------------------------------
    "biolatency": Spec(pid=None, interval="pos", summary="", head=("1",),
                       bad=((("-d", "nosuchdisk0"), "nosuchdisk0"),),
                       bcc=same(), libbpf=same(), bpftrace="biolatency.bt"),
    "cachestat": Spec(pid=None, interval="pos", summary="Detaching...", head=("1",),
                      bcc=same(), libbpf=same()),
    "filetop": Spec(args=("-C",), interval="pos", summary="Detaching...", head=("-C", "1"),
                    bcc=same("-C"), libbpf=same("-C")),
    "vfsstat": Spec(interval="pos", head=("1",), bcc=same(), libbpf=same(),
                    bpftrace="vfsstat.bt"),
    "syscount": Spec(interval="-i", summary="Detaching...", head=("-i", "1"),
                     bad=((("--syscall", "nosuchsyscall"), "nosuchsyscall"),),
                     bcc=same(), libbpf=same(), bpftrace="syscount.bt"),
    "funccount": Spec(args=(GETPPID,), interval="-i", summary="Detaching...",
                      head=("-i", "1", GETPPID),
                      bad=((("t:syscalls:nosuchevent_xyz",), "nosuchevent_xyz"),
                           (("u:/nonexistent/binary:main",), "/nonexistent/binary"))
                      + missing_user_targets()),
    "stackcount": Spec(args=(GETPPID,), interval="-i", summary="Detaching...",
                       head=("-i", "1", GETPPID),
                       bad=((("t:syscalls:nosuchevent_xyz",), "nosuchevent_xyz"),)
                       + missing_user_targets()),
    "argdist": Spec(args=("-C", GETPPID + "()"), interval="-i",
                    head=("-i", "1", "-C", GETPPID + "()"),
                    bad=((("-C", "t:syscalls:sys_enter_openat():int:args->nosuchfield"),
                          "nosuchfield"),
                         (("-C", "t:syscalls:sys_enter_openat(:int"), "argdist: error"),
                         (("-H", "x:y:z"), "probe type"))
                    + missing_user_targets("p:{}()", pre=("-C",))),
    "offcputime": Spec(summary="", head=("1",), stderr_ok="WARNING: ", bad=((("-m", "10", "-M", "5"), ""),),
                       bcc=same(), libbpf=same()),
    "profile": Spec(summary="", head=("1",), stderr_ok="WARNING: ", bad=((("-F", "0"), ""),), bcc=same(), libbpf=same()),
    # -- tools that need probes this kernel may not have --------------------------------
    "funclatency": Spec(args=("vfs_read",), interval="-i", head=None,
                        needs=("kprobes", "fentry"),
                        bad=((("a:b:c:d",), "pattern"),) + missing_user_targets("{}"),
                        libbpf=same("vfs_read")),
    # -- rows for tools being written on other branches (from TOOLS.md) ---------------
    "runqlat": Spec(pid="-p", interval="pos", summary="", head=("1",), bcc=same(), libbpf=same(),
                    bpftrace="runqlat.bt"),
    "vfscount": Spec(pid=None, head=None, needs=("kprobes",), bcc=same(),
                     bpftrace="vfscount.bt"),
}

# Tools the overhead bench runs on a workload (in-kernel aggregation): those
# present in this checkout are measured.
AGGREGATION_TOOLS = ("runqlat", "biolatency", "syscount")


# -- discovery ----------------------------------------------------------------------------

def discover() -> list:
    """Names of the tools in this checkout, as `python3 -m corebpf --list` gives them."""
    return sorted(p.stem for p in (ROOT / "tools").glob("*.py") if not p.stem.startswith("_"))


def missing_from_table() -> list:
    return [t for t in discover() if t not in TOOLS]


def spec(name: str) -> Spec:
    """The row of tool `name`; a clear failure if there is none."""
    try:
        return TOOLS[name]
    except KeyError:
        raise AssertionError(f"tool {name!r} has no row in the reliability/bench table: "
                             f"add {name} to the table (TOOLS in {TABLE_FILE})") from None


def present() -> list:
    """(name, Spec) of the discovered tools that have a row."""
    return [(t, TOOLS[t]) for t in discover() if t in TOOLS]


def available(s: Spec) -> bool:
    """True unless the tool needs a feature this kernel lacks."""
    if not s.needs:
        return True
    from corebpf import features
    return any(getattr(features, n)() for n in s.needs)


def tool_cmd(name: str, *args) -> list:
    return [sys.executable, "-m", "corebpf", name, *map(str, args)]


# -- a workload that makes every event tool print ------------------------------------------

_WORKLOAD = r"""
import ctypes, os, signal, sys, time
d = sys.argv[1]
end = time.monotonic() + float(sys.argv[2])
libc = ctypes.CDLL(None, use_errno=True)
i = 0
while time.monotonic() < end:
    i += 1
    p = os.path.join(d, "corebpf-wl-%d" % (i % 4))
    fd = os.open(p, os.O_CREAT | os.O_WRONLY, 0o600)      # opensnoop, filelife, filetop
    os.write(fd, b"x" * 4096)
    os.fsync(fd)                                            # syncsnoop, biolatency
    os.close(fd)
    os.stat(p)                                              # statsnoop
    os.unlink(p)                                            # filelife
    os.getppid()                                            # trace/funccount/argdist/stackcount
    os.kill(os.getpid(), 0)                                 # killsnoop
    pid = os.fork()                                         # exitsnoop, sigsnoop (SIGCHLD)
    if pid == 0:
        os.execv("/bin/true", ["/bin/true", "corebpf-wl"])  # execsnoop
    os.waitpid(pid, 0)
    libc.mount(b"none", os.path.join(d, "no-such-dir").encode(), b"tmpfs", 0, None)  # mountsnoop, capable
    time.sleep(0.02)
"""


class workload:
    """Context manager: a process that opens, writes, fsyncs, stats, unlinks,
    signals, forks/execs and mounts (failing) in a loop, so every event tool
    has something to print.  Files live on /var/tmp (a real disk)."""

    def __init__(self, seconds: float = 60):
        self.seconds = seconds

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="corebpf-wl-", dir="/var/tmp")
        self.proc = subprocess.Popen([sys.executable, "-c", _WORKLOAD, self.dir,
                                      str(self.seconds)])
        return self

    def __exit__(self, *exc):
        self.proc.kill()
        self.proc.wait()
        for f in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, f))
        os.rmdir(self.dir)
        return False


# -- what a process holds in the kernel ------------------------------------------------------

KINDS = ("prog", "map", "link", "btf")
_FDINFO_KEY = {"prog": "prog_id", "map": "map_id", "link": "link_id", "btf": "btf_id"}
_ANON = {"anon_inode:bpf-prog": "prog", "anon_inode:bpf-map": "map",
         "anon_inode:bpf_link": "link", "anon_inode:btf": "btf"}


def owned_objects(pid: int) -> dict:
    """BPF objects process `pid` holds fds of, by ID, from /proc/PID/fdinfo:
    {"prog": {ids}, "map": {ids}, "link": {ids}, "btf": {ids}, "perf": n}."""
    out = {k: set() for k in KINDS}
    out["perf"] = 0
    base = f"/proc/{pid}/fd"
    for fd in os.listdir(base):
        try:
            target = os.readlink(f"{base}/{fd}")
            info = Path(f"/proc/{pid}/fdinfo/{fd}").read_text()
        except OSError:
            continue
        if target == "anon_inode:[perf_event]":
            out["perf"] += 1
            continue
        kind = _ANON.get(target)
        if kind is None:
            continue
        for line in info.splitlines():
            key, _, val = line.partition(":")
            if key == _FDINFO_KEY[kind]:
                out[kind].add(int(val))
    return out


_libbpf = None


def _lib():
    global _libbpf
    if _libbpf is None:
        _libbpf = ctypes.CDLL(os.environ.get("COREBPF_LIBBPF") or "libbpf.so.1",
                              use_errno=True)
    return _libbpf


def object_exists(kind: str, obj_id: int) -> bool:
    """True while the kernel still has BPF object `kind` `obj_id` (by ID:
    other programs of the same name loaded by others do not count)."""
    fn = getattr(_lib(), f"bpf_{kind}_get_fd_by_id")
    fd = fn(ctypes.c_uint32(obj_id))
    if fd >= 0:
        os.close(fd)
        return True
    return False


def remaining(objs: dict, timeout: float = 15.0) -> dict:
    """Wait (the kernel frees BPF objects after an RCU grace period) until none
    of objs' IDs exists; return the ones still there after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        left = {k: sorted(i for i in objs[k] if object_exists(k, i)) for k in KINDS}
        left = {k: v for k, v in left.items() if v}
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


TRACEFS_PROBE_FILES = ("uprobe_events", "kprobe_events", "dynamic_events")


def tracefs_probes() -> set:
    """Probe definitions in tracefs (legacy uprobes/kprobes made by writing
    these files survive the process that made them unless it removes them)."""
    out = set()
    for base in ("/sys/kernel/tracing", "/sys/kernel/debug/tracing"):
        found = False
        for f in TRACEFS_PROBE_FILES:
            try:
                out.update(Path(base, f).read_text().splitlines())
                found = True
            except OSError:
                pass
        if found:
            break
    return out


def probes_of(pid: int, probes: set) -> set:
    """The tracefs probes that name `pid` (libbpf names legacy probes
    libbpf_PID_..., as corebpf would)."""
    tag = f"_{pid}_"
    return {p for p in probes if tag in p}
