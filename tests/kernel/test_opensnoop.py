"""opensnoop on the real kernel: it sees the files this test opens."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest

from tests.helpers import Tool, run_tool

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]


def marker(tmp_path):
    return str(tmp_path / ("corebpf_open_" + uuid.uuid4().hex[:8]))


def test_sees_open_by_pid(tmp_path):
    path = marker(tmp_path)
    t = Tool("opensnoop", "-p", os.getpid())
    assert t.lines[0].split() == ["PID", "COMM", "FD", "ERR", "PATH"]
    with open(path, "w"):
        pass
    line = t.wait_for(lambda l: l.endswith(path))
    assert t.stop() == 0
    pid, comm, fd, err, p = line.split()
    assert int(pid) == os.getpid() and int(fd) >= 3 and err == "0" and p == path


def test_failed_only_and_extended_fields(tmp_path):
    path = marker(tmp_path)
    t = Tool("opensnoop", "-x", "-e", "-p", os.getpid())
    assert t.lines[0].split() == ["PID", "COMM", "FD", "ERR", "FLAGS", "MODE", "PATH"]
    with open(path + "-ok", "w"):
        pass
    with pytest.raises(FileNotFoundError):
        open(path + "-missing")
    line = t.wait_for(lambda l: path + "-missing" in l)
    t.stop()
    assert line.split()[2:6] == ["-1", "2", "02000000", "n/a"]
    assert not any(path + "-ok" in l for l in t.lines)


def test_create_flags_mode_and_full_path(tmp_path):
    name = os.path.basename(marker(tmp_path))
    t = Tool("opensnoop", "-e", "-F", "-T", "-U", "-n", "python")
    code = f"import os; os.chdir({str(tmp_path)!r}); os.close(os.open({name!r}, os.O_CREAT|os.O_WRONLY, 0o640))"
    subprocess.run([sys.executable, "-c", code], check=True)
    line = t.wait_for(lambda l: l.endswith(name))
    t.stop()
    fields = line.split()
    float(fields[0])                                # TIME(s)
    assert fields[1] == "0"                         # UID
    # Python adds O_CLOEXEC (02000000) to O_CREAT|O_WRONLY
    assert fields[6:] == ["02000101", "0640", str(tmp_path / name)], line


def test_full_path_is_the_one_a_chrooted_opener_sees(tmp_path):
    # the walk up the directories stops at the opener's root, as d_path() does
    jail = tmp_path / "jail"
    (jail / "sub").mkdir(parents=True)
    name = os.path.basename(marker(tmp_path))
    code = (f"import os; os.chroot({str(jail)!r}); os.chdir('/sub'); "
            f"os.close(os.open({name!r}, os.O_CREAT|os.O_WRONLY, 0o600))")
    t = Tool("opensnoop", "-F", "-n", "python")
    subprocess.run([sys.executable, "-c", code], check=True)
    line = t.wait_for(lambda l: l.endswith(name))
    t.stop()
    assert line is not None, t.text
    assert line.split()[-1] == f"/sub/{name}", line
    assert (jail / "sub" / name).exists()


def test_flag_filter_and_tid(tmp_path):
    path = marker(tmp_path)
    t = Tool("opensnoop", "-f", "O_WRONLY", "-t", os.getpid())
    assert t.lines[0].split()[0] == "TID"
    with open(path + "-w", "w"):
        pass
    with open(path + "-w"):
        pass
    assert t.wait_for(lambda l: l.endswith(path + "-w")) is not None
    t.stop()
    assert sum(l.endswith(path + "-w") for l in t.lines) == 1, t.text


def test_exec_mode_traces_only_the_command(tmp_path):
    path = marker(tmp_path)
    rc, out, err = run_tool("opensnoop", "--exec", "cat", path)
    assert rc == 0, err
    lines = [l for l in out.splitlines() if l.endswith(path)]
    assert len(lines) == 1 and lines[0].split()[1] == "cat" and lines[0].split()[3] == "2"


def test_duration_ends_the_trace():
    rc, out, err = run_tool("opensnoop", "-d", "1", "-p", os.getpid(), timeout=60)
    assert rc == 0 and out.splitlines()[0].split()[0] == "PID"


@pytest.mark.parametrize("args,msg", [
    (["-f", "WRONLY"], "Bad flag: WRONLY"),
    (["-f", "O_NOPE"], "Bad flag: O_NOPE"),
    (["-b", "3"], "power of two"),
    (["-p", "999999"], "no such process"),
    (["-p", "1", "--exec", "true"], "can only use -p or --exec"),
])
def test_bad_input_one_line(args, msg):
    rc, out, err = run_tool("opensnoop", *args)
    assert rc != 0 and msg in err and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err


@pytest.mark.parametrize("probe", ["", "raw_tp", "tracepoint"])
def test_each_variant_sees_open_openat_and_their_arguments(tmp_path, probe):
    """Default: raw_syscalls (tp_btf) and a switch on this machine's syscall
    numbers; raw_tp the same; tracepoint: one tracepoint per syscall.  The
    arguments (directory fd, name, flags, mode) come from the registers in
    the first two."""
    import ctypes
    from corebpf import syscalls
    path = marker(tmp_path)
    t = Tool("opensnoop", "-e", "-p", os.getpid(), env={"COREBPF_PROBE": probe})
    dfd = os.open(str(tmp_path), os.O_RDONLY | os.O_DIRECTORY)
    try:
        fd = os.open(os.path.basename(path) + "-at", os.O_CREAT | os.O_WRONLY, 0o640,
                     dir_fd=dfd)                                # openat
        os.close(fd)
    finally:
        os.close(dfd)
    nr = syscalls.number("open")
    if nr is not None:                                          # not on arm64
        libc = ctypes.CDLL(None, use_errno=True)
        fd = libc.syscall(nr, (path + "-open").encode(), os.O_CREAT | os.O_RDWR, 0o600)
        assert fd >= 0
        os.close(fd)
    at = t.wait_for(lambda l: l.endswith(os.path.basename(path) + "-at"))
    if nr is not None:
        op = t.wait_for(lambda l: l.endswith(path + "-open"))
        assert op.split()[4:6] == ["%08o" % (os.O_CREAT | os.O_RDWR), "0600"], op
    assert t.stop() == 0
    # the name relative to the directory fd, as passed
    assert at.split()[4:6] == ["%08o" % (os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC), "0640"], at
    assert at.split()[-1] == os.path.basename(path) + "-at", at
