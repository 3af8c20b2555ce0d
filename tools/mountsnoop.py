"""Trace mount and umount syscalls (also fsopen, fsconfig, fsmount and
move_mount), one line per call as it returns, written the way strace would.

examples:
    mountsnoop          # trace mount-API syscalls
    mountsnoop -P       # also show the parent's name and PID
"""
from __future__ import annotations

import errno

import corebpf

from . import _cli, _containers, _jsonl

PROG = "mountsnoop"

OP_MOUNT, OP_UMOUNT, OP_FSOPEN, OP_FSCONFIG, OP_FSMOUNT, OP_MOVE_MOUNT = range(6)

MS_MGC_VAL, MS_MGC_MSK = 0xC0ED0000, 0xFFFF0000
MOUNT_FLAGS = (
    ("MS_RDONLY", 1), ("MS_NOSUID", 2), ("MS_NODEV", 4), ("MS_NOEXEC", 8),
    ("MS_SYNCHRONOUS", 16), ("MS_REMOUNT", 32), ("MS_MANDLOCK", 64), ("MS_DIRSYNC", 128),
    ("MS_NOATIME", 1024), ("MS_NODIRATIME", 2048), ("MS_BIND", 4096), ("MS_MOVE", 8192),
    ("MS_REC", 16384), ("MS_SILENT", 32768), ("MS_POSIXACL", 1 << 16),
    ("MS_UNBINDABLE", 1 << 17), ("MS_PRIVATE", 1 << 18), ("MS_SLAVE", 1 << 19),
    ("MS_SHARED", 1 << 20), ("MS_RELATIME", 1 << 21), ("MS_KERNMOUNT", 1 << 22),
    ("MS_I_VERSION", 1 << 23), ("MS_STRICTATIME", 1 << 24), ("MS_LAZYTIME", 1 << 25),
    ("MS_ACTIVE", 1 << 30), ("MS_NOUSER", 1 << 31))
UMOUNT_FLAGS = (("MNT_FORCE", 1), ("MNT_DETACH", 2), ("MNT_EXPIRE", 4), ("UMOUNT_NOFOLLOW", 8))
FSOPEN_FLAGS = (("FSOPEN_CLOEXEC", 1),)
FSMOUNT_FLAGS = (("FSMOUNT_CLOEXEC", 1),)
MOUNT_ATTR_FLAGS = (
    ("MOUNT_ATTR_RDONLY", 0x1), ("MOUNT_ATTR_NOSUID", 0x2), ("MOUNT_ATTR_NODEV", 0x4),
    ("MOUNT_ATTR_NOEXEC", 0x8), ("MOUNT_ATTR_NOATIME", 0x10), ("MOUNT_ATTR_STRICTATIME", 0x20),
    ("MOUNT_ATTR_NODIRATIME", 0x80), ("MOUNT_ATTR_IDMAP", 0x100000),
    ("MOUNT_ATTR_NOSYMFOLLOW", 0x200000))
MOVE_MOUNT_FLAGS = (
    ("MOVE_MOUNT_F_SYMLINKS", 0x1), ("MOVE_MOUNT_F_AUTOMOUNTS", 0x2),
    ("MOVE_MOUNT_F_EMPTY_PATH", 0x4), ("MOVE_MOUNT_T_SYMLINKS", 0x10),
    ("MOVE_MOUNT_T_AUTOMOUNTS", 0x20), ("MOVE_MOUNT_T_EMPTY_PATH", 0x40),
    ("MOVE_MOUNT_SET_GROUP", 0x100), ("MOVE_MOUNT_BENEATH", 0x200))
FSCONFIG_CMDS = ("FSCONFIG_SET_FLAG", "FSCONFIG_SET_STRING", "FSCONFIG_SET_BINARY",
                 "FSCONFIG_SET_PATH", "FSCONFIG_SET_PATH_EMPTY", "FSCONFIG_SET_FD",
                 "FSCONFIG_CMD_CREATE", "FSCONFIG_CMD_RECONFIGURE", "FSCONFIG_CMD_CREATE_EXCL")
AT_FDCWD = -100
# The raw_syscalls variants' table: syscall -> enum mount_op + 1 (mountsnoop.h).
SYSCALLS = {name: op + 1 for op, name in enumerate(
    ("mount", "umount2", "fsopen", "fsconfig", "fsmount", "move_mount"))}

_ESCAPES = {0x07: "\\a", 0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0B: "\\v", 0x0C: "\\f",
            0x0D: "\\r", 0x22: '\\"', 0x5C: "\\\\"}


def quote(s) -> str:
    """A C string literal: printable ASCII as is, C escapes, else \\xNN."""
    if isinstance(s, str):
        s = s.encode("utf-8", "surrogateescape")
    return '"' + "".join(_ESCAPES.get(c) or (chr(c) if 0x20 <= c <= 0x7E else "\\x%02x" % c)
                         for c in s) + '"'


