"""corebpf-exporter: the tools' BPF objects as a Prometheus exporter.

Each collector opens the compiled CO-RE object of the tool it is named
after (the same programs, the same probe fallbacks), switches it to its
`targ_metrics` mode before load (exact sums, in-kernel counts instead of
events) and reads its maps when Prometheus scrapes: no per-event work in
Python.  `collectors` holds them, `main` the daemon (command line, TOML
configuration, HTTP server, signals).  prometheus_client is needed by
`main` only (the optional extra `corebpf[exporter]`); nothing else in
corebpf imports this package.
"""

DEFAULT_PORT = 10095
DEFAULT_LISTEN = f"127.0.0.1:{DEFAULT_PORT}"
