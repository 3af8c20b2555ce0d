#!/usr/bin/env python3
"""Trace block device I/O: type, size and latency of every request.
bcc's examples/tracing/disksnoop.py on corebpf."""
import os

import corebpf


def print_event(e):
    # bcc: REQ_WRITE set -> W; no data (a flush) -> M; else R.  The tracepoint's
    # rwbs text says the same: 'W' for writes (after an 'F' for a preflush).
    if "W" in e.rwbs:
        type_s = "W"
    elif e.bytes == 0:
        type_s = "M"
    else:
        type_s = "R"
    print("%-18.9f %-2s %-7s %8.2f" % (e.ts / 1e9, type_s, e.bytes, e.delta_us / 1000),
          flush=True)


with corebpf.Object.open(os.path.splitext(__file__)[0] + ".bpf.o") as obj:
    obj.load()
    obj.attach()
    rb = obj.ring_buffer("events", print_event)
    try:
        print("%-18s %-2s %-7s %8s" % ("TIME(s)", "T", "BYTES", "LAT(ms)"), flush=True)
        while True:
            rb.poll(1000)
    except KeyboardInterrupt:
        pass
