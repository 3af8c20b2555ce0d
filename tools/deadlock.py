"""Detect potential deadlocks (lock order inversions) in a running process.
Uprobes on the mutex lock and unlock functions build the mutex wait graph
(an edge A => B: a thread locked B while holding A); a cycle in it is a
potential deadlock, printed with the stacks where each mutex was taken and
where the threads were created, after which deadlock exits (status 1, as
bcc).  Recursive and shared (read-write) mutexes are not understood.

examples:
    deadlock 181                 # Analyze PID 181

    deadlock 181 --binary /lib/x86_64-linux-gnu/libpthread.so.0
                                 # Analyze PID 181 and locks from this binary
                                 # (default: the executable if it has the lock
                                 # functions, else the library of the process
                                 # that does, such as libc.so.6).

    deadlock 181 --verbose
                                 # Analyze PID 181 and print statistics about
                                 # the mutex wait graph.

    deadlock 181 --lock-symbols my_mutex_lock1,my_mutex_lock2 \\
        --unlock-symbols my_mutex_unlock1,my_mutex_unlock2
                                 # Analyze PID 181 and trace custom mutex
                                 # symbols instead of pthread mutexes.

    deadlock 181 --dump-graph graph.json
                                 # Analyze PID 181 and dump the mutex wait
                                 # graph to graph.json.
"""
from __future__ import annotations

import argparse
import json

import corebpf

from . import _cli, _jsonl

PROG = "deadlock"


def strlist(text: str) -> list:
    names = [s for s in text.strip().split(",") if s]
    if not names:
        raise argparse.ArgumentTypeError("no symbol given")
    return names


def parse(argv=None):
    p = _cli.Parser(PROG, __doc__, verbose=False)
    p.description = ("Detect potential deadlocks (lock inversions) in a running binary.\n"
                     "Must be run as root.")
    p.add_argument("pid", type=_cli.pid_type, help="Pid to trace")
    p.add_argument("--binary", default="",
                   help="If set, trace the mutexes from the binary at this path "
                        "(default: the executable, or the library it uses that has them)")
    p.add_argument("--dump-graph", default="",
                   help="If set, this will dump the mutex graph to the specified file.")
    p.add_argument("--verbose", dest="stats", action="store_true",
                   help="Print statistics about the mutex wait graph.")
    p.add_argument("--lock-symbols", type=strlist, default=["pthread_mutex_lock"],
                   help="Comma-separated list of lock symbols to trace. Default is "
                        "pthread_mutex_lock. These symbols cannot be inlined in the binary.")
    p.add_argument("--unlock-symbols", type=strlist, default=["pthread_mutex_unlock"],
                   help="Comma-separated list of unlock symbols to trace. Default is "
                        "pthread_mutex_unlock. These symbols cannot be inlined in the binary.")
    p.add_argument("-t", "--threads", type=_cli.positive_int, default=65536,
                   help="Specifies the maximum number of threads to trace. default 65536. "
                        "Note. 40 bytes per thread.")
    p.add_argument("-e", "--edges", type=_cli.positive_int, default=65536,
                   help="Specifies the maximum number of edge cases that can be recorded. "
                        "default 65536. Note. 88 bytes per edge case.")
    p.add_argument("-s", "--stacktraces", type=_cli.positive_int, default=65536,
                   help="Specifies the maximum number of stack traces that can be recorded. "
                        "This number is rounded up to the next power of two. default 65536. "
                        "Note. 1 kbytes vmalloced per stack trace.")
    _jsonl.add_args(p)
    return p.parse_args(argv)


F = _jsonl.Field
JSON = _jsonl.Intervals("one object when a potential deadlock is found (then deadlock exits 1): "
                        "the cycle, a row per edge of it", fields=[
    F("mutexes", "integer", "mutexes in the wait graph"),
    F("edges", "integer", "edges in the wait graph"),
    F("cycle", "string[]", "the cycle's mutex addresses, hex, in lock order (the first again "
                           "at the end)"),
], rows=[
    F("mutex", "string", "the mutex acquired, hex address"),
    F("mutex_symbol", "string", "its variable's name ('' if unknown)"),
    F("held", "string", "the mutex held meanwhile, hex address"),
    F("held_symbol", "string", "its variable's name ('' if unknown)"),
    F("tid", "integer", "the thread (bcc's Thread N)"),
    F("comm", "string", "its command name"),
    F("stack", "frame[]", "where it acquired mutex ([] if lost)"),
    F("held_stack", "frame[]", "where it acquired held before ([] if lost)"),
    F("parent_tid", "integer|null", "the thread that created it (null if unknown)"),
    F("parent_comm", "string|null", "that thread's command name"),
    F("created_stack", "frame[]", "where it was created ([] if unknown)"),
])


# -- the graph ------------------------------------------------------------------------

