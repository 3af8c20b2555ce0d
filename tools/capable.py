"""Trace security capability checks (cap_capable()): one line per check.

Where the kernel has the capability:cap_capable tracepoint (recent kernels) it
is used: it reports every check as it completes but not whether the check
was audited, so every check is shown (as with -v) and AUDIT/INSETID read
N/A.  Kernels without it use a kprobe on cap_capable(), as bcc does.

examples:
    capable             # trace capability checks
    capable -v          # also checks that are not audited
    capable -p 181      # only PID 181
    capable -x          # add TID and INSETID columns
    capable --unique    # show each capability once per process
    capable -K          # add kernel stacks
    capable -KU --unique   # each distinct path to a check once, with both stacks
"""
from __future__ import annotations

import os
import sys
import time

import corebpf
from corebpf.symbols.stacks import Stacks, missing

from . import _cli, _containers, _jsonl, _stacks

PROG = "capable"

CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
        "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
        "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
        "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
        "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
        "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
        "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
        "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
        "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"]


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__, verbose=False)   # bcc's -v/--verbose
    p.add_argument("-v", "--verbose", "--verbose-checks", dest="all_checks", action="store_true",
                   help="include checks that are not audited")
    p.add_argument("-p", "--pid", type=_cli.pid_type, help="trace this PID only")
    p.add_argument("-x", "--extra", action="store_true", help="show TID and INSETID columns")
    p.add_argument("-K", "--kernel-stack", action="store_true",
                   help="print the kernel stack of each check")
    p.add_argument("-U", "--user-stack", action="store_true",
                   help="print the user stack of each check")
    p.add_argument("--unique", action="store_true",
                   help="don't repeat a capability for the same process (and stacks, "
                        "with -K/-U)")
    _cli.container_args(p)
    _jsonl.add_args(p)
    _containers.add_args(p)
    return p.parse_args(argv)


def cap_name(cap: int) -> str:
    return CAPS[cap] if 0 <= cap < len(CAPS) else "?"


def header(extra: bool) -> str:
    if extra:
        return "%-9s %-6s %-6s %-6s %-16s %-4s %-20s %-6s %s" % (
            "TIME", "UID", "PID", "TID", "COMM", "CAP", "NAME", "AUDIT", "INSETID")
    return "%-9s %-6s %-6s %-16s %-4s %-20s %-6s" % ("TIME", "UID", "PID", "COMM", "CAP", "NAME",
                                                     "AUDIT")


F = _jsonl.Field
JSON = _jsonl.Events("one object per capability check (audited ones only without -v, "
                     "where the kernel tells)", [
    F("uid", "integer", "user ID"),
    F("pid", "integer", "process ID", get=lambda e: e.tgid),
    F("tid", "integer", "thread ID"),
    F("comm", "string", "command name"),
    F("cap", "integer", "capability number"),
    F("name", "string", "capability name (CAP_SYS_ADMIN...), ? if unknown",
      get=lambda e: cap_name(e.cap)),
    F("audit", "integer|null", "1 if the check is audited, 0 if not, null if unknown",
      get=lambda e: e.audit if e.audit >= 0 else None),
    F("insetid", "integer|null", "1 if in a set*id() call, null if unknown",
      get=lambda e: e.insetid if e.insetid >= 0 else None),
    _stacks.KERNEL_STACK, _stacks.USER_STACK,
    _containers.FIELD,
])


def format_event(e, extra: bool, now: float = None) -> str:
    """As bcc: the PID column holds the thread id, the TID column the process id."""
    ts = time.strftime("%H:%M:%S", time.localtime(now))
    audit = "%-6d" % e.audit if e.audit >= 0 else "%-6s" % "N/A"
    if extra:
        insetid = str(e.insetid) if e.insetid >= 0 else "N/A"
        return "%-9s %-6d %-6d %-6d %-16s %-4d %-20s %s %s" % (
            ts, e.uid, e.tid, e.tgid, e.comm, e.cap, cap_name(e.cap), audit, insetid)
    return "%-9s %-6d %-6d %-16s %-4d %-20s %s" % (ts, e.uid, e.tid, e.comm, e.cap,
                                                   cap_name(e.cap), audit)


def stack_lines(e, stacks: Stacks, a) -> list:
    """bcc's frames under an event: kernel stack, then user stack."""
    out = []
    if a.kernel_stack:
        out += _indent(stacks.kernel(e.kernel_stack_id, show_offset=True, show_module=True,
                                     skip_probe=True), e.kernel_stack_id)
    if a.user_stack:
        out += _indent(stacks.user(e.user_stack_id, e.tgid, show_offset=True,
                                   show_module=True), e.user_stack_id)
    return out


def _indent(frames, stack_id) -> list:
    if missing(stack_id):
        return ["    " + f for f in frames]
    return ["        " + f for f in frames]


def run(argv=None):
    a = parse(argv)
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        if a.pid:
            obj.rodata.targ_tid = a.pid
        obj.rodata.targ_self = os.getpid()
        obj.rodata.targ_audit_only = not a.all_checks
        obj.rodata.targ_unique = a.unique
        obj.rodata.targ_kernel_stack = a.kernel_stack
        obj.rodata.targ_user_stack = a.user_stack
        if not (a.kernel_stack or a.user_stack):
            obj.maps["stacks"].max_entries = 1
        _cli.apply_containers(obj, a)
        _containers.apply(obj, a)
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        obj.attach()
        if not a.all_checks and obj.variant != "kprobe":
            sys.stderr.write(f"{PROG}: the cap_capable tracepoint does not say which checks "
                             "are audited: showing every check (as -v)\n")
        stacks = Stacks(obj.maps["stacks"]) if a.kernel_stack or a.user_stack else None

        def text(e):
            line = format_event(e, a.extra)
            return "\n".join([line] + stack_lines(e, stacks, a)) if stacks else line
        def record(e):
            return JSON.record(e, **_stacks.json_stacks(
                stacks, e.tgid, e.kernel_stack_id if a.kernel_stack else None,
                e.user_stack_id if a.user_stack else None, skip_probe=True))
        spec = _jsonl.Custom(record) if stacks else JSON
        head, text = _containers.column(a, header(a.extra), text)
        rb, out = _jsonl.ring(obj, a, spec, text, head)
        _cli.event_loop(rb, out)
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
