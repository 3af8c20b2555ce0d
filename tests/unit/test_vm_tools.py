"""The arm64 build and guest helpers without a guest: the BTF blob cut out of
a raw kernel image (scripts/gen_vmlinux.py) and the initramfs writer of
tests/vm/run-arm64 (newc cpio, read back here as the kernel reads it)."""
from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import stat

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _load(path, name):
    loader = importlib.machinery.SourceFileLoader(name, os.path.join(ROOT, path))
    spec = importlib.util.spec_from_loader(name, loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


gen = _load("scripts/gen_vmlinux.py", "gen_vmlinux")
run_arm64 = _load("tests/vm/run-arm64", "run_arm64")


def test_btf_blob_is_cut_out_of_a_raw_image():
    with open("/sys/kernel/btf/vmlinux", "rb") as f:
        btf = f.read()
    decoy = b"\x9f\xeb\x01\x00" + bytes(20)            # the magic with a bad header
    image = os.urandom(4096) + decoy + os.urandom(999) + btf + os.urandom(777)
    assert gen.cut_btf(image) == btf
    with pytest.raises(gen.GenError, match="no BTF blob"):
        gen.cut_btf(os.urandom(8192) + decoy)
    truncated = image[:len(image) - 777 - 100]          # blob cut short: not well-formed
    with pytest.raises(gen.GenError):
        gen.cut_btf(truncated)


def _read_newc(path):
    """[(name, mode, mtime, data)] of a newc archive, checking its framing."""
    with open(path, "rb") as f:
        buf = f.read()
    assert len(buf) % 512 == 0
    out, i = [], 0
    while True:
        assert buf[i:i + 6] == b"070701", i
        fields = [int(buf[i + 6 + 8 * k:i + 14 + 8 * k], 16) for k in range(13)]
        mode, mtime, size, namesize = fields[1], fields[5], fields[6], fields[11]
        name = buf[i + 110:i + 110 + namesize - 1].decode()
        assert buf[i + 110 + namesize - 1] == 0
        j = i + 110 + namesize
        j += -j % 4
        data = buf[j:j + size]
        j += size
        j += -j % 4
        if name == "TRAILER!!!":
            return out
        out.append((name, mode, mtime, data))
        i = j


def test_initramfs_archive_round_trips(tmp_path):
    src = tmp_path / "tree"
    (src / "a" / "b").mkdir(parents=True)
    (src / "a" / "b" / "f.txt").write_bytes(b"hello")
    (src / "x.sh").write_bytes(b"#!/bin/sh\n")
    os.chmod(src / "x.sh", 0o755)
    os.symlink("a/b/f.txt", src / "link")
    os.utime(src / "a" / "b" / "f.txt", (1_700_000_000, 1_700_000_000))
    out = tmp_path / "t.cpio"
    c = run_arm64.Cpio(out)
    c.add_tree(src, "usr/lib")
    c.file("etc/corebpf-vm/cmd", b"echo hi\n", 0o755)
    c.close()
    entries = {name: (mode, mtime, data) for name, mode, mtime, data in _read_newc(out)}
    # every parent comes before its children, once
    names = [n for n, *_ in _read_newc(out)]
    assert len(names) == len(set(names))
    for n in names:
        parent = os.path.dirname(n)
        assert not parent or names.index(parent) < names.index(n), n
    mode, mtime, data = entries["usr/lib/a/b/f.txt"]
    assert stat.S_ISREG(mode) and data == b"hello" and mtime == 1_700_000_000
    assert stat.S_IMODE(entries["usr/lib/x.sh"][0]) == 0o755
    mode, _, data = entries["usr/lib/link"]
    assert stat.S_ISLNK(mode) and data == b"a/b/f.txt"
    assert stat.S_ISDIR(entries["usr/lib/a"][0]) and stat.S_ISDIR(entries["etc/corebpf-vm"][0])
    assert entries["etc/corebpf-vm/cmd"][2] == b"echo hi\n"


def test_project_archive_has_the_arm64_objects_and_not_the_x86_ones():
    files = run_arm64.project_files()
    assert "build.py" in files and "tests/vm/init-arm64" in files
    assert "vmlinux/arm64/vmlinux.h" in files and "vmlinux/x86/vmlinux.h" not in files
    if os.path.exists(os.path.join(ROOT, "corebpf/bpf/arm64/execsnoop.bpf.o")):
        assert "corebpf/bpf/arm64/execsnoop.bpf.o" in files
    assert not [f for f in files if f.startswith(("corebpf/bpf/x86/", ".git/"))
                or "__pycache__" in f]


def test_usdt_target_is_cross_built_for_the_guest_and_named_to_the_tests(tmp_path, monkeypatch):
    """The arm64 guest has no C compiler: run-arm64 cross-builds
    tests/progs/usdt_target.c on the host, puts it into the run archive and
    names it by COREBPF_USDT_TARGET, which tests/usdt_prog.py takes instead
    of a compile."""
    import shutil
    if not shutil.which("aarch64-linux-gnu-gcc"):
        pytest.skip("no aarch64-linux-gnu-gcc (apt-get install gcc-aarch64-linux-gnu "
                    "libc6-dev-arm64-cross)")
    from corebpf.symbols.elf import open_elf
    from corebpf.user import usdt
    from tests import usdt_prog
    monkeypatch.setattr(run_arm64, "A64", tmp_path / "arm64")
    run_arm64.usdt_target.cache_clear()
    try:
        exe = run_arm64.usdt_target()
        assert exe == run_arm64.usdt_target() and exe.parent == tmp_path / "arm64"
        assert open_elf(str(exe)).machine == 183                # EM_AARCH64
        names = {p.qualified for p in usdt.probes(str(exe))}
        assert {"corebpf:burst", "mysql:query__start", "mysql:query__done"} <= names, names
        out = tmp_path / "run.cpio"
        run_arm64.run_archive(out, ["true"], "/", "tok", "/out", True)
    finally:
        run_arm64.usdt_target.cache_clear()
    entries = {name: (mode, data) for name, mode, _, data in _read_newc(out)}
    mode, data = entries[run_arm64.GUEST_USDT_TARGET]
    assert data == exe.read_bytes() and stat.S_IMODE(mode) == 0o755
    env = entries["etc/corebpf-vm/env"][1].decode()
    assert f"COREBPF_USDT_TARGET=/{run_arm64.GUEST_USDT_TARGET}\n" in env

    # tests/usdt_prog.py: a regular file named by the variable is the target;
    # anything else (a directory, nothing) falls back to a compile
    monkeypatch.setattr(usdt_prog, "_built", {})
    monkeypatch.setenv("COREBPF_USDT_TARGET", str(exe))
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))    # and no compiler
    assert usdt_prog.missing() is None and usdt_prog.usdt_target() == str(exe)
    monkeypatch.setattr(usdt_prog, "_built", {})
    monkeypatch.setenv("COREBPF_USDT_TARGET", str(tmp_path))
    assert "no C compiler" in usdt_prog.missing()
    with pytest.raises(AssertionError, match="no C compiler"):
        usdt_prog.usdt_target()


