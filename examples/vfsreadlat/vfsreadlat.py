#!/usr/bin/env python3
"""vfs_read() latency histograms every interval: bcc's
examples/tracing/vfsreadlat.py on corebpf.

usage: vfsreadlat.py [interval [count]]"""
import os
import sys
import time

import corebpf


def usage():
    print("USAGE: %s [interval [count]]" % sys.argv[0])
    sys.exit()


interval = 5
count = -1
if len(sys.argv) > 1:
    try:
        interval = int(sys.argv[1])
        if interval <= 0:
            raise ValueError
        if len(sys.argv) > 2:
            count = int(sys.argv[2])
    except ValueError:      # also catches -h, --help
        usage()

# vfs_read itself (fentry, else kprobe) before the read(2) tracepoints
obj = corebpf.Object.open(os.path.splitext(__file__)[0] + ".bpf.o",
                          prefer=("fentry", "kprobe", "tracepoint"))
with obj:
    obj.load()
    obj.attach()
    print("Tracing... Hit Ctrl-C to end.", flush=True)
    dist = obj.maps["dist"]
    loop = 0
    do_exit = False
    while True:
        if count > 0:
            loop += 1
            if loop > count:
                break
        try:
            time.sleep(interval)
        except KeyboardInterrupt:
            do_exit = True
        print()
        dist.print_log2_hist("usecs")
        sys.stdout.flush()
        dist.clear()
        if do_exit:
            break
