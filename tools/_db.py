"""What dbslower, dbstat and mysqld_qslower share: finding the database's
processes and attaching the `dbquery` object's programs to their USDT
query__start/query__done probes (or, for dbslower -x, to a MySQL binary's
dispatch_command())."""
from __future__ import annotations

import os
import re

from corebpf.user import usdt
from corebpf.symbols.elf import ElfError, check_pid, open_elf, resolve_binary

from . import _cli

PROCESS_NAMES = {"mysql": "mysqld", "postgres": "postgres"}


def pidof(name: str) -> list:
    """PIDs whose command name or executable's base name is `name` (as pidof)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/comm") as f:
                comm = f.read().strip()
            exe = os.path.basename(os.readlink(f"/proc/{d}/exe")) if comm != name else comm
        except OSError:
            continue
        if name in (comm, exe):
            out.append(int(d))
    return sorted(out)


pid_list = _cli.pid_type        # -p PID [PID...]: each one must exist


def filter_pids(obj):
    """Before load: count only the queries of attach_pids()' PIDs and their children."""
    obj.rodata.targ_filter_pids = True


def attach_pids(obj, pids):
    """USDT query__start/query__done (any provider) of each PID's binary, in
    every process running it (connections opened later included: PostgreSQL
    forks a backend per connection); the kernel keeps the queries of these
    PIDs and their children (filter_pids()).  Where the kernel has no BPF
    cookies and the binary is position-independent (usdt.needs_pid()), in
    each PID only, as bcc does: children forked later are not seen there."""
    attached = set()
    for pid in pids:
        check_pid(pid)
        start = usdt.find_probe("", "query__start", pid=pid)
        done = usdt.find_probe(start.provider, "query__done", path=start.path, pid=pid)
        obj.maps["db_pids"][pid] = 1
        where = pid if usdt.needs_pid(start) else -1
        key = os.stat(start.path).st_ino, os.stat(start.path).st_dev, where
        if key in attached:
            continue
        attached.add(key)
        usdt.attach_probe(obj.programs["query_start"], start, where)
        usdt.attach_probe(obj.programs["query_done"], done, where)


_DISPATCH = re.compile(r"\w+dispatch_command\w+")


def dispatch_symbol(path: str):
    """(name, mysql56) of MySQL's dispatch_command in `path` (bcc's regex);
    ElfError if absent."""
    path = resolve_binary(path)
    hits = [n for n, _, _ in open_elf(path).symbols() if _DISPATCH.fullmatch(n)]
    if not hits:
        raise ElfError(f"Can't find function 'dispatch_command' in {path}")
    return path, hits[0], "COM_DATA" not in hits[0]


def disable_unused(obj, uprobe_mode: bool):
    for name in ("query_start", "query_done"):
        obj.programs[name].autoload = not uprobe_mode
    for name in ("dispatch_start", "dispatch_return"):
        obj.programs[name].autoload = uprobe_mode


def query_json(description: str):
    """The --json declaration of dbslower and mysqld_qslower: one object per
    query slower than the threshold."""
    from . import _containers, _jsonl
    F = _jsonl.Field
    return _jsonl.Events(description, [
        F("pid", "integer", "process ID"),
        F("tid", "integer", "thread ID (mysqld_qslower's PID column)"),
        F("start_ns", "integer", "query start, kernel time (CLOCK_MONOTONIC)", "ns"),
        F("latency_ns", "integer", "time the query took", "ns", get=lambda e: e.delta_ns),
        F("query", "string", "the query text (truncated to the probe's copy)"),
        _containers.FIELD,
    ])
