"""The multitools' own USDT argument code on a binary this machine ships:
Debian's python3.11 carries USDT probes whose operands are the native
architecture's (x86_64: `8@%r12`, `-4@112(%rsp)`; arm64: `8@x21`,
`-4@[sp, 152]`), so the same tests prove register and memory operands on
both (the arm64 guest, tests/vm/run-arm64, has python3.11 too).  Strings
(file and function names) are user pointers read by the program; the GC
generation of gc__start is a stack slot on both architectures."""
from __future__ import annotations

import os
import subprocess
import uuid

import pytest

from corebpf.user import usdt
from tests import usdt_prog
from tests.helpers import Tool

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

PYTHON = "/usr/bin/python3.11"

# function__return fires for every Python function (function__entry only for
# frames entered from C: see test_lang_tools); gc.collect(n) fires gc__start(n)
CHILD = """import gc, sys
def {name}():
    return 1
gc.disable()
print("ready", flush=True)
for line in sys.stdin:
    for _ in range(3):
        {name}()
    gc.collect(1)
    gc.collect(2)
    print("done", flush=True)
"""


@pytest.fixture(autouse=True)
def _stop_tools():
    yield from usdt_prog.reap_tools()


class Child:
    def __init__(self):
        if not os.path.exists(PYTHON):
            pytest.skip(f"needs {PYTHON} (Debian 12's python3, a binary with USDT probes)")
        self.name = "corebpf_mark_" + uuid.uuid4().hex[:8]
        self.proc = subprocess.Popen([PYTHON, "-c", CHILD.format(name=self.name)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert self.proc.stdout.readline() == b"ready\n"
        self.pid = self.proc.pid

    def go(self):
        self.proc.stdin.write(b"go\n")
        self.proc.stdin.flush()
        assert self.proc.stdout.readline() == b"done\n"

    def close(self):
        self.proc.kill()
        self.proc.wait()


@pytest.fixture
def child():
    c = Child()
    yield c
    c.close()


def _operands(probe):
    (p,) = [p for p in usdt.probes(PYTHON) if p.name == probe]
    return [a.spec for loc in p.locations for a in loc.args]


def test_trace_reads_register_operands_and_user_strings(child):
    t = Tool("trace", "-p", child.pid,
             f'u:{PYTHON}:function__return (arg3 == 3) "%s %s %d", arg1, arg2, arg3')
    child.go()
    line = t.wait_for(lambda l: child.name in l, timeout=30)
    assert t.stop() == 0, t.stderr
    # filename "<string>" (python -c), the function, the line of its return
    assert line.endswith(f"<string> {child.name} 3"), (line, _operands("function__return"))


def test_trace_reads_a_stack_slot_operand(child):
    spec = _operands("gc__start")
    assert len(spec) == 1 and ("(%rsp)" in spec[0] or "[sp" in spec[0]), spec
    t = Tool("trace", "-p", child.pid, f'u:{PYTHON}:gc__start "gen=%d", arg1')
    child.go()
    t.wait_for(lambda l: l.endswith("gen=2"), timeout=30)
    assert t.stop() == 0, t.stderr
    gens = [l.rsplit("gen=", 1)[1] for l in t.lines if "gen=" in l]
    assert gens[:2] == ["1", "2"], (t.text, spec)


def test_argdist_counts_usdt_arguments(child):
    t = Tool("argdist", "-p", child.pid, "-i", "1", "-C",
             f"u:{PYTHON}:gc__start():int:arg1", ready=False)
    t.wait_for(lambda l: l.startswith("["), timeout=30)        # first interval: attached
    child.go()
    child.go()
    t.wait_for(lambda l: "arg1 = 2" in l, timeout=30)
    assert t.stop() == 0, t.stderr
    counts = {}                         # COUNT EVENT rows, summed over the intervals
    for r in (l.split() for l in t.lines if "arg1 = " in l):
        counts[int(r[-1])] = counts.get(int(r[-1]), 0) + int(r[0])
    assert counts.get(1, 0) >= 2 and counts.get(2, 0) >= 2, t.text
    assert set(counts) <= {0, 1, 2}, t.text
