"""Monitor performance of read ahead cache: how many pages read ahead were
not used, and a histogram of how long the used ones waited for their first
use.  Only kernel functions carry this (fentry, else kprobes); on a kernel
without either it says so and exits.

examples:
    readahead -d 20       # monitor for 20 seconds and generate stats
"""
from __future__ import annotations

import corebpf
from corebpf import features, histogram

from . import _cli, _containers, _jsonl

PROG = "readahead"
CONTAINER_HISTS = 1024
# program hook -> kernel functions to probe, bcc's order of preference
TARGETS = {
    "ra_enter": ("__do_page_cache_readahead", "do_page_cache_ra", "page_cache_ra_order"),
    "ra_exit": ("__do_page_cache_readahead", "do_page_cache_ra", "page_cache_ra_order"),
    "alloc": ("__page_cache_alloc", "filemap_alloc_folio", "filemap_alloc_folio_noprof"),
    "access": ("folio_mark_accessed", "mark_page_accessed"),
}


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__)
    p.add_argument("-d", "--duration", type=_cli.positive_int, default=_cli.FOREVER,
                   help="total duration to monitor for, in seconds")
    _jsonl.add_args(p)
    _containers.add_args(p, per_histogram=True)
    return p.parse_args(argv)


def stats(unused: int, slots, items=None) -> str:
    """bcc's report; items [(cgroup id, hist)]: --containers' histograms
    (the cgroup of the read that ran the readahead), under `container = NAME`."""
    hists = histogram.format_log2(slots, "age (ms)") if items is None else \
        _containers.format_sections(items, lambda h: h.slots, "age (ms)")
    return "\nRead-ahead unused pages: %d\nHistogram of read-ahead used page age (ms):\n\n%s" % (
        unused, hists)


JSON = _jsonl.Histograms("one object every -d seconds and at Ctrl-C: the age of read-ahead "
                         "pages when first used", ["msecs"], keys=[_containers.KEY], fields=[
    _jsonl.Field("unused_pages", "integer", "read-ahead pages never used")])


def _function(hook: str) -> str:
    func = next((f for f in TARGETS[hook] if features.kernel_function_exists(f)), None)
    if func is None:
        raise corebpf.MissingFeature(f"{PROG}: none of {', '.join(TARGETS[hook])} "
                                     "in this kernel")
    return func


def choose_programs(obj):
    """Before load: the fentry variant's functions, where fentry may serve
    (its fexit programs need bpf_get_func_ret, 5.17)."""
    if features.fentry() and features.forced_probe() in (None, "fentry"):
        fentry = [p for p in obj.programs.values() if p.variant == "fentry"]
        if not features.bpf_helper("get_func_ret") or \
                not all([_cli.fentry_target(p, _function(p.hook)) for p in fentry]):
            for p in fentry:            # all four or none: kprobes then
                p.autoload = False


def run(argv=None):
    a = parse(argv)
    _cli.setup(a)
    with corebpf.Object.open(PROG) as obj:
        choose_programs(obj)
        if a.containers:
            _containers.apply(obj, a)
            obj.maps["dist"].resize(CONTAINER_HISTS, "--containers")
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        if obj.variant == "kprobe":
            for p in obj.programs.values():
                if p.autoload:
                    p.attach_kprobe(_function(p.hook), retprobe=p.section == "kretprobe")
        else:
            obj.attach()
        _jsonl.status(a, "Tracing... Hit Ctrl-C to end.")
        base_pages = 0
        while True:
            stop = _cli.wait_stop(a.duration)
            pages, items = obj.bss.pages, obj.maps["dist"].pop_items()     # bcc clears both
            unused = pages - base_pages
            if a.containers and a.json:
                JSON.write("msecs", [({"container": full}, slots) for full, _, slots in
                                     _containers.sections(items, lambda h: h.slots)],
                           unused_pages=unused)
            elif a.containers:
                print(stats(unused, None, items), end="", flush=True)
            else:
                delta = list(items[0][1].slots) if items else [0] * histogram.LOG2_SLOTS
                if a.json:
                    JSON.write("msecs", [({}, delta)], unused_pages=unused)
                else:
                    print(stats(unused, delta), end="", flush=True)
            base_pages = pages
            if stop:
                break
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
