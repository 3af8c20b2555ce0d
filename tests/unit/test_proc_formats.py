"""Formatters of exitsnoop, killsnoop, sigsnoop, capable, drsnoop and oomkill
against bcc's (libbpf-tools' for sigsnoop) format strings, and their argument
parsing.  No privilege needed."""
from __future__ import annotations

import argparse
import time
from datetime import datetime
from types import SimpleNamespace as R

import pytest

from corebpf.tools import (_signals, capable, drsnoop, exitsnoop, killsnoop, oomkill,
                           sigsnoop)

T = time.mktime((2026, 11, 27, 13, 20, 22, 0, 0, -1))
HMS = time.strftime("%H:%M:%S", time.localtime(T))


@pytest.mark.parametrize("code,info,text", [
    (0, 0, "0"),
    (65, 0, "code 65"),
    (0, 9, "signal 9 (KILL)"),
    (0, 2, "signal 2 (INT)"),
    (0, 10, "signal 10 (USR1)"),
    (0, 0x86, "signal 6 (ABRT), core dumped "),
    (0, 33, "signal 33 (unknown)"),
])
def test_exitsnoop_exit_text(code, info, text):
    assert exitsnoop.exit_text(code, info) == text


def test_exitsnoop_lines():
    e = R(comm="bash", pid=18300, ppid=17656, tid=18300, start_time=10**9,
          exit_time=10**9 + 1_650_000_000, exit_code=65, sig_info=0)
    a = exitsnoop.parse(["--utc", "--label="])
    assert a.timestamp
    assert exitsnoop.header(a) == ("TIME-UTC     LABEL PCOMM            PID     PPID    TID     "
                                   "AGE(s)  EXIT_CODE ")
    now = datetime(2026, 11, 27, 13, 20, 22, 997123)
    assert exitsnoop.format_event(e, a, now) == \
        "13:20:22.997 exit  bash             18300   17656   18300   1.65    code 65"
    plain = exitsnoop.parse([])
    assert exitsnoop.format_event(e, plain) == \
        "bash             18300   17656   18300   1.65    code 65"
    labelled = exitsnoop.parse(["--label", "end"])
    assert exitsnoop.format_event(e, labelled).startswith("end   bash ")
    j = exitsnoop.format_json(e, plain, now)
    del j["time_ns"]
    assert j == {"timestamp": "2026-11-27T13:20:22.997", "task": "bash", "pid": 18300,
                 "ppid": 17656, "tid": 18300, "age": 1.65, "exit_code": 65, "sig_info": 0,
                 "start_ns": e.start_time, "exit_ns": e.exit_time}


def test_killsnoop_format():
    e = R(pid=13967, comm="bash", sig=9, tpid=1024, ret=-3)
    assert killsnoop.header(6) == "TIME      PID    COMM             SIG  TPID   RESULT"
    assert killsnoop.format_event(e, 6, T) == f"{HMS}  13967  bash             9    1024   -3"
    assert killsnoop.format_event(e, 8, T) == f"{HMS}  13967    bash             9    1024     -3"


def test_signal_lists():
    assert _signals.signal_list("9") == {9}
    assert _signals.signal_list("1, 9,15") == {1, 9, 15}
    for bad in ("", "x", "65", "-1", "9,"):
        with pytest.raises(argparse.ArgumentTypeError):
            _signals.signal_list(bad)


def test_sigsnoop_format():
    assert sigsnoop.HEADER == ("TIME     PID     COMM             SIG          TPID    "
                               "TCOMM            RESULT")
    e = R(pid=4242, comm="bash", sig=10, tpid=4243, tcomm="python3", ret=0)
    assert sigsnoop.format_event(e, False, T) == \
        f"{HMS} 4242    bash             10           4243    python3          0     "
    assert sigsnoop.format_event(e, True, T) == \
        f"{HMS} 4242    bash             SIGUSR1      4243    python3          0     "
    assert sigsnoop.SIGNAMES[0] == "N/A" and sigsnoop.SIGNAMES[34] == "SIGNAL-34"
    assert sigsnoop.SIGNAMES[64] == "SIGNAL-64" and len(sigsnoop.SIGNAMES) == 65
    failed = R(pid=1, comm="init", sig=15, tpid=-999999, tcomm="", ret=-3)
    assert sigsnoop.format_event(failed, True, T).split()[5:] == ["N/A", "-3"]


def test_capable_format():
    assert capable.header(False) == ("TIME      UID    PID    COMM             CAP  NAME"
                                     "                 AUDIT ")
    e = R(uid=0, tid=2676, tgid=2670, comm="chown", cap=0, audit=1, insetid=0)
    assert capable.format_event(e, False, T) == \
        f"{HMS}  0      2676   chown            0    CAP_CHOWN            1     "
    assert capable.format_event(e, True, T) == \
        f"{HMS}  0      2676   2670   chown            0    CAP_CHOWN            1      0"
    unknown = R(uid=1000, tid=5, tgid=5, comm="x", cap=41, audit=-1, insetid=-1)
    assert capable.format_event(unknown, True, T).split()[5:] == ["41", "?", "N/A", "N/A"]
    assert capable.cap_name(40) == "CAP_CHECKPOINT_RESTORE" and capable.cap_name(-1) == "?"
    a = capable.parse(["-v", "-x", "--unique"])
    assert a.all_checks and a.extra and a.unique and not a.verbose


def test_drsnoop_format():
    a = drsnoop.parse(["-T", "-U", "-v"])
    assert drsnoop.header(a) == ("TIME(s)       UID   COMM           PID     LAT(ms) PAGES"
                                 "  FREE(KB)")
    e = R(ts=1_500_250, uid=0, comm="a-very-long-command", id=(181 << 32) | 183,
          delta=3_141_593, nr_reclaimed=64)
    assert drsnoop.format_event(e, a, 1_000_000, free_kb=123456) == \
        "0.500250000   0     a-very-long-co 181        3.14    64    123456"
    b = drsnoop.parse(["-t", "1"])
    assert drsnoop.header(b).split()[1] == "TID"
    assert drsnoop.format_event(e, b, 0) == "a-very-long-co 183        3.14    64"
    assert drsnoop.free_kbytes() > 0


def test_oomkill_format():
    e = R(fpid=4569, fcomm="python3", tpid=4570, tcomm="oom-victim", pages=16384)
    assert oomkill.format_event(e, T, "1.00 0.50 0.25 2/100 4600") == (
        f'{HMS} Triggered by PID 4569 ("python3"), OOM kill of PID 4570 ("oom-victim"), '
        '16384 pages, loadavg: 1.00 0.50 0.25 2/100 4600')
    whole = R(fpid=1, fcomm="a", tpid=2, tcomm="b", pages=0)
    assert ", 999 pages, " in oomkill.format_event(whole, T, "x", pages=999)
    assert oomkill.machine_pages() > 0
