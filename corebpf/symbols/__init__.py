"""ELF files, symbol tables and stack decoding (kernel and user addresses)."""
