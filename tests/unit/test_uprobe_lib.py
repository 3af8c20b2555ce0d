"""ELF, library and USDT note reading, checked against pyelftools and
readelf's view of real Debian binaries; pure formatters of the user-space
tools (no privilege needed)."""
from __future__ import annotations

import os
import struct
import types

import pytest

from corebpf.symbols import elf

from corebpf.user import usdt
from tests import distro
from corebpf.symbols.elf import ElfError

LIBC = elf.resolve_binary("c")
PYTHON = distro.PYTHON
POSTGRES = distro.POSTGRES


def _pyelf(path):
    from elftools.elf.elffile import ELFFile
    return ELFFile(open(path, "rb"))


def test_libc_symbols_agree_with_pyelftools():
    f = _pyelf(LIBC)
    want = {}
    for s in f.get_section_by_name(".dynsym").iter_symbols():
        if s["st_info"]["type"] in ("STT_FUNC", "STT_LOOS") and s["st_shndx"] != "SHN_UNDEF" \
                and s["st_value"]:
            want.setdefault(s.name, s["st_value"])
    got = {n: v for n, v, _ in elf.open_elf(LIBC).symbols()}
    assert len(want) > 1000
    for name in ("getaddrinfo", "gethostbyname", "malloc", "pthread_create", "getpid"):
        assert got[name] == want[name]
    assert set(want) <= set(got)


def test_symbol_offset_in_pie_executable():
    bash = elf.resolve_binary("bash")
    f = _pyelf(bash)
    assert f["e_type"] == "ET_DYN"
    sym = f.get_section_by_name(".dynsym").get_symbol_by_name("readline")[0]
    seg = next(s for s in f.iter_segments() if s["p_type"] == "PT_LOAD" and
               s["p_vaddr"] <= sym["st_value"] < s["p_vaddr"] + s["p_filesz"])
    assert elf.open_elf(bash).symbol_offset("readline") == \
        sym["st_value"] - seg["p_vaddr"] + seg["p_offset"]


def test_symbol_patterns():
    names = [n for n, _ in elf.open_elf(LIBC).match_symbols("gethostbyname*")]
    assert {"gethostbyname", "gethostbyname2", "gethostbyname_r"} <= set(names)
    assert all(n.startswith("gethostbyname") for n in names)
    assert [n for n, _ in elf.open_elf(LIBC).match_symbols("^getpid$", regex=True)] == ["getpid"]


def test_library_names_resolve_like_bcc(tmp_path, monkeypatch):
    assert os.path.basename(elf.resolve_binary("c")) == "libc.so.6"
    assert os.path.basename(elf.resolve_binary("pthread")).startswith("libpthread.so")
    assert elf.resolve_binary("bash") == os.path.realpath("/usr/bin/bash")
    assert any(so == "libc.so.6" for so, _ in elf.ld_cache_entries())
    monkeypatch.chdir(tmp_path)
    (tmp_path / "prog").write_bytes(open(LIBC, "rb").read(64))
    assert elf.resolve_binary("./prog") == str(tmp_path / "prog")
    # a running process's mappings win (this process maps libc)
    assert os.path.basename(elf.find_library("c", os.getpid())) == "libc.so.6"


@pytest.mark.parametrize("name, pid, text", [
    ("/no/such/binary", None, "no such binary: /no/such/binary"),
    ("nosuchlib_corebpf", None, "cannot find library or executable 'nosuchlib_corebpf'"),
    ("c", 4194000, "no such process: 4194000"),
])
def test_resolve_errors_are_one_line(name, pid, text):
    with pytest.raises(ElfError) as e:
        elf.resolve_binary(name, pid)
    assert str(e.value) == text


def test_missing_symbol_error():
    with pytest.raises(ElfError) as e:
        elf.open_elf(LIBC).symbol_offset("no_such_function_corebpf")
    assert str(e.value) == f"{LIBC}: no function 'no_such_function_corebpf' in its symbol tables"
    with pytest.raises(ElfError, match="not an ELF file"):
        elf.Elf(__file__)


def test_usdt_notes_agree_with_pyelftools():
    f = _pyelf(PYTHON)
    want = {}
    for note in f.get_section_by_name(".note.stapsdt").iter_notes():
        if note["n_name"] != "stapsdt":
            continue
        d = note["n_desc"]
        if isinstance(d, (bytes, bytearray, str)):      # pyelftools 0.3x: raw bytes
            raw = d.encode("latin-1") if isinstance(d, str) else bytes(d)
            pc, _, sema = struct.unpack_from("<QQQ", raw)
            prov, name, args = raw[24:].split(b"\0")[:3]
            want[(prov.decode(), name.decode())] = (pc, sema, args.decode())
        else:
            want[(d["provider"], d["probe_name"])] = (d["pc"], d["sem_address"], d["arguments"])
    got = {(p.provider, p.name): (p.locations[0].address, p.semaphore, p.locations[0].args_text)
           for p in usdt.probes(PYTHON)}
    assert got == want
    assert ("python", "gc__start") in got          # Python 3.11 and 3.13 both have it


