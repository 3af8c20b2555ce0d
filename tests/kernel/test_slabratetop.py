"""slabratetop on the real kernel: a burst of Unix socket pairs shows as
allocations from sock_inode_cache (a cache with a constructor: never merged
with another, so it keeps its name)."""
from __future__ import annotations

import re
import socket

import pytest

from corebpf import features
from tests.helpers import Tool, json_match, json_objects, run_tool

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("root")]

PAIRS = 500
CACHE = "sock_inode_cache"
ROW = re.compile(r"(\S+)\s+(\d+)\s+(\d+)$")


def _sockets():
    for _ in range(PAIRS):
        a, b = socket.socketpair()
        a.close()
        b.close()


def _screens(lines):
    """[{cache: (allocs, bytes)}] per screen."""
    out = []
    for l in lines:
        if l.startswith("CACHE "):
            out.append({})
        m = ROW.match(l)
        if m and out:
            out[-1][m.group(1)] = (int(m.group(2)), int(m.group(3)))
    return out


def test_socket_pairs_allocate_from_the_unix_cache():
    t = Tool("slabratetop", "-C", "-r", "100", "1", "3")
    assert t.lines[0] == "Tracing... Output every 1 secs. Hit Ctrl-C to end"
    _sockets()
    assert t.wait(timeout=30) == 0
    assert t.lines[-1] == "Detaching..."
    screens = _screens(t.lines)
    assert len(screens) == 3 and any(re.match(r"\d\d:\d\d:\d\d loadavg: ", l) for l in t.lines)
    socks = [s[CACHE] for s in screens if CACHE in s]
    assert sum(n for n, _ in socks) >= 2 * PAIRS, t.text
    assert all(b >= n * 512 for n, b in socks), socks       # a socket inode is over 512 bytes
    for s in screens:       # sorted by bytes, largest first
        sizes = [b for _, b in s.values()]
        assert sizes == sorted(sizes, reverse=True)


@pytest.mark.skipif(not features.tracepoint_field("kmem", "kmem_cache_alloc", "name"),
                    reason="kmem:kmem_cache_alloc has no cache name here (before 6.1)")
def test_classic_tracepoint_variant():
    t = Tool("slabratetop", "--probe", "tracepoint", "-C", "1", "2")
    _sockets()
    assert t.wait(timeout=30) == 0
    assert sum(s.get(CACHE, (0, 0))[0] for s in _screens(t.lines)) >= 2 * PAIRS, t.text


@pytest.mark.parametrize("args,msg", [(["-r", "0"], "must be positive"),
                                      (["0"], "must be positive")])
def test_bad_input(args, msg):
    rc, out, err = run_tool("slabratetop", *args)
    assert rc == 2 and msg in err and len(err.strip().splitlines()) == 1, err


def test_json():
    t = Tool("slabratetop", "--json", "-r", "100", "1", ready="stderr")
    _sockets()
    allocs = []
    assert t.wait_for(json_match(lambda d: allocs.extend(
        r["allocs"] for r in d["rows"] if r["cache"] == CACHE) or sum(allocs) >= 2 * PAIRS),
        timeout=30), (t.text, t.stderr)
    assert t.stop() == 0
    objs = json_objects(t, "slabratetop")
    socks = [r for o in objs for r in o["rows"] if r["cache"] == CACHE]
    assert sum(r["allocs"] for r in socks) >= 2 * PAIRS, t.text
    assert all(r["bytes"] >= r["allocs"] * 512 for r in socks)
    for o in objs:          # sorted by bytes, largest first
        sizes = [r["bytes"] for r in o["rows"]]
        assert sizes == sorted(sizes, reverse=True)
