"""Monitor IO latency distribution of a block device: latency percentiles
of reads, writes, discards and flushes, per interval.

With an infinite interval (-i -1), biolatpcts prints a result as soon as it
is ready, then whenever it receives SIGUSR1/2 and before exiting on SIGINT,
SIGTERM or SIGHUP.  SIGUSR1 starts a new period after reporting; SIGUSR2
does not (progress without resetting the accumulation).

examples:
    biolatpcts sda                 # percentiles of sda every 3 seconds
    biolatpcts -i 1 -j 8:0         # every second, as JSON, for device 8:0
    biolatpcts -w after-rq-alloc /dev/nvme0n1
    biolatpcts -p 50,90,99,99.9 sda
    biolatpcts -i -1 sda           # report on SIGUSR1/SIGUSR2 and at exit
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys

import corebpf

from . import _block, _cli, _jsonl

PROG = "biolatpcts"
MSEC = 1000
SEC = 1000 * 1000
IO_TYPES = ("read", "write", "discard", "flush")
WHICH = {"from-rq-alloc": 0, "after-rq-alloc": 1, "on-device": 2}
DEFAULT_PCTS = "1,5,10,16,25,50,75,84,90,95,99,100"


def pct_list(text: str) -> list:
    out = []
    for p in text.split(","):
        try:
            v = float(p)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid percentile: {p!r}") from None
        if not 0 <= v <= 100:
            raise argparse.ArgumentTypeError(f"percentile out of 0..100: {p}")
        out.append(p.strip())
    return sorted(out, key=float)


pct_list.lo, pct_list.hi = 0, 100


def interval_type(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid integer: {text!r}") from None
    if v < -1 or v > 2**31:
        raise argparse.ArgumentTypeError(f"must be -1 (infinite), 0 or positive: {text}")
    return v


interval_type.lo, interval_type.hi = -1, 2**31


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__, short_verbose=False)
    p.add_argument("dev", metavar="DEV",
                   help="Target block device (/dev/DEVNAME, DEVNAME or MAJ:MIN)")
    p.add_argument("-i", "--interval", type=interval_type, default=3,
                   help="Report interval (0: exit after startup, -1: infinite) (default 3)")
    p.add_argument("-w", "--which", choices=tuple(WHICH), default="on-device",
                   help="Which latency to measure (default on-device)")
    p.add_argument("-p", "--pcts", metavar="PCT,...", type=pct_list, default=pct_list(DEFAULT_PCTS),
                   help="Percentiles to calculate (default %s)" % DEFAULT_PCTS)
    p.add_argument("-j", "--json", action="store_true",
                   help="Output in json (bcc's document: `corebpf schema biolatpcts`)")
    p.add_argument("-v", dest="debug", action="count", default=0,
                   help="print the raw slots (twice: the percentile search too)")
    return p.parse_args(argv)


def device(text: str) -> int:
    """DEV as bcc takes it -> the kernel's dev_t (major << 20 | minor)."""
    major, sep, minor = text.partition(":")
    if sep and major.isdigit() and minor.isdigit():
        return _block.mkdev(int(major), int(minor))
    path = text if "/" in text else "/dev/" + text
    try:
        st = os.stat(path)
    except OSError as e:
        raise _cli.UsageError(f"{text}: {e.strerror}") from None
    except ValueError:          # a NUL in the name
        raise _cli.UsageError(f"{text!r}: no such device") from None
    import stat as st_mod
    if not st_mod.S_ISBLK(st.st_mode):
        raise _cli.UsageError(f"{text}: not a block device")
    return _block.mkdev(os.major(st.st_rdev), os.minor(st.st_rdev))


