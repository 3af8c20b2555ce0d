"""filetop on the real kernel: rows for files this test process reads and
writes (-p), the directory filter, read/write-only, Ctrl-C and count."""
from __future__ import annotations

import os
import re
import signal
import uuid

import pytest

import corebpf
from tests.helpers import Tool, json_match, json_objects, run_tool

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

HEADER = ["TID", "COMM", "READS", "WRITES", "R_Kb", "W_Kb", "T", "FILE"]


def io(path, n=100, size=4096):
    with open(path, "wb", buffering=0) as f:
        for _ in range(n):
            f.write(b"z" * size)
    with open(path, "rb", buffering=0) as f:
        while f.read(size):
            pass


def rows_for(lines, name):
    return [l.split() for l in lines if l.split()[-1:] == [name] and re.match(r"\d+ ", l)]


@pytest.mark.parametrize("probe", ["", "raw_tp", "tracepoint"])
def test_reads_and_writes_of_a_file(tmp_path, probe):
    """Default: raw_syscalls (tp_btf) sys_enter and a switch on the syscall
    number; raw_tp the same; tracepoint: one tracepoint per syscall."""
    name = "corebpf_ft_" + uuid.uuid4().hex[:8]
    t = Tool("filetop", "-C", "-p", os.getpid(), "1", "3", env={"COREBPF_PROBE": probe})
    assert t.lines[0] == "Tracing... Output every 1 secs. Hit Ctrl-C to end"
    io(str(tmp_path / name))
    assert t.wait(timeout=30) == 0
    assert t.lines[-1] == "Detaching..."
    assert sum(l.startswith("TID ") for l in t.lines) == 3
    assert all(l.split() == HEADER for l in t.lines if l.startswith("TID "))
    assert sum(" loadavg: " in l for l in t.lines) == 3
    rows = rows_for(t.lines, name)
    assert rows, t.text
    assert all(r[0] == str(os.getpid()) and r[6] == "R" for r in rows)
    reads = sum(int(r[2]) for r in rows)
    writes = sum(int(r[3]) for r in rows)
    # 100 writes, 101 reads (the last returns 0 bytes); a few may fall between a
    # report's read of the map and its reset if the I/O straddles an interval
    assert 90 <= writes <= 100 and 90 <= reads <= 101, t.text
    assert 360 <= sum(int(r[5]) for r in rows) <= 400          # W_Kb


def test_directory_filter_write_only_and_long_names(tmp_path):
    inside = "corebpf_ft_in_" + uuid.uuid4().hex[:8] + "_padding_to_be_long"
    outside = "corebpf_ft_out_" + uuid.uuid4().hex[:8]
    t = Tool("filetop", "-C", "--write-only", "-d", str(tmp_path), "-p", os.getpid(), "2", "1",
             ready=False)
    t.wait_for(lambda l: l.startswith("Tracing... "))
    assert t.lines[0] == "Tracing directory: %s (Inode: %d)" % (tmp_path, os.stat(tmp_path).st_ino)
    io(str(tmp_path / inside), n=10)
    io(os.path.join("/var/tmp", outside), n=10)
    os.unlink(os.path.join("/var/tmp", outside))
    assert t.wait(timeout=30) == 0
    shown = inside[:29] + "..."                     # bcc keeps 32 characters
    rows = rows_for(t.lines, shown)
    assert rows and rows[0][2] == "0" and rows[0][3] == "10", t.text
    assert not any(outside in l for l in t.lines)


def test_ctrl_c_prints_the_interval_then_detaches(tmp_path):
    name = "corebpf_ft_" + uuid.uuid4().hex[:8]
    t = Tool("filetop", "-C", "-a", "-s", "wbytes", "-r", "5", "-p", os.getpid(), "30")
    io(str(tmp_path / name), n=3)
    assert t.stop(signal.SIGINT) == 0
    assert t.lines[-1] == "Detaching..."
    rows = [l for l in t.lines if re.match(r"\d+ ", l)]
    assert len(rows) <= 5 and rows_for(t.lines, name), t.text


def test_kprobe_variant_passes_the_verifier():
    with corebpf.Object.open("filetop", only=["read__kprobe", "write__kprobe"]) as obj:
        obj.load(select=False)


@pytest.mark.parametrize("args,msg", [
    (["--read-only", "--write-only"], "mutually exclusive"),
    (["-d", "/nonexistent/corebpf"], "cannot use directory"),
    (["-s", "bogus"], "invalid choice"),
    (["-r", "0"], "must be positive"),
])
def test_bad_input_one_line(args, msg):
    rc, out, err = run_tool("filetop", *args)
    assert rc != 0 and msg in err and len(err.strip().splitlines()) == 1, err


def test_json_hostile_name(tmp_path):
    """--json: one object per interval, the file's name exact (\\udcNN for
    bytes that are not UTF-8), the status lines on stderr."""
    raw = b"ft\x1b[2J\xff_" + uuid.uuid4().hex[:8].encode()
    t = Tool("filetop", "--json", "-p", os.getpid(), "1", ready="stderr")
    io(os.path.join(os.fsencode(str(tmp_path)), raw))
    writes = []                     # until every write was counted, however many intervals
    assert t.wait_for(json_match(lambda d: writes.extend(
        r["writes"] for r in d["rows"] if r["file"].encode("utf-8", "surrogateescape") == raw)
        or sum(writes) >= 100), timeout=30), (t.text, t.stderr)
    assert t.stop() == 0
    assert t.stderr.splitlines() == ["Tracing... Output every 1 secs. Hit Ctrl-C to end",
                                     "Detaching..."], t.stderr
    objs = json_objects(t, "filetop")
    assert all(o["loadavg"].count(" ") == 4 for o in objs)
    rows = [r for o in objs for r in o["rows"]
            if r["file"].encode("utf-8", "surrogateescape") == raw]
    assert rows, t.text
    assert all(r["tid"] == os.getpid() and r["type"] == "R" and r["name_len"] == len(raw)
               for r in rows)
    assert sum(r["writes"] for r in rows) == 100 and sum(r["reads"] for r in rows) >= 100
    assert sum(r["wbytes"] for r in rows) == 409600
