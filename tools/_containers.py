"""--containers: one mechanism for every event tool whose BPF object includes
cgroupid.bpf.h and whose records carry its id as `cgroup`.

    _containers.add_args(p)                  # in parse()
    _containers.apply(obj, a)                # before load: targ_containers
    _containers.FIELD                        # in the tool's _jsonl.Events fields
    _containers.header(a), _containers.text(a, e)    # the CONTAINER column
    header, fmt = _containers.column(a, header, fmt)  # ... or as the first column

Histogram tools (one histogram per container, like bcc's -P/-D):

    _containers.add_args(p, per_histogram=True)  # --containers (in -P/-L's group)
    _containers.apply(obj, a)                    # targ_containers: the map key is the cgroup id
    _containers.sections(items, slots)           # [(name, heading, slots)], merged by name
    _containers.KEY                              # in the tool's _jsonl.Histograms keys

Text: a `container = NAME` heading per histogram (NAME as in the column,
"/" for the root cgroup); --json: the `container` key of each histogram.

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


def add_args(parser, per_histogram: bool = False):
    """--containers on `parser` (or an argparse group: a histogram tool puts it
    in the group of its -P/-L, one key per histogram)."""
    if per_histogram:
        parser.add_argument("--containers", action="store_true",
                            help="print a histogram per container (or cgroup)")
    else:
        parser.add_argument("--containers", action="store_true",
                            help="show each event's container (or cgroup): a CONTAINER "
                                 "column, a container field in --json")


def apply(obj, args, io: bool = False):
    """Before load: make the BPF side record each event's cgroup id (io: a
    block request's cgroup, rq_cgroup_id(): ids of the blkio/io hierarchy)."""
    if not getattr(args, "containers", False):
        return
    obj.rodata.targ_containers = True
    names(args, io)


def names(args, io: bool = False):
    """apply() for programs generated at run time (corebpf.compiler: no
    rodata; their generator reads the id, CodeGen.task_cgroup_id(), when
    args.containers): the id -> name map of this run."""
    global NAMES
    if not getattr(args, "containers", False):
        return
    from corebpf.core import cgroups
    NAMES = cgroups.CgroupNames(controllers=cgroups.IO_CONTROLLERS if io else
                                 cgroups.TASK_CONTROLLERS)


def sections(items, slots) -> list:
    """One interval's per-container histograms: items [(cgroup id, value)]
    of the tool's map, slots(value) -> slot counts; ids naming the same
    container (or path) are summed.  [(full name, text heading, slots)] in
    the order first seen; the full name is --json's ("" for the root
    cgroup), the heading the CONTAINER column's ("/" for the root)."""
    return [(full, head, s) for full, head, _, s in
            sections_by([(cgid, None, v) for cgid, v in items], slots)]


def sections_by(items, slots) -> list:
    """sections() of a map keyed by (cgroup id, another key): items
    [(cgroup id, key, value)] -> [(full name, heading, key, slots)], summed
    per (container, key), in the order first seen."""
    out = {}
    for cgid, key, v in items:
        full = _name(cgid, True)
        cur = out.get((full, key))
        if cur is None:
            out[(full, key)] = [_name(cgid, False) or "/", list(slots(v))]
        else:
            acc = cur[1]
            for i, n in enumerate(slots(v)):
                acc[i] += n
    return [(full, head, key, s) for (full, key), (head, s) in out.items()]


def groups(items, slots) -> list:
    """sections_by() grouped by container, for tools printing several
    histograms (keys) per container: [(full name, text heading
    "\\ncontainer = NAME\\n", [(key, slots)])] in the order first seen."""
    out = {}
    for full, head, key, s in sections_by(items, slots):
        out.setdefault((full, head), []).append((key, s))
    return [(full, "\ncontainer = %s\n" % escape(head), keyed)
            for (full, head), keyed in out.items()]


def short_name(cgid: int) -> str:
    """The CONTAINER column's name of an id (12-digit id, path, "" for the
    root cgroup), unpadded and not yet escaped."""
    return _name(cgid, False)


def full_name(cgid: int) -> str:
    """--json's name of an id: the container's full id, else the cgroup
    path, "" for the root cgroup (what sections() merges by)."""
    return _name(cgid, True)


def escape(text: str) -> str:
    """A cgroup path (directory names other users chose) for the terminal."""
    from corebpf.core import untrusted
    return untrusted.escape(text)


def format_sections(items, slots, label: str) -> str:
    """The text of sections(): bcc's `container = NAME` headings."""
    from corebpf import histogram
    return histogram.format_sections([(h, s) for _, h, s in sections(items, slots)], label,
                                     "container", escape)


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
    return cgroup_text(args, e.cgroup)


def cgroup_text(args, cgid: int) -> str:
    """The CONTAINER column of cgroup id `cgid` ("" without --containers)."""
    if not getattr(args, "containers", False):
        return ""
    return "%-*s " % (WIDTH, escape(_name(cgid, False)))


def column(args, header_text: str, fmt):
    """An event tool's text output with the CONTAINER column first: its
    header text (the column line is the last line) and fmt(record) -> line,
    list of lines or None (nothing), unchanged without --containers."""
    if not getattr(args, "containers", False):
        return header_text, fmt
    *first, cols = header_text.split("\n")
    cols = header(args) + cols

    def with_column(e):
        line = fmt(e)
        if line is None:
            return None
        col = text(args, e)
        if isinstance(line, list):          # several lines for one record
            return [col + x for x in line]
        return col + line
    return "\n".join([*first, cols]), with_column


def json_value(e):
    return None if NAMES is None else _name(e.cgroup, True)


FIELD = _jsonl.Field("container", "string", "with --containers: the container's full id "
                     "(docker, containerd, cri-o, podman, Kubernetes, systemd machines), "
                     "else the cgroup path, \"\" for the root cgroup", get=json_value,
                     optional=True, absent=lambda: NAMES is None)

KEY = _jsonl.Field("container", "string", "with --containers: the histogram's container (its "
                   "full id), else its cgroup path, \"\" for the root cgroup", optional=True)
