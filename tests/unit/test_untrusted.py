"""What other users control (corebpf.core.untrusted): their text is escaped
on the way to the terminal, their files are opened by perf's rule.  Unit
level, no privilege; the tools' behaviour with real hostile files and names
is tests/kernel/test_hardening.py."""
from __future__ import annotations

import io
import os
import re
import sys
from pathlib import Path

import pytest

from corebpf.core import untrusted
from corebpf.core.maps import (ARRAY, HASH, PERCPU_HASH, RINGBUF, STACK_TRACE, TooLarge,
                               available_memory, check_memory, kernel_bytes)

ROOT = Path(__file__).resolve().parents[2]


# -- text ---------------------------------------------------------------------------------

@pytest.mark.parametrize("raw,shown", [
    (b"plain /etc/passwd", "plain /etc/passwd"),
    (b"\x1b]0;pwned\x07title", "\\x1b]0;pwned\\x07title"),        # OSC: set the window title
    (b"\x1b[2J\x1b[Hfake", "\\x1b[2J\\x1b[Hfake"),                 # CSI: clear, home
    (b"a\nFAKE LINE\rb\tc", "a\\x0aFAKE LINE\\x0db\\x09c"),         # no forged lines
    (b"del\x7f", "del\\x7f"),
    ("c1\u009b31m".encode(), "c1\\x9b31m"),                        # 8-bit CSI
    ("bidi\u202eexe.txt".encode(), "bidi\\u202eexe.txt"),          # Trojan Source
    ("ls\u2028x".encode(), "ls\\u2028x"),
    (b"bad\xff\xfeutf8", "bad\\xff\\xfeutf8"),                     # undecodable bytes
    ("caf\u00e9 \u4e2d".encode(), "caf\u00e9 \u4e2d"),             # printable text stays
])
def test_text_is_safe_on_a_terminal(raw, shown):
    assert untrusted.text(raw) == shown
    assert untrusted.escape(raw.decode("utf-8", "surrogateescape")) == shown


def test_safe_stream_keeps_newlines_tabs_and_meant_controls():
    buf = io.StringIO()
    s = untrusted.SafeStream(buf)
    print("col1\tcol2", file=s)
    s.write("evil \x1b]0;x\x07 \u009b \r end\n")
    untrusted.write_control(s, "\033[H\033[2J")        # the tool's own clear-screen
    print("name", "\udcff", sep="\t", file=s)          # os.fsdecode()'d bytes
    assert buf.getvalue() == ("col1\tcol2\nevil \\x1b]0;x\\x07 \\x9b \\x0d end\n"
                              "\033[H\033[2Jname\t\\xff\n")


def test_tools_print_only_through_the_escaping_streams():
    """By construction: a tool writes to sys.stdout/sys.stderr (SafeStreams
    from _cli.run) or an Output; control sequences only through
    _cli.clear_screen() / untrusted.write_control()."""
    bad = re.compile(r"sys\.__std(out|err)__|\.buffer\.write|os\.write\(\s*[12]\b|"
                     r"\\033|\\x1b|\\u001b|\\e\[")
    offenders = []
    for f in sorted((ROOT / "tools").glob("*.py")):
        if f.name == "_cli.py":
            continue
        for n, line in enumerate(f.read_text().splitlines(), 1):
            if bad.search(line):
                offenders.append(f"{f.name}:{n}: {line.strip()}")
    assert not offenders, "write through _cli (see docs/DEVELOPING.md, 'Output'):\n" + \
        "\n".join(offenders)


def test_cli_run_installs_the_streams_and_restores_them(capsys):
    from corebpf.tools import _cli
    seen = []

    def body(argv):
        seen.append((type(sys.stdout), type(sys.stderr)))
        print("file \x1b[31mred")
        sys.stderr.write("warn \x1b]0;t\x07\n")
        _cli.clear_screen()
        return 0

    assert _cli.run("demo", body, []) == 0
    assert seen == [(untrusted.SafeStream, untrusted.SafeStream)]
    assert not isinstance(sys.stdout, untrusted.SafeStream)
    out, err = capsys.readouterr()
    assert out == "file \\x1b[31mred\n\033[H\033[2J"
    assert err == "warn \\x1b]0;t\\x07\n"


def test_one_line_errors_escape_the_users_text(capsys):
    from corebpf.tools import _cli

    def body(argv):
        raise _cli.UsageError("no such file: a\nb\x1b[2J")
    assert _cli.run("demo", body, []) == 2
    assert capsys.readouterr().err == "demo: error: no such file: a\\x0ab\\x1b[2J\n"


# -- files --------------------------------------------------------------------------------

@pytest.fixture
def files(tmp_path):
    d = tmp_path
    (d / "map").write_text("1000 10 jitted\n")
    os.mkfifo(d / "fifo")
    (d / "link").symlink_to(d / "map")
    (d / "zero").symlink_to("/dev/zero")
    (d / "dir").mkdir()
    (d / "dirlink").symlink_to(d / "dir")
    (d / "dir" / "inner").write_text("x")
    return d


