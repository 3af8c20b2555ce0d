#!/usr/bin/env python3
"""Count the strings passed to libc's strlen() until Ctrl-C, then print them
by count: bcc's examples/tracing/strlen_count.py on corebpf.

usage: strlen_count.py [PID]    (PID: only that process; default: every one)"""
import os
import sys
import time

import corebpf

pid = int(sys.argv[1]) if len(sys.argv) > 1 else -1

with corebpf.Object.open(os.path.splitext(__file__)[0] + ".bpf.o") as obj:
    obj.load()
    try:
        obj.programs["count"].attach_uprobe("c:strlen", pid=pid)
    except corebpf.BPFError as e:
        sys.exit(f"strlen_count: error: {e}")
    try:
        print("Tracing strlen()... Hit Ctrl-C to end.", flush=True)
        time.sleep(99999999)
    except KeyboardInterrupt:
        pass

    print("%10s %s" % ("COUNT", "STRING"))
    for k, v in sorted(obj.maps["counts"].items(), key=lambda kv: kv[1]):
        print('%10d "%s"' % (v, k.c))
