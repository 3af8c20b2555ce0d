"""The library against the real kernel: config, maps, event buffers,
probe-variant selection and error paths (tests/bpf/libtest.bpf.c)."""
from __future__ import annotations

import mmap
import os

import pytest

import corebpf
from corebpf import features

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root", "no_leaks")]


def _open(path, **kw):
    obj = corebpf.Object.open(str(path), **kw)
    obj.programs["missing_tp"].autoload = False
    return obj


def _trigger(n):
    for _ in range(n):
        os.getppid()


def test_rodata_config_and_maps(test_object):
    with _open(test_object) as obj:
        assert obj.rodata.magic == 0 and obj.rodata.tag == "unset"
        obj.rodata.targ_pid = os.getpid()
        obj.rodata.magic = 0xC0FFEE
        obj.rodata["tag"] = "hello"
        assert obj.rodata.tag == "hello"
        obj.load()
        obj.attach("on_getppid")
        _trigger(7)
        assert obj.bss.hits == 7
        counts = obj.maps["counts"]
        items = counts.items()
        assert len(items) == 1
        key, val = items[0]
        assert key == os.getpid()
        assert val.count == 7 and val.comm  # comm decoded as str
        assert counts[os.getpid()].count == 7
        assert counts.get(12345678) is None
        with pytest.raises(KeyError):
            counts[12345678]
        # struct keys decode to records; iteration; deletion by record
        skeys = obj.maps["skeys"]
        got = sorted((k.slot, v) for k, v in skeys.items())
        assert got == [(0, 1), (1, 2), (2, 3)]
        k0 = next(k for k in skeys.keys() if k.slot == 0)
        del skeys[k0]
        assert len(skeys) == 2
        skeys[{"pid": 1, "slot": 9}] = 99
        assert skeys[{"pid": 1, "slot": 9}] == 99
        popped = skeys.pop_items()
        assert len(popped) == 3 and len(skeys) == 0
        # array and per-CPU array
        assert obj.maps["arr"][0] == 7
        assert dict(obj.maps["arr"].items())[1] == 0
        per_cpu = obj.maps["pcpu"][0]
        assert len(per_cpu) == features.possible_cpus() and sum(per_cpu) == 7
        obj.maps["arr"].clear()
        assert obj.maps["arr"][0] == 0
        counts.clear()
        assert len(counts) == 0
        with pytest.raises(corebpf.ConfigError):
            obj.rodata.magic = 1            # frozen after load


def test_ring_buffer_records_decoded_from_btf(test_object):
    with _open(test_object) as obj:
        obj.rodata.targ_pid = os.getpid()
        obj.rodata.magic = 42
        obj.rodata.tag = "ringtag"
        obj.load()
        obj.attach("on_getppid")
        got = []
        rb = obj.ring_buffer("events", got.append)
        _trigger(5)
        rb.poll(100)
        assert len(got) == 5
        r = got[0]
        assert r.pid == os.getpid() and r.neg == -5 and r.magic == 42
        assert r.tag == "ringtag" and isinstance(r.comm, str)
        assert r.raw == b"\x01\x00\x02\xff"
        assert r.small == (7, 8, 9)
        assert (r.inner.a, r.inner.b) == (11, 12)
        assert rb.lost == 0 and rb.lost_since_last() == 0


def test_ring_buffer_callback_exception_is_reraised(test_object):
    with _open(test_object) as obj:
        obj.rodata.targ_pid = os.getpid()
        obj.load()
        obj.attach("on_getppid")

        def boom(rec):
            raise ValueError("from callback")

        rb = obj.ring_buffer("events", boom)
        _trigger(2)
        with pytest.raises(ValueError, match="from callback"):
            rb.poll(100)


def test_perf_buffer_delivery(test_object):
    with _open(test_object) as obj:
        obj.rodata.targ_pid = os.getpid()
        obj.rodata.magic = 99
        obj.load()
        obj.attach("on_getppid")
        got = []
        pb = obj.perf_buffer("pevents", got.append, page_cnt=8)
        _trigger(3)
        pb.poll(200)
        assert [r.magic for r in got] == [100, 100, 100]
        assert all(r.pid == os.getpid() for r in got)
        assert pb.lost == 0


def test_variant_selection_prefers_tp_btf(test_object):
    with _open(test_object, probe="") as obj:
        obj.rodata.targ_pid = os.getpid()
        obj.load()
        assert obj.variant == "btf"
        assert obj.programs["fork__tp"].autoload is False
        obj.attach("fork__btf")
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        assert obj.bss.fork_hits == 1


