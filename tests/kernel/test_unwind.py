"""--unwind dwarf on the real kernel: user stacks of code built without frame
pointers, unwound with the binaries' CFI, against the frame-pointer walk.

tests/progs/unwindprog.c (-O2 -fomit-frame-pointer) runs an 8-deep chain
unwind_f1 -> ... -> unwind_f8 and burns CPU (spin) or blocks in nanosleep
(nap) in the leaf; Debian's python3.11 (no frame pointers) recurses through
a C function (sorted) back into the interpreter."""
from __future__ import annotations

import subprocess
import sys

import pytest

from corebpf import features
from tests import distro
from tests.helpers import run_tool

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

CHAIN = [f"unwind_f{i}" for i in range(1, 9)]          # root -> leaf


def needs_task_pt_regs():
    if not features.task_pt_regs():
        pytest.skip("kernel lacks bpf_task_pt_regs (5.15): no --unwind dwarf")


def start(path, mode, seconds=30):
    p = subprocess.Popen([str(path), mode, str(seconds)], stdout=subprocess.PIPE)
    assert p.stdout.readline().startswith(b"ready")
    return p


def folded_stacks(out: str) -> list:
    """[(frames root->leaf, value)] of folded output."""
    res = []
    for line in out.splitlines():
        stack, _, value = line.rpartition(" ")
        res.append((stack.split(";"), int(value)))
    return res


def has_chain(frames: list, tail: list) -> bool:
    """frames (root->leaf) hold CHAIN in order, contiguous, under main, then tail."""
    want = ["main"] + CHAIN + tail
    return any(frames[i:i + len(want)] == want for i in range(len(frames)))


def chain_depth(frames: list) -> int:
    return sum(1 for f in frames if f in CHAIN)


@pytest.fixture
def spinner(unwindprog):
    p = start(unwindprog["eh"], "spin")
    yield p
    p.kill()
    p.wait()


def test_profile_dwarf_shows_the_whole_chain_fp_does_not(spinner):
    needs_task_pt_regs()
    rc, out, err = run_tool("profile", "-U", "--unwind", "dwarf", "-p", spinner.pid,
                            "-F", "99", "-f", "2")
    assert rc == 0, err
    stacks = folded_stacks(out)
    assert stacks and all(f[0] == "unwindprog" for f, _ in stacks), out
    full = [(f, v) for f, v in stacks if has_chain(f, [])]
    assert full, out
    # most samples unwind completely, to _start
    assert sum(v for _, v in full) >= 0.8 * sum(v for _, v in stacks), out
    assert all(f[1] == "_start" for f, _ in full), out

    rc, out, err = run_tool("profile", "-U", "-p", spinner.pid, "-F", "99", "-f", "2")
    assert rc == 0, err
    fp = folded_stacks(out)
    assert fp and max(chain_depth(f) for f, _ in fp) < len(CHAIN), out


def test_profile_dwarf_multiline_with_kernel_frames(spinner):
    needs_task_pt_regs()
    rc, out, err = run_tool("profile", "--unwind", "dwarf", "-p", spinner.pid, "-F", "99",
                            "-d", "2")
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0] == f"Sampling at 99 Hertz of PID [{spinner.pid}] by user + kernel stack " \
                       "for 2 secs."
    frames = [l.strip().split("+")[0] for l in lines if l.startswith("    unwind_f")]
    for name in CHAIN:
        assert name in frames, out
    assert f"unwindprog ({spinner.pid})" in out


def test_debug_frame_in_a_separate_debug_file(unwindprog):
    """No .eh_frame for the program's code: its CFI is .debug_frame in the
    debug file its .gnu_debuglink names."""
    needs_task_pt_regs()
    p = start(unwindprog["debuglink"], "spin")
    try:
        rc, out, err = run_tool("profile", "-U", "--unwind", "dwarf", "-p", p.pid,
                                "-F", "99", "-f", "2")
    finally:
        p.kill()
        p.wait()
    assert rc == 0, err
    assert any(has_chain(f, []) for f, _ in folded_stacks(out)), out


def test_offcputime_dwarf_shows_the_chain_fp_does_not(unwindprog):
    needs_task_pt_regs()
    p = start(unwindprog["eh"], "nap")
    try:
        rc, out, err = run_tool("offcputime", "-U", "--unwind", "dwarf", "-p", p.pid,
                                "-f", "2")
        rc2, out2, err2 = run_tool("offcputime", "-U", "-p", p.pid, "-f", "2")
    finally:
        p.kill()
        p.wait()
    assert rc == 0, err
    stacks = folded_stacks(out)
    blocked = [(f, v) for f, v in stacks if has_chain(f, ["nanosleep", "clock_nanosleep"])
               or has_chain(f, ["clock_nanosleep"])]
    assert blocked, out
    # the chain blocked for most of the 2 s (50 ms naps, in microseconds)
    assert sum(v for _, v in blocked) > 1_000_000, out
    assert rc2 == 0, err2
    fp = folded_stacks(out2)
    assert fp and max(chain_depth(f) for f, _ in fp) < len(CHAIN), out2


