"""The binding and the object model: libbpf through cffi, objects, programs,
maps, ring/perf buffers, BTF, kernel feature probes.  Imports nothing above it."""
