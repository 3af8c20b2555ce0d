"""Pure formatters of wave 3's scheduler, block, network and lock tools
against bcc's formats (no privilege needed)."""
from __future__ import annotations

import json
import socket
from types import SimpleNamespace as NS

import pytest

from corebpf.tools import (_cli, biolatpcts, biopattern, cpuunclaimed, klockstat, llcstat,
                           netqtop, softirqslower, tcpcong, threadsnoop, wqlat)


def test_biolatpcts_percentiles_like_bcc():
    z = [0] * 100
    us10 = list(z)
    us10[3] = 100                       # 100 requests of 30-39 us
    ms100, ms1 = list(z), list(z)
    ms100[0] = ms1[0] = 100
    pcts = biolatpcts.pct_list("1,50,99,100")
    assert biolatpcts.calc_lat_pct(pcts, 100, ms100, ms1, us10) == [35, 35, 35, 35]
    # one slow request (250 ms) among 99 fast ones: only the top percentile sees it
    ms100 = list(z)
    ms100[0], ms100[2] = 99, 1
    ms1, us10 = list(z), list(z)
    ms1[0] = 99
    us10[3] = 99
    lat = biolatpcts.calc_lat_pct(pcts, 100, ms100, ms1, us10)
    assert lat[:3] == [35, 35, 35] and lat[3] == 250000
    assert [biolatpcts.format_usec(v) for v in (0, 35, 1500, 25000, 250000, 2500000)] == \
        ["-", "35us", "1.5ms", "25ms", "250ms", "2.5s"]
    text = biolatpcts.render("vda", ["50", "99.9"], [[35, 1500]] + [[0, 0]] * 3, False)
    assert text == "\nvda        50  99.9\nread     35us 1.5ms\nwrite       -     -\n" \
                   "discard     -     -\nflush       -     -\n"
    doc = json.loads(biolatpcts.render("vda", ["50"], [[35]] + [[0]] * 3, True))
    assert doc == {"read": {"50": 35e-6}, "write": {"50": 0.0}, "discard": {"50": 0.0},
                   "flush": {"50": 0.0}}
    with pytest.raises(Exception):
        biolatpcts.pct_list("50,x")


def test_biopattern_rows():
    names = {254 << 20: "vda"}
    items = [(254 << 20, NS(random=1, sequential=3, bytes=8192)),
             (8 << 20, NS(random=0, sequential=0, bytes=0)),
             (7 << 20, NS(random=2, sequential=0, bytes=1536))]
    assert biopattern.rows(items, names, "10:00:00") == [
        "10:00:00  vda        25    75        4          8",
        "10:00:00  Unknown   100     0        2          1"]


def test_netqtop_sizes_and_table():
    assert [netqtop.to_str(v) for v in (0, 999, 1001, 1048577, 2.345)] == \
        ["0", "999", "0.98K", "1.0M", "2.35"]
    q0 = NS(total_pkt_len=3000, num_pkt=3, size_64B=0, size_512B=1, size_2K=2, size_16K=0,
            size_64K=0)
    lines = netqtop.table([(0, q0)], 2, 1.0, True)
    assert lines[0] == " QueueID    avg_size   [0, 64)    [64, 512)  [512, 2K)  [2K, 16K)  " \
                       "[16K, 64K) BPS        PPS        "
    assert lines[1] == " 0          1000.0     0          1          2          0          " \
                       "0          2.93K      3.0        "
    assert lines[2].split() == ["1", "0", "0", "0", "0", "0", "0", "0.0", "0.0"]
    assert lines[3].split()[:2] == ["Total", "1000.0"]


def test_tcpcong_tables():
    v4 = socket.inet_aton("10.0.0.1") + bytes(12)
    v4b = socket.inet_aton("10.0.0.2") + bytes(12)
    key = NS(family=2, saddr=v4, daddr=v4b, lport=5000, dport=80)
    val = NS(open_dura=1500, disorder_dura=0, recover_dura=0, cwr_dura=0, loss_dura=250000,
             total_changes=2)
    ms = tcpcong.tables([(key, val)], False)
    assert ms[0] == "%-21s %-21s %-7s %-6s %-7s %-7s %-6s %-5s" % (
        "LAddrPort", "RAddrPort", "Open_ms", "Dod_ms", "Rcov_ms", "Cwr_ms", "Los_ms", "Chgs")
    assert ms[1] == "%-21s %-21s %-7d %-6d %-7d %-7d %-6d %-5d" % (
        "10.0.0.1/5000", "10.0.0.2/80", 1, 0, 0, 0, 250, 2)
    assert tcpcong.tables([(key, NS(**{**vars(val), "total_changes": 0}))], True) == [
        ms[0].replace("_ms", "_us")]
    assert tcpcong.tables([], True) == []
    assert tcpcong.port_range("6000-5000") == (5000, 6000)
    assert tcpcong.state_name(4) == "loss" and tcpcong.state_name(9) == "9"


