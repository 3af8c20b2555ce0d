"""cachetop on the real kernel: a process that reads a file (twice) and
writes one shows in its own row, with bcc's columns."""
from __future__ import annotations

import os
import re
import uuid

import pytest

from tests.helpers import Tool, json_match, json_objects, run_tool
from tests.workloads import SCRATCH_DIR, Child

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

_READER = r"""
import os, sys
path = sys.argv[1]
with open(path, "wb") as f:
    f.write(os.urandom(4 << 20))
print("ready", flush=True)
sys.stdin.readline()
for _ in range(2):
    with open(path, "rb") as f:
        while f.read(1 << 16):
            pass
with open(path + ".w", "wb") as f:          # dirties pages
    f.write(b"w" * (1 << 20))
os.unlink(path + ".w")
"""

FIRST = re.compile(r"(\x1b\[H\x1b\[2J)?\d\d:\d\d:\d\d Buffers MB: \d+ / Cached MB: \d+ / "
                   r"Sort: HITS / Order: descending$")
HEADER = "PID      UID      CMD              HITS     MISSES   DIRTIES  READ_HIT%  WRITE_HIT%"


@pytest.fixture
def data():
    """The reader's file, on a disk's file system: /tmp may be a tmpfs (in the
    guests it is), whose reads do not pass the page cache tracepoints."""
    path = os.path.join(SCRATCH_DIR, "corebpf_ct_" + uuid.uuid4().hex[:8])
    yield path
    for p in (path, path + ".w"):
        if os.path.exists(p):
            os.unlink(p)


def test_a_process_row(data):
    child = Child(_READER, data)
    try:
        t = Tool("cachetop", "-p", child.pid, "1")
        child.go().wait()
        line = t.wait_for(lambda l: l.split()[:1] == [str(child.pid)] and int(l.split()[3]) > 0)
        assert t.stop() == 0
    finally:
        child.kill()
    assert line, t.text
    assert FIRST.match(t.lines[0]) and t.lines[1] == HEADER, t.text
    assert t.lines[-1] == "Detaching..."
    pid, user, comm, hits, misses, dirties, rhit, whit = line.split()
    assert (user, comm) == ("root", "python3") or comm.startswith("python"), line
    assert int(hits) >= 1024 and rhit.endswith("%") and whit.endswith("%"), line  # 4 MiB read
    rows = [l for l in t.lines if l[:8].strip().isdigit()]
    assert all(l.split()[0] == str(child.pid) for l in rows), t.text     # -p


def test_bad_input():
    rc, out, err = run_tool("cachetop", "0")
    assert rc == 2 and "must be positive" in err and len(err.splitlines()) == 1


def test_json(data):
    child = Child(_READER, data)
    try:
        t = Tool("cachetop", "--json", "-p", child.pid, "1", ready="stderr")
        child.go().wait()
        line = t.wait_for(json_match(lambda d: any(r["hits"] >= 1024 for r in d["rows"])))
        assert t.stop() == 0
    finally:
        child.kill()
    assert line, (t.text, t.stderr)
    assert t.stderr.splitlines()[-1] == "Detaching..."
    objs = json_objects(t, "cachetop")
    rows = [r for o in objs for r in o["rows"]]
    assert all(r["pid"] == child.pid and r["comm"].startswith("python") for r in rows)
    assert all(0 <= r["read_hit_pct"] <= 100 and r["uid"] == 0 for r in rows)
    assert all(o["cached_bytes"] > 0 for o in objs)
