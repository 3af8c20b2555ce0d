"""offcputime on the real kernel: a frame-pointer test program sleeps in
nanosleep() under corebpf_nap_marker(); its blocked stacks must show."""
from __future__ import annotations

import os
import re
import subprocess

import pytest

import corebpf
from tests.helpers import Tool, run_tool

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]


@pytest.fixture
def napper(stackprog):
    p = subprocess.Popen([str(stackprog["pie"]), "nap", "60"], stdout=subprocess.PIPE)
    p.stdout.readline()
    yield p
    p.kill()
    p.wait()


def stanzas(lines):
    out, cur = [], []
    for line in lines:
        if not line.strip():
            continue
        cur.append(line)
        if re.fullmatch(r" {8}\d+", line):
            out.append(cur)
            cur = []
    return out


def nap_stanza(out, pid):
    """The stack of the napper blocked in nanosleep under corebpf_nap_marker."""
    for s in stanzas(out.splitlines()[1:]):
        if s[-2] == "    %-16s %s (%d)" % ("-", "stackprog", pid) and \
                any(l.strip().startswith("corebpf_nap_marker") for l in s) and \
                any(l.strip().startswith("do_nanosleep") for l in s):
            return s
    return None


def test_pid_multiline(napper):
    rc, out, err = run_tool("offcputime", "-p", napper.pid, "2")
    assert rc == 0, err
    lines = out.split("\n")
    assert lines[0] == f"Tracing off-CPU time (us) of PIDs {napper.pid} by user + kernel stack " \
                       "for 2 secs."
    assert lines[1] == ""
    s = nap_stanza(out, napper.pid)
    assert s, out
    frames = [l.strip() for l in s[:-2]]
    assert frames[0] == "__schedule" and "schedule" in frames and "do_nanosleep" in frames
    assert frames.index("do_nanosleep") < frames.index("corebpf_nap_marker") < \
        frames.index("main")
    assert "--" not in frames
    assert int(s[-1]) > 500000             # ~2 s of 100 ms naps, in microseconds
    assert all(l.startswith("    ") for l in s)


def test_folded(napper):
    rc, out, err = run_tool("offcputime", "-f", "-p", napper.pid, "2")
    assert rc == 0, err
    assert not out.startswith("Tracing")
    # the nap's stack (under load the napper may also be preempted elsewhere
    # in its loop: another line with the marker, ending in an interrupt)
    lines = [l for l in out.splitlines() if ";corebpf_nap_marker;" in l]
    assert any(re.fullmatch(r"stackprog;(.+;)?main;corebpf_nap_marker;(.+;)?do_nanosleep;"
                            r"schedule;__schedule \d+", l) for l in lines), out


def test_delimiter_offsets_and_thread_filter(napper):
    rc, out, err = run_tool("offcputime", "-d", "-s", "-t", napper.pid, "2")
    assert rc == 0, err
    assert f"of TIDs {napper.pid} by" in out.splitlines()[0]
    s = nap_stanza(out, napper.pid)
    assert s, out
    cut = s.index("    --")
    assert re.fullmatch(r"    __schedule\+0x[0-9a-f]+", s[0]), s
    assert any(re.fullmatch(r"    corebpf_nap_marker\+0x[0-9a-f]+", l) for l in s[cut:]), s


def test_kernel_only_and_user_only(napper):
    rc, out, err = run_tool("offcputime", "-K", "-p", napper.pid, "1")
    assert rc == 0 and "by kernel stack for 1 secs." in out
    assert "do_nanosleep" in out and "corebpf_nap_marker" not in out, out
    rc, out, err = run_tool("offcputime", "-U", "-f", "-p", napper.pid, "1")
    assert rc == 0
    if _exported_function_holds_syscall("c", "clock_nanosleep"):
        leaf = "clock_nanosleep"
    elif _has_debug_file("c"):
        leaf = r"(?!clock_nanosleep;)[A-Za-z_]\w*"  # glibc 2.41: __internal_syscall_cancel
    else:
        leaf = r"\[unknown\]"
    assert re.search(rf"^stackprog;(.+;)?corebpf_nap_marker;{leaf} \d+$", out, re.M), out
    assert "schedule" not in out