# -- tests/vm/console: a guest's console read for what emulation does to its kernel ----------
# Real consoles from .ci/kernel-matrix runs on this machine (2026-12-05), cut to the lines
# around the event: 7.3.4's "Oops: int3" panic as memleak attached; 6.1 stuck at vfs_open's
# ftrace site (vfscount attaching) from 158 s to its 900-s timeout; arm64 6.1 ending with a
# failed test (stackcount's row), which is no reason to run the guest again.
CONSOLES = os.path.join(ROOT, "tests", "vm", "consoles")
CONSOLE = os.path.join(ROOT, "tests", "vm", "console")
console = _load("tests/vm/console", "vm_console")


def _lines(name):
    with open(os.path.join(CONSOLES, name), "rb") as f:
        return f.read().splitlines(keepends=True)


@pytest.mark.parametrize("name, cause", [
    ("int3-7.3.4.log", b"Oops: int3"),
    ("soft-lockup-6.1.log", b"BUG: soft lockup - CPU#1 stuck for 48s!"),
    ("test-failed-arm64-6.1.log", None),
])
def test_console_died_tells_an_emulated_kernel_failure_from_a_failed_test(name, cause):
    import subprocess
    p = subprocess.run([CONSOLE, "died", os.path.join(CONSOLES, name)], capture_output=True)
    if cause is None:
        assert p.returncode == 1 and p.stdout == b""
        assert console.died(_lines(name)) == []
    else:
        assert p.returncode == 0, p.stderr
        assert cause in p.stdout and len(p.stdout.splitlines()) <= 4


