"""Run a tool as a user would: a subprocess, wait for its header (which the
tools print once attached), cause activity, stop it with a signal."""
from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time


def stuck_state(pid: int) -> str:
    """A process's state, wait channel and kernel stack, for a test's
    failure message (what a process that does not exit is stuck in)."""
    def read(name):
        try:
            with open(f"/proc/{pid}/{name}") as f:
                return f.read().strip()
        except OSError as e:
            return f"({e.strerror})"
    stat = read("stat")
    state = stat.rsplit(")", 1)[-1].split()[0] if ")" in stat else stat
    return "state %s, wchan %s, kernel stack: %s" % (
        state, read("wchan"), " <- ".join(l.split()[-1] for l in read("stack").splitlines()[:12]))


class Tool:
    _err = b""          # stderr read before stop (subclasses that start their own process)

    def __init__(self, name, *args, ready=True, env=None, timeout=30, prefix=()):
        """prefix: a command that runs the tool (unshare ... for a private
        mount namespace); it must exec the tool so signals reach it."""
        self.cmd = [*prefix, sys.executable, "-m", "corebpf", name, *map(str, args)]
        e = dict(os.environ)
        e.update(env or {})
        e.setdefault("PYTHONUNBUFFERED", "1")
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=e)
        self.lines = []
        self._buf = b""
        self._err = b""
        if ready == "stderr":
            self.wait_stderr_header(timeout)
        elif ready:
            self.wait_ready(timeout)

    def wait_stderr_header(self, timeout=30):
        """--json tools print their header (once attached) on stderr: wait
        for its first line (ready="stderr")."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self._err:
            left = deadline - time.monotonic()
            r, _, _ = select.select([self.proc.stderr], [], [], max(left, 0))
            chunk = os.read(self.proc.stderr.fileno(), 65536) if r else b""
            if not chunk:
                self.stop()
                raise AssertionError(f"{self.cmd} printed no header on stderr:\n{self.stderr}")
            self._err += chunk
        return self._err.split(b"\n", 1)[0].decode("utf-8", "replace")

    def _read(self, timeout):
        """One read of stdout (stderr drained on the way: a --verbose tool's
        libbpf log fills the 64 KiB pipe long before its header)."""
        deadline = time.monotonic() + timeout
        fds = [self.proc.stdout, self.proc.stderr]
        while True:
            r, _, _ = select.select(fds, [], [], max(deadline - time.monotonic(), 0))
            if not r:
                return False
            if self.proc.stderr in r:
                chunk = os.read(self.proc.stderr.fileno(), 65536)
                self._err += chunk
                if not chunk:
                    fds = [self.proc.stdout]        # stderr closed: stdout only
                if self.proc.stdout not in r:
                    continue
            break
        chunk = os.read(self.proc.stdout.fileno(), 65536)
        if not chunk:
            return None
        self._buf += chunk
        *full, self._buf = self._buf.split(b"\n")
        self.lines.extend(l.decode("utf-8", "replace") for l in full)
        return True

    def wait_ready(self, timeout=30):
        """Wait for the first line (the header, printed once attached)."""
        deadline = time.monotonic() + timeout
        while not self.lines:
            left = deadline - time.monotonic()
            if left <= 0 or self._read(left) is None:
                self.stop()
                raise AssertionError(f"{self.cmd} printed no header; stderr:\n{self.stderr}")
        return self.lines[0]

    def wait_for(self, pred, timeout=15):
        """Wait until a line satisfies pred; return it (or None)."""
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for line in self.lines[seen:]:
                if pred(line):
                    return line
            seen = len(self.lines)
            left = deadline - time.monotonic()
            if left <= 0 or self._read(min(left, 0.5)) is None:
                for line in self.lines[seen:]:
                    if pred(line):
                        return line
                if left <= 0 or self.proc.poll() is not None:
                    return None

    def stop(self, sig=signal.SIGINT, timeout=20):
        """Signal the tool, collect everything, return its exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self._collect(timeout)

    def _collect(self, timeout, kill_wait=30):
        """Read everything until the tool exits (SIGKILL after timeout).  A
        process SIGKILL cannot end within 30 s more (stuck in the kernel, or
        a child holding its pipes) is left behind, its state and kernel stack
        in .stderr: the test fails with the reason instead of hanging."""
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            try:
                out, err = self.proc.communicate(timeout=kill_wait)
            except subprocess.TimeoutExpired:
                out, err = b"", ("\nPID %d did not exit %d s after SIGKILL: %s\n"
                                 % (self.proc.pid, kill_wait, stuck_state(self.proc.pid))).encode()
        self._buf += out
        self.lines.extend(l.decode("utf-8", "replace") for l in self._buf.split(b"\n") if l)
        self._buf = b""
        self.stderr = (self._err + err).decode("utf-8", "replace")
        return self.proc.returncode

    def wait(self, timeout=60):
        return self._collect(timeout)

    @property
    def text(self):
        return "\n".join(self.lines)


def run_tool(name, *args, timeout=60, env=None, prefix=()):
    """Run a tool to completion: (returncode, stdout, stderr)."""
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run([*prefix, sys.executable, "-m", "corebpf", name, *map(str, args)],
                       capture_output=True, text=True, timeout=timeout, env=e)
    return p.returncode, p.stdout, p.stderr


def schema(name):
    """The JSON Schema `corebpf schema NAME` prints."""
    import json
    r = subprocess.run([sys.executable, "-m", "corebpf", "schema", name],
                       capture_output=True, text=True, check=True)
    return json.loads(r.stdout)


def run_json(name, args, act, match, timeout=30):
    """Start `name --json args`, call act() until a line satisfies match(dict)
    (the tool prints no header on stdout, so attaching is not waited for),
    stop it; every line must be one JSON object valid for the tool's schema.
    Returns (the matching object, every object)."""
    import json
    if "-j" not in args and "--json" not in args:
        args = ["--json", *args]
    t = Tool(name, *args, ready=False)
    deadline = time.monotonic() + timeout
    found = None
    try:
        while found is None and time.monotonic() < deadline and t.proc.poll() is None:
            act()
            line = t.wait_for(lambda l: l.startswith("{") and match(json.loads(l)), timeout=1)
            found = json.loads(line) if line else None
    finally:
        rc = t.stop()
    assert found is not None, (t.text, t.stderr)
    assert rc == 0, t.stderr
    return found, json_objects(t, name)


def json_objects(t, name):
    """The objects a stopped `name --json` Tool printed: every line one JSON
    object valid for the tool's schema, no traceback on stderr."""
    import json

    import jsonschema
    check = jsonschema.Draft202012Validator(schema(name)).validate   # the schema checked once
    objs = [json.loads(l) for l in t.lines]          # every line is JSON
    for o in objs:
        check(o)
    assert "Traceback" not in t.stderr
    return objs


def json_match(pred):
    """wait_for() predicate: a JSON line whose object satisfies pred."""
    import json
    return lambda l: l.startswith("{") and pred(json.loads(l))