def _has_debug_file(lib) -> bool:
    """True if `lib` has a separate debug file under /usr/lib/debug/.build-id
    (Debian's libc6-dbg, in the README's test command): its .symtab names
    the internal functions Debian strips from the library."""
    from elftools.elf.elffile import ELFFile

    from corebpf.symbols import elf
    with open(elf.resolve_binary(lib), "rb") as f:
        note = ELFFile(f).get_section_by_name(".note.gnu.build-id")
        bid = next((n["n_desc"] for n in note.iter_notes() if n["n_type"] == "NT_GNU_BUILD_ID"),
                   None) if note else None
    return bool(bid) and os.path.exists(f"/usr/lib/debug/.build-id/{bid[:2]}/{bid[2:]}.debug")


def _exported_function_holds_syscall(lib, func) -> bool:
    """True if `func` of `lib` contains the syscall instruction itself: the
    blocked thread's user IP is then inside it.  glibc 2.36 (Debian 12):
    yes; 2.41 (Debian 13): clock_nanosleep is a short wrapper around an
    internal function that only .symtab names, and Debian strips .symtab,
    so the leaf is an address no symbol covers: [unknown], as bcc prints --
    unless libc's debug file is installed, whose .symtab names it."""
    from elftools.elf.elffile import ELFFile

    from corebpf.symbols import elf
    with open(elf.resolve_binary(lib), "rb") as f:
        e = ELFFile(f)
        sym = next(s for s in e.get_section_by_name(".dynsym").iter_symbols()
                   if s.name == func and s["st_info"]["type"] == "STT_FUNC")
        text = next(sec for sec in e.iter_sections()
                    if sec["sh_addr"] <= sym["st_value"] < sec["sh_addr"] + sec["sh_size"])
        f.seek(text["sh_offset"] + sym["st_value"] - text["sh_addr"])
        insn = {"x86_64": b"\x0f\x05", "aarch64": b"\x01\x00\x00\xd4"}[os.uname().machine]
        return insn in f.read(sym["st_size"])           # `syscall` / `svc #0`


NAP = re.compile(r";corebpf_nap_marker;.*;do_nanosleep;", re.M)


def test_block_time_and_state_filters(napper):
    # each nap blocks ~100 ms: a 1 s minimum leaves none, a 50 ms one keeps them
    rc, out, err = run_tool("offcputime", "-f", "-m", "1000000", "-p", napper.pid, "1")
    assert rc == 0 and not NAP.search(out), out
    rc, out, err = run_tool("offcputime", "-f", "-m", "50000", "-p", napper.pid, "1")
    assert NAP.search(out), out
    rc, out, err = run_tool("offcputime", "-f", "-M", "50000", "-p", napper.pid, "1")
    assert not NAP.search(out), out
    # nanosleep blocks TASK_INTERRUPTIBLE (1), not TASK_UNINTERRUPTIBLE (2)
    rc, out, err = run_tool("offcputime", "-f", "--state", "1", "-p", napper.pid, "1")
    assert NAP.search(out), out
    rc, out, err = run_tool("offcputime", "-f", "--state", "2", "-p", napper.pid, "1")
    assert not NAP.search(out), out


def test_user_threads_only(napper):
    rc, out, err = run_tool("offcputime", "-u", "-f", "1")
    assert rc == 0, err
    assert re.search(r"^stackprog;.*corebpf_nap_marker;", out, re.M), out
    assert not re.search(r"^(kworker|ksoftirqd|rcu_)", out, re.M)


@pytest.mark.parametrize("probe", ["raw_tp", "tracepoint"])
def test_other_variants(napper, probe):
    rc, out, err = run_tool("offcputime", "--probe", probe, "--verbose", "-f", "-p",
                            napper.pid, "1")
    assert rc == 0, err
    assert f"({probe}) probes" in err
    # the nap's stack (on a busy machine the napper is also preempted elsewhere)
    assert re.search(r";corebpf_nap_marker;.*;do_nanosleep;schedule;__schedule \d+$",
                     out, re.M), out


