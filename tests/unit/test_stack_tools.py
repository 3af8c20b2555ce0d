"""profile and offcputime: argument parsing and headers (no privilege)."""
from __future__ import annotations

import os

from corebpf.tools import offcputime, profile


def test_profile_headers():
    me = os.getpid()
    a = profile.parse([])
    assert profile.header(a) == \
        "Sampling at 49 Hertz of all threads by user + kernel stack... Hit Ctrl-C to end."
    a = profile.parse(["-F", "99", "-p", f"{me},1", "-U", "-C", "1", "5"])
    assert a.pid == [me, 1] and a.duration == 5
    assert profile.header(a) == \
        f"Sampling at 99 Hertz of PID [{me}, 1] by user stack on CPU#1 for 5 secs."
    a = profile.parse(["-c", "1000", "-L", str(me), "-K"])
    assert profile.header(a) == \
        f"Sampling at every 1000 events of TID [{me}] by kernel stack... Hit Ctrl-C to end."
    a = profile.parse(["-adfIA", "--stack-storage-size", "10", "--hash-storage-size", "20"])
    assert a.annotations and a.delimited and a.folded and a.include_idle and a.address
    assert (a.stack_storage_size, a.hash_storage_size) == (10, 20)


def test_offcputime_headers():
    me = os.getpid()
    a = offcputime.parse([])
    assert offcputime.header(a) == \
        "Tracing off-CPU time (us) of all threads by user + kernel stack... Hit Ctrl-C to end."
    a = offcputime.parse(["-p", f"{me},1", "-K", "3"])
    assert offcputime.header(a) == \
        f"Tracing off-CPU time (us) of PIDs {me},1 by kernel stack for 3 secs."
    assert offcputime.header(offcputime.parse(["-t", str(me), "-U"])).startswith(
        f"Tracing off-CPU time (us) of TIDs {me} by user stack")
    assert " of user threads by " in offcputime.header(offcputime.parse(["-u"]))
    assert " of kernel threads by " in offcputime.header(offcputime.parse(["-k"]))
    a = offcputime.parse(["-m", "10", "-M", str(2**64 - 1), "--state", "0", "-s", "-d"])
    assert (a.min_block_time, a.max_block_time, a.state) == (10, 2**64 - 1, 0)
    assert a.offset and a.delimited
