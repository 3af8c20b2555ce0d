"""vfsstat on the real kernel: the counts of this test process's own file
operations (-p), interval/count, Ctrl-C, and the kprobe variant."""
from __future__ import annotations

import mmap
import os
import re
import signal
import stat

import pytest

import corebpf
from tests.helpers import Tool, json_objects, run_tool

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

COLS = ["READ/s", "WRITE/s", "FSYNC/s", "OPEN/s", "CREATE/s", "UNLINK/s", "MKDIR/s", "RMDIR/s"]


def workload(d, n=200):
    for i in range(n):
        p = os.path.join(d, f"v{i}")
        fd = os.open(p, os.O_CREAT | os.O_WRONLY, 0o600)
        os.write(fd, b"x")
        os.close(fd)
        fd = os.open(p, os.O_RDONLY)
        os.read(fd, 1)
        os.close(fd)
        os.unlink(p)
    fd = os.open(os.path.join(d, "f"), os.O_CREAT | os.O_WRONLY, 0o600)
    for _ in range(5):
        os.fsync(fd)
    os.close(fd)
    for i in range(7):
        os.mkdir(os.path.join(d, f"d{i}"))
        os.rmdir(os.path.join(d, f"d{i}"))
    # unlinkat(AT_REMOVEDIR), mkdirat, mknod of a regular file, msync(MS_SYNC)
    dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.mkdir("e", dir_fd=dfd)
        os.rmdir("e", dir_fd=dfd)
        os.mknod("n", 0o600 | stat.S_IFREG, dir_fd=dfd)
        os.unlink("n", dir_fd=dfd)
    finally:
        os.close(dfd)
    with open(os.path.join(d, "m"), "w+b") as f:
        f.write(b"\0" * 4096)
        f.flush()
        with mmap.mmap(f.fileno(), 4096) as m:
            m[0] = 1
            m.flush()           # msync(MS_SYNC)


def totals(lines):
    rows = [l for l in lines if re.match(r"\d\d:\d\d:\d\d: ", l)]
    sums = [sum(int(r.split()[1 + i]) for r in rows) for i in range(len(COLS))]
    return rows, dict(zip(COLS, sums))


@pytest.mark.parametrize("probe", ["", "raw_tp", "tracepoint"])
def test_counts_own_operations_interval_count(tmp_path, probe):
    """Default: tp_btf sys_enter/sys_exit and a switch on the syscall number
    (sysnr.bpf.h); raw_tp the same; tracepoint: one tracepoint per syscall."""
    t = Tool("vfsstat", "-v", "-p", os.getpid(), "1", "3", env={"COREBPF_PROBE": probe})
    assert t.lines[0].split() == ["TIME"] + COLS
    workload(str(tmp_path))
    assert t.wait(timeout=30) == 0           # ends by itself after 3 lines
    rows, s = totals(t.lines)
    assert len(rows) == 3, t.text
    # the read of a row and the reset of the counters are not atomic: allow a
    # few increments to fall between them
    assert s["WRITE/s"] >= 195 and s["READ/s"] >= 195, s
    assert s["OPEN/s"] >= 398 and 197 <= s["CREATE/s"] <= 212, s
    assert 196 <= s["UNLINK/s"] <= 206 and s["FSYNC/s"] >= 5, s
    assert 7 <= s["MKDIR/s"] <= 8 and 7 <= s["RMDIR/s"] <= 8, s
    kind = {"": "tp_btf", "raw_tp": "raw_tp", "tracepoint": "tracepoint"}[probe]
    assert f"({kind})" in t.stderr, t.stderr


def test_ctrl_c_exits_without_a_partial_line():
    t = Tool("vfsstat", "5")
    assert t.stop(signal.SIGINT) == 0
    assert len(t.lines) == 1 and "Traceback" not in t.stderr


def test_kprobe_variant_passes_the_verifier():
    with corebpf.Object.open("vfsstat") as probe:
        names = [n for n, p in probe.programs.items() if p.variant == "kprobe"]
    assert len(names) == 8
    with corebpf.Object.open("vfsstat", only=names) as obj:
        obj.load(select=False)
        assert all(obj.programs[n].fd >= 0 for n in names)


def test_forcing_kprobes():
    rc, out, err = run_tool("vfsstat", "--probe", "kprobe", "-v", "1", "1")
    if corebpf.features.kprobes():
        assert rc == 0 and "using kprobe (kprobe) probes" in err, err
    else:                       # one line naming what the kernel lacks
        assert rc == 1 and "kprobes (CONFIG_KPROBES)" in err.splitlines()[-1], err
        assert "Traceback" not in err


@pytest.mark.parametrize("args,msg", [
    (["0"], "must be positive"),
    (["1", "x"], "invalid integer"),
    (["-p", "999999"], "no such process"),
])
def test_bad_input_one_line(args, msg):
    rc, out, err = run_tool("vfsstat", *args)
    assert rc != 0 and msg in err and len(err.strip().splitlines()) == 1, err


def test_json(tmp_path):
    """--json: one object per interval, the interval's counts (not per second)."""
    t = Tool("vfsstat", "--json", "-p", os.getpid(), "1", "3", ready="stderr")
    workload(str(tmp_path))
    assert t.wait(timeout=30) == 0
    objs = json_objects(t, "vfsstat")
    assert len(objs) == 3 and all(o["interval_s"] == 1 for o in objs), t.text
    s = {c: sum(o[c] for o in objs) for c in ("read", "write", "open", "create", "unlink",
                                              "mkdir", "rmdir", "fsync")}
    assert s["write"] >= 195 and s["read"] >= 195 and s["open"] >= 398, s
    assert 197 <= s["create"] <= 212 and 196 <= s["unlink"] <= 206 and s["fsync"] >= 5, s
    assert 7 <= s["mkdir"] <= 8 and 7 <= s["rmdir"] <= 8, s
