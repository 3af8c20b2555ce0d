"""corebpf.core.cgroups: cgroup paths -> containers (real-world path shapes),
and the id -> path walk on a cgroupfs-like tree (inode numbers)."""
from __future__ import annotations

import os

import pytest

from corebpf.core import cgroups
from corebpf.core.cgroups import Container, parse

ID = "3f4e8c1b0a9d47e2b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3"
UID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
UID_ = UID.replace("-", "_")


@pytest.mark.parametrize("path,want", [
    # docker: systemd and cgroupfs drivers
    (f"/system.slice/docker-{ID}.scope", Container("docker", ID)),
    (f"/docker/{ID}", Container("docker", ID)),
    # podman: systemd (rootful, rootless, in a pod) and cgroupfs
    (f"/machine.slice/libpod-{ID}.scope", Container("podman", ID)),
    (f"/machine.slice/libpod-{ID}.scope/container", Container("podman", ID)),
    (f"/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{ID}.scope",
     Container("podman", ID)),
    (f"/machine.slice/machine-libpod_pod_{ID[:12]}.slice/libpod-{ID}.scope",
     Container("podman", ID)),
    (f"/libpod_parent/libpod-{ID}", Container("podman", ID)),
    # Kubernetes: containerd and cri-o under the systemd driver, cgroupfs driver
    (f"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{UID_}.slice/"
     f"cri-containerd-{ID}.scope", Container("containerd", ID, UID)),
    (f"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{UID_}.slice/"
     f"crio-{ID}.scope", Container("cri-o", ID, UID)),
    (f"/kubepods.slice/kubepods-pod{UID_}.slice/crio-{ID}.scope", Container("cri-o", ID, UID)),
    (f"/kubepods/burstable/pod{UID}/{ID}", Container("kubernetes", ID, UID)),
    (f"/kubepods/pod{UID}/{ID}", Container("kubernetes", ID, UID)),
    # containerd without Kubernetes (nerdctl; ctr's namespace directory)
    (f"/system.slice/nerdctl-{ID}.scope", Container("containerd", ID)),
    (f"/default/{ID}", Container("containerd", ID)),
    # systemd-nspawn / machinectl
    ("/machine.slice/machine-debian12.scope", Container("systemd", "debian12")),
    # a pod's own slice (its pause/infra processes): the pod UID only
    (f"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{UID_}.slice",
     Container("kubernetes", "", UID)),
    # the host
    ("/", None),
    ("/system.slice/ssh.service", None),
    ("/user.slice/user-1000.slice/session-3.scope", None),
    (f"/{ID}", None),                      # a bare id at the top: no runtime's layout
    ("/system.slice/docker-notanid.scope", None),
])
def test_parse(path, want):
    assert parse(path) == want


def test_labels():
    assert Container("docker", ID).label() == ID[:12]
    assert Container("systemd", "debian12").label() == "debian12"
    assert Container("kubernetes", "", UID).label() == "pod" + UID


def test_walk_maps_inodes_and_refreshes_on_a_miss(tmp_path, monkeypatch):
    """Ids are directory inode numbers; a directory made after the first walk
    is found on a later miss, but not sooner than `refresh` after the last walk."""
    v2 = tmp_path / "unified"
    (v2 / "system.slice").mkdir(parents=True)
    pids = tmp_path / "pids"
    (pids / "libpod_parent" / f"libpod-{ID}").mkdir(parents=True)
    clock = [100.0]
    monkeypatch.setattr(cgroups.time, "monotonic", lambda: clock[0])
    names = cgroups.CgroupNames(refresh=1.0, mounts={"v2": str(v2), "pids": str(pids)})

    v1_id = os.stat(pids / "libpod_parent" / f"libpod-{ID}").st_ino | cgroups.CGROUP_ID_V1
    assert names.lookup(v1_id) == Container("podman", ID)
    assert names.path(os.stat(v2 / "system.slice").st_ino) == "/system.slice"
    assert names.path(os.stat(v2).st_ino) == "/"
    # the same inode number without the v1 bit is looked up in the v2 tree
    assert names.lookup(v1_id & ~cgroups.CGROUP_ID_V1) is None

    (v2 / "docker").mkdir()
    (v2 / "docker" / ID).mkdir()
    new = os.stat(v2 / "docker" / ID).st_ino
    assert names.lookup(new) is None           # walked less than a second ago
    clock[0] += 1.0
    assert names.lookup(new) == Container("docker", ID)
    assert names.lookup(0) is None


def test_an_id_above_the_last_walk_walks_again_sooner(tmp_path, monkeypatch):
    """kernfs ids grow: an id above all the last walk saw is a new cgroup (a
    container just started) and is worth a walk after NEW_GAP; an unknown id
    below (a cgroup removed before any walk) waits for `refresh`."""
    (tmp_path / "a").mkdir()
    clock = [100.0]
    monkeypatch.setattr(cgroups.time, "monotonic", lambda: clock[0])
    names = cgroups.CgroupNames(refresh=1.0, mounts={"v2": str(tmp_path)})
    assert names.path(os.stat(tmp_path / "a").st_ino) == "/a"
    walks = []
    monkeypatch.setattr(names, "_walk", lambda v1: walks.append(clock[0]))
    top = names.max_ino[False]
    clock[0] += names.NEW_GAP + 0.01
    low = next(i for i in range(top - 1, 0, -1) if (False, i) not in names.paths)
    assert names.path(low) is None
    assert walks == []
    assert names.path(top + 1000) is None
    assert walks == [clock[0]]


def test_mount_points_of_this_machine():
    """The v2 hierarchy, or a v1 pids/memory one, is found in mountinfo."""
    m = cgroups._mount_points()
    assert "v2" in m or "pids" in m or "memory" in m
