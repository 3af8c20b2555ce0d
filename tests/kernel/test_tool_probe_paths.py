"""Every tool's function-probe path, forced (--probe kprobe / fentry) and
seen firing.  These need a kernel with kprobes / working fentry: on this
project's CI host they skip naming the feature, and the kernel matrix
(tests/vm/run, Debian 6.1 and 6.12 under qemu) runs them where they fire.
"""
from __future__ import annotations

import ctypes
import os
import socket
import subprocess
import time
import uuid

import pytest

from corebpf import features
from tests.helpers import Tool

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

SCRATCH = "/var/tmp"
ME = os.getpid()


def _marker():
    return os.path.join(SCRATCH, "corebpf_pp_" + uuid.uuid4().hex[:8])


def _require(kind):
    if kind == "kprobe" and not features.kprobes():
        pytest.skip("this kernel lacks kprobes (CONFIG_KPROBES)")
    if kind == "fentry" and not features.fentry():
        pytest.skip("this kernel lacks fentry/fexit (BPF trampolines)")


def require_probe(args):
    """Skip a run forced to a function probe (args hold `--probe KIND`) where
    the kernel cannot serve it."""
    args = list(args)
    if "--probe" in args and args[args.index("--probe") + 1] in ("kprobe", "fentry"):
        _require(args[args.index("--probe") + 1])


def _reads(path, n=20):
    with open(path, "w") as f:
        f.write("x" * 100)
    for _ in range(n):
        with open(path) as f:
            f.read()


def _run(kind, tool, args, action, expect, timeout=60, stop=True):
    t = Tool(tool, "--probe", kind, *args, timeout=timeout)
    try:
        result = action()
        if stop:
            line = t.wait_for(lambda l: expect(l, result), timeout=timeout)
            rc = t.stop()
        else:
            rc = t.wait(timeout=timeout)
            line = next((l for l in t.lines if expect(l, result)), None)
    finally:
        if t.proc.poll() is None:
            t.stop()
    assert rc == 0, t.stderr
    assert line is not None, f"{tool} --probe {kind}: no matching line in:\n{t.text}\n{t.stderr}"
    return t


# -- tools with a kprobe variant of their own ----------------------------------------

def test_statsnoop_kprobe():
    _require("kprobe")
    m = _marker()
    _run("kprobe", "statsnoop", ["-p", ME], lambda: os.path.exists(m),
         lambda l, _: l.endswith(m) and " -1 " in l)


def test_syncsnoop_kprobe():
    _require("kprobe")
    m = _marker()

    def act():
        with open(m, "w") as f:
            os.fsync(f.fileno())
        os.unlink(m)
    _run("kprobe", "syncsnoop", [], act, lambda l, _: l.split()[-1:] == ["fsync"])


def test_mountsnoop_kprobe(tmp_path):
    _require("kprobe")
    target = str(tmp_path / "mnt")
    os.mkdir(target)
    libc = ctypes.CDLL(None, use_errno=True)

    def act():
        assert libc.mount(b"corebpfpp", target.encode(), b"tmpfs", 0, b"size=1m") == 0
        libc.umount2(target.encode(), 0)
    _run("kprobe", "mountsnoop", [], act,
         lambda l, _: f'mount("corebpfpp", "{target}", "tmpfs"' in l)


def test_filelife_kprobe():
    _require("kprobe")
    m = _marker()

    def act():
        with open(m, "w"):
            pass
        time.sleep(0.1)
        os.unlink(m)
    _run("kprobe", "filelife", ["-p", ME], act, lambda l, _: l.endswith(os.path.basename(m)))


def test_filetop_kprobe():
    _require("kprobe")
    m = _marker()
    _run("kprobe", "filetop", ["-C", "-p", ME, "2", "1"], lambda: _reads(m),
         lambda l, _: os.path.basename(m)[:32] in l, stop=False)
    os.unlink(m)


def test_vfsstat_kprobe():
    _require("kprobe")
    m = _marker()
    t = _run("kprobe", "vfsstat", ["1", "2"], lambda: _reads(m, 200),
             lambda l, _: l[:1].isdigit(), stop=False)
    os.unlink(m)
    rows = [l.split() for l in t.lines if l[:1].isdigit()]
    assert rows and max(int(r[1]) for r in rows) >= 200, t.text      # READ/s


def test_vfscount_kprobe():
    _require("kprobe")
    m = _marker()
    _run("kprobe", "vfscount", ["2"], lambda: _reads(m, 50),
         lambda l, _: l.split()[1:2] == ["vfs_read"] and int(l.split()[-1]) >= 50, stop=False)
    os.unlink(m)


def test_capable_kprobe():
    _require("kprobe")

    def act():
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        s.close()
    _run("kprobe", "capable", ["-p", ME], act, lambda l, _: "CAP_NET_RAW" in l)


