"""Flame graphs, heat maps and pprof profiles made by the tools on the real
kernel, looked at the way people look at them: the SVGs are loaded in
headless Chromium and checked through the DOM (frames for the expected
functions, widths proportional to counts, zoom and search; heat map cells
per interval), with a screenshot kept in the test's temporary directory; the
pprof profiles are read back by the protobuf parser and by `go tool pprof`."""
from __future__ import annotations

import os
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

from corebpf import features
from corebpf.report import flamegraph, pprof
from tests.browser import Browser
from tests.helpers import run_tool
from tests.kernel.test_unwind import CHAIN, folded_stacks, start

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

FRAMES_JS = """Array.from(document.querySelectorAll('g.f')).filter(
  g => !g.classList.contains('hide')).map(g => ({
    name: g.dataset.name, kind: g.dataset.kind, v: +g.dataset.v,
    w: g.querySelector('rect').getBoundingClientRect().width,
    x: g.querySelector('rect').getBoundingClientRect().x,
    fill: getComputedStyle(g.querySelector('rect')).fill}))"""


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with Browser(tmp_path_factory.mktemp("chromium")) as b:
        yield b


@pytest.fixture
def spinner(unwindprog):
    p = start(unwindprog["eh"], "spin")
    yield p
    p.kill()
    p.wait()


def test_profile_flame_graph_in_chromium(spinner, browser, tmp_path):
    if not features.task_pt_regs():
        pytest.skip("kernel lacks bpf_task_pt_regs (5.15): no --unwind dwarf")
    svg = tmp_path / "profile.svg"
    rc, out, err = run_tool("profile", "--unwind", "dwarf", "-p", spinner.pid, "-F", "99",
                            "-f", "--svg", svg, "2")
    assert rc == 0, err
    folded_total = sum(v for _, v in folded_stacks(out))
    ET.parse(svg)                                   # well-formed XML
    browser.open(svg)
    browser.screenshot(tmp_path / "profile.png")
    frames = browser.eval(FRAMES_JS)
    total = browser.eval("+document.getElementById('flamegraph').dataset.total")
    plot = browser.eval("+document.getElementById('flamegraph').dataset.plotWidth")
    assert total == folded_total
    names = {f["name"] for f in frames}
    assert set(CHAIN) <= names and "unwindprog" in names, names
    for f in frames:                                # width = share of the plot, +-1 px
        assert abs(f["w"] - f["v"] / total * plot) <= 1.0, f
    root = next(f for f in frames if f["name"] == "all")
    assert abs(root["w"] - plot) <= 1.0
    # zoom into unwind_f4: it fills the plot, its ancestors stay (dimmed), the rest hide
    browser.eval("document.querySelector('g.f[data-name=\"unwind_f4\"]')"
                 ".dispatchEvent(new MouseEvent('click'))")
    zoomed = browser.eval(FRAMES_JS)
    f4 = [f for f in zoomed if f["name"] == "unwind_f4"]
    assert f4 and abs(f4[0]["w"] - plot) <= 1.0, f4
    assert {"unwind_f8", "unwind_f1", "all"} <= {f["name"] for f in zoomed}
    browser.screenshot(tmp_path / "profile-zoomed.png")
    browser.eval("document.getElementById('unzoom').dispatchEvent(new MouseEvent('click'))")
    assert len(browser.eval(FRAMES_JS)) == len(frames)
    # search: the chain's share, highlighted
    got = browser.eval("search('^unwind_f[1-8]$')")
    f1 = next(f for f in frames if f["name"] == "unwind_f1")
    assert got == f1["v"]
    text = browser.eval("document.getElementById('matched').textContent")
    assert text == "Matched: %.1f%%" % (100 * f1["v"] / total)
    hits = browser.eval("Array.from(document.querySelectorAll('g.f rect')).filter("
                        "r => r.getAttribute('fill') === 'rgb(230,0,230)').length")
    assert hits == sum(1 for f in frames if f["name"] in CHAIN)
    browser.screenshot(tmp_path / "profile-search.png")


