"""Checks shared by the tests of the file system latency tools (xfsslower,
btrfsdist, nfsslower, fsslower -t ..., ...): one process does the same file
operations on the traced file system and then on ext4 (/var/tmp); the tool
must report the first and nothing of the second.  BccSlowerTests and
BccDistTests are the whole test of a bcc-style tool: subclass, name it."""
from __future__ import annotations

import os
import re
import sys
import uuid

import pytest

from corebpf import features
from tests.fsimages import loop_fs
from tests.helpers import Tool, run_tool
from tests.workloads import file_ops

ROW = re.compile(r"\s*(\d+) -> (\d+)\s+: (\d+)\s+\|")
WRITES = [(65536, 0), (65536, 64), (65536, 128), (65536, 192)]     # (bytes, KiB offset)
COMM = os.path.basename(sys.executable)[:15]    # the child's: python3, python in a venv


def marker(tag: str) -> str:
    return "cbpf_%s_%d_%s" % (tag, os.getpid(), uuid.uuid4().hex[:4])


def bcc_header(pid_width: int = 6) -> str:
    return "%-8s %-14s %-*s %1s %-7s %-8s %7s %s" % (
        "TIME", "COMM", pid_width, "PID", "T", "BYTES", "OFF_KB", "LAT(ms)", "FILENAME")


def rows(lines, name, sep=None):
    """Split rows whose last field is file `name`."""
    return [l.split(sep) for l in lines if l.split(sep)[-1:] == [name]]


# Attaching takes long under emulation (a kernel-matrix guest: a BPF
# trampoline per fentry program, a module's BTF to read).
START = 180


def run_slower(tool, mnt, args=("0",), big_mib=0, done=None, timeout=30, env=None):
    """Run `tool args` while one child works on mnt (then on ext4); returns
    (tool, child, name, decoy) once the child's last read of mnt is seen
    (or `done(line)`, when given)."""
    name, decoy = marker("fs"), marker("ext4")
    t = Tool(tool, *args, timeout=START, env=env)
    with file_ops(name, big_mib=big_mib, directory=mnt, decoy=decoy) as w:
        w.go().wait()
        t.wait_for(done or (lambda l: l.split()[-1:] == [name] and l.split()[3] == "R"
                            and l.split()[4] == "4096"), timeout=timeout)
    assert t.stop() == 0, t.stderr
    assert not [l for l in t.lines if decoy in l], f"ext4 file reported:\n{t.text}"
    return t, w, name, decoy


def check_bcc_rows(t, w, name, letters="RWOS", big_mib=0):
    """The child's operations in bcc's columns (ext4slower's test, on another
    file system).  COMMITs (C) are the task's that completes them."""
    r = [x for x in rows(t.lines, name) if x[3] != "C"]
    assert all(x[1] == COMM and x[2] == str(w.pid) for x in r), t.text
    kinds = [x[3] for x in r]
    assert kinds.count("O") == 2, t.text
    assert kinds.count("S") == (1 if "S" in letters else 0), t.text
    assert set(kinds) <= set(letters), t.text
    assert [(int(x[4]), int(x[5]) - big_mib * 1024) for x in r
            if x[3] == "W" and x[4] == "65536"] == WRITES, t.text
    reads = [(int(x[4]), int(x[5])) for x in r if x[3] == "R"]
    assert reads[:2] == [(131072, 0), (131072, 128)] and reads[-1] == (4096, 64), t.text
    assert all(float(x[6]) >= 0 for x in r)
    return r


def sections(lines, quoted=False):
    """{operation: total count} over every histogram printed."""
    out, cur = {}, None
    for l in lines:
        if l.startswith("operation = "):
            cur = l.split(" = ", 1)[1]
            cur = cur.strip("'") if quoted else cur
            out.setdefault(cur, 0)
        m = ROW.match(l)
        if m and cur:
            out[cur] += int(m.group(3))
    return out


