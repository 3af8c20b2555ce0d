"""`corebpf doctor`: its JSON document follows the schema and agrees with
corebpf.core.features on this host, each tool's answer is what the tool
itself does when it runs, nothing stays loaded, and a caller without
privileges is told so."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from corebpf import doctor, features, tools
from corebpf.core import perf
from tests import matrix

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

ROOT = Path(__file__).resolve().parent.parent.parent
SCHEMA = ROOT / "corebpf" / "doctor.schema.json"

# the probe kind a tool's `via` names -> the doctor probe that must say yes
PROBE_OF_KIND = {"tp_btf": "tp_btf", "raw_tp": "raw_tp", "tracepoint": "tracepoint",
                 "fentry": "fentry", "kprobe": "kprobe", "uprobe": "uprobe", "usdt": "usdt",
                 "perf_event": "perf_sampling"}


def _doctor(*args, user=None):
    cmd = [sys.executable, "-m", "corebpf", "doctor", *args]
    if user:
        cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups",
               "--inh-caps=-all", *cmd]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert r.returncode == 0 and not r.stderr, r.stderr
    return r.stdout


@pytest.fixture(scope="module")
def report():
    return json.loads(_doctor("--json"))


def test_json_follows_the_schema(report):
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(report, schema, cls=jsonschema.Draft202012Validator)
    assert report["format"] == doctor.FORMAT


def test_host_facts(report):
    u = os.uname()
    assert report["kernel"]["release"] == u.release and report["kernel"]["machine"] == u.machine
    lb = report["libbpf"]
    assert lb["error"] is None and os.path.exists(lb["path"]) and "libbpf.so" in lb["path"]
    assert lb["version"].split(".")[0] == "1"
    btf = report["btf"]
    assert btf["path"] == features.btf_path() and btf["readable"] == features.has_btf()
    if btf["readable"]:
        assert btf["size"] == os.path.getsize(btf["path"])
    assert report["tracefs"]["path"] == features.tracefs()
    caps = report["capabilities"]
    assert caps["uid"] == os.getuid() and caps["can_load_bpf"]
    assert caps["tracing"]["CAP_BPF"] == ("CAP_BPF" in caps["effective"])


def test_probe_kinds_agree_with_features(report):
    p = {k: v["ok"] for k, v in report["probes"].items()}
    assert p["kprobe"] == features.kprobes()
    assert p["fentry"] == features.fentry()
    assert p["tp_btf"] == features.tp_btf()
    assert p["raw_tp"] == features.raw_tp()
    assert p["uprobe"] == p["usdt"] == features.uprobes()
    assert p["ringbuf"] == features.ringbuf()
    assert p["perf_sampling"] == perf.can_sample()
    assert p["tracepoint"] is True                 # tracefs answered above
    for name, v in report["probes"].items():
        assert bool(v["detail"]) == (not v["ok"]), (name, v)


def test_every_tool_has_an_answer_that_features_allow(report):
    assert list(report["tools"]) == tools.names()
    probes = report["probes"]
    for name, r in report["tools"].items():
        checks = [r] + list(r["also"].values())
        for c in checks:
            if c["runs"]:
                assert c["reason"] is None
                for kind in c["via"]:
                    assert probes[PROBE_OF_KIND[kind]]["ok"], (name, kind)
            else:
                assert c["reason"] and "\n" not in c["reason"] and not c["via"], (name, c)
    s = report["summary"]
    assert s["tools"] == len(report["tools"]) and \
        s["run_here"] == sum(r["runs"] for r in report["tools"].values())


def test_tools_needing_a_missing_feature_do_not_run(report):
    """tests/matrix.py's `needs` (for the table's run, on kernel functions for
    the multitools): where features says none is there, the doctor must say
    the tool does not run, naming it as the tool does."""
    for name, spec in matrix.TOOLS.items():
        if not spec.needs or name not in report["tools"]:
            continue
        have = matrix.available(spec)
        r = report["tools"][name]
        r = r["also"].get("kernel functions", r)
        assert r["runs"] == have, (name, r)
        if not have:
            assert any(matrix.need_text(f).lower() in r["reason"].lower() for f in spec.needs), r["reason"]


def test_kernel_functions_of_the_multitools_follow_kprobe_and_fentry(report):
    can = features.kprobes() or features.fentry()
    for name in ("trace", "argdist", "funccount", "funclatency", "stackcount"):
        kf = report["tools"][name]["also"]["kernel functions"]
        assert kf["runs"] == can, (name, kf)
        if kf["runs"]:
            assert set(kf["via"]) <= {"kprobe", "fentry"}


@pytest.mark.parametrize("tool", ["biolatency", "tcpconnect", "runqlat", "syscount"])
def test_the_variant_is_the_one_the_tool_chooses(report, tool, tmp_path):
    """The doctor's variant for a tool = what the tool picks when it runs
    (--verbose prints `corebpf: TOOL: using VARIANT (KIND) probes`; libbpf's
    log goes to a file: it is far longer than a pipe holds)."""
    err = tmp_path / "stderr"
    with open(err, "w") as f:
        p = subprocess.Popen([sys.executable, "-m", "corebpf", tool, "--verbose"],
                             stdout=subprocess.PIPE, stderr=f, cwd=ROOT)
        try:
            assert p.stdout.readline(), err.read_text()[-2000:]     # the header: attached
        finally:
            p.send_signal(signal.SIGINT)
            p.communicate(timeout=60)
    assert p.returncode == 0
    used = [ln for ln in err.read_text().splitlines()
            if ln.startswith(f"corebpf: {tool}: using ")]
    r = report["tools"][tool]
    assert r["runs"] and used
    variant, kind = used[0].split("using ", 1)[1].split()[:2]
    assert variant == r["variant"] and kind.strip("()") == r["via"][0]


@pytest.mark.parametrize("jobs", [1, 2, 5])
def test_a_check_in_this_process_leaves_nothing(no_leaks, jobs):
    """Every check answered, whatever the number of workers (more than the
    checks too; a worker must not hold another's pipe, or ending one waits
    forever); the parent loads nothing itself; the workers' objects die with
    them."""
    def hung(*_):
        raise AssertionError("check_tools did not return within 120 s")
    old = signal.signal(signal.SIGALRM, hung)
    signal.alarm(120)
    try:
        res = doctor.check_tools(["opensnoop", "gethostlatency", "trace", "vfscount"], jobs=jobs)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    assert set(res) == {("opensnoop", ""), ("gethostlatency", ""), ("trace", ""),
                        ("trace", "kernel functions"), ("vfscount", "")}
    assert res[("opensnoop", "")]["runs"] and res[("gethostlatency", "")]["via"] == ["uprobe"]
    assert res[("trace", "")]["via"] == ["tracepoint"]
    assert res[("vfscount", "")]["runs"] == features.kprobes()


def test_load_only_run_in_process_stops_before_attach(no_leaks):
    """check_tool() itself (what each child runs): loaded, not attached,
    closed, and this process's signal mask and handlers as they were (a
    tool's setup holds the stop signals)."""
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    term = signal.getsignal(signal.SIGTERM)
    r = doctor.check_tool("execsnoop", [])
    # raw_syscalls (tp_btf, else raw_tp), else the per-syscall tracepoints;
    # which one this kernel gets is test_the_variant_is_the_one_the_tool_chooses'
    assert r["runs"] and len(r["via"]) == 1 and r["via"][0] in ("tp_btf", "raw_tp", "tracepoint"), r
    assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == mask
    assert signal.getsignal(signal.SIGTERM) == term
    r = doctor.check_tool("execsnoop", ["--no-such-option"])
    assert not r["runs"] and "unrecognized arguments: --no-such-option" in r["reason"]