PY_CHAIN = """
import sys, time
def leaf():
    end = time.monotonic() + 30
    x = 0
    while time.monotonic() < end:
        for i in range(10000):
            x += i
def level(n):
    # sorted() (C) calls the key back in the interpreter: one more C frame of
    # _PyEval_EvalFrameDefault per level
    return sorted([n], key=lambda v: level(v - 1) if v else leaf())
print("ready", flush=True)
level(4)
"""


def test_python311_interpreter_frames():
    needs_task_pt_regs()
    py = distro.PYTHON
    p = subprocess.Popen([py, "-c", PY_CHAIN], stdout=subprocess.PIPE)
    assert p.stdout.readline().startswith(b"ready")
    try:
        rc, out, err = run_tool("profile", "-U", "--unwind", "dwarf", "--unwind-stack-size",
                                "65536", "-p", p.pid, "-F", "99", "-f", "2")
        rc2, out2, err2 = run_tool("profile", "-U", "-p", p.pid, "-F", "99", "-f", "2")
    finally:
        p.kill()
        p.wait()
    assert rc == 0, err
    stacks = folded_stacks(out)
    evals = [sum(1 for x in f if x == "_PyEval_EvalFrameDefault") for f, _ in stacks]
    # the module's frame + one per level (4 recursions + the leaf's caller)
    assert max(evals) >= 6, out
    deep = [f for f, _ in stacks if f.count("_PyEval_EvalFrameDefault") >= 6]
    assert all("Py_BytesMain" in f and f[1] == "_start" for f in deep), out
    # Debian's binary is stripped to its exported symbols: sorted()'s
    # callback path shows as PyObject_CallOneArg between interpreter frames
    assert any("PyObject_CallOneArg" in f for f in deep), out
    assert rc2 == 0, err2
    fp = folded_stacks(out2)
    assert max(f.count("_PyEval_EvalFrameDefault") for f, _ in fp) < 6, out2


@pytest.fixture
def napper(unwindprog):
    # killed at teardown: long enough for two runs in a slow (TCG) guest
    p = start(unwindprog["eh"], "nap", seconds=600)
    yield p
    p.kill()
    p.wait()


NAP_TP = "t:syscalls:sys_enter_clock_nanosleep"


def test_stackcount_dwarf_shows_the_chain_fp_does_not(napper):
    """Programs generated at run time (no compiler) copy the user stack too."""
    needs_task_pt_regs()
    rc, out, err = run_tool("stackcount", "-U", "--unwind", "dwarf", "-p", napper.pid,
                            "-f", "-D", "2", NAP_TP)
    assert rc == 0, err
    stacks = folded_stacks(out)
    assert stacks and all(f[0] == "unwindprog" for f, _ in stacks), out
    full = [(f, v) for f, v in stacks if has_chain(f, ["nanosleep", "clock_nanosleep"])
            or has_chain(f, ["clock_nanosleep"])]
    assert full and all(f[1] == "_start" for f, _ in full), out
    # every nap (50 ms) enters the syscall from the chain's leaf
    assert sum(v for _, v in full) >= 0.9 * sum(v for _, v in stacks) > 0, out

    rc, out, err = run_tool("stackcount", "-U", "-p", napper.pid, "-f", "-D", "2", NAP_TP)
    assert rc == 0, err
    fp = folded_stacks(out)
    assert fp and max(chain_depth(f) for f, _ in fp) < len(CHAIN), out


def test_stackcount_dwarf_uprobe_with_kernel_stacks(spinner):
    """Both stacks (kernel: empty for a uprobe), bcc's multi-line layout,
    a user function probe: the registers come from the task, not the ctx."""
    needs_task_pt_regs()
    rc, out, err = run_tool("stackcount", "--unwind", "dwarf", "-p", spinner.pid,
                            "-D", "2", "c:clock_gettime")
    assert rc == 0, err
    assert out.startswith('Tracing 1 functions for "c:clock_gettime"'), out
    frames = [l.strip() for l in out.splitlines() if l.startswith("  ") and
              not l.strip().isdigit()]
    want = ["clock_gettime"] + CHAIN[::-1] + ["main"]
    assert any(frames[i:i + len(want)] == want for i in range(len(frames))), out


