#!/usr/bin/env python3
"""Print "Hello, World!" each time a process calls clone(): bcc's
examples/hello_world.py on corebpf.  Build the object first:
corebpf compile hello_world.bpf.c"""
import os

import corebpf

with corebpf.Object.open(os.path.splitext(__file__)[0] + ".bpf.o") as obj:
    obj.load()
    obj.attach()
    try:
        corebpf.trace_print()
    except KeyboardInterrupt:
        pass
