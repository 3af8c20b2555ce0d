#!/usr/bin/env python3
"""Block I/O size histograms (log2 and linear), printed at Ctrl-C.
bcc's examples/tracing/bitehist.py on corebpf."""
import os
import time

import corebpf

with corebpf.Object.open(os.path.splitext(__file__)[0] + ".bpf.o") as obj:
    obj.load()
    obj.attach()
    try:
        print("Tracing... Hit Ctrl-C to end.", flush=True)
        time.sleep(99999999)
    except KeyboardInterrupt:
        print()

    print("log2 histogram")
    print("~~~~~~~~~~~~~~")
    obj.maps["dist"].print_log2_hist("kbytes")

    print("\nlinear histogram")
    print("~~~~~~~~~~~~~~~~")
    obj.maps["dist_linear"].print_linear_hist("kbytes")
