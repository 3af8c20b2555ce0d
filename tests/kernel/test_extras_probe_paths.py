"""Function-probe paths (--probe fentry / kprobe) of the file, cache and
memory tools, forced and seen firing: dcstat, dcsnoop, readahead, swapin and
mdflush have nothing else; ttysnoop, filegone, slabratetop, dirtop, cachetop
and pidpersec have bcc's functions beside their tracepoints.  This project's
CI host has neither kind: the kernel matrix (Debian 6.1 and 6.12 under qemu)
runs these.  Swap (a swap file), an md RAID1 device (two loop devices) and
ptys are made here and removed after."""
from __future__ import annotations

import contextlib
import mmap
import os
import pty
import re
import subprocess
import uuid

import pytest

from tests import fstools
from tests.fsimages import load_module
from tests.helpers import Tool
from tests.workloads import SCRATCH_DIR, Child

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

KINDS = ["fentry", "kprobe"]


def _tag():
    return "%d_%s" % (os.getpid(), uuid.uuid4().hex[:6])


def _lookups(n=200):
    for i in range(n):
        os.path.exists(os.path.join(SCRATCH_DIR, "corebpf_no_such_%s_%d" % (_tag(), i)))


@pytest.mark.parametrize("kind", KINDS)
def test_dcstat(kind):
    fstools.require_probe_kind(kind)
    t = Tool("dcstat", "--probe", kind, "1", "3", timeout=fstools.START)
    assert t.lines[0] == "TIME         REFS/s   SLOW/s   MISS/s     HIT%"
    _lookups()
    assert t.wait(timeout=60) == 0, t.stderr
    rows = [l.split() for l in t.lines[1:]]
    assert len(rows) == 3 and max(int(r[3]) for r in rows) >= 200, t.text      # MISS/s
    assert max(int(r[1]) for r in rows) >= 200, t.text                          # REFS/s


@pytest.mark.parametrize("kind", KINDS)
def test_dcsnoop(kind):
    fstools.require_probe_kind(kind)
    name = "corebpf_dc_" + _tag()
    t = Tool("dcsnoop", "--probe", kind, "-a", timeout=fstools.START)
    assert t.lines[0] == "TIME(s)     PID     COMM             T FILE"
    os.path.exists(os.path.join(SCRATCH_DIR, name))
    line = t.wait_for(lambda l: l.split()[3:] == ["M", name])
    t.stop()
    assert line and line.split()[1] == str(os.getpid()), t.text
    assert any(l.split()[3:4] == ["R"] for l in t.lines[1:]), t.text


def _cold_file(path):
    """8 MiB of random bytes at `path`, on disk and out of the page cache."""
    with open(path, "wb") as f:
        f.write(os.urandom(8 << 20))
        f.flush()
        os.fsync(f.fileno())
        os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)   # out of the cache


@pytest.mark.parametrize("kind", KINDS)
def test_readahead(kind, tmp_path):
    fstools.require_probe_kind(kind)
    path = os.path.join(SCRATCH_DIR, "corebpf_ra_" + _tag())
    try:
        _cold_file(path)
        t = Tool("readahead", "--probe", kind, "-d", "3", timeout=fstools.START)
        assert t.lines[0] == "Tracing... Hit Ctrl-C to end."
        with open(path, "rb") as f:             # sequential: readahead, then each page used
            while f.read(1 << 16):
                pass
        t.wait_for(lambda l: l.startswith("Read-ahead unused pages: "), timeout=30)
        t.wait_for(lambda l: False, timeout=1)
        t.stop()
    finally:
        os.unlink(path)
    text = t.text
    assert "Histogram of read-ahead used page age (ms):" in text, text
    used = sum(int(m) for m in re.findall(r"-> \d+\s+: (\d+)", text))
    assert used >= 256, text                    # most of the 2048 pages read ahead were used


