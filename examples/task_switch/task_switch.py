#!/usr/bin/env python3
"""Count context switches per (previous PID -> next PID) for a second, then
print them: bcc's examples/tracing/task_switch.py on corebpf."""
import os
import time

import corebpf

with corebpf.Object.open(os.path.splitext(__file__)[0] + ".bpf.o") as obj:
    obj.load()              # picks the tp_btf variant, or the classic tracepoint's
    obj.attach()

    # generate many schedule events
    for i in range(0, 100):
        time.sleep(0.01)

    for k, v in obj.maps["stats"].items():
        print("task_switch[%5d->%5d]=%u" % (k.prev_pid, k.curr_pid, v))