def test_usdt_probe_details():
    q = next(p for p in usdt.probes(POSTGRES) if p.name == "query__start")
    assert q.provider == "postgresql" and q.semaphore and q.semaphore_offset
    assert len(q.locations) == 1 and q.num_arguments == 1
    assert usdt.probes(LIBC) == []
    with pytest.raises(ElfError, match="no USDT probes"):
        usdt.find_probe("x", "y", path="c")
    with pytest.raises(ElfError, match="no USDT probe postgresql:nope"):
        usdt.find_probe("postgresql", "nope", path=POSTGRES)


@pytest.mark.parametrize("spec, text", [
    ("8@%rbx", "8 unsigned bytes @ bx"),
    ("-4@%eax", "4 signed   bytes @ ax"),
    ("-4@112(%rsp)", "4 signed   bytes @ *(sp + 112)"),
    ("8@-24(%rbp)", "8 unsigned bytes @ *(bp - 24)"),
    ("-4@$1", "4 signed   bytes @ 1"),
    ("8@(%rsi)", "8 unsigned bytes @ *(si + 0)"),
    ("8@-24(%rbp,%rax,8)", "8 unsigned bytes @ *(bp - 24 + ax * 8)"),
    ("-4@NBuffers(%rip)", "4 signed   bytes @ *(&NBuffers + 0)"),
    ("-4@40+CheckpointStats(%rip)", "4 signed   bytes @ *(&CheckpointStats + 40)"),
    ("8@%r12", "8 unsigned bytes @ r12"),
])
def test_usdt_argument_text(spec, text):
    assert str(usdt.Argument(spec)) == text


def test_tplist_formats():
    from corebpf.tools import tplist
    fmt = ("name: x\nID: 1\nformat:\n\tfield:unsigned short common_type;\toffset:0;\n"
           "\tfield:char prev_comm[16];\toffset:8;\n\tfield:__data_loc char[] name;\toffset:24;\n"
           "\tfield:const char * filename;\toffset:32;\n")
    assert tplist.tracepoint_fields(fmt) == ["    char prev_comm[16];", "    const char * filename;"]
    q = next(p for p in usdt.probes(POSTGRES) if p.name == "query__start")
    assert tplist.format_probe(q, 0) == [f"{POSTGRES} postgresql:query__start"]
    assert tplist.format_probe(q, 1) == ["postgresql:query__start [sema 0x%x]" % q.semaphore,
                                         "  1 location(s)", "  1 argument(s)"]
    assert tplist.format_probe(q, 2) == [
        "postgresql:query__start [sema 0x%x]" % q.semaphore,
        "  location #1 %s 0x%x" % (POSTGRES, q.locations[0].address),
        # the register is the compiler's choice (bx in PostgreSQL 15)
        "    argument #1 " + str(usdt.Argument(q.locations[0].args_text.split()[0]))]


def R(**kw):
    return types.SimpleNamespace(**kw)


def test_event_formatters():
    from corebpf.tools import bashreadline, dbslower, gethostlatency, mysqld_qslower, uflow
    t = 1700000000.0
    hhmmss = __import__("time").strftime("%H:%M:%S", __import__("time").localtime(t))
    e = R(pid=42, comm="getent", delta_ns=1234567, host="localhost")
    assert gethostlatency.format_event(e, t) == "%-9s 42      getent                 1.23 localhost" % hhmmss
    assert bashreadline.format_event(R(pid=7, line="ls -l"), t) == "%-9s 7       ls -l" % hhmmss
    q = R(pid=5, tid=6, start_ns=3_500_000_000, delta_ns=201_500_000, query="select pg_sleep(0.2)")
    assert dbslower.format_event(q, 1_000_000_000) == \
        "2.500000       5        201.500 select pg_sleep(0.2)"
    assert mysqld_qslower.format_event(q, 3_500_000_000) == \
        "0.000000       6        201.500 select pg_sleep(0.2)"
    f = R(id=(10 << 32) | 11, depth=2, cpu=1, entry=1, clazz="<string>", method="f")
    assert uflow.format_event(f, 1.5) == "%-3d %-6d %-6d %-8.3f %-40s" % (1, 10, 11, 1.5, "  -> <string>.f")
    f.entry, f.depth = 0, 1
    assert uflow.format_event(f, 1.5).rstrip().endswith(" <- <string>.f")


