"""Display processes currently using BPF programs and maps (the BPF file
descriptors in /proc/PID/fd), and with -v the kprobes and uprobes that bcc
and libbpf created in tracefs; loads no BPF itself.

examples:
    bpflist     # display all processes currently using BPF
    bpflist -v  # also count kprobes/uprobes
    bpflist -vv # display kprobes/uprobes and count them
"""
from __future__ import annotations

import os
import re

from . import _cli, _jsonl

PROG = "bpflist"
# /proc/PID/fd links: anon_inode:bpf-prog, anon_inode:bpf-map (bcc's types),
# anon_inode:bpf_link (a BPF link; the kernel spells it with an underscore)
_FD = re.compile(r"anon_inode:bpf[-_]([\w-]+)$")
# probes a tool made in tracefs: bcc names them after its PID (p_..._bcc_PID),
# libbpf's legacy (non-PMU) ones libbpf_PID_...
_PROBE = (re.compile(r"_bcc_(\d+)\s"), re.compile(r"\blibbpf_(\d+)_"))


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__, verbose=False)
    p.add_argument("-v", "--verbosity", action="count", default=0,
                   help="count and display kprobes/uprobes as well")
    _jsonl.add_args(p)
    return p.parse_args(argv)


def comm_for_pid(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return "[unknown]"


def count_fds(pid: int, counts: dict):
    """Add process `pid`'s BPF file descriptors to counts[(pid, type)]."""
    base = f"/proc/{pid}/fd"
    for fd in os.listdir(base):
        try:
            link = os.readlink(os.path.join(base, fd))
        except OSError:
            continue
        m = _FD.match(link)
        if m:
            key = (pid, m.group(1))
            counts[key] = counts.get(key, 0) + 1


def count_probes(text: str, typ: str, counts: dict):
    """Add the probes of a tracefs kprobe_events/uprobe_events text that a
    tool named after its PID to counts[(pid, typ)]."""
    for line in text.splitlines():
        for rx in _PROBE:
            m = rx.search(line + "\n")
            if m:
                key = (int(m.group(1)), typ)
                counts[key] = counts.get(key, 0) + 1
                break


def report(counts: dict, comm=comm_for_pid) -> list:
    """bcc's table: PID, COMM, TYPE (as wide as the longest), COUNT."""
    width = max((len(t) for _, t in counts), default=0) + 1
    fmt = "%%-6s %%-16s %%-%ds %%s" % width
    lines = [fmt % ("PID", "COMM", "TYPE", "COUNT")]
    for (pid, typ), n in sorted(counts.items(), key=lambda kv: kv[0][0]):
        lines.append(fmt % (pid, comm(pid), typ, n))
    return lines


F = _jsonl.Field
JSON = _jsonl.Intervals("one object: BPF objects (and with -v, probes) per process", rows=[
    F("pid", "integer", "process ID"),
    F("comm", "string", "its command name, [unknown] if gone"),
    F("type", "string", "prog, map, link (file descriptors), kprobe or uprobe (-v)"),
    F("count", "integer", "how many"),
])


def comm_raw(pid: int) -> str:
    """--json: the exact command name (bytes that are not UTF-8 as \\udcNN)."""
    try:
        with open(f"/proc/{pid}/comm", "rb") as f:
            return _jsonl.raw(f.read().rstrip(b"\n"))
    except OSError:
        return "[unknown]"


def run(argv=None):
    a = parse(argv)
    counts = {}
    if a.verbosity > 0:
        from corebpf import features
        for typ in ("kprobe", "uprobe"):
            try:
                with open(os.path.join(features.tracefs(), f"{typ}_events")) as f:
                    text = f.read()
            except OSError:
                text = ""           # no such probes on this kernel (no CONFIG_KPROBES)
            if a.verbosity > 1:
                say = (lambda t: _jsonl.header(t)) if a.json else print
                say("open %ss:" % typ)
                for line in text.splitlines():
                    say(line.strip())
                say("")
            count_probes(text, typ, counts)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                count_fds(int(entry), counts)
            except OSError:
                continue            # gone, or not ours to read
    if a.json:
        JSON.write([{"pid": pid, "comm": comm_raw(pid), "type": typ, "count": n}
                    for (pid, typ), n in sorted(counts.items(), key=lambda kv: kv[0][0])])
    else:
        print("\n".join(report(counts)), flush=True)
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
