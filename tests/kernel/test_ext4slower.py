"""ext4slower on the real kernel: reads, writes, opens and fsyncs of a file
with a unique name on ext4 (/var/tmp) are reported with bcc's columns."""
from __future__ import annotations

import os

import pytest

import corebpf
from corebpf import features
from tests.helpers import Tool, run_tool
from tests.workloads import SCRATCH_DIR, file_ops

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

HEADER = "TIME     COMM           PID    T BYTES   OFF_KB   LAT(ms) FILENAME"
KPROBES = ["read_enter__kprobe", "read_exit__kprobe", "write_enter__kprobe",
           "write_exit__kprobe", "open_enter__kprobe", "open_exit__kprobe",
           "sync_enter__kprobe", "sync_exit__kprobe"]


@pytest.fixture(autouse=True)
def ext4_scratch():
    import subprocess
    fs = subprocess.run(["stat", "-f", "-c", "%T", SCRATCH_DIR], capture_output=True,
                        text=True).stdout.strip()
    assert fs == "ext2/ext3", f"{SCRATCH_DIR} is {fs}, not ext4: these tests need ext4"


def marker(tag):
    return "cbpf_e4%s_%d" % (tag, os.getpid())


def ops(lines, name):
    return [l.split() for l in lines if l.split()[-1:] == [name]]


@pytest.mark.parametrize("probe", ["", "tracepoint"])
def test_all_operations_min_ms_0(probe):
    """Default: the syscalls through raw_syscalls' tp_btf sys_enter/sys_exit
    and a switch on the number; tracepoint: one tracepoint per syscall."""
    name = marker("all")
    t = Tool("ext4slower", "0", env={"COREBPF_PROBE": probe})
    assert t.lines[0] == "Tracing ext4 operations"
    assert t.wait_for(lambda l: l == HEADER) and t.lines[1] == HEADER
    with file_ops(name) as w:
        w.go().wait()
        t.wait_for(lambda l: l.split()[-1:] == [name] and l.split()[3] == "R"
                   and l.split()[4] == "4096")
    assert t.stop() == 0
    rows = ops(t.lines, name)
    assert all(r[1] == "python3" and r[2] == str(w.pid) for r in rows), rows
    kinds = [r[3] for r in rows]
    assert kinds.count("O") == 2 and kinds.count("S") == 1, rows
    writes = [(int(r[4]), int(r[5])) for r in rows if r[3] == "W"]
    assert writes == [(65536, 0), (65536, 64), (65536, 128), (65536, 192)], rows
    reads = [(int(r[4]), int(r[5])) for r in rows if r[3] == "R"]
    assert reads[:2] == [(131072, 0), (131072, 128)] and reads[-1] == (4096, 64), rows
    assert all(int(r[4]) == 0 and int(r[5]) == 0 for r in rows if r[3] in "OS")
    assert all(float(r[6]) >= 0 for r in rows)


def test_csv_and_pid_filter():
    name = marker("csv")
    with file_ops(name) as w:
        t = Tool("ext4slower", "-j", "-p", w.pid, "0")
        assert t.lines[0] == "ENDTIME_us,TASK,PID,TYPE,BYTES,OFFSET_b,LATENCY_us,FILE"
        w.go().wait()
        t.wait_for(lambda l: l.split(",")[3:6] == ["R", "4096", "65536"] and
                   l.endswith("," + name))
        t.stop()
    rows = [l.split(",") for l in t.lines[1:]]
    assert rows and all(r[2] == str(w.pid) for r in rows), t.text      # only that PID
    mine = [r for r in rows if r[7] == name]
    assert ["W", "65536", "131072"] in [r[3:6] for r in mine], mine
    assert all(int(r[0]) > 0 and int(r[6]) >= 0 for r in mine)


def test_threshold_reports_slow_fsync():
    """32 MiB of dirty data cannot reach the disk in under a millisecond."""
    name = marker("slow")
    t = Tool("ext4slower", "1")
    assert t.lines[0] == "Tracing ext4 operations slower than 1 ms"
    with file_ops(name, big_mib=32) as w:
        w.go().wait()
        line = t.wait_for(lambda l: l.split()[-1:] == [name] and l.split()[3] == "S")
    t.stop()
    assert line, t.text
    assert float(line.split()[6]) > 1.0


@pytest.mark.parametrize("tool", ["ext4slower", "ext4dist"])
def test_default_variant_is_raw_syscalls_with_this_arch_numbers(tool):
    """Where tp_btf serves, two raw_syscalls links (not 28 classic syscall
    tracepoints, ~40 ms each to detach) and the syscall numbers of the
    running machine in sc_action."""
    from corebpf import syscalls
    from corebpf import sysactions
    from tools import _cli
    if not features.tp_btf():
        pytest.skip("tp_btf (kernel BTF) missing: the per-syscall variant runs")
    if not features.tracepoint_btf("ext4_sync_file_enter"):
        pytest.skip("this kernel has no BTF for ext4's tracepoints (module BTF): "
                    "the kprobe variant runs")
    with corebpf.Object.open(tool) as obj:
        _cli.drop_missing_syscalls(obj)
        obj.load()
        assert obj.variant == "btf"
        assert _cli.fill_syscall_actions(obj, sysactions.FSOPS)
        obj.attach()
        secs = sorted(p.section for p in obj.programs.values() if p.autoload)
        assert secs == ["tp_btf/ext4_sync_file_enter", "tp_btf/ext4_sync_file_exit",
                        "tp_btf/sys_enter", "tp_btf/sys_exit"], secs
        m = obj.maps["sc_action"]
        assert m[syscalls.number("pread64")] == sysactions.FSOPS["pread64"]
        assert m[syscalls.number("openat")] == sysactions.FSOPS["openat"]
        assert m[syscalls.number("getpid")] == 0


def test_kprobe_variant_loads():
    with corebpf.Object.open("ext4slower", only=KPROBES) as obj:
        obj.load(select=False)
        assert all(obj.programs[p].fd >= 0 for p in KPROBES)


@pytest.mark.skipif(features.kprobes(), reason="kernel has kprobes: cannot show the refusal")
def test_forced_kprobe_names_missing_feature():
    rc, out, err = run_tool("ext4slower", "--probe", "kprobe")
    assert rc == 1 and "kprobes" in err and len(err.strip().splitlines()) == 1, err


def test_help_says_what_the_fallback_measures():
    rc, out, err = run_tool("ext4slower", "-h")
    assert rc == 0 and "system call" in out and "ext4_sync_file" in out


@pytest.mark.parametrize("args,msg", [
    (["-1"], "out of range"),
    (["abc"], "invalid integer"),
    (["-p", "0"], "no such process"),
    (["1", "2"], "unrecognized arguments"),
])
def test_bad_input(args, msg):
    rc, out, err = run_tool("ext4slower", *args)
    assert rc != 0 and msg in err and len(err.strip().splitlines()) == 1, err


def test_json():
    from tests import fstools
    objs, w, name = fstools.run_json("ext4slower", SCRATCH_DIR, ("0",), ext4=True)
    fstools.check_json_slower(objs, w, name)
