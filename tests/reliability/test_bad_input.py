"""Bad input, for every tool of tests/matrix.py: an unknown or dead PID,
negative, zero and huge intervals, unknown flags, the tool's own bad values
(missing binary/library/symbol, malformed probe specs), a non-root user, a
missing or wrong libbpf (COREBPF_LIBBPF), missing kernel BTF (COREBPF_BTF, --btf).
Each must give ONE line on stderr naming the tool, a non-zero exit, nothing
on stdout and no traceback."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests import matrix

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