def run_dist(tool, mnt, args=(), quoted=False, env=None):
    """`tool -p CHILD args` over the child's operations on mnt, then on ext4 by
    the same process: {operation: count}, the tool."""
    name, decoy = marker("fsd"), marker("ext4d")
    with file_ops(name, directory=mnt, decoy=decoy) as w:
        t = Tool(tool, "-p", w.pid, *args, timeout=START, env=env)
        w.go().wait()
        if "1" in args:             # interval 1 [count]: let it run out
            assert t.wait(timeout=30) == 0, t.stderr
        else:
            assert t.stop() == 0, t.stderr
    return sections(t.lines, quoted), t


# What file_ops does once per file: 2 opens, 4 writes, 1 fsync, 1 stat, 3 reads + 1 pread.
OPS = {"open": 2, "write": 4, "fsync": 1, "read": 4}


def run_json(tool, mnt, args=(), ext4=False):
    """`tool --json -p CHILD args` over one child's operations on mnt (then on
    ext4, unless mnt is ext4): every line is one object valid for the tool's
    schema (`corebpf schema TOOL`).  Returns (objects, child, name)."""
    import json
    import subprocess

    import jsonschema
    name, decoy = marker("fsj"), (None if ext4 else marker("ext4j"))
    with file_ops(name, directory=mnt, decoy=decoy) as w:
        t = Tool(tool, "--json", "-p", w.pid, *args, ready="stderr", timeout=START)
        w.go().wait()
        assert t.stop() == 0, t.stderr
    schema = json.loads(subprocess.run([sys.executable, "-m", "corebpf", "schema", tool],
                                       capture_output=True, check=True).stdout)
    objs = [json.loads(l) for l in t.lines]
    for o in objs:
        jsonschema.validate(o, schema)
    if decoy:
        assert decoy not in "\n".join(t.lines), t.text
    return objs, w, name


def check_json_slower(objs, w, name, letters="RWOS"):
    """The child's operations as --json objects of a *slower tool."""
    mine = [o for o in objs if o.get("file") == name and o["op"] != "commit"]
    assert all(o["pid"] == w.pid and o["comm"] == COMM for o in mine), mine
    ops = [o["op"] for o in mine]
    assert ops.count("open") == 2 and ops.count("fsync") == (1 if "S" in letters else 0), ops
    assert [(o["bytes"], o["offset"]) for o in mine if o["op"] == "write"] == \
        [(b, off * 1024) for b, off in WRITES], mine
    assert [(o["bytes"], o["offset"]) for o in mine if o["op"] == "read"][-1] == (4096, 65536)
    assert all(o["latency_us"] >= 0 and o["ts_us"] > 0 for o in mine)


def json_dist_counts(objs) -> dict:
    """{operation: total count} over the --json objects of a *dist tool."""
    out = {}
    for o in objs:
        for h in o.get("histograms", ()):
            out[h["operation"]] = out.get(h["operation"], 0) + sum(b["count"] for b in h["buckets"])
    return {k: v for k, v in out.items() if v}


def require_probe_kind(kind: str):
    """Skip, naming it, unless this kernel has the function-probe kind."""
    if kind == "kprobe" and not features.kprobes():
        pytest.skip("this kernel lacks kprobes (CONFIG_KPROBES)")
    if kind == "fentry" and not features.fentry():
        pytest.skip("this kernel lacks fentry/fexit (BPF trampolines)")


# -- the tests every bcc *slower / *dist tool gets (subclass, set the names) -----------