def test_summary_formatters():
    from corebpf.tools import dbstat, ucalls, ugc, uobjnew
    m = [(R(clazz="a.py", method="f"), R(num_calls=3, total_ns=5000)),
         (R(clazz="a.py", method="g"), R(num_calls=9, total_ns=1000))]
    text = ucalls.report(m, [(230, R(num_calls=1, total_ns=2_000_000))], False, False)
    assert text.split("\n") == ["", "%-50s %8s" % ("METHOD", "# CALLS"),
                                "%-50s %8d" % ("clock_nanosleep", 1),
                                "%-50s %8d" % ("a.py.f", 3), "%-50s %8d" % ("a.py.g", 9)]
    text = ucalls.report(m, [], True, True, top=1)
    assert text.split("\n")[1:] == ["%-50s %8s %8s" % ("METHOD", "# CALLS", "TIME (ms)"),
                                    "%-50s %8d %6.2f" % ("a.py.f", 3, 0.005)]
    assert ugc.describe("python", R(probe=0, field1=2, field2=100)) == "gen 2 GC collected 100 objects"
    assert ugc.describe("ruby", R(probe=1)) == "GC sweep stage"
    assert ugc.describe("java", R(probe=0, string1="G1 Young", string2="G1 Eden Space",
                                  field1=1, field2=2, field3=3, field4=4)) == \
        "G1 Young G1 Eden Space used=1->3 max=2->4"
    assert ugc.describe("node", R(probe=0, field1=5)) == "GC scavenge, GC incremental mark"
    rows = [(R(size=64, name=""), R(num_allocs=5, total_size=320)),
            (R(size=8, name=""), R(num_allocs=9, total_size=72))]
    assert uobjnew.report(rows, "c").split("\n")[2:] == [
        "%-30s %8d %12d" % ("block size 8", 9, 72), "%-30s %8d %12d" % ("block size 64", 5, 320)]
    assert uobjnew.report(rows, "c", top_count=1).split("\n")[2:] == [
        "%-30s %8d %12d" % ("block size 8", 9, 72)]
    slots = [0] * 65
    slots[3] = 2
    text = dbstat.render(slots, False, 1700000000.0)
    lines = text.split("\n")
    assert lines[0].startswith("[") and lines[1] == "     query latency (ms)  : count     distribution"
    assert lines[-3].startswith("         4 -> 7          : 2") and lines[-2:] == ["", ""]


@pytest.mark.parametrize("argv", [[], ["-p"], ["12", "x"], ["1", "2", "3"]])
def test_mysqld_qslower_usage(argv):
    from corebpf.tools import mysqld_qslower
    from corebpf.tools._cli import UsageError
    with pytest.raises(UsageError, match="USAGE: mysqld_qslower PID"):
        mysqld_qslower.parse(argv)


def test_usdt_spec_encoded_as_usdt_bpf_h_lays_it_out():
    """struct __bpf_usdt_spec: 12 x {u64 val_off, enum type, short reg_off,
    bool signed, char bitshift}, u64 cookie, short count: 208 bytes, with the
    pt_regs offsets libbpf uses (x86_64 rbp 32, rax 80, rip 128; arm64 x_n 8n,
    sp 248)."""
    import struct
    spec = usdt.encode_spec("-4@-20(%rbp) 8@%rax -4@$5 2@%di 1@-1(%rip)", cookie=0x1234,
                            machine="x86_64")
    assert len(spec) == 208
    args = [struct.unpack_from("=QihbB", spec, 16 * i) for i in range(12)]
    assert args[:5] == [(2**64 - 20, 2, 32, 1, 32), (0, 1, 80, 0, 0), (5, 0, 0, 1, 32),
                        (0, 1, 112, 0, 48), (2**64 - 1, 2, 128, 0, 56)]
    assert args[5:] == [(0, 0, 0, 0, 0)] * 7
    assert struct.unpack_from("=Qh", spec, 192) == (0x1234, 5)
    arm = usdt.encode_spec("-4@[sp, 12] 8@x1 8@[x30] 4@7", machine="aarch64")
    assert [struct.unpack_from("=QihbB", arm, 16 * i) for i in range(4)] == [
        (12, 2, 248, 1, 32), (0, 1, 8, 0, 0), (0, 2, 240, 0, 0), (7, 0, 0, 0, 32)]
    assert usdt.encode_spec("", machine="x86_64")[192:] == bytes(16)


@pytest.mark.parametrize("text", ["8@sym+4(%rip)", "8@(%rax,%rbx,8)", "1@%ah", "3@%rax",
                                  "8@[x0, x1]", "8@%xmm0", " ".join(["8@%rax"] * 13)])
def test_usdt_spec_refuses_what_libbpf_cannot_read(text):
    with pytest.raises(usdt.ElfError):
        usdt.encode_spec(text, machine="aarch64" if "[" in text else "x86_64")


@pytest.mark.skipif(os.geteuid() != 0, reason="/proc/PID/map_files needs CAP_SYS_ADMIN")
def test_every_mapped_file_opens_through_its_map_files_entry():
    """process_mapped()'s last resort (a process's files seen from a chroot,
    where /proc/PID/maps names them by a path from an unreachable root):
    /proc/PID/map_files/START-END, named as the kernel names it ("%lx-%lx",
    not maps' zero-padded text), opens the very file each mapping maps."""
    rows = elf._maps_paths(os.getpid())
    assert rows and rows[0][0] == os.path.realpath("/proc/self/exe")
    for path, ino, rng in rows:
        st = os.stat(f"/proc/{os.getpid()}/map_files/{rng}")
        assert st.st_ino == ino, (path, rng)
        assert elf._is_mapped_file(f"/proc/{os.getpid()}/map_files/{rng}", ino)
