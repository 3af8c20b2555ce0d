"""Pure formatters and tables of the syscall and file tools (no privilege)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from types import SimpleNamespace as NS

import pytest

from corebpf import syscalls
from corebpf.tools import (cachestat, filelife, filetop, mountsnoop, statsnoop, syncsnoop,
                           syscount, vfscount, vfsstat)

HEADER = "/usr/include/x86_64-linux-gnu/asm/unistd_64.h"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_syscall_table_matches_the_kernel_headers():
    with open(HEADER) as f:
        text = f.read()
    for m in re.finditer(r"^#define __NR_(\w+)\s+(\d+)\s*$", text, re.M):
        assert syscalls.X86_64[int(m.group(2))] == m.group(1)
    assert syscalls.name(0, "x86_64") == "read" and syscalls.name(166, "x86_64") == "umount2"
    assert syscalls.number("openat", "x86_64") == 257
    assert syscalls.name(9999, "x86_64") == "[unknown: 9999]"
    # calls newer than the header, same number everywhere
    assert syscalls.name(451, "x86_64") == syscalls.name(451, "aarch64") == "cachestat"
    assert syscalls.name(79, "aarch64") == "newfstatat" and syscalls.number("openat", "aarch64") == 56


def test_arm64_syscall_table():
    """arm64 uses the generic table (the kernel's scripts/syscall.tbl): no
    open/stat/fork..., only their *at successors."""
    known = {"io_setup": 0, "openat": 56, "close": 57, "read": 63, "write": 64,
             "newfstatat": 79, "fstat": 80, "sync_file_range": 84, "exit_group": 94,
             "kill": 129, "getrlimit": 163, "clone": 220, "execve": 221, "mmap": 222,
             "accept4": 242, "renameat2": 276, "execveat": 281, "statx": 291,
             "clone3": 435, "openat2": 437, "map_shadow_stack": 453, "mseal": 462}
    assert {n: syscalls.number(n, "aarch64") for n in known} == known
    assert syscalls.table("arm64") is syscalls.table("aarch64")
    for gone in ("open", "stat", "lstat", "fork", "vfork", "access", "unlink", "rename",
                 "mkdir", "pipe", "poll", "select", "dup2", "creat", "time"):
        assert syscalls.number(gone, "aarch64") is None, gone
    assert not [n for n in syscalls.table("aarch64").values() if n.endswith("_time32")]


def test_generator_reproduces_the_checked_in_table():
    out = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "gen_syscalls.py")],
                         capture_output=True, text=True, check=True).stdout
    with open(os.path.join(ROOT, "corebpf", "syscalls.py")) as f:
        assert f.read() == out


def test_statsnoop_format():
    a = NS(timestamp=True, sysname=True)
    e = NS(ts=1_500_000_000, pid=42, comm="stat", ret=-2, call=2, fname="/tmp/x")
    assert statsnoop.header(a) == "TIME(s)       PID     COMM               FD ERR SYSCALL      PATH"
    assert statsnoop.format_event(e, a, 1_000_000_000) == \
        "0.500000000   42      stat               -1   2 statx        /tmp/x"


def test_syncsnoop_format():
    e = NS(ts=2989520029123, comm="mandb", call=4)
    assert syncsnoop.format_event(e) == "2989.520029000     mandb            msync           "


def test_mountsnoop_rendering():
    assert mountsnoop.quote(b'a"b\\c\n\x01\xff') == '"a\\"b\\\\c\\n\\x01\\xff"'
    assert mountsnoop.mount_flags_text(0xC0ED0000 | 1 | 4096) == "MS_MGC_VAL|MS_RDONLY|MS_BIND"
    assert mountsnoop.mount_flags_text(0xC0ED0000) == "MS_MGC_VAL"
    assert mountsnoop.mount_flags_text(0) == "0x0"
    assert mountsnoop.flags_text(2 | 0x100, mountsnoop.UMOUNT_FLAGS) == "MNT_DETACH|0x100"
    assert mountsnoop.ret_text(-2) == "-ENOENT" and mountsnoop.ret_text(3) == "3"
    e = NS(op=mountsnoop.OP_MOVE_MOUNT, args=[5, 0, 0xFFFFFF9C, 0, 4, 0], str=["", "/mnt", "", ""],
           ret=0)
    assert mountsnoop.call_text(e) == \
        'move_mount(5, "", AT_FDCWD, "/mnt", MOVE_MOUNT_F_EMPTY_PATH) = 0'
    e = NS(op=mountsnoop.OP_FSCONFIG, args=[3, 1, 0, 0, 0, 0], str=["size", "1m", "", ""], ret=-22)
    assert mountsnoop.call_text(e) == 'fsconfig(3, FSCONFIG_SET_STRING, "size", "1m", 0) = -EINVAL'


def test_syscount_render_and_list():
    a = NS(process=False, latency=True, milliseconds=False, top=2)
    items = [(0, NS(count=5, total_ns=3000)), (1, NS(count=9, total_ns=1000)),
             (110, NS(count=1, total_ns=9000)), (0xFFFFFFFF, NS(count=99, total_ns=1))]
    text = syscount.render(items, a, now="12:00:00")
    name = syscalls.name
    assert text == ("[12:00:00]\nSYSCALL                   COUNT        TIME (us)\n"
                    "%-22s %8d %16.3f\n%-22s %8d %16.3f\n\n" % (name(110), 1, 9.0, name(0), 5, 3.0))
    first = syscount.list_text().splitlines()[0]
    assert len(first.split()) == 4 and first.startswith("%-22s   " % syscalls.names()[0])
    assert syscount.errno_type("ENOENT") == 2 and syscount.errno_type("-13") == 13


def test_vfsstat_format():
    assert vfsstat.header() == ("TIME         READ/s  WRITE/s  FSYNC/s   OPEN/s CREATE/s "
                                "UNLINK/s  MKDIR/s  RMDIR/s")
    assert vfsstat.format_row([10, 4, 0, 6, 2, 2, 1, 1], 2, now="01:02:03") == \
        "01:02:03:         5        2        0        3        1        1        0        0"


def test_filetop_render_sorting_and_names():
    k = lambda tid, name, n=None: NS(tid=tid, comm="dd", type=ord("R"), name=name[:32],
                                     name_len=n or len(name))
    items = [(k(1, "small"), NS(reads=1, writes=0, rbytes=10, wbytes=0)),
             (k(2, "x" * 32, 40), NS(reads=0, writes=3, rbytes=0, wbytes=4096))]
    a = NS(sort="all", maxrows=20)
    out = filetop.render(items, a, "00:00:00 loadavg: 1 2 3 1/1 1\n").splitlines()
    assert out[2].split() == ["TID", "COMM", "READS", "WRITES", "R_Kb", "W_Kb", "T", "FILE"]
    assert out[3] == "2       dd               0      3      0       4       R " + "x" * 29 + "..."
    assert out[4].split()[-1] == "small"
    a.sort, a.maxrows = "reads", 1
    assert filetop.render(items, a, "").splitlines()[2].endswith("small")


def test_filelife_line_and_paths():
    assert filelife.format_line(7, "rm", 1_234_567_890, "f", now="10:00:00") == \
        "10:00:00 7       rm               1.23    f"
    buf = b"c\0b\0a\0../x/./f\0"
    e = NS(buf=buf, dir_size=6, fname_size=len(b"../x/./f\0"))
    assert filelife.event_path(e) == "/a/b/x/f"
    e = NS(buf=b"f\0shm\0dev\0", dir_size=10, fname_size=0)
    assert filelife.event_path(e) == "/dev/shm/f"
    m = filelife.Matcher()
    m.birth("/dev/shm/f", 100)
    assert m.death("/dev/shm/g", 200) is None and m.death("/dev/shm/f", 350) == 250
    assert m.death("/dev/shm/f", 400) is None


def test_cachestat_arithmetic():
    # kprobe variant: bcc's formula (accesses - buffer dirties, adds - dirtied)
    assert cachestat.hits_misses([100, 30, 10, 5], True) == (65, 25, 10, 65 / 90)
    # tracepoint variant: pages looked up and pages added
    assert cachestat.hits_misses([100, 30, 10, 0], False) == (70, 30, 10, 0.7)
    assert cachestat.hits_misses([10, 30, 0, 0], False) == (0, 10, 0, 0.0)   # readahead
    assert cachestat.hits_misses([0, 0, 0, 0], False) == (0, 0, 0, 0.0)
    row = cachestat.format_row([100, 30, 10, 0], False, True, {"Buffers": 2048, "Cached": 4096},
                               now="01:00:00")
    assert row == "01:00:00       70       30       10   70.00%            2          4"


def test_vfscount_render():
    funcs = vfscount.vfs_functions(b"ffffffff81000000 T vfs_read\nffffffff81000100 t vfs_write\n"
                                   b"ffffffff81000200 D vfs_data\nffffffff81000300 T other\n")
    assert funcs == [(0xffffffff81000000, "vfs_read"), (0xffffffff81000100, "vfs_write")]
    text = vfscount.render([(0xffffffff81000100, 9), (0xffffffff81000000, 2)], funcs)
    assert text.splitlines() == ["", "ADDR             FUNC                          COUNT",
                                 "ffffffff81000000 vfs_read                          2",
                                 "ffffffff81000100 vfs_write                         9"]


@pytest.mark.parametrize("tool", ["statsnoop", "syncsnoop", "mountsnoop", "syscount", "vfsstat",
                                  "vfscount", "filelife", "filetop", "cachestat"])
def test_help_has_examples(tool):
    r = subprocess.run([sys.executable, "-m", "corebpf", tool, "-h"], capture_output=True,
                       text=True)
    assert r.returncode == 0 and "examples:" in r.stdout, r.stderr
