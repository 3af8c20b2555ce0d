#!/usr/bin/env python3
"""Print the path of each HTTP request a Node.js process serves, from its
USDT probe: bcc's examples/tracing/nodejs_http_server.py on corebpf.

usage: nodejs_http_server.py PID"""
import os
import sys

import corebpf

if len(sys.argv) < 2:
    print("USAGE: nodejs_http_server PID")
    sys.exit(1)
pid = int(sys.argv[1])


def print_event(e):
    print("%-18.9f %-16s %-6d %s" % (e.ts / 1e9, e.comm, e.pid, "path:" + e.path), flush=True)


with corebpf.Object.open(os.path.splitext(__file__)[0] + ".bpf.o") as obj:
    obj.load()
    try:
        obj.programs["do_trace"].attach_usdt(provider="node", name="http__server__request",
                                             pid=pid)
    except corebpf.BPFError as e:
        sys.exit(f"nodejs_http_server: error: {e}")
    rb = obj.ring_buffer("events", print_event)
    try:
        print("%-18s %-16s %-6s %s" % ("TIME(s)", "COMM", "PID", "ARGS"), flush=True)
        while True:
            rb.poll(1000)
    except KeyboardInterrupt:
        pass