def flags_text(flags: int, table) -> str:
    """Known flag names joined by '|', leftover bits in hex, 0x0 for none."""
    names = []
    for name, bit in table:
        if flags & bit:
            names.append(name)
        flags &= ~bit
    if flags or not names:
        names.append("0x%x" % flags)
    return "|".join(names)


def mount_flags_text(flags: int) -> str:
    names = []
    if flags & MS_MGC_MSK == MS_MGC_VAL:
        flags &= ~MS_MGC_MSK
        names.append("MS_MGC_VAL")
    return "|".join(names + [flags_text(flags, MOUNT_FLAGS)]) if flags or not names \
        else names[0]


def ret_text(ret: int) -> str:
    if ret < 0 and -ret in errno.errorcode:
        return "-" + errno.errorcode[-ret]
    return str(ret)


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


def dfd_text(v: int) -> str:
    v = _s32(v)
    return "AT_FDCWD" if v == AT_FDCWD else str(v)


def call_text(e) -> str:
    a, s = e.args, e.str
    if e.op == OP_MOUNT:
        call = "mount(%s, %s, %s, %s, %s)" % (quote(s[0]), quote(s[1]), quote(s[2]),
                                              mount_flags_text(a[3]), quote(s[3]))
    elif e.op == OP_UMOUNT:
        call = "umount(%s, %s)" % (quote(s[0]), flags_text(a[1], UMOUNT_FLAGS))
    elif e.op == OP_FSOPEN:
        call = "fsopen(%s, %s)" % (quote(s[0]), flags_text(a[1], FSOPEN_FLAGS))
    elif e.op == OP_FSCONFIG:
        cmd = a[1] & 0xFFFFFFFF
        call = "fsconfig(%d, %s, %s, %s, %d)" % (
            _s32(a[0]), FSCONFIG_CMDS[cmd] if cmd < len(FSCONFIG_CMDS) else str(cmd),
            quote(s[0]), quote(s[1]), _s32(a[4]))
    elif e.op == OP_FSMOUNT:
        call = "fsmount(%d, %s, %s)" % (_s32(a[0]), flags_text(a[1], FSMOUNT_FLAGS),
                                        flags_text(a[2], MOUNT_ATTR_FLAGS))
    else:
        call = "move_mount(%s, %s, %s, %s, %s)" % (
            dfd_text(a[0]), quote(s[0]), dfd_text(a[2]), quote(s[1]),
            flags_text(a[4], MOVE_MOUNT_FLAGS))
    return "%s = %s" % (call, ret_text(e.ret))


SYSCALL_NAMES = tuple(SYSCALLS)
STRING_ARGS = (4, 1, 1, 2, 0, 2)        # string arguments of each op, in call order

F = _jsonl.Field
JSON = _jsonl.Events("one object per mount(), umount(), fsopen(), fsconfig(), fsmount() "
                     "or move_mount() call", [
    F("comm", "string", "command name"),
    F("pid", "integer", "process ID"),
    F("tid", "integer", "thread ID"),
    F("pcomm", "string", "the parent's command name"),
    F("ppid", "integer", "parent process ID"),
    F("mnt_ns", "integer", "mount namespace inode number"),
    F("syscall", "string", "mount, umount2, fsopen, fsconfig, fsmount or move_mount",
      get=lambda e: SYSCALL_NAMES[e.op]),
    F("strings", "string[]", "the call's string arguments, in order, exact",
      get=lambda e: list(e.str[:STRING_ARGS[e.op]])),
    F("call", "string", "the call as bcc's CALL column shows it (C string escapes)",
      get=call_text),
    F("ret", "integer", "the call's return value (a result, or -errno)"),
    _containers.FIELD,
])


def header(parent: bool) -> str:
    if parent:
        return "{:16} {:<7} {:<7} {:16} {:<7} {:<11} {}".format(
            "COMM", "PID", "TID", "PCOMM", "PPID", "MNT_NS", "CALL")
    return "{:16} {:<7} {:<7} {:<11} {}".format("COMM", "PID", "TID", "MNT_NS", "CALL")


def format_event(e, parent: bool) -> str:
    if parent:
        return "{:16} {:<7} {:<7} {:16} {:<7} {:<11} {}".format(
            e.comm, e.pid, e.tid, e.pcomm, e.ppid, e.mnt_ns, call_text(e))
    return "{:16} {:<7} {:<7} {:<11} {}".format(e.comm, e.pid, e.tid, e.mnt_ns, call_text(e))


def run(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("-P", "--parent_process", action="store_true",
                   help="also show the parent's command name and PID")
    _cli.container_args(p)
    _jsonl.add_args(p)
    _containers.add_args(p)
    a = p.parse_args(argv)
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        _cli.drop_missing_syscalls(obj)
        _cli.apply_containers(obj, a)
        _containers.apply(obj, a)
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        _cli.fill_syscall_actions(obj, SYSCALLS)
        obj.attach()
        head, text = _containers.column(a, header(a.parent_process),
                                        lambda e: format_event(e, a.parent_process))
        rb, out = _jsonl.ring(obj, a, JSON, text, head)
        try:
            _cli.event_loop(rb, out)
        finally:
            out.flush()
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