def test_variant_forced_tracepoint(test_object):
    with _open(test_object, probe="tracepoint") as obj:
        obj.rodata.targ_pid = os.getpid()
        obj.load()
        assert obj.variant == "tp"
        obj.attach("fork__tp")
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        assert obj.bss.fork_hits == 1


def test_failed_variant_falls_back_to_next(test_object):
    with _open(test_object, probe="") as obj:
        obj.rodata.targ_pid = os.getpid()
        obj.rodata.make_bad = True          # tp_btf variant fails the verifier
        obj.load()
        assert obj.variant == "tp"
        assert obj.rodata.make_bad is True  # configuration replayed on reopen


@pytest.mark.skipif(features.kprobes(), reason="kernel has kprobes: the refusal path "
                    "cannot be shown here")
def test_forced_kprobe_without_kprobes_names_the_feature(test_object):
    with _open(test_object, probe="kprobe") as obj:
        with pytest.raises(corebpf.MissingFeature, match="kprobes"):
            obj.load()


def test_kprobe_variant_passes_the_verifier(test_object):
    """Function-probe programs must load here even where they cannot attach."""
    with corebpf.Object.open(str(test_object), only=["fork__kprobe"]) as obj:
        obj.load(select=False)
        assert obj.programs["fork__kprobe"].fd >= 0


def test_missing_tracepoint_attach_error(test_object):
    with corebpf.Object.open(str(test_object), only=["missing_tp"]) as obj:
        obj.load(select=False)
        with pytest.raises(corebpf.AttachError) as ei:
            obj.attach("missing_tp")
        assert "missing_tp" in str(ei.value)


def test_bad_object_file(tmp_path):
    bad = tmp_path / "bad.bpf.o"
    bad.write_bytes(b"not an ELF file")
    with pytest.raises(corebpf.BPFError) as ei:
        corebpf.Object.open(str(bad))
    assert "bpf_object__open_file" in str(ei.value)


def test_unknown_config_variable(test_object):
    with _open(test_object) as obj:
        with pytest.raises(corebpf.ConfigError, match="no_such_var"):
            obj.rodata.no_such_var = 1


def test_close_detaches_everything(test_object):
    obj = _open(test_object)
    obj.rodata.targ_pid = os.getpid()
    obj.load()
    obj.attach()
    assert len(obj.links) == 2        # on_getppid + fork__btf
    obj.close()
    obj.close()                       # idempotent
    assert obj.links == []


def test_features_probe_this_machine():
    assert features.has_btf()
    assert features.tracepoint_exists("syscalls", "sys_enter_openat")
    assert not features.tracepoint_exists("syscalls", "sys_enter_nonexistent_zz")
    assert features.raw_tracepoint_exists("sched_switch")
    assert features.tp_btf() and features.raw_tp() and features.ringbuf()
    # kallsyms lists functions even without kprobes: the probe must not be fooled
    if not os.path.exists("/sys/bus/event_source/devices/kprobe/type"):
        assert features.kernel_function_exists("vfs_read")
        assert features.kprobes() == os.path.exists(features.tracefs() + "/kprobe_events")


def test_bpf_helper_reads_the_kernels_helper_list():
    """features.bpf_helper: the enumerators of the kernel BTF's enum bpf_func_id."""
    assert features.bpf_helper("map_lookup_elem")
    assert features.bpf_helper("ringbuf_output") == features.ringbuf()
    assert not features.bpf_helper("corebpf_no_such_helper")
    assert not features.bpf_helper("")


def test_ring_buffer_loss_is_counted(test_object):
    """A ring too small for a burst: every record is either delivered or counted."""
    with _open(test_object) as obj:
        obj.rodata.targ_pid = os.getpid()
        obj.maps["events"].max_entries = 4096      # one page
        obj.load()
        obj.attach("on_getppid")
        got = []
        rb = obj.ring_buffer("events", got.append)
        _trigger(500)                               # no polling meanwhile
        while rb.poll(50):
            pass
        assert rb.lost > 0
        assert len(got) + rb.lost == 500
        assert rb.lost_since_last() == rb.lost and rb.lost_since_last() == 0


def test_perf_buffer_loss_is_counted(test_object):
    with _open(test_object) as obj:
        obj.rodata.targ_pid = os.getpid()
        obj.load()
        obj.attach("on_getppid")
        got, lost = [], []
        pb = obj.perf_buffer("pevents", got.append, lambda cpu, n: lost.append(n), page_cnt=1)
        os.sched_setaffinity(0, {0})                # one CPU's buffer overflows
        try:
            _trigger(2000)
            while pb.poll(50):
                pass
            # the kernel writes its LOST record once there is room again:
            # one more event (same CPU) after the drain carries the count
            _trigger(1)
            while pb.poll(50):
                pass
        finally:
            os.sched_setaffinity(0, set(range(os.cpu_count())))
        assert pb.lost > 0 and sum(lost) == pb.lost
        assert len(got) + pb.lost == 2001


