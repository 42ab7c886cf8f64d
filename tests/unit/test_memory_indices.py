"""The binary encoding of memory indices (multi-memory, Wasm 3.0): memarg flags with
bit 6 carry a memory index, ``memory.size``/``grow``/``fill``/``copy``/``init`` a LEB128
index each; without multi-memory they are Wasm 2.0's reserved zero bytes."""

from __future__ import annotations

import pytest

from cwasm.errors import InvalidError, MalformedError
from cwasm.wasm import decode_module
from cwasm.wasm.operators import BY_NAME, read_immediates
from cwasm.wasm.reader import BinaryReader
from tests.unit.test_decoder import body, functype, leb, module, section, vec

TWO_MEMORIES = section(5, vec([b"\x00\x01", b"\x00\x01"]))
ONE_MEMORY = section(5, vec([b"\x00\x01"]))


def _module(code: bytes, memories: bytes = TWO_MEMORIES, data_count: bool = False) -> bytes:
    """One ``() -> ()`` function with body ``code`` (then ``end``) and the memories."""
    sections = [section(1, vec([functype()])), section(3, vec([b"\x00"])), memories]
    if data_count:
        sections.append(section(12, leb(1)))
    sections.append(section(10, vec([body(code + b"\x0b")])))
    if data_count:
        sections.append(section(11, vec([b"\x01" + leb(0)])))
    return module(*sections)


@pytest.mark.parametrize(
    ("name", "encoded", "expected"),
    [
        ("i32.load", b"\x02\x10", (2, 16, 0)),
        ("i32.load", b"\x42\x01\x10", (2, 16, 1)),
        ("i32.load", b"\x42\x81\x80\x00\x10", (2, 16, 1)),  # a padded index
        ("v128.load8_lane", b"\x40\x05\x00\x03", (0, 0, 3, 5)),
        ("memory.size", b"\x02", 2),
        ("memory.copy", b"\x01\x02", (1, 2)),
        ("memory.init", b"\x07\x01", (7, 1)),
    ],
)
def test_immediates_read(name: str, encoded: bytes, expected: object) -> None:
    r = BinaryReader(encoded, 0)
    assert read_immediates(r, BY_NAME[name]) == expected
    assert r.pos == len(encoded)


def test_memarg_flags_of_128_and_more_are_malformed() -> None:
    with pytest.raises(MalformedError, match="malformed memop flags"):
        read_immediates(BinaryReader(b"\x82\x01\x00\x00", 0), BY_NAME["i32.load"])


def _drop(op: bytes) -> bytes:
    return b"\x41\x00" + op + b"\x1a"


@pytest.mark.parametrize(
    "code",
    [
        _drop(b"\x28\x42\x01\x00"),  # i32.load from memory 1
        b"\x41\x00\x41\x00\x36\x42\x01\x00",  # i32.store to memory 1
        b"\x3f\x01\x1a",  # memory.size 1
        _drop(b"\x40\x01"),  # memory.grow 1
        b"\x41\x00\x41\x00\x41\x00\xfc\x0b\x01",  # memory.fill 1
        b"\x41\x00\x41\x00\x41\x00\xfc\x0a\x00\x01",  # memory.copy 0 1
    ],
)
def test_second_memory_indexed(code: bytes) -> None:
    decode_module(_module(code))
    with pytest.raises(InvalidError, match="unknown memory 1"):
        decode_module(_module(code, ONE_MEMORY))


def test_memory_init_names_its_memory() -> None:
    code = b"\x41\x00\x41\x00\x41\x00\xfc\x08\x00\x01"  # memory.init 0 into memory 1
    decode_module(_module(code, data_count=True))
    with pytest.raises(InvalidError, match="unknown memory 1"):
        decode_module(_module(code, ONE_MEMORY, data_count=True))


@pytest.mark.parametrize(
    "code",
    [
        b"\x3f\x01\x1a",  # memory.size's reserved byte
        b"\x3f\x80\x00\x1a",  # a padded zero is no zero byte either
        _drop(b"\x40\x01"),
        b"\x41\x00\x41\x00\x41\x00\xfc\x0b\x01",
        b"\x41\x00\x41\x00\x41\x00\xfc\x0a\x00\x01",
    ],
)
def test_reserved_bytes_without_multi_memory(code: bytes) -> None:
    with pytest.raises(MalformedError, match="zero byte expected"):
        decode_module(_module(code, ONE_MEMORY), multi_memory=False)


def test_padded_zero_index_is_memory_0_with_multi_memory() -> None:
    decode_module(_module(b"\x3f\x80\x00\x1a", ONE_MEMORY))


def test_active_data_segment_names_its_memory() -> None:
    data = section(11, vec([b"\x02\x01\x41\x00\x0b" + leb(1) + b"x"]))
    translation = decode_module(module(TWO_MEMORIES, data))
    assert translation.data[0].memory_index == 1
    with pytest.raises(InvalidError, match="unknown memory 1"):
        decode_module(module(ONE_MEMORY, data))
