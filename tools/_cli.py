"""What every corebpf tool shares: argument parsing, the run wrapper
(errors as one line, Ctrl-C/SIGTERM as a clean exit, quiet `| head`),
buffered event output and the interval/count loop of summary tools.
"""
from __future__ import annotations

import argparse
import errno
import os
import sys
import time

# not `signal`: it imports enum's conversion of every signal, handler and mask
# constant (~0.4 ms of every start); these calls take and give plain ints
import _signal as signal

from corebpf.core import _log, untrusted
from corebpf.core._libbpf import LibbpfUnavailable
from corebpf.core.features import PROBE_KINDS
from corebpf import BPFError

FOREVER = 99999999

# argparse looks up its own few strings ("options", "show this help message
# and exit", ...) in gettext's catalogs, three times per parser: the first
# lookup imports `locale` and searches the locale directories for every
# language of $LANGUAGE/$LC_ALL/$LC_MESSAGES/$LANG (0.9 ms of every tool's
# start with LANG=C.UTF-8, 2.3 ms with en_US.UTF-8).  No catalog holds them
# (Python ships none for argparse's domain) and every other word of the
# tools' help and errors is English: they are used as they are.
argparse._ = lambda message: message
argparse.ngettext = lambda singular, plural, n: singular if n == 1 else plural


class UsageError(Exception):
    """Bad input found after parsing; printed as `NAME: error: ...`, exit 2."""


class ParserCaptured(BaseException):
    """Raised by Parser.parse_args() while Parser.capture is on: the parser."""

    def __init__(self, parser):
        super().__init__(parser.prog)
        self.parser = parser


def _columns() -> int:
    """The terminal's width as shutil.get_terminal_size() finds it ($COLUMNS,
    stdout's terminal, else 80), without importing shutil."""
    try:
        c = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        c = 0
    if c <= 0:
        try:
            c = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):
            c = 0
    return c or 80


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """argparse's formatter, its width found without shutil: argparse makes
    one for every add_argument(), and shutil (with bz2 and lzma) was ~2.5 ms
    of every tool's start."""

    def __init__(self, prog, indent_increment=2, max_help_position=24, width=None):
        super().__init__(prog, indent_increment, max_help_position,
                         _columns() - 2 if width is None else width)


class Parser(argparse.ArgumentParser):
    """argparse with bcc's layout (examples as epilog) and one-line errors."""

    # The man page generator (scripts/manpages.py) turns this on and runs a
    # tool: the parser the tool builds is handed over instead of parsing,
    # so each page documents exactly the options the tool accepts.
    capture = False

    def __init__(self, prog: str, doc: str, short_verbose: bool = True,
                 verbose: bool = True, **kw):
        """libbpf's log is --libbpf-log in every tool (also COREBPF_DEBUG=1),
        and -v/--verbose too where bcc gives them no meaning of their own:
        short_verbose=False where bcc gives -v one (--verbose stays libbpf's),
        verbose=False where bcc gives --verbose one too."""
        desc, _, examples = (doc or "").strip().partition("\n\n")
        super().__init__(prog=prog, description=desc.strip(),
                         epilog=examples.strip("\n") or None,
                         formatter_class=_Formatter, **kw)
        names = ("--libbpf-log",)
        if verbose:
            names = (("-v", "--verbose") if short_verbose else ("--verbose",)) + names
        self.add_argument(*names, dest="verbose", action="store_true",
                          help="show libbpf's log (also: COREBPF_DEBUG=1)")
        self.add_argument("--probe", metavar="KIND", choices=PROBE_KINDS,
                          help="debug: force the probe kind (tp_btf, raw_tp, tracepoint, "
                               "fentry, kprobe) where the tool has one")
        self.add_argument("--btf", metavar="PATH",
                          help="the running kernel's BTF from this file, for kernels "
                               "without /sys/kernel/btf/vmlinux (as COREBPF_BTF)")
        self.add_argument("--ebpf", action="store_true", help=argparse.SUPPRESS)

    def parse_known_args(self, args=None, namespace=None):
        if Parser.capture:
            raise ParserCaptured(self)
        return super().parse_known_args(args, namespace)

    def error(self, message):
        sys.stderr.write(f"{self.prog}: error: {one_line(message)}\n")
        sys.exit(2)


