"""The tools on kernels older and newer than this one (issue 18): run here
and in the kernel matrix's guests (5.10, 6.1, 6.12, newest; tests/vm/run).

- every probe variant of every packaged object that the running kernel can
  serve loads: a verifier refusal (6.1's "R0 unbounded memory access" on
  histogram slots), a helper the kernel does not have (5.10 lacks
  bpf_get_current_task_btf, bpf_get_func_ip), an atomic it refuses or a
  CO-RE relocation against a field it lacks fails here, naming the program;
- the tracepoint argument counts the library probes by attaching agree
  with the kernel's BTF;
- without /sys/kernel/btf (a tmpfs over it, in a private mount namespace),
  tools run from an external BTF file (`--btf`, full or minimal), never
  choose tp_btf/fentry, and the ones that cannot serve say why in one line.
"""
from __future__ import annotations

import errno
import importlib
import os
import shutil
import subprocess
import sys
import uuid

import pytest

import corebpf
from corebpf import features
from corebpf.core import kbtf
from corebpf.core.paths import OBJ_DIR
from tests.helpers import Tool, run_tool
from corebpf.tools import _cli

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

OBJECTS = sorted(f[:-len(".bpf.o")] for f in os.listdir(OBJ_DIR)
                 if f.endswith(".bpf.o") and f != "features.bpf.o")
FUNCTION_KINDS = {"kprobe": features.kprobes, "fentry": features.fentry}
# objects whose only data source is a kernel build option's tracepoints
OPTIONAL_SOURCES = {"criticalstat": (features.preemptirq, "preemptirq tracepoints"),
                    # md_flush_request is the md module's: there only with an md device
                    "mdflush": (lambda: features.kernel_function_exists("md_flush_request"),
                                "kernel function md_flush_request (md module not loaded)")}


def _prepare(name, obj):
    """What the tools do before load: their choose_programs(obj) (the object's
    tool of the same name), or for the file system objects the configuration
    for a file system this kernel has (NFS's own tracepoints where it has NFS)."""
    _cli.drop_missing_syscalls(obj)
    if name in ("fsslower", "fsdist"):
        from corebpf.tools import _fs
        nfs = features.filesystem("nfs")
        obj.rodata.targ_fs_magic = _fs.FILESYSTEMS["nfs" if nfs else "xfs"].magic
        _fs._configure(obj, _fs.FILESYSTEMS["nfs" if nfs else "xfs"], set(range(6)))
        return
    try:
        tool = importlib.import_module("corebpf.tools." + name)
    except ImportError:
        return
    if name == "memleak":       # its kernel mode: the tracepoints that differ between kernels
        tool.choose_programs(obj, kernel=True, percpu=False)
    elif hasattr(tool, "choose_programs"):
        tool.choose_programs(obj)


def _unservable(obj, err):
    """Why a load error means the variant cannot be served here, or None (a
    bug): a tp_btf program whose tracepoint has no BTF (a module's, before
    module BTF in 5.11), or a classic tracepoint program whose CO-RE
    relocations name the event struct of a module without BTF (ext4 on
    Debian's 5.10).  The tools fall back to another variant there."""
    prog = obj.programs.get(err.target)
    if prog is None:
        return None
    if prog.kind == "tp_btf" and err.errno in (errno.ESRCH, errno.ENOENT):
        return f"no BTF for tracepoint {prog.target}"
    cat = prog.target.split("/")[0]
    if prog.kind == "tracepoint" and \
            any("failed to resolve CO-RE relocation" in line for line in err.log) and \
            os.path.exists(f"/sys/module/{cat}/initstate") and \
            not os.path.exists(f"/sys/kernel/btf/{cat}"):
        return f"{cat} is a module without BTF"
    return None


