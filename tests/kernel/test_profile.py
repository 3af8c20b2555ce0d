"""profile on the real kernel: it samples a frame-pointer test program that
spins in corebpf_spin_marker(), and dd in the kernel."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.helpers import Tool, run_tool

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]


@pytest.fixture
def spinner(stackprog):
    p = subprocess.Popen([str(stackprog["pie"]), "spin", "60"], stdout=subprocess.PIPE)
    p.stdout.readline()             # "ready": spinning from now on
    yield p
    p.kill()
    p.wait()


@pytest.fixture
def dd():
    p = subprocess.Popen(["dd", "if=/dev/zero", "of=/dev/null", "bs=1M", "count=100000000"],
                         stderr=subprocess.DEVNULL)
    yield p
    p.kill()
    p.wait()


def process_line(comm, pid):
    return "    %-16s %s (%d)" % ("-", comm, pid)


def stanzas(lines):
    """Multi-line output split into stacks (lists of lines ending with the count)."""
    out, cur = [], []
    for line in lines:
        if not line.strip():
            continue
        cur.append(line)
        if re.fullmatch(r" {8}\d+", line):
            out.append(cur)
            cur = []
    return out


def test_pid_multiline(spinner):
    rc, out, err = run_tool("profile", "-p", spinner.pid, "-F", "99", "2")
    assert rc == 0, err
    lines = out.split("\n")
    assert lines[0] == f"Sampling at 99 Hertz of PID [{spinner.pid}] by user + kernel stack " \
                       "for 2 secs."
    assert lines[1] == "" and lines[-3:] == [lines[-3], "", ""] and lines[-3].strip().isdigit()
    st = stanzas(lines[2:])
    assert st and all(s[-2] == process_line("stackprog", spinner.pid) for s in st), out
    hits = [s for s in st if re.fullmatch(r"    corebpf_spin_marker\+0x[0-9a-f]+ \[stackprog\]",
                                          s[0])]
    assert hits, out
    assert any(re.fullmatch(r"    main\+0x[0-9a-f]+ \[stackprog\]", l) for l in hits[0])
    assert sum(int(s[-1]) for s in st) >= 5        # up to ~200 (99 Hz for 2 s) when idle


def test_folded_user_stack(spinner):
    rc, out, err = run_tool("profile", "-f", "-p", spinner.pid, "-F", "99", "2")
    assert rc == 0, err
    lines = out.splitlines()
    assert lines and all(l.startswith("stackprog;") or l.startswith("stackprog ")
                         for l in lines), out
    assert any(re.fullmatch(r"stackprog;(.+;)?main;corebpf_spin_marker \d+", l)
               for l in lines), out


def test_folded_kernel_frames_annotated_and_delimited(dd):
    rc, out, err = run_tool("profile", "-f", "-a", "-d", "-K", "-p", dd.pid, "-F", "199", "2")
    assert rc == 0, err
    lines = out.splitlines()
    assert lines and all(l.startswith(("dd;", "dd ")) for l in lines), out
    # -K: kernel frames only, so no delimiter; every frame annotated
    assert any(re.search(r";(ksys|vfs)_(read|write)_\[k\];", l) for l in lines), out
    # samples in user mode have no kernel stack: "dd N"
    assert all(re.fullmatch(r"dd(;[^;]+_\[k\])* \d+", l) for l in lines), out


def test_delimiter_between_kernel_and_user(dd):
    rc, out, err = run_tool("profile", "-d", "-p", dd.pid, "-F", "199", "2")
    assert rc == 0, err
    st = stanzas(out.splitlines()[2:])
    both = [s for s in st if "    --" in s]
    assert both, out
    s = both[0]
    cut = s.index("    --")
    assert all(l.endswith("[kernel]") for l in s[:cut]), s
    assert not any(l.endswith("[kernel]") for l in s[cut + 1:]), s


def test_user_only_and_kernel_only(dd):
    rc, out, err = run_tool("profile", "-U", "-p", dd.pid, "-F", "199", "1")
    assert rc == 0 and "by user stack for 1 secs." in out.splitlines()[0]
    assert "[kernel]" not in out and ("[dd]" in out or "[libc" in out), out
    rc, out, err = run_tool("profile", "-K", "-p", dd.pid, "-F", "199", "1")
    assert rc == 0 and "by kernel stack for 1 secs." in out.splitlines()[0]
    assert "[kernel]" in out and "[libc" not in out and "[dd]" not in out, out


def test_addresses_and_tid(spinner):
    rc, out, err = run_tool("profile", "-A", "-L", spinner.pid, "-c", "1000000", "-C", "0", "2")
    assert rc == 0, err
    assert out.splitlines()[0] == f"Sampling at every 1000000 events of TID [{spinner.pid}] " \
                                  "by user + kernel stack on CPU#0 for 2 secs."
    frames = [l for l in out.splitlines() if "corebpf_spin_marker" in l]
    # the spinner may run on the other CPU the whole time: then nothing was sampled
    assert all(re.fullmatch(r"    0x[0-9a-f]{16} corebpf_spin_marker\+0x[0-9a-f]+ \[stackprog\]",
                            l) for l in frames), out


def test_ctrl_c_prints_the_report(spinner):
    t = Tool("profile", "-p", spinner.pid)
    assert t.lines[0].endswith("by user + kernel stack... Hit Ctrl-C to end.")
    t.wait_for(lambda l: False, timeout=1.5)
    assert t.stop() == 0
    assert any(l.startswith("    corebpf_spin_marker+0x") for l in t.lines), t.text
    assert t.lines[-1].strip().isdigit()


@pytest.fixture
def syscall_mix():
    """A busy process whose samples land in many different kernel stacks
    (a dd from /dev/zero can spend two seconds in one stack)."""
    code = ("import os\nwhile 1:\n os.stat('/')\n os.getppid()\n"
            " f = open('/proc/self/stat'); f.read(); f.close()\n os.listdir('/proc/self')")
    p = subprocess.Popen([sys.executable, "-c", code])
    yield p
    p.kill()
    p.wait()


def test_lost_stacks_are_reported(syscall_mix):
    dd = syscall_mix
    # a one-entry stack map: every other stack collides and is missed
    rc, out, err = run_tool("profile", "-K", "-p", dd.pid, "-F", "499",
                            "--stack-storage-size", "1", "2")
    assert rc == 0, err
    assert "    [Missed Kernel Stack]" in out.splitlines(), out
    assert re.fullmatch(r"WARNING: \d+ stack traces could not be displayed\. Consider "
                        r"increasing --stack-storage-size\.", err.strip()), err
    # a one-entry count map: samples of every other stack are dropped, and said so
    rc, out, err = run_tool("profile", "-K", "-p", dd.pid, "-F", "499",
                            "--hash-storage-size", "1", "2")
    assert rc == 0, err
    assert "WARNING: hash table full. Consider increasing --hash-storage-size." in \
        err.splitlines(), err
    rc, out, err = run_tool("profile", "-f", "-K", "-p", dd.pid, "-F", "499",
                            "--stack-storage-size", "1", "2")
    assert re.search(r"^python[\w.]*;\[Missed Kernel Stack\] \d+$", out, re.M), out


def test_options_reach_the_bpf_program():
    rc, out, err = run_tool("profile", "--ebpf", "-I", "-U", "-p", "1")
    assert rc == 0, err
    assert "rodata targ_include_idle = True" in out
    assert "rodata targ_kernel_stacks = False" in out and "rodata targ_filter_tgid = True" in out


@pytest.mark.parametrize("args,msg", [
    (["-p", "4194303"], "no such process: 4194303"),
    (["-p", "1,x"], "invalid PID: 'x'"),
    (["-L", "4194303"], "no such thread: 4194303"),
    (["-F", "0"], "must be positive"),
    (["-F", "ten"], "invalid integer"),
    (["-F", "1000000"], "perf_event_max_sample_rate"),
    (["-F", "99", "-c", "10"], "not allowed with argument"),
    (["-C", "4096"], "CPU 4096 is not online"),
    (["-U", "-K"], "not allowed with argument"),
    (["-p", "1", "-L", "1"], "not allowed with argument"),
    (["--stack-storage-size", "0"], "must be positive"),
    (["0"], "must be positive"),
])
def test_bad_input_one_line(args, msg):
    rc, out, err = run_tool("profile", *args)
    assert rc != 0 and msg in err and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err


def test_json_frames(spinner):
    """--json: one object at the end, each stack a list of frames {addr,
    symbol, offset, module}, innermost first."""
    import json

    import jsonschema
    from tests.helpers import schema
    rc, out, err = run_tool("profile", "--json", "-p", spinner.pid, "-F", "99", "2")
    assert rc == 0, err
    assert err.splitlines()[0].startswith("Sampling at 99 Hertz of PID")
    d, = [json.loads(l) for l in out.splitlines()]
    jsonschema.validate(d, schema("profile"))
    assert all((r["pid"], r["comm"]) == (spinner.pid, "stackprog") for r in d["rows"])
    assert sum(r["count"] for r in d["rows"]) >= 5
    hits = [r["user_stack"] for r in d["rows"]
            if r["user_stack"] and r["user_stack"][0]["symbol"] == "corebpf_spin_marker"]
    assert hits, d
    f = hits[0][0]
    assert f["module"].endswith("stackprog") and int(f["addr"], 16) > 0 and f["offset"] >= 0
    assert any(fr["symbol"] == "main" for fr in hits[0])
    assert all(isinstance(r["kernel_stack"], list) for r in d["rows"])