def test_cachestat_kprobe():
    _require("kprobe")
    m = _marker()
    t = _run("kprobe", "cachestat", ["1", "2"], lambda: _reads(m, 200),
             lambda l, _: l.split()[:1] and l.split()[0].isdigit(), stop=False)
    os.unlink(m)
    assert any(int(l.split()[0]) > 0 for l in t.lines if l.split()[:1] and l.split()[0].isdigit())


def test_offcputime_kprobe():
    _require("kprobe")
    # the kprobe variant (bcc's) accounts a block when the thread runs again:
    # a child that sleeps in short naps comes back often, until killed (the
    # tool may take half a minute to start in an emulated guest)
    child = subprocess.Popen(["python3", "-c",
                              "import time\nwhile True: time.sleep(0.02)"])
    try:
        time.sleep(0.2)
        _run("kprobe", "offcputime", ["-K", "-p", child.pid, "3"], lambda: None,
             lambda l, _: l.strip() in ("schedule", "__schedule"), stop=False)
    finally:
        child.kill()
        child.wait()


def test_klockstat_kprobe():
    _require("kprobe")
    # bcc's hooks: every mutex_lock() (waits) and mutex_unlock() (hold times)
    # the writers outlive the tool's start (tens of seconds under emulation); killed below
    import sys
    from tests.kernel.test_klockstat import PIPES
    child = subprocess.Popen([sys.executable, "-c", PIPES, "600"], stdout=subprocess.PIPE)
    pid = int(child.stdout.readline())
    try:
        t = _run("kprobe", "klockstat", ["-p", pid, "-d", "3"], lambda: None,
                 lambda l, _: "Avg Hold" in l, stop=False)
        hold = t.lines[next(i for i, l in enumerate(t.lines) if "Avg Hold" in l) + 1:]
        assert any("pipe_" in l for l in hold), t.text
    finally:
        child.kill()
        child.wait()


# -- the multitools' kernel-function forms (fentry preferred, kprobe forced) -----------

KINDS = ["fentry", "kprobe"]


@pytest.mark.parametrize("kind", KINDS)
def test_funccount_kernel_function(kind):
    _require(kind)
    m = _marker()
    t = _run(kind, "funccount", ["-p", ME, "-d", "3", "vfs_read"], lambda: _reads(m, 30),
             lambda l, _: l.split()[:1] == ["vfs_read"], stop=False)
    os.unlink(m)
    row = next(l for l in t.lines if l.split()[:1] == ["vfs_read"])
    assert int(row.split()[1]) >= 30, t.text


@pytest.mark.parametrize("kind", KINDS)
def test_funclatency_kernel_function(kind):
    _require(kind)
    m = _marker()
    _run(kind, "funclatency", ["-p", ME, "-d", "3", "vfs_read"], lambda: _reads(m, 30),
         lambda l, _: "->" in l and l.split(":")[1].split()[0].isdigit()
         and int(l.split(":")[1].split()[0]) > 0, stop=False)
    os.unlink(m)


@pytest.mark.parametrize("kind", KINDS)
def test_funcslower_kernel_function(kind):
    _require(kind)
    m = _marker()
    # reads of a 100-byte file: vfs_read returns 0x64, its 3rd argument is the count
    _run(kind, "funcslower", ["-p", ME, "-u", "0", "-a", "3", "vfs_read"],
         lambda: _reads(m, 5), lambda l, _: l.split()[3:5] == ["64", "vfs_read"])
    os.unlink(m)


@pytest.mark.parametrize("kind", KINDS)
def test_funcinterval_kernel_function(kind):
    _require(kind)
    m = _marker()
    _run(kind, "funcinterval", ["-p", ME, "-d", "3", "vfs_read"], lambda: _reads(m, 30),
         lambda l, _: "->" in l and l.split(":")[1].split()[0].isdigit()
         and int(l.split(":")[1].split()[0]) > 0, stop=False)
    os.unlink(m)


@pytest.mark.parametrize("kind", KINDS)
def test_trace_kernel_function_return(kind):
    _require(kind)
    m = _marker()
    _run(kind, "trace", ["-p", ME, 'r::vfs_read "got=%d", retval'], lambda: _reads(m, 5),
         lambda l, _: l.endswith("got=100"))
    os.unlink(m)


@pytest.mark.parametrize("kind", KINDS)
def test_argdist_kernel_function(kind):
    _require(kind)
    m = _marker()
    _run(kind, "argdist",
         ["-p", ME, "-i", "1", "-n", "2", "-C",
          "p::vfs_read(struct file *file, char *buf, size_t count):size_t:count"],
         lambda: _reads(m, 30), lambda l, _: "count = " in l, stop=False)
    os.unlink(m)


@pytest.mark.parametrize("kind", KINDS)
def test_stackcount_kernel_function(kind):
    _require(kind)
    m = _marker()
    _run(kind, "stackcount", ["-p", ME, "-D", "3", "vfs_read"], lambda: _reads(m, 30),
         lambda l, _: l.strip().startswith("ksys_read") or "vfs_read" in l, stop=False)
    os.unlink(m)
