"""BTF decoding of event and map types from a compiled object (no privilege:
opening an object only parses the ELF)."""
from __future__ import annotations

import struct

import pytest

import corebpf
from corebpf.core.btf import Btf, BtfFormatError, cstr


@pytest.fixture
def obj(test_object):
    with corebpf.Object.open(str(test_object)) as o:
        yield o


def test_event_record_fields(obj):
    codec = obj.event_codec("events")
    assert codec.record._fields == ("pid", "neg", "magic", "comm", "tag", "raw", "small", "inner")
    raw = bytearray(codec.size)
    struct.pack_into("<Ii Q", raw, 0, 42, -3, 2**63)
    raw[16:16 + 5] = b"bash\0"
    raw[32:32 + 3] = b"abc"
    raw[48:52] = b"\x00\x01\x00\x02"
    struct.pack_into("<3H", raw, 52, 1, 2, 65535)
    struct.pack_into("<II", raw, 60, 5, 6)
    r = codec.decode(bytes(raw))
    assert (r.pid, r.neg, r.magic) == (42, -3, 2**63)
    assert r.comm == "bash" and r.tag == "abc"
    assert r.raw == b"\x00\x01\x00\x02"          # __u8[] stays bytes, NULs kept
    assert r.small == (1, 2, 65535)
    assert (r.inner.a, r.inner.b) == (5, 6)
    assert codec.decode(codec.encode(r)) == r


def test_right_sized_record_decodes_short_tail():
    """A struct whose last member is an array decodes from a shorter buffer."""
    with corebpf.Object.open("opensnoop") as o:
        codec = o.event_codec("events")
        head = codec.min_size
        raw = bytearray(head) + b"/tmp/x\0"
        r = codec.decode(bytes(raw))
        assert r.buf == b"/tmp/x\0"
        assert codec.size > len(raw)


def test_map_types_from_btf(obj):
    counts = obj.maps["counts"]
    assert counts.key_codec.decode(struct.pack("<I", 5)) == 5
    v = counts.value_codec.decode(struct.pack("<Q", 9) + b"comm\0".ljust(16, b"\0"))
    assert v.count == 9 and v.comm == "comm"
    k = obj.maps["skeys"].key_codec
    assert k.encode({"pid": 1, "slot": 2}) == struct.pack("<II", 1, 2)


def test_rodata_layout_before_load(obj):
    assert set(obj.rodata.names()) >= {"targ_pid", "magic", "tag", "make_bad"}
    obj.rodata.magic = 2**64 - 1
    assert obj.rodata.magic == 2**64 - 1
    obj.rodata.tag = "x" * 40                       # truncated to the array
    assert obj.rodata.tag == "x" * 16


def test_cstr():
    assert cstr(b"abc\0def") == "abc"
    assert cstr(b"\xff\0") == "\ufffd"


def test_bad_btf():
    with pytest.raises(BtfFormatError):
        Btf(b"\0" * 40)
