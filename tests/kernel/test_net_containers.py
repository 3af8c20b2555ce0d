"""--cgroupmap / --mntnsmap (bcc's container filters: the network tools,
capable, execsnoop, opensnoop, mountsnoop and profile) on the real kernel: only
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
            tt = Tool("tcptracer", "--cgroupmap", bpffs / "cgset")
            socket.create_connection(("127.0.0.1", srv.port)).close()   # not in the set
            socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP).close()
            child.go()
            line = t.wait_for(lambda l: l.split()[-1:] == [str(srv.port)])
            bline = b.wait_for(lambda l: l.split()[:1] == [str(child.pid)])
            cline = c.wait_for(lambda l: "CAP_NET_RAW" in l)
            tline = tt.wait_for(lambda l: l.split()[:1] == ["C"] and l.split()[-1] == str(srv.port))
            tt.stop()
            t.stop()
            b.stop()
            c.stop()
    finally:
        os.rmdir(cg)
    assert line is not None and line.split()[0] == str(child.pid), t.text
    assert len([l for l in t.lines if l.split()[-1:] == [str(srv.port)]]) == 1, t.text
    assert bline is not None and all(l.split()[0] == str(child.pid) for l in b.lines[2:]), b.text
    # tcptracer: the child's connect, not this process's
    assert tline is not None and tline.split()[1] == str(child.pid), tt.text
    assert [l.split()[1] for l in tt.lines[2:] if l.split()[-1] == str(srv.port)
            and l.startswith("C ")] == [str(child.pid)], tt.text
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


# -- execsnoop, opensnoop, mountsnoop, profile -----------------------------------------

def _activity(tag: str):
    """What the process tools see, all named by `tag`: spin 0.6 s under comm
    `tag`, open /tmp/TAG, mount a tmpfs named TAG in a private mount
    namespace, then exec /bin/true TAG."""
    import time as _t
    _libc.prctl(15, tag.encode(), 0, 0, 0)          # PR_SET_NAME
    end = _t.monotonic() + 0.6
    while _t.monotonic() < end:
        pass
    try:
        open(f"/tmp/{tag}").close()
    except OSError:
        pass
    subprocess.run(["unshare", "-m", "mount", "-t", "tmpfs", tag, "/mnt"], check=True)
    os.execv("/bin/true", ["/bin/true", tag])


def test_process_tools_cgroupmap(bpffs):
    """A child in the set's cgroup and one outside do the same things at the
    same time: only the first shows."""
    cg = os.path.join(cgroup2_root(), f"corebpf_test_{os.getpid()}p")
    os.mkdir(cg)
    inside, outside = f"cbin{os.getpid() % 100000}", f"cbout{os.getpid() % 100000}"
    try:
        pinned_set(bpffs / "cgset", [os.stat(cg).st_ino])
        m = ("--cgroupmap", bpffs / "cgset")
        tools = {"execsnoop": Tool("execsnoop", *m), "opensnoop": Tool("opensnoop", *m),
                 "mountsnoop": Tool("mountsnoop", *m), "profile": Tool("profile", *m)}
        r, w = os.pipe()
        pids = []
        for tag in (inside, outside):
            pid = os.fork()
            if pid == 0:
                try:
                    if tag == inside:
                        with open(os.path.join(cg, "cgroup.procs"), "w") as f:
                            f.write(str(os.getpid()))
                    os.close(w)
                    os.read(r, 1)
                    _activity(tag)
                finally:
                    os._exit(1)
            pids.append(pid)
        os.close(r)
        os.close(w)                     # both start now
        assert [os.waitpid(p, 0)[1] for p in pids] == [0, 0]
        tools["execsnoop"].wait_for(lambda l: l.endswith(f"/bin/true {inside}"))
        tools["opensnoop"].wait_for(lambda l: l.endswith(f"/tmp/{inside}"))
        tools["mountsnoop"].wait_for(lambda l: f'"{inside}"' in l)
        for t in tools.values():
            assert t.stop() == 0, t.stderr
    finally:
        os.rmdir(cg)
    for name, t in tools.items():
        body = "\n".join(t.lines[1:])
        assert inside in body, f"{name}:\n{t.text}"
        assert outside not in body, f"{name}:\n{t.text}"
