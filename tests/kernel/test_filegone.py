"""filegone on the real kernel: deletions and renames that succeed, by one
process (unlink, unlinkat, rmdir, rename, renameat2), and none that fail."""
from __future__ import annotations

import re

import pytest

from tests.helpers import Tool, run_tool
from tests.workloads import Child

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

_GONE = r"""
import ctypes, os, sys
d = sys.argv[1]
libc = ctypes.CDLL(None, use_errno=True)
print("ready", flush=True)
sys.stdin.readline()
for n in ("a", "b", "c"):
    open(os.path.join(d, n), "w").close()
os.unlink(os.path.join(d, "a"))                          # unlink
dfd = os.open(d, os.O_RDONLY)
os.unlink("b", dir_fd=dfd)                               # unlinkat
os.rename(os.path.join(d, "c"), os.path.join(d, "c2"))   # rename
libc.renameat2(dfd, b"c2", dfd, b"c3", 0)                # renameat2
os.mkdir(os.path.join(d, "sub"))
os.rmdir(os.path.join(d, "sub") + "/")                   # rmdir, trailing slash
try:
    os.unlink(os.path.join(d, "never-there"))            # fails: not shown
except FileNotFoundError:
    pass
os.unlink(os.path.join(d, "c3"))
"""


# "": the default (raw_syscalls' sys_enter/sys_exit, tp_btf); raw_tp; the
# per-syscall tracepoints (the fallback)
@pytest.mark.parametrize("probe", ["", "raw_tp", "tracepoint"])
def test_deletes_and_renames(tmp_path, probe):
    child = Child(_GONE, tmp_path)
    try:
        t = Tool("filegone", "-p", child.pid, env={"COREBPF_PROBE": probe})
        assert t.lines[0] == "TIME     PID     COMM             ACTION FILE"
        child.go().wait()
        t.wait_for(lambda l: l.endswith("DELETE c3"))
        assert t.stop() == 0
    finally:
        child.kill()
    rows = [re.split(r"\s+", l, 4) for l in t.lines[1:]]
    assert all(r[1] == str(child.pid) for r in rows), t.text
    assert [(r[3], r[4]) for r in rows] == [
        ("DELETE", "a"), ("DELETE", "b"), ("RENAME", "c > c2"), ("RENAME", "c2 > c3"),
        ("DELETE", "sub"), ("DELETE", "c3")], t.text


def test_bad_input():
    rc, out, err = run_tool("filegone", "-p", "0")
    assert rc == 2 and "no such process" in err and len(err.splitlines()) == 1


def test_json(tmp_path):
    import json
    import subprocess
    import sys

    import jsonschema
    child = Child(_GONE, tmp_path)
    try:
        t = Tool("filegone", "--json", "-p", child.pid, ready="stderr")
        assert t.lines == []                    # the header went to stderr
        child.go().wait()
        t.wait_for(lambda l: '"DELETE"' in l and json.loads(l)["file"].endswith("c3"))
        assert t.stop() == 0
    finally:
        child.kill()
    schema = json.loads(subprocess.run([sys.executable, "-m", "corebpf", "schema", "filegone"],
                                       capture_output=True, check=True).stdout)
    objs = [json.loads(l) for l in t.lines]
    for o in objs:
        jsonschema.validate(o, schema)
    assert all(o["pid"] == child.pid for o in objs), objs
    last = lambda p: p and p.rstrip("/").rsplit("/", 1)[-1]     # noqa: E731
    assert [(o["action"], last(o["file"]), last(o["new_file"])) for o in objs] == [
        ("DELETE", "a", None), ("DELETE", "b", None), ("RENAME", "c", "c2"),
        ("RENAME", "c2", "c3"), ("DELETE", "sub", None), ("DELETE", "c3", None)], objs
