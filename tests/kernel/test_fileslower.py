"""fileslower on the real kernel: reads and writes of a file (and, with -a,
of a pipe) by one process, with bcc's columns."""
from __future__ import annotations

import os
import re

import pytest

import corebpf
from corebpf import features
from tests import fstools
from tests.helpers import Tool, run_tool
from tests.workloads import Child, file_ops

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

HEADER = "TIME(s)  COMM           TID    D BYTES   LAT(ms) FILENAME"

# a FIFO with a long name: written 3 times and read back by one process
_FIFO = r"""
import os, sys
path = sys.argv[1]
print("ready", flush=True)
sys.stdin.readline()
r = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
w = os.open(path, os.O_WRONLY)
for _ in range(3):
    os.write(w, b"f" * 100)
    os.read(r, 100)
"""


# "": the default (raw_syscalls, tp_btf); raw_tp; the per-syscall tracepoints
@pytest.mark.parametrize("probe", ["", "raw_tp", "tracepoint"])
def test_reads_and_writes_of_a_file(probe):
    name = fstools.marker("fslow")
    t = Tool("fileslower", "0", env={"COREBPF_PROBE": probe})
    t.wait_for(lambda l: l == HEADER)
    assert t.lines[:2] == ["Tracing sync read/writes slower than 0 ms", HEADER]
    with file_ops(name) as w:
        w.go().wait()
        t.wait_for(lambda l: l.split()[-1:] == [name] and l.split()[3:5] == ["R", "4096"])
    assert t.stop() == 0
    r = fstools.rows(t.lines, name)
    assert all(x[1] == fstools.COMM and x[2] == str(w.pid) for x in r), t.text   # TID
    assert [int(x[4]) for x in r if x[3] == "W"] == [65536] * 4, t.text        # asked
    assert [int(x[4]) for x in r if x[3] == "R"] == [131072] * 3 + [4096], t.text
    assert all(re.fullmatch(r"\d+\.\d{3}", x[0]) and float(x[5]) >= 0 for x in r)


def test_threshold_pid_and_all_files(tmp_path):
    fifo = str(tmp_path / ("corebpf_fifo_with_a_rather_long_name_%d" % os.getpid()))
    os.mkfifo(fifo)
    child = Child(_FIFO, fifo)
    try:
        t = Tool("fileslower", "-a", "-p", child.pid, "0")
        child.go()
        t.wait_for(lambda l: l.split()[3:4] == ["R"] and "..." in l)
        plain = Tool("fileslower", "-p", child.pid, "0")
        assert child.wait() == 0
        t.stop()
        plain.stop()
    finally:
        child.kill()
    shown = os.path.basename(fifo)[:29] + "..."         # bcc: 32 bytes, the last 3 "..."
    mine = fstools.rows(t.lines, shown)
    assert [x[3] for x in mine] == ["W", "R"] * 3 and all(x[4] == "100" for x in mine), t.text
    assert not fstools.rows(plain.lines, shown)                 # not a regular file


def test_threshold_filters():
    name = fstools.marker("fslow1")
    with file_ops(name) as w:
        t = Tool("fileslower", "-p", w.pid, "1000")
        w.go().wait()
        t.stop()
    assert not fstools.rows(t.lines, name), t.text      # nothing takes a second


@pytest.mark.parametrize("kind", ["kprobe", "fentry"])
def test_function_variants_load(kind):
    progs = [f"{op}_{end}__{kind}" for op in ("read", "write") for end in ("enter", "exit")]
    with corebpf.Object.open("fileslower", only=progs) as obj:
        if kind == "fentry" and not features.fentry():
            with pytest.raises(corebpf.BPFError):
                obj.load(select=False)
            return
        obj.load(select=False)


@pytest.mark.parametrize("args,msg", [
    (["-1"], "out of range"),
    (["-p", "0"], "no such process"),
    (["x"], "invalid integer"),
])
def test_bad_input(args, msg):
    rc, out, err = run_tool("fileslower", *args)
    assert rc == 2 and msg in err and len(err.strip().splitlines()) == 1, err


def test_json():
    import json
    import subprocess
    import sys

    import jsonschema
    name = fstools.marker("fslowj")
    with file_ops(name) as w:
        t = Tool("fileslower", "--json", "-p", w.pid, "0", ready="stderr")
        w.go().wait()
        t.wait_for(lambda l: name in l and '"bytes":4096' in l)
    assert t.stop() == 0
    schema = json.loads(subprocess.run([sys.executable, "-m", "corebpf", "schema", "fileslower"],
                                       capture_output=True, check=True).stdout)
    objs = [json.loads(l) for l in t.lines]
    for o in objs:
        jsonschema.validate(o, schema)
    mine = [o for o in objs if o["file"] == name]
    assert all(o["tid"] == w.pid and o["comm"] == fstools.COMM for o in mine), mine
    assert [o["bytes"] for o in mine if o["op"] == "W"] == [65536] * 4, mine
    assert [o["bytes"] for o in mine if o["op"] == "R"] == [131072] * 3 + [4096], mine