def test_kernel_and_user_frames_coloured_apart_and_hostile_names(browser, tmp_path):
    """A rendered graph of made-up stacks: kernel frames get the kernel palette,
    and symbol names that are markup or control bytes stay text."""
    evil = '<script>alert("x")</script>&amp;\x01\x1b[31m'
    stacks = [([("app", "process"), ("main", "user"), (evil, "user"),
                ("do_syscall_64", "kernel"), ("vfs_read", "kernel")], 30),
              ([("app", "process"), ("main", "user"), ("compute", "user")], 70)]
    svg = tmp_path / "evil.svg"
    svg.write_text(flamegraph.render(stacks, title="t <b>", unit="samples"))
    ET.parse(svg)
    browser.open(svg)
    browser.screenshot(tmp_path / "evil.png")
    assert browser.eval("document.querySelectorAll('script').length") == 1
    assert browser.eval("document.querySelectorAll('b').length") == 0
    frames = browser.eval(FRAMES_JS)
    names = {f["name"] for f in frames}
    assert '<script>alert("x")</script>&amp;\\x01\\x1b[31m' in names, names
    import re

    def rgb(f):
        return tuple(int(x) for x in re.findall(r"\d+", f["fill"]))
    for f in frames:
        r, g, b = rgb(f)
        if f["kind"] == "kernel":
            assert r >= 200 and 90 <= g <= 155 and 20 <= b <= 50, f
        elif f["kind"] == "user":
            assert r >= 205 and b <= 55, f
    assert any(f["kind"] == "kernel" for f in frames)
    main = next(f for f in frames if f["name"] == "main")
    compute = next(f for f in frames if f["name"] == "compute")
    assert abs(compute["w"] / main["w"] - 0.7) < 0.01


def _dd():
    path = f"/var/tmp/corebpf-heat-{os.getpid()}"
    p = subprocess.Popen(["dd", "if=/dev/zero", f"of={path}", "bs=4k", "count=1000000",
                          "oflag=direct"], stderr=subprocess.DEVNULL)
    return p, path


def test_biolatency_heat_map_in_chromium(browser, tmp_path):
    svg = tmp_path / "biolatency.svg"
    dd, path = _dd()
    try:
        rc, out, err = run_tool("biolatency", "--heatmap", svg, "1", "4")
    finally:
        dd.kill()
        dd.wait()
        os.unlink(path)
    assert rc == 0, err
    printed = sum(int(l.split(":")[1].split("|")[0]) for l in out.splitlines()
                  if "->" in l and ":" in l)
    ET.parse(svg)
    browser.open(svg)
    browser.screenshot(tmp_path / "biolatency.png")
    cols = browser.eval("+document.getElementById('heatmap').dataset.columns")
    rows = browser.eval("+document.getElementById('heatmap').dataset.rows")
    cells = browser.eval("Array.from(document.querySelectorAll('rect.c')).map(c => ({t: "
                         "+c.dataset.t, b: +c.dataset.b, n: +c.dataset.n, "
                         "w: c.getBoundingClientRect().width, "
                         "fill: getComputedStyle(c).fill}))")
    assert 4 <= cols <= 5                            # one column per second of 4 s
    assert len(cells) == cols * rows
    for t in range(cols):                           # every interval has a full column
        assert sum(1 for c in cells if c["t"] == t) == rows
    assert sum(c["n"] for c in cells) == printed     # what the text printed, all of it
    assert all(c["w"] > 5 for c in cells)
    busy = [c for c in cells if c["n"]]
    assert busy and all(c["fill"] != "rgb(255, 255, 255)" for c in busy)
    assert all(c["fill"] == "rgb(255, 255, 255)" for c in cells if not c["n"])
    assert sum(1 for t in range(cols) if any(c["n"] for c in cells if c["t"] == t)) >= 3


@pytest.mark.parametrize("tool,args", [
    ("runqlat", ["3", "1"]),
    ("cpudist", ["3", "1"]),
    ("ext4dist", ["3", "1"]),
    ("fsdist", ["-t", "ext4", "3", "1"]),      # the fs *dist tools share this path (_fs)
    ("funclatency", ["-d", "3", "c:malloc"]),
])
def test_heat_map_of_each_histogram_tool(tool, args, tmp_path):
    svg = tmp_path / f"{tool}.svg"
    work = None
    if tool in ("ext4dist", "fsdist"):
        work = subprocess.Popen(["sh", "-c", f"for i in $(seq 300); do echo x > "
                                 f"/var/tmp/corebpf-e4-{os.getpid()}; cat "
                                 f"/var/tmp/corebpf-e4-{os.getpid()} >/dev/null; sleep 0.01; "
                                 f"done; rm -f /var/tmp/corebpf-e4-{os.getpid()}"])
    try:
        rc, out, err = run_tool(tool, "--heatmap", svg, *args)
    finally:
        if work:
            work.wait()
    assert rc == 0, err
    root = ET.parse(svg).getroot()
    cols = int(root.get("data-columns"))
    assert 3 <= cols <= 4, cols
    cells = [c for c in root.iter("{http://www.w3.org/2000/svg}rect") if c.get("class") == "c"]
    assert len(cells) == cols * int(root.get("data-rows"))
    assert sum(int(c.get("data-n")) for c in cells) == int(root.get("data-total")) > 0


