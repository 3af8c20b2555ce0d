"""mountsnoop on the real kernel: this test mounts and unmounts a tmpfs
(with mount(2) and with the fsopen/fsconfig/fsmount/move_mount API) in a
temporary directory and finds its own calls, by PID, rendered like strace."""
from __future__ import annotations

import ctypes
import os
import uuid

import pytest

from corebpf import syscalls
from tests.helpers import Tool, json_match, json_objects, run_tool

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

libc = ctypes.CDLL(None, use_errno=True)
MS_NOSUID, MS_NODEV, MNT_DETACH = 2, 4, 2


def _mine(line):
    f = line.split()
    return len(f) > 2 and f[1] == str(os.getpid())


@pytest.mark.parametrize("probe", ["", "raw_tp", "tracepoint"])
def test_mount_and_umount(tmp_path, probe):
    """Default: raw_syscalls (tp_btf) and a switch on the syscall number;
    raw_tp the same; tracepoint: one tracepoint per syscall."""
    src = "cbpf" + uuid.uuid4().hex[:8]
    target = str(tmp_path)
    t = Tool("mountsnoop", env={"COREBPF_PROBE": probe})
    assert t.lines[0].split() == ["COMM", "PID", "TID", "MNT_NS", "CALL"]
    assert libc.mount(src.encode(), target.encode(), b"tmpfs", MS_NOSUID | MS_NODEV,
                      b"size=1m") == 0, os.strerror(ctypes.get_errno())
    assert libc.umount2(target.encode(), MNT_DETACH) == 0
    assert libc.umount2(target.encode(), 0) == -1          # not mounted any more
    t.wait_for(lambda l: _mine(l) and "-EINVAL" in l)
    assert t.stop() == 0
    mine = [l for l in t.lines[1:] if _mine(l)]
    calls = [l.split(None, 4)[4] for l in mine]
    assert calls == [
        'mount("%s", "%s", "tmpfs", MS_NOSUID|MS_NODEV, "size=1m") = 0' % (src, target),
        'umount("%s", MNT_DETACH) = 0' % target,
        'umount("%s", 0x0) = -EINVAL' % target], t.text
    ns = os.readlink("/proc/self/ns/mnt")                  # mnt:[4026531841]
    assert all(l.split()[3] == ns[ns.index("[") + 1:-1] for l in mine)
    assert all(l.split()[2] == str(os.getpid()) for l in mine)   # TID: this thread


def _syscall(name, *args):
    libc.syscall.restype = ctypes.c_long
    r = libc.syscall(ctypes.c_long(syscalls.number(name)), *args)
    assert r >= 0, f"{name}: {os.strerror(ctypes.get_errno())}"
    return r


@pytest.mark.parametrize("probe", ["", "tracepoint"])
def test_new_mount_api_with_parent_columns(tmp_path, probe):
    target = str(tmp_path)
    t = Tool("mountsnoop", "-P", env={"COREBPF_PROBE": probe})
    assert t.lines[0].split() == ["COMM", "PID", "TID", "PCOMM", "PPID", "MNT_NS", "CALL"]
    fs = _syscall("fsopen", b"tmpfs", ctypes.c_uint(1))                   # FSOPEN_CLOEXEC
    _syscall("fsconfig", fs, ctypes.c_uint(1), b"size", b"2m", 0)        # SET_STRING
    _syscall("fsconfig", fs, ctypes.c_uint(6), None, None, 0)            # CMD_CREATE
    mnt = _syscall("fsmount", fs, ctypes.c_uint(1), ctypes.c_uint(4))     # CLOEXEC, NODEV
    _syscall("move_mount", mnt, b"", -100, target.encode(), ctypes.c_uint(4))  # F_EMPTY_PATH
    os.close(mnt)
    os.close(fs)
    assert libc.umount2(target.encode(), MNT_DETACH) == 0
    t.wait_for(lambda l: _mine(l) and "umount(" in l)
    t.stop()
    calls = [l.split(None, 6)[6] for l in t.lines[1:] if _mine(l)]
    assert calls[:5] == [
        'fsopen("tmpfs", FSOPEN_CLOEXEC) = %d' % fs,
        'fsconfig(%d, FSCONFIG_SET_STRING, "size", "2m", 0) = 0' % fs,
        'fsconfig(%d, FSCONFIG_CMD_CREATE, "", "", 0) = 0' % fs,
        'fsmount(%d, FSMOUNT_CLOEXEC, MOUNT_ATTR_NODEV) = %d' % (fs, mnt),
        'move_mount(%d, "", AT_FDCWD, "%s", MOVE_MOUNT_F_EMPTY_PATH) = 0' % (mnt, target),
    ], t.text
    mine = [l for l in t.lines[1:] if _mine(l)]
    assert all(l.split()[4] == str(os.getppid()) for l in mine)


def test_bad_input_one_line():
    rc, out, err = run_tool("mountsnoop", "-Z")
    assert rc != 0 and "unrecognized arguments" in err and len(err.strip().splitlines()) == 1


def test_json(tmp_path):
    src = "cbpf\x1b" + uuid.uuid4().hex[:8]             # a control byte: kept exact
    target = str(tmp_path)
    t = Tool("mountsnoop", "--json", ready="stderr")
    assert libc.mount(src.encode(), target.encode(), b"tmpfs", MS_NOSUID | MS_NODEV,
                      b"size=1m") == 0, os.strerror(ctypes.get_errno())
    assert libc.umount2(target.encode(), MNT_DETACH) == 0
    assert t.wait_for(json_match(lambda d: d["pid"] == os.getpid() and
                                 d["syscall"] == "umount2")) is not None, (t.text, t.stderr)
    assert t.stop() == 0
    mine = [d for d in json_objects(t, "mountsnoop") if d.get("pid") == os.getpid()]
    m, u = mine
    assert (m["syscall"], m["strings"], m["ret"]) == (
        "mount", [src, target, "tmpfs", "size=1m"], 0)
    assert m["call"] == 'mount("cbpf\\x1b%s", "%s", "tmpfs", MS_NOSUID|MS_NODEV, "size=1m") = 0' \
        % (src[5:], target)
    assert (u["strings"], u["ret"], u["tid"]) == ([target], 0, os.getpid())
    ns = os.readlink("/proc/self/ns/mnt")
    assert m["mnt_ns"] == int(ns[ns.index("[") + 1:-1]) and m["ppid"] == os.getppid()
