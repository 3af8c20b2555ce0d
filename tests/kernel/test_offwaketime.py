"""offwaketime and wakeuptime on the real kernel: stackprog's `wake` mode
blocks reading a pipe under corebpf_wait_marker() while its child writes
it under corebpf_waker_marker() every 100 ms.  The blocked stack, the
waker's stack (kernel and user) and the names must pair up; a napper's
waker is the timer interrupt."""
from __future__ import annotations

import re
import subprocess

import pytest

from tests.helpers import run_tool

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]


@pytest.fixture
def pingpong(stackprog):
    p = subprocess.Popen([str(stackprog["pie"]), "wake", "60"], stdout=subprocess.PIPE)
    _, parent, child = p.stdout.readline().split()
    yield int(parent), int(child)
    p.kill()
    p.wait()
    subprocess.run(["kill", "-9", child], stderr=subprocess.DEVNULL)


FOLDED = re.compile(r"stackprog;(.+;)?main;corebpf_wait_marker;(.+;)?(ksys_read|vfs_read);(.+;)?"
                    r"schedule;__schedule;--;(?P<waker>.+);stackprog (\d+)")


@pytest.mark.parametrize("probe", [(), ("--probe", "raw_tp")], ids=["tp_btf", "raw_tp"])
def test_offwaketime_folded_pairs_waker_and_target(pingpong, probe):
    parent, child = pingpong
    rc, out, err = run_tool("offwaketime", *probe, "-f", "-p", parent, "2")
    assert rc == 0, err
    assert not out.startswith("Tracing")
    m = next((FOLDED.fullmatch(l) for l in out.splitlines() if FOLDED.fullmatch(l)), None)
    assert m, out
    w = m.group("waker").split(";")
    # the waker's kernel frames innermost first (upwards from the wake-up),
    # then its user frames, innermost first
    assert "try_to_wake_up" not in w, w
    assert w.index("anon_pipe_write") < w.index("entry_SYSCALL_64_after_hwframe") < \
        w.index("corebpf_waker_marker") < w.index("main"), w
    assert int(m.group(6)) > 500000           # ~2 s of 100 ms waits


def test_offwaketime_multiline_and_delimiter(pingpong):
    parent, child = pingpong
    rc, out, err = run_tool("offwaketime", "-d", "-p", parent, "2")
    assert rc == 0, err
    lines = out.split("\n")
    assert lines[0] == f"Tracing blocked time (us) by user + kernel off-CPU and waker stack " \
                       "for 2 secs."
    stanzas = out.split("\n\n")
    s = next((s.splitlines() for s in stanzas if "corebpf_waker_marker" in s
              and "corebpf_wait_marker" in s), None)
    assert s, out
    s = [l for l in s if l]
    assert s[0] == "    %-16s %s %s" % ("waker:", "stackprog", child), s
    assert s[-2] == "    %-16s %s %s" % ("target:", "stackprog", parent), s
    assert re.fullmatch(r" {8}\d+", s[-1]), s
    mid = s.index("    %-16s %s" % ("--", "--"))
    waker, target = [l.strip() for l in s[1:mid]], [l.strip() for l in s[mid + 1:-2]]
    # waker: user root first ... then "-", kernel root ... wake-up
    assert waker.index("main") < waker.index("corebpf_waker_marker") < waker.index("-"), waker
    # target: kernel innermost first, "-", user innermost first
    assert target[0] == "__schedule" and target.index("-") < \
        target.index("corebpf_wait_marker") < target.index("main"), target


def test_offwaketime_kernel_only_threshold(pingpong):
    parent, _ = pingpong
    rc, out, err = run_tool("offwaketime", "-K", "-f", "-p", parent, "1")
    assert rc == 0, err
    assert "corebpf_" not in out and re.search(r";anon_pipe_read;.*;--;.*anon_pipe_write", out), out
    rc, out, err = run_tool("offwaketime", "-f", "-m", "5000000", "-p", parent, "1")
    assert rc == 0 and "corebpf_wait_marker" not in out, out


def test_offwaketime_bcc_refusals():
    rc, out, err = run_tool("offwaketime", "-U", "-k", "1")
    assert rc == 2 and err.strip() == \
        "ERROR: Displaying user stacks for kernel threads doesn't make sense."


