"""Real TCP traffic for the network tools' tests: a listener thread on a
port the kernel picks (so ports are unique per test), clients, and the
comm the kernel shows for this test process."""
from __future__ import annotations

import os
import socket
import threading
import time


def own_comm() -> str:
    """COMM of the calling thread as BPF sees it (bcc columns cut it to 12)."""
    with open(f"/proc/self/task/{threading.get_native_id()}/comm") as f:
        return f.read().strip()


def family_of(addr: str) -> int:
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


class Server:
    """Listen on (addr, free port); each accepted connection: read `expect`
    bytes (or until EOF), send `reply` bytes, then close or (shutdown=True)
    shut down both directions and keep the socket open."""

    def __init__(self, addr="127.0.0.1", reply=0, expect=None, backlog=16, shutdown=False):
        self.addr = addr
        self.reply = reply
        self.expect = expect
        self.shutdown = shutdown
        self.sock = socket.socket(family_of(addr))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((addr, 0))
        self.port = self.sock.getsockname()[1]
        self.sock.listen(backlog)
        self.accepted = []          # (local port, peer port) per connection
        self.received = []
        self.kept = []
        self.errors = []
        self._stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        self.sock.settimeout(0.2)
        while not self._stop:
            try:
                c, peer = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                self._handle(c, peer)
            except OSError as e:
                self.errors.append(e)

    def _handle(self, c, peer):
        self.accepted.append((c.getsockname()[1], peer[1]))
        if self.shutdown:
            c.shutdown(socket.SHUT_RDWR)
            self.kept.append(c)
            return
        got = 0
        c.settimeout(10)
        while self.expect is None or got < self.expect:
            d = c.recv(65536)
            if not d:
                break
            got += len(d)
        self.received.append(got)
        if self.reply:
            c.sendall(b"r" * self.reply)
        c.close()

    def close(self):
        self._stop = True
        self.sock.close()
        self.thread.join(2)
        for c in self.kept:
            c.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def connect(addr: str, port: int, send: int = 0, read: bool = False) -> tuple:
    """Connect, send `send` bytes, half-close, optionally read to EOF, close.
    Returns (client port, bytes read)."""
    c = socket.create_connection((addr, port), timeout=10)
    cport = c.getsockname()[1]
    got = 0
    try:
        if send:
            c.sendall(b"s" * send)
        if read:
            c.shutdown(socket.SHUT_WR)
            while True:
                d = c.recv(65536)
                if not d:
                    break
                got += len(d)
    finally:
        c.close()
    return cport, got


def abort_on_data(addr):
    """Send data to a socket its owner shut down; return (client port, server port)."""
    with Server(addr, shutdown=True) as srv:
        c = socket.create_connection((addr, srv.port))
        cport = c.getsockname()[1]
        deadline = time.monotonic() + 5
        while not srv.kept and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)                 # let the FIN be acknowledged
        c.send(b"late data")
        time.sleep(0.2)
        c.close()
        return cport, srv.port
