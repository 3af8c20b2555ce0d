"""deadlock against tests/progs/lockorder.c: two threads that take two
global mutexes in opposite orders (one after the other, so the program
itself never hangs) are reported as a potential deadlock, with the
functions that took each mutex and where the threads were created; the
same program taking them in one order is not."""
from __future__ import annotations

import json
import re
import subprocess

import pytest

from tests.helpers import Tool, json_objects, run_tool

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

NAME = r"Mutex M(\d) \((corebpf_mutex_[ab]) 0x([0-9a-f]{16})\)"


class Target:
    def __init__(self, prog, mode):
        self.p = subprocess.Popen([str(prog), mode], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE)
        self.pid = self.p.pid

    def go(self):
        self.p.stdin.write(b"go\n")
        self.p.stdin.flush()
        assert self.p.stdout.readline() == b"done\n"

    def close(self):
        self.p.kill()
        self.p.wait()


def frames_after(lines, header_rx):
    """The `@ ADDRESS name` names under the first line matching header_rx."""
    i = next(i for i, l in enumerate(lines) if re.match(header_rx, l))
    out = []
    for line in lines[i + 1:]:
        m = re.match(r"^@ [0-9a-f]{16} (.+)$", line)
        if not m:
            break
        out.append(m.group(1))
    return out


def test_lock_order_inversion_is_detected(lockorder_prog, tmp_path):
    target = Target(lockorder_prog, "inversion")
    graph = tmp_path / "graph.json"
    try:
        t = Tool("deadlock", target.pid, "--dump-graph", graph)
        assert t.lines[0] == "Tracing... Hit Ctrl-C to end."
        target.go()
        rc = t.wait(timeout=20)
    finally:
        target.close()
    assert rc == 1, t.text + t.stderr             # bcc exits 1 once it found one
    lines = t.lines
    assert lines[1:3] == ["----------------", "Potential Deadlock Detected!"]
    cyc = next(l for l in lines if l.startswith("Cycle in lock order graph: "))
    names = re.findall(NAME, cyc)
    assert [n[0] for n in names] == ["0", "1", "0"], cyc
    assert {n[1] for n in names} == {"corebpf_mutex_a", "corebpf_mutex_b"}
    # each edge: where the second mutex was taken, then the first, in the
    # function that took them (the lock function's caller) and its caller
    held = [l for l in lines if " acquired here while holding " in l]
    assert len(held) == 2
    for line in held:
        m = re.match(r"^%s acquired here while holding %s in Thread (\d+) \((\S+)\):$"
                     % (NAME, NAME), line)
        assert m, line
        assert m.group(8) == "lockorder"
        f = frames_after(lines, re.escape(line))
        assert f[0] == "pthread_mutex_lock" and f[1] in ("corebpf_lock_ab", "corebpf_lock_ba")
        assert f[2] == ("first" if f[1] == "corebpf_lock_ab" else "second"), f
    prev = [l for l in lines if " previously acquired by the same Thread " in l]
    assert len(prev) == 2
    created = [l for l in lines if re.match(r"^Thread \d+ created by Thread %d \(lockorder\) "
                                            r"here: $" % target.pid, l)]
    assert len(created) == 2, t.text
    f = frames_after(lines, re.escape(created[0]))
    assert f[:2] == ["pthread_create", "main"], f
    data = json.loads(graph.read_text())
    assert data["directed"] is True and len(data["nodes"]) == 2 and len(data["links"]) == 2
    assert {"thread_pid", "thread_comm", "source", "target"} <= set(data["links"][0])


def test_one_lock_order_is_not_a_deadlock(lockorder_prog):
    target = Target(lockorder_prog, "ordered")
    try:
        t = Tool("deadlock", target.pid, "--verbose")
        target.go()
        assert t.wait_for(lambda l: l == "Mutexes: 2, Edges: 1", 10), t.text
        assert t.stop() == 0
    finally:
        target.close()
    assert not any("Potential Deadlock" in l for l in t.lines)


def test_bad_input(lockorder_prog):
    target = Target(lockorder_prog, "ordered")
    try:
        rc, out, err = run_tool("deadlock", target.pid, "--lock-symbols", "no_such_lock_xyz")
        assert rc == 1 and "no_such_lock_xyz" in err and err.count("\n") == 1
        rc, out, err = run_tool("deadlock", target.pid, "--binary", "/nonexistent/lib.so")
        assert rc == 1 and "/nonexistent/lib.so" in err and err.count("\n") == 1
        rc, out, err = run_tool("deadlock", target.pid, "--lock-symbols", ",")
        assert rc == 2 and "no symbol given" in err
    finally:
        target.close()


def test_json_lock_order_inversion(lockorder_prog):
    """One object for the cycle: a row per edge with both mutexes, the thread,
    where each mutex was taken and where the thread was created, as frames."""
    target = Target(lockorder_prog, "inversion")
    try:
        t = Tool("deadlock", "--json", target.pid, ready="stderr")
        target.go()
        rc = t.wait(timeout=20)
    finally:
        target.close()
    assert rc == 1, t.text + t.stderr
    (o,) = json_objects(t, "deadlock")
    assert (o["mutexes"], o["edges"]) == (2, 2) and len(o["cycle"]) == 3
    assert o["cycle"][0] == o["cycle"][2] and len(o["rows"]) == 2
    assert {r["mutex_symbol"] for r in o["rows"]} == {"corebpf_mutex_a", "corebpf_mutex_b"}
    for r in o["rows"]:
        assert r["comm"] == "lockorder" and r["parent_tid"] == target.pid
        assert r["parent_comm"] == "lockorder" and r["held"] != r["mutex"]
        s = [f["symbol"] for f in r["stack"]]
        assert s[0] == "pthread_mutex_lock" and s[1] in ("corebpf_lock_ab", "corebpf_lock_ba")
        assert s[2] == ("first" if s[1] == "corebpf_lock_ab" else "second"), s
        assert [f["symbol"] for f in r["created_stack"][:2]] == ["pthread_create", "main"]
        assert r["held_stack"][0]["symbol"] == "pthread_mutex_lock"