def test_failed_best_variant_is_named_when_nothing_else_serves(test_object):
    """The tp_btf variant fails the verifier and the forced kind list has only
    kinds this kernel lacks: the error must say the first variant failed and why."""
    with _open(test_object, probe="") as obj:
        obj.rodata.targ_pid = os.getpid()
        obj.rodata.make_bad = True
        obj.programs["fork__tp"].autoload = False       # leave tp_btf + fentry + kprobe
        if features.fentry() or features.kprobes():
            obj.load()                                  # a function probe serves instead
            assert obj.variant in ("fentry", "kprobe")
            return
        with pytest.raises(corebpf.MissingFeature) as ei:
            obj.load()
        msg = str(ei.value)
        assert "the btf variant failed to load" in msg and "fork__btf" in msg, msg


def test_attach_target_of_a_bare_fentry_program():
    """set_attach_target(): the kernel BTF resolves the name at once (no fentry
    support needed for that); a name it lacks raises and changes nothing; the
    target is what variant selection checks."""
    with corebpf.Object.open("fsslower") as obj:
        p = obj.programs["fn_read_enter__fentry"]
        assert p.kind == "fentry" and p.target == ""
        p.set_attach_target("vfs_read")
        assert p.target == "vfs_read"
        with pytest.raises(corebpf.BPFError):
            p.set_attach_target("corebpf_no_such_function_xyz")
        assert p.target == "vfs_read"
        assert ("attach_target", p.name, "corebpf_no_such_function_xyz") not in obj._ops


@pytest.mark.parametrize("mode", ["direct", "direct-fenced", "libbpf"])
def test_ring_buffer_batches_wrap_and_resume_after_an_exception(test_object, mode, monkeypatch):
    """The ring read through its mmapped pages (direct) or by libbpf: records
    that wrap around a one-page ring arrive whole and in order, a poll stops
    after BATCH records, and after a callback raises the rest arrive at the
    next poll (the record that raised counts as delivered, as libbpf does)."""
    if mode == "libbpf":
        monkeypatch.setenv("COREBPF_RINGBUF", "libbpf")
    if mode == "direct-fenced":         # the barriers taken on arm64, here too
        from corebpf.core import events
        real = os.uname()
        arm = type(real)(tuple(real)[:4] + ("aarch64",))
        monkeypatch.setattr(events.os, "uname", lambda: arm)
    with _open(test_object) as obj:
        obj.rodata.targ_pid = os.getpid()
        obj.rodata.magic = 7
        obj.maps["events"].max_entries = 4096      # one page: records wrap
        obj.load()
        obj.attach("on_getppid")
        got = []
        rb = obj.ring_buffer("events", got.append)
        assert (rb._rings != []) == mode.startswith("direct")
        assert (rb._fence is not None) == (mode == "direct-fenced" or
                                           mode == "direct" and os.uname().machine != "x86_64")
        for burst in range(1, 60):                  # every alignment of the wrap
            _trigger(burst % 7 + 1)
            while rb.poll(0):
                pass
        assert rb.lost == 0
        assert len(got) == sum(b % 7 + 1 for b in range(1, 60))
        assert all(r.magic == 7 and r.pid == os.getpid() and r.small == (7, 8, 9)
                   and r.neg == -5 and tuple(r.inner) == (11, 12) for r in got)
        if mode.startswith("direct"):   # data pages mapped once (RSS), not twice
            assert len(rb._rings[0]._dmap) == mmap.PAGESIZE + 4096

        got.clear()
        rb.BATCH = 4
        _trigger(10)
        assert [rb.poll(100), rb.poll(100), rb.poll(100)] == [4, 4, 2]
        assert len(got) == 10

        got.clear()
        rb.BATCH = 4096
        seen = []

        def third_fails(rec):
            seen.append(rec)
            if len(seen) == 3:
                raise ValueError("third")
        rb2 = obj.ring_buffer("events", third_fails)
        rb.close()
        _trigger(8)
        with pytest.raises(ValueError, match="third"):
            rb2.poll(100)
        assert len(seen) == 3
        while rb2.poll(50):
            pass
        assert len(seen) == 8 and rb2.lost == 0
