#!/usr/bin/env python3
"""Print the queries a MySQL or PostgreSQL server process starts, from the
USDT probe query__start: bcc's examples/tracing/mysqld_query.py on corebpf.

usage: mysqld_query.py PID    (a mysqld, or a PostgreSQL backend)"""
import os
import sys

import corebpf

if len(sys.argv) < 2:
    print("USAGE: mysqld_query PID")
    sys.exit(1)
pid = int(sys.argv[1])


def print_event(e):
    print("%-18.9f %-16s %-6d %s" % (e.ts / 1e9, e.comm, e.pid, e.query), flush=True)


with corebpf.Object.open(os.path.splitext(__file__)[0] + ".bpf.o") as obj:
    obj.load()
    try:
        # any provider: mysql:query__start, postgresql:query__start
        obj.programs["do_trace"].attach_usdt(name="query__start", pid=pid)
    except corebpf.BPFError as e:
        sys.exit(f"mysqld_query: error: {e}")
    rb = obj.ring_buffer("events", print_event)
    try:
        print("%-18s %-16s %-6s %s" % ("TIME(s)", "COMM", "PID", "QUERY"), flush=True)
        while True:
            rb.poll(1000)
    except KeyboardInterrupt:
        pass