def test_readahead_containers(tmp_path):
    """--containers: a histogram per container of the task whose read ran
    the readahead (the probe kind this kernel serves first); this test's
    reads count under its own cgroup's heading ("/" for the root)."""
    from corebpf import features
    from tests.kernel.test_containers import host_cgroup
    if not (features.kprobes() or features.fentry()):
        pytest.skip("this kernel lacks kprobes (CONFIG_KPROBES) and fentry/fexit")
    path = os.path.join(SCRATCH_DIR, "corebpf_ra_" + _tag())
    try:
        _cold_file(path)
        t = Tool("readahead", "--containers", "-d", "3", timeout=fstools.START)
        with open(path, "rb") as f:
            while f.read(1 << 16):
                pass
        t.wait_for(lambda l: l.startswith("Read-ahead unused pages: "), timeout=30)
        t.wait_for(lambda l: False, timeout=1)
        t.stop()
    finally:
        os.unlink(path)
    head = "container = " + (host_cgroup() or "/")
    assert head in t.lines, t.text
    mine = t.lines[t.lines.index(head):]
    end = next((i for i, l in enumerate(mine[1:], 1) if l.startswith("container = ")
                or l.startswith("Read-ahead")), len(mine))
    used = sum(int(m) for m in re.findall(r"-> \d+\s+: (\d+)", "\n".join(mine[:end])))
    assert used >= 256, t.text                  # most of the 2048 pages read ahead, ours


@contextlib.contextmanager
def _swap(size_mb=64):
    path = os.path.join(SCRATCH_DIR, "corebpf_swap_" + _tag())
    subprocess.run(["dd", "if=/dev/zero", f"of={path}", "bs=1M", f"count={size_mb}"],
                   check=True, capture_output=True)
    os.chmod(path, 0o600)
    subprocess.run(["mkswap", path], check=True, capture_output=True)
    subprocess.run(["swapon", path], check=True, capture_output=True)
    try:
        yield path
    finally:
        subprocess.run(["swapoff", path], capture_output=True)
        os.unlink(path)


_SWAPPER = r"""
import mmap, sys
n = 4 << 20
m = mmap.mmap(-1, n)
m.write(b"s" * n)
print("ready", flush=True)
sys.stdin.readline()
m.madvise(mmap.MADV_PAGEOUT)                # out to swap now (5.4+)
total = sum(m[i] for i in range(0, n, 4096))   # and back in, page by page
"""


@pytest.mark.parametrize("kind", KINDS)
def test_swapin(kind):
    fstools.require_probe_kind(kind)
    if not hasattr(mmap, "MADV_PAGEOUT"):
        pytest.skip("this Python has no mmap.MADV_PAGEOUT")
    with _swap():
        child = Child(_SWAPPER)
        try:
            t = Tool("swapin", "--probe", kind, "-T", "1", timeout=fstools.START)
            assert t.lines[0] == "Counting swap ins. Ctrl-C to end."
            child.go().wait()
            line = t.wait_for(lambda l: l.split()[1:2] == [str(child.pid)], timeout=30)
            t.stop()
        finally:
            child.kill()
    assert line and int(line.split()[2]) >= 256, t.text      # most of the 1024 pages


@contextlib.contextmanager
def _md_raid1():
    for m in ("md_mod", "raid1", "loop"):
        load_module(m)
    if not os.path.exists("/proc/mdstat"):
        pytest.skip("this kernel has no md driver (/proc/mdstat)")
    tag = _tag()
    images, loops = [], []
    md = "/dev/md%d" % (100 + os.getpid() % 100)
    try:
        for i in range(2):
            img = os.path.join(SCRATCH_DIR, f"corebpf_md{i}_{tag}.img")
            with open(img, "wb") as f:
                f.truncate(32 << 20)
            images.append(img)
            loops.append(subprocess.run(["losetup", "-f", "--show", img], check=True,
                                        capture_output=True, text=True).stdout.strip())
        subprocess.run(["mdadm", "--create", md, "--run", "--level=1", "--raid-devices=2",
                        "--metadata=1.2", "--assume-clean", *loops],
                       check=True, capture_output=True, text=True, input="y\n")
        try:
            yield md
        finally:
            subprocess.run(["mdadm", "--stop", md], capture_output=True)
    finally:
        for loop in loops:
            subprocess.run(["losetup", "-d", loop], capture_output=True)
        for img in images:
            os.unlink(img)


