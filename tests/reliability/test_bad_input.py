"""Bad input, for every tool of tests/matrix.py: an unknown or dead PID,
negative, zero and huge intervals, unknown flags, the tool's own bad values
(missing binary/library/symbol, malformed probe specs), a value just out of
range for every numeric option (found through the tool's parser), a
non-root user, a missing or wrong libbpf (COREBPF_LIBBPF), missing kernel
BTF or a directory as BTF (COREBPF_BTF, --btf), an unknown probe kind
(COREBPF_PROBE).  Each must give ONE line on stderr naming the tool, a
non-zero exit, nothing on stdout and no traceback.

A value at the edge of every numeric option's range (in range) must either
run (stopped with Ctrl-C: exit 0) or be refused with one line: never a
traceback from a number that passed parsing and overflowed later."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

import pytest

from tests import matrix
from tests.helpers import Tool

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

TOOLS = matrix.present()


def _dead_pid() -> int:
    p = subprocess.Popen(["/bin/true"])
    p.wait()
    return p.pid


def _cases():
    """(id, tool, argv, env, prefix-command, text the error must contain)."""
    out = []
    for name, s in TOOLS:
        a = s.args
        out.append((f"{name}-unknown-flag", name, ("--no-such-flag", *a), None, None,
                    s.unknown_flag))
        if s.pid:
            out.append((f"{name}-dead-pid", name, (s.pid, "DEAD", *a), None, None,
                        "no such process"))
            out.append((f"{name}-bad-pid", name, (s.pid, "12ab", *a), None, None, "PID"))
            out.append((f"{name}-huge-pid", name, (s.pid, str(2**40), *a), None, None, ""))
        for i, val in enumerate(("-1", "0", str(2**63), "x")):
            if s.interval == "pos":
                argv = (*a, val)
            elif s.interval == "-i":
                argv = ("-i", val, *a)
            else:
                continue
            out.append((f"{name}-interval-{i}", name, argv, None, None, ""))
        for i, (argv, text) in enumerate(s.bad):
            out.append((f"{name}-bad-{i}", name, argv, None, None, text))
        for opt in matrix.numeric_options(name):
            out.append((f"{opt.id}-too-large", name, opt.argv(opt.type.hi + 1, s), None, None,
                        "argument"))
        if not s.loads_bpf:
            continue        # no bpf(): nothing for privileges, libbpf or BTF to refuse
        out.append((f"{name}-nobody", name, a, None, "nobody",
                    "must run as root (or with CAP_BPF and CAP_PERFMON)"))
        out.append((f"{name}-root-without-caps", name, a, None, "nocaps", "Operation not permitted"))
        out.append((f"{name}-libbpf-missing", name, a,
                    {"COREBPF_LIBBPF": "/nonexistent/libbpf.so.1"}, None, "/nonexistent/libbpf.so.1"))
        out.append((f"{name}-libbpf-wrong", name, a,
                    {"COREBPF_LIBBPF": "libz.so.1"}, None, "not libbpf"))
        out.append((f"{name}-btf-missing", name, a,
                    {"COREBPF_BTF": "/nonexistent/vmlinux"}, None, "/nonexistent/vmlinux"))
        out.append((f"{name}-btf-option-missing", name, (*a, "--btf", "/nonexistent/vmlinux"),
                    None, None, "--btf /nonexistent/vmlinux: No such file or directory"))
        out.append((f"{name}-btf-directory", name, a,
                    {"COREBPF_BTF": tempfile.gettempdir()}, None, "a directory, not a BTF file"))
        out.append((f"{name}-probe-kind-unknown", name, a, {"COREBPF_PROBE": "bogus"}, None,
                    "COREBPF_PROBE: invalid choice: 'bogus'"))
    return out


CASES = _cases()

# Running as `nobody`: the interpreter (pyenv, a venv) may sit under /root,
# which nobody cannot enter; CAP_DAC_READ_SEARCH lets it read the files and
# grants nothing BPF needs (CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN).
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
          "--inh-caps=-all,+dac_read_search", "--ambient-caps=+dac_read_search"]
# root with no capabilities (a locked-down container): euid 0 passes the
# tools' own check, the kernel refuses bpf().
NOCAPS = ["setpriv", "--inh-caps=-all", "--bounding-set=-all"]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line(case):
    _, name, argv, env, prefix, text = case
    argv = matrix.resolve(matrix.spec(name), argv)
    argv = tuple(str(_dead_pid()) if a == "DEAD" else a for a in argv)
    cmd = matrix.tool_cmd(name, *argv)
    if prefix:
        assert shutil.which("setpriv"), "setpriv (util-linux) is needed for this test"
        cmd = (NOBODY if prefix == "nobody" else NOCAPS) + cmd
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=e,
                       stdin=subprocess.DEVNULL)
    lines = p.stderr.splitlines()
    if not matrix.available(matrix.spec(name)) and (prefix or env) and p.returncode == 1:
        text = ""   # the missing kernel feature may be found first: one line too
    assert p.returncode != 0, (cmd, p.stdout[-500:])
    assert "Traceback" not in p.stderr, p.stderr
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith(f"{name}: error: "), lines[0]
    assert text in lines[0], (text, lines[0])
    assert p.stdout == ""


EDGES = [o for n, s in TOOLS if matrix.available(s) and s.loads_bpf
         for o in matrix.numeric_options(n)]


@pytest.mark.parametrize("opt", EDGES, ids=[o.id for o in EDGES])
def test_numeric_option_at_the_edge_of_its_range(opt):
    """The largest value an option accepts reaches the BPF field, map size or
    perf attribute it fills without breaking anything: the tool runs (Ctrl-C
    ends it, exit 0) or says in one line why it cannot (memory, no such PID)."""
    s = matrix.spec(opt.tool)
    argv = matrix.resolve(s, opt.run_argv(opt.type.hi, s))
    t = Tool(opt.tool, *argv, ready=False)
    t.wait_for(lambda line: True, timeout=30)
    rc = t.stop()
    assert "Traceback" not in t.stderr, t.stderr
    if rc != 0:
        lines = t.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"{opt.tool}: error: "), t.stderr