def calc_lat_pct(req_pcts, total, lat_100ms, lat_1ms, lat_10us, debug=0) -> list:
    """Percentiles (us, a slot's midpoint as bcc prints) from the three tiers.

    The tiers, finest first, make one ascending list of slots: 10 us slots
    (requests under 1 ms), then 1 ms slots 1-99 (under 100 ms), then 100 ms
    slots 1-99.  Percentile p is the slot of the request of rank
    ceil(p% of total) (nearest rank).  bcc searches downwards from the
    slowest slot and moves past a slot before testing it again, so
    percentiles that share a slot with a higher one come out as the lowest
    slot ("5us"); this does not."""
    if total == 0:
        return [0] * len(req_pcts)
    slots = [(10 * i + 5, n) for i, n in enumerate(lat_10us)]
    slots += [(1000 * i + 500, n) for i, n in enumerate(lat_1ms) if i]
    slots += [(100000 * i + 50000, n) for i, n in enumerate(lat_100ms) if i]
    out = []
    for req in req_pcts:
        rank = max(1, -(-float(req) * total // 100))
        cum, value = 0, slots[-1][0]
        for mid, n in slots:
            cum += n
            if cum >= rank:
                value = mid
                break
        if debug > 1:
            print("pct={} rank={} value={}us".format(req, rank, value))
        out.append(value)
    return out


_PCTS = {"type": "object", "description": "percentile (as given to -p) -> latency (s)",
         "propertyNames": {"pattern": r"^[0-9.]+$"},
         "additionalProperties": {"type": "number", "minimum": 0}}
JSON = _jsonl.Document("bcc's document: one object per report, per I/O type the latency "
                       "percentiles asked for, in seconds (a slot's midpoint)", {
    "properties": {t: _PCTS for t in IO_TYPES}, "required": list(IO_TYPES),
    "additionalProperties": False})


def format_usec(lat) -> str:
    if lat > SEC:
        return '{:.1f}s'.format(lat / SEC)
    if lat > 10 * MSEC:
        return '{:.0f}ms'.format(lat / MSEC)
    if lat > MSEC:
        return '{:.1f}ms'.format(lat / MSEC)
    if lat > 0:
        return '{:.0f}us'.format(lat)
    return '-'


def render(name: str, pcts: list, lats: list, as_json: bool) -> str:
    if as_json:
        return json.dumps({IO_TYPES[i]: {p: lats[i][j] / SEC for j, p in enumerate(pcts)}
                           for i in range(4)}) + "\n"
    out = ['\n{:<7}'.format(name)]
    widths = []
    for pct in pcts:
        widths.append(max(len(pct), 5))
        out.append(' {:>5}'.format(pct))
    out.append("\n")
    for i in range(4):
        out.append('{:7}'.format(IO_TYPES[i]))
        for j, lat in enumerate(lats[i]):
            out.append(' {:>{}}'.format(format_usec(lat), widths[j]))
        out.append("\n")
    return "".join(out)


class Accumulator:
    """The map's running counters minus those at the start of the period."""

    def __init__(self):
        self.last = {t: [0] * 400 for t in ("ms100", "ms1", "us10")}

    def period(self, value, reset: bool) -> dict:
        cur = {}
        for tier, last in self.last.items():
            now = list(getattr(value, tier))
            cur[tier] = [max(v - l, 0) for v, l in zip(now, last)]
            if reset:
                self.last[tier] = now
        return cur


REPORT_SIGNALS = (signal.SIGUSR1, signal.SIGUSR2)


def wait_event(timeout):
    """None (timeout), 'stop', 'usr1' or 'usr2'."""
    try:
        info = signal.sigtimedwait(_cli.STOP_SIGNALS + REPORT_SIGNALS,
                                   min(timeout, 2**31 / 1000) if timeout is not None
                                   else 2**31 / 1000)
    except InterruptedError:
        return None
    if info is None:
        return None
    return {signal.SIGUSR1: "usr1", signal.SIGUSR2: "usr2"}.get(info.si_signo, "stop")


def run(argv=None):
    a = parse(argv)
    dev = device(a.dev)
    _cli.setup(a)
    signal.pthread_sigmask(signal.SIG_BLOCK, REPORT_SIGNALS)
    with corebpf.Object.open(PROG) as obj:
        obj.rodata.targ_dev = dev
        obj.rodata.targ_which = WHICH[a.which]
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        obj.attach()
        if a.interval == 0:
            return 0
        lats_map = obj.maps["lats"]
        acc = Accumulator()
        name = os.path.basename(a.dev)
        event = "first" if a.interval < 0 else None
        while True:
            if event is None:
                event = wait_event(a.interval if a.interval > 0 else None)
                if event is None and a.interval < 0:
                    continue
            reset = a.interval > 0 or event == "usr1"
            cur = acc.period(lats_map[0], reset)
            lats = []
            for i in range(4):
                lo, hi = i * 100, i * 100 + 100
                total = sum(cur["ms100"][lo:hi])
                lats.append(calc_lat_pct(a.pcts, total, cur["ms100"][lo:hi],
                                         cur["ms1"][lo:hi], cur["us10"][lo:hi], a.debug))
                if a.debug:
                    for tier, label in (("ms100", "100ms"), ("ms1", "  1ms"), ("us10", " 10us")):
                        print('{:7} {} {}'.format(IO_TYPES[i], label, cur[tier][lo:hi]))
            sys.stdout.write(render(name, a.pcts, lats, a.json))
            sys.stdout.flush()
            if event == "stop":
                return 0
            event = None


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
