"""A fork server for the smoke run (tests/kernel/test_smoke.py): one Python
process imports corebpf, its command line and the tools' modules once, then
forks each tool's start.  Under emulation (the kernel matrix's guests) the
interpreter's start and `import corebpf` cost ~2.4 s of guest CPU per tool:
here they are paid once per run.

What a forked tool shares with one a user starts: its own code from
`corebpf.__main__.main([NAME, *ARGS])` on (argument parsing, the feature
probes, BTF, opening, loading and attaching its objects, its output), its
own stdin/stdout/stderr (pipes the test made, on fds 0-2), sys.argv as
`python3 -m corebpf NAME ARGS` sets it, the default SIGINT handler
(KeyboardInterrupt), its own exit status (SystemExit and uncaught exceptions
handled as the interpreter does, atexit handlers run).  What differs: the
interpreter is not started anew and the modules come already imported; its
parent is this server, not the test.

Protocol (a SOCK_SEQPACKET socket): the client sends a JSON list
[NAME, ARG...] with four fds (stdin, stdout, stderr, a status pipe) and gets
back the child's PID as text; when the child ends, the server writes its
exit status (as subprocess reports it: negative for a signal) to the status
pipe and closes it.

    tests.zygote.Server(TOOLS)          (the tools whose modules to import)
"""
from __future__ import annotations

import atexit
import importlib
import json
import os
import select
import signal
import socket
import sys
import traceback


def _child(argv, fds, close):
    """In the forked child: become `python3 -m corebpf NAME ARGS`; never returns."""
    code = 1
    try:
        for fd in close:
            os.close(fd)
        for i, fd in enumerate(fds[:3]):
            os.dup2(fd, i)
        for fd in fds:
            os.close(fd)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        main = sys.modules["corebpf.__main__"]
        sys.argv = [main.__file__, *argv]
        try:
            code = main.main(list(argv))
        except SystemExit as e:
            code = e.code
        except BaseException:          # the interpreter's own report of an uncaught one
            traceback.print_exc()
            code = 1
        if code is None:
            code = 0
        elif not isinstance(code, int):
            print(code, file=sys.stderr)
            code = 1
        atexit._run_exitfuncs()
        for f in (sys.stdout, sys.stderr):
            try:
                f.flush()
            except (OSError, ValueError):
                code = code or 120      # as the interpreter does when the flush fails
    finally:
        os._exit(code & 0xFF if isinstance(code, int) else 1)


def serve(sock: socket.socket, tools) -> None:
    importlib.import_module("corebpf.__main__")
    for name in tools:
        try:
            importlib.import_module(f"corebpf.tools.{name}")
        except Exception:       # noqa: BLE001 -- the tool's own start then fails as a user's would
            pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # a Ctrl-C for the tests is not for the server
    status = {}                                    # pid -> write end of its status pipe
    sock.sendmsg([b"ready"])
    while True:
        r, _, _ = select.select([sock], [], [], 0.05)
        if r:
            msg, fds, _, _ = socket.recv_fds(sock, 65536, 4)
            if not msg:
                break
            argv = json.loads(msg)
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                _child(argv, fds, [sock.fileno(), *status.values()])
            for fd in fds[:3]:
                os.close(fd)
            status[pid] = fds[3]
            sock.sendmsg([str(pid).encode()])
        while status:
            try:
                pid, st = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            fd = status.pop(pid, None)
            if fd is not None:
                os.write(fd, str(os.waitstatus_to_exitcode(st)).encode())
                os.close(fd)


# -- the client (the test's side) ---------------------------------------------------------

class Server:
    """The fork server, started with the tools' modules to import."""

    def __init__(self, tools, env=None):
        import subprocess
        here, there = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        e = dict(os.environ if env is None else env)
        e.setdefault("PYTHONUNBUFFERED", "1")
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        with open(os.devnull, "rb") as null:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", "import sys, socket; sys.path.insert(0, sys.argv[1]); "
                 "from tests.zygote import serve; "
                 "serve(socket.socket(fileno=int(sys.argv[2])), sys.argv[3:])",
                 root, str(there.fileno()), *tools],
                stdin=null, pass_fds=(there.fileno(),), env=e)
        there.close()
        self.sock = here
        r, _, _ = select.select([here], [], [], 300)
        if not r or here.recv(16) != b"ready":
            self.close()
            raise RuntimeError("the smoke run's fork server did not start (tests/zygote.py)")

    def start(self, argv) -> "Child":
        return Child(self, [str(a) for a in argv])

    def close(self):
        self.sock.close()
        try:
            self.proc.wait(30)
        except Exception:
            self.proc.kill()
            self.proc.wait()


class Child:
    """A forked tool, with what tests.helpers.Tool uses of subprocess.Popen:
    pid, stdout, stderr, returncode, poll, send_signal, kill, communicate."""

    def __init__(self, server: Server, argv):
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        st_r, st_w = os.pipe()
        with open(os.devnull, "rb") as null:
            socket.send_fds(server.sock, [json.dumps(argv).encode()],
                            [null.fileno(), out_w, err_w, st_w])
        for fd in (out_w, err_w, st_w):
            os.close(fd)
        r, _, _ = select.select([server.sock], [], [], 60)
        reply = server.sock.recv(32) if r else b""
        if not reply:
            for fd in (out_r, err_r, st_r):
                os.close(fd)
            raise RuntimeError(f"the fork server did not start {argv}")
        self.pid = int(reply)
        self.args = argv
        self.stdout = os.fdopen(out_r, "rb", buffering=0)
        self.stderr = os.fdopen(err_r, "rb", buffering=0)
        self._status = st_r
        self.returncode = None

    def poll(self, timeout=0.0):
        if self.returncode is None:
            r, _, _ = select.select([self._status], [], [], timeout)
            if r:
                text = os.read(self._status, 32)
                os.close(self._status)
                self.returncode = int(text) if text else -signal.SIGKILL   # server gone
        return self.returncode

    def wait(self, timeout=None):
        import subprocess
        if self.poll(timeout) is None:
            raise subprocess.TimeoutExpired(self.args, timeout)
        return self.returncode

    def send_signal(self, sig):
        if self.poll() is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:      # reaped by the server since: its status is sent
                pass

    def kill(self):
        self.send_signal(signal.SIGKILL)

    def communicate(self, timeout=None):
        """Everything left on stdout and stderr until both close, and the exit."""
        import subprocess
        import time
        deadline = None if timeout is None else time.monotonic() + timeout
        out, err = b"", b""
        open_ = [f for f in (self.stdout, self.stderr) if not f.closed]
        while open_:
            left = None if deadline is None else max(deadline - time.monotonic(), 0)
            r, _, _ = select.select(open_, [], [], left)
            if not r:
                self._out, self._err = getattr(self, "_out", b"") + out, \
                    getattr(self, "_err", b"") + err
                raise subprocess.TimeoutExpired(self.args, timeout)
            for f in r:
                chunk = os.read(f.fileno(), 65536)
                if not chunk:
                    f.close()
                    open_.remove(f)
                elif f is self.stdout:
                    out += chunk
                else:
                    err += chunk
        out, err = getattr(self, "_out", b"") + out, getattr(self, "_err", b"") + err
        self._out = self._err = b""
        left = None if deadline is None else max(deadline - time.monotonic(), 0)
        self.wait(left)
        return out, err
