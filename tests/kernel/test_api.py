"""The public API (docs/API.md) against the running kernel, beyond what the
ported examples exercise: run-time attach targets, prefer=, perf events,
uprobes by lib:func and uretprobes, per-CPU sums, batched deletes, and the
histogram printers on every map shape they accept (tests/bpf/apitest.bpf.c)."""
from __future__ import annotations

import ctypes
import io
import os
import time

import pytest

import corebpf
from corebpf import histogram

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root", "no_leaks")]

from corebpf.core.paths import ARCH

OBJ = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bpf", str(ARCH),
                   "apitest.bpf.o")


@pytest.fixture(scope="module", autouse=True)
def _built(test_object):
    # the conftest fixture builds every test object (needs clang)
    assert os.path.exists(OBJ)


def _open(*keep, **kw):
    """The object with only `keep` (and the getppid variants) loaded."""
    obj = corebpf.Object.open(OBJ, **kw)
    for p in obj.programs.values():
        if p.name not in keep and p.hook != "getppid":
            p.autoload = False
    obj.rodata.targ_pid = os.getpid()
    return obj


def test_run_time_target_on_a_bare_section():
    with _open("on_raw") as obj:
        prog = obj.programs["on_raw"]
        assert prog.kind == "raw_tp" and prog.target == ""
        prog.set_attach_target("sys_enter")
        assert prog.target == "sys_enter"
        obj.load()
        links = obj.attach()
        assert "sys_enter" in [ln.target for ln in links]
        for _ in range(5):
            os.getppid()
        assert obj.bss.raw_hits >= 5
        with pytest.raises(corebpf.ConfigError):
            prog.set_attach_target("sys_exit")          # after load


def test_prefer_orders_the_variants():
    with _open() as obj:
        obj.load()
        assert obj.variant == "raw"                     # raw_tp before tracepoint
    with _open(prefer=("tracepoint", "raw_tp")) as obj:
        obj.load()
        assert obj.variant == "tp"
        obj.attach()
        for _ in range(9):
            os.getppid()
        assert obj.bss.variant_hits == 9
    with pytest.raises(corebpf.ConfigError, match="unknown probe kind 'kprobes'"):
        corebpf.Object.open(OBJ, prefer=("kprobes",))


def test_per_cpu_sums_and_histogram_of_counts():
    with _open(prefer=("tracepoint",)) as obj:
        obj.load()
        obj.attach()
        for _ in range(40):
            os.getppid()
        m = obj.maps["per_cpu"]
        assert m.percpu and len(m[0]) == corebpf.features.possible_cpus()
        total = m.sum(0)
        assert isinstance(total, m.value_type) and total.calls == 40
        assert total.odd == sum(v.odd for v in m[0])
        assert m.max(0).calls == max(v.calls for v in m[0])
        assert m.sum_items() == [(0, total)]
        out = io.StringIO()
        obj.maps["dist_int"].print_log2_hist("calls", file=out)
        vals = [0] * 65
        vals[3] = 40                                    # 7 -> slot 3 (4..7)
        assert out.getvalue() == histogram.format_log2(vals, "calls")
        assert "         4 -> 7          : 40       |****************************************|" \
            in out.getvalue()


def test_histogram_shapes_print_as_bcc_does():
    with _open() as obj:
        obj.load()
        one, keyed, bcc = obj.maps["dist_one"], obj.maps["dist_keyed"], obj.maps["dist_bcc"]
        a = [0] * 65
        a[1], a[4] = 2, 9
        b = [0] * 65
        b[10] = 5
        one[0] = {"slots": a}
        keyed[7] = {"slots": a}
        keyed[3] = {"slots": b}
        for slot, n in ((1, 2), (4, 9)):
            bcc[bcc.key_type(bucket=7, slot=slot)] = n
        bcc[{"bucket": 3, "slot": 10}] = 5

        out = io.StringIO()
        one.print_log2_hist("usecs", file=out)
        assert out.getvalue() == histogram.format_log2(a, "usecs")

        for m in (keyed, bcc):
            out = io.StringIO()
            m.print_log2_hist("usecs", section_header="disk", file=out,
                              section_print_fn=lambda k: f"d{k}", bucket_sort_fn=sorted)
            assert out.getvalue() == ("\ndisk = d3\n" + histogram.format_log2(b, "usecs") +
                                      "\ndisk = d7\n" + histogram.format_log2(a, "usecs")), m
        out = io.StringIO()
        bcc.print_linear_hist("kbytes", bucket_fn=lambda k: "all", file=out)
        both = [x + y for x, y in zip(a, b)]
        assert out.getvalue() == "\nBucket ptr = 'all'\n" + histogram.format_linear(both,
                                                                                       "kbytes")
        out = io.StringIO()
        one.print_log2_hist("usecs", strip_leading_zero=True, file=out)
        assert out.getvalue().splitlines()[1].startswith("         0 -> 1 ")
        with pytest.raises(corebpf.ConfigError, match="no histogram here"):
            obj.maps["per_cpu"].print_log2_hist()


