"""Formatters and tables of memleak, ustat, bpflist, deadlock and bcc's
language names, against bcc's text (no privilege needed)."""
from __future__ import annotations

import importlib
import re
from collections import namedtuple

import pytest

from corebpf.tools import _aliases, bpflist, deadlock, memleak, ustat

Info = namedtuple("Info", "size timestamp_ns stack_id pad")
Comb = namedtuple("Comb", "total_size number_of_allocs")
Trace = namedtuple("Trace", "ts_ns size address pid cpu kind comm")

# bcc 0.26 installs these 28 scripts (/usr/sbin/*-bpfcc), each `TOOL -l LANG`
BCC_NAMES = """cobjnew javacalls javaflow javagc javaobjnew javastat javathreads nodegc
nodestat perlcalls perlflow perlstat phpcalls phpflow phpstat pythoncalls pythonflow
pythongc pythonstat rubycalls rubyflow rubygc rubyobjnew rubystat tclcalls tclflow
tclobjnew tclstat""".split()


def test_the_28_language_names():
    assert sorted(_aliases.ALIASES) == sorted(BCC_NAMES)
    for name, (tool, lang) in _aliases.ALIASES.items():
        # the name says both: <lang><what>, what = the tool without its u
        assert name == lang + tool[1:] or (name, tool) == ("cobjnew", "uobjnew"), name


@pytest.mark.parametrize("name", BCC_NAMES)
def test_each_name_is_accepted_by_its_tool(name, capsys):
    tool, args = _aliases.argv_for(name, ["-h"])
    assert args[:2] == ["-l", _aliases.ALIASES[name][1]]
    mod = importlib.import_module(f"corebpf.tools.{tool}")
    with pytest.raises(SystemExit) as e:
        mod.parse(args)
    assert e.value.code == 0
    usage = capsys.readouterr().out
    choices = re.search(r"-l \{([a-z,]+)\}", usage).group(1).split(",")
    assert _aliases.ALIASES[name][1] in choices


def test_alias_entry_points():
    assert callable(_aliases.javacalls)
    with pytest.raises(AttributeError):
        _aliases.nosuchname


def test_memleak_outstanding_report():
    allocs = [(0x1000, Info(16, 100, 3, 0)), (0x2000, Info(32, 200, 3, 0)),
              (0x3000, Info(100, 300, 5, 0)), (0x4000, Info(8, 10**12, 5, 0)),  # too young
              (0x5000, Info(64, 100, -14, 0))]                                # no stack
    frames = {3: ["0x00000000004005d6\tmain+0x6d [allocs]"], 5: ["0x0\tf [x]", "0x1\tg [x]"]}
    out = memleak.outstanding(allocs, 10**9, 500 * 10**6, "size", 10, frames.get, True)
    assert out == ["\taddr = 1000 size = 16", "\taddr = 2000 size = 32",
                   "\taddr = 3000 size = 100",
                   "\t48 bytes in 2 allocations from stack\n\t\t0x00000000004005d6\tmain+0x6d [allocs]",
                   "\t100 bytes in 1 allocations from stack\n\t\t0x0\tf [x]\n\t\t0x1\tg [x]"]
    out = memleak.outstanding(allocs, 10**9, 500 * 10**6, "count", 1, frames.get, False)
    assert out == ["\t48 bytes in 2 allocations from stack\n\t\t0x00000000004005d6\tmain+0x6d [allocs]"]


def test_memleak_combined_report():
    items = [(3, Comb(48, 2)), (5, Comb(100, 1)), (2**32 - 14, Comb(7, 7))]
    frames = {3: ["main+0x6d [allocs]"], 5: ["f [x]"]}
    out = memleak.combined(items, "size", 2, lambda s: frames.get(s, []))
    assert out == ["\t48 bytes in 2 allocations from stack\n\t\tmain+0x6d [allocs]",
                   "\t100 bytes in 1 allocations from stack\n\t\tf [x]"]
    out = memleak.combined(items, "count", 1, lambda s: frames.get(s, []))
    assert out == ["\t7 bytes in 7 allocations from stack\n\t\tstack information lost"]


def test_memleak_trace_lines():
    e = Trace(12345678901000, 2**32 + 16, 0, 42, 1, 0, "allocs")
    assert memleak.trace_line(e) == \
        "('allocs', 42, 1, '', 12345.678901, 'alloc entered, size = 16')"
    e = Trace(1, 16, 0x948cd0, 42, 0, 1, "allocs")
    assert memleak.trace_line(e).endswith("'alloc exited, size = 16, result = 948cd0')")
    e = Trace(1, 16, 0x948cd0, 42, 0, 2, "allocs")
    assert memleak.trace_line(e).endswith("'free entered, address = 948cd0, size = 16')")


def test_memleak_options():
    with pytest.raises(SystemExit):
        memleak.parse(["-z", "10", "-Z", "5"])
    with pytest.raises(SystemExit):
        memleak.parse(["--sort", "age"])
    a = memleak.parse([])
    assert (a.interval, a.count, a.older, a.top, a.sample_rate, a.obj, a.sort) == \
        (5, None, 500, 10, 1, "c", "size")


def test_ustat_report_layout():
    targets = {300: ("python", "/usr/bin/python3.11 -c pass "), 20: ("java", "java -cp x Main ")}
    rows = {300: [2500, 3, 0, 0, 0, 0], 20: [0, 1, 7, 11, 0, 4]}
    out = ustat.report(rows, targets, 2)
    assert out[0] == ("PID    CMDLINE              METHOD/s   GC/s   OBJNEW/s   CLOAD/s  "
                      "EXC/s  THR/s ")
    assert out[1] == "20     java -cp x Main      0          0      3          5        0      2     "
    assert out[2].startswith("300    /usr/bin/python3.11  1250       1      ")
    out = ustat.report(rows, targets, 1, sort="method", maxrows=1)
    assert len(out) == 2 and out[1].startswith("300 ")