@pytest.mark.parametrize("kind", KINDS)
def test_mdflush(kind):
    fstools.require_probe_kind(kind)
    with _md_raid1() as md:
        t = Tool("mdflush", "--probe", kind, timeout=fstools.START)
        t.wait_for(lambda l: l.startswith("TIME "))
        assert t.lines[:2] == ["Tracing md flush requests... Hit Ctrl-C to end.",
                               "TIME     PID     COMM             DEVICE"]
        fd = os.open(md, os.O_WRONLY)
        os.write(fd, b"m" * 4096)
        os.fsync(fd)                            # a flush request to the array
        os.close(fd)
        line = t.wait_for(lambda l: l.split()[1:2] == [str(os.getpid())], timeout=30)
        t.stop()
    assert line and line.split()[-1] == os.path.basename(md), t.text


@pytest.mark.parametrize("kind", KINDS)
def test_ttysnoop(kind):
    fstools.require_probe_kind(kind)
    master, slave = pty.openpty()
    try:
        t = Tool("ttysnoop", "--probe", kind, "-C", os.ttyname(slave),
                 timeout=fstools.START)
        os.write(slave, b"from the function probe\n")
        t.wait_for(lambda l: l == "from the function probe", timeout=30)
        t.stop()
    finally:
        os.close(master)
        os.close(slave)
    assert "from the function probe" in t.lines, t.lines


@pytest.mark.parametrize("kind", KINDS)
def test_filegone(kind, tmp_path):
    fstools.require_probe_kind(kind)
    a, b = tmp_path / "gone_a", tmp_path / "gone_b"
    a.write_text("x")
    t = Tool("filegone", "--probe", kind, "-p", os.getpid(), timeout=fstools.START)
    os.rename(a, b)
    os.unlink(b)
    t.wait_for(lambda l: l.endswith("DELETE gone_b"), timeout=30)
    t.stop()
    assert [l.split(None, 3)[3] for l in t.lines[1:]] == ["RENAME gone_a > gone_b",
                                                          "DELETE gone_b"], t.text


def test_kprobe_variants_of_tracepoint_tools(tmp_path):
    """slabratetop, dirtop, cachetop and pidpersec with bcc's kprobes."""
    fstools.require_probe_kind("kprobe")
    d = tmp_path / "topdir"
    d.mkdir()
    slab = Tool("slabratetop", "--probe", "kprobe", "-C", "1", "2", timeout=fstools.START)
    dirs = Tool("dirtop", "--probe", "kprobe", "-C", "-p", os.getpid(), "-d", str(d), "2", "1",
                timeout=fstools.START)
    dirs.wait_for(lambda l: l.startswith("Tracing..."))
    forks = Tool("pidpersec", "--probe", "kprobe", timeout=fstools.START)
    with open(d / "f", "wb") as f:
        for _ in range(5):
            f.write(b"x" * 1024)
            f.flush()
    for _ in range(50):
        subprocess.run(["true"])
    assert slab.wait(timeout=60) == 0 and dirs.wait(timeout=60) == 0
    forks.wait_for(lambda l: False, timeout=1.5)
    forks.stop()
    assert re.search(r"^\S+\s+\d+\s+\d+$", slab.text, re.M), slab.text
    assert re.search(r"^0\s+5\s+0\s+5\s+%s$" % re.escape(str(d)), dirs.text, re.M), dirs.text
    assert sum(int(l.rsplit(None, 1)[1]) for l in forks.lines[1:]) >= 50, forks.text
    top = Tool("cachetop", "--probe", "kprobe", "-p", os.getpid(), "1", timeout=fstools.START)
    with open(d / "f", "rb") as f:
        f.read()
    line = top.wait_for(lambda l: l.split()[:1] == [str(os.getpid())], timeout=30)
    top.stop()
    assert line, top.text
