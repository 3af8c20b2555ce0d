"""--containers (tools/_containers.py) on every event and histogram tool, or
a named reason why not (like test_json's allow-list: it only shrinks, and a
new tool is not on it); the option's text and JSON shapes; the exporter's
container_top fold.  The kernel tests (tests/kernel/test_containers.py)
run a real container."""
from __future__ import annotations

import importlib
import sys

import jsonschema
import pytest

from corebpf import tools
from corebpf.tools import _containers

from tests.unit.test_json import NO_JSON_YET

sys.path.insert(0, __file__.rsplit("/tests/", 1)[0] + "/scripts")
from manpages import tool_parser  # noqa: E402

NO_TASK = "no task's cgroup at the event"
# Event and histogram tools without --containers, each with its reason.
WITHOUT = {
    "hardirqs": NO_TASK + " (interrupt time)",
    "softirqs": NO_TASK + " (softirq time)",
    "softirqslower": NO_TASK + " (softirq time)",
    "runqlen": NO_TASK + " (run queue lengths sampled per CPU)",
    "wqlat": NO_TASK + " (work items run by kernel workers, in the root cgroup)",
    "tcpsynbl": NO_TASK + " (a listener's SYN backlog, at the SYN in softirq)",
    "tplist": "it lists tracepoints and USDT probes: it traces nothing",
    "ttysnoop": "it mirrors one tty's bytes (the tty is chosen, not a task): no per-event "
                "lines to put a container on",
}


def _kind(name):
    spec = getattr(importlib.import_module(f"corebpf.tools.{name}"), "JSON", None)
    return getattr(spec, "kind", None)


def _opts(name):
    parser = tool_parser(name)
    opts = {o for a in (parser._actions if parser else []) for o in a.option_strings}
    doc = importlib.import_module(f"corebpf.tools.{name}").__doc__ or ""
    if parser is None and "\n--containers" in doc:
        opts.add("--containers")    # bcc's bare usage line (mysqld_qslower): documented there
    return opts


@pytest.mark.parametrize("name", [n for n in tools.names() if n not in NO_JSON_YET])
def test_event_and_histogram_tools_have_containers(name):
    kind, opts = _kind(name), _opts(name)
    if kind not in ("events", "histograms"):
        assert name not in WITHOUT, f"{name} is no event or histogram tool: off WITHOUT"
        return
    if name in WITHOUT:
        assert "--containers" not in opts, \
            f"{name} has --containers now: take it off WITHOUT in {__file__}"
        return
    assert "--containers" in opts, f"{name}: no --containers (tools/_containers.py)"
    spec = importlib.import_module(f"corebpf.tools.{name}").JSON
    fields = spec.keys if kind == "histograms" else spec.fields
    assert any(f.name == "container" and f.optional for f in fields), \
        f"{name}: --containers but no optional container field in its JSON"


def test_without_names_real_tools():
    assert set(WITHOUT) <= set(tools.names()) and not set(WITHOUT) & NO_JSON_YET


class Names:
    """cgroups.CgroupNames' lookup()/path() over a fixed table (the real one
    walks cgroupfs: tests/kernel/test_containers.py)."""

    def __init__(self, paths):
        self.paths = paths

    def path(self, cgid):
        return self.paths.get(cgid)

    def lookup(self, cgid):
        from corebpf.core import cgroups
        p = self.paths.get(cgid)
        return cgroups.parse(p) if p else None


class Rec:
    def __init__(self, slots):
        self.slots = slots


CID = "ab" * 32


def test_sections_merge_by_container(monkeypatch):
    """Two cgroups of one container (podman's libpod-ID and a child) sum into
    one histogram; the root cgroup heads as "/" and is "" in JSON."""
    monkeypatch.setattr(_containers, "NAMES", Names({
        5: f"/libpod_parent/libpod-{CID}", 6: f"/libpod_parent/libpod-{CID}/sub",
        1: "/", 9: "/system.slice/cron.service"}))
    s = _containers.sections([(5, Rec([0, 1, 2])), (1, Rec([0, 0, 4])), (6, Rec([0, 3, 0])),
                              (9, Rec([1, 0, 0]))], lambda r: r.slots)
    assert s == [(CID, CID[:12], [0, 4, 2]), ("", "/", [0, 0, 4]),
                 ("/system.slice/cron.service", "/system.slice/cron.service", [1, 0, 0])]
    text = _containers.format_sections([(5, Rec([0, 1, 2]))], lambda r: r.slots, "usecs")
    assert text.startswith(f"\ncontainer = {CID[:12]}\n")


def test_histogram_json_validates(monkeypatch):
    from corebpf.tools import runqlat
    monkeypatch.setattr(_containers, "NAMES", Names({5: f"/libpod_parent/libpod-{CID}"}))
    d = runqlat.JSON.interval("usecs", [({"container": n}, [], None) for n, _, _ in
                                        _containers.sections([(5, Rec([0, 1]))],
                                                             lambda r: r.slots)])
    jsonschema.validate(d, runqlat.JSON.schema("runqlat"))
    assert d["histograms"][0]["container"] == CID


def test_column_first(monkeypatch):
    class A:
        containers = False
    assert _containers.column(A, "x\nPID", str) == ("x\nPID", str)
    A.containers = True
    monkeypatch.setattr(_containers, "NAMES", Names({5: f"/libpod_parent/libpod-{CID}"}))
    head, fmt = _containers.column(A, "Tracing\nPID", lambda e: ["1 a", "1 b"])
    assert head == "Tracing\n%-12s PID" % "CONTAINER"
    e = Rec([])
    e.cgroup = 5
    assert fmt(e) == [f"{CID[:12]} 1 a", f"{CID[:12]} 1 b"]


def test_exporter_container_top_folds_the_rest_into_other():
    from corebpf.exporter import collectors
    top = collectors.TopN(2)
    acc = {("a",): [[0, 5], 1], ("b",): [[0, 3], 2], ("c",): [[1, 0], 3], ("",): [[0, 1], 4]}
    out = collectors.fold_hists(top, acc)
    assert out == {("a",): [[0, 5], 1], ("b",): [[0, 3], 2], ("other",): [[1, 1], 7]}
    # admitted once, kept: a later, bigger newcomer goes to other, "b" keeps its series
    acc[("d",)] = [[0, 100], 5]
    out = collectors.fold_hists(top, acc)
    assert set(out) == {("a",), ("b",), ("other",)} and out[("other",)][0] == [1, 101]


def test_exporter_container_top_on_counters():
    from corebpf.exporter import collectors
    top = collectors.TopN(1)
    # by each container's total over all ops: a (10) beats b (7)
    acc = {("read", "a"): 5, ("write", "a"): 5, ("read", "b"): 7, ("read", ""): 1}
    assert collectors.fold_counts(top, acc) == {("read", "a"): 5, ("write", "a"): 5,
                                                ("read", "other"): 8}
