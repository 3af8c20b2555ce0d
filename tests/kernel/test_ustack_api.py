"""The library's stack API for code without frame pointers (docs/API.md,
"User stacks without frame pointers"), used as a person writing a tool uses
it: tests/bpf/ustacktest.bpf.c includes the shipped ustack.bpf.h, is built
by `corebpf compile` against the package's header set alone, dumps the user
stack on each call of libc's nanosleep in tests/progs/unwindprog (-O2
-fomit-frame-pointer, blocking under unwind_f1 -> ... -> unwind_f8), and
corebpf.unwind_user_stack turns a dump into the 8 frames, in order."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

import corebpf
from corebpf import features
from corebpf.toolchain import INCLUDE_DIR

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SRC = os.path.join(ROOT, "tests", "bpf", "ustacktest.bpf.c")
CHAIN = [f"unwind_f{i}" for i in range(8, 0, -1)]       # leaf -> root


@pytest.fixture
def obj_path(tmp_path):
    """ustacktest.bpf.o, compiled as a user does: `corebpf compile`, whose
    include path is the package's header set (no bpf_src/)."""
    assert os.path.isfile(os.path.join(INCLUDE_DIR, "ustack.bpf.h"))
    out = tmp_path / "ustacktest.bpf.o"
    r = subprocess.run([sys.executable, "-m", "corebpf", "compile", SRC, "-o", str(out)],
                       capture_output=True, text=True, cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    return str(out)


def test_unwind_user_stack_gives_the_chain_of_a_program_without_frame_pointers(
        obj_path, unwindprog):
    if not features.task_pt_regs():
        pytest.skip("kernel lacks bpf_task_pt_regs (5.15): no user registers to dump")
    p = subprocess.Popen([str(unwindprog["eh"]), "nap", "60"], stdout=subprocess.PIPE)
    try:
        assert p.stdout.readline().startswith(b"ready")
        dumps = []
        with corebpf.Object.open(obj_path) as obj:
            obj.maps["scratch"].max_entries = features.possible_cpus()
            obj.load()
            obj.programs["on_call"].attach_uprobe("c:nanosleep", pid=p.pid)
            rb = obj.ring_buffer("dumps", dumps.append)
            end = time.monotonic() + 20
            while len(dumps) < 3 and time.monotonic() < end:
                rb.poll(200)
            assert rb.lost == 0
        assert len(dumps) >= 3, "no nanosleep calls seen in unwindprog"
        for e in dumps:
            assert e.pid == p.pid and e.ustack.flags == 0 and e.ustack.size > 0
            addrs = corebpf.unwind_user_stack(e.pid, e.ustack)
            names = [corebpf.sym(a, e.pid) for a in addrs]
            # nanosleep's own frame(s) in libc, then the chain, then main
            i = names.index("unwind_f8")
            assert names[i:i + 9] == CHAIN + ["main"], names
            assert "nanosleep" in names[0], names
    finally:
        p.kill()
        p.wait()
