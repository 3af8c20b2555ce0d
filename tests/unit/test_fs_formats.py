"""Formats of the file system tools against bcc's and libbpf-tools' (no
privilege needed)."""
from __future__ import annotations

from types import SimpleNamespace as NS

from corebpf import histogram
from corebpf.tools import (_fs, btrfsslower, f2fsslower, fileslower, nfsslower, xfsslower,
                           zfsslower)


def parse(mod, argv):
    return _fs.slower_parser(mod.PROG, mod.__doc__, mod.TOOL).parse_args(argv)


def test_bcc_slower_headers():
    assert _fs.slower_header(parse(xfsslower, ["0"]), xfsslower.TOOL) == [
        "Tracing XFS operations",
        "TIME     COMM           PID    T BYTES   OFF_KB   LAT(ms) FILENAME"]
    assert _fs.slower_header(parse(zfsslower, []), zfsslower.TOOL)[0] == \
        "Tracing ZFS operations slower than 10 ms"
    # btrfsslower's PID column is one wider
    assert _fs.slower_header(parse(btrfsslower, ["5"]), btrfsslower.TOOL) == [
        "Tracing btrfs operations slower than 5 ms",
        "TIME     COMM           PID     T BYTES   OFF_KB   LAT(ms) FILENAME"]
    assert _fs.slower_header(parse(nfsslower, ["0"]), nfsslower.TOOL)[0] == \
        "Tracing NFS operations... Ctrl-C to quit"
    assert _fs.slower_header(parse(nfsslower, ["3"]), nfsslower.TOOL)[0] == \
        "Tracing NFS operations that are slower than 3 ms... Ctrl-C to quit"
    a = parse(f2fsslower, ["-s", "1"])          # f2fsslower's csv flag is -s
    assert a.csv and _fs.slower_header(a, f2fsslower.TOOL) == [
        "ENDTIME_us,TASK,PID,TYPE,BYTES,OFFSET_b,LATENCY_us,FILE"]
    assert parse(btrfsslower, ["-d", "3"]).duration == 3


def test_bcc_slower_rows():
    e = NS(ts_us=5, delta_us=2500, size=8192, offset=3 << 20, pid=4242, op=_fs.COMMIT,
           task="kworker/u4:1", file="data.bin")
    assert _fs.slower_event(e, False, 7)[8:] == \
        " kworker/u4:1   4242    C 8192    3072        2.50 data.bin"
    assert _fs.slower_event(NS(**{**vars(e), "op": _fs.GETATTR}), True) == \
        "5,kworker/u4:1,4242,G,8192,3145728,2500,data.bin"


def test_libbpf_slower():
    a = _fs.libbpf_slower_parser("fsslower", "").parse_args(["-t", "xfs", "-m", "0", "-d", "5"])
    assert _fs.libbpf_slower_header(a) == [
        "Tracing xfs operations for 5 secs.",
        "TIME     COMM             PID     T BYTES   OFF_KB   LAT(ms) FILENAME"]
    a = _fs.libbpf_slower_parser("fsslower", "").parse_args(["-t", "nfs"])
    assert _fs.libbpf_slower_header(a)[0] == \
        "Tracing nfs operations slower than 10 ms... Hit Ctrl-C to end."
    e = NS(ts_us=7, delta_us=12345, size=_fs.LLONG_MAX, offset=0, pid=1, op=_fs.FSYNC,
           task="postgres", file="x" * 40)
    assert _fs.libbpf_slower_event(e, False)[8:] == \
        " postgres         1       F LL_MAX  0          12.35 " + "x" * 31
    assert _fs.libbpf_slower_event(e, True) == "7000,postgres,1,F,LL_MAX,0,12345," + "x" * 31


def test_libbpf_log2_histogram():
    slots = [0] * 65
    slots[1], slots[3], slots[4] = 2, 40, 7          # bcc slots: 0-1, 4-7, 8-15
    assert histogram.format_log2_libbpf(slots, "usecs") == (
        "     usecs               : count    distribution\n"
        "         0 -> 1          : 2        |**                                      |\n"
        "         2 -> 3          : 0        |                                        |\n"
        "         4 -> 7          : 40       |****************************************|\n"
        "         8 -> 15         : 7        |*******                                 |\n")
    assert histogram.format_log2_libbpf([0] * 65, "usecs") == ""


def test_libbpf_dist_render():
    a = _fs.libbpf_dist_parser("fsdist", "").parse_args(["-t", "nfs", "-m"])
    slots = [0, 1] + [0] * 63
    text = _fs.libbpf_dist_render([(NS(op=_fs.GETATTR), NS(slots=slots)),
                                   (NS(op=_fs.READ), NS(slots=[0] * 65))], a)
    assert text == ("\noperation = 'getattr'\n"
                    "     msecs               : count    distribution\n"
                    "         0 -> 1          : 1        |****************************************|\n"
                    "\n")


def test_fileslower_rows():
    e = NS(comm="dd", tid=77, op=1, count=1048576, delta_us=10500, name="y" * 32, name_len=40)
    assert fileslower.format_event(e, 1.25) == \
        "1.250    dd             77     W 1048576   10.50 " + "y" * 29 + "..."
    e = NS(**{**vars(e), "name": "short", "name_len": 5, "op": 0})
    assert fileslower.format_event(e, 0).endswith(" R 1048576   10.50 short")
    assert fileslower.HEADER == "TIME(s)  COMM           TID    D BYTES   LAT(ms) FILENAME"