def find_cycle(adjacency: dict) -> list:
    """The first cycle of a directed graph {node: set(successors)} as edges
    [(a1, a2), ..., (an, a1)] (a depth-first search, nodes in sorted order),
    or []."""
    state = {}                      # 1: on the current path, 2: explored
    for start in sorted(adjacency):
        if state.get(start):
            continue
        path = [start]
        state[start] = 1
        succ = [iter(sorted(adjacency.get(start, ())))]
        while succ:
            nxt = next(succ[-1], None)
            if nxt is None:
                succ.pop()
                state[path.pop()] = 2
                continue
            s = state.get(nxt)
            if s == 1:
                cyc = path[path.index(nxt):]
                return list(zip(cyc, cyc[1:] + cyc[:1]))
            if s == 2:
                continue
            state[nxt] = 1
            path.append(nxt)
            succ.append(iter(sorted(adjacency.get(nxt, ()))))
    return []


def node_link_data(adjacency: dict, attrs: dict) -> dict:
    """The graph in networkx's node-link form (bcc's --dump-graph)."""
    data = {"directed": True, "multigraph": False, "graph": {}, "links": [], "nodes": []}
    number = {}
    for node in adjacency:
        number[node] = len(data["nodes"])
        data["nodes"].append({"id": node})
    for node, succ in adjacency.items():
        for other in succ:
            link = dict(attrs[(node, other)])
            link["source"] = number[node]
            link["target"] = number[other]
            data["links"].append(link)
    return data


# -- symbols ----------------------------------------------------------------------------

def mutex_symbol(pid: int, addr: int) -> str:
    """The data symbol (a global or static mutex) at address `addr` of process
    `pid`, or ''.  Found through each mapped file's load bias, so .bss
    variables (no file pages) are found too."""
    from corebpf.symbols.elf import ElfError, open_elf
    lowest = {}
    try:
        with open(f"/proc/{pid}/maps") as f:
            for line in f:
                parts = line.split(None, 5)
                if len(parts) == 6 and parts[5].startswith("/"):
                    start = int(parts[0].split("-")[0], 16)
                    path = parts[5].strip()
                    if int(parts[2], 16) == 0:
                        lowest.setdefault(path, start)
    except OSError:
        return ""
    for path, start in lowest.items():
        try:
            e = open_elf(path)
        except ElfError:
            continue
        loads = [va for t, off, va, _, _ in e.segments if t == 1 and off == 0]
        if not loads:
            continue
        bias = start - (loads[0] & ~0xfff) if e.is_pie_or_shared else 0
        v = addr - bias
        for name, value, size in e.symbols(functions=False):
            if size and value <= v < value + size:
                from corebpf.symbols.elf import demangle
                return demangle(name)
    return ""


def lock_binary(a, symbol: str) -> str:
    """--binary, else the executable if it defines `symbol`, else the first
    library mapped into the process that does (ElfError if none)."""
    from corebpf.user import uprobes
    from corebpf.symbols.elf import ElfError, process_binaries
    if a.binary:
        return a.binary
    for path in process_binaries(a.pid):
        if uprobes.has_function(path, symbol):
            return path
    raise ElfError(f"no binary mapped into process {a.pid} defines {symbol} "
                   "(--binary names the one that does)")


def with_caller(addrs, caller: int, known) -> list:
    """The addresses of a stack taken at a function's entry: its caller (the
    return address) goes second, where the frame-pointer walk has none; a
    walk that loops on a frame it cannot name (known(addr) false: code
    without frame pointers) ends at the first repeat."""
    if caller and addrs and (len(addrs) < 2 or addrs[1] != caller):
        addrs = addrs[:1] + [caller] + addrs[1:]
    out = []
    prev = None
    for addr in addrs:
        if addr == prev and not known(addr):
            break
        out.append(addr)
        prev = addr
    return out


def stack_text(addrs, caller: int, sym) -> list:
    """bcc's `@ ADDRESS symbol` lines of a stack taken at a function's entry
    (with_caller())."""
    return ["@ %016x %s" % (addr, sym(addr))
            for addr in with_caller(addrs, caller, lambda x: sym(x) != "[unknown]")]


def print_cycle(edges, attrs, threads, names, stack_lines):
    """bcc's report of a cycle: the mutexes, where each edge's two mutexes
    were taken, where the threads involved were created."""
    order = [m for m, _ in edges] + [edges[0][0]]
    print("----------------\nPotential Deadlock Detected!\n")
    print("Cycle in lock order graph: %s\n" % " => ".join(names[n] for n in order))
    pids = []
    for m, n in edges:
        e = attrs[(m, n)]
        if e["thread_pid"] not in pids:
            pids.append(e["thread_pid"])
        print("%s acquired here while holding %s in Thread %d (%s):"
              % (names[n], names[m], e["thread_pid"], e["thread_comm"]))
        stack_lines(e["second_mutex_stack_id"], e["second_mutex_caller"])
        print("")
        print("%s previously acquired by the same Thread %d (%s) here:"
              % (names[m], e["thread_pid"], e["thread_comm"]))
        stack_lines(e["first_mutex_stack_id"], e["first_mutex_caller"])
        print("")
    for pid in pids:
        parent = threads.get(pid)
        if parent:
            print("Thread %d created by Thread %d (%s) here: "
                  % (pid, parent.parent_pid, _cli.printable(parent.comm, "")))
            stack_lines(parent.stack_id, parent.caller)
        else:
            print("Could not find stack trace where Thread %d was created" % pid)
        print("")


