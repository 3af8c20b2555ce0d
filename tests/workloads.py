"""Real activity for kernel tests: CPU-bound children, direct disk I/O
from a process with a unique name, loopback network traffic.

Each workload is a child process whose PID (and, where it matters, whose
comm) the test knows, so assertions can pick its lines out of a system
where other programs do the same things at the same time."""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

SCRATCH_DIR = "/var/tmp"        # ext4 on the real disk here (/tmp may be tmpfs)


def disk_of(path: str) -> str:
    """Name of the whole disk under `path` (e.g. vda), from sysfs."""
    st = os.stat(path)
    dev = os.path.realpath("/sys/dev/block/%d:%d" % (os.major(st.st_dev), os.minor(st.st_dev)))
    if os.path.exists(os.path.join(dev, "partition")):
        dev = os.path.dirname(dev)
    return os.path.basename(dev)


def disk_irq_names(disk: str) -> list:
    """Names of the hard IRQ handlers of `disk`'s virtio device (virtioN-req.M)."""
    dev = os.path.basename(os.path.realpath("/sys/block/%s/device" % disk))
    names = []
    with open("/proc/interrupts") as f:
        for line in f:
            parts = line.split()
            if parts and parts[-1].startswith(dev + "-") and "config" not in parts[-1]:
                names.append(parts[-1])
    return names


# A child that renames itself (comm), waits for a line on stdin, then does
# direct I/O: `size` bytes per write at offsets cycling over `span` bytes,
# for `seconds`; then (optionally) reads it back.
_DIRECT_IO = r"""
import ctypes, mmap, os, sys, time
comm, path, size, span, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
ctypes.CDLL(None).prctl(15, comm.encode(), 0, 0, 0)        # PR_SET_NAME
buf = mmap.mmap(-1, size)                                   # page aligned, as O_DIRECT wants
buf.write(b"x" * size)
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_DIRECT, 0o644)
print("ready", flush=True)
sys.stdin.readline()
end = time.monotonic() + seconds
off = 0
while True:
    os.pwrite(fd, buf, off)
    off = (off + size) % span
    if time.monotonic() >= end:
        break
os.close(fd)
"""