def test_cpuunclaimed_lines():
    assert cpuunclaimed.summary_line(NS(positive=1, running=3, idle=1)) == \
        "%CPU  75.00%, unclaimed idle 25.00%"
    assert cpuunclaimed.summary_line(None, "10:00:00") == \
        "10:00:00 %CPU   0.00%, unclaimed idle 0.00%"
    g = NS(ts=1000, cpus=[NS(ts=990, len=2), NS(ts=0, len=0), NS(ts=995, len=1)])
    assert cpuunclaimed.csv_header([0, 2], False, True) == \
        "TIMESTAMP_ns,CPU0,CPU2,OFFSET_ns_CPU0,OFFSET_ns_CPU2"
    assert cpuunclaimed.csv_row(g, [0, 1, 2], None, True) == "990,2,0,1,0,0,5"
    assert cpuunclaimed.csv_row(g, [0, 1], "10:00:00") == "10:00:00,990,2,0"


def test_event_lines():
    e = NS(stage=1, vec=3, delta_ns=12_345_678, cpu=1, comm="ksoftirqd/1")
    assert softirqslower.format_event(e, "10:00:00") == \
        "10:00:00 irq(hard) to softirq net_rx   12345          1      ksoftirqd/1"
    t = NS(ts=3_500_000_000, pid=42, comm="worker")
    assert threadsnoop.format_event(t, 1_000_000_000, "start_fn") == \
        "2500       42      worker           start_fn"


def test_wqlat_sections():
    a = wqlat.parse(["-W"])
    slots = [0] * 65
    slots[3] = 2
    out = wqlat.render([(NS(name="events"), NS(slots=slots))], a)
    assert out.startswith("\n\nwqname = events\n     usecs               : count     distribution\n")
    assert "         2 -> 3          : 0" in out and "         4 -> 7          : 2" in out


def test_llcstat_report():
    k = NS(pid=7, tid=8, name="cc1", cpu=1)
    lines = llcstat.report([(k, NS(ref=1000, miss=250)), (k, NS(ref=0, miss=5))], True)
    assert lines == ["PID      TID      NAME             CPU     REFERENCE         MISS    HIT%",
                     "7        8        cc1              1            1000          250  75.00%",
                     "Total References: 1000 Total Misses: 250 Hit Rate: 75.00%"]


def test_klockstat_sort():
    assert klockstat.sort_fields(None) == ("max", "max")
    assert klockstat.sort_fields("acq_count,hld_total") == ("count", "total")
    with pytest.raises(_cli.UsageError):
        klockstat.sort_fields("acq_bogus")
    assert klockstat.LOCK_FRAMES.match("__mutex_lock.constprop.0")
    assert not klockstat.LOCK_FRAMES.match("anon_pipe_write")


def test_criticalstat_section():
    from corebpf.tools import criticalstat

    class Syms:
        @staticmethod
        def ksym(addr, show_offset=False):
            return "f%x" % addr + ("+0x0" if show_offset else "")

    class St:
        syms = Syms()

        @staticmethod
        def addresses(sid):
            return [0x10, 0x20]

    e = NS(comm="kworker/0:1", id=(12 << 32) | 13, time=123456, addrs=[1, 2, 3, 4], stack_id=5)
    assert criticalstat.format_event(e, St, 0x1000) == [
        "===================================",
        "TASK: kworker/0:1 (pid    12 tid    13) Total Time: 123.456  us", "",
        "Section start: f1001 -> f1002", "Section end:   f1003 -> f1004",
        "  f10+0x0", "  f20+0x0", "===================================", ""]
    e = NS(**{**vars(e), "stack_id": -17})
    assert "NO STACK FOUND DUE TO COLLISION" in criticalstat.format_event(e, St, 0x1000)
