"""Summarize TCP send and receive throughput by process and connection, top
style: every interval, the connections that moved data, busiest first.

Bytes are counted in the kernel from the sock:sock_send_length and
sock:sock_recv_length tracepoints (every sendmsg/recvmsg, including write()
and read() on sockets; Linux 6.3+), or from kprobes on tcp_sendmsg and
tcp_cleanup_rbuf on older kernels.

examples:
    tcptop           # trace TCP send/recv by host
    tcptop -C        # don't clear the screen
    tcptop -p 181    # only trace PID 181
    tcptop -S        # no loadavg summary line
    tcptop 5 10      # 5 second summaries, 10 times
    tcptop -4        # only trace IPv4
    tcptop -6        # only trace IPv6
    tcptop --cgroupmap mappath  # only trace cgroups in this BPF map
    tcptop --mntnsmap mappath   # only trace mount namespaces in the map
"""
from __future__ import annotations

import sys

import corebpf

from . import _cli, _jsonl, _net

PROG = "tcptop"


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("-C", "--noclear", action="store_true", help="don't clear the screen")
    p.add_argument("-S", "--nosummary", action="store_true", help="skip the loadavg summary line")
    p.add_argument("-p", "--pid", type=_cli.pid_type, help="trace this PID only")
    p.add_argument("interval", nargs="?", default=1, type=_cli.positive_int,
                   help="output interval, in seconds (default 1)")
    p.add_argument("count", nargs="?", default=-1, type=_cli.positive_int,
                   help="number of outputs (default: until Ctrl-C)")
    _cli.container_args(p)
    _net.add_family(p)
    _jsonl.add_args(p)
    return p.parse_args(argv)


F = _jsonl.Field
JSON = _jsonl.Intervals("one object per interval: TCP traffic per connection and process "
                        "in it (largest first)", [_jsonl.LOADAVG], rows=[
    F("pid", "integer", "process ID", get=lambda kv: kv[0].pid),
    F("comm", "string", "command name", get=lambda kv: kv[0].comm),
    F("ip", "integer", "IP version, 4 or 6", get=lambda kv: _net.ipver(kv[0].family)),
    F("laddr", "string", "local address", get=lambda kv: _net.ntop(kv[0].family, kv[0].saddr)),
    F("lport", "integer", "local port", get=lambda kv: kv[0].lport),
    F("raddr", "string", "remote address", get=lambda kv: _net.ntop(kv[0].family, kv[0].daddr)),
    F("rport", "integer", "remote port", get=lambda kv: kv[0].dport),
    F("rx_bytes", "integer", "bytes received", "bytes", get=lambda kv: kv[1].received),
    F("tx_bytes", "integer", "bytes sent", "bytes", get=lambda kv: kv[1].sent),
])


def render(items) -> str:
    """One interval's tables from the `traffic` map items [(key, traffic)]."""
    out = []
    for fam, head, width in ((_net.AF_INET, "%-7s %-12s %-21s %-21s %6s %6s", 21),
                             (_net.AF_INET6, "\n%-7s %-12s %-32s %-32s %6s %6s", 32)):
        rows = [(k, v) for k, v in items if k.family == fam]
        if not rows:
            continue
        six = "6" if fam == _net.AF_INET6 else ""
        out.append(head % ("PID", "COMM", "LADDR" + six, "RADDR" + six, "RX_KB", "TX_KB"))
        row = "%%-7d %%-12.12s %%-%ds %%-%ds %%6d %%6d" % (width, width)
        for k, v in sorted(rows, key=lambda kv: kv[1].sent + kv[1].received, reverse=True):
            out.append(row % (k.pid, k.comm, "%s:%d" % (_net.ntop(fam, k.saddr), k.lport),
                              "%s:%d" % (_net.ntop(fam, k.daddr), k.dport),
                              v.received // 1024, v.sent // 1024))
    return "\n".join(out)


def run(argv=None):
    a = parse(argv)
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        if a.pid:
            obj.rodata.targ_tgid = a.pid
        obj.rodata.targ_family = _net.family_of(a)
        _cli.apply_containers(obj, a)
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        obj.attach()
        traffic = obj.maps["traffic"].raw_text(a.json)
        _net.prepare_decoders(traffic)
        _jsonl.status(a, "Tracing... Output every %s secs. Hit Ctrl-C to end" % a.interval)

        def emit():
            if a.json:
                JSON.write(sorted(traffic.pop_items(), key=lambda kv: kv[1].sent + kv[1].received,
                                  reverse=True), loadavg=_cli.loadavg())
                return
            if a.noclear:
                print()
            else:
                _cli.clear_screen()
            if not a.nosummary:
                print(_cli.loadavg_line())
            text = render(traffic.pop_items())
            if text:
                print(text)
            sys.stdout.flush()

        _cli.interval_loop(a.interval, a.count, emit)
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
