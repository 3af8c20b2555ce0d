"""What cachestat and cachetop share: choosing and attaching the page cache
probes of bpf_src/pagecache.bpf.h."""
from __future__ import annotations

import corebpf
from corebpf import features

# kprobe variant: program -> kernel functions to try, newest name first
KPROBE_TARGETS = {
    "access__kprobe": ("folio_mark_accessed", "mark_page_accessed"),
    "added__kprobe": ("filemap_add_folio", "add_to_page_cache_lru"),
    "dirtied__kprobe": ("folio_account_dirtied", "account_page_dirtied"),
}


def configure(obj, dirtied_tp: bool):
    """Before load: the dirtied counter of the kprobe variant (a function if
    one survived inlining, else its tracepoint); the tracepoint variant's
    dirtied counter only if `dirtied_tp` (and the kernel has the tracepoint)."""
    progs = obj.programs
    if not features.tracepoint_exists("writeback", "writeback_dirty_folio"):
        progs["dirtied__tp"].autoload = False
        progs["written__tp"].autoload = False
    elif not dirtied_tp:
        progs["dirtied__tp"].autoload = False
    if not features.kprobes():
        return
    if any(features.kernel_function_exists(f) for f in KPROBE_TARGETS["dirtied__kprobe"]):
        progs["dirtied_folio_tp__kprobe"].autoload = False
        progs["dirtied_page_tp__kprobe"].autoload = False
    else:
        progs["dirtied__kprobe"].autoload = False
        folio = features.tracepoint_exists("writeback", "writeback_dirty_folio")
        progs["dirtied_page_tp__kprobe" if folio else "dirtied_folio_tp__kprobe"].autoload = False


def attach(obj, prog: str):
    """After load: attach, the kprobe variant's programs by this kernel's names."""
    if obj.variant != "kprobe":
        obj.attach()
        return
    for name, funcs in KPROBE_TARGETS.items():
        p = obj.programs[name]
        if not p.autoload:
            continue
        func = next((f for f in funcs if features.kernel_function_exists(f)), None)
        if func is None:
            raise corebpf.MissingFeature(f"{prog}: none of {', '.join(funcs)} in this kernel")
        p.attach_kprobe(func)
    obj.attach(*[p.name for p in obj.programs.values()
                 if p.autoload and p.name not in KPROBE_TARGETS])


