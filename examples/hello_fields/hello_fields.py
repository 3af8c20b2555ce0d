#!/usr/bin/env python3
"""A "Hello, World!" per clone(), printed as fields parsed from trace_pipe:
bcc's examples/tracing/hello_fields.py on corebpf."""
import os

import corebpf

with corebpf.Object.open(os.path.splitext(__file__)[0] + ".bpf.o") as obj:
    obj.load()
    obj.programs["hello"].attach_tracepoint("syscalls", "sys_enter_clone")
    try:
        print("%-18s %-16s %-6s %s" % ("TIME(s)", "COMM", "PID", "MESSAGE"), flush=True)
        while True:
            task, pid, cpu, flags, ts, msg = corebpf.trace_fields()
            print("%-18.9f %-16s %-6d %s" % (ts, task, pid, msg), flush=True)
    except KeyboardInterrupt:
        pass
