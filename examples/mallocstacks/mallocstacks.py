#!/usr/bin/env python3
"""Bytes allocated by malloc() in one process, per user stack, printed at
Ctrl-C: bcc's examples/tracing/mallocstacks.py on corebpf.

usage: mallocstacks.py PID [NUM_STACKS=1024]"""
import os
import sys
import time

import corebpf

USAGE = "USAGE: mallocstacks PID [NUM_STACKS=1024]"
if len(sys.argv) < 2:
    print(USAGE)
    sys.exit(1)
pid = int(sys.argv[1])
stacks = 1024
if len(sys.argv) == 3:
    try:
        stacks = int(sys.argv[2])
        assert stacks > 0
    except (ValueError, AssertionError):
        print(USAGE)
        print("NUM_STACKS must be a non-zero, positive integer")
        sys.exit(1)

with corebpf.Object.open(os.path.splitext(__file__)[0] + ".bpf.o") as obj:
    obj.maps["stack_traces"].max_entries = stacks
    obj.load()
    try:
        obj.programs["alloc_enter"].attach_uprobe("c:malloc", pid=pid)
    except corebpf.BPFError as e:
        sys.exit(f"mallocstacks: error: {e}")
    try:
        print("Attaching to malloc in pid %d, Ctrl+C to quit." % pid, flush=True)
        time.sleep(99999999)
    except KeyboardInterrupt:
        pass

    calls = obj.maps["calls"]
    stack_traces = obj.maps["stack_traces"]
    for k, v in reversed(sorted(calls.items(), key=lambda c: c[1])):
        print("%d bytes allocated at:" % v)
        for addr in stack_traces.walk(k):
            print("\t%s" % corebpf.sym(addr, pid, show_offset=True))
        print("    %d\n" % v)