def test_ustat_process_names():
    rx = ustat._name_rx(ustat.LANGS["python"][0])
    assert rx.match("python") and rx.match("python3") and rx.match("python3.11")
    assert not rx.match("python3-config") and not rx.match("ipython")
    assert ustat._name_rx(ustat.LANGS["tcl"][0]).match("tclsh8.6")


def test_bpflist_table_and_probe_names():
    counts = {}
    bpflist.count_probes("p:kprobes/p_do_sys_open_bcc_1234 do_sys_open\n"
                         "p:kprobes/p_vfs_read_bcc_1234 vfs_read\n"
                         "p:kprobes/libbpf_77_tcp_connect_0x0 tcp_connect\n"
                         "p:kprobes/someone_else do_exit\n", "kprobe", counts)
    assert counts == {(1234, "kprobe"): 2, (77, "kprobe"): 1}
    counts[(77, "prog")] = 3
    out = bpflist.report(counts, comm=lambda pid: {1234: "python", 77: "opensnoop"}[pid])
    assert out == ["PID    COMM             TYPE    COUNT",
                   "77     opensnoop        kprobe  1",
                   "77     opensnoop        prog    3",
                   "1234   python           kprobe  2"]
    assert bpflist.report({}) == ["PID    COMM             TYPE COUNT"]


def test_deadlock_cycles():
    assert deadlock.find_cycle({}) == []
    assert deadlock.find_cycle({1: {2}, 2: {3}, 3: set()}) == []
    assert deadlock.find_cycle({1: {2}, 2: {1}}) == [(1, 2), (2, 1)]
    # a tail into a cycle: only the cycle
    assert deadlock.find_cycle({0: {5}, 5: {7}, 7: {9}, 9: {5}}) == [(5, 7), (7, 9), (9, 5)]
    # diamond without a cycle, then a long one
    assert deadlock.find_cycle({1: {2, 3}, 2: {4}, 3: {4}, 4: set()}) == []
    big = {i: {i + 1} for i in range(1, 500)}
    big[500] = {1}
    assert len(deadlock.find_cycle(big)) == 500


def test_deadlock_graph_dump():
    adj = {10: {20}, 20: set()}
    attrs = {(10, 20): {"thread_pid": 7, "thread_comm": "x", "first_mutex_stack_id": 1,
                        "second_mutex_stack_id": 2}}
    d = deadlock.node_link_data(adj, attrs)
    assert d == {"directed": True, "multigraph": False, "graph": {},
                 "nodes": [{"id": 10}, {"id": 20}],
                 "links": [{"thread_pid": 7, "thread_comm": "x", "first_mutex_stack_id": 1,
                            "second_mutex_stack_id": 2, "source": 0, "target": 1}]}


def test_deadlock_stack_text():
    names = {1: "pthread_mutex_lock", 2: "lock_ab", 3: "first", 4: "start_thread"}
    sym = lambda a: names.get(a, "[unknown]")                      # noqa: E731
    assert deadlock.stack_text([1, 3, 4], 2, sym) == [
        "@ 0000000000000001 pthread_mutex_lock", "@ 0000000000000002 lock_ab",
        "@ 0000000000000003 first", "@ 0000000000000004 start_thread"]
    assert deadlock.stack_text([1, 2, 3], 2, sym)[1:] == [
        "@ 0000000000000002 lock_ab", "@ 0000000000000003 first"]
    # a frame-pointer walk looping through code without frame pointers
    assert deadlock.stack_text([1, 9, 9, 9, 9], 0, sym) == [
        "@ 0000000000000001 pthread_mutex_lock", "@ 0000000000000009 [unknown]"]


def test_funcslower_lines():
    from types import SimpleNamespace
    from corebpf.tools import funcslower
    a = SimpleNamespace(min_us=None, min_ms=10.0, time=False, timestamp=True, arguments=2,
                        folded=False, user_stack=False, kernel_stack=False)
    pr = funcslower.Printer(a, ["c:open", "vfs_write"])
    assert pr.header() == [
        "Tracing function calls slower than 10 ms... Ctrl+C to quit.",
        "TIME       COMM           PID    LAT(ms)             RVAL FUNC ARGS"]
    ev = funcslower.EVENT.pack(1, (4242 << 32) | 4243, 5 * 10**9, 12345678, 2**64 - 2,
                               b"a-very-long-command-name", 0x10, 0x20, 0, 0, 0, 0, -1, -1, 0)
    assert pr.lines(ev) == ["0.000000   a-very-long-co 4242     12.35 fffffffffffffffe "
                            "vfs_write 0x10 0x20"]
    a.min_ms, a.min_us, a.timestamp, a.arguments = None, 50.0, False, 0
    pr = funcslower.Printer(a, ["c:open"])
    assert pr.header()[0] == "Tracing function calls slower than 50 us... Ctrl+C to quit."
    ev = funcslower.EVENT.pack(0, 7 << 32, 0, 60000, 3, b"sh", 0, 0, 0, 0, 0, 0, -1, -1, 0)
    assert pr.lines(ev) == ["sh             7        60.00                3 c:open "]


def test_text_from_other_users_is_printable():
    from corebpf.tools import _cli
    assert _cli.printable("GET / HTTP/1.1\r\n\tx\x1b]0;owned\x07") == \
        "GET / HTTP/1.1\\x0d\n\tx\\x1b]0;owned\\x07"
    assert _cli.printable("a\nb\tc", "") == "a\\x0ab\\x09c"
    assert _cli.printable("plain \u00e9t\u00e9") == "plain \u00e9t\u00e9"
