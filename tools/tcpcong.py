"""Summarize tcp socket congestion control status duration: per TCP flow,
the time spent in each congestion state (open, disorder, cwr, recovery,
loss) and the number of state changes, or (-d) histograms of the stretches
per state.

examples:
    tcpcong                 # show tcp congestion status duration
    tcpcong 1 10            # show 1 second summaries, 10 times
    tcpcong -L 3000-3006 1  # 1s summaries, local port 3000-3006
    tcpcong -R 5000-5005 1  # 1s summaries, remote port 5000-5005
    tcpcong -uT 1           # 1s summaries, microseconds, and timestamps
    tcpcong -d              # show the duration as histograms
"""
from __future__ import annotations

import argparse
import sys
import time

import corebpf
from corebpf import features, histogram

from . import _cli, _jsonl, _net

PROG = "tcpcong"
STATES = ["open", "disorder", "cwr", "recovery", "loss"]


def port_range(text: str) -> tuple:
    """'3000-3006' or '3000' -> (low, high); bcc swaps a reversed range."""
    parts = text.split("-")
    if len(parts) not in (1, 2):
        raise argparse.ArgumentTypeError("unrecognized port range")
    try:
        ports = [int(p) for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"unrecognized port range: {text!r}") from None
    if not all(0 <= p <= 65535 for p in ports):
        raise argparse.ArgumentTypeError(f"port out of range: {text}")
    return min(ports), max(ports)


port_range.lo, port_range.hi = 0, 65535


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("-L", "--localport", type=port_range, help="trace local ports only")
    p.add_argument("-R", "--remoteport", type=port_range, help="trace the dest ports only")
    p.add_argument("-T", "--timestamp", action="store_true", help="include timestamp on output")
    p.add_argument("-d", "--dist", action="store_true", help="show distributions as histograms")
    p.add_argument("-u", "--microseconds", action="store_true", help="output in microseconds")
    p.add_argument("interval", nargs="?", default=_cli.FOREVER, type=_cli.positive_int,
                   help="output interval, in seconds")
    p.add_argument("outputs", nargs="?", default=_cli.FOREVER, type=_cli.positive_int,
                   help="number of outputs")
    _jsonl.add_args(p)
    return p.parse_args(argv)


F = _jsonl.Field
TABLE = _jsonl.Intervals("one object per interval (or at the end): time per congestion state "
                         "and state changes per flow", fields=[
    F("unit", "string", "unit of the times: us (-u) or ms"),
], rows=[
    F("laddr", "string", "local address"),
    F("lport", "integer", "local port"),
    F("raddr", "string", "remote address"),
    F("rport", "integer", "remote port"),
    *(F(s, "integer", f"time in the {s} state (unit)") for s in STATES),
    F("changes", "integer", "state changes"),
])
HISTS = _jsonl.Histograms("-d: one object per interval (or at the end): stretches of each "
                          "congestion state", ["msecs", "usecs"],
                          keys=[F("state", "string", "the congestion state")])
JSON = _jsonl.Either(TABLE, HISTS)


def state_name(state: int) -> str:
    return STATES[state] if 0 <= state < len(STATES) else str(state)


def json_rows(items) -> list:
    """--json: the flows with state changes, as tables() shows them."""
    rows = []
    for k, v in sorted(items, key=lambda kv: (kv[0].family, kv[0].lport)):
        if v.total_changes:
            rows.append({"laddr": _net.ntop(k.family, k.saddr), "lport": k.lport,
                         "raddr": _net.ntop(k.family, k.daddr), "rport": k.dport,
                         "open": v.open_dura, "disorder": v.disorder_dura,
                         "cwr": v.cwr_dura, "recovery": v.recover_dura, "loss": v.loss_dura,
                         "changes": v.total_changes})
    return rows


def tables(items, us: bool) -> list:
    """bcc's IPv4 and IPv6 tables (each header only if that family has flows)."""
    label = "us" if us else "ms"
    cols = ("Open_" + label, "Dod_" + label, "Rcov_" + label, "Cwr_" + label, "Los_" + label,
            "Chgs")
    out = []
    for family, width, fmt in ((_net.AF_INET, 21, "%-21s %-21s %-7d %-6d %-7d %-7d %-6d %-5d"),
                               (_net.AF_INET6, 32, "%-32s %-32s %-7d %-7d %-7d %-6d %-6d %-5d")):
        flows = sorted(((k, v) for k, v in items if k.family == family), key=lambda kv: kv[0].lport)
        if not flows:
            continue
        six = "6" if family == _net.AF_INET6 else ""
        out.append("%-*s %-*s %-7s %-6s %-7s %-7s %-6s %-5s" % (
            width, "LAddrPort" + six, width, "RAddrPort" + six, *cols))
        div = 1 if us else 1000
        for k, v in flows:
            if v.total_changes:
                out.append(fmt % (
                    "%s/%d" % (_net.ntop(family, k.saddr), k.lport),
                    "%s/%d" % (_net.ntop(family, k.daddr), k.dport),
                    v.open_dura // div, v.disorder_dura // div, v.recover_dura // div,
                    v.cwr_dura // div, v.loss_dura // div, v.total_changes))
    return out


def choose_programs(obj):
    """Before load: the function variants (kernels without tcp_cong_state_set)
    probe only the functions this kernel has (a static one may be inlined)."""
    for p in obj.programs.values():
        if p.kind in ("fentry", "kprobe") and p.target and \
                not features.kernel_function_exists(p.target):
            p.autoload = False


def run(argv=None):
    a = parse(argv)
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        choose_programs(obj)
        ro = obj.rodata
        ro.targ_dist = a.dist
        ro.targ_us = a.microseconds
        if a.localport:
            ro.targ_lport_min, ro.targ_lport_max = a.localport
        if a.remoteport:
            ro.targ_dport_min, ro.targ_dport_max = a.remoteport
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        obj.attach()
        flows, hists = obj.maps["flows"], obj.maps["hists"]
        _jsonl.status(a, "Tracing tcp congestion control status duration... Hit Ctrl-C to end.")

        def emit():
            if a.json and a.dist:
                HISTS.write("usecs" if a.microseconds else "msecs",
                            [({"state": state_name(k)}, list(v.slots))
                             for k, v in hists.pop_items()])
                flows.pop_items()
                return
            if a.json:
                TABLE.write(json_rows(flows.pop_items()), unit="us" if a.microseconds else "ms")
                return
            out = ["\n"]
            if a.timestamp:
                out.append("%-8s\n" % time.strftime("%H:%M:%S"))
            if a.dist:
                out.append(histogram.format_sections(
                    [(k, list(v.slots)) for k, v in hists.pop_items()],
                    "usecs" if a.microseconds else "msecs", "tcp_congest_state", state_name))
                flows.pop_items()
            else:
                lines = tables(flows.pop_items(), a.microseconds)
                if lines:
                    out.append("\n".join(lines) + "\n")
            sys.stdout.write("".join(out))
            sys.stdout.flush()

        _cli.interval_loop(a.interval, a.outputs, emit)
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
