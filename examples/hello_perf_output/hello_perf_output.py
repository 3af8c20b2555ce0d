#!/usr/bin/env python3
"""A line per clone(), sent through a perf buffer: bcc's
examples/tracing/hello_perf_output.py on corebpf."""
import os

import corebpf

start = 0


def print_event(event):
    global start
    if start == 0:
        start = event.ts
    time_s = (event.ts - start) / 1e9
    print("%-18.9f %-16s %-6d %s" % (time_s, event.comm, event.pid, "Hello, perf_output!"),
          flush=True)


with corebpf.Object.open(os.path.splitext(__file__)[0] + ".bpf.o") as obj:
    obj.load()
    obj.attach()
    events = obj.perf_buffer("events", print_event)
    try:
        print("%-18s %-16s %-6s %s" % ("TIME(s)", "COMM", "PID", "MESSAGE"), flush=True)
        while True:
            events.poll(1000)
    except KeyboardInterrupt:
        pass