def one_line(message) -> str:
    """An error message as one line: line breaks and other control characters
    from the user's own text (an argument, a probe spec, a file name) are
    shown escaped."""
    return untrusted.escape(str(message))


# -- numbers --------------------------------------------------------------------------
#
# Every numeric option is range-checked when it is parsed, against what it
# fills: a BPF field (u8..u64, pid_t; scaled where the tool multiplies, ms ->
# ns), a map size, a perf attribute, a Python-side count.  The types carry
# their bounds (.lo, .hi), so the tests generate out-of-range values for every
# numeric option of every tool from the parsers alone
# (tests/reliability/test_bad_input.py, tests/unit/test_cli.py): a tool uses
# these types (or its own with .lo/.hi), never bare int or float.

PID_MAX_LIMIT = 4194304     # the largest pid_max the kernel allows (64-bit)


class Number:
    """argparse type: an integer in [lo, hi].  lo/hi may be callables, read
    when a value is parsed (the number of CPUs, a sysctl); `noun` names the
    value in messages (`outside`: the message for a value out of range, with
    {text}, {lo}, {hi}); `check(value, text)` adds a test (a PID that exists)."""

    def __init__(self, lo, hi, name: str = "integer", noun: str = None, check=None,
                 outside: str = None):
        self._lo, self._hi = lo, hi
        self.__name__ = name
        self.noun = noun
        self.check = check
        self.outside = outside

    @property
    def lo(self) -> int:
        return self._lo() if callable(self._lo) else self._lo

    @property
    def hi(self) -> int:
        return self._hi() if callable(self._hi) else self._hi

    def __call__(self, text: str) -> int:
        try:
            v = int(text)
        except (TypeError, ValueError):
            what = self.noun or "integer"
            raise argparse.ArgumentTypeError(f"invalid {what}: {text!r}") from None
        lo, hi = self.lo, self.hi
        if not lo <= v <= hi:
            if self.outside:
                msg = self.outside.format(text=text, lo=lo, hi=hi)
            elif self.noun:
                msg = f"{self.noun} out of range: {text} ({lo}..{hi})"
            elif v > hi:
                msg = f"too large: {text} (at most {hi})"
            elif lo == 1:
                msg = f"must be positive: {text}"
            else:
                msg = f"out of range: {text} ({lo}..{hi})"
            raise argparse.ArgumentTypeError(msg)
        return self.check(v, text) if self.check else v

    def __repr__(self):
        return f"<{self.__name__} {self._lo}..{self._hi}>"


