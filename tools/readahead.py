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

from . import _cli, _jsonl

PROG = "readahead"
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
    return p.parse_args(argv)


def stats(unused: int, slots) -> str:
    return "\nRead-ahead unused pages: %d\nHistogram of read-ahead used page age (ms):\n\n%s" % (
        unused, histogram.format_log2(slots, "age (ms)"))


JSON = _jsonl.Histograms("one object every -d seconds and at Ctrl-C: the age of read-ahead "
                         "pages when first used", ["msecs"], fields=[
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
        base_pages, base_slots = 0, [0] * histogram.LOG2_SLOTS
        while True:
            stop = _cli.wait_stop(a.duration)
            pages, slots = obj.bss.pages, list(obj.maps["dist"][0].slots)
            delta = [s - b for s, b in zip(slots, base_slots)]
            if a.json:
                JSON.write("msecs", [({}, delta)], unused_pages=pages - base_pages)
            else:
                print(stats(pages - base_pages, delta), end="", flush=True)
            base_pages, base_slots = pages, slots           # bcc clears both
            if stop:
                break
    return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