def test_batched_deletes_skip_missing_keys():
    with _open() as obj:
        obj.load()
        m = obj.maps["batch"]
        for i in range(20):
            m[i] = i * 3
        assert m.key_type is int and m.value_type is int
        assert m.delete_batch([1, 2, 3, 99, 4]) == 4
        assert sorted(m.keys()) == [0] + list(range(5, 20))
        assert m.delete_batch(range(20)) == 16 and len(m) == 0


def test_items_read_can_be_abandoned():
    # items(until=...): asked between batches of the read and of the decode;
    # true abandons the read (a tool's Ctrl-C during a big map's report)
    with _open() as obj:
        obj.load()
        m = obj.maps["batch"]
        for i in range(40):
            m[i] = i + 1
        asked = []
        assert m.items(until=lambda: asked.append(1) or True) is None and asked
        asked.clear()
        full = m.items(until=lambda: asked.append(1) and False)
        assert sorted(full) == sorted(m.items()) == [(i, i + 1) for i in range(40)] and asked


def test_perf_event_sampling():
    with _open("on_sample") as obj:
        obj.load()
        links = obj.programs["on_sample"].attach_perf(
            corebpf.PerfType.SOFTWARE, corebpf.PerfSWConfig.CPU_CLOCK, sample_freq=999,
            pid=os.getpid())
        assert len(links) == len(corebpf.features.online_cpus())
        assert all(ln.target.startswith("cpu-clock cpu ") for ln in links)
        end = time.monotonic() + 0.5
        while time.monotonic() < end:
            pass
        assert obj.bss.samples > 0
        with pytest.raises(corebpf.AttachError):
            obj.programs["on_sample"].attach_perf(corebpf.PerfType.SOFTWARE,
                                                  corebpf.PerfSWConfig.CPU_CLOCK,
                                                  sample_freq=99, cpu=100000)


def test_uprobe_by_lib_and_function_and_uretprobe():
    libc = ctypes.CDLL(None)
    text = b"corebpf-api-test-" + b"x" * 80
    with _open("on_call", "on_return") as obj:
        obj.rodata.targ_len = len(text)
        obj.load()
        link = obj.programs["on_call"].attach_uprobe("c:strlen", pid=os.getpid())
        assert link.target.endswith(":strlen") and "libc" in link.target
        obj.programs["on_return"].attach_uretprobe("c", "strlen", pid=os.getpid())
        for _ in range(6):
            libc.strlen(text)
        # strlen is an indirect function: probed where calls land, not at the resolver
        assert obj.bss.uprobe_hits >= 6
        assert obj.bss.ret_hits == 6
        with pytest.raises(corebpf.ElfError, match="no function 'no_such_fn_corebpf'"):
            obj.programs["on_call"].attach_uprobe("c:no_such_fn_corebpf")
        with pytest.raises(corebpf.ElfError, match="cannot find library"):
            obj.programs["on_call"].attach_uprobe("nosuchlib_corebpf:f")
        with pytest.raises(corebpf.ElfError, match="a USDT probe needs a binary path or a PID"):
            obj.programs["on_call"].attach_usdt(name="x")


def test_open_a_missing_user_object_says_how_to_build_it(tmp_path):
    with pytest.raises(corebpf.ConfigError, match=r"build it with: corebpf compile .*/x\.bpf\.c"):
        corebpf.Object.open(str(tmp_path / "x.bpf.o"))


def test_symbols():
    addr = ctypes.cast(ctypes.CDLL(None).getpid, ctypes.c_void_p).value
    assert corebpf.sym(addr, os.getpid()).startswith(("getpid", "__getpid"))
    ks = corebpf.KernelSymbols()
    a = ks.address("do_sys_openat2") or ks.address("do_sys_open")
    assert a and corebpf.ksym(a) in ("do_sys_openat2", "do_sys_open")