def unsigned(bits: int, scale: int = 1, lo: int = 0, name: str = None) -> Number:
    """An unsigned BPF field of `bits` bits, filled with value * scale."""
    return Number(lo, ((1 << bits) - 1) // scale, name or f"u{bits}")


def signed(bits: int, scale: int = 1, lo: int = None, name: str = None) -> Number:
    """A signed BPF field of `bits` bits, filled with value * scale."""
    top = (1 << (bits - 1)) - 1
    return Number(-((top + 1) // scale) if lo is None else lo, top // scale, name or f"s{bits}")


# Python-side counts and seconds (and small sizes): 31 bits is plenty
positive_int = Number(1, 2**31 - 1, "positive_int")
nonneg_int = Number(0, 2**31 - 1, "nonneg_int")


def possible_cpus() -> int:
    """CPUs this machine can have (/sys/devices/system/cpu/possible), read
    without loading libbpf (argument parsing needs it)."""
    try:
        with open("/sys/devices/system/cpu/possible") as f:
            return max(int(p.rpartition("-")[2]) for p in f.read().strip().split(",")) + 1
    except (OSError, ValueError):
        return os.cpu_count() or 1


def _exists(kind: str):
    def check(v, text):
        if not os.path.exists(f"/proc/{v}"):
            raise argparse.ArgumentTypeError(f"no such {kind}: {text}")
        return v
    return check


# a CPU number (s32/u32 targ_cpu, a perf event's cpu): one this machine can have
cpu_type = Number(0, lambda: possible_cpus() - 1, "cpu",
                  outside="CPU {text} is not online (this machine's are {lo}..{hi})")
# a PID or TID that need not exist (a filter on a signal's target, say)
pid_number = Number(1, PID_MAX_LIMIT, "pid_number", noun="PID")
pid_type = Number(1, PID_MAX_LIMIT, "pid_type", noun="PID", check=_exists("process"),
                  outside="no such process: {text} (PIDs are {lo}..{hi})")
pid_type.__doc__ = "A PID that exists now."
tid_type = Number(1, PID_MAX_LIMIT, "tid_type", noun="TID", check=_exists("thread"),
                  outside="no such thread: {text} (TIDs are {lo}..{hi})")
tid_type.__doc__ = "A thread ID that exists now."


def uid_type(text: str) -> int:
    """A numeric UID or a user name."""
    if text.isdigit():
        v = int(text)
        if not 0 <= v <= uid_type.hi:
            raise argparse.ArgumentTypeError(f"invalid UID: {text} (0..{uid_type.hi})")
        return v
    import pwd
    try:
        return pwd.getpwnam(text).pw_uid
    except KeyError:
        raise argparse.ArgumentTypeError(f"no such user: {text!r}") from None


uid_type.lo, uid_type.hi = 0, 2**32 - 2       # u32; (uid_t)-1 means "no filter"


def interval_count(parser: Parser, interval_default=FOREVER, count_default=FOREVER):
    """bcc's optional `interval` and `count` positionals."""
    parser.add_argument("interval", nargs="?", default=interval_default, type=positive_int,
                        help="output interval, in seconds")
    parser.add_argument("count", nargs="?", default=count_default, type=positive_int,
                        help="number of outputs")


# -- privileges ---------------------------------------------------------------------

def check_privileges():
    """Raise unless we can load BPF programs: CAP_SYS_ADMIN, or CAP_BPF with
    CAP_PERFMON (what root has, unless a container took them away).  What
    else a probe kind needs (tracefs access, CAP_SYS_ADMIN for uprobes) is
    said where it is refused (corebpf.core.features, "capabilities")."""
    from corebpf.core import privileges as F
    root = os.geteuid() == 0
    eff = F.effective_caps()
    if eff is None:
        if root:
            return          # no /proc: let the kernel decide
        eff = 0
    if eff >> F.CAP_SYS_ADMIN & 1 or (eff >> F.CAP_BPF & 1 and eff >> F.CAP_PERFMON & 1):
        return
    if not root:
        raise UsageError("must run as root (or with CAP_BPF and CAP_PERFMON)")
    raise BPFError(errno.EPERM, "bpf", hint="this root has neither CAP_SYS_ADMIN nor "
                                            "CAP_BPF with CAP_PERFMON")


# -- running ------------------------------------------------------------------------

def _sigterm(signum, frame):
    raise KeyboardInterrupt


def run(prog: str, body, argv=None) -> int:
    """Run body(argv) as tool `prog`: the one place errors become exit codes.

    BPFError and UsageError -> `prog: error: ...` on stderr, exit 1 (2 for
    usage); KeyboardInterrupt (Ctrl-C, SIGTERM, SIGHUP) -> exit 0 (the body
    prints its summary first); a closed stdout (`| head`) -> quiet exit 0.
    """
    signal.signal(signal.SIGTERM, _sigterm)
    signal.signal(signal.SIGHUP, _sigterm)
    # Everything the tool prints goes through SafeStreams: text other users
    # chose (file names, comms, arguments, symbols) cannot drive the terminal.
    saved = sys.stdout, sys.stderr
    if not isinstance(sys.stdout, untrusted.SafeStream):
        sys.stdout = untrusted.SafeStream(sys.stdout)
    if not isinstance(sys.stderr, untrusted.SafeStream):
        sys.stderr = untrusted.SafeStream(sys.stderr)
    try:
        return _run(prog, body, argv)
    finally:
        sys.stdout, sys.stderr = saved


def _run(prog: str, body, argv) -> int:
    try:
        return body(argv) or 0
    except KeyboardInterrupt:
        _flush_quietly()
        from corebpf.core.object import load_in_progress
        if load_in_progress():      # Ctrl-C while the kernel filled large maps: end now
            try:
                sys.stderr.flush()
            finally:
                os._exit(0)
        return 0
    except BrokenPipeError:
        _silence_stdout()
        return 0
    except UsageError as e:
        _flush_quietly()
        sys.stderr.write(f"{prog}: error: {one_line(e)}\n")
        return 2
    except BPFError as e:
        _flush_quietly()
        sys.stderr.write(f"{prog}: error: {one_line(e)}\n")
        if isinstance(e, BPFError) and e.log and _log.verbose():
            sys.stderr.write(e.log_tail(40) + "\n")
        return 1
    except LibbpfUnavailable as e:      # raised where a tool calls libbpf first
        _flush_quietly()
        sys.stderr.write(f"{prog}: error: {one_line(e)}\n")
        return 1


def _flush_quietly():
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
    except (OSError, ValueError):
        pass


def _silence_stdout():
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


# -- stop signals ---------------------------------------------------------------------
#
# From setup() on, Ctrl-C, SIGTERM and SIGHUP are held (blocked and queued),
# not raised as KeyboardInterrupt at whatever line happens to run: the tool's
# loop asks for them with wait_stop()/stop_requested().  So a signal that
# lands while the header is being printed, or between two polls, can never
# skip the summary or leave half-written output; a Ctrl-C during load is
# acted on as soon as the tool is attached.

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def hold_stop_signals():
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)


def release_stop_signals():
    """Unblock them (children forked by a tool call this before exec)."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)


def wait_stop(timeout: float) -> bool:
    """Sleep up to `timeout` seconds; True (the signal consumed) if a stop
    signal arrived.  Use instead of time.sleep() in a tool's loop."""
    if timeout is None:
        timeout = FOREVER
    timeout = max(0.0, float(timeout))
    try:
        return signal.sigtimedwait(STOP_SIGNALS, min(timeout, 2**31 / 1000)) is not None
    except InterruptedError:
        return False


_STOP_FD = None


def _stop_fd() -> int:
    """A signalfd readable while a stop signal is held (-1: none); one per process."""
    global _STOP_FD
    if _STOP_FD is None:
        from corebpf.core.events import signal_fd
        _STOP_FD = signal_fd(STOP_SIGNALS)
    return _STOP_FD


def poll_or_stop(buf, timeout_ms: int) -> int:
    """buf.poll(timeout_ms), except that the wait ends as soon as a stop signal
    arrives: they are held, so they cannot interrupt the buffer's epoll, and a
    Ctrl-C would otherwise wait out the poll's timeout (100-500 ms) before the
    tool starts to exit.  Buffers without a fileno poll as before."""
    fd = getattr(buf, "fileno", None)
    sfd = _stop_fd() if fd is not None else -1
    if sfd < 0:
        return buf.poll(timeout_ms)
    p = _POLLERS.get(fd)
    if p is None:                       # one poll set per buffer, not one per wait
        import select
        p = _POLLERS[fd] = select.poll()
        p.register(fd, select.POLLIN)
        p.register(sfd, select.POLLIN)
    p.poll(timeout_ms)
    return buf.poll(0)


_POLLERS = {}       # buffer fd -> its poll set with the stop signals' fd


def stop_requested() -> bool:
    """True (consumed) if a stop signal is pending; never waits."""
    return wait_stop(0)


_JSON_RUN = [False]      # this run prints --json (setup): dumps go to stderr


def json_run() -> bool:
    """True if this run writes --json (stdout is JSON only: --ebpf and debug
    dumps go to stderr)."""
    return _JSON_RUN[0]


def setup(args=None):
    """Apply the shared options (--verbose, --probe); check privileges; hold
    stop signals (see above) for the rest of the run.  args: the parsed
    namespace (None: a tool without the shared options, e.g. one with
    bcc's positional command line)."""
    _JSON_RUN[0] = bool(getattr(args, "json", False))
    if getattr(args, "verbose", False):
        _log.set_verbose(True)
    if getattr(args, "probe", None):
        os.environ["COREBPF_PROBE"] = args.probe
    from corebpf.core import paths
    if paths.unsupported():
        # before anything is tried: every object and generated program is per-architecture
        from corebpf import MissingFeature
        raise MissingFeature(paths.unsupported())
    if getattr(args, "btf", None):
        why = btf_file_problem(args.btf)
        if why:
            raise UsageError(f"--btf {args.btf}: {why}")
        os.environ["COREBPF_BTF"] = args.btf
    if os.environ.get("COREBPF_PROBE", "").strip():
        from corebpf.core import features
        from corebpf.core.errors import ConfigError
        try:
            features.forced_probe()             # a kind, or (tests) a variant's name
        except ConfigError as e:                # as argparse says it for --probe
            raise UsageError(str(e)) from None
        features.require_forced_probe()         # a kind/variant this tool lacks: one line
    check_privileges()
    btf = os.environ.get("COREBPF_BTF")
    if btf:
        # said at once, also by tools whose probes need no kernel BTF
        from corebpf.core import features
        why = features.btf_problem(btf)
        if why:
            from corebpf import MissingFeature
            raise MissingFeature(f"kernel BTF COREBPF_BTF={btf}: {why}")
    hold_stop_signals()


def btf_file_problem(path: str):
    """Why `path` cannot be a kernel BTF file, or None: it must be readable and
    start like BTF (raw BTF, as /sys/kernel/btf/vmlinux and `bpftool gen
    min_core_btf` write it, or an ELF file such as a vmlinux with .BTF)."""
    from corebpf.core import features
    return features.btf_problem(path)   # no FIFO, device or directory either


def print_ebpf(obj, json: bool = None):
    """--ebpf: show what would be loaded, without loading: the probe variant
    chosen for this kernel, each program's section and instructions (as
    compiled: CO-RE relocations are applied at load), and the settings.
    json: on stderr (--json: stdout stays JSON only; default: json_run())."""
    from corebpf.compiler import bpfasm
    out = sys.stderr if (json_run() if json is None else json) else sys.stdout
    variant = obj.select()
    print(f"object: {obj.path}", file=out)
    if variant:
        print(f"variant: {variant}", file=out)
    for p in obj.programs.values():
        if not p.autoload:
            print(f"program {p.name}: {p.section} (not loaded)", file=out)
            continue
        print(f"program {p.name}: {p.section}", file=out)
        print(bpfasm.disasm([bpfasm.Insn(*i) for i in p.insns()]), file=out)
    for name in obj.rodata.names():
        print(f"rodata {name} = {obj.rodata[name]!r}", file=out)
    out.flush()


# -- output -------------------------------------------------------------------------

text = untrusted.text       # bytes another user chose -> text safe on a terminal
escape = untrusted.escape   # the same for str (newline and tab escaped too)


def proc_comm(pid: int):
    """/proc/PID/comm as safe text (a comm is any 15 bytes its process chose),
    or None if the process is gone."""
    try:
        with open(f"/proc/{pid}/comm", "rb") as f:
            return text(f.read().rstrip(b"\n"))
    except OSError:
        return None


class Output:
    """Lines collected during one poll and written at once (a write per batch,
    not per event; at most MAX_BATCH lines held), flushed so a pipe sees
    them promptly."""

    MAX_BATCH = 4096

    def __init__(self, stream=None, json: bool = False):
        """json=True: --json mode (losses also become {"lost": N} lines;
        obj() writes a dict as one JSON line, tools/_jsonl.py)."""
        self.stream = stream or sys.stdout
        self.lines = []
        self.json = json

    def __call__(self, line: str):
        self.lines.append(line)
        if len(self.lines) >= self.MAX_BATCH:
            self.flush()

    def obj(self, d: dict):
        """One JSON Lines object (--json)."""
        from ._jsonl import dumps
        self(dumps(d))

    def lost(self, n: int):
        """Lost records: bcc's line on stderr; in --json mode also {"lost": N}."""
        if n > 0:
            if self.json:
                self.obj({"lost": n})
                self.flush()
            report_lost(n)

    def flush(self):
        if self.lines:
            # take the batch before writing: a Ctrl-C arriving mid-write must
            # not leave it queued to be written again by the final flush
            batch, self.lines = self.lines, []
            batch.append("")
            self.stream.write("\n".join(batch))
        self.stream.flush()


def report_lost(n: int):
    """bcc's message for lost records (on stderr)."""
    if n > 0:
        sys.stderr.write(f"Possibly lost {n} samples\n")
        sys.stderr.flush()


def _lost(out, n: int):
    """Report n lost records through `out` (an Output: JSON too), or on
    stderr for a tool's own writer (ttysnoop's)."""
    if isinstance(out, Output):
        out.lost(n)
    else:
        report_lost(n)


def drain(buf, out: Output, seconds: float = 5.0):
    """After Ctrl-C: deliver the backlog of `buf` (consume() gives one batch
    of at most BATCH records; a consumer behind a storm has many), for at
    most `seconds` while producers may still be adding to it."""
    end = time.monotonic() + seconds
    while True:
        n = buf.consume()
        out.flush()
        if n < getattr(buf, "BATCH", 1 << 62) or time.monotonic() > end:
            return


def event_loop(buf, out: Output, duration: float = None, timeout_ms: int = 100,
               stop=None):
    """Poll `buf` and flush `out` until Ctrl-C, `duration` seconds, or stop();
    return True if a stop signal (Ctrl-C, SIGTERM, SIGHUP) ended it."""
    deadline = time.monotonic() + duration if duration else None
    while True:
        poll_or_stop(buf, timeout_ms)
        out.flush()
        _lost(out, buf.lost_since_last())
        if stop_requested():
            drain(buf, out)         # what arrived before the Ctrl-C is shown
            _lost(out, buf.lost_since_last())
            return True
        if deadline is not None and time.monotonic() >= deadline:
            return False
        if stop is not None and stop():
            return False


def trace_events(obj, header: str, fmt, duration: float = None, map_name: str = "events",
                 json=None):
    """The loop of an event tool, once attached: print `header` (its first
    line says "attached"), then what fmt(record) returns for each record of
    ring buffer `map_name` (a line, a list of lines, or None for nothing)
    until Ctrl-C or `duration` seconds.  json: fmt(record) for --json
    instead (a dict, its JSON text, a list of these, or None): records decode raw, the header
    goes to stderr (tools/_jsonl.py)."""
    out = Output(json=json is not None)

    def show(e):
        if json is not None:
            d = json(e)             # a dict, or its JSON text (_jsonl.Events.line)
            for x in d if isinstance(d, list) else (d,):     # or a list of them
                if isinstance(x, str):
                    out(x)
                elif x is not None:
                    out.obj(x)
            return
        text = fmt(e)
        if isinstance(text, list):
            for line in text:
                out(line)
        elif text is not None:
            out(text)

    rb = obj.ring_buffer(map_name, show, raw_text=json is not None)
    if json is not None:
        from ._jsonl import header as json_header
        json_header(header)
    else:
        print(header, flush=True)
    try:
        event_loop(rb, out, duration=duration)
    finally:
        out.flush()


def interval_loop(interval: int, count: int, emit, wait=None):
    """Call emit() every `interval` seconds, `count` times; on Ctrl-C emit once
    more and return (bcc's summary tools).  wait: what waits (default
    wait_stop; a heat map recorder's reads its map meanwhile)."""
    remaining = count
    wait = wait or wait_stop
    while True:
        if wait(interval):
            emit()
            return
        emit()
        remaining -= 1
        if remaining == 0:
            return


# -- stack tools ----------------------------------------------------------------------

def number_list(item: Number, name: str):
    """argparse type: comma-separated values of type `item` (bounds: item's)."""
    def parse(text: str) -> list:
        ids = [item(part.strip()) for part in text.split(",")]
        if not ids:
            raise argparse.ArgumentTypeError(f"no {item.noun or 'value'} given")
        return ids
    parse.__name__ = name
    parse.lo, parse.hi, parse.check = item.lo, item.hi, item.check
    return parse


pid_list = number_list(pid_type, "pid_list")    # PIDs that exist now (bcc: -p 1,2)
tid_list = number_list(tid_type, "tid_list")    # thread IDs that exist now (bcc: -t/-L 1,2)


def duration_arg(parser: Parser):
    """bcc's optional `duration` positional (seconds; default: until Ctrl-C)."""
    parser.add_argument("duration", nargs="?", default=FOREVER, type=positive_int,
                        help="duration of trace, in seconds")


def sleep_until_done(duration: int, buf=None) -> bool:
    """Sleep `duration` seconds or until Ctrl-C/SIGTERM, polling event buffer
    `buf` meanwhile if given; return True if interrupted.  Further Ctrl-C are
    ignored afterwards, so the report that follows is printed in full (as
    bcc's stack tools do)."""
    deadline = time.monotonic() + duration
    interrupted = False
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        if buf is None:
            if wait_stop(left):
                interrupted = True
                break
        else:
            poll_or_stop(buf, int(min(left, 0.5) * 1000) + 1)
            if stop_requested():
                interrupted = True
                break
    # stop signals stay held: further Ctrl-C cannot cut the report short
    return interrupted
# -- helpers added for the file and syscall tools ---------------------------------------

def drop_missing_syscalls(obj):
    """Before load: turn off programs on syscalls this kernel does not have
    (a `syscalls:sys_enter_X` tracepoint that is absent, an X that has no
    syscall function for ksyscall), so one object serves every architecture."""
    from corebpf import features
    kp = None
    for p in obj.programs.values():
        sec = p.section
        if sec.startswith("tracepoint/syscalls/"):
            if not features.tracepoint_exists("syscalls", sec.rsplit("/", 1)[1]):
                p.autoload = False
        elif sec.startswith(("ksyscall/", "kretsyscall/")):
            if kp is None:
                kp = features.kprobes()
            if not kp:
                continue            # the variant cannot be chosen here anyway
            name = sec.split("/", 1)[1]
            if not any(features.kernel_function_exists(pre + name)
                       for pre in ("__x64_sys_", "__arm64_sys_", "__se_sys_", "sys_")):
                p.autoload = False


def fill_syscall_actions(obj, actions: dict, map_name: str = "sc_action") -> bool:
    """After load: the raw_syscalls variant's table (corebpf.sysactions.fill)."""
    from corebpf import sysactions
    return sysactions.fill(obj, actions, map_name)


def spawn_paused(cmd, prog: str):
    """Fork a child that execs cmd once released; return (pid, release), where
    release() lets it run (bcc's --exec: trace a command from its first syscall)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        release_stop_signals()
        os.close(w)
        os.read(r, 1)
        os.close(r)
        try:
            os.execvp(cmd[0], cmd)
        except OSError as e:
            sys.stderr.write(f"{prog}: error: cannot run {cmd[0]}: {e.strerror}\n")
            os._exit(127)
    os.close(r)

    def release():
        os.write(w, b"x")
        os.close(w)
    return pid, release


# -- containers (bcc's --cgroupmap / --mntnsmap) -------------------------------------

def container_args(parser):
    """bcc's --cgroupmap and --mntnsmap (objects including containers.bpf.h)."""
    parser.add_argument("--cgroupmap", metavar="MAP",
                        help="trace only cgroups whose id is a key of this pinned BPF map")
    parser.add_argument("--mntnsmap", metavar="MAP",
                        help="trace only mount namespaces whose id is a key of this "
                             "pinned BPF map")


def apply_containers(obj, args):
    """Before load: share the pinned maps named by --cgroupmap/--mntnsmap."""
    for opt, mapname, flag in (("cgroupmap", "cgroup_set", "filter_cgroup"),
                               ("mntnsmap", "mntns_set", "filter_mntns")):
        path = getattr(args, opt, None)
        if not path:
            continue
        if not os.path.exists(path):
            raise UsageError(f"--{opt}: no pinned map at {path}")
        obj.maps[mapname].reuse_pinned(path)
        obj.rodata[flag] = True


def kernel_dev(st_dev: int) -> int:
    """A stat() st_dev as the kernel's dev_t (major << 20 | minor), as
    superblocks and block tracepoints carry it."""
    return (os.major(st_dev) << 20) | os.minor(st_dev)


# -- top-like screens -----------------------------------------------------------------

CLEAR = "\033[H\033[2J"     # what clear(1) writes on common terminals


def clear_screen(stream=None):
    """What bcc's top tools get from running `clear`: home + erase the screen
    (a control sequence the tool means: written past the escaping)."""
    untrusted.write_control(stream or sys.stdout, CLEAR)


def loadavg() -> str:
    """/proc/loadavg's line, without its newline ("" if unreadable)."""
    try:
        with open("/proc/loadavg") as f:
            return f.read().rstrip("\n")
    except OSError:
        return ""


def loadavg_line() -> str:
    """bcc's top-tool summary line; the file's own newline leaves a blank line."""
    return "%-8s loadavg: %s\n" % (time.strftime("%H:%M:%S"), loadavg())


def top_loop(interval: int, count: int, noclear: bool, first_line: str, screen, json=None):
    """bcc's top-like tools (filetop, slabratetop, dirtop, cachetop): print
    `first_line`, then every `interval` seconds, `count` times, clear the
    screen (a blank line instead with -C) and write screen(); a Ctrl-C shows
    one more screen; "Detaching..." at the end.  json: --json instead, the
    interval's object (a dict) from json(), the status lines on stderr."""
    from ._jsonl import dumps
    out = sys.stderr if json else sys.stdout

    def say(text):
        out.write(text + "\n")
        out.flush()
    exiting = interrupted(lambda: say(first_line))
    remaining = count
    while True:
        exiting = exiting or wait_stop(interval)
        if json:
            sys.stdout.write(dumps(json()) + "\n")
        else:
            if noclear:
                sys.stdout.write("\n")
            else:
                clear_screen()
            sys.stdout.write(screen())
        sys.stdout.flush()
        remaining -= 1
        if exiting or remaining == 0:
            break
    say("Detaching...")


def interrupted(fn) -> bool:
    """Run fn(); True if Ctrl-C (or SIGTERM) arrived meanwhile.  Summary tools
    wrap their header and their sleep in it, so a Ctrl-C at any point after
    attaching still prints the last interval."""
    try:
        fn()
    except KeyboardInterrupt:
        return True
    return stop_requested()
# -- kernel function probes ---------------------------------------------------------

def kernel_function(candidates):
    """The first kernel text symbol matching one of `candidates` (each a regular
    expression matched against the whole name, e.g. r"finish_task_switch(\\.isra\\.\\d+)?"),
    or None.  Compilers rename static functions (.isra.0, .constprop.0)."""
    from corebpf import features
    for c in candidates:
        name = features.kernel_function_matching(c)
        if name:
            return name
    return None


def attach_kprobe_any(prog, candidates, retprobe: bool = False):
    """Attach kprobe program `prog` to the first function of `candidates` that
    this kernel has (see kernel_function); MissingFeature if none."""
    from corebpf import MissingFeature
    name = kernel_function(candidates)
    if name is None:
        raise MissingFeature("no kernel function to probe for " + prog.name + " (looked for "
                             + ", ".join(c.replace("\\", "") for c in candidates) + ")")
    return prog.attach_kprobe(name, retprobe=retprobe)


def fentry_target(prog, func: str) -> bool:
    """Before load: point bare SEC("fentry"/"fexit") program `prog` at kernel
    function `func`; if the kernel's BTF cannot give it (a module without
    BTF, a function BTF lacks), turn the program off so that the next
    variant serves instead.  Call only where features.fentry()."""
    try:
        prog.set_attach_target(func)
        return True
    except BPFError:
        prog.autoload = False
        return False


def wait_for_interrupt():
    """Wait until Ctrl-C (or SIGTERM/SIGHUP) arrives (bcc's count-and-print-at-exit
    modes); stop signals are held since setup(), see wait_stop()."""
    while not wait_stop(FOREVER):
        pass


# -- text from other users ---------------------------------------------------------

def printable(text: str, keep: str = "\n\t") -> str:
    """Text from other users (TLS payloads, command lines, thread names)
    with control characters shown as \\xNN (keep="\\n\\t": newline and tab
    kept, as the SafeStream writes them; keep="": one line, `escape`)."""
    if keep == "":
        return untrusted.escape(text)
    if keep == "\n\t":
        return untrusted.escape_output(text)
    raise ValueError(f"printable: keep={keep!r}")
