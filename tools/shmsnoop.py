"""Trace shm*() syscalls.

examples:
    shmsnoop           # trace all shm*() syscalls
    shmsnoop -T        # include timestamps
    shmsnoop -p 181    # only trace PID 181
    shmsnoop -t 123    # only trace TID 123
    shmsnoop -d 10     # trace for 10 seconds only
    shmsnoop -n main   # only print process names containing "main"

probes: the syscall tracepoints of shmget, shmat, shmdt and shmctl (entry for
the arguments, exit for the result).
"""
from __future__ import annotations

from . import _cli, _containers, _ipcsnoop, _jsonl

PROG = "shmsnoop"
SYS_NAMES = ("SHMGET", "SHMAT", "SHMDT", "SHMCTL")
SHMGET_FLAGS = (("IPC_CREAT", 0o1000), ("IPC_EXCL", 0o2000), ("SHM_HUGETLB", 0o4000),
                ("SHM_HUGE_2MB", 21 << 26), ("SHM_HUGE_1GB", 30 << 26),
                ("SHM_NORESERVE", 0o10000), ("SHM_EXEC", 0o100000))
SHMAT_FLAGS = (("SHM_RDONLY", 0o10000), ("SHM_RND", 0o20000), ("SHM_REMAP", 0o40000),
               ("SHM_EXEC", 0o100000))
SHMCTL_CMDS = {0: "IPC_RMID", 1: "IPC_SET", 2: "IPC_STAT", 3: "IPC_INFO", 11: "SHM_LOCK",
               12: "SHM_UNLOCK", 13: "SHM_STAT", 14: "SHM_INFO", 15: "SHM_STAT_ANY"}


def parse(argv=None):
    return _ipcsnoop.parse(PROG, __doc__, argv)


def flags_text(val: int, flags) -> str:
    """bcc's shmflg_str: 0x.. (NAME|NAME|0octal rest)."""
    text = "0x%x" % val
    if not val:
        return text
    names = [name for name, bit in flags if bit & val]
    for name, bit in flags:
        if bit & val:
            val &= ~bit
    if val or not names:
        names.append("0%o" % val)
    return text + " (" + "|".join(names) + ")"


def header(a) -> str:
    return ("%-14s" % "TIME(s)" if a.timestamp else "") + "%-6s %-16s %6s %16s ARGs" % (
        "TID" if a.tid else "PID", "COMM", "SYS", "RET")


def _signed(v: int) -> int:
    return v - (1 << 64) if v >> 63 else v


F = _jsonl.Field
JSON = _jsonl.Events("one object per shmget(), shmat(), shmdt() or shmctl() call "
                     "(arguments the call does not take are 0)", [
    F("ts_us", "integer", "kernel time (CLOCK_MONOTONIC)", "us"),
    F("pid", "integer", "process ID", get=lambda e: e.id >> 32),
    F("tid", "integer", "thread ID", get=lambda e: e.id & 0xFFFFFFFF),
    F("comm", "string", "command name"),
    F("sys", "string", "SHMGET, SHMAT, SHMDT or SHMCTL",
      get=lambda e: SYS_NAMES[e.sys] if e.sys < len(SYS_NAMES) else "N/A"),
    F("ret", "integer", "the call's return value (an ID, an address, 0, or -errno)",
      get=lambda e: _signed(e.ret)),
    F("key", "integer", "shmget()'s key"),
    F("size", "integer", "shmget()'s size", "bytes"),
    F("shmflg", "integer", "shmget()'s or shmat()'s flags"),
    F("shmid", "integer", "shmat()'s or shmctl()'s segment ID"),
    F("shmaddr", "string", "shmat()'s or shmdt()'s address, hex", get=lambda e: hex(e.shmaddr)),
    F("cmd", "integer", "shmctl()'s command"),
    F("buf", "string", "shmctl()'s buffer address, hex", get=lambda e: hex(e.buf)),
    _containers.FIELD,
])


def format_event(e, a, first_ts: int) -> str:
    sys_name = SYS_NAMES[e.sys] if e.sys < len(SYS_NAMES) else "N/A"
    out = "%-14.9f" % ((e.ts_us - first_ts) / 1000000) if a.timestamp else ""
    out += "%-6d %-16s %6s %16x " % (e.id & 0xFFFFFFFF if a.tid else e.id >> 32, e.comm,
                                     sys_name, e.ret)
    if e.sys == 0:
        out += "key: 0x%x, size: %d, shmflg: %s" % (e.key, e.size,
                                                    flags_text(e.shmflg, SHMGET_FLAGS))
    elif e.sys == 1:
        out += "shmid: 0x%x, shmaddr: 0x%x, shmflg: %s" % (e.shmid, e.shmaddr,
                                                           flags_text(e.shmflg, SHMAT_FLAGS))
    elif e.sys == 2:
        out += "shmaddr: 0x%x" % e.shmaddr
    elif e.sys == 3:
        out += "shmid: 0x%x, cmd: %d (%s), buf: 0x%x" % (
            e.shmid, e.cmd, SHMCTL_CMDS.get(e.cmd, "0x%x" % e.cmd), e.buf)
    return out


# The raw_syscalls variants' table: syscall -> enum shm_sys + 1 (shmsnoop.h).
SYSCALLS = {"shmget": 1, "shmat": 2, "shmdt": 3, "shmctl": 4}


def run(argv=None):
    a = parse(argv)
    return _ipcsnoop.run(PROG, a, header(a), format_event, JSON.line, SYSCALLS)


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
