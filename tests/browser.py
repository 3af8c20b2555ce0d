"""Headless Chromium driven through the DevTools protocol over a pipe
(--remote-debugging-pipe: fd 3 in, fd 4 out, NUL-separated JSON), so the
tests need no websocket client.  Debian's `chromium` package; the machine's
network is closed, so every network feature is switched off.

    with Browser(tmp_path) as b:
        b.open(svg_path)
        b.eval("document.querySelectorAll('g.f').length")
        b.screenshot(tmp_path / "flamegraph.png")
"""
from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import time

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--disable-default-apps", "--mute-audio",
         "--remote-debugging-pipe"]


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    assert path, "chromium is not installed (Debian package chromium, README test command)"
    return path


class Browser:
    def __init__(self, tmp, width: int = 1280, height: int = 900):
        self.tmp = str(tmp)
        cmd_r, cmd_w = os.pipe()            # we write commands, chromium reads fd 3
        out_r, out_w = os.pipe()            # chromium writes fd 4, we read

        def child():
            # via fds >= 10 first: a pipe end may itself be fd 3 or 4, and
            # dup2(fd, fd) would keep its close-on-exec flag
            import fcntl
            r = fcntl.fcntl(cmd_r, fcntl.F_DUPFD, 10)
            w = fcntl.fcntl(out_w, fcntl.F_DUPFD, 10)
            os.dup2(r, 3)
            os.dup2(w, 4)

        self.proc = subprocess.Popen(
            [chromium(), *FLAGS, f"--user-data-dir={self.tmp}/chromium-profile",
             f"--window-size={width},{height}", "about:blank"],
            preexec_fn=child, close_fds=False, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.tmp, "chromium.log"), "wb"))
        os.close(cmd_r)
        os.close(out_w)
        self._w, self._r = cmd_w, out_r
        self._buf = b""
        self._id = 0
        self._events = []
        targets = self.call("Target.getTargets")["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        self.session = self.call("Target.attachToTarget", targetId=page["targetId"],
                                 flatten=True)["sessionId"]
        self.call("Page.enable", session=True)
        self.call("Emulation.setDeviceMetricsOverride", session=True, width=width,
                  height=height, deviceScaleFactor=1, mobile=False)

    def _send(self, msg: dict):
        data = json.dumps(msg).encode() + b"\0"
        while data:
            n = os.write(self._w, data)
            data = data[n:]

    def _recv(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            assert left > 0, "chromium did not answer"
            r, _, _ = select.select([self._r], [], [], left)
            if r:
                chunk = os.read(self._r, 1 << 20)
                assert chunk, "chromium closed the pipe (see chromium.log)"
                self._buf += chunk
        msg, _, self._buf = self._buf.partition(b"\0")
        return json.loads(msg)

    def call(self, method: str, session: bool = False, timeout: float = 60, **params):
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params}
        if session:
            msg["sessionId"] = self.session
        self._send(msg)
        while True:
            m = self._recv(timeout)
            if m.get("id") == self._id:
                assert "error" not in m, f"{method}: {m['error']}"
                return m.get("result", {})
            self._events.append(m)

    def wait_event(self, method: str, timeout: float = 60) -> dict:
        for i, m in enumerate(self._events):
            if m.get("method") == method:
                return self._events.pop(i)
        while True:
            m = self._recv(timeout)
            if m.get("method") == method:
                return m
            self._events.append(m)

    def open(self, path):
        self._events = [m for m in self._events if m.get("method") != "Page.loadEventFired"]
        self.call("Page.navigate", session=True, url="file://" + os.path.abspath(str(path)))
        self.wait_event("Page.loadEventFired")

    def eval(self, expression: str):
        r = self.call("Runtime.evaluate", session=True, expression=expression,
                      returnByValue=True, awaitPromise=True)
        assert "exceptionDetails" not in r, r["exceptionDetails"]
        return r["result"].get("value")

    def screenshot(self, path):
        r = self.call("Page.captureScreenshot", session=True, format="png",
                      captureBeyondViewport=True)
        with open(path, "wb") as f:
            f.write(base64.b64decode(r["data"]))
        return path

    def close(self):
        if self.proc.poll() is None:
            try:
                self._send({"id": self._id + 1, "method": "Browser.close"})
                self.proc.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        for fd in (self._w, self._r):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
