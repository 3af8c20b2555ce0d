"""Trace new processes: one line per exec() as it returns, with its arguments.

examples:
    execsnoop                # trace every exec()
    execsnoop -x             # also show failed exec()s
    execsnoop -T             # include a HH:MM:SS column
    execsnoop -t             # include seconds since start
    execsnoop -U             # include the UID
    execsnoop -u 1000        # only execs by UID 1000 (or a user name)
    execsnoop -P 181         # only children of PID 181
    execsnoop -n main        # only commands whose name matches "main" (regex)
    execsnoop -l tpkg        # only command lines matching "tpkg" (regex)
    execsnoop -q             # quote each argument
    execsnoop --max-args 10  # keep at most 10 strings per command line
    execsnoop --containers   # include a CONTAINER column (container id or cgroup)
"""
from __future__ import annotations

import re
import time

import corebpf

from . import _cli, _containers, _jsonl

PROG = "execsnoop"


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("-T", "--time", action="store_true", help="include a time column (HH:MM:SS)")
    p.add_argument("-t", "--timestamp", action="store_true",
                   help="include a column of seconds since the tool started")
    p.add_argument("-x", "--fails", action="store_true", help="include failed exec()s")
    p.add_argument("-u", "--uid", type=_cli.uid_type, metavar="USER",
                   help="trace this UID (number or user name) only")
    p.add_argument("-q", "--quote", action="store_true",
                   help='put each argument in double quotes (inner " escaped)')
    p.add_argument("-n", "--name", type=_regex, help="only commands whose name matches this regex")
    p.add_argument("-l", "--line", type=_regex,
                   help="only commands whose argument line matches this regex")
    p.add_argument("-U", "--print-uid", action="store_true", help="print a UID column")
    p.add_argument("-C", "--print-cpu", action="store_true", help="print a CPU column")
    p.add_argument("-M", "--print-pcomm", action="store_true",
                   help="print the parent's command name")
    p.add_argument("--max-args", default="20", type=_max_args,
                   help="strings kept per command line, file name included (default 20, max 60)")
    p.add_argument("-P", "--ppid", type=_cli.pid_type, help="trace children of this PID only")
    _jsonl.add_args(p)
    _cli.container_args(p)
    _containers.add_args(p)
    return p.parse_args(argv)


def _regex(text):
    try:
        return re.compile(text)
    except re.error as e:
        raise _cli.argparse.ArgumentTypeError(f"bad regex {text!r}: {e}") from None


_max_args = _cli.Number(1, 60, "max_args")      # the strings the BPF side keeps


def header(a) -> str:
    h = ""
    if a.time:
        h += "%-9s" % "TIME"
    if a.timestamp:
        h += "%-8s" % "TIME(s)"
    if a.print_uid:
        h += "%-6s" % "UID"
    h += _containers.header(a)
    h += "%-16s %-7s " % ("COMM", "PID")
    if a.print_pcomm:
        h += "%-16s " % "PCOMM"
    h += "%-7s " % "PPID"
    if a.print_cpu:
        h += "%-4s " % "CPU"
    return h + "%3s %s" % ("RET", "ARGS")


def args_text(e, quote: bool) -> str:
    """The command line: file name, then argv[1..], '...' if cut short."""
    parts = bytes(e.args[:e.args_size]).split(b"\0")[:e.args_count]
    words = [_cli.text(p) for p in parts]
    if quote:
        words = ['"' + w.replace('"', '\\"') + '"' for w in words]
    if e.truncated:
        words.append('"..."' if quote else "...")
    return " ".join(words).replace("\n", "\\n")


def argv_raw(e) -> list:
    """The command line for JSON: exact strings (file name, then argv[1..])."""
    parts = bytes(e.args[:e.args_size]).split(b"\0")[:e.args_count]
    return [_jsonl.raw(p) for p in parts]


F = _jsonl.Field
JSON = _jsonl.Events("one object per exec() as it returns", [
    F("pid", "integer", "process ID"),
    F("ppid", "integer", "parent process ID (0: unknown)"),
    F("uid", "integer", "user ID"),
    F("cpu", "integer", "CPU of the exec()"),
    F("comm", "string", "command name after the exec()"),
    F("pcomm", "string", "the parent's command name"),
    F("retval", "integer", "exec()'s return value (0, or -errno with -x)"),
    F("argv", "string[]", "file name, then argv[1..] (at most --max-args strings)",
      get=argv_raw),
    F("truncated", "boolean", "argv was cut short", get=lambda e: bool(e.truncated)),
    _containers.FIELD,
])


def format_event(e, a, start: float, now: float = None) -> str:
    now = time.time() if now is None else now
    line = ""
    if a.time:
        line += "%-9s" % time.strftime("%H:%M:%S", time.localtime(now))
    if a.timestamp:
        line += "%-8.3f" % (now - start)
    if a.print_uid:
        line += "%-6d" % e.uid
    line += _containers.text(a, e)
    line += "%-16s %-7d " % (e.comm, e.pid)
    if a.print_pcomm:
        line += "%-16s " % e.pcomm
    line += "%-7s " % (e.ppid if e.ppid > 0 else "?")
    if a.print_cpu:
        line += "%-4d " % e.cpu
    return line + "%3d %s" % (e.retval, args_text(e, a.quote))


# The raw_syscalls variants' table (bpf_src/execsnoop.bpf.c).
SYSCALLS = {"execve": 1, "execveat": 2}


def run(argv=None):
    a = parse(argv)
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        obj.rodata.targ_fails = a.fails
        if a.uid is not None:
            obj.rodata.targ_uid = a.uid
        if a.ppid:
            obj.rodata.targ_ppid = a.ppid
        obj.rodata.max_args = a.max_args
        _cli.apply_containers(obj, a)
        _containers.apply(obj, a)
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        _cli.fill_syscall_actions(obj, SYSCALLS)
        obj.attach()
        out = _cli.Output(json=a.json)
        start = time.time()

        def on_event(e):
            if a.name and not a.name.search(e.comm):
                return
            if a.line and not a.line.search(args_text(e, False)):
                return
            if a.json:
                out(JSON.line(e))
            else:
                out(format_event(e, a, start))

        # attached: the header now; records wait in the kernel's ring until the
        # first poll (its consumer -- the record decoder built from BTF, the 4 MB
        # mapping the kernel fills at mmap -- is ~2 ms of a start)
        if a.json:
            _jsonl.header(header(a))
        else:
            print(header(a), flush=True)
        rb = obj.ring_buffer("events", on_event, raw_text=a.json)
        _cli.event_loop(rb, out)
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
