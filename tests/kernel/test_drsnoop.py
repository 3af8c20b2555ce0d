"""drsnoop on the real kernel.  Global direct reclaim needs the whole machine
(23 GiB here, shared) to run out of free pages, which a test cannot do
safely; a memory cgroup at its limit makes its tasks reclaim directly just
the same, on the memcg_reclaim tracepoints, which --memcg adds.  So: the
reclaim path is tested end to end with --memcg (a reader of a file that is
not cached, in a 16 MiB cgroup), the default probes are loaded and attached,
and the default mode is checked not to report the memcg reclaim."""
from __future__ import annotations

import os
import re
import subprocess

import pytest

from tests.helpers import Tool, json_objects, run_tool
from tests.memcg import MemoryCgroup

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

MB = 1 << 20


@pytest.fixture(scope="module")
def big_file():
    # on the root file system (ext4, reclaimable page cache), not on tmpfs
    path = f"/var/tmp/corebpf_drsnoop_{os.getpid()}"
    subprocess.run(["dd", "if=/dev/zero", f"of={path}", "bs=1M", "count=48", "oflag=direct",
                    "status=none"], check=True)
    yield path
    os.unlink(path)


def uncached(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
    return path


def reader(cg, path):
    """`cat path` inside the cgroup, started now, reading once told to."""
    return cg.popen(["sh", "-c", f"read go; exec cat {path}"], stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL)


def rows(tool, pid, col):
    return [l for l in tool.lines[1:] if len(l.split()) > col and l.split()[col] == str(pid)]


def test_memcg_reclaim_lines(big_file):
    with MemoryCgroup(16 * MB) as cg:
        r = reader(cg, uncached(big_file))
        t = Tool("drsnoop", "--memcg", "-p", r.pid)
        extra = Tool("drsnoop", "--memcg", "-T", "-U", "-v", "-n", "ca")
        by_tid = Tool("drsnoop", "--memcg", "-t", r.pid)
        default = Tool("drsnoop")
        r.communicate(b"go\n")
        assert r.returncode == 0
        t.wait_for(lambda l: False, timeout=1)
        for tool in (t, extra, by_tid, default):
            tool.stop()
    assert t.lines[0] == "%-14s %-6s %8s %5s" % ("COMM", "PID", "LAT(ms)", "PAGES")
    mine = rows(t, r.pid, 1)
    assert mine and len(mine) == len(t.lines) - 1, t.text
    for l in mine:
        assert re.fullmatch(r"cat {12}%d +\d+\.\d\d +\d+" % r.pid, l), l
    assert sum(int(l.split()[3]) for l in mine) >= 16 * MB // os.sysconf("SC_PAGE_SIZE")

    assert extra.lines[0].split() == ["TIME(s)", "UID", "COMM", "PID", "LAT(ms)", "PAGES",
                                      "FREE(KB)"]
    ext = rows(extra, r.pid, 3)
    assert ext, extra.text
    for l in ext:
        assert re.fullmatch(r"\d+\.\d{9} *0 +cat +%d +\d+\.\d\d +\d+ +\d+" % r.pid, l), l

    assert by_tid.lines[0].split()[1] == "TID" and rows(by_tid, r.pid, 1), by_tid.text
    # without --memcg only global direct reclaim is reported
    assert not rows(default, r.pid, 1), default.text


def test_classic_tracepoint_variant(big_file):
    with MemoryCgroup(16 * MB) as cg:
        r = reader(cg, uncached(big_file))
        t = Tool("drsnoop", "--memcg", "-p", r.pid, "--probe", "tracepoint", "--libbpf-log")
        r.communicate(b"go\n")
        t.wait_for(lambda l: False, timeout=1)
        t.stop()
    assert "using tp (tracepoint) probes" in t.stderr
    assert rows(t, r.pid, 1), t.text


def test_default_probes_attach_and_duration_ends_the_trace():
    rc, out, err = run_tool("drsnoop", "-d", "1", "--libbpf-log", timeout=30)
    assert rc == 0, err
    assert "using btf (tp_btf) probes" in err
    assert out.splitlines()[0].split() == ["COMM", "PID", "LAT(ms)", "PAGES"]


@pytest.mark.parametrize("args,msg", [
    (["-p", "999999"], "no such process"),
    (["-u", "nosuchuser_zz"], "no such user"),
    (["-d", "0"], "must be positive"),
])
def test_bad_input_one_line(args, msg):
    rc, out, err = run_tool("drsnoop", *args)
    assert rc != 0 and msg in err and len(err.strip().splitlines()) == 1, err


def test_json(big_file):
    with MemoryCgroup(16 * MB) as cg:
        r = reader(cg, uncached(big_file))
        t = Tool("drsnoop", "--json", "--memcg", "-v", "-p", r.pid, ready="stderr")
        r.communicate(b"go\n")
        assert r.returncode == 0
        t.wait_for(lambda l: False, timeout=1)
        assert t.stop() == 0
    objs = json_objects(t, "drsnoop")
    assert objs, t.stderr
    for d in objs:
        assert (d["pid"], d["tid"], d["comm"], d["uid"], d["memcg"]) == (r.pid, r.pid, "cat", 0,
                                                                          True)
        assert d["latency_ns"] > 0 and d["free_kb"] > 0 and d["ts_us"] > 0
    assert sum(d["pages"] for d in objs) >= 16 * MB // os.sysconf("SC_PAGE_SIZE")
