"""A private network for tests that need packet loss: a network namespace
joined to this one by a veth pair (IPv4 and IPv6), and an XDP program on the
host side that drops chosen TCP segments coming from the namespace
(tests/bpf/netloss.bpf.c; this kernel has no netem).

    with NetLab() as lab:
        srv = lab.python(SERVER_CODE, port)        # runs inside the namespace
        lab.drop(port, drops=3, acks=True)         # lose the peer's first 3 ACKs
        ... connect to (lab.peer4, port) ...
"""
from __future__ import annotations

import itertools
import os
import socket
import subprocess
import sys
import time

from corebpf.core.paths import ARCH
from tests.conftest import ROOT

LOSS_OBJ = ROOT / "tests" / "bpf" / str(ARCH) / "netloss.bpf.o"
_seq = itertools.count()


def _ip(*args, check=True):
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


class NetLab:
    def __init__(self):
        n = next(_seq)
        pid = os.getpid()
        tag = f"{pid % 100000}{n}"
        self.ns = f"corebpf{tag}"
        self.host_if = f"cbh{tag}"[:15]
        self.peer_if = f"cbp{tag}"[:15]
        a, b = 100 + pid % 150, n % 250
        self.host4, self.peer4 = f"10.{a}.{b}.1", f"10.{a}.{b}.2"
        self.host6, self.peer6 = f"fd00:cb:{pid:x}:{n:x}::1", f"fd00:cb:{pid:x}:{n:x}::2"
        self._objs = []
        self._procs = []

    def __enter__(self):
        try:
            _ip("netns", "add", self.ns)
            _ip("link", "add", self.host_if, "type", "veth", "peer", "name", self.peer_if)
            _ip("link", "set", self.peer_if, "netns", self.ns)
            _ip("addr", "add", f"{self.host4}/24", "dev", self.host_if)
            _ip("-6", "addr", "add", f"{self.host6}/64", "dev", self.host_if, "nodad")
            _ip("link", "set", self.host_if, "up")
            _ip("-n", self.ns, "addr", "add", f"{self.peer4}/24", "dev", self.peer_if)
            _ip("-n", self.ns, "-6", "addr", "add", f"{self.peer6}/64", "dev", self.peer_if,
                "nodad")
            _ip("-n", self.ns, "link", "set", self.peer_if, "up")
            _ip("-n", self.ns, "link", "set", "lo", "up")
        except subprocess.CalledProcessError as e:
            self.close()
            raise RuntimeError(f"cannot build the test network: {e.stderr.strip()}") from None
        return self

    def python(self, code: str, *args) -> subprocess.Popen:
        """Run Python code inside the namespace; wait for it to print a line
        (kept as `.first_line`, e.g. the port it listens on)."""
        p = subprocess.Popen(["ip", "netns", "exec", self.ns, sys.executable, "-c", code,
                              *map(str, args)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        self._procs.append(p)
        line = p.stdout.readline()
        if not line:
            raise RuntimeError(f"namespace process failed: {p.stderr.read()}")
        p.first_line = line.strip()
        return p

    def drop(self, port: int, drops: int = 2, acks: bool = False):
        """Drop the first `drops` TCP data segments (or pure ACKs) to/from
        `port` that arrive from the namespace; return the loaded object
        (obj.bss.dropped counts the drops)."""
        import corebpf
        obj = corebpf.Object.open(str(LOSS_OBJ))
        self._objs.append(obj)
        obj.rodata.targ_port = port
        obj.rodata.targ_drops = drops
        obj.rodata.drop_acks = acks
        obj.load(select=False)
        obj.programs["drop_some"].attach_xdp(socket.if_nametoindex(self.host_if))
        return obj

    def shape(self, rate: str = "2mbit"):
        """Rate-limit what the host sends into the namespace (a token bucket
        on the host side: this kernel has no netem).  A sender with more than
        one segment in flight waits in its queue: at 2 Mbit/s each 1448-byte
        segment takes 5.8 ms, so RTTs grow past 10 ms within the first flight
        (an initial window of 10 segments)."""
        subprocess.run(["tc", "qdisc", "add", "dev", self.host_if, "root", "tbf", "rate", rate,
                        "burst", "4kb", "limit", "4mb"], capture_output=True, text=True,
                       check=True)

    @staticmethod
    def wait_dropped(obj, n: int, timeout: float = 10) -> int:
        deadline = time.monotonic() + timeout
        while obj.bss.dropped < n and time.monotonic() < deadline:
            time.sleep(0.05)
        return obj.bss.dropped

    def close(self):
        for obj in self._objs:
            obj.close()
        self._objs = []
        for p in self._procs:
            if p.poll() is None:
                p.kill()
            p.communicate()
        self._procs = []
        _ip("link", "del", self.host_if, check=False)
        _ip("netns", "del", self.ns, check=False)

    def __exit__(self, *exc):
        self.close()
        return False
