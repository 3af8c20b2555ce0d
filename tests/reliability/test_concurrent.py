"""Several tools on the same tracepoints at once, and two instances of one
tool: each sees the activity, and stopping one leaves the others working
(every tool owns its own links; the kernel keeps one tracepoint hooked for
all of them)."""
from __future__ import annotations

import os
import subprocess
import shutil
import sys
import tempfile
import uuid

import pytest

from tests import matrix
from tests.helpers import Tool

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

OPENAT = "t:syscalls:sys_enter_openat"


def _open_marker(d, tag):
    """A child process opens a file named after `tag`; returns its PID."""
    path = os.path.join(d, tag)
    p = subprocess.run([sys.executable, "-c",
                        "import os, sys; os.close(os.open(sys.argv[1], os.O_CREAT | os.O_RDONLY, "
                        "0o600)); print(os.getpid())", path], capture_output=True, text=True,
                       check=True)
    return int(p.stdout), path


def test_tools_share_tracepoints(tmp_path):
    tmp_path = tempfile.mkdtemp(prefix="cbpf-")     # short: trace cuts strings at 80 bytes
    tag = "corebpf-cc-" + uuid.uuid4().hex[:8]
    tools = {
        "opensnoop": Tool("opensnoop"),
        "opensnoop2": Tool("opensnoop", "-x"),      # same probes, another filter
        "trace": Tool("trace", f'{OPENAT} (STRCMP("python3", $comm)) "%s", args->filename'),
        "funccount": Tool("funccount", "-i", "1", OPENAT),
        # only openat: on a busy machine it need not be among the top 10
        "syscount": Tool("syscount", "-i", "1", "--syscall", "openat"),
        "argdist": Tool("argdist", "-i", "1", "-C", f"{OPENAT}():int:args->dfd"),
    }
    try:
        pid, path = _open_marker(tmp_path, tag + "-a")
        assert tools["opensnoop"].wait_for(lambda l: path in l and str(pid) in l)
        # trace keeps 80 bytes of a string (bcc's default): match the file name
        assert tools["trace"].wait_for(lambda l: tag + "-a" in l and l.split()[0] == str(pid))
        assert tools["funccount"].wait_for(lambda l: l.startswith("syscalls:sys_enter_openat"))
        assert tools["syscount"].wait_for(lambda l: l.startswith("openat"))
        assert tools["argdist"].wait_for(lambda l: "args->dfd" in l)
        # stop one sharer: the others go on seeing opens
        assert tools["funccount"].stop() == 0
        assert matrix.remaining(matrix.owned_objects(tools["opensnoop"].proc.pid),
                                timeout=0), "opensnoop lost its programs"
        pid, path = _open_marker(tmp_path, tag + "-b")
        assert tools["opensnoop"].wait_for(lambda l: path in l and str(pid) in l)
        assert tools["trace"].wait_for(lambda l: tag + "-b" in l)
        assert not any(tag in l for l in tools["opensnoop2"].lines)  # -x: failed opens only
    finally:
        shutil.rmtree(tmp_path)
        for t in tools.values():
            assert t.stop() == 0, t.stderr
            assert "Traceback" not in t.stderr


def test_two_instances_of_one_tool(tmp_path):
    tag = "corebpf-two-" + uuid.uuid4().hex[:8]
    a, b = Tool("opensnoop"), Tool("opensnoop")
    try:
        objs_a = matrix.owned_objects(a.proc.pid)
        objs_b = matrix.owned_objects(b.proc.pid)
        assert not (objs_a["prog"] & objs_b["prog"]), "instances share programs"
        pid, path = _open_marker(tmp_path, tag + "-1")
        for t in (a, b):
            assert t.wait_for(lambda l: path in l and str(pid) in l), t.text[-2000:]
        assert a.stop() == 0 and a.stderr == ""
        assert not matrix.remaining(objs_a)
        # b is untouched by a's exit: its programs are loaded and still fire
        assert matrix.remaining(objs_b, timeout=0) == {
            k: sorted(v) for k, v in objs_b.items() if k in matrix.KINDS and v}
        pid, path = _open_marker(tmp_path, tag + "-2")
        assert b.wait_for(lambda l: path in l and str(pid) in l)
    finally:
        for t in (a, b):
            t.stop()
    assert b.proc.returncode == 0 and b.stderr == ""


def test_leftover_check_sees_a_live_tool():
    """The cleanup tests' check is not vacuous: while a tool runs, its objects
    are found by ID; after it exits they are not."""
    t = Tool("execsnoop")
    objs = matrix.owned_objects(t.proc.pid)
    assert objs["prog"] and objs["map"] and objs["link"]
    live = matrix.remaining(objs, timeout=0)
    assert live["prog"] == sorted(objs["prog"]) and live["map"] == sorted(objs["map"])
    assert t.stop() == 0
    assert matrix.remaining(objs) == {}
