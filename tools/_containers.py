"""--containers: one mechanism for every event tool whose BPF object includes
cgroupid.bpf.h and whose records carry its id as `cgroup`.

    _containers.add_args(p)                  # in parse()
    _containers.apply(obj, a)                # before load: targ_containers
    _containers.FIELD                        # in the tool's _jsonl.Events fields
    _containers.header(a), _containers.text(a, e)    # the CONTAINER column

Text: a CONTAINER column (the 12-digit short id of a container, else the
cgroup path, empty for the root cgroup: a host process).  --json: a
`container` field (the full id, the path, or "" likewise), present only with
--containers.  Ids map to names through corebpf.core.cgroups.CgroupNames
(a cached walk of cgroupfs, redone on a miss at most once a second).
"""
from __future__ import annotations

from . import _jsonl

NAMES = None        # the CgroupNames of this run, when --containers is on
WIDTH = 12


def add_args(parser):
    parser.add_argument("--containers", action="store_true",
                        help="show each event's container (or cgroup): a CONTAINER column, "
                             "a container field in --json")


def apply(obj, args):
    """Before load: make the BPF side record each event's cgroup id."""
    global NAMES
    if not getattr(args, "containers", False):
        return
    from corebpf.core import cgroups
    obj.rodata.targ_containers = True
    NAMES = cgroups.CgroupNames()


def _name(cgid: int, full: bool) -> str:
    c = NAMES.lookup(cgid)
    if c is not None:
        return c.id if full and c.id else c.label()
    p = NAMES.path(cgid)
    return "" if p in (None, "/") else p


def header(args) -> str:
    return "%-*s " % (WIDTH, "CONTAINER") if getattr(args, "containers", False) else ""


def text(args, e) -> str:
    if not getattr(args, "containers", False):
        return ""
    from corebpf.core import untrusted
    return "%-*s " % (WIDTH, untrusted.escape(_name(e.cgroup, False)))


def json_value(e):
    return None if NAMES is None else _name(e.cgroup, True)


FIELD = _jsonl.Field("container", "string", "with --containers: the container's full id "
                     "(docker, containerd, cri-o, podman, Kubernetes, systemd machines), "
                     "else the cgroup path, \"\" for the root cgroup", get=json_value,
                     optional=True)
