"""User-space probes: uprobes on functions of binaries, USDT probes."""