class Child:
    """A Python child running `code` with args; `go()` releases it."""

    def __init__(self, code: str, *args):
        self.proc = subprocess.Popen([sys.executable, "-c", code, *map(str, args)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "ready"
        self.pid = self.proc.pid

    def go(self):
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        return self

    def wait(self, timeout=120):
        self.proc.wait(timeout)
        return self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@contextlib.contextmanager
def direct_writer(comm: str, size=1 << 20, span=4 << 20, seconds=2.0):
    """A paused direct-I/O writer named `comm` (call .go()); file removed after."""
    path = os.path.join(SCRATCH_DIR, "corebpf_%s_%d" % (comm, os.getpid()))
    child = Child(_DIRECT_IO, comm, path, size, span, seconds)
    try:
        yield child
    finally:
        child.kill()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


@contextlib.contextmanager
def busy_loops(n: int):
    """n CPU-bound children; yields their PIDs."""
    procs = [subprocess.Popen([sys.executable, "-c", "while 1: pass"]) for _ in range(n)]
    try:
        yield [p.pid for p in procs]
    finally:
        for p in procs:
            p.send_signal(signal.SIGKILL)
        for p in procs:
            p.wait()


@contextlib.contextmanager
def sleeper(interval=0.01, seconds=30.0):
    """A child that sleeps `interval` over and over (off-CPU time); yields its PID."""
    p = subprocess.Popen([sys.executable, "-c",
                          "import time\nend = time.monotonic() + %f\n"
                          "while time.monotonic() < end: time.sleep(%f)" % (seconds, interval)])
    try:
        yield p.pid
    finally:
        p.kill()
        p.wait()


def loopback_traffic(seconds=1.5, chunk=65536):
    """Send data over a TCP connection on 127.0.0.1 for `seconds` (NET_RX softirqs)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    cli = socket.create_connection(srv.getsockname())
    conn, _ = srv.accept()
    done = threading.Event()

    def drain():
        while not done.is_set():
            try:
                if not conn.recv(1 << 20):
                    return
            except OSError:
                return

    t = threading.Thread(target=drain, daemon=True)
    t.start()
    data = b"z" * chunk
    end = time.monotonic() + seconds
    try:
        while time.monotonic() < end:
            cli.sendall(data)
    finally:
        done.set()
        cli.close()
        t.join(5)
        conn.close()
        srv.close()


# File operations on each path once released: create, 4 writes of 64 KiB,
# fsync, close; a stat; an O_PATH open; reopen, read it all in 128 KiB reads, one
# pread of 4 KiB at 64 KiB.
# With big > 0, first `big` MiB of buffered writes (so the fsync has work).
_FILE_OPS = r"""
import os, sys
big, paths = int(sys.argv[1]), sys.argv[2:]
print("ready", flush=True)
sys.stdin.readline()
for path in paths:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    if big:
        chunk = b"b" * (1 << 20)
        for _ in range(big):
            os.write(fd, chunk)
    for _ in range(4):
        os.write(fd, b"w" * 65536)
    os.fsync(fd)
    os.close(fd)
    os.stat(path)                               # a getattr (nfsslower, nfsdist)
    os.close(os.open(path, os.O_PATH))          # no file operation: not an open the tools see
    fd = os.open(path, os.O_RDONLY)
    while os.read(fd, 131072):
        pass
    os.pread(fd, 4096, 65536)
    os.close(fd)
"""


@contextlib.contextmanager
def file_ops(marker: str, big_mib: int = 0, directory: str = SCRATCH_DIR, decoy: str = None):
    """A paused child doing file_ops on directory/marker (call .go()); then, if
    `decoy` is given, the same on SCRATCH_DIR/decoy (ext4 here: what a tool
    for another file system must not report)."""
    paths = [os.path.join(directory, marker)]
    if decoy:
        paths.append(os.path.join(SCRATCH_DIR, decoy))
    child = Child(_FILE_OPS, big_mib, *paths)
    try:
        yield child
    finally:
        child.kill()
        for path in paths:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)


@contextlib.contextmanager
def loop_device(megabytes=64):
    """A loop block device of its own (losetup --find: the kernel hands out
    a free /dev/loopN, so tests running at once never share one) backed by
    a sparse file on SCRATCH_DIR; yields (path, name), e.g. ("/dev/loop3", "loop3")."""
    fd, backing = tempfile.mkstemp(prefix="corebpf-loop-", dir=SCRATCH_DIR)
    os.ftruncate(fd, megabytes << 20)
    os.close(fd)
    try:
        dev = subprocess.run(["losetup", "--find", "--show", backing], check=True,
                             capture_output=True, text=True).stdout.strip()
        try:
            yield dev, os.path.basename(dev)
        finally:
            subprocess.run(["losetup", "-d", dev], check=False)
    finally:
        os.unlink(backing)


def direct_writes(dev: str, offsets, size=65536):
    """O_DIRECT writes of `size` bytes at each byte offset of block device `dev`."""
    import mmap
    buf = mmap.mmap(-1, size)
    buf.write(b"c" * size)
    fd = os.open(dev, os.O_WRONLY | os.O_DIRECT)
    try:
        for off in offsets:
            os.pwrite(fd, buf, off)
    finally:
        os.close(fd)
        buf.close()


# -- activities of the smoke test (tests/kernel/test_smoke.py) beyond tests.matrix.workload ----

def syn_retransmit(wait=1.5):
    """SYNs that a listener with a full accept queue drops: the clients
    retransmit them after 1 s (tcpretrans).  Loopback only, no privileges."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(0)
    clients = []
    try:
        for _ in range(4):
            c = socket.socket()
            c.setblocking(False)
            c.connect_ex(srv.getsockname())
            clients.append(c)
        time.sleep(wait)
    finally:
        for c in clients:
            c.close()
        srv.close()


def bash_typing(line: str, timeout=30.0):
    """An interactive bash on a pseudo-terminal that reads `line` with
    readline, runs it and exits (bashreadline)."""
    import fcntl
    import pty
    import termios
    master, slave = pty.openpty()

    def tty():
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    p = subprocess.Popen(["bash", "--norc", "--noprofile", "-i"], stdin=slave, stdout=slave,
                         stderr=slave, preexec_fn=tty, env={**os.environ, "TERM": "dumb"})
    os.close(slave)
    try:
        os.write(master, (line + "\nexit\n").encode())
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                if not os.read(master, 4096):
                    break
            except OSError:             # EIO: the shell exited
                break
        p.wait(timeout=max(1.0, end - time.monotonic()))
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        os.close(master)


def uncached_file(path: str, mib: int) -> str:
    """A file of `mib` MiB written with O_DIRECT and dropped from the page
    cache, so reading it allocates page cache again."""
    import mmap
    buf = mmap.mmap(-1, 1 << 20)
    buf.write(b"r" * (1 << 20))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_DIRECT, 0o644)
    try:
        for _ in range(mib):
            os.write(fd, buf)
    finally:
        os.close(fd)
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
    return path
