"""genprog: run-time programs and maps against the real kernel: attach paths,
ownership (close detaches everything, idempotent), verifier errors."""
from __future__ import annotations

import os

import pytest

from corebpf import ConfigError, LoadError, features

from corebpf.core import kbtf
from corebpf.compiler.bpfasm import FP, R0, R1, R2, Asm, reg
from corebpf.compiler.genprog import ARRAY, ATTACH_TRACE_RAW_TP, GenObject

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root", "no_leaks")]


def counter(fd, tgid):
    """Count events of process tgid into slot 0 of array map fd."""
    a = Asm()
    a.call("get_current_pid_tgid")
    a.alu(">>", R0, 32)
    a.jmp("!=", R0, tgid, "out")
    a.st(4, FP, -4, 0)
    a.ld_map_fd(R1, fd, "counts")
    a.mov(R2, reg(FP))
    a.alu("+", R2, -4)
    a.call("map_lookup_elem")
    a.jmp("==", R0, 0, "out")
    a.mov(R1, 1)
    a.atomic_add(8, R0, 0, R1)
    a.label("out")
    a.mov(R0, 0)
    a.exit()
    return a


def test_tracepoint_raw_tp_and_tp_btf_attach_and_close():
    g = GenObject("t")
    m = g.create_map("counts", ARRAY, 4, 8, 1)
    tp = g.load_program("tp", "tracepoint", counter(m.fd, os.getpid()))
    g.attach_tracepoint(tp, "syscalls", "sys_enter_getppid")
    for _ in range(5):
        os.getppid()
    assert m[0] == 5
    raw = g.load_program("raw", "raw_tp", counter(m.fd, os.getpid()))
    g.attach_raw_tracepoint(raw, "sched_process_fork")
    if features.tp_btf():
        fid = kbtf.vmlinux().find("btf_trace_sched_process_fork", kbtf.TYPEDEF)
        btf = g.load_program("btf", "tracing", counter(m.fd, os.getpid()), attach_btf_id=fid,
                             expected_attach_type=ATTACH_TRACE_RAW_TP)
        g.attach_raw_tracepoint(btf)
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    assert m[0] == 5 + 1 + (1 if features.tp_btf() else 0)
    assert len(g.links) == (3 if features.tp_btf() else 2)
    g.close()
    g.close()                                   # idempotent
    assert g.links == [] and all(p.fd == -1 for p in g.programs.values())


def test_verifier_rejection_carries_the_log():
    with GenObject("bad") as g:
        a = Asm()
        a.exit()                                # r0 never set
        with pytest.raises(LoadError) as e:
            g.load_program("bad", "tracepoint", a)
        assert any("R0 !read_ok" in ln for ln in e.value.log)
        assert "R0 !read_ok" in str(e.value)


def test_duplicate_names_are_refused():
    with GenObject("dup") as g:
        g.create_map("m", ARRAY, 4, 8, 1)
        with pytest.raises(ConfigError):
            g.create_map("m", ARRAY, 4, 8, 1)


# CodeGen.task_cgroup_id() run by a process moved into a new cgroup: the id
# it reads is that cgroup directory's inode (its kernfs id), bit 63 set for a
# v1 hierarchy's (cgroupid.bpf.h's task_cgroup_id(), which --containers of
# the compiled tools uses).
_CGID_PROG = r'''
import os, sys
from corebpf.compiler.bpfasm import FP, R0, R1, R2, reg
from corebpf.compiler.codegen import CodeGen, ProbeContext
from corebpf.compiler.genprog import ARRAY, GenObject
with open(sys.argv[1] + "/cgroup.procs", "w") as f:
    f.write(str(os.getpid()))
with GenObject("cgid") as g:
    m = g.create_map("out", ARRAY, 4, 8, 1)
    cg = CodeGen(ProbeContext.tracepoint("syscalls", "sys_enter_getppid"))
    A = cg.a
    cg.prologue()
    cg.pid_filter(tgid=os.getpid())
    key, val = cg.alloc(8), cg.alloc(8)
    cg.task_cgroup_id()
    A.stx(8, FP, val, R0)
    A.st(8, FP, key, 0)
    cg.map_update(m.fd, "out", key, val)
    cg.epilogue()
    g.attach_tracepoint(g.load_program("p", "tracepoint", cg.a), "syscalls", "sys_enter_getppid")
    os.getppid()
    print(m[0])
'''


def _v2_root():
    for root in ("/sys/fs/cgroup/unified", "/sys/fs/cgroup"):
        if os.path.exists(root + "/cgroup.controllers"):
            return root
    return None


@pytest.mark.parametrize("hierarchy", ["v2", "v1 pids"])
def test_codegen_task_cgroup_id(hierarchy):
    import subprocess
    import sys
    import uuid
    if hierarchy == "v2":
        root = _v2_root()
        if root is None:
            pytest.skip("no cgroup v2 hierarchy mounted")
    else:
        root = "/sys/fs/cgroup/pids"
        if not os.path.exists(root + "/pids.max") and \
                not os.path.exists(root + "/cgroup.procs"):
            pytest.skip("no v1 pids hierarchy (a cgroup v2 only host)")
        v2 = [l[3:] for l in open("/proc/self/cgroup").read().splitlines() if l.startswith("0::")]
        if v2 and v2[0] != "/":
            pytest.skip("this test runs below the v2 root: its v2 id applies, not the v1 one")
    d = f"{root}/corebpf-cgid-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    os.mkdir(d)
    try:
        r = subprocess.run([sys.executable, "-c", _CGID_PROG, d], capture_output=True,
                           text=True, timeout=60)
        want = os.stat(d).st_ino | ((1 << 63) if hierarchy != "v2" else 0)
    finally:
        os.rmdir(d)
    assert r.returncode == 0, r.stderr
    assert int(r.stdout) == want
