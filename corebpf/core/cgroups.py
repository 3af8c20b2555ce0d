"""Cgroup ids -> containers, for --containers and the exporter's label.

The BPF side (bpf_src/cgroupid.bpf.h) hands over one u64 per event:
the task's v2 cgroup id, or, with CGROUP_ID_V1 set, the kernfs id of its
cgroup in the v1 hierarchy of the pids (else memory) controller.  A kernfs
id is the cgroup directory's inode number on cgroupfs, so user space maps
ids to paths by walking that hierarchy's directories; the path names the
container (parse()).  The walk is cached and redone on a miss at most once
a second: no per-event /proc scans.
"""
from __future__ import annotations

import os
import re
import time
from typing import NamedTuple, Optional

CGROUP_ID_V1 = 1 << 63
TASK_CONTROLLERS = ("pids", "memory")       # task_cgroup_id()'s v1 choice, in its order
IO_CONTROLLERS = ("blkio", "io")             # rq_cgroup_id(): a request's blkcg


class Container(NamedTuple):
    runtime: str            # docker, containerd, cri-o, podman, kubernetes, systemd
    id: str                 # the container id (64 hex digits for OCI runtimes), or the path
    pod: str = ""           # the Kubernetes pod UID when the path carries one

    def label(self) -> str:
        """What a CONTAINER column shows: a 64-hex id as its 12-digit short
        form (docker ps, podman ps), else the id (or pod UID) as it is."""
        if re.fullmatch(_HEX64, self.id):
            return self.id[:12]
        return self.id or "pod" + self.pod


_HEX64 = r"[0-9a-f]{64}"
_UID = r"[0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12}"
# A Kubernetes pod: cgroupfs "pod<uid>", systemd "kubepods-<qos>-pod<uid with _>.slice".
_POD = re.compile(r"(?:.*-)?pod(" + _UID + r")(?:\.slice)?")
# One path component naming a container: (runtime, regex with the id as group 1).
_SCOPES = [
    ("docker", re.compile(r"docker-(" + _HEX64 + r")\.scope")),
    ("containerd", re.compile(r"cri-containerd-(" + _HEX64 + r")\.scope")),
    ("cri-o", re.compile(r"crio-(" + _HEX64 + r")\.scope")),
    ("podman", re.compile(r"libpod-(" + _HEX64 + r")(?:\.scope)?")),
    ("containerd", re.compile(r"nerdctl-(" + _HEX64 + r")\.scope")),
    ("systemd", re.compile(r"machine-(?!libpod)(.+)\.scope")),       # systemd-nspawn, machinectl
]
# cgroupfs drivers: a bare 64-hex directory, the runtime named by the top directory.
_PARENTS = {"docker": "docker", "libpod_parent": "podman", "kubepods": "kubernetes",
            "kubepods.slice": "kubernetes"}


def parse(path: str) -> Optional[Container]:
    """The container a cgroup path belongs to, or None for a host cgroup.

    Layouts: docker (/system.slice/docker-ID.scope, /docker/ID), containerd
    (.../cri-containerd-ID.scope, nerdctl-ID.scope, /NAMESPACE/ID), cri-o
    (.../crio-ID.scope), podman (/machine.slice/libpod-ID.scope,
    /libpod_parent/libpod-ID, rootless under user@UID.service), Kubernetes
    (/kubepods/QOS/podUID/ID, kubepods-QOS-podUID.slice/...), systemd
    (machine-NAME.scope); a pod's UID wherever the path carries one.
    """
    parts = [p for p in path.split("/") if p]
    pod = ""
    for p in parts:
        m = _POD.fullmatch(p)
        if m:
            pod = m.group(1).replace("_", "-")
    for i in range(len(parts) - 1, -1, -1):            # innermost first
        p = parts[i]
        for runtime, rx in _SCOPES:
            m = rx.fullmatch(p)
            if m:
                return Container(runtime, m.group(1), pod)
        if i > 0 and re.fullmatch(_HEX64, p):
            top = parts[0]
            if pod:
                return Container(_PARENTS.get(top, "kubernetes"), p, pod)
            return Container(_PARENTS.get(top, "containerd"), p, pod)
    if pod:
        return Container("kubernetes", "", pod)
    return None


def _mount_points() -> dict:
    """{"v2": dir, CONTROLLER: dir...} (each v1 hierarchy) from /proc/self/mountinfo."""
    out = {}
    try:
        with open("/proc/self/mountinfo", "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return out
    for line in lines:
        pre, _, post = line.partition(" - ")
        fields, post = pre.split(), post.split()
        if len(fields) < 5 or len(post) < 3:
            continue
        mnt = fields[4].replace("\\040", " ")
        if post[0] == "cgroup2":
            out.setdefault("v2", mnt)
        elif post[0] == "cgroup":
            for c in post[2].split(","):
                out.setdefault(c, mnt)
    return out


class CgroupNames:
    """id (as cgroupid.bpf.h gives it) -> Container or a cgroup path.

    lookup() walks the hierarchy again on a miss, at most once per
    `refresh` seconds; sooner (NEW_GAP) only for an id above every id the
    last walk saw: kernfs hands out ids in increasing order, so that is a
    cgroup made since (a container just started), which only a walk can
    name.  Ids of cgroups removed before the walk stay unnamed (None)."""

    NEW_GAP = 0.05

    def __init__(self, refresh: float = 1.0, mounts: Optional[dict] = None,
                 controllers=TASK_CONTROLLERS):
        """controllers: the v1 hierarchy ids with CGROUP_ID_V1 belong to (the
        first of these mounted): TASK_CONTROLLERS for task_cgroup_id(),
        IO_CONTROLLERS for rq_cgroup_id()."""
        self.refresh = refresh
        self.mounts = _mount_points() if mounts is None else mounts
        v1 = next((self.mounts[c] for c in controllers if c in self.mounts), None)
        self.roots = {False: self.mounts.get("v2"), True: v1}
        self.paths = {}             # (v1?, inode) -> path relative to the root
        self.walked = {False: -1e9, True: -1e9}
        self.max_ino = {False: 0, True: 0}
        self.cache = {}

    def _walk(self, v1: bool):
        root = self.roots[v1]
        self.walked[v1] = time.monotonic()
        if not root:
            return
        for dirpath, dirs, _files in os.walk(root):
            try:
                ino = os.stat(dirpath, follow_symlinks=False).st_ino
            except OSError:
                continue
            rel = "/" + os.path.relpath(dirpath, root) if dirpath != root else "/"
            self.paths[(v1, ino)] = rel.replace("/./", "/")
            self.max_ino[v1] = max(self.max_ino[v1], ino)

    def path(self, cgid: int) -> Optional[str]:
        """The cgroup path of an id, or None when no walk found it."""
        v1 = bool(cgid & CGROUP_ID_V1)
        key = (v1, cgid & ~CGROUP_ID_V1)
        p = self.paths.get(key)
        if p is None:
            age = time.monotonic() - self.walked[v1]
            if age >= self.refresh or (key[1] > self.max_ino[v1] and age >= self.NEW_GAP):
                self._walk(v1)
                p = self.paths.get(key)
        return p

    def lookup(self, cgid: int) -> Optional[Container]:
        """The container of an id; None for a host cgroup (or 0: no id)."""
        if not cgid:
            return None
        if cgid in self.cache:
            return self.cache[cgid]
        p = self.path(cgid)
        if p is None:
            return None                 # not cached: a later walk may find it
        c = parse(p)
        self.cache[cgid] = c
        return c

    def label(self, cgid: int) -> str:
        c = self.lookup(cgid)
        return c.label() if c else ""
