"""Serve the tools' in-kernel aggregations as Prometheus metrics on /metrics.

Every collector reuses a tool's compiled BPF object and probe fallbacks;
maps are read when Prometheus scrapes.  A collector this kernel cannot
serve is reported once on stderr and exposed as corebpf_collector_up 0.

examples:
    corebpf-exporter                              # every collector, 127.0.0.1:10095
    corebpf-exporter --listen 0.0.0.0:10095       # reachable from a Prometheus elsewhere
    corebpf-exporter --collectors biolatency,runqlat
    corebpf-exporter --config /etc/corebpf/exporter.toml
    corebpf-exporter --list-collectors

config file (TOML), every key optional:
    collectors = ["biolatency", "runqlat"]
    listen = "0.0.0.0:10095"
    [biolatency]
    per_disk = true         # a `disk` label
    per_op = true           # an `op` label (read, write, flush, discard...)
    container = false       # a `container` label: the I/O's container id (else cgroup path)
    container_top = 0       # > 0: the N biggest containers + "other" (every container option)
    [runqlat]
    container = false       # also on cpudist, ext4dist, vfsstat, tcpretrans, syscount
    [cpudist]
    offcpu = false          # off-CPU instead of on-CPU time
    [syscount]
    latency = false         # also time spent per syscall (one more probe per syscall)
    comm_top = 0            # > 0: counts per task name, the N biggest + "other"
"""
from __future__ import annotations

import argparse
import errno
import os
import signal
import sys
import threading
import time

from . import DEFAULT_LISTEN

PROG = "corebpf-exporter"
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class UsageError(Exception):
    pass


class Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def listen_address(text: str):
    """HOST:PORT, [V6]:PORT or :PORT (every address) -> (host, port)."""
    host, sep, port = text.rpartition(":")
    if not sep:
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        p = int(port, 10)
    except ValueError:
        p = -1
    if not 0 < p < 65536:
        raise argparse.ArgumentTypeError(f"{text!r}: the port must be 1-65535")
    return host, p


def collector_list(text: str) -> list:
    from .collectors import BY_NAME
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError("no collector named")
    for n in names:
        if n not in BY_NAME:
            raise argparse.ArgumentTypeError(
                f"no collector {n!r} (there are: {', '.join(BY_NAME)})")
    return names


def parser() -> Parser:
    """The exporter's options (also read by the man page generator)."""
    doc = __doc__.split("\n\n", 1)
    p = Parser(prog=PROG, description=doc[0], epilog=doc[1],
               formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--collectors", type=collector_list,
                   help="comma-separated collectors (default: all this kernel can serve)")
    p.add_argument("--listen", type=listen_address,
                   help=f"address to serve /metrics on (default {DEFAULT_LISTEN})")
    p.add_argument("--config", metavar="FILE", help="TOML file with per-collector options")
    p.add_argument("--list-collectors", action="store_true",
                   help="print the collectors and their options, then exit")
    p.add_argument("-v", "--verbose", action="store_true", help="print libbpf's log on stderr")
    return p


def parse(argv=None):
    return parser().parse_args(argv)


# -- configuration -------------------------------------------------------------------


def _toml(path: str) -> dict:
    try:
        import tomllib
    except ImportError:             # Python < 3.11
        try:
            import tomli as tomllib
        except ImportError:
            raise UsageError("--config needs Python 3.11+ (tomllib) or the tomli "
                             "package") from None
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"{path}: {e}") from None


