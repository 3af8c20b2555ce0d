"""The multitool compiler: bcc's probe specs and expressions -> BPF
instructions -> an in-memory ELF object libbpf loads (no clang at run time)."""