def test_trace_dwarf_user_stack_fp_does_not(napper):
    needs_task_pt_regs()
    rc, out, err = run_tool("trace", "-U", "--unwind", "dwarf", "-p", napper.pid, "-M", "3",
                            NAP_TP + ' "%d", args->which_clock', timeout=120)
    assert rc == 0, err
    blocks = _trace_blocks(out)
    assert len(blocks) == 3, out
    for line, frames in blocks:
        assert line.split()[2] == "unwindprog" and line.endswith(" 0"), out  # nanosleep: REALTIME
        names = [f.split("+")[0] for f in frames]
        want = CHAIN[::-1] + ["main"]
        assert any(names[i:i + len(want)] == want for i in range(len(names))), out
        assert names[-1] == "_start", out

    rc, out, err = run_tool("trace", "-U", "-p", napper.pid, "-M", "3", NAP_TP, timeout=120)
    assert rc == 0, err
    blocks = _trace_blocks(out)
    assert len(blocks) == 3, out
    assert max(sum(1 for f in frames if f.split("+")[0] in CHAIN)
               for _, frames in blocks) < len(CHAIN), out


def _trace_blocks(out: str) -> list:
    """[(event line, [frame texts])] of trace -U output."""
    blocks = []
    for line in out.splitlines()[1:]:
        if line.startswith("        "):
            blocks[-1][1].append(line.strip())
        elif line.strip():
            blocks.append((line, []))
    return blocks


def _memleak_stacks(out: str) -> list:
    """[(bytes, allocations, [function names innermost first])] of memleak's report."""
    res = []
    for line in out.splitlines():
        if "allocations from stack" in line:
            w = line.split()
            res.append((int(w[0]), int(w[3]), []))
        elif line.startswith("\t\t") and res:
            res[-1][2].append(line.split("\t")[-1].split("+")[0])
    return res


def test_memleak_dwarf_shows_the_chain_fp_does_not(unwindprog):
    """A malloc(1000) leaked under unwind_f8 every 50 ms: its uretprobe's
    stack (the caller's) unwound down to main; frame pointers lose it."""
    needs_task_pt_regs()
    p = start(unwindprog["eh"], "leak", seconds=600)
    try:
        rc, out, err = run_tool("memleak", "--unwind", "dwarf", "-p", p.pid, "-o", "0",
                                "2", "1")
        rc2, out2, err2 = run_tool("memleak", "-p", p.pid, "-o", "0", "2", "1")
    finally:
        p.kill()
        p.wait()
    assert rc == 0, err
    stacks = _memleak_stacks(out)
    want = CHAIN[::-1] + ["main"]
    full = [(size, n) for size, n, names in stacks
            if any(names[i:i + len(want)] == want for i in range(len(names)))]
    assert full, out
    size, n = full[0]
    assert n >= 5 and size == 1000 * n, out          # ~40 in 2 s
    assert rc2 == 0, err2
    fp = _memleak_stacks(out2)
    assert fp and max(sum(1 for f in names if f in CHAIN) for _, _, names in fp) \
        < len(CHAIN), out2


@pytest.mark.parametrize("argv", [["trace", "--unwind", "dwarf", "t:sched:sched_switch"],
                                  ["stackcount", "-K", "--unwind", "dwarf",
                                   "t:sched:sched_switch"],
                                  ["memleak", "--unwind", "dwarf"]])
def test_generated_dwarf_without_user_stacks_is_a_usage_error(argv):
    rc, out, err = run_tool(*argv)
    assert rc != 0 and err.startswith(f"{argv[0]}: error: --unwind dwarf"), err
    assert len(err.splitlines()) == 1, err


def test_dwarf_with_kernel_stacks_only_is_a_usage_error():
    rc, out, err = run_tool("profile", "-K", "--unwind", "dwarf", "1")
    assert rc != 0 and err.startswith("profile: error: --unwind dwarf"), err
    assert "Traceback" not in err


@pytest.mark.parametrize("size", ["100", "70000", "x"])
def test_bad_stack_size(size):
    rc, out, err = run_tool("profile", "--unwind", "dwarf", "--unwind-stack-size", size, "1")
    assert rc != 0 and "--unwind-stack-size" in err and "Traceback" not in err, err


def test_nothing_left_loaded_after_dwarf_run(spinner):
    needs_task_pt_regs()
    before = _prog_count()
    rc, out, err = run_tool("profile", "--unwind", "dwarf", "-p", spinner.pid, "1")
    assert rc == 0, err
    assert _prog_count() <= before


def _prog_count() -> int:
    out = subprocess.run(["bpftool", "prog", "show"], capture_output=True, text=True).stdout
    return sum(1 for l in out.splitlines() if "name do_perf_event" in l)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