def test_pprof_round_trip_and_go_tool_pprof(spinner, tmp_path):
    if not features.task_pt_regs():
        pytest.skip("kernel lacks bpf_task_pt_regs (5.15): no --unwind dwarf")
    out_pb = tmp_path / "cpu.pb.gz"
    rc, out, err = run_tool("profile", "-U", "--unwind", "dwarf", "-p", spinner.pid,
                            "-F", "99", "-f", "--pprof", out_pb, "2")
    assert rc == 0, err
    prof = pprof.decode(out_pb.read_bytes())
    strings = prof.string_table
    assert strings[prof.sample_type[0].type] == "samples"
    assert strings[prof.period_type.type] == "cpu" and prof.period == int(1e9 / 99)
    fnames = {strings[f.name] for f in prof.function}
    assert set(CHAIN) <= fnames
    assert sum(s.value[0] for s in prof.sample) == sum(v for _, v in folded_stacks(out))
    # locations are leaf first: a sample's first location is the sampled function
    by_id = {f.id: strings[f.name] for f in prof.function}
    loc_fn = {loc.id: by_id[loc.line[0].function_id] for loc in prof.location}
    leafs = {loc_fn[s.location_id[0]] for s in prof.sample}
    assert "unwind_f8" in leafs
    go = shutil.which("go")
    assert go, "go is not installed (Debian package golang-go, README test command)"
    env = dict(os.environ, HOME=str(tmp_path), GOCACHE=str(tmp_path / "gocache"),
               GOFLAGS="-mod=mod", GOTOOLCHAIN="local")
    r = subprocess.run([go, "tool", "pprof", "-top", "-nodecount=100", str(out_pb)],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    for name in CHAIN + ["main"]:
        assert any(line.split()[-1] == name for line in r.stdout.splitlines()
                   if line.strip()), r.stdout


def test_stackcount_svg_and_pprof(tmp_path):
    svg, pb = tmp_path / "sc.svg", tmp_path / "sc.pb.gz"
    rc, out, err = run_tool("stackcount", "-K", "-f", "-D", "2", "--svg", svg, "--pprof", pb,
                            "t:sched:sched_switch")
    assert rc == 0, err
    printed = sum(v for _, v in folded_stacks(out))
    root = ET.parse(svg).getroot()
    assert int(root.get("data-total")) == printed > 0
    ns = "{http://www.w3.org/2000/svg}"
    kinds = {g.get("data-name"): g.get("data-kind") for g in root.iter(ns + "g")
             if g.get("class") == "f"}
    assert kinds.get("__schedule") == "kernel" or kinds.get("schedule") == "kernel", kinds
    prof = pprof.decode(pb.read_bytes())
    assert sum(s.value[0] for s in prof.sample) == printed
    assert prof.string_table[prof.sample_type[0].type] == "events"


@pytest.mark.parametrize("tool,args,frame", [
    ("offcputime", ["-K"], "do_nanosleep"),          # where the nap blocks
    ("offwaketime", ["-K"], "hrtimer_wakeup"),       # ... and what woke it
    ("wakeuptime", [], "hrtimer_wakeup"),            # the waker's stack
])
def test_off_cpu_tools_svg_and_pprof(tool, args, frame, unwindprog, tmp_path):
    """The off-CPU stack tools' --svg and --pprof hold what -f printed, in
    microseconds, the kernel frames of a nanosleep() loop coloured as such."""
    svg, pb = tmp_path / f"{tool}.svg", tmp_path / f"{tool}.pb.gz"
    p = start(unwindprog["eh"], "nap", seconds=600)       # killed below
    try:
        rc, out, err = run_tool(tool, *args, "-p", p.pid, "-f", "--svg", svg, "--pprof", pb,
                                "2")
    finally:
        p.kill()
        p.wait()
    assert rc == 0, err
    printed = sum(v for _, v in folded_stacks(out))
    root = ET.parse(svg).getroot()
    assert int(root.get("data-total")) == printed > 0
    ns = "{http://www.w3.org/2000/svg}"
    kinds = {g.get("data-name"): g.get("data-kind") for g in root.iter(ns + "g")
             if g.get("class") == "f"}
    assert kinds.get(frame) == "kernel", kinds
    assert kinds.get("unwindprog") == "process", kinds
    prof = pprof.decode(pb.read_bytes())
    strings = prof.string_table
    assert sum(s.value[0] for s in prof.sample) == printed
    assert strings[prof.sample_type[0].type] == "offcpu"
    assert strings[prof.sample_type[0].unit] == "microseconds"
    assert frame in {strings[f.name] for f in prof.function}
