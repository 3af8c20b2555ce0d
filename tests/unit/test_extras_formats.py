"""Formats of the file, cache and memory tools against bcc's (no privilege)."""
from __future__ import annotations

import struct
from types import SimpleNamespace as NS

from corebpf.tools import (cachetop, dcsnoop, dcstat, dirtop, filegone, mdflush, pidpersec,
                           readahead, shmsnoop, slabratetop, sofdsnoop, swapin, ttysnoop)


def test_shmsnoop_flags_and_rows():
    assert shmsnoop.flags_text(0, shmsnoop.SHMGET_FLAGS) == "0x0"
    assert shmsnoop.flags_text(0o1666, shmsnoop.SHMGET_FLAGS) == "0x3b6 (IPC_CREAT|0666)"
    assert shmsnoop.flags_text(0o666, shmsnoop.SHMGET_FLAGS) == "0x1b6 (0666)"
    assert shmsnoop.flags_text(0o10000, shmsnoop.SHMAT_FLAGS) == "0x1000 (SHM_RDONLY)"
    a = shmsnoop.parse(["-T"])
    assert shmsnoop.header(a) == "TIME(s)       PID    COMM                SYS              RET ARGs"
    e = NS(id=(19813 << 32) | 19814, ts_us=1_563_194, sys=1, key=0, size=0, shmflg=0,
           shmid=0x10000, shmaddr=0, cmd=0, buf=0, ret=0x7F1CF8B1F000, comm="server")
    assert shmsnoop.format_event(e, a, 1_000_000) == (
        "0.563194000   19813  server            SHMAT     7f1cf8b1f000 "
        "shmid: 0x10000, shmaddr: 0x0, shmflg: 0x0")
    e = NS(**{**vars(e), "sys": 3, "cmd": 99, "ret": 0})
    assert shmsnoop.format_event(e, shmsnoop.parse([]), 0).endswith(
        "cmd: 99 (0x63), buf: 0x0")


def test_sofdsnoop_rows():
    a = sofdsnoop.parse([])
    assert sofdsnoop.header(a) == \
        "ACTION TID    COMM             SOCKET                    FD    NAME"
    e = NS(id=(5 << 32) | 7, ts_us=0, action=0, sock_fd=3, fd_cnt=2,
           fd=[10, 11] + [-1] * 8, comm="proc")
    paths = {3: "socket:[42]", 10: "/etc/hostname", 11: "/dev/null"}
    lines = sofdsnoop.format_event(e, a, 0, lambda tid, fd: paths[fd])
    assert lines == ["SEND   7      proc             3:socket:[42]             10    /etc/hostname",
                     "SEND   7      proc             3:socket:[42]             11    /dev/null"]
    e = NS(**{**vars(e), "action": 1, "fd_cnt": 1})
    assert sofdsnoop.format_event(e, a, 0, lambda tid, fd: paths[fd]) == \
        ["RECV   7      proc             3:socket:[42]             10    "]


def test_filegone_rows():
    e = NS(pid=22905, action=ord("R"), comm="vim", name="/home/u/.viminfo.tmp",
           name2="dir/.viminfo")
    assert filegone.format_event(e, "18:31:00") == \
        "18:31:00 22905   vim              RENAME .viminfo.tmp > .viminfo"
    e = NS(pid=1, action=ord("D"), comm="rm", name="a/b/", name2="")
    assert filegone.format_event(e, "00:00:00").endswith(" DELETE b")
    assert filegone.HEADER == "TIME     PID     COMM             ACTION FILE"


def test_pidpersec_and_dcstat_lines():
    assert pidpersec.format_line(42, "12:00:00") == "12:00:00: PIDs/sec: 42"
    assert dcstat.HEADER == "TIME         REFS/s   SLOW/s   MISS/s     HIT%"
    assert dcstat.format_line(1000, 50, 10, 2, "12:00:00") == \
        "12:00:00:       500       25        5    99.00"
    assert dcstat.format_line(0, 0, 0, 1, "12:00:00").endswith("        0       -%")


def test_dcsnoop_mdflush_swapin():
    e = NS(pid=7, type=0, comm="ls", filename="missing")
    assert dcsnoop.format_event(e, 1.5) == "1.500000    7       ls               M missing"
    assert dcsnoop.HEADER == "TIME(s)     PID     COMM             T FILE"
    assert mdflush.format_event(NS(pid=9, comm="jbd2/md0-8", disk="md0"), "12:00:00") == \
        "12:00:00 9       jbd2/md0-8       md0"
    items = [(NS(pid=2, comm="b"), 5), (NS(pid=1, comm="a"), 3)]
    assert swapin.render(items, False, "12:00:00") == \
        "12:00:00\nCOMM             PID     COUNT\na                1       3\nb                2       5\n\n"


def test_readahead_stats():
    slots = [0, 3, 0, 1] + [0] * 61
    text = readahead.stats(12, slots)
    assert text.startswith("\nRead-ahead unused pages: 12\n"
                           "Histogram of read-ahead used page age (ms):\n\n"
                           "     age (ms)            : count     distribution\n")


def test_top_screens():
    items = [(NS(name="dentry"), NS(count=10, size=1920)), (NS(name="filp"), NS(count=2, size=512))]
    assert slabratetop.render(items, 1, "12:00:00 loadavg: x\n") == \
        "12:00:00 loadavg: x\n\nCACHE                            ALLOCS      BYTES\n" \
        "dentry                               10       1920\n"
    a = dirtop.parse(["-d", "/", "-s", "reads"])
    items = [(NS(dev=1, ino=2), NS(reads=1, writes=9, rbytes=2048, wbytes=9 << 10)),
             (NS(dev=1, ino=3), NS(reads=5, writes=0, rbytes=1024, wbytes=0))]
    assert dirtop.render(items, {(1, 2): "/a", (1, 3): "/b"}, a, "L\n").splitlines() == [
        "L", "", "READS  WRITES R_Kb     W_Kb     PATH",
        "5      0      1        0        /b", "1      9      2        9        /a"]


def test_cachetop_arithmetic_and_screen():
    K = cachetop
    items = [(NS(nf=K.NF_MPA, pid=10, uid=0, comm="cat"), 90),
             (NS(nf=K.NF_APCL, pid=10, uid=0, comm="cat"), 10),
             (NS(nf=K.NF_MBD, pid=11, uid=0, comm="dd"), 4),
             (NS(nf=K.NF_APD, pid=11, uid=0, comm="dd"), 4)]
    stats = K.process_stats(items, K.FIELDS.index("HITS"), True)
    assert stats == [(10, 0, "cat", 90, 10, 0, 90.0, 10.0), (11, 0, "dd", 4, 4, 4, 0.0, 0.0)]
    text = K.screen(stats, 3, True, {"Buffers": 2048, "Cached": 10240}, "12:00:00")
    assert text.splitlines() == [
        "12:00:00 Buffers MB: 2 / Cached MB: 10 / Sort: HITS / Order: descending",
        "PID      UID      CMD              HITS     MISSES   DIRTIES  READ_HIT%  WRITE_HIT%",
        "      10 root     cat                    90       10        0      90.0%      10.0%",
        "      11 root     dd                      4        4        4       0.0%       0.0%"]


def test_ttysnoop_decode():
    raw = struct.pack("=I", 5) + b"hello" + b"\0" * 20
    assert ttysnoop.decode(raw) == "hello"
