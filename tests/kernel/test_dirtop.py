"""dirtop on the real kernel: reads and writes of files under two
directories (one nested deeper), counted per directory."""
from __future__ import annotations

import os

import pytest

from tests.helpers import Tool, json_match, json_objects, run_tool
from tests.workloads import Child

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

_IO = r"""
import os, sys
a, b = sys.argv[1], sys.argv[2]
print("ready", flush=True)
sys.stdin.readline()
with open(os.path.join(a, "f"), "wb") as f:              # 8 writes of 8 KiB under a
    for _ in range(8):
        f.write(b"x" * 8192)
        f.flush()
with open(os.path.join(b, "deep", "er", "g"), "wb") as f:  # 2 writes deep under b
    f.write(b"y" * 4096); f.flush(); f.write(b"y" * 4096); f.flush()
fd = os.open(os.path.join(a, "f"), os.O_RDONLY)          # 4 reads of 16 KiB under a
for _ in range(4):
    os.read(fd, 16384)
"""


# "": the default (raw_syscalls' sys_enter, tp_btf); raw_tp; the per-syscall
# tracepoints (the fallback)
@pytest.mark.parametrize("probe", ["", "raw_tp", "tracepoint"])
def test_counts_per_directory(tmp_path, probe):
    a, b = tmp_path / "dirA", tmp_path / "dirB"
    a.mkdir()
    (b / "deep" / "er").mkdir(parents=True)
    child = Child(_IO, a, b)
    try:
        t = Tool("dirtop", "-C", "-p", child.pid, "-d", str(tmp_path / "dir*"), "2", "1",
                 env={"COREBPF_PROBE": probe})
        t.wait_for(lambda l: l.startswith("Tracing..."))
        assert t.lines[:3] == [f"Considering {a} with inode_id {os.stat(a).st_ino}",
                               f"Considering {b} with inode_id {os.stat(b).st_ino}",
                               "Tracing... Output every 2 secs. Hit Ctrl-C to end"]
        child.go().wait()
        assert t.wait(timeout=30) == 0
    finally:
        child.kill()
    i = t.lines.index("READS  WRITES R_Kb     W_Kb     PATH")
    rows = {l.split()[-1]: l.split()[:4] for l in t.lines[i + 1:-1]}
    assert rows == {str(a): ["4", "8", "64", "64"], str(b): ["0", "2", "0", "8"]}, t.text
    assert t.lines[-1] == "Detaching..."


def test_sort_and_maxrows(tmp_path):
    a, b = tmp_path / "dirA", tmp_path / "dirB"
    a.mkdir()
    (b / "deep" / "er").mkdir(parents=True)
    child = Child(_IO, a, b)
    try:
        t = Tool("dirtop", "-C", "-s", "wbytes", "-r", "1", "-p", child.pid,
                 "-d", f"{a},{b}", "2", "1")
        child.go().wait()
        assert t.wait(timeout=30) == 0
    finally:
        child.kill()
    i = t.lines.index("READS  WRITES R_Kb     W_Kb     PATH")
    assert [l.split()[-1] for l in t.lines[i + 1:-1]] == [str(a)], t.text


@pytest.mark.parametrize("args,msg", [
    (["-d", "/nonexistent/dir*"], "cannot find any valid directory"),
    ([], "the following arguments are required: -d"),
    (["-d", "/tmp", "-s", "bytes"], "invalid choice"),
])
def test_bad_input(args, msg):
    rc, out, err = run_tool("dirtop", *args)
    assert rc == 2 and msg in err and len(err.strip().splitlines()) == 1, err


def test_json(tmp_path):
    a, b = tmp_path / "dirA", tmp_path / "dirB"
    a.mkdir()
    (b / "deep" / "er").mkdir(parents=True)
    child = Child(_IO, a, b)
    try:
        t = Tool("dirtop", "--json", "-p", child.pid, "-d", str(tmp_path / "dir*"), "1",
                 ready="stderr")
        child.go().wait()
        seen = {}                   # per directory, summed over the intervals

        def done(d):
            for r in d["rows"]:
                old = seen.get(r["path"], (0, 0, 0, 0))
                seen[r["path"]] = tuple(x + r[k] for x, k in
                                        zip(old, ("reads", "writes", "rbytes", "wbytes")))
            return seen.get(str(a), (0,))[0] >= 4 and seen.get(str(b), (0, 0))[1] >= 2
        assert t.wait_for(json_match(done), timeout=30), (t.text, t.stderr)
        assert t.stop() == 0
    finally:
        child.kill()
    assert t.stderr.splitlines()[-2:] == ["Tracing... Output every 1 secs. Hit Ctrl-C to end",
                                          "Detaching..."], t.stderr
    rows = {}
    for d in json_objects(t, "dirtop"):
        for r in d["rows"]:
            old = rows.get(r["path"], (0, 0, 0, 0))
            rows[r["path"]] = tuple(x + r[k] for x, k in
                                    zip(old, ("reads", "writes", "rbytes", "wbytes")))
    assert rows == {str(a): (4, 8, 65536, 65536), str(b): (0, 2, 0, 8192)}, t.text
