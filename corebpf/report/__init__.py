"""Pictures and profiles of what the tools collected, for people and programs.

    flamegraph.render(stacks, title=..., unit=...)   -> an interactive SVG (str)
    heatmap.render(columns, title=..., unit=...)     -> a latency heat map SVG (str)
    pprof.encode(stacks, sample_type=..., unit=...)  -> gzipped profile.proto (bytes)

`stacks` is a list of `(frames, value)`; frames run from the root to the
leaf, each a `(name, kind)` pair with kind "user", "kernel" or "process"
(the task name at the root).  A leaf package: it imports nothing else from
corebpf, and nothing here imports protobuf until pprof is asked for (the
`pprof` extra).
"""
from __future__ import annotations

USER, KERNEL, PROCESS = "user", "kernel", "process"


def xml_text(s: str) -> str:
    """s made safe as SVG text or attribute value: markup characters escaped,
    characters XML 1.0 cannot hold (C0 controls, lone surrogates, U+FFFE/F)
    shown as \\xNN / \\uNNNN.  Symbol names, task names and file names are
    hostile input."""
    out = []
    for ch in s:
        o = ord(ch)
        if ch == "&":
            out.append("&amp;")
        elif ch == "<":
            out.append("&lt;")
        elif ch == ">":
            out.append("&gt;")
        elif ch == '"':
            out.append("&quot;")
        elif ch == "'":
            out.append("&#39;")
        elif (o < 0x20 and ch not in "\t\n") or o == 0x7F:
            out.append("\\x%02x" % o)
        elif 0xD800 <= o <= 0xDFFF or o in (0xFFFE, 0xFFFF):
            out.append("\\u%04x" % o)
        else:
            out.append(ch)
    return "".join(out)
