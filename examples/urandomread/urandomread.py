#!/usr/bin/env python3
"""Print every read of /dev/urandom: who read and how many bits.
bcc's examples/tracing/urandomread.py on corebpf."""
import os

import corebpf


def print_event(e):
    print("%-18.9f %-16s %-6d %s" % (e.ts / 1e9, e.comm, e.pid, e.got_bits), flush=True)


with corebpf.Object.open(os.path.splitext(__file__)[0] + ".bpf.o") as obj:
    obj.load()              # the old tracepoint where it exists, else read(2)
    obj.attach()
    rb = obj.ring_buffer("events", print_event)
    try:
        print("%-18s %-16s %-6s %s" % ("TIME(s)", "COMM", "PID", "GOTBITS"), flush=True)
        while True:
            rb.poll(1000)
    except KeyboardInterrupt:
        pass