class BccSlowerTests:
    """xfsslower-like: PROG traces FS (made on a loop device), bcc's TITLE word."""
    PROG = FS = TITLE = None
    PID_WIDTH = 6
    CSV_FLAG = "-j"

    @pytest.fixture(scope="class")
    @classmethod
    def mnt(cls):
        with loop_fs(cls.FS) as m:
            yield m

    def test_every_operation_and_nothing_from_ext4(self, mnt):
        t, w, name, _ = run_slower(self.PROG, mnt)
        assert t.lines[:2] == [f"Tracing {self.TITLE} operations", bcc_header(self.PID_WIDTH)]
        check_bcc_rows(t, w, name, "RWOS")

    # the default is raw_syscalls' tp_btf sys_enter/sys_exit; the same through
    # raw_tp, and the per-syscall tracepoints (the fallback)
    @pytest.mark.parametrize("probe", ["raw_tp", "tracepoint"])
    def test_other_syscall_variants(self, mnt, probe):
        t, w, name, _ = run_slower(self.PROG, mnt, env={"COREBPF_PROBE": probe})
        check_bcc_rows(t, w, name, "RWOS")

    def test_threshold_reports_slow_fsync(self, mnt):
        """32 MiB of dirty data cannot reach the disk in under a millisecond."""
        t, w, name, _ = run_slower(self.PROG, mnt, ("1",), big_mib=32,
                                   done=lambda l: l.split()[3:4] == ["S"] and "cbpf_fs_" in l)
        assert t.lines[0] == f"Tracing {self.TITLE} operations slower than 1 ms"
        r = rows(t.lines, name)
        assert [x for x in r if x[3] == "S"], t.text
        assert all(float(x[6]) >= 1.0 for x in r), t.text      # > 1000 us

    def test_json(self, mnt):
        objs, w, name = run_json(self.PROG, mnt, ("0",))
        check_json_slower(objs, w, name)

    def test_csv(self, mnt):
        t, w, name, _ = run_slower(self.PROG, mnt, (self.CSV_FLAG, "0"),
                                   done=lambda l: l.split(",")[3:5] == ["R", "4096"])
        assert t.lines[0] == "ENDTIME_us,TASK,PID,TYPE,BYTES,OFFSET_b,LATENCY_us,FILE"
        r = rows(t.lines, name, ",")
        assert [(x[3], int(x[4]), int(x[5])) for x in r if x[3] == "W"] == \
            [("W", 65536, off * 1024) for _, off in WRITES], t.text
        assert all(x[2] == str(w.pid) and int(x[0]) > 0 and int(x[6]) >= 0 for x in r), t.text

    @pytest.mark.parametrize("args,msg", [(["-1"], "out of range"), (["abc"], "invalid integer"),
                                          (["-p", "0"], "no such process")])
    def test_bad_input(self, args, msg):
        rc, out, err = run_tool(self.PROG, *args)
        assert rc != 0 and msg in err and len(err.strip().splitlines()) == 1, err


class BccDistTests:
    """xfsdist-like: PROG's histograms over FS (made on a loop device)."""
    PROG = FS = TITLE = None

    @pytest.fixture(scope="class")
    @classmethod
    def mnt(cls):
        with loop_fs(cls.FS) as m:
            yield m

    def test_interval_count_per_operation(self, mnt):
        got, t = run_dist(self.PROG, mnt, ("1", "2"))
        assert t.lines[0] == f"Tracing {self.TITLE} operation latency... Hit Ctrl-C to end."
        assert got == OPS, t.text
        assert sum(bool(re.fullmatch(r"\d\d:\d\d:\d\d:", l)) for l in t.lines) == 2
        assert any(re.match(r"\s+usecs\s+: count     distribution", l) for l in t.lines)

    @pytest.mark.parametrize("probe", ["raw_tp", "tracepoint"])
    def test_other_syscall_variants(self, mnt, probe):
        got, t = run_dist(self.PROG, mnt, env={"COREBPF_PROBE": probe})
        assert got == OPS, t.text

    def test_json(self, mnt):
        objs, _, _ = run_json(self.PROG, mnt)
        assert json_dist_counts(objs) == OPS and {o["unit"] for o in objs} == {"usecs"}

    def test_ctrl_c_summary_milliseconds_no_timestamp(self, mnt):
        got, t = run_dist(self.PROG, mnt, ("-m", "-T"))
        assert got == OPS, t.text
        assert any(re.match(r"\s+msecs\s+: count     distribution", l) for l in t.lines)
        assert not any(re.fullmatch(r"\d\d:\d\d:\d\d:", l) for l in t.lines)

    @pytest.mark.parametrize("args,msg", [(["0"], "interval 0"), (["1", "0"], "must be positive"),
                                          (["-p", "x"], "invalid PID")])
    def test_bad_input(self, args, msg):
        rc, out, err = run_tool(self.PROG, *args)
        assert rc != 0 and msg in err and len(err.strip().splitlines()) == 1, err
