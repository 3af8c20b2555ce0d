"""Pure formatters of the block, ext4, scheduler and IRQ tools against
bcc's formats (no privilege needed)."""
from __future__ import annotations

from types import SimpleNamespace as NS


from corebpf.tools import (_fs, _irqs, biosnoop, biotop, cpudist, ext4dist, ext4slower, runqlat,
                           runqlen, runqslower, softirqs)


class Names(dict):
    def get(self, dev, default=None):
        return dict.get(self, dev, default)


def test_biosnoop_header_and_line():
    a = biosnoop.parse([])
    assert biosnoop.header(a) == ("TIME(s)     COMM           PID     DISK      T SECTOR     "
                                  "BYTES  LAT(ms)")
    a = biosnoop.parse(["-P", "-Q"])
    assert biosnoop.header(a).endswith("BYTES  P QUE(ms) LAT(ms)")
    e = NS(ts=2_500_000_000, delta=1_234_567, qdelta=20_000, sector=4096, len=65536, pid=42,
           dev=(254 << 20), rwflag=1, pattern=1, has_who=1, comm="a_rather_long_command")
    line = biosnoop.format_event(e, a, 2_000_000, Names({254 << 20: "vda"}))
    assert line == ("0.500000    a_rather_long_ 42      vda       W 4096       65536  S "
                    "   0.02    1.23")
    e = NS(**{**vars(e), "has_who": 0, "rwflag": 0})      # submitter never seen
    line = biosnoop.format_event(e, biosnoop.parse([]), 2_500_000, Names())
    assert line.split() == ["0.000000", "?", "0", "<unknown>", "R", "0", "65536", "1.23"]


def test_biotop_rows_sorted_with_float_kbytes():
    k1 = NS(pid=7, comm="dd", rwflag=1, major=254, minor=0)
    k2 = NS(pid=8, comm="cat", rwflag=0, major=8, minor=16)
    items = [(k2, NS(bytes=4096, us=500, io=1)), (k1, NS(bytes=4 << 20, us=8000, io=4))]
    rows = biotop.rows(items, Names({254 << 20: "vda"}), 20)
    assert rows[0] == "7       dd               W 254 0   vda          4  4096.0   2.00"
    assert rows[1] == "8       cat              R 8   16  ?            1     4.0   0.50"
    assert len(biotop.rows(items, Names(), 1)) == 1         # -r 1
    assert biotop.HEADER == "PID     COMM             D MAJ MIN DISK       I/O  Kbytes  AVGms"


def test_ext4slower_formats():
    t = ext4slower.TOOL
    parse = _fs.slower_parser("ext4slower", ext4slower.__doc__, t).parse_args
    a = parse(["0"])
    assert _fs.slower_header(a, t) == ["Tracing ext4 operations",
                                       "TIME     COMM           PID    T BYTES   OFF_KB   LAT(ms) "
                                       "FILENAME"]
    assert _fs.slower_header(parse([]), t)[0] == "Tracing ext4 operations slower than 10 ms"
    e = NS(ts_us=123456789, delta_us=15300, size=4096, offset=10240, pid=99, op=1,
           task="a_very_long_task_name", file="x" * 33)
    line = _fs.slower_event(e, False)
    assert line[9:] == "a_very_long_ta 99     W 4096    10         15.30 " + "x" * 32
    assert _fs.slower_event(e, True) == \
        "123456789,a_very_long_task_name,99,W,4096,10240,15300," + "x" * 32


def test_ext4dist_render():
    parse = _fs.dist_parser("ext4dist", ext4dist.__doc__).parse_args
    a = parse(["-T", "1"])
    items = [(NS(op=3), NS(slots=[0, 0, 2] + [0] * 62))]
    text = _fs.dist_render(items, a)
    assert text.startswith("\n\noperation = fsync\n     usecs               : count")
    a = parse(["-m", "1"])
    assert _fs.dist_render([], a)[1:].rstrip("\n").endswith(":")      # HH:MM:SS:


def test_runqslower_formats():
    a = runqslower.parse(["-P"])
    assert runqslower.header(a) == ("TIME     COMM             TID           LAT(us) "
                                    "PREV COMM        PREV TID")
    e = NS(task="python3", pid=123, delta_us=4567, prev_task="swapper/0", prev_pid=0)
    assert runqslower.format_event(e, a)[8:] == \
        " python3          123              4567 swapper/0        0     "
    assert runqslower.parse([]).min_us == 10000


def test_runqlen_render():
    a = runqlen.parse(["-O"])
    items = [(0, NS(slots=[3, 1] + [0] * 62))]
    assert runqlen.render(items, a) == "\nrunqocc: 25.00%\n"
    a = runqlen.parse(["-O", "-C"])
    items = [(1, NS(slots=[1, 1] + [0] * 62))]
    assert runqlen.render(items, a) == ("\nrunqocc, CPU 0     0.00%\n"
                                        "runqocc, CPU 1    50.00%\n")
    text = runqlen.render([(0, NS(slots=[2, 0, 1] + [0] * 61))], runqlen.parse([]))
    assert text.split("\n")[1:5] == [
        "     runqlen       : count     distribution",
        "        0          : 2        |****************************************|",
        "        1          : 0        |                                        |",
        "        2          : 1        |********************                    |"]


def test_runqlat_and_cpudist_sections():
    a = runqlat.parse(["-P"])
    text = runqlat.render([(77, NS(slots=[0, 1] + [0] * 63))], a)
    assert text.startswith("\n\npid = 77\n     usecs")
    a = cpudist.parse(["-e", "-m"])
    ext = NS(total=30, count=4)
    text = cpudist.render([(0, NS(slots=[0, 4] + [0] * 63))], ext, a)
    assert text.endswith("\navg = 7 msecs, total: 30 msecs, count: 4\n\n")
    assert cpudist.pid_comm(2 ** 30) == str(2 ** 30)


def test_irq_tables():
    text = _irqs.table([("b", 2500), ("a", 12999)], "HARDIRQ", 26, "usecs", 1000, str)
    assert text == ("HARDIRQ                    TOTAL_usecs\n"
                    "a                                   12\n"
                    "b                                    2\n")
    assert softirqs.vec_name(3) == "net_rx" and softirqs.vec_name(9) == "rcu"
    assert softirqs.vec_name(12) == "12"