def json_rows(edges, attrs, threads, pid: int, frames) -> list:
    """--json: a row per edge of the cycle (what print_cycle() prints)."""
    rows, syms = [], {}
    for m, n in edges:
        for x in (m, n):
            if x not in syms:
                syms[x] = mutex_symbol(pid, x)
        e = attrs[(m, n)]
        parent = threads.get(e["thread_pid"])
        rows.append({
            "mutex": hex(n), "mutex_symbol": syms[n], "held": hex(m), "held_symbol": syms[m],
            "tid": e["thread_pid"], "comm": e["thread_comm"],
            "stack": frames(e["second_mutex_stack_id"], e["second_mutex_caller"]),
            "held_stack": frames(e["first_mutex_stack_id"], e["first_mutex_caller"]),
            "parent_tid": parent.parent_pid if parent else None,
            "parent_comm": parent.comm if parent else None,
            "created_stack": frames(parent.stack_id, parent.caller) if parent else []})
    return rows


def run(argv=None):
    a = parse(argv)
    _cli.setup(a)
    from corebpf.user import uprobes
    from corebpf.symbols.stacks import Stacks
    binary = lock_binary(a, a.lock_symbols[0])
    with corebpf.Object.open(PROG) as obj:
        obj.rodata.targ_tgid = a.pid
        obj.maps["thread_to_held_mutexes"].max_entries = a.threads
        obj.maps["edges"].max_entries = a.edges
        obj.maps["stack_traces"].max_entries = a.stacktraces
        if a.ebpf:
            _cli.print_ebpf(obj)
            return 0
        obj.load()
        obj.attach()                # thread creation
        try:
            uprobes.attach(obj.programs["pthread_create_entry"], "c", "pthread_create",
                           pid=a.pid)
        except corebpf.BPFError:
            pass                    # no pthread_create (static binary): clone's stack
        # unlocks first: a lock seen without its unlock would leave a false edge
        for sym in a.unlock_symbols:
            uprobes.attach(obj.programs["mutex_release"], binary, sym, pid=a.pid)
        for sym in a.lock_symbols:
            uprobes.attach(obj.programs["mutex_acquire"], binary, sym, pid=a.pid)
        _jsonl.status(a, "Tracing... Hit Ctrl-C to end.")
        st = Stacks(obj.maps["stack_traces"])
        for name in ("edges", "thread_to_parent"):
            obj.maps[name].raw_text(a.json)      # comm exact for --json

        def addresses(stack_id):
            if stack_id >= 2**31:
                return []               # lost (a negative id)
            try:
                return list(st.addresses(stack_id))
            except corebpf.BPFError:
                return []

        def stack_lines(stack_id, caller=0):
            for line in stack_text(addresses(stack_id), caller,
                                   lambda x: st.syms.sym(x, a.pid)):
                print(line)

        def frames(stack_id, caller=0):
            resolve = st.syms.process(a.pid).resolve
            return _jsonl.frames(with_caller(addresses(stack_id), caller,
                                             lambda x: resolve(x)[0] is not None), resolve)

        while True:
            adjacency, attrs = {}, {}
            for k, e in obj.maps["edges"].items():
                adjacency.setdefault(k.mutex1, set()).add(k.mutex2)
                adjacency.setdefault(k.mutex2, set())
                attrs[(k.mutex1, k.mutex2)] = {
                    "thread_pid": e.thread_pid,
                    "thread_comm": e.comm if a.json else _cli.printable(e.comm, ""),
                    "first_mutex_stack_id": e.mutex1_stack_id,
                    "second_mutex_stack_id": e.mutex2_stack_id,
                    "first_mutex_caller": e.mutex1_caller,
                    "second_mutex_caller": e.mutex2_caller}
            if a.stats:
                _jsonl.status(a, "Mutexes: %d, Edges: %d" % (len(adjacency), len(attrs)))
            if a.dump_graph:
                try:
                    with open(a.dump_graph, "w") as f:
                        f.write(json.dumps(node_link_data(adjacency, attrs), indent=2))
                except OSError as e:
                    raise _cli.UsageError(f"--dump-graph {a.dump_graph}: {e.strerror}") \
                        from None
            cycle = find_cycle(adjacency)
            if cycle:
                # read after the edges: a thread that made an edge was created
                # before it, so its creation is in the map by now (read before
                # them, a thread created and locking in between was missing)
                threads = dict(obj.maps["thread_to_parent"].items())
                if a.json:
                    JSON.write(json_rows(cycle, attrs, threads, a.pid, frames),
                               mutexes=len(adjacency), edges=len(attrs),
                               cycle=[hex(m) for m, _ in cycle] + [hex(cycle[0][0])])
                    return 1
                names = {}
                for i, (m, _) in enumerate(cycle):
                    sym = mutex_symbol(a.pid, m)
                    names[m] = "Mutex M%d (%s0x%016x)" % (i, sym + " " if sym else "", m)
                print_cycle(cycle, attrs, threads, names, stack_lines)
                return 1
            if _cli.wait_stop(1):
                return 0


def main(argv=None) -> int:
    return _cli.run(PROG, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
