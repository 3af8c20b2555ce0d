"""--cgroupmap / --mntnsmap (bcc's container filters: the network tools and
capable) on the real kernel: only
tasks whose cgroup v2 id / mount namespace id is a key of a pinned map are
traced.  The maps are made the way bcc users make them (a u64 -> u32 hash
pinned in bpffs), here with raw bpf() calls."""
from __future__ import annotations

import ctypes
import os
import platform
import socket
import struct
import subprocess

import pytest

from tests.helpers import Tool
from tests.nethelpers import Server

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

_NR_BPF = {"x86_64": 321, "aarch64": 280}[platform.machine()]
_libc = ctypes.CDLL(None, use_errno=True)
BPF_MAP_CREATE, BPF_MAP_UPDATE_ELEM, BPF_OBJ_PIN = 0, 2, 6
CLONE_NEWNS = 0x00020000


def _bpf(cmd, attr: bytes) -> int:
    buf = ctypes.create_string_buffer(attr, 128)
    r = _libc.syscall(_NR_BPF, cmd, buf, 128)
    if r < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return r


def pinned_set(path, keys):
    """Pin a u64 -> u32 hash map holding `keys` at path."""
    fd = _bpf(BPF_MAP_CREATE, struct.pack("=5I", 1, 8, 4, 16, 0))
    try:
        for k in keys:
            key = ctypes.create_string_buffer(struct.pack("=Q", k), 8)
            val = ctypes.create_string_buffer(4)
            _bpf(BPF_MAP_UPDATE_ELEM, struct.pack("=IIQQQ", fd, 0, ctypes.addressof(key),
                                                  ctypes.addressof(val), 0))
        name = ctypes.create_string_buffer(str(path).encode())
        _bpf(BPF_OBJ_PIN, struct.pack("=QII", ctypes.addressof(name), fd, 0))
    finally:
        os.close(fd)


@pytest.fixture
def bpffs(tmp_path):
    d = tmp_path / "bpffs"
    d.mkdir()
    subprocess.run(["mount", "-t", "bpf", "bpf", str(d)], check=True)
    yield d
    subprocess.run(["umount", str(d)], check=False)


def cgroup2_root():
    with open("/proc/mounts") as f:
        for line in f:
            parts = line.split()
            if parts[2] == "cgroup2":
                return parts[1]
    pytest.fail("no cgroup2 mount (needed by bpf_get_current_cgroup_id)")


class Child:
    """A forked child that waits for 'go', then connects to port (and binds)."""

    def __init__(self, port, cgroup=None, new_mntns=False):
        self.r_go, self.w_go = os.pipe()
        self.r_ready, self.w_ready = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            try:
                if cgroup:
                    with open(os.path.join(cgroup, "cgroup.procs"), "w") as f:
                        f.write(str(os.getpid()))
                if new_mntns and _libc.unshare(CLONE_NEWNS) != 0:
                    os._exit(3)
                os.write(self.w_ready, b"r")
                os.read(self.r_go, 1)
                socket.create_connection(("127.0.0.1", port)).close()
                b = socket.socket()
                b.bind(("127.0.0.1", 0))
                b.close()
                # a CAP_NET_RAW check, for capable
                socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP).close()
            finally:
                os._exit(0)
        os.read(self.r_ready, 1)

    def go(self):
        os.write(self.w_go, b"g")
        os.waitpid(self.pid, 0)
        for fd in (self.r_go, self.w_go, self.r_ready, self.w_ready):
            os.close(fd)


def test_cgroupmap(bpffs):
    cg = os.path.join(cgroup2_root(), f"corebpf_test_{os.getpid()}")
    os.mkdir(cg)
    try:
        with Server("127.0.0.1") as srv:
            child = Child(srv.port, cgroup=cg)
            pinned_set(bpffs / "cgset", [os.stat(cg).st_ino])
            t = Tool("tcpconnect", "--cgroupmap", bpffs / "cgset", "-P", srv.port)
            b = Tool("bindsnoop", "--cgroupmap", bpffs / "cgset")
            c = Tool("capable", "-v", "--cgroupmap", bpffs / "cgset")
            socket.create_connection(("127.0.0.1", srv.port)).close()   # not in the set
            socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP).close()
            child.go()
            line = t.wait_for(lambda l: l.split()[-1:] == [str(srv.port)])
            bline = b.wait_for(lambda l: l.split()[:1] == [str(child.pid)])
            cline = c.wait_for(lambda l: "CAP_NET_RAW" in l)
            t.stop()
            b.stop()
            c.stop()
    finally:
        os.rmdir(cg)
    assert line is not None and line.split()[0] == str(child.pid), t.text
    assert len([l for l in t.lines if l.split()[-1:] == [str(srv.port)]]) == 1, t.text
    assert bline is not None and all(l.split()[0] == str(child.pid) for l in b.lines[2:]), b.text
    # capable: only the child's checks (the machine makes many others)
    assert cline is not None and cline.split()[2] == str(child.pid), c.text
    assert all(l.split()[2] == str(child.pid) for l in c.lines[1:]), c.text


def test_mntnsmap(bpffs):
    with Server("127.0.0.1") as srv:
        child = Child(srv.port, new_mntns=True)
        ns = os.stat(f"/proc/{child.pid}/ns/mnt").st_ino
        assert ns != os.stat("/proc/self/ns/mnt").st_ino
        pinned_set(bpffs / "mntset", [ns])
        t = Tool("tcpconnect", "--mntnsmap", bpffs / "mntset", "-P", srv.port)
        socket.create_connection(("127.0.0.1", srv.port)).close()       # not in the set
        child.go()
        line = t.wait_for(lambda l: l.split()[-1:] == [str(srv.port)])
        t.stop()
    assert line is not None and line.split()[0] == str(child.pid), t.text
    assert len([l for l in t.lines if l.split()[-1:] == [str(srv.port)]]) == 1, t.text
