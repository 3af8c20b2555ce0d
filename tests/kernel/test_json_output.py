"""--json on the real kernel: each tool with --json runs, sees activity this
test causes, and every line it prints validates against its own schema
(`corebpf schema TOOL`); hostile names come back byte for byte; `| head -n1`
is quiet.  A tool gaining --json adds its case to CASES."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid

import jsonschema
import pytest

from tests.helpers import run_json, schema

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]


def test_execsnoop(tmp_path):
    mark = "corebpf_json_" + uuid.uuid4().hex[:8]
    hostile = "a\x1b[2J\n\udcff\"b"                    # control chars, a non-UTF-8 byte
    procs = []

    def act():
        p = subprocess.run(["/bin/true", mark, os.fsencode(hostile)])
        procs.append(p)
    d, _ = run_json("execsnoop", [], act, lambda d: mark in d["argv"])
    assert d["argv"] == ["/bin/true", mark, hostile]
    assert d["comm"] == "true" and d["ppid"] == os.getpid() and d["retval"] == 0
    assert d["truncated"] is False and isinstance(d["time_ns"], int)


def test_opensnoop_hostile_path(tmp_path):
    raw = b"corebpf_\x1b]0;pwn\x07\n\xff\xfe_" + uuid.uuid4().hex[:6].encode()
    path = os.path.join(os.fsencode(str(tmp_path)), raw)

    def act():
        with open(path, "wb"):
            pass
    d, _ = run_json("opensnoop", ["-p", os.getpid()], act,
                    lambda d: d["path"].encode("utf-8", "surrogateescape") == path)
    assert d["pid"] == os.getpid() and d["fd"] >= 3 and d["errno"] == 0
    assert d["comm"] == "python3" or d["comm"].startswith("pytest")


def test_opensnoop_failure():
    missing = f"/nonexistent/corebpf_{uuid.uuid4().hex[:8]}"

    def act():
        try:
            open(missing)
        except FileNotFoundError:
            pass
    d, _ = run_json("opensnoop", ["-x", "-p", os.getpid()], act, lambda d: d["path"] == missing)
    assert d["fd"] == -1 and d["errno"] == 2


@pytest.mark.parametrize("flag", ["--json", "-j"])
def test_exitsnoop(flag):
    codes = {}

    def act():
        p = subprocess.Popen(["sh", "-c", "exit 6"])
        p.wait()
        codes[p.pid] = 6
    d, _ = run_json("exitsnoop", [flag], act, lambda d: d["pid"] in codes)
    assert (d["task"], d["exit_code"], d["sig_info"], d["ppid"]) == ("sh", 6, 0, os.getpid())
    assert d["exit_ns"] >= d["start_ns"] and d["age"] >= 0


@pytest.mark.parametrize("args", [["--json"], ["-j", "-D"], ["--json", "-F", "-m"]])
def test_biolatency(args):
    path = f"/var/tmp/corebpf_json_bio_{os.getpid()}"

    def act():
        subprocess.run(["dd", "if=/dev/zero", f"of={path}", "bs=1M", "count=4",
                        "oflag=direct", "status=none"], check=True)
    try:
        d, _ = run_json("biolatency", [*args, "1"], act,
                        lambda d: any(b["count"] for h in d["histograms"] for b in h["buckets"]))
    finally:
        if os.path.exists(path):
            os.unlink(path)
    assert d["unit"] == ("msecs" if "-m" in args else "usecs")
    if "-D" in args:
        assert all(h["disk"] for h in d["histograms"])
    if "-F" in args:
        assert any(h["flags"].endswith("Write") for h in d["histograms"])


def test_head_n1_is_quiet():
    """`execsnoop --json | head -n1`: one JSON line, the tool exits 0 when it
    next writes, and nothing but its header is on stderr (no traceback)."""
    from corebpf.tools import execsnoop
    tool = subprocess.Popen([sys.executable, "-m", "corebpf", "execsnoop", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    head = subprocess.Popen(["head", "-n1"], stdin=tool.stdout, stdout=subprocess.PIPE)
    tool.stdout.close()                 # head holds the only reader
    try:
        deadline = time.monotonic() + 30
        while tool.poll() is None and time.monotonic() < deadline:
            subprocess.run(["/bin/true"])
            time.sleep(0.05)
        out = head.communicate(timeout=30)[0].decode()
        rc = tool.wait(timeout=30)
        stderr = tool.stderr.read().decode()
    finally:
        for p in (tool, head):
            if p.poll() is None:
                p.kill()
                p.wait()
    assert rc == 0, stderr
    assert len(out.splitlines()) == 1
    jsonschema.validate(json.loads(out), schema("execsnoop"))
    assert stderr.splitlines() == [execsnoop.header(execsnoop.parse([]))], stderr


def _any_count(d):
    return any(b["count"] for h in d["histograms"] for b in h["buckets"])


def _wakeups():
    subprocess.run(["sh", "-c", "for i in 1 2 3 4 5; do sleep 0.01; done"])


@pytest.mark.parametrize("args", [["1"], ["-P", "-m", "1"], ["-L", "1"]])
def test_runqlat(args):
    d, _ = run_json("runqlat", args, _wakeups, _any_count)
    assert d["unit"] == ("msecs" if "-m" in args else "usecs")
    key = "pid" if "-P" in args else "tid" if "-L" in args else None
    assert all((key in h) == bool(key) for h in d["histograms"])


@pytest.mark.parametrize("args", [["1"], ["-O", "-e", "1"], ["-P", "1"]])
def test_cpudist(args):
    d, _ = run_json("cpudist", args, _wakeups, _any_count)
    if "-e" in args:
        assert d["histograms"][0]["count"] > 0
    if "-P" in args:
        assert all(isinstance(h["pid"], int) and "comm" in h for h in d["histograms"])


def _signal_a_child(sig, targets):
    def act():
        p = subprocess.Popen(["sleep", "30"])
        targets.append(p.pid)
        try:
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:              # exec'd: its comm is sleep's
                with open(f"/proc/{p.pid}/comm") as f:
                    if f.read().strip() == "sleep":
                        break
            os.kill(p.pid, sig)
        finally:
            p.kill()
            p.wait()
    return act


def test_killsnoop():
    targets = []
    d, _ = run_json("killsnoop", [], _signal_a_child(0, targets),
                    lambda d: d["tpid"] in targets and d["sig"] == 0)
    assert d["pid"] == os.getpid() and d["ret"] == 0


def test_sigsnoop():
    import signal
    targets = []
    d, _ = run_json("sigsnoop", [], _signal_a_child(signal.SIGUSR1, targets),
                    lambda d: d["tpid"] in targets and d["sig"] == signal.SIGUSR1)
    assert d["pid"] == os.getpid() and d["signame"] == "SIGUSR1" and d["tcomm"] == "sleep"


def test_syncsnoop(tmp_path):
    path = tmp_path / "f"

    def act():
        with open(path, "w") as f:
            os.fsync(f.fileno())
    d, _ = run_json("syncsnoop", [], act,
                    lambda d: d["call"] == "fsync" and d["comm"] in ("python3", "pytest"))
    assert d["ts_ns"] > 0


def test_statsnoop(tmp_path):
    path = str(tmp_path / ("corebpf_stat_\x1b\xff" + uuid.uuid4().hex[:6]))

    def act():
        try:
            os.stat(path)
        except FileNotFoundError:
            pass
    d, _ = run_json("statsnoop", ["-p", os.getpid()], act, lambda d: d["path"] == path)
    assert d["errno"] == 2 and d["ret"] == -2 and d["pid"] == os.getpid()


@pytest.mark.parametrize("addr,ip", [("127.0.0.1", 4), ("::1", 6)])
def test_tcpaccept(addr, ip):
    from tests.nethelpers import Server, connect
    ports = []
    with Server(addr) as srv:
        d, _ = run_json("tcpaccept", ["-P", srv.port, "-p", os.getpid()],
                        lambda: ports.append(connect(addr, srv.port)[0]),
                        lambda d: d["lport"] == srv.port and d["rport"] in ports)
    assert (d["pid"], d["ip"], d["raddr"], d["laddr"]) == (os.getpid(), ip, addr, addr)


def test_tcptracer():
    from tests.nethelpers import Server, connect
    ports = []
    with Server("127.0.0.1") as srv:
        d, _ = run_json("tcptracer", ["-p", os.getpid()],
                        lambda: ports.append(connect("127.0.0.1", srv.port)[0]),
                        lambda d: d["type"] == "C" and d["dport"] == srv.port)
    assert (d["pid"], d["ip"], d["saddr"], d["daddr"]) == (os.getpid(), 4, "127.0.0.1",
                                                           "127.0.0.1")
    assert d["sport"] in ports and d["netns"] == os.stat("/proc/self/ns/net").st_ino


def test_biosnoop():
    path = f"/var/tmp/corebpf_json_bios_{os.getpid()}"
    pids = []

    def act():
        p = subprocess.Popen(["dd", "if=/dev/zero", f"of={path}", "bs=64k", "count=4",
                              "oflag=direct", "status=none"])
        pids.append(p.pid)
        p.wait()
    try:
        d, objs = run_json("biosnoop", ["-Q", "-P"], act,
                           lambda d: d["pid"] in pids and d["op"] == "W")
    finally:
        if os.path.exists(path):
            os.unlink(path)
    assert d["comm"] == "dd" and d["disk"] and d["bytes"] > 0 and d["latency_ns"] > 0
    assert "queue_ns" in d and d["pattern"] in ("S", "R", "?")


@pytest.mark.parametrize("tool,args,key", [
    ("softirqs", ["1"], "softirq"), ("softirqs", ["-d", "1"], "softirq"),
    ("softirqs", ["-C", "1"], "softirq"), ("hardirqs", ["-d", "1"], "hardirq")])
def test_irqs(tool, args, key, tmp_path):
    def act():                      # timers, block I/O, loopback traffic: some interrupt
        with open(tmp_path / "f", "wb") as f:
            f.write(b"x" * 65536)
            os.fsync(f.fileno())
        time.sleep(0.05)

    def seen(d):
        return any(h.get("total") or any(b["count"] for b in h.get("buckets", ()))
                   for h in d.get("histograms", d.get("totals", ())))
    d, _ = run_json(tool, args, act, seen)
    rows = d.get("histograms", d.get("totals"))
    assert all(isinstance(r[key], str) and r[key] for r in rows)
    assert ("histograms" in d) == ("-d" in args)
    assert d["unit"] == ("count" if "-C" in args else "usecs")


# debug options that print the BPF programs (_multi.print_programs: "; NAME:
# KIND TARGET ...") or the object and its settings (_cli.print_ebpf: "object:
# PATH ..."): on stderr under --json, stdout stays JSON only.
# (tool, args, what stderr shows)
DEBUG_RUNS = [
    ("funccount", ["-D", "-d", "1", "t:syscalls:sys_enter_getppid"], "; count_0: "),
    ("stackcount", ["--debug", "-D", "1", "t:syscalls:sys_enter_getppid"], "; "),
    ("tcprtt", ["-D", "-d", "1"], "object: "),
    ("argdist", ["-v", "-n", "1", "-C", "t:syscalls:sys_enter_getppid()"], "; "),
    ("trace", ["-v", "t:syscalls:sys_enter_getppid"], "; probe_0: "),
    ("tcpconnlat", ["-v"], "object: "),
]


@pytest.mark.parametrize("tool,args,shown", DEBUG_RUNS, ids=[r[0] for r in DEBUG_RUNS])
def test_debug_output_goes_to_stderr(tool, args, shown):
    from tests.helpers import Tool, json_objects
    t = Tool(tool, "--json", *args, ready=False)
    t.wait_for(lambda l: False, 1.5)    # those with -d/-D/-n 1 end by themselves meanwhile
    rc = t.stop()
    assert rc == 0, t.stderr
    json_objects(t, tool)               # every stdout line one valid object
    assert shown in t.stderr and not any(l.startswith(shown.strip()) for l in t.lines), \
        t.stderr[:2000]


@pytest.mark.parametrize("tool,args", [
    ("funcslower", ["-v", "c:getppid"]), ("funclatency", ["-v", "c:getppid"]),
    ("funcinterval", ["-v", "c:getppid"]), ("bindsnoop", ["--debug-source"]),
    ("execsnoop", []), ("dbstat", ["postgres", "-p", "1"])])
def test_program_dumps_under_json_are_on_stderr(tool, args):
    """--ebpf with --json: the same print as their debug options (and any
    tool's --ebpf), nothing loaded."""
    from tests.helpers import run_tool
    rc, out, err = run_tool(tool, "--json", "--ebpf", *args)
    assert rc == 0 and out == "" and ("; " in err or "object: " in err), (out, err[:500])