@pytest.mark.parametrize("name", OBJECTS)
def test_every_variant_the_kernel_serves_loads(name):
    """All of them at once (one load per object: under the guests' software
    emulation a load takes seconds), each variant's programs included where
    the library would consider it (Object.missing), as the tools prepare it."""
    if name in OPTIONAL_SOURCES and not OPTIONAL_SOURCES[name][0]():
        pytest.skip(f"this kernel lacks the {OPTIONAL_SOURCES[name][1]}")
    with corebpf.Object.open(name) as o:
        _prepare(name, o)
        variants = sorted({p.variant for p in o.programs.values() if p.variant and p.autoload})
        lacks = {v: ", ".join(o.missing(v)) or None for v in variants}
        kinds = {p.kind for p in o.programs.values() if p.variant and p.autoload}
    while True:
        with corebpf.Object.open(name) as o:
            _prepare(name, o)
            for p in o.programs.values():
                if p.variant and lacks.get(p.variant):
                    p.autoload = False
            progs = [p for p in o.programs.values() if p.autoload]
            if not progs:
                break                   # nothing this kernel can serve: see below
            try:
                o.load(select=False)
            except corebpf.LoadError as e:
                why = _unservable(o, e)
                variant = o.programs[e.target].variant if e.target in o.programs else None
                if why is None or variant is None:
                    raise
                lacks[variant] = why
                continue
            assert all(p.fd >= 0 for p in progs)
            break
    if variants and all(lacks.values()):
        # only kernels without kprobes (and fentry) may serve none of them
        assert kinds <= set(FUNCTION_KINDS) and not any(
            FUNCTION_KINDS[k]() for k in kinds), lacks


TRACEPOINTS = ("block_getrq", "block_rq_issue", "block_rq_complete", "kfree_skb",
               "sched_switch")


@pytest.mark.skipif(not features.has_btf(), reason="no kernel BTF (CONFIG_DEBUG_INFO_BTF)")
@pytest.mark.parametrize("tp", TRACEPOINTS)
def test_tracepoint_nargs_agrees_with_btf(tp):
    b = kbtf.vmlinux()
    tid = b.find_typedef("btf_trace_" + tp)
    assert tid, tp
    proto = b.resolve(b.resolve(tid).ref)
    assert proto.kind == kbtf.FUNC_PROTO
    # btf_trace_TP(void *__data, args...)
    assert features.tracepoint_nargs(tp) == len(proto.params) - 1


@pytest.mark.skipif(not features.kernel_btf(), reason="no kernel BTF (CONFIG_DEBUG_INFO_BTF)")
def test_tracepoint_btf_of_vmlinux_and_of_a_tracepoint_it_does_not_describe():
    """tp_btf is chosen only for tracepoints the kernel's BTF describes: where
    there is no module BTF (this host; 5.10, whose ext4 tracepoints have no
    BTF) only vmlinux's btf_trace_TP typedefs count."""
    assert features.tracepoint_btf("sched_switch")
    if os.listdir("/sys/kernel/btf") == ["vmlinux"]:
        assert not features.tracepoint_btf("corebpf_no_such_tracepoint")
        for tp in ("ext4_sync_file_enter", "block_rq_complete"):
            assert features.tracepoint_btf(tp) == bool(
                kbtf.vmlinux().find_typedef("btf_trace_" + tp)), tp


@pytest.mark.skipif(not features.kernel_btf() or features._modules_loaded(),
                    reason="kernel modules loaded (or no kernel BTF): their tracepoints' BTF "
                           "is looked up")
def test_tracepoint_btf_without_modules_parses_no_second_btf():
    """No module loaded: every tracepoint is vmlinux's, which its BTF
    describes; the answer comes without parsing vmlinux BTF a second time
    beside libbpf (6 MB of peak RSS, tens of ms at start-up)."""
    code = ("from corebpf.core import features as f; "
            "print(f.tracepoint_btf('sched_switch'), f.tracepoint_btf('corebpf_no_such_tp'), "
            "f._running_btf.cache_info().currsize)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.stdout.split() == ["True", "False", "0"], r.stderr


def test_tracepoint_nargs_of_a_missing_tracepoint():
    assert features.tracepoint_nargs("corebpf_no_such_tracepoint") is None


# -- no /sys/kernel/btf --------------------------------------------------------------

START = 120     # s to the header: in the guests (software emulation) a load takes seconds
NO_BTF = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
          'mount -t tmpfs corebpf-nobtf /sys/kernel/btf && exec "$0" "$@"']