def load_config(path: str) -> dict:
    """Read and check the config file: {"collectors": [...], "listen": (h, p),
    "options": {collector: {option: value}}}."""
    from .collectors import BY_NAME
    raw = _toml(path)
    out = {"options": {}}
    for key, value in raw.items():
        if key == "collectors":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise UsageError(f"{path}: collectors must be a list of names")
            try:
                out["collectors"] = collector_list(",".join(value))
            except argparse.ArgumentTypeError as e:
                raise UsageError(f"{path}: {e}") from None
        elif key == "listen":
            if not isinstance(value, str):
                raise UsageError(f"{path}: listen must be a string HOST:PORT")
            try:
                out["listen"] = listen_address(value)
            except argparse.ArgumentTypeError as e:
                raise UsageError(f"{path}: {e}") from None
        elif key in BY_NAME:
            known = BY_NAME[key].options
            if not isinstance(value, dict):
                raise UsageError(f"{path}: [{key}] must be a table")
            for opt, v in value.items():
                if opt not in known:
                    raise UsageError(f"{path}: [{key}] has no option {opt!r}"
                                     + (f" (it has: {', '.join(known)})" if known else ""))
                if type(v) is not type(known[opt]):
                    raise UsageError(f"{path}: [{key}] {opt} must be "
                                     f"{type(known[opt]).__name__}, not {v!r}")
                if type(v) is int and not 0 <= v <= 10000:
                    raise UsageError(f"{path}: [{key}] {opt} must be 0-10000, not {v}")
            out["options"][key] = dict(value)
        else:
            raise UsageError(f"{path}: unknown key or collector {key!r}")
    return out


# -- metrics ------------------------------------------------------------------------


class Exporter:
    """The registry's collector: every started collector's families, plus
    corebpf_collector_* self-metrics, gathered under one lock per scrape."""

    def __init__(self, running: list, failed: dict):
        self.running = running
        self.failed = failed
        self.lock = threading.Lock()

    def describe(self):
        return []

    def collect(self):
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
        with self.lock:
            t_start = time.perf_counter()
            up = GaugeMetricFamily("corebpf_collector_up",
                                   "1 if the collector is attached and serving, 0 if this "
                                   "kernel cannot serve it", labels=["collector"])
            took = GaugeMetricFamily("corebpf_collector_scrape_duration_seconds",
                                     "Time this scrape spent reading the collector's maps",
                                     labels=["collector"])
            lost = CounterMetricFamily("corebpf_collector_lost_events_total",
                                       "Measurements the collector's BPF programs could not "
                                       "keep (a full map)", labels=["collector"])
            stats = _bpf_stats_enabled()
            run_s = CounterMetricFamily("corebpf_collector_bpf_run_seconds_total",
                                        "Time the collector's BPF programs ran (counted while "
                                        "kernel.bpf_stats_enabled = 1)", labels=["collector"])
            runs = CounterMetricFamily("corebpf_collector_bpf_runs_total",
                                       "Runs of the collector's BPF programs (counted while "
                                       "kernel.bpf_stats_enabled = 1)", labels=["collector"])
            out = []
            for c in self.running:
                t0 = time.perf_counter()
                out.extend(c.families())
                took.add_metric([c.name], time.perf_counter() - t0)
                up.add_metric([c.name], 1)
                lost.add_metric([c.name], c.lost())
                if stats:
                    ns, n = c.bpf_stats()
                    run_s.add_metric([c.name], ns / 1e9)
                    runs.add_metric([c.name], n)
            for name in self.failed:
                up.add_metric([name], 0)
            out.extend([up, took, lost])
            if stats:
                out.extend([run_s, runs])
            total = GaugeMetricFamily("corebpf_exporter_scrape_duration_seconds",
                                      "Time this scrape spent gathering every collector",
                                      value=time.perf_counter() - t_start)
            out.append(total)
        return out


def _bpf_stats_enabled() -> bool:
    try:
        with open("/proc/sys/kernel/bpf_stats_enabled") as f:
            return f.read().strip() == "1"
    except OSError:
        return False


def start_collectors(names, options: dict, report) -> tuple:
    """Start each collector; ([running], {name: reason}) — failures reported once."""
    from corebpf import BPFError
    from corebpf.core import kcache
    from corebpf.core.paths import object_path
    from .collectors import BY_NAME
    # a cold minimal-BTF cache is filled by a short-lived child process, so
    # the daemon never holds the kernel's parsed BTF (cold peak 52 -> 38 MB)
    kcache.prepare([object_path(BY_NAME[n].name) for n in names])
    from .collectors import chain_syscalls
    running, failed = [], {}
    for name in names:
        c = BY_NAME[name](options.get(name))
        try:
            c.start(chained=True)
        except BPFError as e:
            failed[name] = str(e).splitlines()[0] if str(e) else type(e).__name__
            report(f"{name}: not serving: {failed[name]}")
            continue
        running.append(c)
    try:
        # one program per syscall hook, the others tail-called (scchain.bpf.h)
        chain_syscalls(running)
    except BaseException:
        for c in running:
            c.close()
        raise
    return running, failed


