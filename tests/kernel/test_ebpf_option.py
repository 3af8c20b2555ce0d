"""--ebpf on every tool (the rows of tests/matrix.py): prints the BPF
program(s) that would load -- the probe variant chosen for this kernel,
each program's section and its instructions -- and exits 0 without loading
or tracing (a tool that started tracing would wait for Ctrl-C: the run has
no duration).  A tool whose probes this kernel lacks prints them too or
says what is missing in one line."""
from __future__ import annotations

import re
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests import matrix

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

PROGRAM = re.compile(r"^program \S+: \S+$", re.M)
INSN = re.compile(r"^ +\d+: exit$", re.M)


def _check(name, s) -> str:
    """'' when `name --ebpf` behaves, else what went wrong."""
    argv = (*matrix.resolve(s, s.args), "--ebpf")
    try:
        r = subprocess.run(matrix.tool_cmd(name, *argv), capture_output=True, text=True,
                           timeout=60)
    except subprocess.TimeoutExpired:
        return f"{name} --ebpf did not exit (it traced?)"
    if not matrix.available(s) and r.returncode == 1:
        # what it would load needs what this kernel lacks: one line saying so
        if len(r.stderr.strip().splitlines()) == 1:
            return ""
        return f"{name} --ebpf without {s.needs}: {r.stderr[-300:]!r}"
    if r.returncode != 0:
        return f"{name} --ebpf: rc {r.returncode}: {r.stderr[-300:]!r}"
    if not INSN.search(r.stdout):
        return f"{name} --ebpf printed no instructions: {r.stdout[:300]!r}"
    if "Ctrl-C" in r.stdout:
        return f"{name} --ebpf started tracing: {r.stdout[:300]!r}"
    return ""


def test_every_tool_prints_its_programs():
    rows = [(n, s) for n, s in matrix.present() if s.loads_bpf]
    assert len(rows) > 90
    with ThreadPoolExecutor(4) as pool:
        problems = [p for p in pool.map(lambda row: _check(*row), rows) if p]
    assert not problems, "\n".join(problems)


def test_sections_and_variant():
    r = subprocess.run(matrix.tool_cmd("tcprtt", "--ebpf"), capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[1] == "variant: btf"
    assert "program rcv__btf: tp_btf/tcp_probe" in lines
    assert "program rcv__tp: tracepoint/tcp/tcp_probe (not loaded)" in lines
    assert len(PROGRAM.findall(r.stdout)) == 1 and INSN.search(r.stdout)
