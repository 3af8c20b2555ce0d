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

import atexit
import ctypes
import ctypes.util
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

from tests import distro

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
    # A kernel feature the tool cannot do without (any of them is enough):
    # a corebpf.features predicate name ("kprobes"), "NAME:ARG" for a
    # predicate with an argument (filesystem:nfs), "tracepoint:CAT:NAME",
    # "field:CAT:NAME:FIELD" (a tracepoint with that field) or
    # "kprobe:FUNCTION" (kprobes and that kernel function).  Where none is
    # there, the tool must exit 1 with one line naming what is missing
    # (need_text()): the only "cannot" the smoke test accepts.
    needs: tuple = ()
    # Tool-specific bad input: ((args...), "text the one-line error must contain").
    bad: tuple = ()
    # Benchmarks: bcc's tool (/usr/sbin/NAME-bpfcc) and libbpf-tools'
    # ($LIBBPF_TOOLS_DIR/NAME) with their arguments; bpftrace: a script in
    # /usr/sbin (NAME.bt) or a program text.  None: no equivalent.
    bcc: tuple = None
    libbpf: tuple = None
    bpftrace: str = None
    # A process the tool traces (a key of TARGETS), started once and shared;
    # "TARGET" in args/head/bad stands for its PID ("DEAD" for a dead one).
    target: str = None
    # False for a tool that loads no BPF (tplist lists and exits): no
    # cleanup, signal or libbpf/BTF cases for it.
    loads_bpf: bool = True
    # What the error for an unknown option says (argparse's words, or bcc's
    # bare usage line for a tool without options).
    unknown_flag: str = "unrecognized arguments"
    # Smoke test (tests/kernel/test_smoke.py: on this host and inside every
    # kernel of the matrix): the arguments of a run that shows the activity
    # (None: args; "WLPID" stands for the PID of workload(), "TARGET" as
    # above), a regex one line of its output must match (after the header
    # or at Ctrl-C; "{wlpid}" is the workload's PID), and an activity of
    # SMOKE_ACTIVITIES beyond workload() (None: workload() is enough).
    smoke: tuple = None
    see: str = None
    activity: str = None
    # The smoke run's own target process (a key of TARGETS), when it differs
    # from `target`.
    smoke_target: str = None
    # Known smoke failures on some kernels, each (CONDITION, PATTERN, WHY):
    # CONDITION is a `needs` entry ("!" before it: that feature absent) that
    # picks the kernels, never a version; PATTERN a regex the failure's
    # detail (its error line, or the output line missing) must match.  The
    # test is then an xfail naming WHY -- and fails when the tool works
    # there, or fails for another reason (the row must then change).  Only
    # where the tool can start (its `needs` met): elsewhere it must say `cannot`.
    smoke_fails: tuple = ()


# -- processes traced by the tools that need a PID -------------------------------------------

TARGETS = {
    # Debian's python3 has USDT probes (function__entry, gc__start, ...)
    "python": lambda: [distro.PYTHON, "-c", "import time\nwhile 1: time.sleep(0.05)"],
    # tests/progs/usdt_target.c: MySQL's query probes, threads, malloc() calls
    "mysql": lambda: [_usdt_target(), "mysql", "corebpf-matrix", "0"],
    "threads": lambda: [_usdt_target(), "threads"],
    # CPython's function__entry/return probes, which Debian 13's Python 3.13 lacks
    "pycalls": lambda: [_usdt_target(), "pycalls"],
    "malloc": lambda: [_usdt_target(), "malloc", "4242"],
    # the smoke test's Python: calls a Python function, collects garbage,
    # starts a thread and mallocs, every 50 ms (ucalls, uflow, ugc,
    # uobjnew -l c, uthreads on one process)
    "pybusy": lambda: [distro.PYTHON, "-c", _PYBUSY],
}
_PYBUSY = """
import gc, threading, time
def corebpf_smoke_call():
    return bytearray(100000)
while 1:
    corebpf_smoke_call()
    gc.collect()
    t = threading.Thread(target=corebpf_smoke_call)
    t.start()
    t.join()
    time.sleep(0.05)
"""
_running = {}


def _usdt_target():
    from tests import usdt_prog
    return usdt_prog.usdt_target()


