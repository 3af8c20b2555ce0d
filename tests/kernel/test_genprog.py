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