def serve(host: str, port: int, registry):
    """An HTTP server for /metrics in a daemon thread; returns it."""
    import socket
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from .exposition import CONTENT_TYPE, render

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                body, ctype, code = render(registry.collect()), CONTENT_TYPE, 200
            elif path == "/":
                body, ctype, code = (b"<html><body><a href='/metrics'>metrics</a>"
                                     b"</body></html>\n"), "text/html", 200
            else:
                body, ctype, code = b"not found\n", "text/plain", 404
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        address_family = socket.AF_INET6 if ":" in host else socket.AF_INET

        def handle_error(self, request, client_address):
            # a scraper that gave up (its timeout) and closed the connection
            # while the reply was written: nothing to report
            if not isinstance(sys.exc_info()[1], ConnectionError):
                super().handle_error(request, client_address)

        def server_bind(self):
            if self.address_family == socket.AF_INET6 and not host.strip(":0"):
                self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            super().server_bind()

    srv = Server((host, port), Handler)
    threading.Thread(target=srv.serve_forever, name="http", daemon=True).start()
    return srv


def run(argv=None) -> int:
    a = parse(argv)
    from .collectors import BY_NAME
    if a.list_collectors:
        for name, cls in BY_NAME.items():
            opts = ", ".join(f"{k} = {str(v).lower()}" for k, v in cls.options.items())
            print(f"{name:12} {opts}".rstrip())
        return 0
    cfg = load_config(a.config) if a.config else {"options": {}}
    names = a.collectors or cfg.get("collectors") or list(BY_NAME)
    host, port = a.listen or cfg.get("listen") or listen_address(DEFAULT_LISTEN)
    try:
        import prometheus_client  # noqa: F401
    except ImportError:
        raise UsageError("the prometheus_client package is missing: "
                         "pip install 'corebpf[exporter]' (Debian: apt-get install "
                         "python3-prometheus-client)") from None
    if a.verbose:
        from corebpf.core import _log
        _log.set_verbose(True)

    def report(msg):
        sys.stderr.write(f"{PROG}: {msg}\n")
        sys.stderr.flush()

    running, failed = start_collectors(names, cfg["options"], report)
    from corebpf.core import kcache
    kcache.forget()         # the kernel's parsed BTF, if the cache was cold
    try:
        if not running:
            raise UsageError("no collector could start (" + "; ".join(
                f"{n}: {why}" for n, why in failed.items()) + ")")
        from prometheus_client import CollectorRegistry
        from prometheus_client.process_collector import ProcessCollector
        registry = CollectorRegistry(auto_describe=False)
        registry.register(Exporter(running, failed))
        ProcessCollector(registry=registry)
        try:
            srv = serve(host, port, registry)
        except OSError as e:
            raise UsageError(f"cannot listen on {host}:{port}: "
                             f"{e.strerror or errno.errorcode.get(e.errno, e)}") from None
        shown = f"[{host}]" if ":" in host else (host or "0.0.0.0")
        print(f"{PROG}: serving {len(running)} collectors on http://{shown}:{port}/metrics",
              flush=True)
        signal.sigwait(STOP_SIGNALS)
        srv.shutdown()
        srv.server_close()
    finally:
        for c in running:
            c.close()
    return 0


def main(argv=None) -> int:
    # held, not raised: a stop signal ends the wait in run() (or, while the
    # collectors load, right after), and every thread inherits the mask
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    from corebpf import BPFError
    try:
        return run(argv)
    except UsageError as e:
        sys.stderr.write(f"{PROG}: error: {str(e).splitlines()[0] if str(e) else e}\n")
        return 2
    except BPFError as e:
        sys.stderr.write(f"{PROG}: error: {str(e).splitlines()[0]}\n")
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