def test_ctrl_c_prints_the_report(napper):
    t = Tool("offcputime", "-p", napper.pid)
    assert t.lines[0].endswith("by user + kernel stack... Hit Ctrl-C to end.")
    t.wait_for(lambda l: False, timeout=1.5)
    assert t.stop() == 0
    assert any(l.strip() == "corebpf_nap_marker" for l in t.lines), t.text


def test_kprobe_variant_loads():
    with corebpf.Object.open("offcputime", only=["finish_task_switch__kprobe"]) as obj:
        obj.load(select=False)
        assert obj.programs["finish_task_switch__kprobe"].fd >= 0


def test_kprobe_variant_missing_here_is_one_line():
    if corebpf.features.kprobes():
        pytest.skip("this kernel has kprobes: the kprobe variant can run")
    rc, out, err = run_tool("offcputime", "--probe", "kprobe", "1")
    assert rc == 1 and len(err.strip().splitlines()) == 1, err
    assert "kprobes" in err


@pytest.mark.parametrize("args,msg", [
    (["-p", "4194303"], "no such process: 4194303"),
    (["-t", "4194303"], "no such thread: 4194303"),
    (["-U", "-k"], "ERROR: Displaying user stacks for kernel threads doesn't make sense."),
    (["-f", "-s"], "ERROR: can only use -f or -s. Exiting."),
    (["-u", "-k"], "not allowed with argument"),
    (["-U", "-K"], "not allowed with argument"),
    (["-m", "0"], "must be positive"),
    (["-m", "100", "-M", "10"], "--min-block-time is above --max-block-time"),
    (["--state", "-1"], "out of range"),
    (["--stack-storage-size", "x"], "invalid integer"),
    (["0"], "must be positive"),
])
def test_bad_input_one_line(args, msg):
    rc, out, err = run_tool("offcputime", *args)
    assert rc != 0 and msg in err and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err


def test_json_frames(napper):
    import json

    import jsonschema
    from tests.helpers import schema
    rc, out, err = run_tool("offcputime", "--json", "-p", napper.pid, "2")
    assert rc == 0, err
    d, = [json.loads(l) for l in out.splitlines()]
    jsonschema.validate(d, schema("offcputime"))
    naps = [r for r in d["rows"] if any(f["symbol"] == "corebpf_nap_marker"
                                        for f in r["user_stack"])]
    assert naps, d
    # the nap itself, the most time: a loaded machine also preempts the
    # napper between naps (a stack from a timer interrupt, not nanosleep)
    r = max(naps, key=lambda x: x["total_us"])
    assert (r["pid"], r["tid"], r["comm"]) == (napper.pid, napper.pid, "stackprog")
    ks = [f["symbol"] for f in r["kernel_stack"]]
    us = [f["symbol"] for f in r["user_stack"]]
    assert ks[0] == "__schedule" and "do_nanosleep" in ks, ks
    assert us.index("corebpf_nap_marker") < us.index("main"), us
    assert all(f["module"] == "kernel" for f in r["kernel_stack"])
    assert sum(x["total_us"] for x in naps) > 500000


def test_stacks_through_the_symbol_cache(napper, tmp_path):
    """With the per-boot kernel symbol cache (filled by the first run, used by
    the second, which then reads no kallsyms for core frames): the same
    stack, the BPF program's frame still dropped (it is known by its
    caller, bpf_trace_run*, without kallsyms)."""
    env = {"COREBPF_CACHE": "on", "COREBPF_CACHE_DIR": str(tmp_path / "cache")}
    for run in ("cold", "warm"):
        rc, out, err = run_tool("offcputime", "-p", napper.pid, "1", env=env)
        assert rc == 0, err
        assert (tmp_path / "cache" / "kallsyms.core").exists()
        s = nap_stanza(out, napper.pid)
        assert s, (run, out)
        frames = [l.strip() for l in s[:-2]]
        assert frames[0] == "__schedule" and "do_nanosleep" in frames, (run, frames)
