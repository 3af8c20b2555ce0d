"""memleak against tests/progs/allocs.c (frame pointers): a process that
leaks known sizes from known functions through malloc, calloc,
posix_memalign and realloc is reported with those functions in the stacks
and the right byte counts; one that frees everything is reported clean.
Kernel mode: file descriptors held open show up as struct file allocations
under do_sys_openat2."""
from __future__ import annotations

import os
import re
import subprocess
import time

import pytest

from tests.helpers import Tool, json_match, json_objects, run_tool

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

ROUNDS = 7
# function -> bytes leaked per round
LEAKS = {"corebpf_leak_malloc": 1000, "corebpf_leak_calloc": 1000,
         "corebpf_leak_memalign": 512, "corebpf_leak_realloc": 3000}
HEADER = re.compile(r"^\[\d\d:\d\d:\d\d\] Top (\d+) stacks with outstanding allocations:$")
ENTRY = re.compile(r"^\t(\d+) bytes in (\d+) allocations from stack$")


class Target:
    """allocs.c waiting for a line on stdin before it allocates."""

    def __init__(self, prog, mode: str, rounds: int = ROUNDS):
        self.p = subprocess.Popen([str(prog), mode, str(rounds)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE)
        self.pid = self.p.pid

    def go(self):
        self.p.stdin.write(b"go\n")
        self.p.stdin.flush()
        assert self.p.stdout.readline() == b"done\n"

    def close(self):
        self.p.kill()
        self.p.wait()


def entries(lines):
    """[(bytes, count, [frame lines])] of the last report in lines."""
    last = max((i for i, l in enumerate(lines) if HEADER.match(l)), default=None)
    assert last is not None, lines
    out = []
    for line in lines[last + 1:]:
        m = ENTRY.match(line)
        if m:
            out.append((int(m.group(1)), int(m.group(2)), []))
        elif line.startswith("\t\t") and out:
            out[-1][2].append(line[2:])
        elif HEADER.match(line):
            break
    return out


def by_function(ents):
    """{leaking function: (bytes, count)} from the entries' first frames."""
    out = {}
    for size, count, frames in ents:
        for f in LEAKS:
            if frames and re.search(r"\t%s\+0x[0-9a-f]+ \[allocs\]$" % f, frames[0]):
                out[f] = (size, count)
    return out


@pytest.fixture
def leaker(allocs_prog):
    t = Target(allocs_prog, "leak")
    yield t
    t.close()


def _report_after(tool, target, pred=None, timeout=15):
    """Let the target allocate, then wait for a report after that."""
    target.go()
    n = sum(1 for l in tool.lines if HEADER.match(l))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tool.wait_for(lambda l: False, timeout=0.5)
        heads = [i for i, l in enumerate(tool.lines) if HEADER.match(l)]
        # a report is complete once the next header is printed
        if len(heads) >= n + 2 and (pred is None or pred(tool.lines[:heads[-1]])):
            return tool.lines[:heads[-1]]
    raise AssertionError(f"no complete report after the allocations:\n{tool.text}\n"
                         f"{getattr(tool, 'stderr', '')}")


def test_leaks_are_reported_with_function_and_size(leaker):
    t = Tool("memleak", "-p", leaker.pid, "-o", "0", "1")
    assert t.lines[0] == f"Attaching to pid {leaker.pid}, Ctrl+C to quit."
    lines = _report_after(t, leaker, lambda ls: len(by_function(entries(ls))) == 4)
    assert t.stop() == 0
    found = by_function(entries(lines))
    assert found == {f: (size * ROUNDS, ROUNDS) for f, size in LEAKS.items()}, t.text
    for size, count, frames in entries(lines):
        assert frames, "an entry without frames"
        for f in frames:
            assert re.match(r"^0x[0-9a-f]{16}\t\S", f), f
    # the caller of each leaking function is main, from the same binary
    for size, count, frames in entries(lines):
        if any(fn in frames[0] for fn in LEAKS):
            assert re.search(r"\tmain\+0x[0-9a-f]+ \[allocs\]$", frames[1]), frames
    # ascending by size (largest last), at most -T stacks
    sizes = [e[0] for e in entries(lines)]
    assert sizes == sorted(sizes)


def test_a_process_that_frees_everything_reports_nothing(allocs_prog):
    target = Target(allocs_prog, "free")
    try:
        t = Tool("memleak", "-p", target.pid, "-o", "0", "1")
        lines = _report_after(t, target)
        assert t.stop() == 0
        assert entries(lines) == [], t.text
        assert not any(ENTRY.match(l) for l in t.lines), t.text
    finally:
        target.close()


def test_combined_show_allocs_sort_and_top(leaker):
    t = Tool("memleak", "-p", leaker.pid, "-o", "0", "--combined-only", "-T", "2",
             "--sort", "count", "1")
    lines = _report_after(t, leaker, lambda ls: len(entries(ls)) == 2)
    assert t.stop() == 0
    ents = entries(lines)
    assert [(e[1]) for e in ents] == [ROUNDS, ROUNDS]
    # --combined-only frames have no address column
    for _, _, frames in ents:
        assert frames and not frames[0].startswith("0x"), frames
        assert re.match(r"^corebpf_leak_\w+\+0x[0-9a-f]+ \[allocs\]$", frames[0]), frames


def test_show_allocs_and_min_size(leaker):
    t = Tool("memleak", "-p", leaker.pid, "-o", "0", "-a", "-z", "3000", "1")
    lines = _report_after(t, leaker, lambda ls: len(entries(ls)) == 1)
    assert t.stop() == 0
    last = max(i for i, l in enumerate(lines) if HEADER.match(l))
    addrs = [l for l in lines[last:] if l.startswith("\taddr = ")]
    assert len(addrs) == ROUNDS, t.text          # the realloc'ed 3000-byte blocks (-z 3000)
    assert all(re.match(r"^\taddr = [0-9a-f]+ size = 3000$", l) for l in addrs), addrs
    assert {f for f in by_function(entries(lines))} == {"corebpf_leak_realloc"}


def test_older_hides_young_allocations(leaker):
    t = Tool("memleak", "-p", leaker.pid, "-o", "60000", "1")
    lines = _report_after(t, leaker)
    assert t.stop() == 0
    assert entries(lines) == [], t.text


def test_trace_prints_each_call(leaker):
    t = Tool("memleak", "-p", leaker.pid, "-t")
    leaker.go()
    assert t.wait_for(lambda l: "free entered" in l, 10)
    assert t.stop() == 0
    rows = [eval(l, {}) for l in t.lines[1:]]          # bcc: a tuple per trace record
    assert all(len(r) == 6 and r[0] == "allocs" and r[1] == leaker.pid for r in rows)
    msgs = [r[5] for r in rows]
    assert msgs.count("alloc entered, size = 1000") >= 2 * ROUNDS
    assert any(re.match(r"^alloc exited, size = 3000, result = [0-9a-f]+$", m) for m in msgs)
    # realloc frees the 100-byte block it grows
    assert any(re.match(r"^free entered, address = [0-9a-f]+, size = 100$", m) for m in msgs)


def test_command_is_run_and_traced(allocs_prog):
    cmd = f"{allocs_prog} leak 3 4"
    t = Tool("memleak", "-c", cmd, "-o", "0", "1")
    assert t.lines[0] == f"Executing '{cmd}' and tracing the resulting process."
    assert t.wait_for(lambda l: l.startswith("Attaching to pid "), 5)
    assert t.wait_for(lambda l: "corebpf_leak_realloc" in l, 10), t.text
    assert t.stop() == 0
    assert by_function(entries(t.lines))["corebpf_leak_realloc"] == (9000, 3)


# kernel mode: raw tracepoints where the kernel has them (the default), the
# classic ones forced (the fallback)
VARIANTS = pytest.mark.parametrize("probe", ["", "tracepoint"], ids=["raw", "tp"])
USING = {"": "using raw (raw_tp) probes", "tracepoint": "using tp (tracepoint) probes"}


def _kernel_tool(probe, *args):
    return Tool("memleak", "--verbose", *args, env={"COREBPF_PROBE": probe})


def _kernel_report(probe, top: int, files: int, megabytes: int = 0):
    """The top stacks by count (few are symbolized: quick under emulation)
    of one 2 s report while this process holds `files` files open (and
    `megabytes` of memory written: page faults)."""
    t = _kernel_tool(probe, "-o", "0", "--sort", "count", "-T", str(top), "2", "1")
    assert t.lines[0] == "Attaching to kernel allocators, Ctrl+C to quit."
    fds = [os.open("/dev/null", os.O_RDONLY) for _ in range(files)]
    blocks = [bytearray(1 << 20) for _ in range(megabytes)]
    try:
        assert t.wait(timeout=120) == 0
    finally:
        for fd in fds:
            os.close(fd)
        del blocks
    assert USING[probe] in t.stderr, t.stderr[-2000:]
    return t


@VARIANTS
def test_kernel_mode_open_files(probe):
    t = _kernel_report(probe, 40, 900)
    best = 0
    for size, count, frames in entries(t.lines):
        text = "\n".join(frames)
        # the stack starts at the allocator (a raw tracepoint's BPF frames dropped)
        assert frames and not re.search(r"\t(bpf_prog_\w+ \[bpf\]|bpf_trace_run|__bpf_trace_)",
                                        frames[0]), text
        if re.search(r"\talloc_empty_file\+0x[0-9a-f]+ \[kernel\]$", text, re.M) and \
                "do_sys_openat2+" in text:
            best = max(best, count)
    assert best >= 900, t.text[-3000:]


def _kernel_has(symbol: str) -> bool:
    with open("/proc/kallsyms") as f:
        return any(line.split()[2:3] == [symbol] for line in f)


@VARIANTS
def test_kernel_mode_percpu(probe):
    # 20 per-CPU array maps of 16 entries: one percpu allocation per entry
    from corebpf.compiler.genprog import PERCPU_ARRAY, GenObject
    t = _kernel_tool(probe, "--percpu", "-o", "0", "--sort", "count", "-T", "40", "2", "1")
    assert t.lines[0] == "Attaching to kernel allocators, Ctrl+C to quit."
    with GenObject("memleak-test") as g:
        for i in range(20):
            g.create_map(f"pcpu{i}", PERCPU_ARRAY, 4, 64, 16)
        assert t.wait(timeout=120) == 0
    assert USING[probe] in t.stderr, t.stderr[-2000:]
    # array_map_alloc allocates through bpf_map_alloc_percpu since 5.14
    # (memory cgroup accounting); before, it calls __alloc_percpu_gfp itself,
    # whose tail call to pcpu_alloc leaves it off the stack
    callers = ["\tarray_map_alloc+"]
    if _kernel_has("bpf_map_alloc_percpu"):
        callers.append("\tbpf_map_alloc_percpu+")
    else:
        callers.append("\tpcpu_alloc+")   # __alloc_percpu_gfp tail-calls it
    best = 0
    for size, count, frames in entries(t.lines):
        text = "\n".join(frames)
        if all(c in text for c in callers):
            best = max(best, count)
    assert best >= 320, (callers, t.text[-3000:])


# memleak's own BPF programs (kallsyms names them bpf_prog_TAG_NAME, NAME cut
# at 15 characters) and the BPF memory allocator's refill
_SELF = re.compile(r"\t(bpf_prog_[0-9a-f]+_(kmalloc|kmem_cache_all|kfree|kmem_cache_fre|"
                   r"mm_page_|percpu_)\w*|bpf_mem_refill|alloc_bulk)\+0x[0-9a-f]+ ")


def test_kernel_mode_ignores_its_own_allocations():
    """No allocation made inside memleak's programs (a raw tracepoint program
    runs inside other BPF programs: without its per-CPU guard and the skip
    of the BPF memory allocator's refill call sites, ~970,000 in 2 s here)
    nor by the refills (one run after a program, counted, was one more
    update of `allocs`, which set off the next: a million in 1 s)."""
    t = _kernel_report("", 10, 300, megabytes=32)
    ents = entries(t.lines)
    assert ents, t.text[-3000:]
    for size, count, frames in ents:
        own = [f for f in frames if _SELF.search("\t" + f.split("\t", 1)[-1])]
        assert not own, f"{count} allocations set off by memleak itself:\n" + "\n".join(frames)


def test_bad_input():
    rc, out, err = run_tool("memleak", "-z", "10", "-Z", "5")
    assert rc == 2 and err == "memleak: error: min_size (-z) can't be greater than max_size (-Z)\n"
    rc, out, err = run_tool("memleak", "--sort", "age")
    assert rc == 2 and "Given sort_key: age" in err and "'size', 'count'" in err
    rc, out, err = run_tool("memleak", "-p", "1", "-O", "/nonexistent/libc.so")
    assert rc == 1 and "/nonexistent/libc.so" in err and err.count("\n") == 1
    rc, out, err = run_tool("memleak", "-c", "/nonexistent/prog")
    assert rc != 0 and "/nonexistent/prog" in err


def test_json_leaks_with_stacks_and_addresses(leaker):
    """One object per report: rows per stack with bytes, allocations, the user
    stack as frames and (-a) every allocation's address and size."""
    t = Tool("memleak", "--json", "-p", leaker.pid, "-o", "0", "-a", "1", ready="stderr")
    leaker.go()
    want = {f: size * ROUNDS for f, size in LEAKS.items()}

    def mine(d):           # rows of the leaking functions (libc's own are not counted)
        return [r for r in d["rows"] if r["user_stack"] and r["user_stack"][0]["symbol"] in LEAKS]

    def complete(d):
        return {r["user_stack"][0]["symbol"]: r["bytes"] for r in mine(d)} == want
    assert t.wait_for(json_match(complete), 15), t.text
    assert t.stop() == 0
    o = [o for o in json_objects(t, "memleak") if complete(o)][0]
    for r in mine(o):
        assert r["allocs"] == ROUNDS and len(r["addrs"]) == len(r["sizes"]) == ROUNDS
        assert sum(r["sizes"]) == r["bytes"] and all(int(x, 16) for x in r["addrs"])
        top, caller = r["user_stack"][:2]
        assert top["module"].endswith("/allocs") and caller["symbol"] == "main", r
    assert [r["bytes"] for r in o["rows"]] == sorted(r["bytes"] for r in o["rows"])
    assert t.stderr.startswith(f"Attaching to pid {leaker.pid}, Ctrl+C to quit.")