def test_open_file_applies_perfs_rule(files):
    with untrusted.open_file(str(files / "map"), owners={os.geteuid()}) as f:
        assert f.read() == b"1000 10 jitted\n"
    with pytest.raises(untrusted.Refused, match="a FIFO, not a regular file"):
        untrusted.open_file(str(files / "fifo"))            # would hang a plain open()
    for name in ("link", "zero"):                           # no symlink as the last part
        with pytest.raises(OSError):
            untrusted.open_file(str(files / name))
    with pytest.raises(untrusted.Refused, match="a directory"):
        untrusted.open_file(str(files / "dir"))
    with pytest.raises(untrusted.Refused, match="neither root nor the traced process's user"):
        untrusted.open_file(str(files / "map"), owners={os.geteuid() + 1})
    ino = os.stat(files / "map").st_ino
    untrusted.open_file(str(files / "map"), inode=ino).close()
    with pytest.raises(untrusted.Refused, match="not the file the process maps"):
        untrusted.open_file(str(files / "map"), inode=ino + 1)
    # follow=True lets a symlink name the file (debug files, binaries): still checked
    with untrusted.open_file(str(files / "link"), follow=True) as f:
        assert f.read(4) == b"1000"
    with pytest.raises(OSError):
        untrusted.open_file(str(files / "zero"), follow=True)


def test_open_file_inside_a_process_root(files):
    """Paths under /proc/PID/root resolve inside that root: here our own, so
    the same files, through the same checks."""
    root = f"/proc/{os.getpid()}/root"
    with untrusted.open_file(str(files / "map"), root=root) as f:
        assert f.read(4) == b"1000"
    with pytest.raises(untrusted.Refused, match="FIFO"):
        untrusted.open_file(str(files / "fifo"), root=root)


def test_open_file_without_openat2_refuses_symlinked_directories(files, monkeypatch):
    """Kernels before 5.6 (no openat2): every directory is walked without
    following symlinks."""
    monkeypatch.setattr(untrusted, "_openat2_ok", [False])
    with untrusted.open_file(str(files / "dir" / "inner")) as f:
        assert f.read() == b"x"
    with pytest.raises(OSError):
        untrusted.open_file(str(files / "dirlink" / "inner"))
    with pytest.raises(untrusted.Refused, match="FIFO"):
        untrusted.open_file(str(files / "fifo"))


def test_perf_map_is_read_by_the_rule(files):
    from corebpf.symbols.syms import PerfMap
    uid = os.geteuid()
    assert PerfMap(str(files / "map"), owners={uid}).lookup(0x1005) == ("jitted", 5)
    for name in ("fifo", "link", "zero", "dir"):
        assert PerfMap(str(files / name), owners={uid}).lookup(0x1005) is None
    assert PerfMap(str(files / "map"), owners={uid + 1}).lookup(0x1005) is None


def test_perf_map_reads_are_bounded(tmp_path, monkeypatch):
    from corebpf.symbols import syms
    big = tmp_path / "big.map"
    with open(big, "wb") as f:
        f.write(b"1000 10 first\n")
        f.truncate(1 << 40)                 # 1 TiB, sparse, no newline: one endless line
    monkeypatch.setattr(syms, "PERF_MAP_MAX", 1 << 20)
    pm = syms.PerfMap(str(big), owners={os.geteuid()})
    assert pm.lookup(0x1001) == ("first", 1)


def test_symbol_names_from_a_perf_map_are_escaped(tmp_path):
    from corebpf.symbols.syms import PerfMap
    p = tmp_path / "m.map"
    p.write_bytes(b"2000 10 evil\x1b]0;owned\x07\n")
    assert PerfMap(str(p), owners={os.geteuid()}).lookup(0x2000) == ("evil\\x1b]0;owned\\x07", 0)


# -- kernel memory of maps --------------------------------------------------------------------

def test_kernel_bytes_follow_the_kernels_allocations():
    # preallocated hash: elements (htab_elem + key + value, per entry and per CPU) + buckets
    assert kernel_bytes(HASH, 32, 8, 1000, 2) == (48 + 32 + 8) * 1002 + 16 * 1024
    assert kernel_bytes(PERCPU_HASH, 4, 8, 10, 4) == (48 + 8 + 8) * 14 + 16 * 16 + 8 * 10 * 4
    assert kernel_bytes(ARRAY, 4, 12, 100, 8) == 16 * 100
    assert kernel_bytes(STACK_TRACE, 4, 127 * 8, 16384, 2) == (16 + 1016) * 16384 + 8 * 16384
    assert kernel_bytes(RINGBUF, 0, 0, 1 << 22, 2) == 1 << 22


def test_map_sizes_beyond_a_share_of_memory_are_refused():
    avail = available_memory()
    assert avail and avail > 0
    check_memory([("small", 1 << 20, "--small")], "tool")
    with pytest.raises(TooLarge) as e:
        check_memory([("counts", avail, "--hash-storage-size"), ("other", 10, None)], "profile")
    msg = str(e.value)
    assert msg.startswith("profile: its maps would take ") and "counts" in msg
    assert msg.endswith("; use a smaller --hash-storage-size") and "\n" not in msg
