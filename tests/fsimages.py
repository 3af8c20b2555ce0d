"""Real file systems for the file system tools' tests: an image file on
/var/tmp made with the file system's own mkfs and mounted through a loop
device, or an NFS export of a directory mounted over 127.0.0.1 with the
kernel's NFS server (nfs-kernel-server's daemons, started and stopped here).
Names (images, mount points, export paths) carry the PID and a random
suffix, so tests running at the same time never share one; everything is
unmounted and removed on exit, also when the test fails.

A file system the kernel does not have (after trying to load its module)
is a skip that names it, decided by corebpf.features.filesystem."""
from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
import uuid

import pytest

from corebpf import features

SCRATCH = "/var/tmp"
MKFS = {"xfs": ["mkfs.xfs", "-q", "-f"], "btrfs": ["mkfs.btrfs", "-q", "-f"],
        "f2fs": ["mkfs.f2fs", "-q", "-f"], "ext4": ["mkfs.ext4", "-q", "-F"]}
SIZE_MB = {"xfs": 320, "btrfs": 160, "f2fs": 128, "ext4": 64}


def _tag() -> str:
    return "%d_%s" % (os.getpid(), uuid.uuid4().hex[:6])


def load_module(name: str) -> bool:
    """modprobe `name` (in a kernel-matrix guest, from its module tree too)."""
    for root in (None, os.environ.get("COREBPF_VM_MODULES")):
        cmd = ["modprobe", *(["-d", root] if root else []), name]
        try:
            if subprocess.run(cmd, capture_output=True, timeout=60).returncode == 0:
                return True
        except (OSError, subprocess.TimeoutExpired):
            pass
    return False


def require_filesystem(fstype: str, module: str = None):
    """Skip (naming it) unless the kernel has `fstype`, loading its module first."""
    if not features.filesystem(fstype):
        load_module(module or fstype)
    if not features.filesystem(fstype):
        pytest.skip(f"this kernel has no {fstype} file system "
                    f"(corebpf.features.filesystem('{fstype}'))")


def _run(*cmd, timeout=120):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr.strip()}")
    return p.stdout


def _umount(path: str):
    for _ in range(20):
        if subprocess.run(["umount", path], capture_output=True).returncode == 0:
            return
        if not os.path.ismount(path):
            return
        time.sleep(0.25)
    subprocess.run(["umount", "-l", path], capture_output=True)


@contextlib.contextmanager
def loop_fs(fstype: str, size_mb: int = None):
    """A fresh `fstype` file system on a loop device; yields its mount point."""
    require_filesystem(fstype)
    load_module("loop")
    tag = _tag()
    image = os.path.join(SCRATCH, f"corebpf_{fstype}_{tag}.img")
    mnt = tempfile.mkdtemp(prefix=f"corebpf_{fstype}_{tag}_")
    try:
        with open(image, "wb") as f:
            f.truncate((size_mb or SIZE_MB[fstype]) << 20)
        _run(*MKFS[fstype], image)
        _run("mount", "-t", fstype, "-o", "loop", image, mnt)
        try:
            os.chmod(mnt, 0o1777)
            yield mnt
        finally:
            _umount(mnt)
    finally:
        with contextlib.suppress(OSError):
            os.rmdir(mnt)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(image)


# -- NFS over 127.0.0.1 ------------------------------------------------------------------

NFS_STATE = "/var/lib/nfs"


@contextlib.contextmanager
def _private_tmpfs(path: str):
    """A tmpfs over `path` for the test's lifetime (the daemons' state: /var/lib/nfs
    may be read-only, as in a kernel-matrix guest, or in use by the machine's own)."""
    os.makedirs(path, exist_ok=True)
    _run("mount", "-t", "tmpfs", "-o", "size=8m", "corebpf_nfs", path)
    try:
        yield path
    finally:
        _umount(path)


def _nfsd_running() -> bool:
    try:
        with open("/proc/fs/nfsd/threads") as f:
            return int(f.read().strip() or 0) > 0
    except (OSError, ValueError):
        return False


@contextlib.contextmanager
def nfs_mount(version: str = "4.2"):
    """Export a fresh directory with the kernel NFS server (NFSv4 only: no
    rpcbind) and mount it over 127.0.0.1; yields the client mount point.
    Refuses (skips, naming it) to take over an NFS server already running."""
    require_filesystem("nfsd")
    require_filesystem("nfs4", "nfsv4")
    for tool in ("rpc.nfsd", "rpc.mountd", "exportfs"):
        if not shutil.which(tool):
            raise AssertionError(f"{tool} missing: the tests need nfs-kernel-server (README)")
    if not os.path.ismount("/proc/fs/nfsd"):
        _run("mount", "-t", "nfsd", "nfsd", "/proc/fs/nfsd")
    if _nfsd_running():
        pytest.skip("an NFS server already runs on this machine (/proc/fs/nfsd/threads)")
    tag = _tag()
    export = tempfile.mkdtemp(prefix=f"corebpf_nfs_export_{tag}_", dir=SCRATCH)
    mnt = tempfile.mkdtemp(prefix=f"corebpf_nfs_{tag}_")
    os.chmod(export, 0o1777)
    mountd = None
    with contextlib.ExitStack() as stack:
        stack.callback(shutil.rmtree, export, True)
        stack.callback(os.rmdir, mnt)
        stack.enter_context(_private_tmpfs(NFS_STATE))
        os.makedirs(os.path.join(NFS_STATE, "v4recovery"), exist_ok=True)
        for name in ("etab", "rmtab"):
            open(os.path.join(NFS_STATE, name), "w").close()
        opts = "rw,sync,no_subtree_check,no_root_squash,insecure,fsid=%d" % (os.getpid() % 60000 + 1)
        _run("exportfs", "-i", "-o", opts, f"127.0.0.1:{export}")
        stack.callback(subprocess.run, ["exportfs", "-u", f"127.0.0.1:{export}"],
                       capture_output=True)
        mountd = subprocess.Popen(["rpc.mountd", "-F", "-N", "3", "--no-udp"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        stack.callback(_stop, mountd)
        for knob in ("nfsv4leasetime", "nfsv4gracetime"):     # opens wait out the grace
            with contextlib.suppress(OSError):                 # period: 10 s, not 90
                with open(f"/proc/fs/nfsd/{knob}", "w") as f:
                    f.write("10")
        _run("rpc.nfsd", "-N", "3", "--no-udp", "4")
        stack.callback(subprocess.run, ["rpc.nfsd", "0"], capture_output=True)
        err = None
        for _ in range(40):         # mountd and the grace period take a moment
            p = subprocess.run(["mount", "-t", "nfs4", "-o", f"vers={version},proto=tcp",
                                f"127.0.0.1:{export}", mnt], capture_output=True, text=True,
                               timeout=120)
            if p.returncode == 0:
                break
            err = p.stderr.strip()
            time.sleep(0.5)
        else:
            raise AssertionError(f"NFS mount of 127.0.0.1:{export} failed: {err}")
        stack.callback(_umount, mnt)
        yield mnt


def _stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