WAKE_FOLDED = re.compile(r"stackprog;(.+;)?(ksys_write|vfs_write);(.+;)?"
                         r"(__wake_up_common|autoremove_wake_function|pollwake)(;[^;]+)*;stackprog (\d+)")


def test_wakeuptime_folded_and_multiline(pingpong):
    parent, child = pingpong
    rc, out, err = run_tool("wakeuptime", "-f", "-p", parent, "2")
    assert rc == 0, err
    m = next((WAKE_FOLDED.fullmatch(l) for l in out.splitlines() if WAKE_FOLDED.fullmatch(l)),
             None)
    assert m and int(m.group(6)) > 500000, out
    assert "try_to_wake_up" not in m.group(0)
    rc, out, err = run_tool("wakeuptime", "-p", parent, "2")
    assert rc == 0, err
    lines = out.split("\n")
    assert lines[0] == "Tracing blocked time (us) by kernel stack for 2 secs."
    assert lines[-2] == "Detaching..."
    stanza = next((s.splitlines() for s in out.split("\n\n") if "anon_pipe_write" in s
                   or "pipe_write" in s), None)
    assert stanza, out
    assert stanza[0] == "    %-16s %s" % ("target:", "stackprog")
    assert stanza[-2] == "    %-16s %s" % ("waker:", "stackprog")
    for frame in stanza[1:-2]:
        assert re.fullmatch(r"    [0-9a-f]{16} \S+\+0x[0-9a-f]+", frame), frame


def test_wakeuptime_timer_waker_and_options(stackprog):
    nap = subprocess.Popen([str(stackprog["pie"]), "nap", "30"], stdout=subprocess.PIPE)
    try:
        nap.stdout.readline()
        rc, out, err = run_tool("wakeuptime", "-f", "-p", nap.pid, "1")
        assert rc == 0, err
        assert re.search(r";hrtimer_wakeup;stackprog \d+$", out, re.M), out
        rc, out, err = run_tool("wakeuptime", "-f", "-M", "50000", "-p", nap.pid, "1")
        assert rc == 0 and "hrtimer_wakeup;stackprog" not in out, out
    finally:
        nap.kill()
        nap.wait()
    rc, out, err = run_tool("wakeuptime", "-u", "-p", "1", "1")
    assert rc == 2 and "use either -p or -u." in err, err


def _json(tool, *args):
    import json

    import jsonschema
    from tests.helpers import schema
    rc, out, err = run_tool(tool, "--json", *args)
    assert rc == 0, err
    assert err.splitlines()[0].startswith("Tracing blocked time (us) by "), err
    d, = [json.loads(l) for l in out.splitlines()]
    jsonschema.validate(d, schema(tool))
    return d


def _symbols(frames):
    return [f["symbol"] for f in frames]


def test_offwaketime_json(pingpong):
    parent, child = pingpong
    d = _json("offwaketime", "-p", parent, "2")
    r = next((r for r in d["rows"] if "corebpf_wait_marker" in _symbols(r["target_user_stack"])
              and "corebpf_waker_marker" in _symbols(r["waker_user_stack"])), None)
    assert r, d
    assert (r["target"], r["target_pid"], r["waker"], r["waker_pid"]) == (
        "stackprog", parent, "stackprog", child)
    tk, wk = _symbols(r["target_kernel_stack"]), _symbols(r["waker_kernel_stack"])
    assert tk[0] == "__schedule" and "try_to_wake_up" not in wk, (tk, wk)
    assert wk.index("anon_pipe_write") < wk.index("entry_SYSCALL_64_after_hwframe"), wk
    tu = _symbols(r["target_user_stack"])
    assert tu.index("corebpf_wait_marker") < tu.index("main") and r["total_us"] > 0


def test_wakeuptime_json(pingpong):
    parent, child = pingpong
    d = _json("wakeuptime", "-p", parent, "2")
    rows = [r for r in d["rows"] if r["target"] == "stackprog" and r["waker"] == "stackprog"
            and {"anon_pipe_write", "pipe_write"} & set(_symbols(r["kernel_stack"]))]
    assert rows and sum(r["total_us"] for r in rows) > 500000, d
    assert all(f["module"] == "kernel" and f["offset"] >= 0
               for r in rows for f in r["kernel_stack"])
    assert "try_to_wake_up" not in _symbols(rows[0]["kernel_stack"])