def test_console_stuck_for_reads_the_soft_lockup_reports():
    stuck = [console.stuck_for(l) for l in _lines("soft-lockup-6.1.log")]
    assert [s for s in stuck if s] == [48, 74, 104, 130, 23]


def _watch(tmp_path, script, **env):
    import subprocess
    log = tmp_path / "console.log"
    p = subprocess.run([CONSOLE, "watch", str(log), "--", "sh", "-c", script],
                       capture_output=True, timeout=120,
                       env={**os.environ, **{k: str(v) for k, v in env.items()}})
    return p, log.read_bytes()


def test_console_watch_ends_a_guest_stuck_for_vm_stuck_seconds(tmp_path):
    """The 6.1 console replayed by a 'guest' that then hangs as that one did:
    watch ends it at the 130-s report (VM_STUCK=120), not at its timeout."""
    src = os.path.join(CONSOLES, "soft-lockup-6.1.log")
    pidfile = tmp_path / "pid"
    p, log = _watch(tmp_path, f"echo $$ > {pidfile}; cat {src}; exec sleep 600", VM_STUCK=120)
    assert p.returncode == console.ENDED, p.stdout[-2000:]
    lines = _lines("soft-lockup-6.1.log")
    upto = next(i for i, l in enumerate(lines) if b"stuck for 130s" in l)
    assert log.startswith(b"".join(lines[:upto + 1]))
    shown = p.stdout.splitlines(keepends=True)
    assert shown[:-2] == [l for l in lines[:upto] if not console.KERNEL_LINE.match(l)]
    assert b"CPU stuck for 130 s (VM_STUCK=120): ending the guest" in shown[-2]
    with pytest.raises(ProcessLookupError):
        os.kill(int(pidfile.read_text()), 0)


def test_console_watch_passes_the_guest_and_its_status_through(tmp_path):
    """No CPU stuck as long as VM_STUCK: everything to the log, the tests'
    lines shown, the command's own exit status."""
    src = os.path.join(CONSOLES, "soft-lockup-6.1.log")
    p, log = _watch(tmp_path, f"cat {src}; exit 3", VM_STUCK=131)
    lines = _lines("soft-lockup-6.1.log")
    assert p.returncode == 3
    assert log == b"".join(lines)
    assert p.stdout.splitlines(keepends=True) == [
        l for l in lines if not console.KERNEL_LINE.match(l)]


def test_console_watch_ends_a_silent_guest_and_died_says_so(tmp_path):
    """A guest that prints nothing for VM_SILENT seconds (the 6.1 guest hung at
    vfscount's attach, silent from 160 s to its 900-s timeout) is ended, its
    processes gone, and `died` then counts it as an emulation failure (run
    once more); a guest that keeps printing is not ended."""
    import subprocess
    pidfile = tmp_path / "pid"
    p, log = _watch(tmp_path, f"echo $$ > {pidfile}; echo tests started; exec sleep 600",
                    VM_SILENT=2)
    assert p.returncode == console.ENDED, p.stdout
    assert log.startswith(b"tests started\n")
    assert b"printed nothing for 2 s (VM_SILENT=2): ending the guest" in log
    with pytest.raises(ProcessLookupError):
        os.kill(int(pidfile.read_text()), 0)
    d = subprocess.run([CONSOLE, "died", str(tmp_path / "console.log")], capture_output=True)
    assert d.returncode == 0 and b"printed nothing" in d.stdout
    p, log = _watch(tmp_path, "for i in 1 2 3 4 5 6; do echo $i; sleep 1; done; exit 4",
                    VM_SILENT=3)
    assert p.returncode == 4 and log == b"1\n2\n3\n4\n5\n6\n"
