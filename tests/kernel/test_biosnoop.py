"""biosnoop on the real kernel: direct I/O from a process with a unique name
shows up as lines naming it, its PID, the disk and W."""
from __future__ import annotations

import os

import pytest

import corebpf
from corebpf import features
from tests.helpers import Tool, run_tool
from tests.workloads import SCRATCH_DIR, direct_writer, disk_of

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

DISK = disk_of(SCRATCH_DIR)
HEADER = "TIME(s)     COMM           PID     DISK      T SECTOR     BYTES  LAT(ms)"


def rows_of(lines, comm):
    return [l.split() for l in lines[1:] if l.split()[1:2] == [comm]]


def test_lines_for_direct_writes():
    t = Tool("biosnoop")
    assert t.lines[0] == HEADER
    with direct_writer("cbpf_snoop", size=65536, seconds=0.5) as w:
        w.go().wait()
        line = t.wait_for(lambda l: l.split()[1:3] == ["cbpf_snoop", str(w.pid)]
                          and l.split()[4] == "W")
    assert t.stop() == 0
    assert line, t.text
    rows = rows_of(t.lines, "cbpf_snoop")
    # on a cold page cache the writer also reads its interpreter's pages (R rows)
    writes = [r for r in rows if r[4] == "W"]
    assert writes and all(r[4] == "R" for r in rows if r not in writes), rows
    for r in rows:
        assert len(r) == 8 and r[2] == str(w.pid) and r[3] == DISK, r
        assert float(r[7]) >= 0 and float(r[0]) >= 0
    assert all(int(r[6]) == 65536 for r in writes), writes
    assert t.stderr == ""


def test_pattern_and_queue_columns():
    t = Tool("biosnoop", "-P", "-Q", "-d", DISK)
    assert t.lines[0] == HEADER.replace("BYTES  LAT", "BYTES  P QUE(ms) LAT")
    with direct_writer("cbpf_snoopq", size=65536, span=16 << 20, seconds=0.5) as w:
        w.go().wait()
        t.wait_for(lambda l: "cbpf_snoopq" in l)
    t.stop()
    rows = rows_of(t.lines, "cbpf_snoopq")
    assert rows, t.text
    assert all(len(r) == 10 and r[7] in "SR?" and float(r[8]) >= 0 for r in rows), rows
    # sequential 64 KiB writes: most requests start where the previous one ended
    assert sum(r[7] == "S" for r in rows) >= 1, rows
    assert all(l.split()[3] in (DISK, "<unknown>") for l in t.lines[1:])


@pytest.mark.parametrize("kind", ["tracepoint", "raw_tp"])
def test_other_variants(kind):
    if kind == "tracepoint" and not features.tracepoint_exists("block", "block_io_start"):
        pytest.skip("this kernel lacks tracepoint block:block_io_start (6.5)")
    t = Tool("biosnoop", "--probe", kind, "--verbose")
    with direct_writer("cbpf_snoopv", size=65536, seconds=0.3) as w:
        w.go().wait()
        # its first I/O may be a read (the writer's own pages, on a cold cache)
        line = t.wait_for(lambda l: l.split()[1:3] == ["cbpf_snoopv", str(w.pid)]
                          and l.split()[4] == "W")
    t.stop()
    assert line and line.split()[3] == DISK, t.text
    assert "(%s) probes" % kind in t.stderr


@pytest.mark.parametrize("variant", ["rqbtf", "rqraw"])
def test_variants_for_kernels_before_block_io_start(variant):
    """block_getrq (the submitter), block_rq_issue, block_rq_complete: what
    kernels before 6.5 have (their accounting functions are inlined from
    5.16); forced by name here, chosen by themselves there."""
    if variant == "rqbtf" and not features.tp_btf():
        pytest.skip("this kernel lacks tp_btf programs (BTF-typed tracepoints)")
    t = Tool("biosnoop", "-Q", "--verbose", env={"COREBPF_PROBE": variant})
    with direct_writer("cbpf_snoopo", size=65536, seconds=0.3) as w:
        w.go().wait()
        line = t.wait_for(lambda l: l.split()[1:3] == ["cbpf_snoopo", str(w.pid)]
                          and l.split()[4] == "W")
    t.stop()
    assert "using %s (" % variant in t.stderr, t.stderr
    assert line and line.split()[3] == DISK, t.text
    assert float(line.split()[7]) >= 0          # QUE(ms): submission to issue


def test_kprobe_variant_loads():
    progs = ["issuer__kprobe", "start__kprobe", "done__kprobe"]
    with corebpf.Object.open("biosnoop", only=progs) as obj:
        obj.load(select=False)
        assert all(obj.programs[p].fd >= 0 for p in progs)


@pytest.mark.skipif(features.kprobes(), reason="kernel has kprobes: cannot show the refusal")
def test_forced_kprobe_names_missing_feature():
    rc, out, err = run_tool("biosnoop", "--probe", "kprobe")
    assert rc == 1 and "kprobes" in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize("args,msg", [
    (["-d", "nosuchdisk"], "no such disk 'nosuchdisk'"),
    (["--bogus"], "unrecognized arguments"),
    (["5"], "unrecognized arguments"),
])
def test_bad_input(args, msg):
    rc, out, err = run_tool("biosnoop", *args)
    assert rc != 0 and msg in err and len(err.strip().splitlines()) == 1, err