def test_text_report_has_every_section(report):
    out = _doctor("opensnoop", "vfscount")
    lines = out.splitlines()
    for head in ("kernel ", "libbpf ", "BTF ", "tracefs ", "caller ", "probe kinds",
                 "tools: "):
        assert any(ln.startswith(head) for ln in lines), head
    row = next(ln for ln in lines if ln.split()[:1] == ["opensnoop"])
    assert row.split()[1] == "yes" and re.search(r"via (tp_btf|raw_tp|tracepoint)", row), row
    assert lines[-1].split()[0] == "vfscount"


def test_an_unprivileged_caller_is_told_why(tmp_path):
    if not shutil.which("setpriv"):
        pytest.fail("setpriv (util-linux) is needed")
    out = _doctor("--json", "execsnoop", "profile", user="65534")      # nobody
    rep = json.loads(out)
    assert not rep["capabilities"]["can_load_bpf"]
    assert rep["probes"]["fentry"]["ok"] is None and "not checked" in \
        rep["probes"]["fentry"]["detail"]
    for name in ("execsnoop", "profile"):
        r = rep["tools"][name]
        assert not r["runs"] and "root" in r["reason"], r


@pytest.mark.parametrize("args, msg", [
    (["nosuchtool"], "no tool named 'nosuchtool'"),
    (["--jobs", "0"], "--jobs must be at least 1"),
    (["--bogus"], "unrecognized arguments: --bogus"),
])
def test_bad_input_is_one_line(args, msg):
    r = subprocess.run([sys.executable, "-m", "corebpf", "doctor", *args], capture_output=True,
                       text=True, cwd=ROOT)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("corebpf: error: ") and \
        msg in r.stderr, r.stderr


def test_workers_hold_only_their_own_pipes():
    """A worker holding another's job pipe keeps that one from seeing EOF:
    ending it would then wait forever (which happened)."""
    pool = doctor._Workers()
    try:
        for _ in range(3):
            pool.spawn()
        for fd in list(pool.procs):         # an answer: the worker is past its set-up
            pool.send(fd, ("tplist", "", ["-h"]))
            assert json.loads(os.read(fd, 65536))["runs"]

        def inodes(pid, fds=None):
            out = set()
            for fd in (fds if fds is not None else os.listdir(f"/proc/{pid}/fd")):
                try:
                    out.add(os.readlink(f"/proc/{pid}/fd/{fd}"))
                except OSError:
                    pass
            return out
        me = os.getpid()
        pipes = {w[0]: inodes(me, [rfd, w[1]]) for rfd, w in pool.procs.items()}
        for pid, own in pipes.items():
            others = set().union(*(p for q, p in pipes.items() if q != pid))
            assert not inodes(pid) & others, f"worker {pid} holds another worker's pipe"
    finally:
        for fd in list(pool.procs):
            pool.end(fd, kill=True)
