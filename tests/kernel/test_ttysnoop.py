"""ttysnoop on the real kernel: what a process writes to a pty the test opens
(write and writev) is shown, and nothing written to another one."""
from __future__ import annotations

import os
import pty

import pytest

from tests.helpers import Tool, json_match, json_objects, run_tool

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]


@pytest.fixture
def ptys():
    """Two ptys: (slave fd, its path) each; the masters are drained by nobody
    (the writes here are small enough for the pty's buffer)."""
    fds = []
    out = []
    for _ in range(2):
        master, slave = pty.openpty()
        fds += [master, slave]
        out.append((slave, os.ttyname(slave)))
    yield out
    for fd in fds:
        os.close(fd)


# the default, and the twin variant for kernels without bpf_loop (5.17; chosen
# there, forced by name here)
VARIANTS = pytest.mark.parametrize("env", [None, {"COREBPF_PROBE": "tp_noloop"}],
                                   ids=["default", "tp_noloop"])


@VARIANTS
def test_writes_to_the_pty_and_only_it(ptys, env):
    (slave, path), (other, _) = ptys
    t = Tool("ttysnoop", "-C", path, env=env)
    assert t.lines == [""]                  # attached
    os.write(other, b"not this one\n")
    os.write(slave, b"hello from the pty\n")
    os.writev(slave, [b"two ", b"vectors\n"])
    t.wait_for(lambda l: l == "two vectors", timeout=15)
    assert t.stop() == 0
    assert t.lines == ["", "hello from the pty", "two vectors"], t.lines


@VARIANTS
def test_pts_number_chunks_and_clear(ptys, env):
    (slave, path), _ = ptys
    number = path.rsplit("/", 1)[1]
    t = Tool("ttysnoop", "-s", "4", "-c", "2", number, env=env)    # 2 chunks of 4 bytes per write
    assert t.lines[0] == "\033[H\033[2J"                  # the screen cleared first
    os.write(slave, b"0123456789\n")
    os.write(slave, b"ab\n")
    t.wait_for(lambda l: l.endswith("ab"), timeout=15)
    t.stop()
    assert t.lines[1:] == ["01234567ab"], t.lines


@pytest.mark.parametrize("args,msg", [
    (["/nonexistent/tty"], "unable to read device /nonexistent/tty"),
    (["999999"], "unable to read device /dev/pts/999999"),
    (["/etc/hostname"], "not a character device"),
    (["-s", "100000", "1"], "at most 8192"),
    (["-c", "0", "1"], "must be positive"),
    ([], "the following arguments are required: device"),
])
def test_bad_input(args, msg):
    rc, out, err = run_tool("ttysnoop", *args)
    assert rc == 2 and msg in err and len(err.strip().splitlines()) == 1, err


def test_json_bytes_exact(ptys):
    """--json: escape sequences and non-UTF-8 bytes written to the tty come
    back exact, as JSON escapes (nothing reaches the terminal raw)."""
    (slave, path), _ = ptys
    t = Tool("ttysnoop", "--json", path, ready="stderr")
    hostile = b"\x1b]0;pwn\x07\xff\xfe end"
    os.write(slave, hostile)
    line = t.wait_for(json_match(lambda d: d["data"].endswith(" end")), timeout=15)
    assert t.stop() == 0
    assert line is not None and line.isascii() and "\x1b" not in line, (t.text, t.stderr)
    d, = json_objects(t, "ttysnoop")
    assert d["data"].encode("utf-8", "surrogateescape") == hostile