def target_pid(kind: str) -> int:
    """PID of the shared target process `kind`, started on first use and
    killed when the interpreter exits."""
    p = _running.get(kind)
    if p is None or p.poll() is not None:
        p = subprocess.Popen(TARGETS[kind](), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        _running[kind] = p
        if len(_running) == 1:
            atexit.register(_stop_targets)
        time.sleep(0.3)             # the interpreter/runtime has mapped its libraries
    return p.pid


def _stop_targets():
    for p in _running.values():
        p.kill()
        p.wait()


def resolve(s: Spec, argv) -> tuple:
    """argv with "TARGET" replaced by the PID of s.target's process."""
    argv = tuple(argv)
    if "TARGET" in argv:
        pid = str(target_pid(s.target))
        argv = tuple(pid if a == "TARGET" else a for a in argv)
    return argv


def missing_user_targets(fmt="p:{}", pre=()):
    """Bad input for the multi-tools: a missing binary, library and symbol
    (the one-line error must name what is missing)."""
    return tuple(((*pre, fmt.format(t)), name) for t, name in (
        ("/nonexistent/binary:main", "/nonexistent/binary"),
        ("nosuchlib_xyz:func", "nosuchlib_xyz"),
        ("c:no_such_symbol_xyz", "no_such_symbol_xyz")))


def _scratch_disk() -> str:
    """MAJ:MIN of the whole disk under /var/tmp (the workload's I/O lands
    there); the first non-virtual disk if /var/tmp is on no block device."""
    try:
        st = os.stat("/var/tmp")
        sys_dev = "/sys/dev/block/%d:%d" % (os.major(st.st_dev), os.minor(st.st_dev))
        if os.path.exists(sys_dev + "/partition"):
            sys_dev += "/.."
        with open(sys_dev + "/dev") as f:
            return f.read().strip()
    except OSError:
        pass
    for name in sorted(os.listdir("/sys/block")):
        if not name.startswith(("loop", "ram", "zram", "dm-")):
            with open(f"/sys/block/{name}/dev") as f:
                return f.read().strip()
    return "1:0"


SCRATCH_DISK = _scratch_disk()


def same(*args):
    """bcc / libbpf-tools equivalent: the same tool name and arguments."""
    return ("", tuple(args))


TOOLS = {
    # -- event tools ----------------------------------------------------------------
    "execsnoop": Spec(pid=None, bad=((("-P", "0"), "no such process"),
                                     (("--max-args", "61"), "at most 60"),
                                     (("-n", "("), "bad regex")),
                      bcc=same(), libbpf=same(), bpftrace="execsnoop.bt",
                      see=r"^true +\d+ +{wlpid} +0 /bin/true corebpf-wl$"),
    "opensnoop": Spec(bad=((("-b", "3"), "power of two"),
                           (("-f", "O_BOGUS"), "Bad flag"),
                           (("-t", "0"), "no such thread"),
                           (("-u", "no-such-user-xyz"), "no such user"),
                           (("-d", "-1"), "")),
                      bcc=same(), libbpf=same(), bpftrace="opensnoop.bt",
                      smoke=("-p", "WLPID"),
                      see=r"^{wlpid} +corebpf-wl +\d+ +0 /\S+/corebpf-wl-\d$"),
    "statsnoop": Spec(bcc=same(), libbpf=same(), bpftrace="statsnoop.bt",
                      smoke=("-p", "WLPID"),
                      see=r"^{wlpid} +corebpf-wl +\d+ +0 /\S+/corebpf-wl-\d$"),
    "syncsnoop": Spec(pid=None, bcc=same(), bpftrace="syncsnoop.bt",
                      see=r" corebpf-wl +fsync\b"),
    "mountsnoop": Spec(pid=None, bcc=same(), libbpf=same(),
                       see=r'^corebpf-wl +{wlpid} .* mount\("none", "/\S+/no-such-dir", '
                           r'"tmpfs", 0x0, ""\) = -ENOENT$'),
    "killsnoop": Spec(bad=((("-s", "99"), "invalid signal"),),
                      bcc=same(), libbpf=same(), bpftrace="killsnoop.bt",
                      smoke=("-p", "WLPID"), see=r"^\S+ +{wlpid} +corebpf-wl +0 +{wlpid} +0$"),
    "sigsnoop": Spec(bad=((("-s", "x"), "invalid signal"),), libbpf=same(),
                     see=r"^\S+ +\d+ +true +17 +{wlpid} +corebpf-wl +0\b"),
    "exitsnoop": Spec(bcc=same(), libbpf=same(),
                      see=r"^true +\d+ +{wlpid} +\d+ +[\d.]+ +0$"),
    "capable": Spec(stderr_ok="capable: the cap_capable tracepoint does not say",
                    bcc=same(), libbpf=same(), bpftrace="capable.bt",
                    smoke=("-p", "WLPID"), see=r"^\S+ +0 +{wlpid} +corebpf-wl +13 +CAP_NET_RAW\b"),
    # Direct reclaim and OOM kills do not happen on demand: nothing to pipe.
    "drsnoop": Spec(head=None, bcc=same(), libbpf=same(),
                    smoke=("--memcg",), activity="reclaim", see=r"^cat +\d+ +[\d.]+ +[1-9]\d*$"),
    "oomkill": Spec(pid=None, head=None, bcc=same(), libbpf=same(), bpftrace="oomkill.bt",
                    activity="oom", see=r'OOM kill of PID \d+ \("oom-victim"\)'),
    "filelife": Spec(bcc=same(), libbpf=same(),
                     smoke=("-p", "WLPID"), see=r" corebpf-wl +[\d.]+ +corebpf-wl-\d$"),
    "trace": Spec(args=(GETPPID,),
                  bad=(((GETPPID + ' "%q", args->__syscall_nr',), "conversion"),
                       (("t:nosuchcat:nosuchevent",), "nosuchcat"),
                       (('t:syscalls:sys_enter_openat (args->flags', ), "unmatched"),
                       (("u:/nonexistent/binary:main",), "/nonexistent/binary"))
                  + missing_user_targets(),
                  see=r"^{wlpid} +{wlpid} +corebpf-wl +sys_enter_getppid\b"),
    # -- summary tools (print on Ctrl-C) ------------------------------------------------
    "biolatency": Spec(pid=None, interval="pos", summary="", head=("1",),
                       bad=((("-d", "nosuchdisk0"), "nosuchdisk0"),),
                       bcc=same(), libbpf=same(), bpftrace="biolatency.bt",
                       see=r"^ +\d+ -> \d+ +: [1-9]"),
    "cachestat": Spec(pid=None, interval="pos", summary="Detaching...", head=("1",),
                      bcc=same(), libbpf=same(),
                      see=r"^ +[1-9]\d* +\d+ +\d+ +[\d.]+% "),
    "filetop": Spec(args=("-C",), interval="pos", summary="Detaching...", head=("-C", "1"),
                    bcc=same("-C"), libbpf=same("-C"),
                    smoke=("-C", "-p", "WLPID"),
                    see=r"^{wlpid} +corebpf-wl +\d+ +[1-9]\d* .* corebpf-wl-\d$"),
    "vfsstat": Spec(interval="pos", head=("1",), bcc=same(), libbpf=same(),
                    bpftrace="vfsstat.bt",
                    see=r"^\d\d:\d\d:\d\d: +\d+ +[1-9]\d* "),
    "syscount": Spec(interval="-i", summary="Detaching...", head=("-i", "1"),
                     bad=((("--syscall", "nosuchsyscall"), "nosuchsyscall"),),
                     bcc=same(), libbpf=same(), bpftrace="syscount.bt",
                     smoke=("-p", "WLPID"), see=r"^\w+ +[1-9]\d*$"),
    "funccount": Spec(args=(GETPPID,), interval="-i", summary="Detaching...",
                      head=("-i", "1", GETPPID),
                      bad=((("t:syscalls:nosuchevent_xyz",), "nosuchevent_xyz"),
                           (("u:/nonexistent/binary:main",), "/nonexistent/binary"))
                      + missing_user_targets(),
                      see=r"^syscalls:sys_enter_getppid +[1-9]\d*$"),
    "stackcount": Spec(args=(GETPPID,), interval="-i", summary="Detaching...",
                       head=("-i", "1", GETPPID),
                       bad=((("t:syscalls:nosuchevent_xyz",), "nosuchevent_xyz"),)
                       + missing_user_targets(),
                       see=r"^ +corebpf-wl \[{wlpid}\]$"),
    "argdist": Spec(args=("-C", GETPPID + "()"), interval="-i",
                    head=("-i", "1", "-C", GETPPID + "()"),
                    bad=((("-C", "t:syscalls:sys_enter_openat():int:args->nosuchfield"),
                          "nosuchfield"),
                         (("-C", "t:syscalls:sys_enter_openat(:int"), "argdist: error"),
                         (("-H", "x:y:z"), "probe type"))
                    + missing_user_targets("p:{}()", pre=("-C",)),
                    see=r"^\s*[1-9]\d* +total calls$"),
    "offcputime": Spec(summary="", head=("1",), stderr_ok="WARNING: ",
                       bad=((("-m", "10", "-M", "5"), ""),
                            (("--pprof", "/nonexistent-dir/x.pb.gz", "1"), "no such directory")),
                       bcc=same(), libbpf=same(),
                       smoke=("-p", "WLPID"), see=r"^ +- +corebpf-wl \({wlpid}\)$"),
    "profile": Spec(summary="", head=("1",), stderr_ok="WARNING: ",
                    bad=((("-F", "0"), ""), (("--unwind", "lbr"), "--unwind"),
                         (("--unwind", "dwarf", "--unwind-stack-size", "99999999"),
                          "--unwind-stack-size"),
                         (("--svg", "/nonexistent-dir/x.svg", "1"), "no such directory"),
                         (("-K", "--unwind", "dwarf", "1"), "kernel stacks only")),
                    bcc=same(), libbpf=same(),
                    smoke=("-p", "WLPID"), see=r"^ +- +corebpf-wl \({wlpid}\)$"),
    "biotop": Spec(args=("-C",), needs=("tracepoint:block:block_io_start", "kprobes"),
                   interval="pos", summary="", head=("-C", "1"),
                   bcc=same("-C"), libbpf=same("-C"),
                   see=r"^{wlpid} +corebpf-wl +[RW] "),
    "tcptop": Spec(args=("-C",), needs=("tracepoint:sock:sock_send_length", "kprobes"),
                   interval="pos", summary="", head=("-C", "1"),
                   bcc=same("-C"), libbpf=same("-C"),
                   see=r"^{wlpid} +corebpf-wl +127\.0\.0\.1:\d+ +127\.0\.0\.1:\d+ "),
    "cpudist": Spec(interval="pos", summary="", head=("1",), bcc=same(), libbpf=same(),
                    smoke=("-p", "WLPID"), see=r"^ +\d+ -> \d+ +: [1-9]"),
    "ext4dist": Spec(interval="pos", summary="", head=("1",), bcc=same(), libbpf=same(),
                     smoke=("-p", "WLPID"), see=r"^ +\d+ -> \d+ +: [1-9]"),
    "runqlen": Spec(pid=None, interval="pos", summary="", head=("1",), bcc=same(),
                    libbpf=same(), bpftrace="runqlen.bt",
                    see=r"^ +\d+ +: [1-9]"),
    "hardirqs": Spec(pid=None, interval="pos", summary="", head=("1",), bcc=same(),
                     libbpf=same(),
                     see=r"^\S+ +[1-9]\d*$"),
    "softirqs": Spec(pid=None, interval="pos", summary="", head=("1",), bcc=same(),
                     libbpf=same(),
                     see=r"^(timer|rcu|sched|net_rx|block|tasklet) +[1-9]\d*$"),
    # prints its histogram only when stopped
    "bitesize": Spec(pid=None, summary="", head=None, bcc=same(), libbpf=same(),
                     bpftrace="bitesize.bt",
                     see=r"^ +\d+ -> \d+ +: [1-9]"),
    # -- tools that need probes this kernel may not have --------------------------------
    "funclatency": Spec(args=("vfs_read",), interval="-i", head=None, summary="",
                        needs=("kprobes", "fentry"),
                        bad=((("a:b:c:d",), "pattern"),) + missing_user_targets("{}"),
                        libbpf=same("vfs_read"),
                        smoke=("-p", "WLPID", "vfs_write"), see=r"^ +\d+ -> \d+ +: [1-9]"),
    "biosnoop": Spec(pid=None, needs=("tracepoint:block:block_io_start", "kprobes"),
                     bad=((("-d", "nosuchdisk0"), "nosuchdisk0"),),
                     bcc=same(), libbpf=same(), bpftrace="biosnoop.bt",
                     see=r" corebpf-wl +{wlpid} +\S+ +[RW] "),
    "ext4slower": Spec(head=("0",), bcc=same(), libbpf=same(),
                       smoke=("-p", "WLPID", "0"),
                       see=r" corebpf-wl +{wlpid} +[RWOS] .* corebpf-wl-\d$"),
    "runqslower": Spec(head=("0",), bcc=same(), libbpf=same(),
                       smoke=("-p", "WLPID", "0"), see=r"^\S+ +corebpf-wl +{wlpid} +\d+$"),
    # the workload binds, listens, connects, accepts and resolves a name
    "bindsnoop": Spec(bcc=same(), libbpf=same(),
                      see=r"^ *{wlpid} corebpf-wl +TCP +127\.0\.0\.1 "),
    "solisten": Spec(bcc=same(), libbpf=same(),
                     see=r"^{wlpid} +corebpf-wl +TCPv4 "),
    "tcpaccept": Spec(bcc=same(), bpftrace="tcpaccept.bt",
                      see=r"^{wlpid} +corebpf-wl +4 +127\.0\.0\.1 "),
    "tcpconnect": Spec(bcc=same(), libbpf=same(), bpftrace="tcpconnect.bt",
                       see=r"^{wlpid} +corebpf-wl +4 +127\.0\.0\.1 +127\.0\.0\.1 "),
    "tcpconnlat": Spec(bcc=same(), libbpf=same(),
                       see=r"^{wlpid} +corebpf-wl +4 +127\.0\.0\.1 +127\.0\.0\.1 +\d+ +[\d.]+$"),
    "tcplife": Spec(bcc=same(), libbpf=same(), bpftrace="tcplife.bt",
                    see=r"^{wlpid} +corebpf-wl +127\.0\.0\.1 "),
    "tcpstates": Spec(pid=None, bcc=same(), libbpf=same(),
                      see=r" corebpf-wl +127\.0\.0\.1 .* SYN_SENT +-> ESTABLISHED "),
    "gethostlatency": Spec(bcc=same(), libbpf=same(), bpftrace="gethostlatency.bt",
                           see=r"^\S+ +{wlpid} +corebpf-wl +[\d.]+ localhost$"),
    # Retransmits and drops need a lossy link (the tools' own tests make one).
    "tcpretrans": Spec(pid=None, needs=("tracepoint:tcp:tcp_retransmit_skb", "kprobes"),
                       head=None, bcc=same(), bpftrace="tcpretrans.bt",
                       activity="retrans", see=r"127\.0\.0\.1:\d+ +R> 127\.0\.0\.1:\d+ +SYN_SENT"),
    # without a drop reason (5.17+) every freed packet would look dropped
    "tcpdrop": Spec(pid=None, needs=("field:skb:kfree_skb:reason", "kprobe:tcp_drop"),
                    head=None, bcc=same(), bpftrace="tcpdrop.bt",
                    activity="tcpdrop", see=r"^\S+ +\d+ +4 +127\.0\.0\.1:\d+ +> 127\.0\.0\.1:\d+ ",
                    # the activity's drop has a reason only where the kernel names it
                    # (before, NOT_SPECIFIED: tcpdrop reports reasoned drops only)
                    smoke_fails=(("!enum:skb_drop_reason:SKB_DROP_REASON_TCP_ABORT_ON_DATA",
                                  "no line matching",
                                  "data on a closed socket is dropped without a reason "
                                  "(SKB_DROP_REASON_TCP_ABORT_ON_DATA is newer)"),)),
    # Needs someone typing at an interactive bash.
    "bashreadline": Spec(pid=None, head=None, bcc=same(), libbpf=same(),
                         bpftrace="bashreadline.bt",
                         activity="bash", see=r" echo corebpf-smoke-readline$"),
    # USDT and uprobe tools, on a target process of their own
    "mysqld_qslower": Spec(args=("TARGET",), target="mysql", pid=None, head=("TARGET", "0"),
                           unknown_flag="USAGE: mysqld_qslower PID [min_ms]",
                           # parsed by hand (bcc's usage): its numbers out of range here
                           bad=((("DEAD",), "no such process"),
                                (("TARGET", "1e300"), "USAGE"), (("TARGET", "nan"), "USAGE"),
                                (("TARGET", "-1"), "USAGE"),
                                ((str(2**64),), "no such process")),
                           smoke=("TARGET", "0"), see=r"SELECT 'corebpf-matrix'"),
    "dbslower": Spec(args=("mysql", "-p", "TARGET"), target="mysql", pid=None,
                     head=("mysql", "-p", "TARGET", "-m", "0"),
                     bad=((("mysql", "-p", "DEAD"), "no such process"),),
                     smoke=("mysql", "-p", "TARGET", "-m", "0"), see=r"SELECT 'corebpf-matrix'"),
    "dbstat": Spec(args=("mysql", "-p", "TARGET"), target="mysql", pid=None, interval="-i",
                   head=("mysql", "-p", "TARGET", "-i", "1", "-m", "0"),
                   bad=((("mysql", "-p", "DEAD"), "no such process"),),
                   # -i 1: a histogram each second, so the smoke run sees the query at
                   # once instead of waiting its whole run for the one printed on Ctrl-C
                   smoke=("mysql", "-p", "TARGET", "-i", "1", "-m", "0"),
                   see=r"^ +\d+ -> \d+ +: [1-9]"),
    "ucalls": Spec(args=("-l", "python", "TARGET"), target="pycalls", pid=None,
                   interval="pos", summary="", head=("-l", "python", "TARGET", "1"),
                   bad=((("-l", "python", "DEAD"), "no such process"),),
                   smoke_target="pybusy", see=r"corebpf_smoke_call +[1-9]\d*"),
    # An idle interpreter calls no Python functions and collects no garbage.
    "uflow": Spec(args=("-l", "python", "TARGET"), target="pycalls", pid=None, head=None,
                  bad=((("-l", "python", "DEAD"), "no such process"),),
                  smoke_target="pybusy", see=r"corebpf_smoke_call"),
    "ugc": Spec(args=("-l", "python", "TARGET"), target="python", pid=None, head=None,
                bad=((("-l", "python", "DEAD"), "no such process"),),
                smoke_target="pybusy", see=r"^\d+\.\d+ +[\d.]+ "),
    "uobjnew": Spec(args=("-l", "c", "TARGET"), target="malloc", pid=None, interval="pos",
                    summary="", head=("-l", "c", "TARGET", "1"),
                    bad=((("-l", "c", "DEAD"), "no such process"),),
                    smoke_target="pybusy", see=r"^block size \d+ +[1-9]"),
    "uthreads": Spec(args=("TARGET",), target="threads", pid=None,
                     bad=((("DEAD",), "no such process"),),
                     smoke_target="pybusy", see=r" pthread "),
    "tplist": Spec(loads_bpf=False, head=None,
                   bad=((("-l", "/nonexistent/binary"), "/nonexistent/binary"),),
                   smoke=("sched:sched_switch",), see=r"^sched:sched_switch$"),
    "ustat": Spec(args=("-C",), pid=None, interval="pos", summary="Detaching...",
                  head=("-C", "1"), bad=((("-l", "cobol"), "invalid choice"),
                                         (("-C", "-r", "0"), "must be positive")),
                  bcc=same("-C")),
    "bpflist": Spec(loads_bpf=False, pid=None, head=None, bcc=same()),
    # kernel mode (no -p): the kmem tracepoints; Ctrl-C exits without a report (bcc)
    "memleak": Spec(interval="pos", head=("1",),
                    bad=((("-z", "10", "-Z", "5"), "min_size (-z) can't be greater"),
                         (("--sort", "age"), "Given sort_key: age"),
                         (("-p", "TARGET", "-O", "/nonexistent/lib.so"), "/nonexistent/lib.so"),
                         (("-c", "/nonexistent/binary"), "/nonexistent/binary")),
                    target="malloc", bcc=same(), libbpf=same()),
    # The workload makes no TLS connections (the tool's own tests do).
    "sslsniff": Spec(head=None, bcc=same(),
                     bad=((("--extra-lib", "cobol:/bin/true"), "Invalid SSL library type"),
                          (("--max-buffer-size", "70000"), "at most 65536"),
                          (("-o", "-g", "-n"), "no TLS library"))),
    # prints nothing more until it finds a lock order inversion (its own test makes one)
    "deadlock": Spec(args=("TARGET",), target="threads", pid=None, head=None,
                     bad=((("DEAD",), "no such process"),
                          (("TARGET", "--lock-symbols", "no_such_lock_xyz"), "no_such_lock_xyz"),
                          (("TARGET", "--binary", "/nonexistent/lib.so"), "/nonexistent/lib.so")),
                     bcc=same("TARGET")),
    "funcinterval": Spec(args=(GETPPID,), interval="-i", summary="Detaching...",
                         head=("-i", "1", GETPPID),
                         bad=((("a:b:c:d",), "unrecognized pattern format"),
                              (("t:syscalls:nosuchevent_xyz",), "nosuchevent_xyz"))
                         + missing_user_targets("{}"),
                         bcc=same(GETPPID)),
    "funcslower": Spec(args=("c:getppid",), head=("-u", "0", "c:getppid"),
                       bad=((("-a", "7", "c:getppid"), "at most 6"),
                            (("a:b:c",), "unrecognized function format"))
                       + missing_user_targets("{}"),
                       bcc=same("c:getppid")),
    # -- wave 3b ------------------------------------------------------------------------
    # Thread creation is rare without a workload that makes threads.
    "threadsnoop": Spec(pid=None, head=None, bcc=same(), bpftrace="threadsnoop.bt"),
    "wqlat": Spec(pid=None, interval="pos", summary="", head=("1",),
                  bad=((("-w", "x" * 40), "workqueue name"),), bcc=same()),
    "softirqslower": Spec(pid=None, head=("0",), bad=((("-c", "4096"), "not online"),),
                          bcc=same(), libbpf=same()),
    "biopattern": Spec(pid=None, interval="pos", summary="", head=("1",),
                       bad=((("-d", "nosuchdisk0"), "nosuchdisk0"),), bcc=same(), libbpf=same()),
    # reports at once with -i -1 (its "ready" line) and again when stopped
    "biolatpcts": Spec(args=("-i", "-1", SCRATCH_DISK), pid=None, summary="",
                       head=("-i", "1", SCRATCH_DISK),
                       bad=((("nosuchdisk0",), "nosuchdisk0"), (("-p", "x", "1:0"), "percentile"),
                            (("-i", "-2", "1:0"), "-i/--interval")),
                       bcc=same("-i", "-1", SCRATCH_DISK)),
    "offwaketime": Spec(summary="", head=("1",), stderr_ok="WARNING: ",
                        bad=((("-m", "10", "-M", "5"), ""),
                             (("--svg", "/nonexistent-dir/x.svg", "1"), "no such directory")),
                        bcc=same(),
                        # the workload's own stacks (system-wide, its Ctrl-C symbolized
                        # every task's: 15-40 s under emulation, each smoke run waited)
                        smoke=("-p", "WLPID"), see=r"^ +target: +corebpf-wl {wlpid}$"),
    "wakeuptime": Spec(summary="Detaching...", head=("1",), stderr_ok="WARNING: ",
                       bad=((("-u", "-p", "1"), "use either -p or -u"),),
                       bcc=same(), libbpf=same(),
                       smoke=("-p", "WLPID"), see=r"^ +target: +corebpf-wl$"),
    # IRQ-disabled sections of 1 us and more happen all the time where the
    # preemptirq tracepoints exist; most kernels lack them.
    "criticalstat": Spec(args=("-d", "1"), pid=None, head=("-d", "1"),
                         needs=("preemptirq",), bcc=same()),
    # needs the CPU's PMU (cache-references/cache-misses); prints at the end
    "llcstat": Spec(args=("99999",), pid=None, summary="", head=None,
                    needs=("hardware_pmu",), bad=((("-c", "0"), "must be positive"),),
                    bcc=same("99999")),
    "cpuunclaimed": Spec(pid=None, interval="pos", summary="", head=("1",),
                         bad=((("-j", "1"), "cannot use interval"),), bcc=same()),
    # bcc's netqtop prints nothing before its first interval (1 s)
    "netqtop": Spec(args=("-n", "lo"), pid=None, interval="-i",
                    bad=((("-n", "corebpf-nosuch0"), "does not exist"), ((), "network interface"),
                         (("-n", "x" * 20), "too long")),
                    bcc=same("-n", "lo")),
    # the workload's connection sends 100 bytes each loop: its client's srtt
    "tcprtt": Spec(pid=None, interval="-i", summary="", head=("-i", "1"),
                   bad=((("-a", "1.2.3"), "not an IPv4 address"), (("-4", "-6"), "not allowed with")),
                   bcc=same(), libbpf=same(),
                   see=r"^ +\d+ -> \d+ +: [1-9]"),
    # prints its histograms only when stopped; the workload connects and accepts
    "tcpsynbl": Spec(pid=None, summary="", head=None, bad=((("-4", "-6"), "not allowed with"),),
                     bcc=same(), libbpf=same(), bpftrace="tcpsynbl.bt",
                     see=r"^ +\d+ -> \d+ +: [1-9]"),
    "tcptracer": Spec(bcc=same(), libbpf=same(),
                      bad=((("-N", "x"), "invalid integer"),
                           (("--cgroupmap", "/nonexistent-corebpf"), "no pinned map")),
                      see=r"^C +{wlpid} +corebpf-wl +4 +127\.0\.0\.1 +127\.0\.0\.1 "),
    "tcpsubnet": Spec(pid=None, interval="-i", summary="",
                      needs=("tracepoint:sock:sock_send_length", "kprobes", "fentry"),
                      bad=((("10.0.0.0/33",), "Invalid mask"), (("-f", "X"), "invalid choice")),
                      bcc=same(),
                      see=r"^127\.0\.0\.1/32 +[1-9]\d*$"),
    # tcp_cong_state_set (5.19) or, before, bcc's function probes
    "tcpcong": Spec(pid=None, interval="pos", summary="", head=("1",),
                    needs=("tracepoint:tcp:tcp_cong_state_set", "kprobes", "fentry"),
                    bad=((("-L", "1-2-3"), "port range"), (("-R", "70000"), "out of range")),
                    bcc=same()),
    "klockstat": Spec(interval="-i", summary="", head=("-i", "1"),
                      stderr_ok="klockstat: contended mutex acquisitions only",
                      bad=((("-S", "acq_bogus"), "Wrong sort argument"),
                           (("-d", "1", "-i", "1"), "not allowed with")),
                      bcc=same(), libbpf=same()),
    # -- rows for tools being written on other branches (from TOOLS.md) ---------------
    "runqlat": Spec(pid="-p", interval="pos", summary="", head=("1",), bcc=same(), libbpf=same(),
                    bad=((("--heatmap", "/nonexistent-dir/x.svg"), "no such directory"),),
                    bpftrace="runqlat.bt",
                    smoke=("-p", "WLPID"), see=r"^ +\d+ -> \d+ +: [1-9]"),
    "vfscount": Spec(pid=None, head=None, needs=("kprobes",), bcc=same(), summary="",
                     bpftrace="vfscount.bt",
                     see=r"\bvfs_\w+ +[1-9]\d*$"),
    # -- file systems beyond ext4 (the workload's files are on ext4: the *slower
    # tools of other file systems have nothing to print) --------------------------
    "xfsslower": Spec(head=None, needs=("filesystem:xfs",), bcc=same(), libbpf=("fsslower", ("-t", "xfs"))),
    "xfsdist": Spec(interval="pos", summary="", head=("1",), needs=("filesystem:xfs",), bcc=same(),
                    libbpf=("fsdist", ("-t", "xfs"))),
    "btrfsslower": Spec(head=None, needs=("filesystem:btrfs",), bcc=same(), libbpf=("fsslower", ("-t", "btrfs"))),
    "btrfsdist": Spec(interval="pos", summary="", head=("1",), needs=("filesystem:btrfs",),
                      bcc=same(),
                      libbpf=("fsdist", ("-t", "btrfs"))),
    "nfsslower": Spec(head=None, needs=("filesystem:nfs", "filesystem:nfs4"), bcc=same(),
                      libbpf=("fsslower", ("-t", "nfs"))),
    "nfsdist": Spec(interval="pos", summary="", head=("1",),
                    needs=("filesystem:nfs", "filesystem:nfs4"), bcc=same(),
                    libbpf=("fsdist", ("-t", "nfs"))),
    "f2fsslower": Spec(head=None, needs=("filesystem:f2fs",), bcc=same(),
                       libbpf=("fsslower", ("-t", "f2fs"))),
    "zfsslower": Spec(head=None, needs=("filesystem:zfs",), bcc=same(),
                      libbpf=("fsslower", ("-t", "zfs"))),
    "zfsdist": Spec(interval="pos", summary="", head=("1",), needs=("filesystem:zfs",),
                    bcc=same(), libbpf=("fsdist", ("-t", "zfs"))),
    "fsslower": Spec(args=("-t", "ext4"), head=("-t", "ext4", "-m", "0"),
                     bad=((("-t", "nosuchfs"), "invalid filesystem"),
                          ((), "filesystem must be specified")),
                     libbpf=same("-t", "ext4")),
    "fsdist": Spec(args=("-t", "ext4"), interval="pos", summary="", head=("-t", "ext4", "1"),
                   bad=((("-t", "nosuchfs"), "invalid filesystem"),
                        ((), "filesystem must be specified")),
                   libbpf=same("-t", "ext4")),
    "fileslower": Spec(head=("0",), bcc=same()),
    # -- file, cache and memory extras --------------------------------------------------
    "filegone": Spec(bcc=same()),
    "shmsnoop": Spec(bad=((("-t", "0"), "no such thread"),), bcc=same()),
    "sofdsnoop": Spec(bad=((("-t", "0"), "no such thread"),), bcc=same()),
    # a character device that is no terminal: attaches, and nobody writes to it
    "ttysnoop": Spec(args=("-C", "/dev/null"), pid=None, head=None,
                     activity="devnull", see=r"corebpf-smoke-tty",
                     bad=((("/nonexistent/tty",), "unable to read device"),
                          (("-s", "0", "1"), "must be positive")),
                     unknown_flag="unrecognized arguments", bcc=same("-C", "/dev/null")),
    "pidpersec": Spec(pid=None, bcc=same()),
    "slabratetop": Spec(args=("-C",), pid=None, interval="pos", summary="Detaching...",
                        head=("-C", "1"), bcc=same("-C"), libbpf=same()),
    "dirtop": Spec(args=("-C", "-d", "/var/tmp"), interval="pos", summary="Detaching...",
                   head=("-C", "-d", "/var/tmp", "1"),
                   bad=((("-d", "/nonexistent/dir"), "cannot find any valid directory"),),
                   bcc=same("-C", "-d", "/var/tmp")),
    # its first screen comes after `interval` seconds (bcc's too, on curses)
    "cachetop": Spec(args=("1",), summary="Detaching...", head=("1",), bcc=same("1")),
    # kernel functions only (fentry, else kprobes)
    "dcstat": Spec(pid=None, interval="pos", head=("1",), needs=("kprobes", "fentry"),
                   bcc=same()),
    "dcsnoop": Spec(pid=None, needs=("kprobes", "fentry"), bcc=same()),
    "readahead": Spec(pid=None, summary="Read-ahead unused pages", head=None,
                      needs=("kprobes", "fentry"), bcc=same(), libbpf=same()),
    # swap-ins and md flushes do not happen on demand
    "swapin": Spec(pid=None, interval="pos", summary="Detaching...", head=("1",),
                   needs=("kprobes", "fentry"), bcc=same()),
    # md_flush_request exists where the md module is loaded (an md device)
    "mdflush": Spec(pid=None, head=None, needs=("kprobe:md_flush_request",), bcc=same(),
                    libbpf=same()),
}

# Tools the overhead bench runs on a workload (in-kernel aggregation): those
# present in this checkout are measured.
AGGREGATION_TOOLS = ("runqlat", "biolatency", "syscount")


# -- discovery ----------------------------------------------------------------------------

def discover() -> list:
    """Names of the tools in this checkout, as `python3 -m corebpf --list` gives them."""
    return sorted(p.stem for p in (ROOT / "tools").glob("*.py") if not p.stem.startswith("_"))


def alias_rows() -> dict:
    """{name: Spec} for bcc's language names (tools/_aliases.py) the benches
    can run here: the row of the tool the name runs, without its `-l LANG`,
    where that row traces the same language (or takes none, as ustat's)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("_aliases", ROOT / "tools" / "_aliases.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = {}
    for name, (tool, lang) in sorted(mod.ALIASES.items()):
        row = TOOLS.get(tool)
        if row is None:
            continue
        args = list(row.args)
        if "-l" not in args and row.target:
            continue                # the row's target is some other language
        if "-l" in args:
            i = args.index("-l")
            if args[i + 1] != lang:
                continue            # no process of this language to trace here
            del args[i:i + 2]
        out[name] = replace(row, args=tuple(args), head=None, bad=(),
                            bcc=same(*args) if row.bcc else None, libbpf=None,
                            bpftrace=None)
    return out


def missing_from_table() -> list:
    return [t for t in discover() if t not in TOOLS]


def spec(name: str) -> Spec:
    """The row of tool `name`; a clear failure if there is none."""
    try:
        return TOOLS[name]
    except KeyError:
        if name in alias_rows():
            return alias_rows()[name]
        raise AssertionError(f"tool {name!r} has no row in the reliability/bench table: "
                             f"add {name} to the table (TOOLS in {TABLE_FILE})") from None


def present() -> list:
    """(name, Spec) of the discovered tools that have a row."""
    return [(t, TOOLS[t]) for t in discover() if t in TOOLS]


def have(need: str) -> bool:
    """One entry of Spec.needs, asked of corebpf.features."""
    from corebpf import features
    kind, _, rest = need.partition(":")
    if kind == "tracepoint":
        cat, _, name = rest.partition(":")
        return features.tracepoint_exists(cat, name)
    if kind == "field":
        cat, name, field = rest.split(":")
        try:
            with open(os.path.join(features.tracefs(), "events", cat, name, "format")) as f:
                return re.search(r"\bfield:[^;]*\b%s;" % re.escape(field), f.read()) is not None
        except OSError:
            return False
    if kind == "kprobe":
        return features.kprobes() and features.kernel_function_exists(rest)
    if kind == "enum":                  # enum:TYPE:VALUE in the kernel's BTF
        from corebpf.core import kbtf
        typ, _, value = rest.partition(":")
        return features.kernel_btf() and kbtf.vmlinux().enum_has(typ, value)
    return getattr(features, kind)(*([rest] if rest else []))


def condition(c: str) -> bool:
    """A smoke_fails CONDITION: a `needs` entry, "!" before it negates."""
    return not have(c[1:]) if c.startswith("!") else have(c)


def known_failure(s: Spec):
    """(PATTERN, WHY) of the first smoke_fails entry whose CONDITION holds
    on this kernel, or None.  None where the kernel lacks all of the row's
    `needs`: the tool does not start there, and says so in its one line."""
    if not available(s):
        return None
    for cond, pattern, why in s.smoke_fails:
        if condition(cond):
            return pattern, why
    return None


def available(s: Spec) -> bool:
    """True unless the tool needs a feature this kernel lacks."""
    return not s.needs or any(have(n) for n in s.needs)


def need_text(need: str) -> str:
    """What the one-line error of a tool lacking `need` must say: "kprobe",
    "fentry", "nfs file system"."""
    name, _, arg = need.partition(":")
    return f"{arg} file system" if name == "filesystem" else name.rstrip("s").replace("_", " ")


def tool_cmd(name: str, *args) -> list:
    return [sys.executable, "-m", "corebpf", name, *map(str, args)]


# -- every numeric option of every tool, from its argparse parser ------------------------------
#
# The fuzz tests (tests/unit/test_cli.py, tests/reliability/test_bad_input.py)
# generate out-of-range values for each of them: a new tool is covered by its
# parser alone.  An option is numeric when its type turns "1" into a number
# (or a list of numbers); its bounds are the type's .lo/.hi (tools/_cli.py,
# "numbers").


class _GotParser(BaseException):
    pass


def parser_of(name: str):
    """The argparse parser tool `name` builds (None: the tool parses by hand)."""
    import argparse
    import contextlib
    import importlib
    import io
    mod = importlib.import_module(f"corebpf.tools.{name}")

    def grab(self, *a, **k):
        raise _GotParser(self)
    saved = argparse.ArgumentParser.parse_known_args
    argparse.ArgumentParser.parse_known_args = grab
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            mod.main([])
    except _GotParser as g:
        return g.args[0]
    except (SystemExit, Exception):
        return None
    finally:
        argparse.ArgumentParser.parse_known_args = saved
    return None


def is_numeric(t) -> bool:
    """True if argparse type `t` parses numbers."""
    if t is None or t is str:
        return False
    if getattr(t, "lo", None) is not None:
        return True
    for text in ("1", "0", "100", "4096", "65536", str(2**20)):     # some type takes one
        try:
            v = t(text)
        except Exception:
            continue
        if isinstance(v, (list, tuple, set, frozenset)):
            return bool(v) and all(isinstance(x, (int, float)) for x in v)
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    return False


@dataclass(frozen=True)
class NumericOption:
    tool: str
    flag: str           # the option ("--cpu"), "" for a positional
    dest: str
    type: object
    before: tuple       # values of the positionals before this one (None: unknown)
    before_types: tuple = ()    # and their types

    @property
    def id(self) -> str:
        return f"{self.tool}{self.flag or '-' + self.dest}"

    def argv(self, value, s: Spec = None) -> tuple:
        """Arguments giving this option `value` (spelled so that argparse
        never mistakes a negative number for an option)."""
        if self.flag:
            v = f"{self.flag}={value}" if self.flag.startswith("--") else f"{self.flag}{value}"
            return (v, *(s.args if s else ()))
        return ("--", *self.before, str(value))

    def run_argv(self, value, s: Spec) -> tuple:
        """Arguments for a run of the tool with this option at `value`: the
        row's arguments, the positionals before this one at their lowest
        value (the row's TARGET for a PID)."""
        if self.flag:
            return self.argv(value, s)
        opts = tuple(a for a in s.args if a != "TARGET" and not a.lstrip("-").isdigit())
        before = tuple("TARGET" if s.target and getattr(t, "check", None) else v
                       for v, t in zip(self.before, self.before_types))
        return (*opts, *before, str(value))


def numeric_options(name: str) -> list:
    """NumericOption of every numeric option and positional of tool `name`."""
    p = parser_of(name)
    if p is None:
        return []
    out, before, types = [], [], []
    for a in p._actions:
        if a.option_strings:
            if is_numeric(a.type):
                flag = max(a.option_strings, key=len)
                out.append(NumericOption(name, flag, a.dest, a.type, ()))
            continue
        if is_numeric(a.type):
            if None not in before:
                out.append(NumericOption(name, "", a.dest, a.type, tuple(before), tuple(types)))
            lo = getattr(a.type, "lo", None)
            before.append(None if lo is None else str(lo))
        else:
            before.append(None)
        types.append(a.type)
    return out


# -- a workload that makes every event tool print ------------------------------------------

_WORKLOAD = r"""
import ctypes, mmap, os, signal, socket, sys, time
d = sys.argv[1]
end = time.monotonic() + float(sys.argv[2])
libc = ctypes.CDLL(None, use_errno=True)
libc.prctl(15, b"corebpf-wl", 0, 0, 0)                      # PR_SET_NAME: its COMM
with open(sys.argv[3], "r+b") as f:                         # iterations done, shared
    done = mmap.mmap(f.fileno(), 8)                         # (stores, no system calls)
i = 0
while time.monotonic() < end:
    i += 1
    p = os.path.join(d, "corebpf-wl-%d" % (i % 4))
    fd = os.open(p, os.O_CREAT | os.O_RDWR, 0o600)        # opensnoop, filelife, filetop
    os.write(fd, b"x" * 4096)
    os.fsync(fd)                                            # syncsnoop, biolatency
    os.pread(fd, 4096, 0)                                   # cachestat: a page cache hit,
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)      # and, its page dropped,
    os.pread(fd, 4096, 0)                                   # a miss (a read from the disk)
    os.close(fd)
    os.stat(p)                                              # statsnoop
    os.unlink(p)                                            # filelife
    os.getppid()                                            # trace/funccount/argdist/stackcount
    os.kill(os.getpid(), 0)                                 # killsnoop
    try:
        socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP).close()  # capable
    except OSError:
        pass
    pid = os.fork()                                         # exitsnoop, sigsnoop (SIGCHLD)
    if pid == 0:
        os.execv("/bin/true", ["/bin/true", "corebpf-wl"])  # execsnoop
    os.waitpid(pid, 0)
    libc.mount(b"none", os.path.join(d, "no-such-dir").encode(), b"tmpfs", 0, None)  # mountsnoop
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))                              # bindsnoop
    srv.listen(1)                                           # solisten
    cli = socket.create_connection(srv.getsockname())       # tcpconnect, tcpconnlat, tcpstates
    conn, _ = srv.accept()                                  # tcpaccept
    conn.sendall(b"x" * 100)                                # tcptop
    cli.recv(100)
    for s in (cli, conn, srv):                              # tcplife
        s.close()
    socket.getaddrinfo("localhost", None)                   # gethostlatency
    shmid = libc.shmget(0, 4096, 0o1600)                    # shmsnoop
    libc.shmctl(shmid, 0, None)
    a, b = socket.socketpair()                              # sofdsnoop
    socket.send_fds(a, [b"x"], [a.fileno()])
    for fd in socket.recv_fds(b, 1, 1)[1]:
        os.close(fd)
    a.close()
    b.close()
    done[:8] = i.to_bytes(8, "little")
    time.sleep(0.02)
"""


class workload:
    """Context manager: a process (COMM corebpf-wl) that opens, writes,
    fsyncs, reads (from the page cache, then from the disk), stats, unlinks, signals, forks/execs, mounts (failing), makes a
    TCP connection on 127.0.0.1 and resolves a name in a loop, so every
    event tool has something to print.  Files live on /var/tmp (a real
    disk).  .pid is its PID; .iterations() the loops it has completed (each
    one causes every event once: under emulation, beside 16 tools, one took
    seconds)."""

    def __init__(self, seconds: float = 60):
        self.seconds = seconds

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="corebpf-wl-", dir="/var/tmp")
        self._count = os.path.join(self.dir, "iterations")
        with open(self._count, "wb") as f:
            f.write(bytes(8))
        self.proc = subprocess.Popen([sys.executable, "-c", _WORKLOAD, self.dir,
                                      str(self.seconds), self._count])
        self.pid = self.proc.pid
        return self

    def iterations(self) -> int:
        with open(self._count, "rb") as f:
            return int.from_bytes(f.read(8), "little")

    def __exit__(self, *exc):
        self.proc.kill()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:       # stuck in the kernel: say where, go on
            from tests.helpers import stuck_state
            print("workload PID %d did not exit 30 s after SIGKILL: %s"
                  % (self.pid, stuck_state(self.pid)), file=sys.stderr, flush=True)
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
