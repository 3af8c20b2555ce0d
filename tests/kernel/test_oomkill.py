"""oomkill on the real kernel: a real OOM kill inside a 128 MiB memory cgroup.
A victim (oom_score_adj 1000, so the killer picks it) holds 64 MiB; a second
process then allocates 80 MiB and triggers the kill (together over the
limit; without the victim, far below it, so the trigger survives)."""
from __future__ import annotations

import re

import pytest

import corebpf
from corebpf import features
from tests.helpers import Tool, json_match, json_objects, run_tool
from tests.memcg import MemoryCgroup, provoke_oom as provoke

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

MB = 1 << 20

def test_oom_kill_in_a_memory_cgroup():
    with MemoryCgroup(128 * MB) as cg:
        t = Tool("oomkill")
        assert t.lines[0] == "Tracing OOM kills... Ctrl-C to stop."
        victim, trigger, out = provoke(cg)
        line = t.wait_for(lambda l: f"OOM kill of PID {victim.pid} " in l)
        assert t.stop() == 0
    assert victim.returncode == -9 and out == "done\n"
    assert line is not None, t.text
    assert re.fullmatch(
        r'\d\d:\d\d:\d\d Triggered by PID %d \("oom-trigger"\), OOM kill of PID %d '
        r'\("oom-victim"\), %d pages, loadavg: \d+\.\d\d \d+\.\d\d \d+\.\d\d \d+/\d+ \d+'
        % (trigger.pid, victim.pid, cg.limit_pages), line), line


def test_classic_tracepoint_variant():
    with MemoryCgroup(128 * MB) as cg:
        t = Tool("oomkill", "--probe", "tracepoint", "--verbose")
        victim, trigger, out = provoke(cg)
        line = t.wait_for(lambda l: f"OOM kill of PID {victim.pid} " in l)
        t.stop()
    assert "using tp (tracepoint) probes" in t.stderr
    assert line is not None, t.text
    assert f'Triggered by PID {trigger.pid} ("oom-trigger")' in line
    assert f'("oom-victim"), {cg.limit_pages} pages, loadavg: ' in line


def test_kprobe_variant_passes_the_verifier():
    with corebpf.Object.open("oomkill", only=["kill__kprobe"]) as obj:
        obj.load(select=False)
        assert obj.programs["kill__kprobe"].fd >= 0


def test_bad_input_one_line():
    rc, out, err = run_tool("oomkill", "-p", "1")
    assert rc != 0 and "unrecognized arguments" in err and len(err.strip().splitlines()) == 1


@pytest.mark.skipif(features.kprobes(), reason="kernel has kprobes (corebpf.core.features): "
                    "the refusal cannot be shown here")
def test_forced_kprobe_names_the_missing_feature():
    rc, out, err = run_tool("oomkill", "--probe", "kprobe")
    assert rc == 1 and out == ""
    assert err == "oomkill: error: oomkill: this kernel lacks kprobes (CONFIG_KPROBES)\n"


def test_json():
    with MemoryCgroup(128 * MB) as cg:
        t = Tool("oomkill", "--json", ready="stderr")
        victim, trigger, out = provoke(cg)
        line = t.wait_for(json_match(lambda d: d["tpid"] == victim.pid))
        assert t.stop() == 0
    assert line is not None, (t.text, t.stderr)
    d, = [o for o in json_objects(t, "oomkill") if o.get("tpid") == victim.pid]
    assert (d["fpid"], d["fcomm"], d["tcomm"], d["pages"]) == (
        trigger.pid, "oom-trigger", "oom-victim", cg.limit_pages)
    assert re.fullmatch(r"\d+\.\d\d \d+\.\d\d \d+\.\d\d \d+/\d+ \d+", d["loadavg"])