@pytest.fixture(scope="module")
def btf_files(tmp_path_factory):
    """A copy of the kernel's BTF and the minimal one bpftool makes for the
    packaged objects (the files one would ship to a kernel without BTF)."""
    if not features.has_btf():
        pytest.skip("no kernel BTF (CONFIG_DEBUG_INFO_BTF) to copy")
    assert shutil.which("unshare"), "unshare (util-linux) is needed for this test"
    d = tmp_path_factory.mktemp("btf")
    full = d / "vmlinux.btf"
    shutil.copyfile("/sys/kernel/btf/vmlinux", full)
    bpftool = shutil.which("bpftool")
    assert bpftool, "bpftool is needed for this test (apt-get install bpftool)"
    small = d / "min.btf"
    objs = sorted(os.path.join(OBJ_DIR, f) for f in os.listdir(OBJ_DIR) if f.endswith(".bpf.o"))
    subprocess.run([bpftool, "gen", "min_core_btf", str(full), str(small), *objs],
                   check=True, capture_output=True)
    return {"full": str(full), "min": str(small)}


def test_without_kernel_btf_runqlat_uses_raw_tracepoints(btf_files):
    for which in ("full", "min"):
        t = Tool("runqlat", "--verbose", "--btf", btf_files[which], prefix=NO_BTF,
                 timeout=START)
        assert t.stop() == 0
        assert "using raw (raw_tp) probes" in t.stderr, t.stderr
        assert any("usecs" in l and "distribution" in l for l in t.lines), t.text


def test_without_kernel_btf_execsnoop_shows_an_exec(btf_files):
    marker = "corebpf-nobtf-" + uuid.uuid4().hex[:8]
    t = Tool("execsnoop", "--btf", btf_files["min"], prefix=NO_BTF, timeout=START)
    subprocess.run(["/bin/true", marker])
    line = t.wait_for(lambda l: marker in l)
    assert t.stop() == 0
    assert line and line.split()[0] == "true", t.text


def test_without_kernel_btf_biosnoop_sees_direct_io(btf_files):
    from tests.workloads import direct_writer
    t = Tool("biosnoop", "--verbose", "--btf", btf_files["min"], prefix=NO_BTF, timeout=START)
    with direct_writer("cbpf_nobtf", size=65536, seconds=0.3) as w:
        w.go().wait()
        line = t.wait_for(lambda l: l.split()[1:3] == ["cbpf_nobtf", str(w.pid)])
    assert t.stop() == 0
    assert line, t.text + t.stderr
    assert "(raw_tp) probes" in t.stderr


def test_without_kernel_btf_forced_tp_btf_says_why(btf_files):
    rc, _, err = run_tool("runqlat", "--probe", "tp_btf", "--btf", btf_files["full"], "1", "1",
                          prefix=NO_BTF)
    assert rc == 1
    assert err.count("\n") == 1, err
    assert err.startswith("runqlat: error: ") and "own BTF" in err, err


def test_without_kernel_btf_and_no_btf_file_says_how(btf_files):
    rc, _, err = run_tool("runqlat", "1", "1", prefix=NO_BTF)
    assert rc == 1
    assert err.count("\n") == 1 and "--btf PATH" in err, err


# The kernel's BTF disappears after features.kernel_btf() said yes: the load
# fails naming no program (libbpf: ESRCH, no vmlinux BTF for the tp_btf
# programs' attach points); the library must pin it on the tp_btf programs
# and fall back to the raw_tp variant.
_LATE = r"""
import ctypes, os, sys
import corebpf
from corebpf import features
assert features.kernel_btf() and features.tp_btf()
libc = ctypes.CDLL(None, use_errno=True)
assert libc.unshare(0x00020000) == 0                                    # CLONE_NEWNS
assert libc.mount(b"none", b"/", None, 0x40000 | 0x4000, None) == 0     # MS_REC|MS_PRIVATE
assert libc.mount(b"corebpf-nobtf", b"/sys/kernel/btf", b"tmpfs", 0, None) == 0
os.environ["COREBPF_BTF"] = sys.argv[1]
with corebpf.Object.open("runqlat") as o:
    o.load()
    print(o.variant)
"""


def test_load_failure_without_kernel_btf_falls_back(btf_files):
    if not features.tp_btf():
        pytest.skip("this kernel lacks tp_btf programs")
    r = subprocess.run([sys.executable, "-c", _LATE, btf_files["full"]],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["raw"]
