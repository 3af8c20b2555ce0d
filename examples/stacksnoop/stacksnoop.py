#!/usr/bin/env python3
"""Trace and print kernel stack traces for a kernel function (or, as
t:CATEGORY:NAME, a tracepoint): bcc's examples/tracing/stacksnoop.py on
corebpf."""
import argparse
import os
import sys
import time

import corebpf

examples = """examples:
    ./stacksnoop ext4_sync_fs           # print kernel stack traces for ext4_sync_fs
    ./stacksnoop -s ext4_sync_fs        # ... also show symbol offsets
    ./stacksnoop -v ext4_sync_fs        # ... show extra columns
    ./stacksnoop -p 185 ext4_sync_fs    # ... only when PID 185 is on-CPU
    ./stacksnoop t:block:block_rq_issue # a tracepoint instead of a function
"""
parser = argparse.ArgumentParser(
    description="Trace and print kernel stack traces for a kernel function",
    formatter_class=argparse.RawDescriptionHelpFormatter, epilog=examples)
parser.add_argument("-p", "--pid", type=int, help="trace this PID only")
parser.add_argument("-s", "--offset", action="store_true", help="show address offsets")
parser.add_argument("-v", "--verbose", action="store_true", help="print more fields")
parser.add_argument("function", help="kernel function name, or t:category:name")
args = parser.parse_args()
function = args.function

fentry_error = None
try:
    obj = corebpf.Object.open(os.path.splitext(__file__)[0] + ".bpf.o")
    obj.rodata.targ_pid = args.pid or 0
    if function.startswith("t:"):
        obj.programs["trace__fentry"].autoload = False
        obj.programs["trace__kprobe"].autoload = False
        obj.programs["trace_tp"].set_attach_target(function[2:])
    else:
        obj.programs["trace_tp"].autoload = False
        try:            # the kernel's BTF resolves fentry targets at once
            obj.programs["trace__fentry"].set_attach_target(function)
        except corebpf.BPFError as e:
            fentry_error = e
            obj.programs["trace__fentry"].autoload = False
        obj.programs["trace__kprobe"].set_attach_target(function)
    obj.load()              # fentry where the kernel has it, else a kprobe
    obj.attach()
except corebpf.BPFError as e:
    sys.exit(f"stacksnoop: error: {e}" + (f"; fentry: {fentry_error}" if fentry_error else ""))

stack_traces = obj.maps["stack_traces"]
start_ts = time.time()

if args.verbose:
    print("%-18s %-12s %-6s %-3s %s" % ("TIME(s)", "COMM", "PID", "CPU", "FUNCTION"))
else:
    print("%-18s %s" % ("TIME(s)", "FUNCTION"))
sys.stdout.flush()


def print_event(event):
    ts = time.time() - start_ts
    if args.verbose:
        print("%-18.9f %-12.12s %-6d %-3d %s" % (ts, event.comm, event.pid, event.cpu,
                                                 function))
    else:
        print("%-18.9f %s" % (ts, function))
    for addr in stack_traces.walk(event.stack_id):
        print("\t%s" % corebpf.ksym(addr, show_offset=args.offset))
    print(flush=True)


with obj:
    rb = obj.ring_buffer("events", print_event)
    try:
        while True:
            rb.poll(1000)
    except KeyboardInterrupt:
        pass
